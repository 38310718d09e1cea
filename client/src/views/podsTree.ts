/**
 * The Pods view (trusted workspaces only): kubeconfig contexts → namespaces → Prometheus pods →
 * containers and the TSDB summary. Everything comes from the worker; errors become items.
 * A dump dropped on a pod or container (from the Dump Files view or the Explorer) is restored there.
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import {
  Requests,
  type AnalysisResult,
  type KubeContextInfo,
  type KubeTarget,
  type PodInfo,
  type RestoreResult,
} from '../../../server/src/protocol';
import type { Config } from '../config';
import { DUMPS_MIME, decodeDumpSources, dumpPathsFromUriList } from '../model/dragDrop';
import { formatBytes, formatRange } from '../model/format';
import type { Worker } from '../worker';
import { toWorkerError } from '../worker';

export type PodNode =
  | { type: 'context'; context: KubeContextInfo }
  | { type: 'namespace'; context: string; namespace: string; pods: PodInfo[] }
  | { type: 'pod'; pod: PodInfo }
  | { type: 'container'; pod: PodInfo; container: string }
  | { type: 'info'; label: string; description?: string; icon: string; error?: boolean };

/** The worker's target for a pod of the tree (or a container of it), with the kubeconfig and data dir settings. */
export function targetOf(config: Config, pod: PodInfo, container?: string): KubeTarget {
  const s = config.settings;
  return {
    kubeconfig: s.kubeconfig,
    context: pod.context,
    namespace: pod.namespace,
    pod: pod.name,
    container: container ?? pod.prometheusContainer,
    dataDir: s.dataDir,
  };
}

export class PodsProvider implements vscode.TreeDataProvider<PodNode>, vscode.TreeDragAndDropController<PodNode> {
  readonly dropMimeTypes = [DUMPS_MIME, 'text/uri-list'];
  readonly dragMimeTypes: string[] = [];
  private readonly changed = new vscode.EventEmitter<PodNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly podCache = new Map<string, Promise<PodInfo[]>>();
  /** The last in-place analysis of each pod, shown under it until the next one. */
  private readonly analyses = new Map<string, AnalysisResult>();
  /** The last restore into each pod, shown under it. */
  private readonly restores = new Map<string, RestoreResult>();

  constructor(
    private readonly worker: Worker,
    private readonly config: Config,
  ) {}

  setAnalysis(pod: PodInfo, result: AnalysisResult): void {
    this.analyses.set(podKey(pod), result);
    this.changed.fire(undefined);
  }

  analysisOf(pod: PodInfo): AnalysisResult | undefined {
    return this.analyses.get(podKey(pod));
  }

  /** Records a restore (shown under the pod) and reloads the view: the pod's data has changed. */
  restored(pod: PodInfo, result: RestoreResult): void {
    this.restores.set(podKey(pod), result);
    this.refresh();
  }

  restoreOf(pod: PodInfo): RestoreResult | undefined {
    return this.restores.get(podKey(pod));
  }

  refresh(): void {
    this.podCache.clear();
    this.changed.fire(undefined);
  }

  /**
   * A dump dropped on a pod or container: runs Restore Dump to Pod for it with the dump preselected
   * (the mode and the confirmation are still asked). Resolves when the restore is over.
   */
  async handleDrop(target: PodNode | undefined, dataTransfer: vscode.DataTransfer): Promise<void> {
    if (target?.type !== 'pod' && target?.type !== 'container') return;
    const sources = await droppedDumps(dataTransfer);
    if (sources.length !== 1) {
      void vscode.window.showWarningMessage(
        sources.length
          ? 'Drop one dump at a time onto a pod.'
          : 'Only a dump (.tar.gz, .tgz, .tar) or a TSDB data directory can be restored to a pod.',
      );
      return;
    }
    await vscode.commands.executeCommand('tsdbdump.restore', target, { source: sources[0] });
  }

  getTreeItem(n: PodNode): vscode.TreeItem {
    const C = vscode.TreeItemCollapsibleState;
    switch (n.type) {
      case 'context': {
        const item = new vscode.TreeItem(n.context.name, C.Collapsed);
        item.description = `${n.context.cluster}${n.context.current ? ' · current' : ''}`;
        item.iconPath = new vscode.ThemeIcon('cloud');
        item.tooltip = `context ${n.context.name}\ncluster ${n.context.cluster}\nuser ${n.context.user}`;
        item.contextValue = 'kubeContext';
        return item;
      }
      case 'namespace': {
        const item = new vscode.TreeItem(n.namespace, C.Expanded);
        item.description = `${n.pods.length} pod${n.pods.length === 1 ? '' : 's'}`;
        item.iconPath = new vscode.ThemeIcon('symbol-namespace');
        item.contextValue = 'kubeNamespace';
        return item;
      }
      case 'pod': {
        const item = new vscode.TreeItem(n.pod.name, C.Collapsed);
        item.description = `${n.pod.phase}${n.pod.ready ? '' : ' · not ready'}`;
        item.iconPath = new vscode.ThemeIcon(n.pod.ready ? 'vm-running' : 'vm-outline');
        item.tooltip = `${n.pod.namespace}/${n.pod.name} (${n.pod.context})\ncontainers: ${n.pod.containers.join(', ')}`;
        item.contextValue = 'pod';
        return item;
      }
      case 'container': {
        const item = new vscode.TreeItem(n.container, C.None);
        item.description = n.container === n.pod.prometheusContainer ? 'prometheus' : undefined;
        item.iconPath = new vscode.ThemeIcon('package');
        item.contextValue = 'container';
        return item;
      }
      case 'info': {
        const item = new vscode.TreeItem(n.label, C.None);
        item.description = n.description;
        item.tooltip = n.description ? `${n.label}: ${n.description}` : n.label;
        item.iconPath = n.error
          ? new vscode.ThemeIcon('error', new vscode.ThemeColor('problemsErrorIcon.foreground'))
          : new vscode.ThemeIcon(n.icon);
        item.contextValue = n.error ? 'error' : 'info';
        return item;
      }
    }
  }

  async getChildren(n?: PodNode): Promise<PodNode[]> {
    try {
      if (!n) {
        const contexts = await this.listContexts();
        if (!contexts) return [];
        if (!contexts.length) return [{ type: 'info', label: 'No kubeconfig contexts', icon: 'info' }];
        return contexts.map((context) => ({ type: 'context', context }));
      }
      if (n.type === 'context') {
        const pods = await this.pods(n.context.name);
        if (!pods.length)
          return [{ type: 'info', label: 'No Prometheus pods found', description: this.config.settings.labelSelector, icon: 'info' }];
        const byNs = new Map<string, PodInfo[]>();
        for (const p of pods) byNs.set(p.namespace, [...(byNs.get(p.namespace) ?? []), p]);
        return [...byNs].map(([namespace, ps]) => ({ type: 'namespace', context: n.context.name, namespace, pods: ps }));
      }
      if (n.type === 'namespace') return n.pods.map((pod) => ({ type: 'pod', pod }));
      if (n.type === 'pod') {
        const containers: PodNode[] = n.pod.containers.map((container) => ({ type: 'container', pod: n.pod, container }));
        const key = podKey(n.pod);
        return [
          ...containers,
          ...(await this.summary(n.pod)),
          ...restoreNodes(this.restores.get(key)),
          ...analysisNodes(this.analyses.get(key)),
        ];
      }
      return [];
    } catch (e) {
      const err = toWorkerError(e);
      return [{ type: 'info', label: err.code, description: err.message, icon: 'error', error: true }];
    }
  }

  /**
   * The kubeconfig's contexts, or undefined when there is no kubeconfig at all: a first look without
   * a cluster is not an error, so the view shows its welcome content (package.json viewsWelcome,
   * shown while the context key `tsdbdump.noKubeconfig` is set) instead of an error item.
   */
  private async listContexts(): Promise<KubeContextInfo[] | undefined> {
    try {
      const contexts = await this.worker.request(Requests.listContexts, { kubeconfig: this.config.settings.kubeconfig });
      void vscode.commands.executeCommand('setContext', 'tsdbdump.noKubeconfig', false);
      return contexts;
    } catch (e) {
      if (toWorkerError(e).code !== 'kubeconfig-missing') throw e;
      void vscode.commands.executeCommand('setContext', 'tsdbdump.noKubeconfig', true);
      return undefined;
    }
  }

  private pods(context: string): Promise<PodInfo[]> {
    let p = this.podCache.get(context);
    if (!p) {
      const s = this.config.settings;
      p = this.worker.request(Requests.listPods, { kubeconfig: s.kubeconfig, context, labelSelector: s.labelSelector });
      this.podCache.set(context, p);
      p.catch(() => this.podCache.delete(context));
    }
    return p;
  }

  private async summary(pod: PodInfo): Promise<PodNode[]> {
    try {
      const s = await this.worker.request(Requests.podSummary, targetOf(this.config, pod));
      if (s.error) return [{ type: 'info', label: s.error.code, description: s.error.message, icon: 'error', error: true }];
      const out: PodNode[] = [
        { type: 'info', label: 'TSDB', description: `${s.dataDir} · ${formatBytes(s.sizeBytes)}`, icon: 'database' },
        ...(s.dataVolume ? [{ type: 'info' as const, label: 'Volume', description: s.dataVolume.description, icon: 'server' }] : []),
        { type: 'info', label: 'Blocks', description: `${s.blocks.length}`, icon: 'layers' },
        { type: 'info', label: 'Head / WAL', description: `${s.headFiles} chunk files · ${s.walSegments} segments`, icon: 'history' },
      ];
      if (s.minTime !== undefined)
        out.push({ type: 'info', label: 'Range', description: formatRange(s.minTime, s.maxTime), icon: 'calendar' });
      if (s.prometheusVersion) out.push({ type: 'info', label: 'Prometheus', description: s.prometheusVersion, icon: 'info' });
      return out;
    } catch (e) {
      const err = toWorkerError(e);
      return [{ type: 'info', label: err.code, description: err.message, icon: 'error', error: true }];
    }
  }
}

/** The dumps of a drop: our payload from the Dump Files view, else the files of a uri list. */
async function droppedDumps(dataTransfer: vscode.DataTransfer): Promise<string[]> {
  // A real drag carries VS Code's own item under the tree mime too: look at every item of it.
  const fromTree: string[] = [];
  for (const [mime, item] of dataTransfer) if (mime === DUMPS_MIME) fromTree.push(...decodeDumpSources(await item.asString()));
  if (fromTree.length) return [...new Set(fromTree)];
  const uriList = await dataTransfer.get('text/uri-list')?.asString();
  return uriList ? dumpPathsFromUriList(uriList, isDirectory) : [];
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function podKey(pod: PodInfo): string {
  return `${pod.context}/${pod.namespace}/${pod.name}`;
}

const SEVERITY_ICON = { error: 'error', warning: 'warning', information: 'info', hint: 'lightbulb' } as const;

/** The last restore into a pod: what came in, what Prometheus serves now, where the old data went. */
export function restoreNodes(result: RestoreResult | undefined): PodNode[] {
  if (!result) return [];
  const served = result.verifiedRange ? ` · serves ${formatRange(result.verifiedRange.from, result.verifiedRange.to)}` : '';
  return [
    {
      type: 'info',
      label: 'Last restore',
      description: `${result.restoredBlocks.length} blocks${served} · backup ${result.backup}`,
      icon: 'cloud-upload',
    },
  ];
}

/** An in-place analysis under its pod: a verdict line, then one item per diagnostic. */
export function analysisNodes(result: AnalysisResult | undefined): PodNode[] {
  if (!result) return [];
  const errors = result.diagnostics.filter((d) => d.severity === 'error').length;
  const verdict: PodNode = {
    type: 'info',
    label: 'Analysis',
    description: `${result.blocks.length} blocks · ${errors} error(s) · ${result.diagnostics.length - errors} other`,
    icon: errors ? 'error' : 'pass',
    error: errors > 0,
  };
  return [
    verdict,
    ...result.diagnostics.map((d): PodNode => ({
      type: 'info',
      label: d.code,
      description: `${d.path}: ${d.message}`,
      icon: SEVERITY_ICON[d.severity],
      error: d.severity === 'error',
    })),
  ];
}
