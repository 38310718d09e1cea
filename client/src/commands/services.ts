/**
 * What every command works with, and the helpers several of them share: picking a dump or a pod,
 * showing a failure, the trust check. Commands are plain functions over these services
 * (registered in one place, ./table.ts).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Requests, type AnalysisResult, type PodInfo, type VerifyDepth } from '../../../server/src/protocol';
import type { Config } from '../config';
import type { TimelineData } from '../model/timeline';
import type { DumpsProvider, TreeNode } from '../views/dumpsTree';
import type { PodNode, PodsProvider } from '../views/podsTree';
import type { ReportProvider } from '../views/reportDocument';
import type { TimelinePanels } from '../views/timelinePanel';
import { toWorkerError, type Worker } from '../worker';

export interface Services {
  log: vscode.LogOutputChannel;
  worker: Worker;
  config: Config;
  dumps: DumpsProvider;
  pods: PodsProvider;
  reports: ReportProvider;
  timelines: TimelinePanels;
  /** The data of the last timeline shown (for tests). */
  lastTimeline?: TimelineData;
}

/** A command: its arguments are what VS Code passes (a tree node, a URI) or what automation passes. */
export type Command = (s: Services, ...args: unknown[]) => unknown;

/**
 * Save-dialog filters for dumps. "gz" is listed beside "tar.gz" because VS Code's simple save dialog
 * (remote windows, code-server) compares only the last extension with the filter and would turn
 * "x.tar.gz" into "x.tar.gz.tar.gz".
 */
export const DUMP_SAVE_FILTERS = { 'TSDB dump': ['tar.gz', 'gz', 'tgz'] };

/** Runs a cancellable job with a progress notification. */
export function withProgress<T>(
  title: string,
  job: (progress: vscode.Progress<{ message?: string; increment?: number }>, token: vscode.CancellationToken) => Thenable<T>,
): Thenable<T> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, job);
}

/** A source from a tree node, a URI or a path; otherwise asks with a quick pick / open dialog. */
export async function sourceOf(s: Services, arg: unknown, title: string): Promise<string | undefined> {
  if (typeof arg === 'string') return arg;
  if (arg instanceof vscode.Uri) return arg.fsPath;
  if (arg && typeof arg === 'object' && 'source' in arg && typeof (arg as TreeNode).source === 'string') return (arg as TreeNode).source;
  const browse = { label: '$(folder-opened) Open a dump file or data directory…', source: '' };
  const items = [
    ...s.dumps.all().map((d) => ({
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
  await s.dumps.open(uris[0].fsPath);
  return uris[0].fsPath;
}

export function analyzeWithProgress(s: Services, source: string, verify: VerifyDepth): Thenable<AnalysisResult> {
  return withProgress(`Analysing ${path.basename(source)}`, (progress, token) => s.dumps.analyze(source, verify, { progress, token }));
}

/** The last analysis of a source, or a new one. */
export async function resultOf(s: Services, source: string): Promise<AnalysisResult> {
  return s.dumps.get(source)?.result ?? analyzeWithProgress(s, source, s.config.settings.verify);
}

export function showFailure(s: Services, what: string, e: unknown): void {
  const err = toWorkerError(e);
  if (err.code === 'cancelled') {
    void vscode.window.showInformationMessage(`${what}: cancelled.`);
    return;
  }
  s.log.error(`${what} failed: ${err.code}: ${err.message}`);
  void vscode.window.showErrorMessage(`${what} failed: ${err.message}`);
}

export function requireTrust(what: string): boolean {
  if (vscode.workspace.isTrusted) return true;
  void vscode.window.showWarningMessage(`${what} needs a trusted workspace: it talks to a cluster.`);
  return false;
}

/** The pod (and container) of a Pods tree node passed to a command. */
export function podOf(arg: unknown): { pod: PodInfo; container?: string } | undefined {
  const n = arg as PodNode | undefined;
  if (n && (n.type === 'pod' || n.type === 'container')) return { pod: n.pod, container: n.type === 'container' ? n.container : undefined };
  return undefined;
}

/** Asks for a context (when there are several) and a Prometheus pod in it. */
export async function pickPod(s: Services, title: string): Promise<PodInfo | undefined> {
  const { kubeconfig, labelSelector } = s.config.settings;
  const contexts = await s.worker.request(Requests.listContexts, { kubeconfig });
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
    s.worker.request(Requests.listPods, { kubeconfig, context: ctx.name, labelSelector }),
  );
  if (!list.length) throw new Error(`no Prometheus pods in context ${ctx.name}`);
  return (
    await vscode.window.showQuickPick(
      list.map((p) => ({ label: p.name, description: `${p.namespace} · ${p.phase}`, p })),
      { title, placeHolder: 'Prometheus pod' },
    )
  )?.p;
}
