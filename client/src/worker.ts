/**
 * The worker process seen from the extension: starts it over IPC, restarts it when it dies (and
 * says so once), and sends requests with `$/progress` mapped onto VS Code progress and VS Code
 * cancellation mapped onto LSP cancellation (which aborts the worker's job).
 */
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  ResponseError,
  State,
  TransportKind,
  WorkDoneProgress,
  type LanguageClientOptions,
  type ServerOptions,
  type WorkDoneProgressReport,
  type WorkDoneProgressBegin,
  type RequestType,
} from 'vscode-languageclient/node';
import { Notifications, TOOL_ERROR_CODE, reportUri, type AnalyzedNotification, type FailureInfo } from '../../server/src/protocol';

/** An error the worker reported, with its failure code (or 'cancelled'). */
export class WorkerError extends Error {
  constructor(
    readonly code: FailureInfo['code'],
    message: string,
    /** The worker says the same request continues the interrupted work (FailureInfo.resumable). */
    readonly resumable = false,
  ) {
    super(message);
  }
}

export interface RequestOptions {
  token?: vscode.CancellationToken;
  progress?: vscode.Progress<{ message?: string; increment?: number }>;
  /** Raw progress values, for tests. */
  onProgress?: (value: { kind: string; message?: string; percentage?: number }) => void;
}

const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 3 * 60 * 1000;

export class Worker implements vscode.Disposable {
  readonly client: LanguageClient;
  private readonly analyzed = new vscode.EventEmitter<AnalyzedNotification>();
  private readonly restarted = new vscode.EventEmitter<void>();
  /** Fires for every analysis the worker finished (or failed / was cancelled). */
  readonly onDidAnalyze = this.analyzed.event;
  /** Fires when the worker is running again after a crash. */
  readonly onDidRestart = this.restarted.event;
  private crashes: number[] = [];
  private restartNoticeShown = false;
  private everRunning = false;
  restartCount = 0;

  constructor(
    serverModule: string,
    private readonly log: vscode.LogOutputChannel,
  ) {
    const serverOptions: ServerOptions = {
      run: { module: serverModule, transport: TransportKind.ipc },
      debug: { module: serverModule, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6019'] } },
    };
    const clientOptions: LanguageClientOptions = {
      // meta.json of extracted data dirs: hover with UTC times (diagnostics are pushed for any URI).
      documentSelector: [{ scheme: 'file', pattern: '**/meta.json' }],
      outputChannel: log,
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue, handled: true }),
        closed: () => this.onClosed(),
      },
    };
    this.client = new LanguageClient('tsdbdump', 'tsdbdump worker', serverOptions, clientOptions);
    this.client.onDidChangeState((e) => {
      if (e.newState !== State.Running) return;
      if (this.everRunning) {
        this.restartCount++;
        this.log.info(`worker restarted (pid ${this.pid() ?? '?'})`);
        this.restarted.fire();
      }
      this.everRunning = true;
    });
  }

  /** Starts the worker; resolves with the time it took until it answered `initialize`. */
  async start(): Promise<number> {
    const t0 = Date.now();
    // Registered before start, once: the client keeps notification handlers across restarts.
    this.client.onNotification(Notifications.analyzed, (n) => this.analyzed.fire(n));
    await this.client.start();
    const ms = Date.now() - t0;
    this.log.info(`worker started in ${ms} ms (pid ${this.pid() ?? '?'})`);
    return ms;
  }

  private onClosed(): { action: CloseAction; handled: boolean } {
    const now = Date.now();
    this.crashes = this.crashes.filter((t) => now - t < RESTART_WINDOW_MS);
    this.crashes.push(now);
    if (this.crashes.length > MAX_RESTARTS) {
      void vscode.window.showErrorMessage(
        `The tsdbdump worker stopped ${this.crashes.length} times in a few ` +
          `minutes and is not restarted again. Run "Developer: Reload Window" to start it.`,
      );
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    this.log.warn('worker stopped unexpectedly; restarting it');
    if (!this.restartNoticeShown) {
      this.restartNoticeShown = true;
      void vscode.window.showWarningMessage('The tsdbdump worker stopped unexpectedly and was restarted. Analyses are run again.');
    }
    return { action: CloseAction.Restart, handled: true };
  }

  isRunning(): boolean {
    return this.client.state === State.Running;
  }

  /** The worker's process id, as it reports it in its initialize result. */
  pid(): number | undefined {
    const experimental = this.client.initializeResult?.capabilities.experimental as { tsdbdump?: { pid?: number } } | undefined;
    return experimental?.tsdbdump?.pid;
  }

  /** Waits until the client is running (after a restart, requests would otherwise fail). */
  async ready(timeoutMs = 30_000): Promise<void> {
    if (this.isRunning()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        sub.dispose();
        reject(new WorkerError('internal', 'the tsdbdump worker is not running'));
      }, timeoutMs);
      const sub = this.client.onDidChangeState((e) => {
        if (e.newState === State.Running) {
          clearTimeout(timer);
          sub.dispose();
          resolve();
        }
      });
    });
  }

  /** Sends one request of protocol.ts's `Requests`: its constant fixes the params' and the result's types. */
  async request<P extends object, R>(type: RequestType<P, R, FailureInfo>, params: P, opts: RequestOptions = {}): Promise<R> {
    await this.ready();
    const wantsProgress = opts.progress !== undefined || opts.onProgress !== undefined;
    const workDoneToken = wantsProgress ? `tsdbdump-${Date.now()}-${Math.random().toString(36).slice(2)}` : undefined;
    let last = 0;
    const progressSub = workDoneToken
      ? this.client.onProgress(WorkDoneProgress.type, workDoneToken, (v) => {
          const value = v as WorkDoneProgressBegin | WorkDoneProgressReport | { kind: 'end' };
          opts.onProgress?.(value);
          if (value.kind === 'end' || !opts.progress) return;
          const pct = value.percentage;
          const increment = pct !== undefined && pct > last ? pct - last : undefined;
          if (pct !== undefined) last = Math.max(last, pct);
          opts.progress.report({ message: value.message, increment });
        })
      : undefined;
    try {
      // Callers are checked against P above; the library's RequestParam<P> cannot be resolved for a generic P.
      const body = (workDoneToken ? { ...params, workDoneToken } : params) as never;
      // An `undefined` token would be sent as a second positional parameter: pass it only when there is one.
      return opts.token ? await this.client.sendRequest(type, body, opts.token) : await this.client.sendRequest(type, body);
    } catch (e) {
      throw toWorkerError(e);
    } finally {
      progressSub?.dispose();
    }
  }

  dispose(): void {
    this.analyzed.dispose();
    this.restarted.dispose();
  }
}

export function toWorkerError(e: unknown): WorkerError {
  if (e instanceof WorkerError) return e;
  if (e instanceof ResponseError) {
    const data = e.data as FailureInfo | undefined;
    if (data && typeof data.code === 'string') return new WorkerError(data.code, data.message ?? e.message, data.resumable === true);
    if (e.code === TOOL_ERROR_CODE) return new WorkerError('internal', e.message);
    if (e.code === -32800 /* RequestCancelled */) return new WorkerError('cancelled', 'cancelled');
    return new WorkerError('internal', e.message);
  }
  if (e instanceof vscode.CancellationError) return new WorkerError('cancelled', 'cancelled');
  return new WorkerError('internal', e instanceof Error ? e.message : String(e));
}

/** The report document of a source: the same URI the worker publishes diagnostics on. */
export function reportDocUri(source: string): vscode.Uri {
  return vscode.Uri.parse(reportUri(source), true);
}
