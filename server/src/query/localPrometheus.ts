/**
 * A real local Prometheus on a private copy of a dump, for PromQL (`tsdbdump query`, VS Code's Query
 * Dump panel). The dump is copied (a .tar.gz/.tar extracted by the safe reader, a directory copied
 * file by file) into a fresh `tsdbdump-query-*` temp dir; the source is only read. Prometheus runs
 * with no scrape jobs, on 127.0.0.1 and a free port, with a retention so long that nothing restored
 * is deleted: Prometheus counts time retention back from the newest block (tsdb/db.go
 * BeyondTimeRetention), so an old dump would otherwise lose its blocks on the first start.
 *
 * Lifetime: Prometheus is the child of a guard process (queryGuard.ts) that stops it and removes the
 * temp dir when our end of its stdin closes, which also happens when this process is killed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, constants as fsConstants, promises as fsp } from 'node:fs';
import * as net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { analyzeSource } from '../analysis/analyze';
import { openSource } from '../dump/source';
import { ToolError } from '../errors';
import { parseDuration } from '../timeInput';
import type { QueryAnswer, QueryNamesParams, QueryNamesResult, QueryProblem } from '../protocol';
import { isUlid } from '../tsdb/blockDir';
import { parseMetaJson } from '../tsdb/metaJson';
import { promqlSyntaxError } from './syntax';

/** Prometheus's own defaults (cmd/prometheus/main.go): the limits a heavy query runs into. */
export const DEFAULT_MAX_SAMPLES = 50_000_000;
export const DEFAULT_QUERY_TIMEOUT = '2m';
/** Far more than any dump spans (time.Duration tops out at ~292 years). */
const RETENTION = '100y';
const READY_TIMEOUT_MS = 10 * 60_000;
const STOP_TIMEOUT_MS = 20_000;
const LOG_KEEP = 64 * 1024;

export interface LocalPrometheusOptions {
  /** The binary (setting tsdbdump.prometheusPath, CLI --prometheus); empty: `prometheus` on PATH. */
  binary?: string;
  signal?: AbortSignal;
  onProgress?: (p: { message: string; percentage?: number }) => void;
  maxSamples?: number;
  queryTimeout?: string;
}

export interface QueryRequest {
  expr: string;
  time?: number;
  from?: number;
  to?: number;
  step?: number;
}

/** The binary to run: the explicit path, else `prometheus` on PATH; says how to get one when there is none. */
export async function findPrometheus(explicit?: string): Promise<string> {
  const isExecutable = async (p: string) =>
    fsp.access(p, fsConstants.X_OK).then(
      async () => (await fsp.stat(p)).isFile(),
      () => false,
    );
  if (explicit && explicit.trim() !== '') {
    const p = path.resolve(explicit);
    if (await isExecutable(p)) return p;
    throw new ToolError(
      'prometheus-missing',
      `${explicit} is not an executable Prometheus binary (--prometheus)`,
    );
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const p = path.join(dir, 'prometheus');
    if (await isExecutable(p)) return p;
  }
  throw new ToolError(
    'prometheus-missing',
    'no Prometheus binary found on PATH: install one (Debian/Ubuntu: apt-get install prometheus; or unpack a release from ' +
      'https://prometheus.io/download/), then put it on PATH or pass --prometheus <path>',
  );
}

/** `prometheus --version` → `2.42.0`. */
export async function prometheusVersion(binary: string): Promise<string> {
  const out = await new Promise<string>((resolve) =>
    execFile(binary, ['--version'], { timeout: 15_000 }, (err, stdout, stderr) => resolve(`${stdout}${stderr}`)),
  );
  const m = /version (\d+\.\d+\.\d+\S*)/.exec(out);
  if (!m) throw new ToolError('prometheus-missing', `${binary} does not answer --version like Prometheus does`);
  return m[1];
}

/** The guard beside this module: dist/queryGuard.js next to the bundles, out/…/query/queryGuard.js for tsc output. */
function guardScript(): string {
  return path.join(__dirname, 'queryGuard.js');
}

export class LocalPrometheus {
  private log = '';
  private exitListeners: ((code: number | null) => void)[] = [];
  private exited?: { code: number | null };
  private guardGone: Promise<void>;
  port = 0;
  minTime?: number;
  maxTime?: number;

  private constructor(
    readonly source: string,
    readonly binary: string,
    readonly version: string,
    readonly tempDir: string,
    private readonly guard: ChildProcess,
    readonly maxSamples: number,
    readonly queryTimeout: string,
  ) {
    this.guardGone = new Promise((resolve) => guard.once('exit', () => resolve()));
    guard.stderr!.setEncoding('utf8');
    guard.stderr!.on('data', (t: string) => {
      this.log = (this.log + t).slice(-LOG_KEEP);
    });
    let buffered = '';
    guard.stdout!.setEncoding('utf8');
    guard.stdout!.on('data', (t: string) => {
      buffered += t;
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const event = JSON.parse(buffered.slice(0, nl)) as { exited?: number | null; error?: string };
        buffered = buffered.slice(nl + 1);
        if ('exited' in event || event.error !== undefined) {
          this.exited = { code: event.exited ?? null };
          if (event.error) this.log += `\n${event.error}`;
          for (const l of this.exitListeners.splice(0)) l(this.exited.code);
        }
      }
    });
    guard.once('exit', () => {
      if (!this.exited) {
        this.exited = { code: null };
        for (const l of this.exitListeners.splice(0)) l(null);
      }
    });
  }

  get dataDir(): string {
    return path.join(this.tempDir, 'data');
  }

  get running(): boolean {
    return !this.exited;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Prometheus's log so far (the last 64 KiB). */
  logText(): string {
    return this.log;
  }

  /** Called once when Prometheus exits (or the guard does) on its own. */
  onExit(listener: (code: number | null) => void): void {
    if (this.exited) listener(this.exited.code);
    else this.exitListeners.push(listener);
  }

  static async start(source: string, opts: LocalPrometheusOptions = {}): Promise<LocalPrometheus> {
    const binary = await findPrometheus(opts.binary);
    const version = await prometheusVersion(binary);
    const tempDir = await fsp.mkdtemp(path.join(path.resolve(os.tmpdir()), 'tsdbdump-query-'));
    // The guard first: from here on the temp dir goes away with this process, however it ends.
    const guard = spawn(process.execPath, [guardScript(), tempDir], {
      stdio: ['pipe', 'pipe', 'pipe'],
      // In VS Code the worker runs on Electron's binary as Node; the guard must too.
      env: process.versions.electron ? { ...process.env, ELECTRON_RUN_AS_NODE: '1' } : process.env,
    });
    const local = new LocalPrometheus(
      path.resolve(source),
      binary,
      version,
      tempDir,
      guard,
      opts.maxSamples ?? DEFAULT_MAX_SAMPLES,
      opts.queryTimeout ?? DEFAULT_QUERY_TIMEOUT,
    );
    try {
      await local.copyDump(opts);
      await local.boot(opts);
      return local;
    } catch (e) {
      await local.stop();
      throw e;
    }
  }

  /** The private copy: every entry the safe reader hands on, written under data/. */
  private async copyDump(opts: LocalPrometheusOptions): Promise<void> {
    const data = this.dataDir;
    await fsp.mkdir(data);
    await fsp.writeFile(path.join(this.tempDir, 'prometheus.yml'), '# tsdbdump query: no scrape jobs\nscrape_configs: []\n');
    const opened = await openSource(this.source, {
      signal: opts.signal,
      onProgress: (p) =>
        opts.onProgress?.({
          message: `copying the dump${p.entry ? `: ${p.entry}` : ''}`,
          percentage: p.totalBytes ? (100 * p.bytes) / p.totalBytes : undefined,
        }),
    });
    for await (const entry of opened.entries) {
      opts.signal?.throwIfAborted();
      const target = path.join(data, entry.path);
      if (entry.type === 'directory') await fsp.mkdir(target, { recursive: true });
      else if (entry.type === 'file') {
        await fsp.mkdir(path.dirname(target), { recursive: true });
        await pipeline(Readable.from(entry.stream), createWriteStream(target), { signal: opts.signal });
      }
    }
    // Block ranges from meta.json: what the dump holds besides the head.
    for (const dir of await fsp.readdir(data)) {
      if (!isUlid(dir)) continue;
      const bytes = await fsp.readFile(path.join(data, dir, 'meta.json')).catch(() => undefined);
      const meta = bytes ? parseMetaJson(bytes) : undefined;
      if (!meta?.ok) continue;
      this.widen(meta.meta.minTime, meta.meta.maxTime - 1);
    }
  }

  private widen(min: number, max: number): void {
    if (!(min <= max)) return;
    this.minTime = this.minTime === undefined ? min : Math.min(this.minTime, min);
    this.maxTime = this.maxTime === undefined ? max : Math.max(this.maxTime, max);
  }

  private args(): string[] {
    return [
      `--config.file=${path.join(this.tempDir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${this.dataDir}`,
      `--storage.tsdb.retention.time=${RETENTION}`,
      `--web.listen-address=127.0.0.1:${this.port}`,
      `--query.max-samples=${this.maxSamples}`,
      `--query.timeout=${this.queryTimeout}`,
    ];
  }

  /** Starts Prometheus and waits until it is ready, on a port that is ours; a refusal is explained by the analysis. */
  private async boot(opts: LocalPrometheusOptions): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      this.port = await freePort();
      this.exited = undefined;
      this.guard.stdin!.write(`${JSON.stringify({ binary: this.binary, args: this.args() })}\n`);
      opts.onProgress?.({ message: `starting Prometheus ${this.version} (it replays the head and WAL)` });
      const ready = await this.waitReady(opts.signal);
      if (ready) break;
      // Another process took the port between our check and Prometheus's bind: try another one.
      if (attempt < 3 && !(await canListen(this.port))) continue;
      throw await this.refusal();
    }
    const head = await this.api<{ headStats?: { minTime: number; maxTime: number } }>('/api/v1/status/tsdb').catch(() => undefined);
    if (head?.headStats) this.widen(head.headStats.minTime, head.headStats.maxTime);
  }

  private async waitReady(signal?: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      signal?.throwIfAborted();
      if (this.exited) return false;
      const res = await fetch(`${this.url}/-/ready`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      await res?.body?.cancel();
      if (res?.status === 200) {
        // Ours, not another Prometheus that got this port first: it serves our data dir.
        const flags = await this.api<Record<string, string>>('/api/v1/status/flags').catch(() => undefined);
        if (flags && path.resolve(flags['storage.tsdb.path'] ?? '') === this.dataDir) return true;
        if (this.exited) return false;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new ToolError('prometheus-failed', `Prometheus ${this.version} was not ready after ${READY_TIMEOUT_MS / 60_000} minutes`);
  }

  /** Why Prometheus did not start: the analysis's error diagnostics of the source, or its last log line. */
  private async refusal(): Promise<ToolError> {
    const status = this.exited?.code === null || this.exited?.code === undefined ? 'it was stopped' : `exit status ${this.exited.code}`;
    const result = await analyzeSource(this.source, { verify: 'quick' }).catch(() => undefined);
    const errors = (result?.diagnostics ?? []).filter((d) => d.severity === 'error');
    if (errors.length > 0) {
      const what = errors.map((d) => `${d.code} (${d.path}): ${d.message}`).join('; ');
      return new ToolError('prometheus-refused', `Prometheus ${this.version} refused to start on this dump (${status}): ${what}`, {
        diagnostics: errors.map((d) => ({ code: d.code, path: d.path })),
      });
    }
    const last = this.log.trim().split('\n').filter(Boolean).pop() ?? '';
    const message = `Prometheus ${this.version} exited before it was ready (${status}); its last log line: ${last}`;
    return new ToolError('prometheus-refused', message, { diagnostics: [] });
  }

  private async api<T>(urlPath: string, body?: URLSearchParams, signal?: AbortSignal): Promise<T> {
    const res = await this.fetchApi(urlPath, body, signal);
    if (res.status !== 'success') throw new ToolError('query-failed', `Prometheus: ${res.errorType}: ${res.error}`);
    return res.data as T;
  }

  private async fetchApi(urlPath: string, body?: URLSearchParams, signal?: AbortSignal): Promise<ApiResponse> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${urlPath}`, body ? { method: 'POST', body, signal } : { signal });
    } catch (e) {
      if (signal?.aborted) throw new ToolError('cancelled', 'cancelled');
      const why = this.exited ? `has stopped (exit status ${this.exited.code})` : `does not answer: ${String(e)}`;
      throw new ToolError('prometheus-failed', `the local Prometheus ${why}`);
    }
    const text = await res.text();
    try {
      return JSON.parse(text) as ApiResponse;
    } catch {
      throw new ToolError('prometheus-failed', `the local Prometheus answered HTTP ${res.status} without JSON`);
    }
  }

  /** One PromQL query; a bad expression or a limit is an answer with `problem`. */
  async query(q: QueryRequest, signal?: AbortSignal): Promise<QueryAnswer> {
    const answer: QueryAnswer = { expr: q.expr };
    const range = q.from !== undefined || q.to !== undefined || q.step !== undefined;
    if (range) Object.assign(answer, { from: q.from, to: q.to, step: q.step });
    else answer.time = q.time;
    const syntax = promqlSyntaxError(q.expr);
    if (syntax) {
      answer.problem = { kind: 'syntax', message: syntax.message, syntax };
      return answer;
    }
    const body = new URLSearchParams({ query: q.expr });
    if (range) {
      if (q.from === undefined || q.to === undefined || q.step === undefined)
        throw new ToolError('usage', 'a range query needs from, to and step');
      body.set('start', String(q.from / 1000));
      body.set('end', String(q.to / 1000));
      body.set('step', String(q.step / 1000));
    } else if (q.time !== undefined) body.set('time', String(q.time / 1000));
    const started = performance.now();
    const res = await this.fetchApi(range ? '/api/v1/query_range' : '/api/v1/query', body, signal);
    const elapsedMs = performance.now() - started;
    if (res.warnings?.length) answer.warnings = res.warnings;
    if (res.infos?.length) answer.infos = res.infos;
    if (res.status === 'success') answer.data = res.data as QueryAnswer['data'];
    else if (res.errorType === 'canceled') throw new ToolError('cancelled', 'cancelled');
    else answer.problem = this.problemOf(res.errorType ?? '', res.error ?? '', elapsedMs);
    return answer;
  }

  /** Prometheus's error as data: its errorType; which limit, for the two the API does not type apart. */
  private problemOf(errorType: string, error: string, elapsedMs: number): QueryProblem {
    const narrow = 'narrow it: a shorter range, a larger step, or a more selective selector (e.g. {job="…"})';
    // The deadline is typed `timeout` only when the engine notices it; when it hits while series are
    // expanded, the storage error comes back as `execution` (web/api/v1/api.go returnAPIError). So
    // an execution error after the whole --query.timeout has passed is that timeout (seen on 2.42).
    if (errorType === 'timeout' || (errorType === 'execution' && elapsedMs >= parseDuration(this.queryTimeout))) {
      return {
        kind: 'limit',
        errorType,
        limit: { flag: 'query.timeout', value: this.queryTimeout },
        message: `the query ran longer than the local Prometheus's --query.timeout=${this.queryTimeout}; ${narrow}`,
      };
    }
    // ErrTooManySamples has no errorType of its own (web/api/v1/api.go returnAPIError: `execution`);
    // its text is the fixed format of promql/engine.go's ErrTooManySamples, the only way to tell it.
    if (errorType === 'execution' && error.includes(TOO_MANY_SAMPLES)) {
      return {
        kind: 'limit',
        errorType,
        limit: { flag: 'query.max-samples', value: String(this.maxSamples) },
        message: `the query would load more than --query.max-samples=${this.maxSamples} samples at once; ${narrow}`,
      };
    }
    return { kind: 'prometheus', errorType, message: `Prometheus: ${errorType}: ${error}` };
  }

  /** Names for completion, from Prometheus's /api/v1/labels, /label/…/values and /series. */
  async names(p: Omit<QueryNamesParams, 'session'>, signal?: AbortSignal): Promise<QueryNamesResult> {
    const body = new URLSearchParams();
    if (p.match) body.append('match[]', p.match);
    if (p.kind === 'labelNames') return { names: await this.api<string[]>('/api/v1/labels', body, signal) };
    if (p.kind === 'series') {
      if (!p.match) throw new ToolError('usage', 'series names need a selector');
      return { series: await this.api<Record<string, string>[]>('/api/v1/series', body, signal) };
    }
    if (!p.label || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(p.label)) throw new ToolError('usage', `not a label name: ${p.label ?? ''}`);
    const qs = p.match ? `?${body.toString()}` : '';
    return { names: await this.api<string[]>(`/api/v1/label/${p.label}/values${qs}`, undefined, signal) };
  }

  /** Stops Prometheus and removes the copy (the guard does both when its stdin closes). */
  async stop(): Promise<void> {
    this.guard.stdin!.end();
    const timer = setTimeout(() => this.guard.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.guardGone;
    clearTimeout(timer);
    // The guard removes it; after a SIGKILL of the guard we do.
    await fsp.rm(this.tempDir, { recursive: true, force: true });
  }
}

/** Part of promql/engine.go's ErrTooManySamples text, the same in 2.x and 3.x. */
const TOO_MANY_SAMPLES = 'would load too many samples into memory';

interface ApiResponse {
  status: 'success' | 'error';
  data?: unknown;
  errorType?: string;
  error?: string;
  warnings?: string[];
  infos?: string[];
}

// Ports below the kernel's ephemeral range (32768+ on Linux): one found free there cannot be taken by
// an outgoing connection before Prometheus binds it.
const LOWEST_PORT = 20000;
const HIGHEST_PORT = 32767;

async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOWEST_PORT + Math.floor(Math.random() * (HIGHEST_PORT - LOWEST_PORT + 1));
    if (await canListen(port)) return port;
  }
  throw new ToolError('prometheus-failed', `no free loopback port between ${LOWEST_PORT} and ${HIGHEST_PORT}`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
