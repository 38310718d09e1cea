/**
 * Real Prometheus for tests: Debian's 2.42 (/usr/bin) and 3.x built by scripts/ensure-prometheus.sh
 * into the tool cache (TSDBDUMP_CACHE). A missing tool fails the test; it never skips it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './fixtures';
import { freePort } from './net';

export interface PrometheusBuild {
  /** e.g. `2.42`, `3.16.0`. */
  name: string;
  prometheus: string;
  promtool: string;
}

let builds3: PrometheusBuild[] | undefined;

/** Debian's 2.42 and every 3.x ensure-prometheus.sh provides (builds them once if needed). */
export function prometheusBuilds(): PrometheusBuild[] {
  if (!builds3) {
    const out = execFileSync('bash', [path.join(repoRoot, 'scripts/ensure-prometheus.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    builds3 = out
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [v, dir] = l.split(' ');
        // Module v0.3MM.P is Prometheus 3.MM.P.
        const m = /^v0\.3(\d\d)\.(\d+)$/.exec(v);
        return {
          name: m ? `3.${Number(m[1])}.${m[2]}` : v,
          prometheus: path.join(dir, 'prometheus'),
          promtool: path.join(dir, 'promtool'),
        };
      });
  }
  return [{ name: '2.42', prometheus: 'prometheus', promtool: 'promtool' }, ...builds3];
}

export interface RunningProm {
  port: number;
  log: () => string;
  stop: () => Promise<void>;
}

/**
 * Starts real Prometheus on a data dir (loopback, free port, no scrape jobs, 100y retention) and
 * waits (with a deadline) until /-/ready answers 200 and OUR process logged that it serves
 * (another process may have taken the port meanwhile: retry).
 */
export interface StartOptions {
  /** Extra lines of prometheus.yml (e.g. a `storage:` section with an out_of_order_time_window). */
  config?: string;
  /** Extra command-line flags. */
  flags?: string[];
}

export async function startPrometheus(data: string, binary = 'prometheus', opts: StartOptions = {}): Promise<RunningProm> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startPrometheusOnce(data, binary, opts);
    } catch (e) {
      if (attempt >= 3 || !/address already in use/.test(String(e))) throw e;
    }
  }
}

async function startPrometheusOnce(data: string, binary: string, opts: StartOptions): Promise<RunningProm> {
  const port = await freePort();
  const configDir = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-prom-'));
  const config = path.join(configDir, 'prometheus.yml');
  writeFileSync(config, `scrape_configs: []\n${opts.config ?? ''}`);
  const child: ChildProcess = spawn(
    binary,
    [
      `--storage.tsdb.path=${data}`,
      `--config.file=${config}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=100y',
      ...(opts.flags ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout!.on('data', (c) => (log += String(c)));
  child.stderr!.on('data', (c) => (log += String(c)));
  let exited: number | null | undefined;
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));
  const exitP = new Promise<void>((resolve) =>
    child.once('close', (code) => {
      exited = code;
      resolve();
    }),
  );
  const stop = async () => {
    if (exited === undefined) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exitP;
      clearTimeout(t);
    }
    rmSync(configDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (spawnError) throw new Error(`${binary} could not be started: ${spawnError.message}`);
    if (exited !== undefined) throw new Error(`prometheus exited with ${exited} before ready:\n${log}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/-/ready`);
      if (res.status === 200 && /Server is ready to receive web requests/.test(log)) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready within 30 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, log: () => log, stop };
}

/** Raw samples Prometheus serves for `{__name__!=""}` in the ms range (to - range, to], by series. */
export async function servedRange(port: number, toMs: number, rangeMs: number): Promise<Map<string, [number, string][]>> {
  const q = encodeURIComponent(`{__name__!=""}[${rangeMs}ms]`);
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${q}&time=${toMs / 1000}`);
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { result: { metric: Record<string, string>; values: [number, string][] }[] };
  };
  if (body.status !== 'success') throw new Error(`query failed: ${body.error}`);
  const out = new Map<string, [number, string][]>();
  for (const r of body.data!.result) {
    const key = JSON.stringify(Object.entries(r.metric).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    out.set(key, r.values.map(([t, v]) => [Math.round(t * 1000), v]));
  }
  return out;
}

/** A histogram as the HTTP API serves it: count, sum and buckets `[boundaryRule, lower, upper, count]` (strings). */
export interface ServedHistogram {
  count: string;
  sum: string;
  buckets?: [number, string, string, string][];
}

/**
 * Raw floats and native histograms Prometheus serves for `{__name__=~".+"}[range]` at `toMs`, by
 * series (the key is the label set sorted by name, as JSON).
 */
export async function servedAll(
  port: number,
  toMs: number,
  rangeMs: number,
): Promise<Map<string, { values: [number, string][]; histograms: [number, ServedHistogram][] }>> {
  const q = encodeURIComponent(`{__name__=~".+"}[${rangeMs}ms]`);
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${q}&time=${toMs / 1000}`);
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { result: { metric: Record<string, string>; values?: [number, string][]; histograms?: [number, ServedHistogram][] }[] };
  };
  if (body.status !== 'success') throw new Error(`query failed: ${body.error}`);
  const out = new Map<string, { values: [number, string][]; histograms: [number, ServedHistogram][] }>();
  for (const r of body.data!.result) {
    const key = JSON.stringify(Object.entries(r.metric).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    out.set(key, {
      values: (r.values ?? []).map(([t, v]) => [Math.round(t * 1000), v]),
      histograms: (r.histograms ?? []).map(([t, h]) => [Math.round(t * 1000), h]),
    });
  }
  return out;
}
