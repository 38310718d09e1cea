/**
 * The Dump Files view: dumps found in the workspace (the `tsdbdump.dumpGlob` setting, filtered to
 * files that look like TSDB dumps), extracted data dirs, and dumps opened with a command. Each
 * expands to its blocks, Head and WAL once the worker has analysed it, and a Series node whose
 * metrics → series the worker reads from the dump itself when it is expanded (`series` request).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  Requests,
  type AnalysisResult,
  type FailureInfo,
  type ProbeResult,
  type SeriesResult,
  type Severity,
  type VerifyDepth,
} from '../../../server/src/protocol';
import type { Config } from '../config';
import { dataDirOfFile } from '../model/discovery';
import { DUMPS_MIME, encodeDumpSources } from '../model/dragDrop';
import { dumpChildren, dumpSummary, type ModelNode } from '../model/dumpTree';
import { formatBytes } from '../model/format';
import { seriesChildren, seriesFailureNode, seriesRootNode, type SeriesModelNode } from '../model/seriesTree';
import type { Worker } from '../worker';
import { toWorkerError } from '../worker';

export interface DumpState {
  source: string;
  kind: 'archive' | 'dir';
  opened: boolean;
  status: 'pending' | 'analysing' | 'done' | 'failed';
  result?: AnalysisResult;
  failure?: FailureInfo;
  node: DumpNode;
  children?: EntryNode[];
  /** The selector of the Series node's filter (Filter Series…); all series when absent. */
  seriesFilter?: string;
  series?: SeriesState;
}

/** The Series node of a dump and what its last `series` request returned. */
export interface SeriesState {
  root: SeriesNode;
  /** The request for the current filter, made when the node is first expanded. */
  loading?: Promise<SeriesNode[]>;
  result?: SeriesResult;
  failure?: FailureInfo;
  children?: SeriesNode[];
}

export interface DumpNode {
  type: 'dump';
  source: string;
}

export interface EntryNode {
  type: 'entry';
  source: string;
  model: ModelNode;
  parent: DumpNode | EntryNode;
  children: EntryNode[];
}

export interface MessageNode {
  type: 'message';
  source: string;
  text: string;
  severity: Severity;
  parent: DumpNode;
}

/** A node under a dump's Series node: the node itself, a metric, a series or a message. */
export interface SeriesNode {
  type: 'series';
  source: string;
  model: SeriesModelNode;
  parent: DumpNode | SeriesNode;
  children: SeriesNode[];
}

export type TreeNode = DumpNode | EntryNode | MessageNode | SeriesNode;

const EXCLUDE = '**/{node_modules,.git}/**';
const DATA_FILES_GLOB = '**/{meta.json,wal/[0-9]*,chunks_head/[0-9]*}';
const OPENED_KEY = 'tsdbdump.openedDumps';

export class DumpsProvider implements vscode.TreeDataProvider<TreeNode>, vscode.TreeDragAndDropController<TreeNode>, vscode.Disposable {
  /** Dump nodes can be dragged (onto a pod in the Pods view, to restore them there). */
  readonly dragMimeTypes = [DUMPS_MIME];
  readonly dropMimeTypes: string[] = [];
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly dumps = new Map<string, DumpState>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private queue: Promise<void> = Promise.resolve();
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private watchers: vscode.Disposable[] = [];
  private debounce: NodeJS.Timeout | undefined;
  treeView?: vscode.TreeView<TreeNode>;

  constructor(
    private readonly worker: Worker,
    private readonly config: Config,
    private readonly state: vscode.Memento,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.subscriptions.push(
      worker.onDidAnalyze((n) => {
        const d = this.dumps.get(n.source);
        if (!d) return;
        if (n.result) {
          d.result = n.result;
          d.failure = undefined;
          d.status = 'done';
          d.children = undefined;
          d.series = undefined;
        } else if (n.failure && n.failure.code !== 'cancelled') {
          d.failure = n.failure;
          d.status = 'failed';
          d.children = undefined;
        }
        this.changed.fire(d.node);
      }),
      // A restarted worker has lost its analyses (and the client cleared their diagnostics).
      worker.onDidRestart(() => {
        for (const d of this.dumps.values()) if (d.status !== 'pending') this.enqueue(d.source);
      }),
      config.onDidChange((keys) => {
        if (keys.includes('dumpGlob')) {
          this.watch();
          void this.refresh();
        }
      }),
    );
    this.watch();
  }

  /** Re-watches the workspace for dumps and TSDB files; changes trigger a (debounced) refresh. */
  private watch(): void {
    for (const w of this.watchers) w.dispose();
    const globs = [this.config.settings.dumpGlob, DATA_FILES_GLOB];
    this.watchers = globs.flatMap((g) => {
      const w = vscode.workspace.createFileSystemWatcher(g);
      const onChange = (uri: vscode.Uri): void => this.onFileEvent(uri);
      return [w, w.onDidCreate(onChange), w.onDidChange(onChange), w.onDidDelete(onChange)];
    });
    // A deleted folder is reported as one event for the folder, which the globs above do not match.
    const deletions = vscode.workspace.createFileSystemWatcher('**/*', true, true, false);
    this.watchers.push(
      deletions,
      deletions.onDidDelete((uri) => {
        const prefix = uri.fsPath + path.sep;
        if ([...this.dumps.keys()].some((s) => s === uri.fsPath || s.startsWith(prefix))) this.onFileEvent(uri);
      }),
    );
  }

  private onFileEvent(uri: vscode.Uri): void {
    this.log.debug(`file event: ${uri.fsPath}`);
    const dir = dataDirOfFile(uri.fsPath);
    for (const key of [uri.fsPath, dir]) {
      const d = key ? this.dumps.get(key) : undefined;
      if (d) {
        d.status = 'pending';
        d.result = undefined;
        d.children = undefined;
        d.series = undefined;
      }
    }
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.refresh(), 300);
  }

  all(): DumpState[] {
    return [...this.dumps.values()].sort((a, b) => a.source.localeCompare(b.source));
  }

  get(source: string): DumpState | undefined {
    return this.dumps.get(source);
  }

  /** Finds dumps in the workspace again, keeps opened ones, and analyses what is new or changed. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        await this.discover();
      } while (this.refreshAgain);
    })().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async discover(): Promise<void> {
    const [files, dataFiles] = await Promise.all([
      vscode.workspace.findFiles(this.config.settings.dumpGlob, EXCLUDE, 5000),
      vscode.workspace.findFiles(DATA_FILES_GLOB, EXCLUDE, 20000),
    ]);
    const candidates = new Set<string>(files.map((u) => u.fsPath));
    for (const u of dataFiles) {
      const dir = dataDirOfFile(u.fsPath);
      if (dir) candidates.add(dir);
    }
    const opened = this.state.get<string[]>(OPENED_KEY, []);
    for (const o of opened) candidates.add(o);
    let probes: ProbeResult[] = [];
    try {
      probes = await this.worker.request(Requests.probe, { sources: [...candidates] });
    } catch (e) {
      this.log.error(`probing dumps failed: ${toWorkerError(e).message}`);
    }
    const found = new Map(probes.filter((p) => p.kind !== 'none').map((p) => [p.source, p.kind as 'archive' | 'dir']));
    for (const p of probes) if (p.kind === 'none') this.log.debug(`not a dump: ${p.source} (${p.reason})`);
    for (const source of [...this.dumps.keys()]) if (!found.has(source)) this.dumps.delete(source);
    for (const [source, kind] of found) {
      if (!this.dumps.has(source)) {
        this.dumps.set(source, { source, kind, opened: opened.includes(source), status: 'pending', node: { type: 'dump', source } });
      }
    }
    this.changed.fire(undefined);
    if (this.config.settings.analyzeOnOpen) {
      for (const d of this.dumps.values()) if (d.status === 'pending') this.enqueue(d.source);
    }
  }

  /** Adds a dump the user picked (kept across sessions) and analyses it. */
  async open(source: string): Promise<DumpState> {
    const [probe] = await this.worker.request(Requests.probe, { sources: [source] });
    if (!probe || probe.kind === 'none')
      throw new Error(`${path.basename(source)} is not a Prometheus TSDB dump: ${probe?.reason ?? 'unknown'}`);
    const opened = this.state.get<string[]>(OPENED_KEY, []);
    if (!opened.includes(source)) await this.state.update(OPENED_KEY, [...opened, source]);
    let d = this.dumps.get(source);
    if (!d) {
      d = { source, kind: probe.kind, opened: true, status: 'pending', node: { type: 'dump', source } };
      this.dumps.set(source, d);
      this.changed.fire(undefined);
    }
    return d;
  }

  /** Analyses in the background, one dump at a time, with progress on the view. */
  enqueue(source: string): Promise<void> {
    const d = this.dumps.get(source);
    if (!d) return Promise.resolve();
    d.status = 'analysing';
    this.changed.fire(d.node);
    this.queue = this.queue.then(() =>
      vscode.window.withProgress(
        { location: { viewId: 'tsdbdump.dumps' }, title: `Analysing ${path.basename(source)}` },
        async (progress) => {
          try {
            await this.analyze(source, this.config.settings.verify, { progress });
          } catch (e) {
            this.log.warn(`analysis of ${source} failed: ${toWorkerError(e).message}`);
          }
        },
      ),
    );
    return this.queue;
  }

  async analyze(source: string, verify: VerifyDepth, opts: Parameters<Worker['request']>[2] = {}): Promise<AnalysisResult> {
    const d = this.dumps.get(source);
    if (d) {
      d.status = 'analysing';
      this.changed.fire(d.node);
    }
    try {
      return await this.worker.request(Requests.analyze, { source, verify }, opts);
    } catch (e) {
      const err = toWorkerError(e);
      if (d && d.status === 'analysing') {
        // The notification already recorded real failures; a cancel restores the previous state.
        d.status = d.result ? 'done' : err.code === 'cancelled' ? 'pending' : 'failed';
        if (err.code !== 'cancelled') d.failure = { code: err.code, message: err.message };
        this.changed.fire(d.node);
      }
      throw err;
    }
  }

  // ---- TreeDataProvider ---------------------------------------------------------------------------

  getTreeItem(node: TreeNode): vscode.TreeItem {
    if (node.type === 'dump') return this.dumpItem(this.dumps.get(node.source));
    if (node.type === 'series') return this.seriesItem(node);
    if (node.type === 'message') {
      const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
      item.iconPath = severityIcon(node.severity);
      item.tooltip = node.text;
      item.contextValue = 'message';
      return item;
    }
    const m = node.model;
    const item = new vscode.TreeItem(
      m.label,
      m.children?.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
    );
    item.id = `${node.source}::${m.id}`;
    item.description = m.description;
    item.tooltip = new vscode.MarkdownString(m.tooltip);
    item.iconPath = m.severity === 'error' || m.severity === 'warning' ? severityIcon(m.severity) : new vscode.ThemeIcon(m.icon);
    item.contextValue = m.problems.length ? `${m.kind}.problem` : m.kind;
    if (m.path !== undefined) {
      item.command = { command: 'tsdbdump.showReport', title: 'Show in Report', arguments: [node.source, m.path] };
    }
    if (m.kind === 'block' && m.ulid) item.accessibilityInformation = { label: `block ${m.ulid} ${m.description ?? ''}` };
    return item;
  }

  private dumpItem(d: DumpState | undefined): vscode.TreeItem {
    if (!d) return new vscode.TreeItem('(gone)');
    const name = path.basename(d.source);
    const item = new vscode.TreeItem(name, vscode.TreeItemCollapsibleState.Collapsed);
    item.id = d.source;
    item.resourceUri = vscode.Uri.file(d.source);
    const rel = vscode.workspace.asRelativePath(d.source, false);
    const where = rel !== d.source ? path.dirname(rel) : path.dirname(d.source);
    const errors = d.result?.diagnostics.filter((x) => x.severity === 'error').length ?? 0;
    const warnings = d.result?.diagnostics.filter((x) => x.severity === 'warning').length ?? 0;
    if (d.status === 'analysing') {
      item.description = 'analysing…';
      item.iconPath = new vscode.ThemeIcon('loading~spin');
    } else if (d.status === 'failed') {
      item.description = d.failure?.message ?? 'analysis failed';
      item.iconPath = severityIcon('error');
    } else if (d.result) {
      item.description = `${dumpSummary(d.result)}${where && where !== '.' ? ` · ${where}` : ''}`;
      item.iconPath = errors
        ? severityIcon('error')
        : warnings
          ? severityIcon('warning')
          : new vscode.ThemeIcon(d.kind === 'dir' ? 'folder' : 'package');
    } else {
      item.description = where && where !== '.' ? where : undefined;
      item.iconPath = new vscode.ThemeIcon(d.kind === 'dir' ? 'folder' : 'package');
    }
    const lines = [`**${d.kind === 'dir' ? 'Data directory' : 'Dump'}** \`${d.source}\``];
    if (d.result) {
      lines.push('', `${dumpSummary(d.result)}, ${formatBytes(d.result.totalBytes)}, analysed in ${d.result.durationMs} ms`);
    }
    if (d.failure) lines.push('', `Analysis failed (${d.failure.code}): ${d.failure.message}`);
    item.tooltip = new vscode.MarkdownString(lines.join('\n'));
    item.contextValue = `dump.${d.kind}${d.result ? '.analysed' : ''}${errors ? '.errors' : ''}`;
    return item;
  }

  async getChildren(node?: TreeNode): Promise<TreeNode[]> {
    if (!node) return this.all().map((d) => d.node);
    if (node.type === 'entry') return node.children;
    if (node.type === 'message') return [];
    if (node.type === 'series') return node.model.kind === 'seriesRoot' ? this.loadSeries(node.source) : node.children;
    const d = this.dumps.get(node.source);
    if (!d) return [];
    if (!d.result && d.status !== 'failed') {
      // Expanding shows the spinner until the analysis is done.
      try {
        await this.analyze(d.source, this.config.settings.verify);
      } catch {
        // shown as a message below
      }
    }
    if (d.result) return [...this.entriesOf(d), this.seriesOf(d).root];
    const text = d.failure ? `${d.failure.message}` : 'not analysed';
    return [{ type: 'message', source: d.source, text, severity: 'error', parent: d.node }];
  }

  private entriesOf(d: DumpState): EntryNode[] {
    if (!d.children && d.result) {
      const build = (m: ModelNode, parent: DumpNode | EntryNode): EntryNode => {
        const n: EntryNode = { type: 'entry', source: d.source, model: m, parent, children: [] };
        n.children = (m.children ?? []).map((c) => build(c, n));
        return n;
      };
      d.children = dumpChildren(d.result).map((m) => build(m, d.node));
    }
    return d.children ?? [];
  }

  private seriesOf(d: DumpState): SeriesState {
    d.series ??= { root: { type: 'series', source: d.source, model: seriesRootNode(d.seriesFilter), parent: d.node, children: [] } };
    return d.series;
  }

  /**
   * The metrics → series of a dump's Series node, read by the worker from the dump itself with the
   * node's filter; one request per filter (a failure, such as a selector that does not parse, is
   * shown as a message node under it).
   */
  loadSeries(source: string): Promise<SeriesNode[]> {
    const d = this.dumps.get(source);
    if (!d) return Promise.resolve([]);
    const st = this.seriesOf(d);
    if (st.children) return Promise.resolve(st.children);
    st.loading ??= (async () => {
      const build = (m: SeriesModelNode, parent: SeriesNode): SeriesNode => {
        const n: SeriesNode = { type: 'series', source, model: m, parent, children: [] };
        n.children = (m.children ?? []).map((c) => build(c, n));
        return n;
      };
      let models: SeriesModelNode[];
      try {
        const result = await vscode.window.withProgress(
          { location: { viewId: 'tsdbdump.dumps' }, title: `Reading the series of ${path.basename(source)}` },
          (progress) => this.worker.request(Requests.series, { source, match: d.seriesFilter }, { progress }),
        );
        st.result = result;
        st.failure = undefined;
        st.root.model = seriesRootNode(d.seriesFilter, result);
        models = seriesChildren(result);
      } catch (e) {
        const err = toWorkerError(e);
        st.failure = { code: err.code, message: err.message };
        st.result = undefined;
        st.root.model = seriesRootNode(d.seriesFilter);
        models = [seriesFailureNode(st.failure)];
        this.log.warn(`series of ${source}: ${err.message}`);
      }
      if (d.series !== st) return [];
      st.children = models.map((m) => build(m, st.root));
      st.loading = undefined;
      this.changed.fire(st.root);
      return st.children;
    })();
    return st.loading;
  }

  /** Sets the filter (a series selector; empty for all) of a dump's Series node and reads its series again. */
  setSeriesFilter(source: string, filter: string | undefined): Promise<SeriesNode[]> {
    const d = this.dumps.get(source);
    if (!d) return Promise.resolve([]);
    d.seriesFilter = filter?.trim() || undefined;
    const root = this.seriesOf(d).root;
    d.series = { root };
    root.model = seriesRootNode(d.seriesFilter);
    this.changed.fire(root);
    return this.loadSeries(source);
  }

  private seriesItem(node: SeriesNode): vscode.TreeItem {
    const m = node.model;
    const collapsible = m.kind === 'seriesRoot' || m.children?.length;
    const state = collapsible ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None;
    const item = new vscode.TreeItem(m.label, state);
    item.id = `${node.source}::${m.id}`;
    item.description = m.description;
    item.tooltip = new vscode.MarkdownString(m.tooltip);
    item.iconPath = m.severity ? severityIcon(m.severity) : new vscode.ThemeIcon(m.icon);
    item.contextValue = m.kind;
    if (m.kind === 'series') item.accessibilityInformation = { label: `series ${m.selector ?? m.label} ${m.description ?? ''}` };
    return item;
  }

  /** Puts the sources of the dragged dump nodes under the tree's mime; other nodes add nothing. */
  handleDrag(nodes: readonly TreeNode[], dataTransfer: vscode.DataTransfer): void {
    const sources = nodes.filter((n) => n.type === 'dump').map((n) => n.source);
    if (sources.length) dataTransfer.set(DUMPS_MIME, new vscode.DataTransferItem(encodeDumpSources(sources)));
  }

  getParent(node: TreeNode): TreeNode | undefined {
    return node.type === 'dump' ? undefined : node.parent;
  }

  /** The tree node of a block, analysing the dump first when needed. */
  async blockNode(source: string, ulid: string): Promise<EntryNode | undefined> {
    const d = this.dumps.get(source);
    if (!d) return undefined;
    if (!d.result) await this.analyze(source, this.config.settings.verify);
    return this.entriesOf(d).find((n) => n.model.kind === 'block' && (n.model.ulid === ulid || n.model.id === ulid));
  }

  async reveal(source: string, ulid: string): Promise<boolean> {
    const node = await this.blockNode(source, ulid);
    if (!node || !this.treeView) return false;
    await this.treeView.reveal(node, { select: true, focus: true, expand: false });
    return true;
  }

  dispose(): void {
    clearTimeout(this.debounce);
    for (const s of [...this.subscriptions, ...this.watchers]) s.dispose();
    this.changed.dispose();
  }
}

function severityIcon(s: Severity): vscode.ThemeIcon {
  if (s === 'error') return new vscode.ThemeIcon('error', new vscode.ThemeColor('problemsErrorIcon.foreground'));
  if (s === 'warning') return new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'));
  return new vscode.ThemeIcon('info', new vscode.ThemeColor('problemsInfoIcon.foreground'));
}
