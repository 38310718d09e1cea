// Runs INSIDE the VS Code extension host (code-server here, desktop VS Code with test-electron),
// against a workspace holding real Prometheus dumps: healthy.tar.gz, overlap.tar.gz,
// head-gap.tar.gz, extracted/overlap/ (a data dir) and notes.tar.gz (not a dump).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { suite, suiteSetup, test } from 'mocha';
import * as vscode from 'vscode';
import { poll } from './poll';
import type { TsdbdumpApi } from '../../../client/src/extension';
import { makeBigDump } from '../../helpers/bigDump';
import type { EntryNode, SeriesNode, TreeNode } from '../../../client/src/views/dumpsTree';
import { reportUri, type AnalyzedNotification, type RepairResult } from '../../../server/src/protocol';

const EXTENSION_ID = 'tsdbdump.tsdbdump';

function ws(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'no workspace folder open');
  return folder.uri.fsPath;
}

function reportDiagnostics(source: string): readonly vscode.Diagnostic[] {
  return vscode.languages.getDiagnostics(vscode.Uri.parse(reportUri(source)));
}

suite('tsdbdump extension host', () => {
  let api: TsdbdumpApi;

  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension<TsdbdumpApi>(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} not found`);
    api = await ext.activate();
  });

  test('activates and starts the worker over IPC', async () => {
    const workerMs = await api.workerStarted;
    assert.ok(api.worker.isRunning(), 'language client not running');
    assert.equal(typeof api.worker.pid(), 'number');
    assert.notEqual(api.worker.pid(), process.pid, 'the worker must be its own process');
    console.log(
      `TSDBDUMP_ACTIVATION_MS=${api.activationMs.toFixed(0)} ` +
        `TSDBDUMP_WORKER_START_MS=${workerMs} vscode=${vscode.version} app=${vscode.env.appName}`,
    );
  });

  test('registers every command of the manifest', async () => {
    const manifest = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as { contributes: { commands: { command: string }[] } };
    const registered = new Set(await vscode.commands.getCommands(true));
    const wanted = manifest.contributes.commands.map((c) => c.command);
    for (const c of [
      'tsdbdump.analyze',
      'tsdbdump.showTimeline',
      'tsdbdump.repair',
      'tsdbdump.restore',
      'tsdbdump.dump',
      'tsdbdump.refresh',
    ]) {
      assert.ok(wanted.includes(c), `${c} missing from package.json`);
    }
    assert.deepEqual(wanted.filter((c) => !registered.has(c)), []);
  });

  test('untrusted workspaces: limited support, cluster settings restricted, cluster commands and Pods view need trust', () => {
    const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as {
      capabilities: { untrustedWorkspaces: { supported: string; restrictedConfigurations: string[] } };
      contributes: {
        commands: { command: string; enablement?: string }[];
        views: Record<string, { id: string; when?: string }[]>;
        configuration: { properties: Record<string, { scope?: string }> };
      };
    };
    assert.equal(pkg.capabilities.untrustedWorkspaces.supported, 'limited');
    assert.ok(pkg.capabilities.untrustedWorkspaces.restrictedConfigurations.includes('tsdbdump.kubeconfig'));
    assert.equal(pkg.contributes.configuration.properties['tsdbdump.kubeconfig'].scope, 'machine');
    for (const c of ['tsdbdump.dump', 'tsdbdump.restore', 'tsdbdump.analyzePod']) {
      assert.equal(pkg.contributes.commands.find((x) => x.command === c)?.enablement, 'isWorkspaceTrusted', c);
    }
    assert.equal(pkg.contributes.views.tsdbdump.find((v) => v.id === 'tsdbdump.pods')?.when, 'isWorkspaceTrusted');
    assert.equal(vscode.workspace.isTrusted, true, 'this test workspace runs trusted');
  });

  test('Dump Files lists the workspace dumps and the extracted data dir, not other archives', async () => {
    await api.firstRefresh;
    const names = api.dumps.all().map((d) => path.relative(ws(), d.source)).sort();
    assert.deepEqual(names, ['extracted/overlap', 'head-gap.tar.gz', 'healthy.tar.gz', 'overlap.tar.gz']);
    assert.equal(api.dumps.get(path.join(ws(), 'extracted/overlap'))?.kind, 'dir');
    assert.equal(api.dumps.get(path.join(ws(), 'healthy.tar.gz'))?.kind, 'archive');
  });

  test('the tree follows the file system: a dump copied in appears, deleted it disappears', async () => {
    const copy = path.join(ws(), 'copied', 'healthy-copy.tgz');
    fs.mkdirSync(path.dirname(copy), { recursive: true });
    // The remote file watcher starts asynchronously; copying again until the tree has the dump
    // does not depend on when it started (each copy is a new change event).
    let attempts = 0;
    await poll(() => {
      if (attempts++ % 30 === 0) fs.copyFileSync(path.join(ws(), 'healthy.tar.gz'), copy);
      return api.dumps.get(copy);
    }, 'the copied dump in the tree');
    fs.rmSync(path.dirname(copy), { recursive: true, force: true });
    await poll(() => !api.dumps.get(copy), 'the deleted dump to leave the tree');
  });

  test('healthy dump expands to 4 blocks (levels 3/2/1/1), Head with 4 chunk files, WAL with checkpoint and 5 segments', async () => {
    const source = path.join(ws(), 'healthy.tar.gz');
    const children = (await api.dumps.getChildren({ type: 'dump', source })) as EntryNode[];
    const blocks = children.filter((c) => c.model.kind === 'block');
    assert.equal(blocks.length, 4);
    for (const b of blocks) assert.match(b.model.label, /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
    assert.deepEqual(blocks.map((b) => /L(\d)$/.exec(b.model.description ?? '')?.[1]), ['3', '2', '1', '1']);
    const item = api.dumps.getTreeItem(blocks[0]);
    assert.match(String(item.description), /^2025-01-03 00:00:00 → 17:59:45 UTC · [0-9.]+ MiB · L3$/);
    assert.ok(item.tooltip instanceof vscode.MarkdownString && item.tooltip.value.includes('216,000'));
    assert.equal(item.contextValue, 'block');
    const head = children.find((c) => c.model.kind === 'head')!;
    assert.deepEqual(head.children.map((c) => c.model.label), ['000003', '000004', '000005', '000006']);
    const wal = children.find((c) => c.model.kind === 'wal')!;
    assert.deepEqual(
      wal.children.map((c) => c.model.label),
      ['checkpoint.00000001', '00000002', '00000003', '00000004', '00000005', '00000006'],
    );
    const dumpItem = api.dumps.getTreeItem({ type: 'dump', source });
    assert.match(String(dumpItem.description), /4 blocks · no problems/);
  });

  test('head-gap: the worker publishes head-chunks-out-of-sequence on the report, at the chunk file line', async () => {
    const source = path.join(ws(), 'head-gap.tar.gz');
    const diags = await poll(() => {
      const ds = reportDiagnostics(source).filter((d) => d.code === 'head-chunks-out-of-sequence');
      return ds.length ? ds : undefined;
    }, 'head-chunks-out-of-sequence on head-gap');
    const d = diags[0];
    assert.equal(d.severity, vscode.DiagnosticSeverity.Error);
    assert.equal(d.source, 'tsdbdump');
    assert.match(d.message, /found unsequential head chunk files/);
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(reportUri(source)));
    assert.equal(doc.languageId, 'tsdbdump-report');
    assert.match(doc.lineAt(d.range.start.line).text, /chunks_head\/00000[35]/);
    // The block node of the tree has no problem; the Head node has the error.
    const children = (await api.dumps.getChildren({ type: 'dump', source })) as EntryNode[];
    assert.equal(children.find((c) => c.model.kind === 'head')?.model.severity, 'error');
    assert.equal(api.dumps.getTreeItem({ type: 'dump', source }).contextValue, 'dump.archive.analysed.errors');
  });

  test('healthy: no diagnostics at all', async () => {
    const source = path.join(ws(), 'healthy.tar.gz');
    await poll(() => api.dumps.get(source)?.status === 'done', 'healthy analysed');
    assert.deepEqual(reportDiagnostics(source).map((d) => d.code), []);
  });

  test('overlap: block-overlap warning on the report and on the minTime of the extracted meta.json', async () => {
    const dir = path.join(ws(), 'extracted/overlap');
    const onReport = await poll(
      () => reportDiagnostics(dir).filter((d) => d.code === 'block-overlap').length > 0 && reportDiagnostics(dir),
      'block-overlap on the data dir report',
    );
    assert.equal(onReport.find((d) => d.code === 'block-overlap')!.severity, vscode.DiagnosticSeverity.Warning);
    const metaWithDiag = await poll(() => {
      const hits = vscode.languages
        .getDiagnostics()
        .filter(
          ([uri, ds]) =>
            uri.fsPath.startsWith(dir + path.sep) && uri.fsPath.endsWith('meta.json') && ds.some((d) => d.code === 'block-overlap'),
        );
      return hits.length >= 2 ? hits : undefined;
    }, 'block-overlap on both meta.json files');
    for (const [uri, ds] of metaWithDiag) {
      const doc = await vscode.workspace.openTextDocument(uri);
      const d = ds.find((x) => x.code === 'block-overlap')!;
      const meta = JSON.parse(doc.getText()) as { minTime: number };
      assert.equal(doc.getText(d.range), String(meta.minTime), `range in ${uri.fsPath}`);
    }
  });

  test('hover on minTime in a meta.json shows the UTC time', async () => {
    const dir = path.join(ws(), 'extracted/overlap');
    const block = fs.readdirSync(dir).find((n) => fs.existsSync(path.join(dir, n, 'meta.json')))!;
    const doc = await vscode.workspace.openTextDocument(path.join(dir, block, 'meta.json'));
    await vscode.window.showTextDocument(doc);
    const meta = JSON.parse(doc.getText()) as { minTime: number };
    const at = doc.positionAt(doc.getText().indexOf(String(meta.minTime)) + 2);
    const hovers = await poll(async () => {
      const hs = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, at);
      return hs.some((h) => h.contents.some((c) => (c as vscode.MarkdownString).value?.includes('UTC'))) && hs;
    }, 'the minTime hover');
    const text = hovers.flatMap((h) => h.contents.map((c) => (c as vscode.MarkdownString).value ?? String(c))).join('\n');
    assert.ok(text.includes(new Date(meta.minTime).toISOString()), text);
  });

  test('Show Report opens the read-only report at the line of a block', async () => {
    const source = path.join(ws(), 'overlap.tar.gz');
    const children = (await api.dumps.getChildren({ type: 'dump', source })) as EntryNode[];
    const block = children.filter((c) => c.model.kind === 'block')[1];
    const editor = await vscode.commands.executeCommand<vscode.TextEditor>('tsdbdump.showReport', source, block.model.path);
    assert.equal(editor.document.uri.scheme, 'tsdbdump-report');
    assert.equal(editor.document.languageId, 'tsdbdump-report');
    assert.match(editor.document.lineAt(editor.selection.active.line).text, new RegExp(`^block\\s+${block.model.ulid}`));
  });

  test('timeline of the overlap dump marks both overlapping blocks and the shared range', async () => {
    const source = path.join(ws(), 'overlap.tar.gz');
    const data = await vscode.commands.executeCommand<{
      overlaps: { from: number; to: number; blocks: string[] }[];
      blocks: { overlap: boolean }[];
    }>('tsdbdump.showTimeline', source);
    assert.equal(data.overlaps.length, 1);
    assert.equal(data.overlaps[0].from, 1735934400001);
    assert.equal(data.overlaps[0].to, 1735941585011);
    assert.equal(data.blocks.filter((b) => b.overlap).length, 2);
  });

  test('timeline of head-gap: each head chunk file on its own, the missing 000004 opens the error the Problems panel holds', async () => {
    const source = path.join(ws(), 'head-gap.tar.gz');
    const data = await vscode.commands.executeCommand<{
      files: { head: { kind: string; path: string; severity?: string; diagnosticPath?: string }[]; wal: { kind: string }[] };
    }>('tsdbdump.showTimeline', source);
    assert.deepEqual(
      data.files.head.map((m) => [m.kind, m.path]),
      [['file', 'chunks_head/000003'], ['missing', 'chunks_head/000004'], ['file', 'chunks_head/000005'], ['file', 'chunks_head/000006']],
    );
    const mark = data.files.head.find((m) => m.kind === 'missing')!;
    assert.equal(mark.severity, 'error');
    // What a click on the mark does: the report at the diagnostic's line, where the Problems entry points.
    const editor = await vscode.commands.executeCommand<vscode.TextEditor>('tsdbdump.showReport', source, mark.diagnosticPath);
    const problem = vscode.languages.getDiagnostics(editor.document.uri).find((d) => d.code === 'head-chunks-out-of-sequence');
    assert.ok(problem, 'the error is in the Problems panel');
    assert.equal(editor.selection.active.line, problem.range.start.line);
  });

  test('Series node of healthy: metrics → series read from the dump; Filter Series narrows them; a bad selector shows its position', async () => {
    const source = path.join(ws(), 'healthy.tar.gz');
    const children = await api.dumps.getChildren({ type: 'dump', source });
    const root = children.find((c): c is SeriesNode => c.type === 'series' && c.model.kind === 'seriesRoot');
    assert.ok(root, 'a Series node under the dump');
    assert.equal(api.dumps.getTreeItem(root).contextValue, 'seriesRoot');
    const metrics = (await api.dumps.getChildren(root)) as SeriesNode[];
    // test/fixtures/make-tsdb.sh: 6 up, 24 node_cpu_seconds_total, 4 node_memory_MemAvailable_bytes,
    // 8 http_requests_total and 8 fixture_noise series.
    assert.deepEqual(
      metrics.map((m) => [m.model.label, m.children.length]),
      [['fixture_noise', 8], ['http_requests_total', 8], ['node_cpu_seconds_total', 24], ['node_memory_MemAvailable_bytes', 4], ['up', 6]],
    );
    assert.match(String(api.dumps.getTreeItem(root).description), /^5 metrics · 50 series$/);
    const up = metrics.find((m) => m.model.label === 'up')!;
    assert.equal(api.dumps.getTreeItem(up.children[0]).contextValue, 'series');
    assert.match(up.children[0].model.description ?? '', /^[0-9,]+ samples · 2025-01-03 /);

    const filtered = await vscode.commands.executeCommand<SeriesNode[]>('tsdbdump.filterSeries', source, 'up{job="api"}');
    assert.deepEqual(filtered.map((m) => m.model.label), ['up']);
    assert.deepEqual(filtered[0].children.map((c) => c.model.label), ['{instance="api-1:8080", job="api"}', '{instance="api-2:8080", job="api"}']);
    assert.match(String(api.dumps.getTreeItem(root).description), /^filter up\{job="api"\} · 1 metric · 2 series$/);

    const bad = await vscode.commands.executeCommand<SeriesNode[]>('tsdbdump.filterSeries', source, 'up{job=');
    assert.equal(bad.length, 1);
    assert.equal(bad[0].model.severity, 'error');
    assert.match(bad[0].model.label, /position \d+/);
    assert.equal(api.dumps.get(source)?.series?.failure?.code, 'selector-invalid');

    const all = await vscode.commands.executeCommand<SeriesNode[]>('tsdbdump.filterSeries', source, '');
    assert.equal(all.length, 5);
  });

  test('revealing a block from the timeline selects it in the Dump Files tree', async () => {
    const source = path.join(ws(), 'overlap.tar.gz');
    const children = (await api.dumps.getChildren({ type: 'dump', source })) as EntryNode[];
    const ulid = children.find((c) => c.model.kind === 'block')!.model.ulid!;
    assert.equal(await vscode.commands.executeCommand('tsdbdump.revealBlock', source, ulid), true);
    const selected = api.dumps.treeView?.selection as TreeNode[];
    assert.equal((selected[0] as EntryNode).model.ulid, ulid);
  });

  test('Repair Dump command writes a repaired copy that joins the tree with no errors; the source is untouched', async () => {
    const source = path.join(ws(), 'head-gap.tar.gz');
    const output = path.join(os.tmpdir(), `tsdbdump-ext-test-repaired-${process.pid}.tar.gz`);
    const before = fs.readFileSync(source);
    try {
      const result = (await vscode.commands.executeCommand('tsdbdump.repair', source, { output, confirm: false })) as RepairResult;
      assert.equal(result.output, output);
      assert.ok(fs.existsSync(output) && !fs.existsSync(`${output}.partial`));
      assert.deepEqual(fs.readFileSync(source), before, 'the source dump is never modified');
      assert.equal(result.after?.diagnostics.filter((d) => d.severity === 'error').length, 0);
      assert.ok(api.dumps.all().some((d) => d.source === output), 'the repaired dump is in the Dump Files tree');
    } finally {
      fs.rmSync(output, { force: true });
    }
  });

  test('repair dry run of head-gap plans to drop the head chunk files after the gap', async () => {
    const source = path.join(ws(), 'head-gap.tar.gz');
    const plan = await api.worker.request(api.requests.repair, { source, dryRun: true });
    assert.equal(plan.dryRun, true);
    assert.equal(plan.nothingToRepair, false);
    const fixes = plan.actions.filter((a) => a.fixes === 'head-chunks-out-of-sequence');
    assert.ok(fixes.length > 0, JSON.stringify(plan.actions));
    assert.ok(fixes.every((a) => a.path.startsWith('chunks_head/')));
    assert.equal(fs.existsSync(`${source}.repaired.tar.gz`), false, 'a dry run writes nothing');
  });

  test('Pods view: contexts from the kubeconfig setting, an unreachable cluster becomes an error item', async () => {
    const kubeconfig = path.join(os.tmpdir(), `tsdbdump-ext-test-kubeconfig-${process.pid}.yaml`);
    fs.writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: nowhere, cluster: {server: "https://127.0.0.1:9"}}]',
        'users: [{name: nobody, user: {token: "x"}}]',
        'contexts: [{name: test-nowhere, context: {cluster: nowhere, user: nobody, namespace: monitoring}}]',
        'current-context: test-nowhere',
        '',
      ].join('\n'),
    );
    const config = vscode.workspace.getConfiguration('tsdbdump');
    await config.update('kubeconfig', kubeconfig, vscode.ConfigurationTarget.Global);
    try {
      const roots = await api.pods.getChildren();
      assert.deepEqual(
        roots.map((r) => (r.type === 'context' ? r.context.name : `${r.type}:${(r as { label?: string }).label}`)),
        ['test-nowhere'],
      );
      const children = await api.pods.getChildren(roots[0]);
      assert.equal(children.length, 1);
      const item = api.pods.getTreeItem(children[0]);
      assert.equal(item.contextValue, 'error');
      assert.match(String(item.label), /^kube-/);
      assert.ok(String(item.description).length > 0);
    } finally {
      await config.update('kubeconfig', undefined, vscode.ConfigurationTarget.Global);
      fs.rmSync(kubeconfig, { force: true });
    }
  });

  test('Pods view: an in-place analysis shows its verdict and diagnostics under the pod', async () => {
    const pod = {
      context: 'ctx',
      namespace: 'monitoring',
      name: 'prometheus-0',
      phase: 'Running',
      ready: true,
      containers: ['prometheus'],
      prometheusContainer: 'prometheus',
      labels: {},
    };
    const result = await api.worker.request(api.requests.analyze, { source: path.join(ws(), 'head-gap.tar.gz') });
    api.pods.setAnalysis(pod, result);
    const children = await api.pods.getChildren({ type: 'pod', pod });
    const labels = children.map((c) => (c.type === 'info' ? c.label : c.type));
    assert.equal(labels[0], 'container');
    const verdict = labels.indexOf('Analysis');
    assert.ok(verdict > 0, labels.join(', '));
    assert.deepEqual(labels.slice(verdict + 1), result.diagnostics.map((d) => d.code));
    assert.ok(labels.includes('head-chunks-out-of-sequence'));
  });

  test('cancelling an analysis stops the worker job before it has read the dump', async () => {
    const big = await bigDump();
    const cts = new vscode.CancellationTokenSource();
    const percentages: number[] = [];
    let cancelledAt: number | undefined;
    const notified = new Promise<AnalyzedNotification>((resolve) => {
      const sub = api.worker.onDidAnalyze((n) => {
        if (n.source === big) {
          sub.dispose();
          resolve(n);
        }
      });
    });
    const request = api.worker.request(api.requests.analyze, { source: big, verify: 'quick' }, {
      token: cts.token,
      onProgress: (v) => {
        if (v.percentage !== undefined) percentages.push(v.percentage);
        if (v.kind === 'report' && cancelledAt === undefined) {
          cancelledAt = v.percentage ?? 0;
          cts.cancel();
        }
      },
    });
    await assert.rejects(request, (e: { code?: string }) => e.code === 'cancelled');
    const n = await notified;
    assert.equal(n.failure?.code, 'cancelled');
    assert.equal(n.result, undefined);
    assert.ok(cancelledAt !== undefined, 'no progress was reported');
    // The job stopped soon after the cancel: it never got near the end of the 512 MiB dump.
    assert.ok(Math.max(...percentages) < 50, `progress went on to ${Math.max(...percentages)}%`);
    // And the worker is free for the next request.
    const probe = await api.worker.request(api.requests.probe, { sources: [path.join(ws(), 'healthy.tar.gz')] });
    assert.equal(probe[0].kind, 'archive');
  });

  test('a killed worker is restarted and its diagnostics come back', async () => {
    const source = path.join(ws(), 'head-gap.tar.gz');
    const before = api.worker.pid()!;
    const restarts = api.worker.restartCount;
    process.kill(before, 'SIGKILL');
    await poll(() => api.worker.restartCount > restarts && api.worker.isRunning() && api.worker.pid() !== before, 'the worker to restart');
    assert.notEqual(api.worker.pid(), before);
    await poll(() => reportDiagnostics(source).some((d) => d.code === 'head-chunks-out-of-sequence'), 'diagnostics after the restart');
  });
});

/** A 512 MiB .tar (zeros after a wal/ entry: cheap to make, long to read; uncompressed so progress moves steadily). */
async function bigDump(): Promise<string> {
  // test/ui/run.mjs makes it outside the extension host; other runners get it made here.
  if (process.env.TSDBDUMP_TEST_BIG_DUMP && fs.existsSync(process.env.TSDBDUMP_TEST_BIG_DUMP)) return process.env.TSDBDUMP_TEST_BIG_DUMP;
  return makeBigDump(path.join(os.tmpdir(), 'tsdbdump-ext-test-big.tar'));
}
