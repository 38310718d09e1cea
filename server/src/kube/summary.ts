/**
 * What a pod's TSDB holds, read with the tools already in the Prometheus image: one exec lists
 * every file with its size and prints every block's meta.json (not one exec per block), and the
 * pod proxy gives Prometheus's version, retention, data dir and whether the admin API is on.
 */
import path from 'node:path/posix';
import { ToolError, toToolError } from '../errors';
import type { KubeTarget, PodTsdbSummary } from '../protocol';
import { execCollect } from './exec';
import { rawRequest } from './kubeconfig';
import { dataVolumeOf } from './volume';
import { resolvePod, type ResolvedPod } from './pods';

export const DEFAULT_DATA_DIR = '/prometheus';
const ULID_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/**
 * Lists the data dir. The script is a constant; the data dir is its positional argument ($1),
 * never interpolated into shell text.
 */
const LIST_SCRIPT = [
  'cd "$1" || exit 3',
  'echo "@tools"',
  // look for real files in PATH: `command -v` also reports busybox applets the image lacks as commands
  'for t in tar sha256sum df stat head; do for d in $(echo "$PATH" | tr ":" " "); do if [ -x "$d/$t" ]; then echo "$t"; break; fi; done; done',
  'echo "@files"',
  'if command -v stat >/dev/null 2>&1; then find . -type f -exec stat -c "%s %n" {} + 2>/dev/null; else find . -type f -exec ls -ln {} + 2>/dev/null | awk \'{ n=$9; for (i=10;i<=NF;i++) n=n" "$i; print $5" "n }\'; fi',
  'for f in */meta.json; do [ -f "$f" ] || continue; echo "@meta $f"; cat "$f"; echo; done',
  'echo "@end"',
].join('\n');

export interface BlockMeta {
  dir: string;
  ulid: string;
  minTime: number;
  maxTime: number;
  level?: number;
  raw: unknown;
}

export interface DataDirListing {
  dataDir: string;
  tools: Set<string>;
  /** Regular files relative to the data dir, with sizes. */
  files: Map<string, number>;
  blocks: BlockMeta[];
  /** Block-like dirs whose meta.json is missing or unreadable. */
  unreadableBlocks: string[];
}

export async function listDataDir(p: ResolvedPod, dataDir: string, signal?: AbortSignal): Promise<DataDirListing> {
  const r = await execCollect(p.conn, {
    namespace: p.namespace,
    pod: p.name,
    container: p.container,
    command: ['sh', '-c', LIST_SCRIPT, 'sh', dataDir],
    signal,
    timeoutMs: 120_000,
  });
  if (r.missingExecutable) throw new ToolError('pod-missing-tool', `no shell (sh) in ${p.namespace}/${p.name} container ${p.container}: cannot list ${dataDir}`);
  if (r.exitCode === 3) throw new ToolError('kube-not-found', `data dir ${dataDir} does not exist in ${p.namespace}/${p.name} container ${p.container}${r.stderr ? `: ${r.stderr.trim()}` : ''}`);
  if (r.exitCode !== 0 || !r.stdout.toString('utf8').includes('@end')) {
    throw new ToolError('kube-exec-failed', `listing ${dataDir} in ${p.namespace}/${p.name} failed (exit ${r.exitCode})${r.stderr ? `: ${r.stderr.trim().slice(0, 300)}` : ''}`);
  }
  return parseListing(dataDir, r.stdout.toString('utf8'));
}

export function parseListing(dataDir: string, text: string): DataDirListing {
  const out: DataDirListing = { dataDir, tools: new Set(), files: new Map(), blocks: [], unreadableBlocks: [] };
  let section = '';
  let metaPath = '';
  let metaText: string[] = [];
  const flushMeta = () => {
    if (!metaPath) return;
    const dir = metaPath.split('/')[0];
    try {
      const m = JSON.parse(metaText.join('\n')) as { ulid?: string; minTime?: number; maxTime?: number; compaction?: { level?: number } };
      if (typeof m.minTime !== 'number' || typeof m.maxTime !== 'number') throw new Error('no time range');
      out.blocks.push({ dir, ulid: m.ulid ?? dir, minTime: m.minTime, maxTime: m.maxTime, level: m.compaction?.level, raw: m });
    } catch {
      out.unreadableBlocks.push(dir);
    }
    metaPath = '';
    metaText = [];
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('@')) {
      flushMeta();
      if (line.startsWith('@meta ')) {
        section = 'meta';
        metaPath = line.slice(6);
      } else section = line.slice(1);
      continue;
    }
    if (section === 'tools' && line) out.tools.add(line.trim());
    else if (section === 'files' && line) {
      const m = /^(\d+) (?:\.\/)?(.+)$/.exec(line);
      if (m) out.files.set(m[2], Number(m[1]));
    } else if (section === 'meta') metaText.push(line);
  }
  flushMeta();
  for (const f of out.files.keys()) {
    const top = f.split('/')[0];
    if (ULID_RE.test(top) && !out.blocks.some((b) => b.dir === top) && !out.unreadableBlocks.includes(top)) out.unreadableBlocks.push(top);
  }
  out.blocks.sort((a, b) => a.minTime - b.minTime || a.dir.localeCompare(b.dir));
  return out;
}

export function sizeUnder(listing: DataDirListing, top: string): number {
  let n = 0;
  for (const [f, s] of listing.files) if (f === top || f.startsWith(`${top}/`)) n += s;
  return n;
}

// ---- Prometheus through the pod proxy --------------------------------------------------------

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
export async function promApi<T>(p: ResolvedPod, method: 'GET' | 'POST', apiPath: string, signal?: AbortSignal, timeoutMs = 20_000): Promise<T> {
  const r = await rawRequest(p.conn, method, proxyPath(p, apiPath), { signal, timeoutMs, headers: method === 'POST' ? { 'Content-Type': 'application/x-www-form-urlencoded' } : undefined, body: method === 'POST' ? '' : undefined });
  let body: { status?: string; data?: T; error?: string; message?: string } | undefined;
  try {
    body = JSON.parse(r.body.toString('utf8')) as typeof body;
  } catch {
    body = undefined;
  }
  if (r.status === 401 || r.status === 403) {
    throw new ToolError(r.status === 401 ? 'kube-unauthorized' : 'kube-forbidden', `Prometheus API ${apiPath} through the pod proxy of ${p.namespace}/${p.name}: ${r.status}${body?.message ? ` ${body.message}` : ''}`);
  }
  if (r.status !== 200 || body?.status !== 'success') {
    const msg = body?.error ?? body?.message ?? r.body.toString('utf8').slice(0, 200);
    throw new ToolError('kube-exec-failed', `Prometheus API ${apiPath} in ${p.namespace}/${p.name} answered ${r.status}${msg ? `: ${msg.trim()}` : ''}`);
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
    throw new ToolError('restore-failed', `Prometheus in ${p.namespace}/${p.name} refused /-/quit: ${r.status} ${r.body.toString('utf8').slice(0, 200).trim()}`);
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
  const re = /(\d+)(ms|s|m|h|d|w|y)/g;
  const unit: Record<string, number> = { ms: 1, s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7, w: 6.048e8, y: 3.1536e10 };
  let total = 0;
  for (const x of m[0].matchAll(re)) total += Number(x[1]) * unit[x[2]];
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

/** The data dir to use: the one asked for, else Prometheus's own flag, else /prometheus. */
export function effectiveDataDir(target: KubeTarget, status: PromStatus): string {
  return (target.dataDir ?? status.dataDir ?? DEFAULT_DATA_DIR).replace(/(.)\/+$/, '$1');
}

/** The pod's TSDB summary; failures become `error` (the tree shows them as items, never hangs). */
export async function podSummary(target: KubeTarget, signal?: AbortSignal): Promise<PodTsdbSummary> {
  const summary: PodTsdbSummary = { target, dataDir: target.dataDir ?? DEFAULT_DATA_DIR, blocks: [], headFiles: 0, walSegments: 0, sizeBytes: 0 };
  try {
    const p = await resolvePod(target, signal);
    summary.target = { ...target, namespace: p.namespace, container: p.container, context: p.conn.context };
    const status = await prometheusStatus(p, signal).catch(() => ({}) as PromStatus);
    summary.prometheusVersion = status.version;
    summary.retention = status.retention;
    summary.adminApi = status.adminApi;
    summary.dataDir = effectiveDataDir(target, status);
    summary.dataVolume = dataVolumeOf(p.pod, p.container, summary.dataDir);
    const listing = await listDataDir(p, summary.dataDir, signal);
    summary.blocks = listing.blocks.map((b) => ({ ulid: b.ulid, minTime: b.minTime, maxTime: b.maxTime, sizeBytes: sizeUnder(listing, b.dir) }));
    summary.headFiles = [...listing.files.keys()].filter((f) => /^chunks_head\/\d+$/.test(f)).length;
    summary.walSegments = [...listing.files.keys()].filter((f) => /^wal\/\d+$/.test(f)).length;
    summary.sizeBytes = [...listing.files.values()].reduce((a, b) => a + b, 0);
    const mins = listing.blocks.map((b) => b.minTime);
    const maxs = listing.blocks.map((b) => b.maxTime);
    // The head's range (newest data) from Prometheus itself, when it answers.
    const tsdb = await promApi<{ headStats?: { minTime?: number; maxTime?: number } }>(p, 'GET', '/api/v1/status/tsdb', signal).catch(() => undefined);
    const head = tsdb?.headStats;
    if (head && typeof head.minTime === 'number' && typeof head.maxTime === 'number' && head.maxTime >= head.minTime && head.minTime > 0) {
      mins.push(head.minTime);
      maxs.push(head.maxTime);
    }
    if (mins.length) {
      summary.minTime = Math.min(...mins);
      summary.maxTime = Math.max(...maxs);
    }
  } catch (e) {
    const err = toToolError(e);
    summary.error = { code: err.code, message: err.message };
  }
  return summary;
}
