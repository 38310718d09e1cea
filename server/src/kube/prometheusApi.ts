/**
 * Prometheus's HTTP API through the API server's pod proxy: build info, flags and runtime info
 * (version, retention, data dir, admin API), the head's range, and admin calls (snapshot).
 */
import path from 'node:path/posix';
import { ToolError } from '../errors';
import type { TimeRange } from '../protocol';
import { parseDuration } from '../timeInput';
import type { ResolvedPod } from './prometheusPods';
import { rawRequest } from './rawHttp';

function webPort(p: ResolvedPod): number {
  const c = p.pod.spec?.containers?.find((x) => x.name === p.container);
  const ports = c?.ports ?? [];
  const named = ports.find((x) => x.name === 'web' || x.name === 'http');
  return named?.containerPort ?? ports.find((x) => x.containerPort === 9090)?.containerPort ?? ports[0]?.containerPort ?? 9090;
}

export function proxyPath(p: ResolvedPod, apiPath: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(p.namespace)}/pods/${encodeURIComponent(p.name)}:${webPort(p)}/proxy${apiPath}`;
}

/** Calls Prometheus's HTTP API through the pod proxy and returns `data`. */
export async function promApi<T>(
  p: ResolvedPod,
  method: 'GET' | 'POST',
  apiPath: string,
  signal?: AbortSignal,
  timeoutMs = 20_000,
): Promise<T> {
  const r = await rawRequest(p.conn, method, proxyPath(p, apiPath), {
    signal,
    timeoutMs,
    headers: method === 'POST' ? { 'Content-Type': 'application/x-www-form-urlencoded' } : undefined,
    body: method === 'POST' ? '' : undefined,
  });
  let body: { status?: string; data?: T; error?: string; message?: string } | undefined;
  try {
    body = JSON.parse(r.body.toString('utf8')) as typeof body;
  } catch {
    body = undefined;
  }
  if (r.status === 401 || r.status === 403) {
    throw new ToolError(
      r.status === 401 ? 'kube-unauthorized' : 'kube-forbidden',
      `Prometheus API ${apiPath} through the pod proxy of ${p.namespace}/${p.name}: ${r.status}${body?.message ? ` ${body.message}` : ''}`,
    );
  }
  if (r.status !== 200 || body?.status !== 'success') {
    const msg = body?.error ?? body?.message ?? r.body.toString('utf8').slice(0, 200);
    throw new ToolError(
      'kube-exec-failed',
      `Prometheus API ${apiPath} in ${p.namespace}/${p.name} answered ${r.status}${msg ? `: ${msg.trim()}` : ''}`,
    );
  }
  return body.data as T;
}

/**
 * Asks Prometheus to shut down (POST /-/quit, on with --web.enable-lifecycle; web/web.go): the
 * kubelet then restarts the container in place, so the pod and its emptyDir stay.
 */
export async function requestQuit(p: ResolvedPod, signal?: AbortSignal): Promise<void> {
  const r = await rawRequest(p.conn, 'POST', proxyPath(p, '/-/quit'), { signal, timeoutMs: 20_000, body: '' });
  if (r.status !== 200) {
    const body = r.body.toString('utf8').slice(0, 200).trim();
    throw new ToolError('restore-failed', `Prometheus in ${p.namespace}/${p.name} refused /-/quit: ${r.status} ${body}`);
  }
}

export interface PromStatus {
  version?: string;
  /** --web.enable-lifecycle: /-/quit and /-/reload are on. */
  lifecycleApi?: boolean;
  retention?: string;
  /** Retention in ms when it is time-based (undefined when unknown or size-only). */
  retentionMs?: number;
  dataDir?: string;
  adminApi?: boolean;
}

function retentionMs(text: string | undefined): number | undefined {
  if (!text) return undefined;
  // runtimeinfo: "15d", "100y", "10GiB or 15d", "0s" with a size limit
  const m = /(\d+(?:ms|s|m|h|d|w|y))+/.exec(text.replace(/\s+or\s+\S+B\b/i, ''));
  if (!m) return undefined;
  const total = parseDuration(m[0]);
  return total > 0 ? total : undefined;
}

/** Version, retention, data dir and admin API through the pod proxy; missing parts stay undefined. */
export async function prometheusStatus(p: ResolvedPod, signal?: AbortSignal): Promise<PromStatus> {
  const out: PromStatus = {};
  const [build, flags, runtime] = await Promise.allSettled([
    promApi<{ version?: string }>(p, 'GET', '/api/v1/status/buildinfo', signal),
    promApi<Record<string, string>>(p, 'GET', '/api/v1/status/flags', signal),
    promApi<{ storageRetention?: string; CWD?: string }>(p, 'GET', '/api/v1/status/runtimeinfo', signal),
  ]);
  if (build.status === 'fulfilled') out.version = build.value.version;
  if (runtime.status === 'fulfilled') {
    out.retention = runtime.value.storageRetention;
    out.retentionMs = retentionMs(out.retention);
  }
  if (flags.status === 'fulfilled') {
    const f = flags.value;
    out.adminApi = f['web.enable-admin-api'] === 'true';
    out.lifecycleApi = f['web.enable-lifecycle'] === 'true';
    out.retention ??= f['storage.tsdb.retention.time'];
    out.retentionMs ??= retentionMs(f['storage.tsdb.retention.time']);
    const tsdbPath = f['storage.tsdb.path'];
    if (tsdbPath) {
      const cwd = runtime.status === 'fulfilled' ? runtime.value.CWD : undefined;
      out.dataDir = path.isAbsolute(tsdbPath) ? path.normalize(tsdbPath) : cwd ? path.join(cwd, tsdbPath) : undefined;
      if (out.dataDir && out.dataDir.length > 1) out.dataDir = out.dataDir.replace(/\/+$/, '');
    }
  }
  return out;
}

/** Compares dotted versions: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.replace(/^v/, '').split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.replace(/^v/, '').split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/** The head's time range as Prometheus reports it (`/api/v1/status/tsdb` headStats); undefined when it does not answer. */
export async function headRange(p: ResolvedPod, signal?: AbortSignal): Promise<TimeRange | undefined> {
  type TsdbStatus = { headStats?: { minTime?: number; maxTime?: number } };
  const tsdb = await promApi<TsdbStatus>(p, 'GET', '/api/v1/status/tsdb', signal).catch(() => undefined);
  const head = tsdb?.headStats;
  if (!head || typeof head.minTime !== 'number' || typeof head.maxTime !== 'number') return undefined;
  // An empty head reports minTime = MaxInt64 and maxTime = MinInt64 (tsdb/head.go): no range.
  return head.maxTime >= head.minTime && head.minTime > 0 ? { from: head.minTime, to: head.maxTime } : undefined;
}
