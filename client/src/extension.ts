/**
 * The tsdbdump extension: starts the worker (vscode-languageclient over IPC) and wires the
 * settings, the Dump Files and Pods views, the report documents, the timeline and the command
 * table onto it. Everything slow runs in the worker; this side only asks and renders.
 */
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as vscode from 'vscode';
import { REPORT_SCHEME, Requests } from '../../server/src/protocol';
import type { Services } from './commands/services';
import { registerCommands } from './commands/table';
import { Config } from './config';
import type { TimelineData } from './model/timeline';
import { DumpsProvider } from './views/dumpsTree';
import { PodsProvider } from './views/podsTree';
import { ReportProvider } from './views/reportDocument';
import { TimelinePanels } from './views/timelinePanel';
import { Worker } from './worker';

export interface TsdbdumpApi {
  worker: Worker;
  /**
   * The request constants of this bundle. Callers outside it (the extension-host tests) must use
   * these: vscode-jsonrpc tells a RequestType's parameter structure by object identity, so a copy
   * of the constants from another module instance is refused ("Unknown parameter structure").
   */
  requests: typeof Requests;
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

export async function activate(context: vscode.ExtensionContext): Promise<TsdbdumpApi> {
  const t0 = performance.now();
  const log = vscode.window.createOutputChannel('tsdbdump', { log: true });
  const config = new Config();
  const w = new Worker(context.asAbsolutePath(path.join('dist', 'server.js')), log);
  worker = w;
  context.subscriptions.push(log, config, w);
  // Not awaited: views and commands are there at once; requests wait until the worker runs.
  const workerStarted = w.start();

  const dumps = new DumpsProvider(w, config, context.workspaceState, log);
  const dumpsView = vscode.window.createTreeView('tsdbdump.dumps', {
    treeDataProvider: dumps,
    dragAndDropController: dumps,
    showCollapseAll: true,
  });
  dumps.treeView = dumpsView;
  const reports = new ReportProvider(w);
  const timelines = new TimelinePanels(
    context.extensionUri,
    (source, ulid) => dumps.reveal(source, ulid),
    (source, dumpPath) => reports.show(source, dumpPath),
  );
  const pods = new PodsProvider(w, config);
  const reportDocuments = vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME, reports);
  context.subscriptions.push(dumps, dumpsView, reports, timelines, reportDocuments);
  registerPodsView(context, pods);

  const services: Services = { log, worker: w, config, dumps, pods, reports, timelines };
  context.subscriptions.push(...registerCommands(services));

  const firstRefresh = dumps.refresh();
  const activationMs = performance.now() - t0;
  log.info(`activated in ${activationMs.toFixed(0)} ms`);
  workerStarted.catch((e) => {
    log.error(`the worker did not start: ${e instanceof Error ? e.message : String(e)}`);
    void vscode.window.showErrorMessage('The tsdbdump worker did not start; see the "tsdbdump" output.');
  });
  return {
    worker: w, requests: Requests, dumps, pods, activationMs, workerStarted, firstRefresh, lastTimeline: () => services.lastTimeline,
  };
}

/** The Pods view talks to clusters: only in trusted workspaces (registered when trust is granted). */
function registerPodsView(context: vscode.ExtensionContext, pods: PodsProvider): void {
  let registered = false;
  const register = (): void => {
    if (registered || !vscode.workspace.isTrusted) return;
    registered = true;
    context.subscriptions.push(vscode.window.createTreeView('tsdbdump.pods', { treeDataProvider: pods, dragAndDropController: pods }));
  };
  register();
  context.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(register));
}

export async function deactivate(): Promise<void> {
  await worker?.client.stop();
}
