/**
 * Dump a pod's TSDB for a time range, streaming: `tar cf - -C <dataDir> chunks_head wal <blocks…>`
 * in the pod → (tee) gzip members on the thread pool → `<out>.partial`, and a tar parser that
 * hashes every entry as it passes. In the pod, `sha256sum` hashes the same files at the same time.
 * The archive is renamed to its final name only when every immutable file's hashes match; files
 * that are appended to or removed while the dump runs (WAL, head chunks, compaction) are reported
 * in `changedDuringDump`, and the manifest records the hash of what was sent.
 *
 * Block selection is block-granular: a block is included when its [minTime, maxTime) overlaps the
 * requested range, so the dump can hold samples outside the range. The head (chunks_head/, wal/)
 * is always included. Layout as promdump: entries relative to the data dir, head first.
 */
import { createHash, type Hash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import { humanBytes } from '../analysis/goFormat';
import { ToolError, toToolError } from '../errors';
import type { DumpPreview, DumpRequest, DumpResult, DumpResumable, DumpResumeInfo, KubeTarget, TimeRange } from '../protocol';
import {
  compactPartial,
  hashPrefix,
  readResumeRecord,
  removeResumeState,
  sameKey,
  verifyPartial,
  writeAll,
  writeResumeRecord,
  type ResumeEntry,
  type ResumeKey,
  type ResumeRecord,
} from './dumpResume';
import { END_OF_ARCHIVE, TarTracker } from './tarTrack';
import { execCollect, execStream, type ExecStatus } from './exec';
import { keepAlive, removeMarked, removeStaleLeftovers, snapshotMarker, touchMarker } from './leftovers';
import { ParallelGzip } from './gzip';
import { requireExec, resolvePod, type ResolvedPod } from './prometheusPods';
import { headRange, prometheusStatus, promApi, type PromStatus } from './prometheusApi';
import { effectiveDataDir, listDataDir, sizeUnder, type BlockMeta, type DataDirListing } from './summary';

/** Top-level head entries, in promdump's order. */
export const HEAD_DIRS = ['chunks_head', 'wal', 'wbl'];
/** Paths whose content legitimately changes while Prometheus runs. */
export const MUTABLE_RE = /^(chunks_head|wal|wbl)\//;

export interface DumpProgress {
  phase: 'planning' | 'resuming' | 'streaming' | 'verifying' | 'done';
  /** Uncompressed tar bytes received from the pod. */
  bytes: number;
  /** Estimate of the tar size (sum of the file sizes listed before the dump). */
  totalBytes?: number;
  entry?: string;
  message?: string;
}

export interface DumpPlan {
  pod: ResolvedPod;
  target: KubeTarget;
  /** The Prometheus data dir in the pod. */
  dataDir: string;
  /** The directory streamed: the data dir, or the snapshot dir in snapshot mode. */
  root: string;
  status: PromStatus;
  listing: DataDirListing;
  from?: number;
  to?: number;
  /** Blocks whose range overlaps [from, to), by minTime. */
  blocks: BlockMeta[];
  /** Blocks left out (outside the range, or unreadable when a range was asked). */
  skippedBlocks: string[];
  /** Top-level paths streamed, in order. */
  paths: string[];
  /** Regular files expected, relative to root, with their sizes at planning time. */
  files: Map<string, number>;
  estimatedBytes: number;
  /** Time covered by the chosen blocks (the head adds the newest data on top). */
  effectiveRange: { minTime?: number; maxTime?: number };
  useTar: boolean;
  snapshot?: string;
  notes: string[];
}

export interface ManifestFile {
  path: string;
  size: number;
  /** SHA-256 of the bytes in the dump. */
  sha256: string;
  /** SHA-256 computed in the pod, when it could be. */
  podSha256?: string;
  verified: boolean;
}

export interface DumpManifest {
  tool: 'tsdbdump';
  formatVersion: 1;
  createdAt: string;
  pod: { context: string; namespace: string; name: string; container: string };
  dataDir: string;
  snapshot?: string;
  prometheusVersion?: string;
  requestedRange: { from?: number; to?: number };
  blockGranular: true;
  effectiveRange: { minTime?: number; maxTime?: number };
  blocks: { dir: string; ulid: string; minTime: number; maxTime: number }[];
  archive: { file: string; bytes: number; sha256: string; tarBytes: number };
  files: ManifestFile[];
  changedDuringDump: string[];
  warnings: string[];
}

export interface DumpOptions {
  signal?: AbortSignal;
  onProgress?: (p: DumpProgress) => void;
  /** A fixed gzip level. Default: adaptive (level 1 where it saves ≥ 8 %, stored where it does not). */
  gzipLevel?: number;
  /** Hash in the pod while streaming (default) or after the stream ended. */
  podHashConcurrently?: boolean;
  /** Bandwidth limit (tar bytes per second), to spare a production cluster's network and API server. */
  maxBytesPerSecond?: number;
  /** Continue an interrupted run's `<output>.partial` (default); false starts over (`--no-resume`). */
  resume?: boolean;
  /** Keep the partial and its progress record when the run fails or is cancelled (default), for the next run to resume. */
  keepPartial?: boolean;
}

export interface DumpOutcome extends DumpResult {
  manifestData: DumpManifest;
  plan: DumpPlan;
}

function overlaps(b: BlockMeta, from?: number, to?: number): boolean {
  return (to === undefined || b.minTime < to) && (from === undefined || b.maxTime > from);
}

/** Resolves the pod and lists what a dump of [from, to) would contain, without moving data. */
export async function planDump(
  req: Omit<DumpRequest, 'output'> & { signal?: AbortSignal; /** every top-level entry (in-place analysis) */ allEntries?: boolean },
): Promise<DumpPlan> {
  const pod = await resolvePod(req.target, req.signal);
  await requireExec(pod, req.signal);
  const status = await prometheusStatus(pod, req.signal).catch(() => ({}) as PromStatus);
  const dataDir = effectiveDataDir(req.target, status);
  const notes: string[] = [];
  let root = dataDir;
  let snapshot: string | undefined;
  if (req.snapshot) {
    if (!status.adminApi)
      throw new ToolError(
        'usage',
        `snapshot mode needs Prometheus's admin API (--web.enable-admin-api), which is off in ${pod.namespace}/${pod.name}`,
      );
    const snap = await promApi<{ name: string }>(pod, 'POST', '/api/v1/admin/tsdb/snapshot?skip_head=false', req.signal, 300_000);
    if (!/^[\w.-]+$/.test(snap.name)) throw new ToolError('kube-exec-failed', `unexpected snapshot name "${snap.name}"`);
    snapshot = snap.name;
    root = `${dataDir}/snapshots/${snapshot}`;
    notes.push(`consistent snapshot ${snapshot} (the head is persisted as a block in it); removed after the dump`);
  }
  try {
    // The marker says the snapshot is tsdbdump's (kube/leftovers.ts): if this process dies before
    // the dump removes it, the next dump or restore of the pod does.
    if (snapshot) await touchMarker(pod, snapshotMarker(dataDir, snapshot), req.signal);
    return planFrom(req, pod, status, dataDir, root, snapshot, notes, await listDataDir(pod, root, req.signal));
  } catch (e) {
    if (snapshot) await removeMarked(pod, root, snapshotMarker(dataDir, snapshot)).catch(() => undefined);
    throw e;
  }
}

function planFrom(
  req: Omit<DumpRequest, 'output'> & { allEntries?: boolean },
  pod: ResolvedPod,
  status: PromStatus,
  dataDir: string,
  root: string,
  snapshot: string | undefined,
  notes: string[],
  listing: DataDirListing,
): DumpPlan {
  const { from, to } = req;
  const chosen = chooseEntries(listing, from, to, req.allEntries === true);
  return {
    pod,
    target: { ...req.target, context: pod.conn.context, namespace: pod.namespace, container: pod.container, dataDir },
    dataDir,
    root,
    status,
    listing,
    from,
    to,
    ...chosen,
    useTar: listing.tools.has('tar'),
    snapshot,
    notes: [...notes, ...chosen.notes],
  };
}

type ChosenEntries = Pick<DumpPlan, 'blocks' | 'skippedBlocks' | 'paths' | 'files' | 'estimatedBytes' | 'effectiveRange' | 'notes'>;

/**
 * What a dump of [from, to) takes from a data dir listing: every block whose range overlaps it
 * (whole), the head always, blocks without a readable meta.json only when no range is asked
 * (their range is unknown), and with allEntries every other top-level entry too.
 */
export function chooseEntries(
  listing: DataDirListing,
  from: number | undefined,
  to: number | undefined,
  allEntries = false,
): ChosenEntries {
  if (from !== undefined && to !== undefined && from >= to)
    throw new ToolError('usage', `empty time range: from ${new Date(from).toISOString()} is not before to ${new Date(to).toISOString()}`);
  const notes: string[] = [];
  const blocks = listing.blocks.filter((b) => overlaps(b, from, to));
  const skippedBlocks = listing.blocks.filter((b) => !blocks.includes(b)).map((b) => b.dir);
  const ranged = from !== undefined || to !== undefined;
  const unreadable = ranged ? [] : listing.unreadableBlocks;
  if (ranged && listing.unreadableBlocks.length) {
    skippedBlocks.push(...listing.unreadableBlocks);
    notes.push(`left out blocks without a readable meta.json (their time range is unknown): ${listing.unreadableBlocks.join(', ')}`);
  }
  const headPaths = HEAD_DIRS.filter((d) => [...listing.files.keys()].some((f) => f.startsWith(`${d}/`)));
  const paths = [...headPaths, ...blocks.map((b) => b.dir), ...unreadable];
  if (allEntries) {
    const tops = new Set([...listing.files.keys()].map((f) => f.split('/')[0]));
    for (const t of [...tops].sort()) if (!paths.includes(t) && t !== 'snapshots' && t !== 'queries.active') paths.push(t);
  }
  const files = new Map<string, number>();
  for (const p of paths) for (const [f, s] of listing.files) if (f === p || f.startsWith(`${p}/`)) files.set(f, s);
  const estimatedBytes = paths.reduce((n, p) => n + sizeUnder(listing, p), 0);
  if (ranged) {
    notes.push(
      'block-granular: whole blocks overlapping the range are included, so the dump can hold samples outside it; ' +
        'the head (chunks_head, wal) is always included',
    );
  }
  const effectiveRange = blocks.length
    ? { minTime: Math.min(...blocks.map((b) => b.minTime)), maxTime: Math.max(...blocks.map((b) => b.maxTime)) }
    : {};
  return { blocks, skippedBlocks, paths, files, estimatedBytes, effectiveRange, notes };
}

/**
 * The preview of a plan, for the client's confirmation: the chosen blocks with their sizes, and
 * the effective range, which is the blocks' range extended by the head's (the head is always dumped).
 */
export function dumpPreview(
  plan: Omit<DumpPlan, 'pod'> & { pod: Pick<ResolvedPod, 'namespace' | 'name' | 'container'> & { conn: { context: string } } },
  head?: TimeRange,
): DumpPreview {
  const hasHead = plan.paths.some((p) => HEAD_DIRS.includes(p));
  const starts = plan.blocks.map((b) => b.minTime);
  const ends = plan.blocks.map((b) => b.maxTime);
  if (head && hasHead) {
    starts.push(head.from);
    ends.push(head.to);
  }
  return {
    pod: { context: plan.pod.conn.context, namespace: plan.pod.namespace, name: plan.pod.name, container: plan.pod.container },
    dataDir: plan.dataDir,
    requested: { from: plan.from, to: plan.to },
    blocks: plan.blocks.map((b) => ({
      dir: b.dir,
      ulid: b.ulid,
      minTime: b.minTime,
      maxTime: b.maxTime,
      sizeBytes: sizeUnder(plan.listing, b.dir),
    })),
    totalBlocks: plan.listing.blocks.length,
    skippedBlocks: plan.skippedBlocks,
    effectiveRange: starts.length ? { from: Math.min(...starts), to: Math.max(...ends) } : undefined,
    estimatedBytes: plan.estimatedBytes,
    adminApi: plan.status.adminApi === true,
    prometheusVersion: plan.status.version,
    notes: plan.useTar ? plan.notes : [...plan.notes, 'no tar in the pod: files are read one by one'],
  };
}

export interface PodTar {
  stream: Readable;
  /** Resolves after the last byte with the tar's exit status (or the fallback's notes). */
  done: Promise<{ exitCode: number; stderr: string; warnings: string[] }>;
  kill(): void;
}

/** The tar of the plan's paths as a byte stream: the pod's tar, or built here from per-file reads. */
export function podTar(plan: DumpPlan, signal?: AbortSignal, skipDirs?: Set<string>): PodTar {
  const { pod } = plan;
  if (plan.useTar) {
    const h = execStream(pod.conn, {
      namespace: pod.namespace,
      pod: pod.name,
      container: pod.container,
      command: ['tar', 'cf', '-', '-C', plan.root, ...plan.paths],
      signal,
      highWaterMark: 4 * 1024 * 1024,
    });
    const done = h.done.then((s: ExecStatus) => {
      if (s.missingExecutable) throw new ToolError('pod-missing-tool', `tar is not available in ${pod.namespace}/${pod.name}`);
      // 1: some files changed or vanished while read (checked by the hashes); more: tar failed or was killed
      if (s.exitCode > 1) {
        throw new ToolError(
          'kube-exec-failed',
          `tar in ${pod.namespace}/${pod.name} failed with exit code ${s.exitCode}${s.exitCode >= 128 ? ' (killed: the container ' +
            'stopped or the pod was deleted)' : ''}${s.stderr ? `: ${s.stderr.trim().slice(0, 300)}` : ''}`,
        );
      }
      return {
        exitCode: s.exitCode,
        stderr: s.stderr,
        warnings: s.exitCode ? [`tar in the pod exited with ${s.exitCode}: ${s.stderr.trim().slice(0, 500)}`] : [],
      };
    });
    done.catch(() => undefined);
    return { stream: h.stdout, done, kill: () => h.kill() };
  }
  return fallbackTar(plan, signal, skipDirs);
}

/** Without tar in the pod: read each file with `head -c <size>` (or `cat`) and pack the tar here. */
function fallbackTar(plan: DumpPlan, signal?: AbortSignal, skipDirs?: Set<string>): PodTar {
  const { pod } = plan;
  const pack = tarStream.pack();
  const warnings: string[] = [];
  let current: ReturnType<typeof execStream> | undefined;
  const out = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
  const packing = pipeline(pack as unknown as Readable, out);
  // directories a resumed dump already holds are not packed again
  const dirs = new Set<string>(skipDirs);
  const rank = (f: string) => plan.paths.findIndex((p) => f === p || f.startsWith(`${p}/`));
  const entries = [...plan.files.entries()].sort((a, b) => rank(a[0]) - rank(b[0]) || a[0].localeCompare(b[0]));
  const addEntry = (header: Partial<tarStream.Header> & { name: string }): Promise<void> =>
    new Promise((res, rej) => {
      pack.entry(header, (err) => (err ? rej(err) : res()));
    });
  const produce = async () => {
    const mtime = new Date();
    for (const [rel, size] of entries) {
      signal?.throwIfAborted();
      const parts = rel.split('/');
      for (let i = 1; i < parts.length; i++) {
        const d = parts.slice(0, i).join('/');
        if (!dirs.has(d)) {
          dirs.add(d);
          await addEntry({ name: `${d}/`, type: 'directory', mode: 0o755, mtime });
        }
      }
      const abs = `${plan.root}/${rel}`;
      const useHead = plan.listing.tools.has('head');
      current = execStream(pod.conn, {
        namespace: pod.namespace,
        pod: pod.name,
        container: pod.container,
        command: useHead ? ['head', '-c', String(size), abs] : ['cat', abs],
        signal,
      });
      // The header is written only once the file is known to exist: a file that vanished since the
      // listing (compaction, WAL truncation) is left out instead of packed as zeros.
      const it = (current.stdout as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
      const first = await it.next();
      if (first.done) {
        const s = await current.done;
        if (s.exitCode !== 0 && size > 0) {
          warnings.push(`${rel} vanished during the dump (${s.stderr.trim().slice(0, 200)})`);
          continue;
        }
      }
      const sink = pack.entry({ name: rel, type: 'file', size, mode: 0o644, mtime });
      const written = new Promise<void>((res, rej) => {
        sink.on('finish', res);
        sink.on('error', rej);
      });
      let n = 0;
      let stopped = false;
      const put = async (chunk: Buffer) => {
        const take = Math.min(chunk.length, size - n);
        if (take > 0 && !sink.write(take === chunk.length ? chunk : chunk.subarray(0, take)))
          await once(sink as unknown as Writable, 'drain');
        n += take;
      };
      if (!first.done) await put(first.value);
      for (let r = first.done ? first : await it.next(); !r.done; r = await it.next()) {
        await put(r.value);
        if (n >= size && !useHead) {
          stopped = true;
          current.kill();
          break;
        }
      }
      if (!stopped) {
        const s = await current.done;
        if (s.exitCode !== 0) warnings.push(`reading ${rel} in the pod: exit ${s.exitCode} ${s.stderr.trim().slice(0, 200)}`);
      }
      if (n < size) {
        // The file shrank since the listing: pad so the archive stays well-formed; the hash check
        // reports it as changed during the dump.
        const zeros = Buffer.alloc(Math.min(size - n, 1024 * 1024));
        while (n < size) {
          const take = Math.min(zeros.length, size - n);
          if (!sink.write(zeros.subarray(0, take))) await once(sink as unknown as Writable, 'drain');
          n += take;
        }
        warnings.push(`${rel} shrank during the dump`);
      }
      sink.end(null);
      await written;
    }
    pack.finalize();
    await packing;
  };
  const done = produce().then(
    () => ({ exitCode: 0, stderr: '', warnings }),
    (e) => {
      pack.destroy();
      out.destroy(toToolError(e));
      throw e;
    },
  );
  done.catch(() => undefined);
  return { stream: out, done, kill: () => current?.kill() };
}

/** SHA-256 of files in the pod (absolute paths as argv, in groups). Missing files are just absent. */
export async function podSha256(pod: ResolvedPod, root: string, files: string[], signal?: AbortSignal): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const GROUP = 400;
  for (let i = 0; i < files.length; i += GROUP) {
    const group = files.slice(i, i + GROUP);
    const r = await execCollect(pod.conn, {
      namespace: pod.namespace,
      pod: pod.name,
      container: pod.container,
      command: ['sha256sum', ...group.map((f) => `${root}/${f}`)],
      signal,
      timeoutMs: 30 * 60_000,
      idleTimeoutMs: 30 * 60_000,
    });
    if (r.missingExecutable) throw new ToolError('pod-missing-tool', `sha256sum is not available in ${pod.namespace}/${pod.name}`);
    for (const line of r.stdout.toString('utf8').split('\n')) {
      const m = /^([0-9a-f]{64})\s+\*?(.+)$/.exec(line);
      if (m && m[2].startsWith(`${root}/`)) out.set(m[2].slice(root.length + 1), m[1]);
    }
  }
  return out;
}

async function writeTo(w: Writable, chunk: Buffer): Promise<void> {
  if (!w.write(chunk)) {
    await once(w, 'drain');
  }
}

/** What a run kept of an interrupted one (DumpResult.resumed). */
export interface ResumeStart {
  kept: ResumeEntry[];
  inFlight?: { entry: ResumeEntry; done: number; hash: Hash };
  archiveBytes: number;
  tarBytes: number;
  archiveHash: Hash;
  /** Pod SHA-256 of the kept files, taken when this run started (equal to what the partial holds). */
  keptPodHashes: Map<string, string>;
  info: DumpResumeInfo;
}

function resumeKey(plan: DumpPlan): ResumeKey {
  const { pod } = plan;
  return {
    pod: { context: pod.conn.context, namespace: pod.namespace, name: pod.name, container: pod.container },
    dataDir: plan.dataDir,
    snapshot: plan.snapshot !== undefined,
  };
}

/** Whether a dump entry is still part of the plan (files by name, directories under a planned path). */
function inPlan(plan: DumpPlan, e: { path: string; type: string }): boolean {
  if (e.type === 'file') return plan.files.has(e.path);
  return e.type === 'directory' && plan.paths.some((p) => e.path === p || e.path.startsWith(`${p}/`));
}

/**
 * What `<out>.partial` and its progress record (kube/dumpResume.ts) let this run keep, verified
 * locally and against the pod; the partial is cut down to it. Undefined: start over (`notes` says why).
 */
export async function prepareResume(
  plan: DumpPlan,
  out: string,
  notes: string[],
  signal?: AbortSignal,
  onPhase?: (what: string) => void,
): Promise<ResumeStart | undefined> {
  const partial = `${out}.partial`;
  const rec = await readResumeRecord(out);
  const hasPartial = existsSync(partial);
  if (!rec) {
    if (hasPartial) notes.push(`${path.basename(partial)} has no progress record: starting over`);
    return undefined;
  }
  if (!hasPartial) return undefined;
  if (!sameKey(rec, resumeKey(plan))) {
    notes.push(`${path.basename(partial)} is a dump of ${rec.pod.context}/${rec.pod.namespace}/${rec.pod.name}:${rec.dataDir}` +
      `${rec.snapshot ? ' (snapshot)' : ''}, not of this one: starting over`);
    return undefined;
  }
  onPhase?.(`checking the ${humanBytes(rec.tarBytes)} already received`);
  const v = await verifyPartial(partial, rec, signal);
  const dropped: string[] = [];
  if (v.problem) dropped.push(`${v.problem}; nothing after it is kept`);
  const candidates = v.entries.filter((e) => {
    if (inPlan(plan, e)) return true;
    if (e.type === 'file') dropped.push(`${e.path}: no longer part of the dump`);
    return false;
  });
  const files = candidates.filter((e) => e.type === 'file');
  onPhase?.(`hashing the ${files.length} kept files in the pod`);
  const podHashes = files.length ? await podSha256(plan.pod, plan.root, files.map((e) => e.path), signal) : new Map<string, string>();
  const keep = candidates.filter((e) => {
    if (e.type !== 'file' || podHashes.get(e.path) === e.sha256) return true;
    dropped.push(`${e.path}: ${podHashes.has(e.path) ? 'changed in the pod since it was received' : 'gone from the pod'}, read again`);
    return false;
  });
  let inFlight = v.inFlight;
  if (inFlight) {
    const e = inFlight.entry;
    const size = plan.files.get(e.path);
    const why =
      size === undefined
        ? 'no longer part of the dump'
        : size !== e.size
          ? `its size changed in the pod (${e.size} → ${size} bytes), read again whole`
          : inFlight.done < e.size && !(plan.listing.tools.has('tail') && plan.listing.tools.has('head'))
            ? 'no `tail` in the pod to continue it, read again whole'
            : undefined;
    if (why) {
      dropped.push(`${e.path} (in flight): ${why}`);
      inFlight = undefined;
    }
  }
  if (!keep.some((e) => e.type === 'file') && !inFlight) {
    notes.push(`nothing of ${path.basename(partial)} could be kept${dropped.length ? ` (${dropped[0]})` : ''}: starting over`);
    return undefined;
  }
  const firstCut = v.entries.findIndex((e) => !keep.includes(e));
  const cut = firstCut >= 0 || (v.inFlight !== undefined && !inFlight) || v.problem !== undefined;
  if (cut) {
    // Shorten the record before moving bytes: a crash while moving then loses only what follows the cut.
    const prefix = firstCut >= 0 ? v.entries.slice(0, firstCut) : v.entries;
    const last = prefix[prefix.length - 1];
    await writeResumeRecord(out, {
      ...rec,
      updatedAt: new Date().toISOString(),
      archiveBytes: last?.archiveEnd ?? 0,
      tarBytes: last?.end ?? 0,
      entries: prefix,
      inFlight: undefined,
    });
  }
  const c = await compactPartial(partial, keep, inFlight ? { ...inFlight.entry, tarEnd: rec.tarBytes } : undefined, signal);
  const done = inFlight?.done ?? 0;
  await writeResumeRecord(out, {
    ...rec,
    updatedAt: new Date().toISOString(),
    archiveBytes: c.archiveBytes,
    tarBytes: c.tarBytes,
    entries: c.entries,
    inFlight: c.inFlight ? { ...c.inFlight, done } : undefined,
  });
  const keptFiles = c.entries.filter((e) => e.type === 'file');
  const info: DumpResumeInfo = {
    files: keptFiles.length,
    bytes: keptFiles.reduce((n, e) => n + e.size, 0) + done,
    keptFiles: keptFiles.map((e) => e.path),
    inFlight: c.inFlight ? { path: c.inFlight.path, fromByte: done, size: c.inFlight.size } : undefined,
    dropped,
  };
  return {
    kept: c.entries,
    inFlight: c.inFlight && inFlight ? { entry: c.inFlight, done, hash: inFlight.hash } : undefined,
    archiveBytes: c.archiveBytes,
    tarBytes: c.tarBytes,
    archiveHash: await hashPrefix(partial, c.archiveBytes, signal),
    keptPodHashes: new Map(keptFiles.map((e) => [e.path, podHashes.get(e.path)!])),
    info,
  };
}

/**
 * The tar paths still to read after what a resumed run keeps: a planned path with nothing kept
 * under it is read whole (as a fresh dump reads it); of one partly kept, each file not kept.
 */
export function remainingPaths(
  plan: Pick<DumpPlan, 'paths' | 'files'>,
  kept: Set<string>,
): { paths: string[]; files: Map<string, number> } {
  const paths: string[] = [];
  const files = new Map<string, number>();
  for (const p of plan.paths) {
    const under = [...plan.files].filter(([f]) => f === p || f.startsWith(`${p}/`));
    if (!under.some(([f]) => kept.has(f))) {
      paths.push(p);
      for (const [f, s] of under) files.set(f, s);
      continue;
    }
    for (const [f, s] of under) {
      if (kept.has(f)) continue;
      paths.push(f);
      files.set(f, s);
    }
  }
  return { paths, files };
}

/** Bytes [from, from + count) of a file in the pod (`tail -c +N | head -c`), for the file a resumed dump continues. */
function podFileRange(plan: DumpPlan, rel: string, from: number, count: number, signal?: AbortSignal): PodTar {
  const { pod } = plan;
  const h = execStream(pod.conn, {
    namespace: pod.namespace,
    pod: pod.name,
    container: pod.container,
    command: ['sh', '-c', 'tail -c +"$2" -- "$1" | head -c "$3"', 'sh', `${plan.root}/${rel}`, String(from + 1), String(count)],
    signal,
    highWaterMark: 4 * 1024 * 1024,
  });
  const done = h.done.then((s) => ({ exitCode: s.exitCode, stderr: s.stderr, warnings: [] as string[] }));
  done.catch(() => undefined);
  return { stream: h.stdout, done, kill: () => h.kill() };
}

/** Writes the archive at its offsets; `written` counts the bytes that reached the file. */
class ArchiveFile extends Writable {
  written: number;
  private busy: Promise<void> = Promise.resolve();
  constructor(
    readonly fh: fsp.FileHandle,
    start: number,
  ) {
    super({ highWaterMark: 1024 * 1024 });
    this.written = start;
  }
  override _write(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.busy = writeAll(this.fh, chunk, this.written).then(() => {
      this.written += chunk.length;
    });
    this.busy.then(() => cb(), cb);
  }
  /** Resolves when no write is under way. */
  idle(): Promise<void> {
    return this.busy.catch(() => undefined);
  }
}

/** Failures after which the partial is not worth resuming: its bytes or the disk are the problem. */
const NOT_RESUMABLE = new Set(['checksum-mismatch', 'dump-truncated', 'io-error', 'usage']);
/** The progress record is written at most this often (each time after an fsync of the partial). */
const CHECKPOINT_MS = 1000;

/**
 * Runs the planned dump into `output` (`<output>.partial` until verified). An interrupted run's
 * partial is continued (kube/dumpResume.ts) unless `resume: false`; a failed or cancelled run
 * keeps its partial and progress record for the next one unless `keepPartial: false`.
 */
export async function executeDump(plan: DumpPlan, output: string, o: DumpOptions = {}): Promise<DumpOutcome> {
  const started = Date.now();
  const out = path.resolve(output);
  const partial = `${out}.partial`;
  const manifestPath = `${out}.manifest.json`;
  const manifestPartial = `${manifestPath}.partial`;
  const ac = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, ac.signal]) : ac.signal;
  const keepPartial = o.keepPartial !== false;
  let transferred = 0;
  let current: string | undefined;
  let tarBase = 0;
  let message: string | undefined;
  const progress = (phase: DumpProgress['phase']) =>
    o.onProgress?.({ phase, bytes: tarBase + transferred, totalBytes: plan.estimatedBytes, entry: current, message });
  // What an interrupted run left in this pod goes first (kube/leftovers.ts); never fatal.
  const cleanedUp = await removeStaleLeftovers(plan.pod, plan.dataDir, signal).catch(() => [] as string[]);
  const stopHeartbeat = plan.snapshot
    ? await keepAlive(plan.pod, snapshotMarker(plan.dataDir, plan.snapshot), signal).catch(() => () => undefined)
    : () => undefined;
  const resumeNotes: string[] = [];
  let src: PodTar | undefined;
  let fh: fsp.FileHandle | undefined;
  let sink: ArchiveFile | undefined;
  let timer: NodeJS.Timeout | undefined;
  let checkpoint: () => Promise<void> = async () => undefined;
  let checkpointTimer: NodeJS.Timeout | undefined;
  let gzOut: ParallelGzip | undefined;
  let writingOut: Promise<void> | undefined;
  try {
    await fsp.mkdir(path.dirname(out), { recursive: true });
    let start: ResumeStart | undefined;
    if (o.resume !== false) {
      start = await prepareResume(plan, out, resumeNotes, signal, (m) => {
        message = m;
        progress('resuming');
      });
      message = undefined;
    }
    if (!start) {
      await removeResumeState(out);
      await fsp.rm(partial, { force: true });
    }
    tarBase = start?.tarBytes ?? 0;
    const archiveBase = start?.archiveBytes ?? 0;
    fh = await fsp.open(partial, start ? 'r+' : 'w');
    if (start) await fh.truncate(archiveBase);
    sink = new ArchiveFile(fh, archiveBase);
    const file = sink;

    // Where each header's member begins in the archive (every header starts a member), and the
    // member boundaries not yet known to be durable.
    const headerArchive = new Map<number, number>([[tarBase, archiveBase]]);
    for (const e of start?.kept ?? []) {
      headerArchive.set(e.headerStart, e.archiveStart);
      headerArchive.set(e.end, e.archiveEnd);
    }
    if (start?.inFlight) headerArchive.set(start.inFlight.entry.headerStart, start.inFlight.entry.archiveStart);
    const headerStarts = new Set<number>();
    const boundaries: { tar: number; archive: number }[] = [];
    // Default: level 1 where it pays, stored where the data is already compressed (chunk segments).
    const gz = new ParallelGzip({
      level: o.gzipLevel ?? 1,
      adaptive: o.gzipLevel === undefined,
      onMember: (inEnd, outEnd) => {
        const b = { tar: tarBase + inEnd, archive: archiveBase + outEnd };
        boundaries.push(b);
        if (headerStarts.delete(b.tar)) headerArchive.set(b.tar, b.archive);
      },
    });
    const tracker = new TarTracker(
      (off) => {
        headerStarts.add(off);
        gz.cutAt(off - tarBase);
      },
      tarBase,
      start?.inFlight,
    );
    const kept = start?.kept ?? [];
    const key = resumeKey(plan);
    /** The progress record for member boundary b (its bytes are durable). */
    const recordAt = (b: { tar: number; archive: number }): ResumeRecord => {
      const complete: ResumeEntry[] = [...kept];
      let inFlight: ResumeRecord['inFlight'];
      for (const e of tracker.entries) {
        const as = headerArchive.get(e.headerStart);
        if (as === undefined) break;
        if (e.end <= b.tar && (e.type !== 'file' || e.sha256 !== undefined)) {
          const ae = headerArchive.get(e.end);
          if (ae === undefined) break;
          complete.push({ ...e, archiveStart: as, archiveEnd: ae });
          continue;
        }
        if (e.type === 'file' && e.dataStart <= b.tar && b.tar < e.end)
          inFlight = { ...e, archiveStart: as, archiveEnd: b.archive, done: Math.min(e.size, b.tar - e.dataStart) };
        break;
      }
      const last = complete[complete.length - 1];
      return {
        tool: 'tsdbdump',
        kind: 'dump-progress',
        formatVersion: 1,
        updatedAt: new Date().toISOString(),
        ...key,
        archiveBytes: inFlight ? b.archive : (last?.archiveEnd ?? 0),
        tarBytes: inFlight ? b.tar : (last?.end ?? 0),
        entries: complete,
        inFlight,
      };
    };
    let lastDurable = archiveBase;
    let checking: Promise<void> | undefined;
    checkpoint = () => {
      checking ??= (async () => {
        let b: { tar: number; archive: number } | undefined;
        while (boundaries.length && boundaries[0].archive <= file.written) b = boundaries.shift();
        if (!b || b.archive <= lastDurable) return;
        await file.fh.datasync();
        await writeResumeRecord(out, recordAt(b));
        lastDurable = b.archive;
      })().finally(() => (checking = undefined));
      return checking;
    };
    if (keepPartial) {
      checkpointTimer = setInterval(() => void checkpoint().catch(() => undefined), CHECKPOINT_MS);
      checkpointTimer.unref();
    }
    timer = o.onProgress ? setInterval(() => progress('streaming'), 250) : undefined;

    const archiveHash = start?.archiveHash ?? createHash('sha256');
    let archiveBytes = archiveBase;
    const hashTap = new Transform({
      transform(chunk: Buffer, _e, cb) {
        archiveHash.update(chunk);
        archiveBytes += chunk.length;
        cb(null, chunk);
      },
    });
    // Not tied to the signal: on a failure or cancel, what was received is still compressed and
    // written (the catch below ends the gzip), so the progress record holds all of it.
    const writing = pipeline(gz, hashTap, file);
    writing.catch(() => undefined);
    gzOut = gz;
    writingOut = writing;
    const streamStart = Date.now();
    let lastEntry: string | undefined;
    const put = async (chunk: Buffer) => {
      transferred += chunk.length;
      tracker.feed(chunk);
      await writeTo(gz, chunk);
      const e = tracker.entries[tracker.entries.length - 1]?.path;
      if (e !== lastEntry) {
        current = lastEntry = e;
        progress('streaming');
      }
      if (o.maxBytesPerSecond) {
        const ahead = transferred / o.maxBytesPerSecond - (Date.now() - streamStart) / 1000;
        if (ahead > 0.005) await new Promise((r) => setTimeout(r, ahead * 1000));
      }
    };
    const warnings: string[] = [];

    // The file in flight first: the rest of its data, then its padding.
    const cont = start?.inFlight;
    if (cont) {
      const { entry, done } = cont;
      let got = 0;
      if (done < entry.size) {
        src = podFileRange(plan, entry.path, done, entry.size - done, signal);
        for await (const chunk of src.stream as AsyncIterable<Buffer>) {
          const take = Math.min(chunk.length, entry.size - done - got);
          if (take > 0) await put(take === chunk.length ? chunk : chunk.subarray(0, take));
          got += take;
        }
        await src.done;
        if (got < entry.size - done) warnings.push(`${entry.path} shrank during the dump`);
      }
      const zeros = entry.end - Math.max(tarBase, entry.dataStart + entry.size) + (entry.size - done - got);
      for (let left = zeros; left > 0; ) {
        const n = Math.min(left, 1024 * 1024);
        await put(Buffer.alloc(n));
        left -= n;
      }
    }

    const keptNames = new Set([...kept.filter((e) => e.type === 'file').map((e) => e.path), ...(cont ? [cont.entry.path] : [])]);
    const rest = remainingPaths(plan, keptNames);
    const fileList = [...plan.files.keys()];
    const toHash = [...rest.files.keys(), ...(cont ? [cont.entry.path] : [])];
    const keptDirs = new Set(kept.filter((e) => e.type === 'directory').map((e) => e.path));
    // The tar exec starts before the hashing one (the fault tests cut "the next exec" that sends much).
    src = rest.paths.length ? podTar({ ...plan, paths: rest.paths, files: rest.files }, signal, keptDirs) : undefined;
    const concurrent = o.podHashConcurrently ?? true;
    const podHashing = concurrent && toHash.length ? podSha256(plan.pod, plan.root, toHash, signal) : undefined;
    podHashing?.catch(() => undefined);
    let tarStatus: Awaited<PodTar['done']> = { exitCode: 0, stderr: '', warnings: [] };
    if (src) {
      // What the exec already buffered still arrives after a cancel: check between chunks.
      for await (const chunk of src.stream as AsyncIterable<Buffer>) {
        signal.throwIfAborted();
        await put(chunk);
      }
      tarStatus = await src.done;
    } else {
      await put(END_OF_ARCHIVE);
    }
    if (tracker.eoa === undefined)
      throw new ToolError('kube-exec-failed', `the pod's tar stream ended before the end of the archive (${tracker.offset} bytes)`);
    gz.end();
    await writing;
    clearInterval(checkpointTimer);
    await fh.sync();
    // Everything arrived: should the verification be interrupted, the next run only verifies.
    if (keepPartial) await checkpoint();
    signal.throwIfAborted();
    progress('verifying');
    warnings.push(...tarStatus.warnings);

    // Verify: pod hashes (taken while streaming) against the received bytes.
    let podHashes = new Map([
      ...(start?.keptPodHashes ?? []),
      ...(podHashing ? await podHashing : toHash.length ? await podSha256(plan.pod, plan.root, toHash, signal) : []),
    ]);
    const received = new Map<string, { path: string; size: number; sha256?: string }>();
    for (const e of [...kept, ...tracker.entries]) if (e.type === 'file' && e.sha256) received.set(e.path, e);
    const suspicious = [...received.values()]
      .filter((e) => !MUTABLE_RE.test(e.path) && podHashes.has(e.path) && podHashes.get(e.path) !== e.sha256)
      .map((e) => e.path);
    if (suspicious.length) {
      // An immutable file that differs: hash it again; a stable pod hash that still differs from
      // what arrived means the bytes were damaged on the way.
      const again = await podSha256(plan.pod, plan.root, suspicious, signal);
      const broken = suspicious.filter((f) => again.get(f) !== undefined && again.get(f) === podHashes.get(f));
      if (broken.length) {
        throw new ToolError(
          'checksum-mismatch',
          `checksums differ between the pod and the received bytes ` +
            `for ${broken.length} file(s): ${broken.slice(0, 5).join(', ')}${broken.length > 5 ? ', …' : ''}`,
        );
      }
      podHashes = new Map([...podHashes, ...again]);
    }
    const changed = new Set<string>();
    const files: ManifestFile[] = [];
    for (const e of received.values()) {
      const podSha = podHashes.get(e.path);
      const verified = podSha === e.sha256;
      if (!verified) changed.add(e.path);
      files.push({ path: e.path, size: e.size, sha256: e.sha256!, podSha256: podSha, verified });
    }
    // Listed files that never arrived: vanished (compaction, WAL truncation) or a broken stream.
    for (const f of fileList) {
      if (received.has(f)) continue;
      if (podHashes.has(f) && !MUTABLE_RE.test(f)) {
        throw new ToolError(
          'dump-truncated',
          `the pod's tar stream did not contain ${f}, which still exists in ` +
            `the pod${tarStatus.stderr ? ` (tar: ${tarStatus.stderr.trim().slice(0, 300)})` : ''}`,
        );
      }
      changed.add(f);
    }
    const changedDuringDump = [...changed].sort();
    const brokenBlocks = plan.blocks.map((b) => b.dir).filter((d) => changedDuringDump.some((c) => c.startsWith(`${d}/`)));
    if (brokenBlocks.length) {
      warnings.push(
        `block(s) ${brokenBlocks.join(', ')} were compacted or deleted by Prometheus while the dump ran, ` +
          `so they are incomplete in the dump (their data moved to a newer block): dump again, or use snapshot mode for a consistent copy`,
      );
    }
    const archiveSha = archiveHash.digest('hex');
    const manifest: DumpManifest = {
      tool: 'tsdbdump',
      formatVersion: 1,
      createdAt: new Date().toISOString(),
      pod: { context: plan.pod.conn.context, namespace: plan.pod.namespace, name: plan.pod.name, container: plan.pod.container },
      dataDir: plan.dataDir,
      snapshot: plan.snapshot,
      prometheusVersion: plan.status.version,
      requestedRange: { from: plan.from, to: plan.to },
      blockGranular: true,
      effectiveRange: plan.effectiveRange,
      blocks: plan.blocks.map((b) => ({ dir: b.dir, ulid: b.ulid, minTime: b.minTime, maxTime: b.maxTime })),
      archive: { file: path.basename(out), bytes: archiveBytes, sha256: archiveSha, tarBytes: tracker.offset },
      files: files.sort((a, b) => a.path.localeCompare(b.path)),
      changedDuringDump,
      warnings,
    };
    await fh.close();
    fh = undefined;
    await fsp.writeFile(manifestPartial, JSON.stringify(manifest, null, 2) + '\n');
    await fsp.rename(partial, out);
    await fsp.rename(manifestPartial, manifestPath);
    await removeResumeState(out);
    progress('done');
    return {
      output: out,
      manifest: manifestPath,
      files: files.length,
      bytes: archiveBytes,
      transferredBytes: transferred,
      resumed: start?.info,
      notes: resumeNotes,
      blocks: plan.blocks.map((b) => b.dir),
      changedDuringDump,
      warnings,
      cleanedUp,
      durationMs: Date.now() - started,
      manifestData: manifest,
      plan,
    };
  } catch (e) {
    ac.abort();
    src?.kill();
    clearInterval(checkpointTimer);
    const err = toToolError(e, 'kube-exec-failed');
    const cancelled = o.signal?.aborted === true;
    let kept: ResumeRecord | undefined;
    if (keepPartial && !NOT_RESUMABLE.has(err.code) && sink) {
      // The last durable point goes into the record: the next run continues from there.
      if (gzOut && !gzOut.destroyed && !gzOut.writableEnded) {
        gzOut.end();
        await Promise.race([writingOut, new Promise((r) => setTimeout(r, 30_000).unref())]).catch(() => undefined);
      }
      await sink.idle();
      // twice: the first may be the timer's, started before the last bytes reached the file
      await checkpoint().catch(() => undefined);
      await checkpoint().catch(() => undefined);
      const rec = await readResumeRecord(out);
      if (rec && (rec.entries.some((x) => x.type === 'file') || rec.inFlight)) kept = rec;
    }
    if (gzOut && !gzOut.destroyed) gzOut.destroy();
    await writingOut?.catch(() => undefined);
    await sink?.idle();
    await fh?.close().catch(() => undefined);
    if (!kept) {
      await fsp.rm(partial, { force: true });
      await removeResumeState(out);
    }
    await fsp.rm(manifestPartial, { force: true });
    const keptText = kept
      ? `${humanBytes(kept.tarBytes)} received are kept in ${path.basename(partial)}: ` +
        'run the same dump again to resume it (--no-resume starts over)'
      : `no file was written under ${path.basename(out)}`;
    const details = kept ? { resumable: true, partial, keptBytes: kept.tarBytes } : undefined;
    if (cancelled) throw new ToolError('cancelled', `dump cancelled; ${keptText}`, details);
    throw new ToolError(err.code, `dump of ${plan.pod.namespace}/${plan.pod.name} failed: ${err.message}; ${keptText}`, {
      ...err.details,
      ...details,
    });
  } finally {
    if (timer) clearInterval(timer);
    clearInterval(checkpointTimer);
    stopHeartbeat();
    if (plan.snapshot) await removeMarked(plan.pod, plan.root, snapshotMarker(plan.dataDir, plan.snapshot)).catch(() => undefined);
  }
}

/** Plans and runs a dump. */
export async function dumpFromPod(req: DumpRequest, o: DumpOptions = {}): Promise<DumpOutcome> {
  if (!req.output) throw new ToolError('usage', 'a dump needs an output file');
  o.onProgress?.({ phase: 'planning', bytes: 0 });
  const plan = await planDump({ ...req, signal: o.signal });
  return executeDump(plan, req.output, { resume: req.resume, ...o });
}

/** The dry run of a dump: plans it (no snapshot is taken) and returns the preview; nothing is streamed. */
export async function previewDump(req: DumpRequest, signal?: AbortSignal): Promise<DumpPreview> {
  const plan = await planDump({ ...req, snapshot: false, signal });
  const preview = dumpPreview(plan, await headRange(plan.pod, signal));
  if (req.output && req.resume !== false) {
    const resumable = await resumableDump({ ...plan, snapshot: req.snapshot ? 'snapshot' : undefined }, req.output);
    if (resumable) preview.resumable = resumable;
  }
  return preview;
}

/**
 * An interrupted dump of this pod into `output` that executeDump would continue: read from the
 * progress record only (what is kept is checked again, locally and in the pod, when the run starts).
 */
export async function resumableDump(plan: DumpPlan, output: string): Promise<DumpResumable | undefined> {
  const out = path.resolve(output);
  const rec = await readResumeRecord(out);
  if (!rec || !existsSync(`${out}.partial`) || !sameKey(rec, resumeKey(plan))) return undefined;
  const files = rec.entries.filter((e) => e.type === 'file').length;
  if (!files && !rec.inFlight) return undefined;
  return { partial: `${out}.partial`, bytes: rec.tarBytes, files, updatedAt: rec.updatedAt };
}
