/**
 * The tsdbdump extension: starts the worker (vscode-languageclient over IPC), and wires the Dump
 * Files and Pods views, the report documents, the timeline and the commands onto it. Everything
 * slow runs in the worker; this side only asks and renders.
 */
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as vscode from 'vscode';
import {
  REPORT_SCHEME,
  Requests,
  type AnalysisResult,
  type DumpResult,
  type PodInfo,
  type PodTsdbSummary,
  type KubeContextInfo,
  type KubeTarget,
  type RepairResult,
  type RestoreMode,
  type RestorePreview,
  type RestoreRequest,
  type RestoreResult,
  type VerifyDepth,
} from '../../server/src/protocol';
import { DumpsProvider, verifyDepth, type TreeNode } from './dumps';
import { DUMP_RANGE_PRESETS, dumpDoneMessage, dumpPreview, formatBytes, formatRange, formatRequestedRange, parseTimeInput, restoreConfirmation, type TimelineData } from './model';
import { PodsProvider, kubeSettings, targetOf, type PodNode } from './pods';
import { ReportProvider } from './report';
import { TimelinePanels } from './timeline';
import { Worker, toWorkerError, type WorkerError } from './worker';

export interface TsdbdumpApi {
  worker: Worker;
  dumps: DumpsProvider;
  pods: PodsProvider;
  /** activate() from its first line to its return (the worker starts in the background). */
  activationMs: number;
  /** Resolves with the worker's start time (spawn until it answered `initialize`). */
  workerStarted: Promise<number>;
  /** The first discovery of workspace dumps (their analyses are queued after it). */
  firstRefresh: Promise<void>;
  /** The data of the last timeline shown. */
  lastTimeline(): TimelineData | undefined;
}

let worker: Worker | undefined;

/**
 * Save-dialog filters for dumps. "gz" is listed beside "tar.gz" because VS Code's simple save dialog
 * (remote windows, code-server) compares only the last extension with the filter and would turn
 * "x.tar.gz" into "x.tar.gz.tar.gz".
 */
const DUMP_SAVE_FILTERS = { 'TSDB dump': ['tar.gz', 'gz', 'tgz'] };

export async function activate(context: vscode.ExtensionContext): Promise<TsdbdumpApi> {
  const t0 = performance.now();
  const log = vscode.window.createOutputChannel('tsdbdump', { log: true });
  context.subscriptions.push(log);

  worker = new Worker(context.asAbsolutePath(path.join('dist', 'server.js')), log);
  context.subscriptions.push(worker);
  // Not awaited: views and commands are there at once; requests wait until the worker runs.
  const workerStarted = worker.start();
  const w = worker;

  const dumps = new DumpsProvider(w, context.workspaceState, log);
  const dumpsView = vscode.window.createTreeView('tsdbdump.dumps', { treeDataProvider: dumps, dragAndDropController: dumps, showCollapseAll: true });
  dumps.treeView = dumpsView;
  const reports = new ReportProvider(w);
  const timelines = new TimelinePanels(context.extensionUri, (source, ulid) => dumps.reveal(source, ulid));
  let lastTimeline: TimelineData | undefined;
  context.subscriptions.push(
    dumps,
    dumpsView,
    reports,
    timelines,
    vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME, reports),
  );

  // The Pods view talks to clusters: only in trusted workspaces. Dumps dropped on a pod are restored there.
  const pods = new PodsProvider(w);
  let podsRegistered = false;
  const registerPods = (): void => {
    if (podsRegistered || !vscode.workspace.isTrusted) return;
    podsRegistered = true;
    context.subscriptions.push(vscode.window.createTreeView('tsdbdump.pods', { treeDataProvider: pods, dragAndDropController: pods }));
  };
  registerPods();
  context.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(registerPods));

  // ---- helpers ------------------------------------------------------------------------------------

  /** A source from a tree node, a URI or a path; otherwise asks with a quick pick / open dialog. */
  async function sourceOf(arg: unknown, title: string): Promise<string | undefined> {
    if (typeof arg === 'string') return arg;
    if (arg instanceof vscode.Uri) return arg.fsPath;
    if (arg && typeof arg === 'object' && 'source' in arg && typeof (arg as TreeNode).source === 'string') return (arg as TreeNode).source;
    const browse = { label: '$(folder-opened) Open a dump file or data directory…', source: '' };
    const items = [
      ...dumps.all().map((d) => ({
        label: `$(${d.kind === 'dir' ? 'folder' : 'package'}) ${path.basename(d.source)}`,
        description: vscode.workspace.asRelativePath(d.source),
        detail: d.result ? `${d.result.blocks.length} blocks, ${d.result.diagnostics.length} diagnostics` : undefined,
        source: d.source,
      })),
      browse,
    ];
    const pick = await vscode.window.showQuickPick(items, { title, placeHolder: 'Pick a Prometheus TSDB dump' });
    if (!pick) return undefined;
    if (pick !== browse) return pick.source;
    const uris = await vscode.window.showOpenDialog({
      title,
      canSelectFiles: true,
      canSelectFolders: true,
      canSelectMany: false,
      filters: { 'TSDB dumps': ['gz', 'tgz', 'tar'], 'All files': ['*'] },
    });
    if (!uris?.[0]) return undefined;
    await dumps.open(uris[0].fsPath);
    return uris[0].fsPath;
  }

  async function analyzeWithProgress(source: string, verify: VerifyDepth): Promise<AnalysisResult> {
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Analysing ${path.basename(source)}`, cancellable: true },
      (progress, token) => dumps.analyze(source, verify, { progress, token }),
    );
  }

  async function resultOf(source: string): Promise<AnalysisResult> {
    return dumps.get(source)?.result ?? analyzeWithProgress(source, verifyDepth());
  }

  function showFailure(what: string, e: unknown): void {
    const err: WorkerError = toWorkerError(e);
    if (err.code === 'cancelled') {
      void vscode.window.showInformationMessage(`${what}: cancelled.`);
      return;
    }
    log.error(`${what} failed: ${err.code}: ${err.message}`);
    void vscode.window.showErrorMessage(`${what} failed: ${err.message}`);
  }

  function requireTrust(what: string): boolean {
    if (vscode.workspace.isTrusted) return true;
    void vscode.window.showWarningMessage(`${what} needs a trusted workspace: it talks to a cluster.`);
    return false;
  }

  async function pickPod(title: string): Promise<PodInfo | undefined> {
    const s = kubeSettings();
    const contexts = await w.request<KubeContextInfo[]>(Requests.listContexts, { kubeconfig: s.kubeconfig });
    if (!contexts.length) throw new Error('no kubeconfig contexts');
    const ctx =
      contexts.length === 1
        ? contexts[0]
        : (
            await vscode.window.showQuickPick(
              contexts.map((c) => ({ label: c.name, description: `${c.cluster}${c.current ? ' · current' : ''}`, c })),
              { title, placeHolder: 'Kubernetes context' },
            )
          )?.c;
    if (!ctx) return undefined;
    const list = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Listing Prometheus pods' }, () =>
      w.request<PodInfo[]>(Requests.listPods, { kubeconfig: s.kubeconfig, context: ctx.name, labelSelector: s.labelSelector }),
    );
    if (!list.length) throw new Error(`no Prometheus pods in context ${ctx.name}`);
    return (
      await vscode.window.showQuickPick(
        list.map((p) => ({ label: p.name, description: `${p.namespace} · ${p.phase}`, p })),
        { title, placeHolder: 'Prometheus pod' },
      )
    )?.p;
  }

  function podOf(arg: unknown): { pod: PodInfo; container?: string } | undefined {
    const n = arg as PodNode | undefined;
    if (n && (n.type === 'pod' || n.type === 'container')) return { pod: n.pod, container: n.type === 'container' ? n.container : undefined };
    return undefined;
  }

  // ---- commands -----------------------------------------------------------------------------------

  const register = (id: string, fn: (...args: unknown[]) => unknown): void => {
    context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  };

  register('tsdbdump.refresh', async () => {
    pods.refresh();
    await dumps.refresh();
  });

  register('tsdbdump.openDump', async (arg?: unknown) => {
    let source = arg instanceof vscode.Uri ? arg.fsPath : typeof arg === 'string' ? arg : undefined;
    if (!source) {
      const uris = await vscode.window.showOpenDialog({ title: 'Open a Prometheus TSDB dump', canSelectFiles: true, canSelectFolders: true });
      source = uris?.[0]?.fsPath;
    }
    if (!source) return undefined;
    try {
      await dumps.open(source);
      void dumps.enqueue(source);
      return source;
    } catch (e) {
      void vscode.window.showErrorMessage(e instanceof Error ? e.message : String(e));
      return undefined;
    }
  });

  register('tsdbdump.analyze', async (arg?: unknown) => {
    const source = await sourceOf(arg, 'Analyze Dump');
    if (!source) return undefined;
    try {
      const result = await analyzeWithProgress(source, verifyDepth());
      const errors = result.diagnostics.filter((d) => d.severity === 'error').length;
      const warnings = result.diagnostics.filter((d) => d.severity === 'warning').length;
      const msg = `${path.basename(source)}: ${result.blocks.length} blocks, ${errors} error(s), ${warnings} warning(s).`;
      void (errors ? vscode.window.showWarningMessage(msg, 'Show Report') : vscode.window.showInformationMessage(msg, 'Show Report')).then(
        (a) => a && reports.show(source),
      );
      return result;
    } catch (e) {
      showFailure(`Analysis of ${path.basename(source)}`, e);
      return undefined;
    }
  });

  register('tsdbdump.showReport', async (arg?: unknown, dumpPath?: unknown) => {
    const source = await sourceOf(arg, 'Show Report');
    if (!source) return undefined;
    const at = typeof dumpPath === 'string' ? dumpPath : (arg as { model?: { path?: string } })?.model?.path;
    try {
      return await reports.show(source, at);
    } catch (e) {
      showFailure('Opening the report', e);
      return undefined;
    }
  });

  register('tsdbdump.showTimeline', async (arg?: unknown) => {
    const source = await sourceOf(arg, 'Show Timeline');
    if (!source) return undefined;
    try {
      lastTimeline = timelines.show(source, await resultOf(source));
      return lastTimeline;
    } catch (e) {
      showFailure('Timeline', e);
      return undefined;
    }
  });

  register('tsdbdump.revealBlock', (source: unknown, ulid: unknown) =>
    typeof source === 'string' && typeof ulid === 'string' ? dumps.reveal(source, ulid) : false,
  );

  /** Second argument for automation (tests, other extensions): skip the save dialog and/or the confirmation. */
  interface RepairCommandOptions {
    output?: string;
    confirm?: boolean;
  }
  register('tsdbdump.repair', async (arg?: unknown, opts?: unknown) => {
    const options = (opts ?? {}) as RepairCommandOptions;
    const source = await sourceOf(arg, 'Repair Dump');
    if (!source) return undefined;
    try {
      const plan = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Planning the repair of ${path.basename(source)}`, cancellable: true },
        (progress, token) => w.request<RepairResult>(Requests.repair, { source, dryRun: true }, { progress, token }),
      );
      if (plan.nothingToRepair || plan.actions.length === 0) {
        void vscode.window.showInformationMessage(
          `${path.basename(source)}: nothing to repair${plan.unfixable.length ? ` (${plan.unfixable.length} problem(s) cannot be repaired)` : ''}.`,
        );
        return plan;
      }
      const base = path.basename(source).replace(/\.(tar\.gz|tgz|tar)$/, '');
      const out = options.output
        ? vscode.Uri.file(options.output)
        : await vscode.window.showSaveDialog({
            title: 'Write the repaired dump to',
            defaultUri: vscode.Uri.file(path.join(path.dirname(source), `${base}-repaired.tar.gz`)),
            filters: DUMP_SAVE_FILTERS,
          });
      if (!out) return undefined;
      const samples = plan.actions.reduce((n, a) => n + a.loss.samples, 0);
      const detail = plan.actions.map((a) => `• ${a.kind} ${a.path}${a.to ? ` → ${a.to}` : ''}: ${a.reason}`).join('\n');
      const ok = options.confirm === false ? 'Repair' : await vscode.window.showWarningMessage(
        `Repair ${path.basename(source)} into ${path.basename(out.fsPath)}: ${plan.actions.length} change(s), ${samples} sample(s) lost. The original is not modified.`,
        { modal: true, detail },
        'Repair',
      );
      if (ok !== 'Repair') return undefined;
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Repairing ${path.basename(source)}`, cancellable: true },
        (progress, token) => w.request<RepairResult>(Requests.repair, { source, output: out.fsPath, dryRun: false }, { progress, token }),
      );
      const remaining = result.after?.diagnostics.filter((d) => d.severity === 'error').length ?? 0;
      // The repaired dump joins the Dump Files tree at once, analysed like any other.
      await dumps.open(out.fsPath);
      void dumps.enqueue(out.fsPath);
      void vscode.window.showInformationMessage(`Wrote ${path.basename(out.fsPath)}${remaining ? ` (${remaining} error(s) remain)` : ''}.`);
      return result;
    } catch (e) {
      showFailure('Repair', e);
      return undefined;
    }
  });

  /** Relative presets first, then a custom range typed as RFC 3339 / epoch ms / now-6h (never local time). */
  async function pickDumpRange(podName: string): Promise<{ from?: number; to?: number } | undefined> {
    const custom = { label: 'Custom range…', ms: -1 };
    const pick = await vscode.window.showQuickPick([...DUMP_RANGE_PRESETS, custom], { title: `Dump ${podName}: time range (UTC)` });
    if (!pick) return undefined;
    if (pick !== custom) return pick.ms === undefined ? {} : { from: Date.now() - pick.ms, to: Date.now() };
    const ask = async (which: string, prompt: string) =>
      vscode.window.showInputBox({
        title: `Dump ${podName}: ${which}`,
        prompt,
        validateInput: (v) => (parseTimeInput(v) === null ? 'Not a time: use RFC 3339 with a zone, epoch ms or now-<N>h' : undefined),
      });
    const fromText = await ask('from', 'Start time: RFC 3339 with zone (2025-01-03T00:00:00Z), epoch ms, or now-6h. Empty: everything.');
    if (fromText === undefined) return undefined;
    const toText = await ask('to', 'End time (same forms). Empty: now.');
    if (toText === undefined) return undefined;
    return { from: parseTimeInput(fromText) ?? undefined, to: parseTimeInput(toText) ?? undefined };
  }

  /**
   * Second argument for automation (tests, other extensions): `confirm: false` skips the range pick
   * (from/to given, or everything) and the confirmation (`snapshot: true` then asks for the admin
   * API snapshot); `output` skips the save dialog.
   */
  interface DumpCommandOptions {
    from?: number;
    to?: number;
    output?: string;
    confirm?: boolean;
    snapshot?: boolean;
  }
  register('tsdbdump.dump', async (arg?: unknown, opts?: unknown) => {
    if (!requireTrust('Dump from Pod')) return undefined;
    const options = (opts ?? {}) as DumpCommandOptions;
    try {
      const given = podOf(arg);
      const pod = given?.pod ?? (await pickPod('Dump from Pod'));
      if (!pod) return undefined;
      const range = options.confirm === false ? { from: options.from, to: options.to } : await pickDumpRange(pod.name);
      if (!range) return undefined;
      const target = targetOf(pod, given?.container);
      const how = options.confirm === false ? { snapshot: !!options.snapshot } : await confirmDump(pod, target, range);
      if (!how) return undefined;
      const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
      const out = options.output
        ? vscode.Uri.file(options.output)
        : await vscode.window.showSaveDialog({
            title: 'Save the dump as',
            defaultUri: folder ? vscode.Uri.joinPath(folder, `${pod.name}.tar.gz`) : undefined,
            filters: DUMP_SAVE_FILTERS,
          });
      if (!out) return undefined;
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Dumping ${pod.name}`, cancellable: true },
        (progress, token) =>
          w.request<DumpResult>(
            Requests.dump,
            { target, from: range.from, to: range.to, output: out.fsPath, snapshot: how.snapshot },
            { progress, token },
          ),
      );
      void vscode.window.showInformationMessage(dumpDoneMessage(result));
      await dumps.open(result.output);
      void dumps.enqueue(result.output);
      return result;
    } catch (e) {
      showFailure('Dump from pod', e);
      return undefined;
    }
  });

  /**
   * Shows what will be dumped before anything moves (blocks are included whole). When the pod's
   * Prometheus has the admin API on, a consistent snapshot is offered beside the live copy.
   * Undefined when the user backs out.
   */
  async function confirmDump(pod: PodInfo, target: KubeTarget, range: { from?: number; to?: number }): Promise<{ snapshot: boolean } | undefined> {
    const summary = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Reading the TSDB of ${pod.name}`, cancellable: true },
      (progress, token) => w.request<PodTsdbSummary>(Requests.podSummary, target, { progress, token }),
    );
    const preview = dumpPreview(summary, range.from, range.to);
    const LIVE = 'Dump';
    const SNAPSHOT = 'Dump Snapshot';
    const go = await vscode.window.showInformationMessage(
      `Dump ${preview.included.length} of ${preview.totalBlocks} block(s) plus the head of ${pod.namespace}/${pod.name}, about ${formatBytes(preview.estimatedBytes)}?`,
      {
        modal: true,
        detail: [
          `Requested: ${formatRequestedRange(range.from, range.to)}`,
          `Effective: ${preview.effective ? formatRange(preview.effective.from, preview.effective.to) : 'nothing'}`,
          'Dumps are block-granular: every block overlapping the range is included whole, and the head (chunks_head, WAL) is always included.',
          summary.adminApi
            ? `${SNAPSHOT}: Prometheus's admin API writes a consistent snapshot (the head persisted as a block) and the dump copies it; ${LIVE}: a live copy, where files that change meanwhile are reported.`
            : 'A live copy: files that change meanwhile (compaction, WAL appends) are reported. A consistent snapshot needs --web.enable-admin-api.',
        ].join('\n'),
      },
      ...(summary.adminApi ? [LIVE, SNAPSHOT] : [LIVE]),
    );
    return go === LIVE ? { snapshot: false } : go === SNAPSHOT ? { snapshot: true } : undefined;
  }

  /**
   * Second argument: `source` preselects the dump (a drop on a pod passes it); for automation (tests,
   * other extensions) `mode` skips the mode pick, `confirm: false` the dry run and its confirmation,
   * `force: true` restores a dump with error diagnostics. With the confirmation, a dry run in the
   * worker finds out what the restore would do, and one modal shows it before anything changes.
   */
  interface RestoreCommandOptions {
    source?: string;
    mode?: RestoreMode;
    confirm?: boolean;
    force?: boolean;
  }
  register('tsdbdump.restore', async (arg?: unknown, opts?: unknown) => {
    if (!requireTrust('Restore Dump to Pod')) return undefined;
    const options = (opts ?? {}) as RestoreCommandOptions;
    try {
      const given = podOf(arg);
      const source = options.source ?? (given ? await sourceOf(undefined, 'Restore Dump to Pod') : await sourceOf(arg, 'Restore Dump to Pod'));
      if (!source) return undefined;
      const pod = given?.pod ?? (await pickPod(`Restore ${path.basename(source)} to`));
      if (!pod) return undefined;
      const mode = options.mode ?? (await pickRestoreMode(pod));
      if (!mode) return undefined;
      const target = targetOf(pod, given?.container);
      const request: RestoreRequest = { source, target, mode, force: options.force === true };
      if (options.confirm !== false) {
        const confirmed = await confirmRestore(request, pod);
        if (!confirmed) return undefined;
        // What the modal named: its backup path, and force when the user pressed "Restore Anyway".
        request.backup = confirmed.backup;
        request.force ||= confirmed.needsForce;
      }
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Restoring to ${pod.name}`, cancellable: true },
        (progress, token) => w.request<RestoreResult>(Requests.restore, request, { progress, token }),
      );
      void vscode.window.showInformationMessage(
        `Restored ${result.restoredBlocks.length} block(s) to ${pod.name}${result.verifiedRange ? `; Prometheus serves ${formatRange(result.verifiedRange.from, result.verifiedRange.to)}` : ''}. Backup: ${result.backup}`,
      );
      pods.restored(pod, result);
      return result;
    } catch (e) {
      const err = toWorkerError(e);
      // Only without the confirmation (automation): the dry run lets a user restore such a dump anyway.
      if (err.code === 'dump-has-errors') void vscode.window.showErrorMessage(`Restore refused: ${err.message}.`);
      else showFailure('Restore', e);
      return undefined;
    }
  });

  /**
   * Dry-runs the restore in the worker (nothing changes in the pod) and shows what it would do in
   * one modal; the preview when the user goes on, undefined when not.
   */
  async function confirmRestore(request: RestoreRequest, pod: PodInfo): Promise<RestorePreview | undefined> {
    const check = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Checking ${pod.name}…`, cancellable: true },
      (progress, token) => w.request<RestoreResult>(Requests.restore, { ...request, dryRun: true }, { progress, token }),
    );
    if (!check.preview) throw new Error('the worker answered the dry run without a preview');
    const { message, detail, button } = restoreConfirmation(check.preview, request.source);
    const answer = await vscode.window.showWarningMessage(message, { modal: true, detail }, button);
    return answer === button ? check.preview : undefined;
  }

  async function pickRestoreMode(pod: PodInfo): Promise<RestoreMode | undefined> {
    return (
      await vscode.window.showQuickPick(
        [
          { label: 'replace', description: 'the pod’s data dir becomes the dump (the old one is backed up)', mode: 'replace' as RestoreMode },
          { label: 'merge', description: 'add the dump’s blocks to the pod’s data', mode: 'merge' as RestoreMode },
        ],
        { title: `Restore into ${pod.name}`, placeHolder: 'How to restore' },
      )
    )?.mode;
  }

  register('tsdbdump.analyzePod', async (arg?: unknown) => {
    if (!requireTrust('Analyze Pod')) return undefined;
    try {
      const given = podOf(arg);
      const pod = given?.pod ?? (await pickPod('Analyze Pod'));
      if (!pod) return undefined;
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Analysing pod ${pod.name}`, cancellable: true },
        (progress, token) =>
          w.request<AnalysisResult>(Requests.analyzePod, { ...targetOf(pod, given?.container), verify: verifyDepth() }, { progress, token }),
      );
      pods.setAnalysis(pod, result);
      void vscode.window.showInformationMessage(`${pod.name}: ${result.blocks.length} blocks, ${result.diagnostics.length} diagnostic(s).`);
      return result;
    } catch (e) {
      showFailure('Analysis of the pod', e);
      return undefined;
    }
  });

  const firstRefresh = dumps.refresh();
  const activationMs = performance.now() - t0;
  log.info(`activated in ${activationMs.toFixed(0)} ms`);
  workerStarted.catch((e) => {
    log.error(`the worker did not start: ${e instanceof Error ? e.message : String(e)}`);
    void vscode.window.showErrorMessage('The tsdbdump worker did not start; see the "tsdbdump" output.');
  });
  return { worker: w, dumps, pods, activationMs, workerStarted, firstRefresh, lastTimeline: () => lastTimeline };
}

export async function deactivate(): Promise<void> {
  await worker?.client.stop();
}
