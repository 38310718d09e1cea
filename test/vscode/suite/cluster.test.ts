// Runs INSIDE the extension host against the loopback test cluster (test/cluster) that
// test/ui/run.mjs starts: TSDBDUMP_TEST_KUBECONFIG is its kubeconfig, TSDBDUMP_TEST_CLUSTER_STATE
// the state dir (a pod's data dir on this machine: <state>/<cluster>/<namespace>/<pod>/root/prometheus).
// Without them (desktop runs through runTest.ts) the suite starts its own cluster, which needs root.
// The Pods tree, Dump from Pod, Analyze Pod, and a restore by dropping a Dump Files node on a pod.
// Leaves the settings and the Dump Files tree as it found them: extension.test.ts runs after it.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { suite, suiteSetup, suiteTeardown, test } from 'mocha';
import * as vscode from 'vscode';
import { poll } from './poll';
import type { TreeNode } from '../../../client/src/views/dumpsTree';
import type { TsdbdumpApi } from '../../../client/src/extension';
import { DUMPS_MIME } from '../../../client/src/model/dragDrop';
import type { PodNode } from '../../../client/src/views/podsTree';
import { reportUri, type AnalysisResult, type DumpResult, type RestoreResult } from '../../../server/src/protocol';

const EXTENSION_ID = 'tsdbdump.tsdbdump';
const BLOCK_DIR = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

function labelOf(n: PodNode): string {
  switch (n.type) {
    case 'context':
      return n.context.name;
    case 'namespace':
      return n.namespace;
    case 'pod':
      return n.pod.name;
    case 'container':
      return n.container;
    case 'info':
      return n.label;
  }
}

/** The info items under a pod, label → description. */
function infoOf(children: PodNode[]): Map<string, string> {
  return new Map(children.flatMap((c) => (c.type === 'info' ? [[c.label, c.description ?? '']] : [])));
}

/** A modal the extension showed: its message, detail and buttons. */
interface Modal {
  message: string;
  detail?: string;
  buttons: string[];
}

/**
 * Answers the mode pick and the modal confirmation of one restore as a user would (the extension
 * host cannot click dialogs), recording what was asked; the real prompts are back afterwards.
 * `confirm` is the button pressed, and only if the modal offers it.
 */
async function answeringPrompts<T>(
  answers: { pick: string; confirm?: string },
  fn: () => Promise<T>,
): Promise<{ value: T; asked: string[]; modals: Modal[] }> {
  const win = vscode.window as unknown as Record<'showQuickPick' | 'showWarningMessage', unknown>;
  const original = { showQuickPick: win.showQuickPick, showWarningMessage: win.showWarningMessage };
  const asked: string[] = [];
  const modals: Modal[] = [];
  win.showQuickPick = async (
    items: readonly vscode.QuickPickItem[] | Thenable<readonly vscode.QuickPickItem[]>,
    options?: vscode.QuickPickOptions,
  ) => {
    asked.push(`pick: ${options?.title}`);
    return (await items).find((i) => i.label === answers.pick);
  };
  win.showWarningMessage = async (message: string, options?: vscode.MessageOptions, ...buttons: string[]) => {
    asked.push(`${options?.modal ? 'modal' : 'warning'}: ${message}`);
    if (!options?.modal) return undefined;
    modals.push({ message, detail: options.detail, buttons });
    return buttons.find((b) => b === answers.confirm);
  };
  try {
    assert.equal(vscode.window.showQuickPick, win.showQuickPick, 'the extension host let the test answer the quick pick');
    return { value: await fn(), asked, modals };
  } finally {
    Object.assign(win, original);
  }
}

suite('tsdbdump with a Kubernetes cluster', () => {
  let api: TsdbdumpApi;
  let stateDir: string;
  let ownCluster: { stop(): Promise<void> } | undefined;
  let previousKubeconfig: string | undefined;
  let work: string;
  let dump: DumpResult | undefined;
  const config = () => vscode.workspace.getConfiguration('tsdbdump');
  const dataDirOf = (cluster: string, namespace: string, pod: string) => path.join(stateDir, cluster, namespace, pod, 'root', 'prometheus');

  /** A node of the Pods tree, found the way a user expands it. */
  async function node(...labels: string[]): Promise<PodNode> {
    let n: PodNode | undefined;
    for (const label of labels) {
      const children = await api.pods.getChildren(n);
      n = children.find((c) => labelOf(c) === label);
      assert.ok(n, `${label} not found among ${children.map(labelOf).join(', ')}`);
    }
    return n!;
  }

  /** The pod's children once its summary shows `blocks` blocks (a live Prometheus may be compacting). */
  async function podChildrenWithBlocks(pod: PodNode, blocks: number, timeoutMs = 45_000): Promise<PodNode[]> {
    let last = '';
    try {
      return await poll(async () => {
        api.pods.refresh();
        const children = await api.pods.getChildren(pod);
        last = [...infoOf(children)].map(([k, v]) => `${k}=${v}`).join('; ');
        return infoOf(children).get('Blocks') === String(blocks) && children;
      }, `${blocks} blocks`, timeoutMs);
    } catch (e) {
      throw new Error(`${(e as Error).message}; last: ${last}`);
    }
  }

  suiteSetup(async function () {
    this.timeout(120_000);
    const ext = vscode.extensions.getExtension<TsdbdumpApi>(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} not found`);
    api = await ext.activate();
    let kubeconfig = process.env.TSDBDUMP_TEST_KUBECONFIG;
    stateDir = process.env.TSDBDUMP_TEST_CLUSTER_STATE ?? '';
    if (!kubeconfig || !stateDir) {
      const { startTestCluster } = await import('../../cluster/testCluster.js');
      stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-ext-cluster-'));
      const cluster = await startTestCluster({ stateDir });
      ownCluster = cluster;
      kubeconfig = cluster.kubeconfigPath;
    }
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-ext-cluster-test-'));
    previousKubeconfig = config().inspect<string>('kubeconfig')?.globalValue;
    await config().update('kubeconfig', kubeconfig, vscode.ConfigurationTarget.Global);
    api.pods.refresh();
  });

  suiteTeardown(async function () {
    this.timeout(60_000);
    await config().update('kubeconfig', previousKubeconfig, vscode.ConfigurationTarget.Global);
    api.pods.refresh();
    // The dump and the restore's backup were outside the workspace; they leave the Dump Files tree.
    if (work) fs.rmSync(work, { recursive: true, force: true });
    await api.dumps.refresh();
    await ownCluster?.stop();
    if (ownCluster) fs.rmSync(stateDir, { recursive: true, force: true });
  });

  test('Pods tree: contexts, Prometheus pods by namespace, containers and the TSDB summary', async function () {
    this.timeout(90_000);
    const roots = await api.pods.getChildren();
    assert.deepEqual(roots.map(labelOf).sort(), ['dev', 'prod', 'prod-restricted']);
    const namespaces = await api.pods.getChildren(await node('prod'));
    assert.deepEqual(namespaces.map(labelOf), ['monitoring'], 'default/web-0 is not Prometheus: no default namespace');
    const pods = await api.pods.getChildren(namespaces[0]);
    assert.deepEqual(pods.map(labelOf).sort(), ['prometheus-0', 'prometheus-notar-0']);
    assert.equal((await node('dev', 'observability', 'prometheus-0')).type, 'pod');

    const pod = pods.find((p) => labelOf(p) === 'prometheus-0')!;
    assert.equal(api.pods.getTreeItem(pod).contextValue, 'pod');
    const children = await podChildrenWithBlocks(pod, 4);
    assert.deepEqual(children.filter((c) => c.type === 'container').map(labelOf), ['prometheus', 'config-reloader']);
    const info = infoOf(children);
    assert.match(info.get('Range') ?? '', /^2025-01-03 00:00:00 → .* UTC$/);
    assert.match(info.get('Prometheus') ?? '', /^2\.42\./);
    assert.match(info.get('TSDB') ?? '', /^\/prometheus · /);
    assert.equal(info.get('Volume'), 'PersistentVolumeClaim data-prometheus-0 (volume data at /prometheus)');
    assert.ok(children.every((c) => c.type !== 'info' || !c.error), [...info].join('; '));
  });

  test('Pods tree: a user without pods/exec gets an error item naming it, without hanging', async function () {
    this.timeout(60_000);
    const pod = await node('prod-restricted', 'monitoring', 'prometheus-0');
    const t0 = Date.now();
    const children = await api.pods.getChildren(pod);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 20_000, `the summary took ${elapsed} ms`);
    const errors = children.filter((c): c is Extract<PodNode, { type: 'info' }> => c.type === 'info' && c.error === true);
    assert.equal(errors.length, 1, children.map(labelOf).join(', '));
    assert.equal(errors[0].label, 'kube-forbidden');
    assert.match(errors[0].description ?? '', /exec/);
    assert.equal(api.pods.getTreeItem(errors[0]).contextValue, 'error');
  });

  test('Dump from Pod (automation options): the dump and its manifest, analysed in the Dump Files tree', async function () {
    this.timeout(120_000);
    const pod = await node('prod', 'monitoring', 'prometheus-0');
    const output = path.join(work, 'prod-prometheus-0.tar.gz');
    dump = (await vscode.commands.executeCommand('tsdbdump.dump', pod, { output, confirm: false })) as DumpResult | undefined;
    assert.ok(dump, 'the dump command returned no result (see the tsdbdump output)');
    assert.equal(dump.output, output);
    assert.ok(fs.existsSync(output) && fs.existsSync(dump.manifest), 'the dump and its manifest exist');
    assert.deepEqual(fs.readdirSync(work).filter((n) => n.endsWith('.partial')), []);
    assert.equal(dump.blocks.length, 4);
    const state = await poll(
      () => api.dumps.get(output)?.status === 'done' && api.dumps.get(output),
      'the dump analysed in the tree',
      60_000,
    );
    assert.equal(state.result?.blocks.length, 4);
    assert.deepEqual(state.result?.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code), []);
    assert.match(String(api.dumps.getTreeItem(state.node).description), /^4 blocks · /);
  });

  test('Dump from Pod in snapshot mode: a copy of an admin API snapshot, which is removed from the pod afterwards', async function () {
    this.timeout(120_000);
    const pod = await node('prod', 'monitoring', 'prometheus-0');
    const output = path.join(work, 'prod-prometheus-0-snapshot.tar.gz');
    const result = (await vscode.commands.executeCommand('tsdbdump.dump', pod, { output, confirm: false, snapshot: true })) as
      DumpResult | undefined;
    assert.ok(result, 'the snapshot dump returned no result (see the tsdbdump output)');
    const manifest = JSON.parse(fs.readFileSync(result.manifest, 'utf8')) as { snapshot?: string; blocks: { dir: string }[] };
    // Prometheus names snapshots <UTC time>-<random hex>
    assert.match(manifest.snapshot ?? '', /^\d{8}T\d{6}Z-[0-9a-f]+$/);
    // the 4 persisted blocks, plus the head as a block when it holds samples (it scrapes itself)
    assert.ok(result.blocks.length >= 4, `${result.blocks.length} blocks`);
    assert.deepEqual(manifest.blocks.map((b) => b.dir), result.blocks);
    const snapshots = path.join(dataDirOf('prod', 'monitoring', 'prometheus-0'), 'snapshots');
    assert.deepEqual(fs.existsSync(snapshots) ? fs.readdirSync(snapshots) : [], [], 'the snapshot is removed from the pod');
    fs.rmSync(output);
    fs.rmSync(result.manifest);
  });

  test('Analyze Pod: a damaged block in the pod (no tar there) shows under the pod and in the Problems panel', async function () {
    this.timeout(90_000);
    // A block dir with an unreadable meta.json appears in the no-tar pod's data dir while its
    // Prometheus runs (as after a half-finished manual copy); Prometheus would fail to open it.
    const bad = path.join(dataDirOf('prod', 'monitoring', 'prometheus-notar-0'), '01JA0000000000000000000000');
    fs.mkdirSync(bad, { recursive: true });
    fs.writeFileSync(path.join(bad, 'meta.json'), '{"ulid": "01JA0000000000000000000000", "minTime": ');
    try {
      const pod = await node('prod', 'monitoring', 'prometheus-notar-0');
      const result = (await vscode.commands.executeCommand('tsdbdump.analyzePod', pod)) as AnalysisResult | undefined;
      assert.ok(result, 'the analyzePod command returned no result');
      const codes = result.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code);
      assert.ok(codes.includes('meta-invalid'), `error codes: ${codes.join(', ')}`);
      const children = await api.pods.getChildren(pod);
      const items = children.filter((c): c is Extract<PodNode, { type: 'info' }> => c.type === 'info');
      assert.match(items.find((i) => i.label === 'Analysis')?.description ?? '', /[1-9]\d* error\(s\)/);
      assert.ok(
        items.some((i) => i.label === 'meta-invalid' && i.error && i.description?.includes('01JA0000000000000000000000')),
        'the diagnostic is an error item under the pod',
      );
      const problems = await poll(() => {
        const ds = vscode.languages.getDiagnostics(vscode.Uri.parse(reportUri(result.source))).filter((d) => d.code === 'meta-invalid');
        return ds.length > 0 && ds;
      }, 'meta-invalid in the Problems panel');
      assert.equal(problems[0].severity, vscode.DiagnosticSeverity.Error);
    } finally {
      fs.rmSync(bad, { recursive: true, force: true });
    }
  });

  test('Analyze Pod: the verdict under the pod', async function () {
    this.timeout(90_000);
    const pod = await node('prod', 'monitoring', 'prometheus-0');
    const result = (await vscode.commands.executeCommand('tsdbdump.analyzePod', pod)) as AnalysisResult | undefined;
    assert.ok(result, 'the analyzePod command returned no result');
    assert.ok(result.blocks.length >= 4, `${result.blocks.length} blocks`);
    const verdict = infoOf(await api.pods.getChildren(pod)).get('Analysis');
    assert.equal(
      verdict,
      `${result.blocks.length} blocks · ${result.diagnostics.filter((d) => d.severity === 'error').length} ` +
        `error(s) · ${result.diagnostics.filter((d) => d.severity !== 'error').length} other`,
    );
  });

  test('an Explorer drop (text/uri-list) on a container: a dump file reaches its restore, other files are refused', async () => {
    assert.ok(dump, 'needs the dump of the Dump from Pod test');
    const container = await node('dev', 'observability', 'prometheus-0', 'prometheus');
    const drop = (uris: vscode.Uri[]) => {
      const dataTransfer = new vscode.DataTransfer();
      dataTransfer.set('text/uri-list', new vscode.DataTransferItem(uris.map((u) => u.toString()).join('\r\n')));
      return api.pods.handleDrop(container, dataTransfer);
    };
    // Declining the confirmation: nothing is restored, but the prompts show where the drop went.
    const toDump = await answeringPrompts({ pick: 'merge' }, () => drop([vscode.Uri.file(dump!.output)]));
    assert.equal(toDump.asked.length, 2, toDump.asked.join('\n'));
    assert.equal(toDump.asked[0], 'pick: Restore into prometheus-0');
    assert.match(
      toDump.asked[1],
      /^modal: Restore prod-prometheus-0\.tar\.gz into observability\/prometheus-0 \(dev\) with mode "merge"\?$/,
    );
    // Merge keeps the dev pod's data: the dry run found nothing of it to replace.
    assert.match(toDump.modals[0].detail ?? '', /^Keeps the pod's blocks and head$/m);
    assert.doesNotMatch(toDump.modals[0].detail ?? '', /Replaces/);
    assert.equal(container.type === 'container' && api.pods.restoreOf(container.pod), undefined);

    const notADump = path.join(work, 'notes.txt');
    fs.writeFileSync(notADump, 'not a dump');
    const refused = await answeringPrompts({ pick: 'replace', confirm: 'Restore' }, () => drop([vscode.Uri.file(notADump)]));
    assert.deepEqual(refused.asked, ['warning: Only a dump (.tar.gz, .tgz, .tar) or a TSDB data directory can be restored to a pod.']);
  });

  test('dropping the dump from Dump Files on the dev pod restores it there ' +
    '(mode asked, then what the dry run found, confirmed)', async function () {
    this.timeout(150_000);
    assert.ok(dump, 'needs the dump of the previous test');
    const source = dump.output;
    // What a drag of the dump node carries, made by the Dump Files tree's own controller.
    const dragSource: vscode.TreeDragAndDropController<TreeNode> = api.dumps;
    const dataTransfer = new vscode.DataTransfer();
    await dragSource.handleDrag!([api.dumps.get(source)!.node], dataTransfer, new vscode.CancellationTokenSource().token);
    assert.ok(dataTransfer.get(DUMPS_MIME), 'the drag carries the Dump Files mime');
    assert.ok(api.pods.dropMimeTypes.includes(DUMPS_MIME) && api.pods.dropMimeTypes.includes('text/uri-list'));

    const devPod = await node('dev', 'observability', 'prometheus-0');
    const dropTarget: vscode.TreeDragAndDropController<PodNode> = api.pods;
    const { asked, modals } = await answeringPrompts({ pick: 'replace', confirm: 'Restore' }, async () =>
      dropTarget.handleDrop!(devPod, dataTransfer, new vscode.CancellationTokenSource().token),
    );
    // The drop reached the restore of this pod with this dump: the mode pick, then one modal from the dry run.
    assert.equal(asked.length, 2, asked.join('\n'));
    assert.equal(asked[0], 'pick: Restore into prometheus-0');
    assert.equal(modals.length, 1);
    const [confirmation] = modals;
    assert.equal(confirmation.message, 'Restore prod-prometheus-0.tar.gz into observability/prometheus-0 (dev) with mode "replace"?');
    assert.deepEqual(confirmation.buttons, ['Restore'], 'a healthy dump: no "Restore Anyway"');
    const detail = confirmation.detail ?? '';
    assert.match(detail, /^Data dir: \/prometheus in container prometheus \(Prometheus \S+\)$/m);
    assert.match(detail, /^Replaces everything now in \/prometheus: /m);
    const adds = /^Adds 4 blocks: (.*)$/m.exec(detail);
    assert.ok(adds, `the detail lists the 4 blocks added:\n${detail}`);
    assert.deepEqual(adds[1].split(', ').sort(), [...dump.blocks].sort());
    assert.match(detail, /^Uploads \S+ \S+ \(\S+ \S+ free in the pod\) as /m);
    const backup = /^Backs up the current data first to (.*)$/m.exec(detail)?.[1];
    assert.ok(backup, detail);
    assert.doesNotMatch(detail, /Errors in the dump/);

    assert.ok(devPod.type === 'pod');
    const result: RestoreResult | undefined = api.pods.restoreOf(devPod.pod);
    assert.ok(result, 'no restore was recorded for the dev pod (see the tsdbdump output)');
    assert.deepEqual([...result.restoredBlocks].sort(), [...dump.blocks].sort());
    assert.equal(result.backup, backup, 'the backup went where the modal said');
    assert.ok(result.verifiedRange && result.verifiedRange.from < result.verifiedRange.to, 'Prometheus serves the restored range');
    assert.ok(fs.existsSync(result.backup), `the backup ${result.backup} exists`);
    assert.equal(result.target.context, 'dev');

    const devData = dataDirOf('dev', 'observability', 'prometheus-0');
    const blockDirs = fs.readdirSync(devData).filter((n) => BLOCK_DIR.test(n));
    for (const b of result.restoredBlocks)
      assert.ok(blockDirs.includes(b) && fs.existsSync(path.join(devData, b, 'meta.json')), `${b} in the dev data dir`);
    assert.equal(blockDirs.length, 4, blockDirs.join(', '));

    const children = await podChildrenWithBlocks(devPod, 4, 30_000);
    assert.match(infoOf(children).get('Last restore') ?? '', /^4 blocks · serves .* · backup /);
  });
});
