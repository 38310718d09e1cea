/**
 * The worker: a language server over Node IPC that runs the engine for the VS Code client.
 * Every request of protocol.ts is handled here; long jobs report `$/progress` on the client's
 * workDoneToken and stop when the client cancels (the token aborts the job's AbortSignal).
 * Analyses publish diagnostics on the source's report document and, for extracted data dirs,
 * on the blocks' meta.json files.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createConnection,
  ProposedFeatures,
  ResponseError,
  TextDocuments,
  TextDocumentSyncKind,
  WorkDoneProgress,
  LSPErrorCodes,
  DiagnosticSeverity,
  type CancellationToken,
  type Diagnostic,
  type Hover,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { listSeries } from '../data/series';
import { readSamples } from '../data/samples';
import { FAILURE_CODES, toToolError } from '../errors';
import {
  DEFAULT_VERIFY,
  Notifications,
  Requests,
  TOOL_ERROR_CODE,
  reportUri,
  type AnalysisResult,
  type AnalyzedNotification,
  type FailureInfo,
  type ReportResult,
  type Severity,
  type TsdbDiagnostic,
  type VerifyDepth,
} from '../protocol';
import * as metaJson from '../tsdb/metaJson';
import { engine, type JobOptions } from './engine';
import { blockDirsOf, metaFieldFor, positionAt, reportLineOf, timeAt } from './metaRanges';
import { probeSource } from './probe';

// Deprecation warnings of bundled dependencies (punycode, url.parse in the Kubernetes client) would
// land in the user's output channel as errors; they say nothing about the user's data.
process.noDeprecation = true;

const connection = createConnection(ProposedFeatures.all);
const documents = new TextDocuments(TextDocument);

/** Last analysis per source: serves the report document and the timeline without re-reading. */
const analyses = new Map<string, { result: AnalysisResult; report: ReportResult }>();
/** URIs that carry diagnostics of a source, to clear the ones an analysis no longer reports. */
const published = new Map<string, Set<string>>();
const running = new Set<AbortController>();

connection.onInitialize(() => ({
  capabilities: {
    textDocumentSync: TextDocumentSyncKind.Incremental,
    hoverProvider: true,
    // The client shows the worker's pid in its log and the tests kill it to check the restart.
    experimental: { tsdbdump: { pid: process.pid } },
  },
  serverInfo: { name: 'tsdbdump worker' },
}));

// ---- jobs: cancellation, progress, errors -------------------------------------------------------

async function runJob<T>(
  token: CancellationToken,
  workDoneToken: string | number | undefined,
  title: string,
  job: (opts: JobOptions) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  running.add(controller);
  const cancelListener = token.onCancellationRequested(() => controller.abort());
  if (token.isCancellationRequested) controller.abort();
  let lastReport = 0;
  if (workDoneToken !== undefined) {
    void connection.sendProgress(WorkDoneProgress.type, workDoneToken, { kind: 'begin', title, cancellable: true });
  }
  const onProgress = (p: { message?: string; percentage?: number }): void => {
    const now = Date.now();
    if (workDoneToken === undefined || now - lastReport < 100) return;
    lastReport = now;
    const percentage = p.percentage === undefined ? undefined : Math.max(0, Math.min(100, Math.round(p.percentage)));
    void connection.sendProgress(WorkDoneProgress.type, workDoneToken, { kind: 'report', message: p.message, percentage });
  };
  try {
    return await job({ signal: controller.signal, onProgress });
  } catch (e) {
    throw toResponseError(e, controller.signal.aborted);
  } finally {
    cancelListener.dispose();
    running.delete(controller);
    if (workDoneToken !== undefined) void connection.sendProgress(WorkDoneProgress.type, workDoneToken, { kind: 'end' });
  }
}

function failureOf(e: unknown, aborted: boolean): FailureInfo {
  // An interrupted dump or restore that the same request continues (kube/dumpResume.ts, kube/restore.ts).
  const resumable = (e as { details?: { resumable?: unknown } } | undefined)?.details?.resumable === true ? { resumable: true } : {};
  if (aborted) return { code: 'cancelled', message: resumable.resumable ? String((e as Error).message) : 'cancelled', ...resumable };
  // dist/cluster.js is its own bundle with its own ToolError class: recognise those by shape.
  const shaped = e as { name?: unknown; code?: unknown; message?: unknown };
  if (
    shaped &&
    shaped.name === 'ToolError' &&
    typeof shaped.code === 'string' &&
    (FAILURE_CODES as readonly string[]).includes(shaped.code)
  ) {
    return { code: shaped.code as FailureInfo['code'], message: String(shaped.message), ...resumable };
  }
  const te = toToolError(e);
  return { code: te.code, message: te.message, ...resumable };
}

function toResponseError(e: unknown, aborted: boolean): ResponseError<FailureInfo> {
  const failure = failureOf(e, aborted);
  if (failure.code === 'cancelled') return new ResponseError(LSPErrorCodes.RequestCancelled, failure.message, failure);
  return new ResponseError(TOOL_ERROR_CODE, failure.message, failure);
}

// ---- analysis -----------------------------------------------------------------------------------

async function analyzeSource(source: string, verify: VerifyDepth, opts: JobOptions): Promise<AnalysisResult> {
  const abs = path.resolve(source);
  try {
    const result = await engine.analyze(abs, verify, opts);
    opts.signal.throwIfAborted();
    return await publishAnalysis(abs, result);
  } catch (e) {
    notifyAnalyzed({ source: abs, failure: failureOf(e, opts.signal.aborted) });
    throw e;
  }
}

/**
 * What every finished analysis (of a dump or of a pod) goes through: its report is kept for the
 * report document, its diagnostics are published, and the client is notified.
 */
async function publishAnalysis(source: string, result: AnalysisResult): Promise<AnalysisResult> {
  const report = engine.renderReport(result);
  analyses.set(source, { result, report });
  await publishDiagnostics(source, result, report);
  notifyAnalyzed({ source, result });
  return result;
}

function notifyAnalyzed(n: AnalyzedNotification): void {
  void connection.sendNotification(Notifications.analyzed, n);
}

const SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

function toDiagnostic(d: TsdbDiagnostic, range: Diagnostic['range']): Diagnostic {
  const message = d.prometheusMessage ? `${d.message}\nPrometheus: ${d.prometheusMessage}` : d.message;
  return { range, severity: SEVERITY[d.severity], code: d.code, source: 'tsdbdump', message };
}

async function publishDiagnostics(source: string, result: AnalysisResult, report: ReportResult): Promise<void> {
  const byUri = new Map<string, Diagnostic[]>();
  const add = (uri: string, d: Diagnostic): void => {
    const list = byUri.get(uri) ?? [];
    list.push(d);
    byUri.set(uri, list);
  };
  const reportLines = report.text.split('\n');
  const reportDoc = reportUri(source);
  byUri.set(reportDoc, []);
  for (const d of result.diagnostics) {
    const line = reportLineOf(report.lines, d.path);
    add(reportDoc, toDiagnostic(d, { start: { line, character: 0 }, end: { line, character: reportLines[line]?.length ?? 0 } }));
  }
  if (path.isAbsolute(source) && (await fsp.stat(source).catch(() => undefined))?.isDirectory()) {
    for (const d of result.diagnostics) {
      for (const dir of blockDirsOf(d)) {
        const file = path.join(source, dir, 'meta.json');
        const range = await metaRange(file, metaFieldFor(d.code));
        if (range) add(pathToFileURL(file).href, toDiagnostic(d, range));
      }
    }
  }
  const before = published.get(source) ?? new Set<string>();
  for (const uri of before) if (!byUri.has(uri)) void connection.sendDiagnostics({ uri, diagnostics: [] });
  for (const [uri, diagnostics] of byUri) void connection.sendDiagnostics({ uri, diagnostics });
  published.set(source, new Set(byUri.keys()));
}

/** The range of a meta.json field's value, or the file's first character; undefined when there is no file. */
async function metaRange(file: string, field: ReturnType<typeof metaFieldFor>): Promise<Diagnostic['range'] | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const whole = { start: { line: 0, character: 0 }, end: { line: 0, character: Math.min(1, text.length) } };
  if (!field || typeof metaJson.parseMetaJson !== 'function') return whole;
  const parsed = metaJson.parseMetaJson(new TextEncoder().encode(text));
  const r = parsed.ok ? parsed.ranges[field] : undefined;
  if (!r) return whole;
  // Offsets are characters of the decoded text, like positionAt expects.
  return { start: positionAt(text, r.valueStart), end: positionAt(text, r.valueEnd) };
}

// ---- requests -----------------------------------------------------------------------------------

connection.onRequest(Requests.analyze, (params, token) =>
  runJob(token, params.workDoneToken, `Analysing ${path.basename(params.source)}`, (opts) =>
    analyzeSource(params.source, params.verify ?? DEFAULT_VERIFY, opts),
  ),
);

connection.onRequest(Requests.report, (params, token) =>
  runJob(token, undefined, 'Report', async (opts) => {
    // Pod sources (`pod:…`) are known only from an earlier analysis; paths are analysed on demand.
    const key = analyses.has(params.source) ? params.source : path.resolve(params.source);
    if (!analyses.has(key)) await analyzeSource(key, DEFAULT_VERIFY, opts);
    return analyses.get(key)!.report;
  }),
);

connection.onRequest(Requests.probe, (params, token) =>
  runJob(token, undefined, 'Probe', () => Promise.all(params.sources.map((s) => probeSource(s)))),
);

connection.onRequest(Requests.repair, (params, token) =>
  runJob(token, params.workDoneToken, `Repairing ${path.basename(params.source)}`, (opts) => engine.repair(params, opts)),
);

connection.onRequest(Requests.listContexts, (params, token) =>
  runJob(token, undefined, 'Contexts', () => engine.listContexts(params?.kubeconfig)),
);

connection.onRequest(Requests.listPods, (params, token) =>
  runJob(token, undefined, 'Pods', (opts) => engine.listPods(params, opts)),
);

connection.onRequest(Requests.podSummary, (params, token) =>
  runJob(token, undefined, 'Pod summary', (opts) => engine.podSummary(params, opts)),
);

connection.onRequest(Requests.dump, (params, token) =>
  runJob(token, params.workDoneToken, `${params.dryRun ? 'Planning the dump of' : 'Dumping'} ${params.target.pod ?? 'pod'}`, (opts) =>
    engine.dump(params, opts),
  ),
);

connection.onRequest(Requests.restore, (params, token) =>
  runJob(token, params.workDoneToken, `${params.dryRun ? 'Checking' : 'Restoring to'} ${params.target.pod ?? 'pod'}`, (opts) =>
    engine.restore(params, opts),
  ),
);

connection.onRequest(Requests.analyzePod, (params, token) =>
  runJob(token, params.workDoneToken, `Analysing pod ${params.pod ?? ''}`, async (opts) => {
    const result = await engine.analyzePod(params, params.verify ?? DEFAULT_VERIFY, opts);
    // The pod's report document (`pod:<context>/<ns>/<pod>`) gets its diagnostics like a dump's.
    return publishAnalysis(result.source, result);
  }),
);

connection.onRequest(Requests.series, (params, token) =>
  runJob(token, params.workDoneToken, `Reading the series of ${path.basename(params.source)}`, (opts) =>
    listSeries(params, { signal: opts.signal, onProgress: (message) => opts.onProgress?.({ message }) }),
  ),
);

connection.onRequest(Requests.samples, (params, token) =>
  runJob(token, params.workDoneToken, `Reading samples of ${params.match}`, (opts) =>
    readSamples(params, { signal: opts.signal, onProgress: (message) => opts.onProgress?.({ message }) }),
  ),
);

connection.onRequest(Requests.parseTimes, (params, token) => runJob(token, undefined, 'Times', async () => engine.parseTimes(params)));

// ---- meta.json hover ----------------------------------------------------------------------------

connection.onHover((params): Hover | null => {
  if (!params.textDocument.uri.endsWith('/meta.json')) return null;
  const doc = documents.get(params.textDocument.uri);
  if (!doc) return null;
  const text = doc.getText();
  const t = timeAt(text, doc.offsetAt(params.position));
  if (!t) return null;
  return {
    contents: { kind: 'markdown', value: `**${t.key}** \`${t.value}\` = **${t.utc}** (UTC)` },
    range: { start: doc.positionAt(t.start), end: doc.positionAt(t.end) },
  };
});

connection.onShutdown(() => {
  for (const c of running) c.abort();
});

documents.listen(connection);
connection.listen();
