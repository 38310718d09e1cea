/**
 * What a pod's TSDB holds, read with the tools already in the Prometheus image: one exec lists
 * every file with its size and prints every block's meta.json (not one exec per block), and the
 * pod proxy (./prometheusApi) gives Prometheus's version, retention, data dir and whether the admin API is on.
 */
import { isUlid } from '../tsdb/blockDir';
import { ToolError, toToolError } from '../errors';
import type { KubeTarget, PodTsdbSummary } from '../protocol';
import { execCollect } from './exec';
import { headRange, prometheusStatus, type PromStatus } from './prometheusApi';
import { resolvePod, type ResolvedPod } from './prometheusPods';
import { dataVolumeOf } from './volume';

export const DEFAULT_DATA_DIR = '/prometheus';

/**
 * Lists the data dir. The script is a constant; the data dir is its positional argument ($1),
 * never interpolated into shell text.
 */
const LIST_SCRIPT = [
  'cd "$1" || exit 3',
  'echo "@tools"',
  // look for real files in PATH: `command -v` also reports busybox applets the image lacks as commands
  'for t in tar sha256sum df stat head tail; do for d in $(echo "$PATH" | tr ":" ' +
    '" "); do if [ -x "$d/$t" ]; then echo "$t"; break; fi; done; done',
  'echo "@files"',
  'if command -v stat >/dev/null 2>&1; then find . -type f -exec stat -c "%s %n" {} ' +
    '+ 2>/dev/null; else find . -type f -exec ls -ln {} + 2>/dev/null | awk \'{ n=$9; for (i=10;i<=NF;i++) n=n" "$i; print $5" "n }\'; fi',
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
  if (r.missingExecutable)
    throw new ToolError('pod-missing-tool', `no shell (sh) in ${p.namespace}/${p.name} container ${p.container}: cannot list ${dataDir}`);
  if (r.exitCode === 3)
    throw new ToolError(
      'kube-not-found',
      `data dir ${dataDir} does not exist in ${p.namespace}/${p.name} container ${p.container}${r.stderr ? `: ${r.stderr.trim()}` : ''}`,
    );
  if (r.exitCode !== 0 || !r.stdout.toString('utf8').includes('@end')) {
    throw new ToolError(
      'kube-exec-failed',
      `listing ${dataDir} in ${p.namespace}/${p.name} failed (exit ${r.exitCode})${r.stderr ? `: ${r.stderr.trim().slice(0, 300)}` : ''}`,
    );
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
    if (isUlid(top) && !out.blocks.some((b) => b.dir === top) && !out.unreadableBlocks.includes(top)) out.unreadableBlocks.push(top);
  }
  out.blocks.sort((a, b) => a.minTime - b.minTime || a.dir.localeCompare(b.dir));
  return out;
}

export function sizeUnder(listing: DataDirListing, top: string): number {
  let n = 0;
  for (const [f, s] of listing.files) if (f === top || f.startsWith(`${top}/`)) n += s;
  return n;
}

/** The data dir to use: the one asked for, else Prometheus's own flag, else /prometheus. */
export function effectiveDataDir(target: KubeTarget, status: PromStatus): string {
  return (target.dataDir ?? status.dataDir ?? DEFAULT_DATA_DIR).replace(/(.)\/+$/, '$1');
}

/** The pod's TSDB summary; failures become `error` (the tree shows them as items, never hangs). */
export async function podSummary(target: KubeTarget, signal?: AbortSignal): Promise<PodTsdbSummary> {
  const summary: PodTsdbSummary = {
    target,
    dataDir: target.dataDir ?? DEFAULT_DATA_DIR,
    blocks: [],
    headFiles: 0,
    walSegments: 0,
    sizeBytes: 0,
  };
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
    summary.blocks = listing.blocks.map((b) => ({
      ulid: b.ulid,
      minTime: b.minTime,
      maxTime: b.maxTime,
      sizeBytes: sizeUnder(listing, b.dir),
    }));
    summary.headFiles = [...listing.files.keys()].filter((f) => /^chunks_head\/\d+$/.test(f)).length;
    summary.walSegments = [...listing.files.keys()].filter((f) => /^wal\/\d+$/.test(f)).length;
    summary.sizeBytes = [...listing.files.values()].reduce((a, b) => a + b, 0);
    const mins = listing.blocks.map((b) => b.minTime);
    const maxs = listing.blocks.map((b) => b.maxTime);
    // The head's range (newest data) from Prometheus itself, when it answers.
    const head = await headRange(p, signal);
    if (head) {
      mins.push(head.from);
      maxs.push(head.to);
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
