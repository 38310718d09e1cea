/**
 * The analysis engine: reads a dump entry by entry (in archive order, bounded memory), hands each
 * file to the parser for its kind, and combines the facts into an AnalysisResult with diagnostics
 * whose severity follows what Prometheus 2.42 does (tsdb-format.md §7, §9, EXPECTED.md): error
 * where it refuses to start or loses / does not serve data, warning where it starts but something
 * is off, information for things it cleans up by itself.
 */
import { ToolError } from '../errors';
import type {
  AnalysisResult,
  BlockInfo,
  HeadChunkFileInfo,
  Severity,
  TimeRange,
  TsdbDiagnostic,
  VerifyDepth,
  WalCheckpointInfo,
  WalSegmentInfo,
} from '../protocol';
import { openSource, type DumpEntry, type OpenedSource, type SourceProblem, type SourceProgress } from '../dump/source';
import { collectByteSource, type DisposableByteSource } from '../dump/byteSource';
import { classifyPath, type PathKind } from '../tsdb/blockDir';
import { parseMetaJson, type BlockMeta } from '../tsdb/metaJson';
import type { IndexSummary } from '../tsdb/index';
import { IndexPool } from './indexPool';
import type { IndexCheckSegment } from './indexCheck';
import { createChunkSegmentScanner, type ChunkSegmentSummary } from '../tsdb/chunks';
import { createHeadChunkScanner, type HeadChunkFileSummary } from '../tsdb/headChunks';
import { createWalSegmentScanner, WAL_PAGE_SIZE, type WalSegmentSummary } from '../tsdb/wal';
import { parseTombstones, type TombstonesParse } from '../tsdb/tombstones';
import type { PushScanner } from '../tsdb/types';
import { msRangeUtc, msUtc, pad, rangeOf, utc } from './goFormat';

export interface AnalyzeOptions {
  verify?: VerifyDepth;
  signal?: AbortSignal;
  onProgress?: (p: SourceProgress) => void;
}

export interface AnalyzeEntriesOptions {
  verify?: VerifyDepth;
  signal?: AbortSignal;
  /** Shown as `source` in the result. */
  source: string;
  /** Problems the entry producer found (unsafe entries, truncation); read after the entries are consumed. */
  sourceProblems?: () => SourceProblem[];
  /** Directory for index spill files. */
  tmpDir?: string;
}

/** At most this many diagnostics of one code per file; the rest are summed up in the last one. */
const MAX_PER_FILE = 5;
const META_LIMIT = 1024 * 1024;
const TOMBSTONES_LIMIT = 64 * 1024 * 1024;
/** Scrape interval assumed when it cannot be estimated from the blocks. */
const DEFAULT_INTERVAL_MS = 60_000;

/** Opens a .tar.gz / .tgz / .tar / data directory and analyses it. Throws ToolError for unreadable or non-dump sources. */
export async function analyzeSource(source: string, opts: AnalyzeOptions = {}): Promise<AnalysisResult> {
  const started = Date.now();
  const opened = await openSource(source, { signal: opts.signal, onProgress: opts.onProgress });
  const result = await analyzeOpened(opened, { verify: opts.verify, signal: opts.signal, source });
  result.durationMs = Date.now() - started;
  return result;
}

/**
 * Analyses a source already opened (openSource, or openTarStream for a tar coming from a pod:
 * `analyzeOpened(openTarStream(stdout, { label: 'pod:ns/name' }), { source: 'pod:ns/name' })`).
 */
export function analyzeOpened(opened: OpenedSource, opts: { verify?: VerifyDepth; signal?: AbortSignal; source?: string }): Promise<AnalysisResult> {
  return analyzeEntries(opened.entries, {
    verify: opts.verify,
    signal: opts.signal,
    source: opts.source ?? opened.source,
    sourceProblems: () => opened.problems,
  });
}

// ---- State while reading -------------------------------------------------------------------------

interface ChunkSegmentState {
  name: string;
  number: number;
  size: number;
  summary?: ChunkSegmentSummary;
  error?: string;
}

interface BlockState {
  dir: string;
  meta?: BlockMeta;
  metaError?: string;
  metaSeen: boolean;
  chunkSegments: ChunkSegmentState[];
  chunksDirSeen: boolean;
  index?: DisposableByteSource;
  indexSeen: boolean;
  indexSize: number;
  indexSummary?: IndexSummary;
  indexError?: string;
  /** Index cross-checks done at close. */
  refsOutOfRange: { series: string; ref: bigint; minTime: number; maxTime: number; reason: string }[];
  refsOutOfRangeCount: number;
  /** CRC-damaged chunks, by `<segment position>:<offset>` → who owns them (filled when the index is read). */
  badChunks: Map<string, { segment: string; offset: number; message: string; owners: { series: string; minTime: number; maxTime: number }[] }>;
  tombstones?: TombstonesParse;
  tombstonesError?: string;
  tombstonesSeen: boolean;
  sizeBytes: number;
  closed: boolean;
  /** The archive was cut while this block was being read. */
  incomplete: boolean;
}

interface SegmentState {
  name: string;
  number: number;
  path: string;
  size: number;
  summary?: WalSegmentSummary;
  error?: string;
}

interface HeadFileState {
  name: string;
  number: number;
  path: string;
  size: number;
  summary?: HeadChunkFileSummary;
  error?: string;
}

class Analysis {
  readonly diagnostics: TsdbDiagnostic[] = [];
  readonly blocks = new Map<string, BlockState>();
  readonly headFiles: HeadFileState[] = [];
  readonly walSegments: SegmentState[] = [];
  readonly wblSegments: SegmentState[] = [];
  readonly checkpoints = new Map<number, SegmentState[]>();
  readonly otherEntries: string[] = [];
  readonly tmpRoots = new Map<string, string>();
  lockSeen = false;
  totalBytes = 0;
  currentBlock: string | undefined;
  lastPath: string | undefined;
  readonly indexPool = new IndexPool();
  readonly pendingChecks: Promise<void>[] = [];

  constructor(
    readonly source: string,
    readonly verify: VerifyDepth,
    readonly tmpDir?: string,
  ) {}

  diag(d: TsdbDiagnostic): void {
    this.diagnostics.push(d);
  }

  block(ulid: string): BlockState {
    let b = this.blocks.get(ulid);
    if (!b) {
      b = {
        dir: ulid,
        metaSeen: false,
        chunkSegments: [],
        chunksDirSeen: false,
        indexSeen: false,
        indexSize: 0,
        refsOutOfRange: [],
        refsOutOfRangeCount: 0,
        badChunks: new Map(),
        tombstonesSeen: false,
        sizeBytes: 0,
        closed: false,
        incomplete: false,
      };
      this.blocks.set(ulid, b);
    }
    if (b.closed) b.closed = false; // a block dir seen again later (unusual archive order)
    return b;
  }

  async entry(e: DumpEntry): Promise<void> {
    const kind = classifyPath(e.path);
    const ulid = 'ulid' in kind ? kind.ulid : undefined;
    if (this.currentBlock && this.currentBlock !== ulid) {
      this.closeBlock(this.currentBlock);
      this.currentBlock = undefined;
      // At most one index waits behind the one being parsed (bounded memory).
      if (this.pendingChecks.length >= 2) await this.pendingChecks[this.pendingChecks.length - 2];
    }
    if (ulid) this.currentBlock = ulid;
    this.lastPath = e.path;
    if (e.type === 'file') this.totalBytes += e.size;
    await this.dispatch(e, kind);
  }

  private async dispatch(e: DumpEntry, kind: PathKind): Promise<void> {
    const isFile = e.type === 'file';
    switch (kind.kind) {
      case 'block-dir':
      case 'block-chunks-dir': {
        const b = this.block(kind.ulid);
        if (kind.kind === 'block-chunks-dir') b.chunksDirSeen = true;
        if (isFile) this.otherEntries.push(e.path);
        return;
      }
      case 'block-meta': {
        const b = this.block(kind.ulid);
        b.sizeBytes += e.size;
        b.metaSeen = true;
        if (e.size > META_LIMIT) {
          b.metaError = `meta.json is ${e.size} bytes, far more than any real one`;
          return;
        }
        const bytes = await readAll(e.stream);
        const parsed = guard(() => parseMetaJson(bytes), (m) => ({ ok: false as const, error: m }));
        if (parsed.ok) {
          b.meta = parsed.meta;
          b.metaError = undefined;
        } else b.metaError = parsed.error;
        return;
      }
      case 'block-index': {
        const b = this.block(kind.ulid);
        b.sizeBytes += e.size;
        b.indexSeen = true;
        b.indexSize = e.size;
        b.index?.dispose();
        b.index = await collectByteSource(e.stream, { tmpDir: this.tmpDir });
        return;
      }
      case 'block-tombstones': {
        const b = this.block(kind.ulid);
        b.sizeBytes += e.size;
        b.tombstonesSeen = true;
        if (e.size > TOMBSTONES_LIMIT) {
          b.tombstonesError = `tombstones file of ${e.size} bytes not checked (larger than ${TOMBSTONES_LIMIT} bytes)`;
          return;
        }
        const bytes = await readAll(e.stream);
        b.tombstones = guard(() => parseTombstones(bytes), (m) => ({ intervals: [], problems: [{ message: m }] }));
        return;
      }
      case 'block-chunk-segment': {
        const b = this.block(kind.ulid);
        b.sizeBytes += e.size;
        const name = e.path.split('/').pop()!;
        const seg: ChunkSegmentState = { name, number: kind.segment, size: e.size };
        b.chunkSegments.push(seg);
        const r = await scan(e.stream, () => createChunkSegmentScanner({ verify: this.verify, segmentIndex: kind.segment - 1 }));
        if ('error' in r) seg.error = r.error;
        else seg.summary = r.summary;
        return;
      }
      case 'block-other': {
        const b = this.block(kind.ulid);
        b.sizeBytes += e.size;
        if (isFile) this.otherEntries.push(e.path);
        return;
      }
      case 'head-chunk-file': {
        if (!isFile) return;
        const f: HeadFileState = { name: e.path.split('/').pop()!, number: kind.number, path: e.path, size: e.size };
        this.headFiles.push(f);
        // Prometheus checks every head chunk's CRC at startup, and the files are small: always verify.
        const r = await scan(e.stream, () => createHeadChunkScanner({ verify: 'full', fileNumber: kind.number }));
        if ('error' in r) f.error = r.error;
        else f.summary = r.summary;
        return;
      }
      case 'wal-segment':
      case 'wbl-segment':
      case 'checkpoint-segment': {
        if (!isFile) return;
        const s: SegmentState = { name: e.path.split('/').pop()!, number: kind.number, path: e.path, size: e.size };
        if (kind.kind === 'wal-segment') this.walSegments.push(s);
        else if (kind.kind === 'wbl-segment') this.wblSegments.push(s);
        else {
          const list = this.checkpoints.get(kind.checkpoint) ?? [];
          list.push(s);
          this.checkpoints.set(kind.checkpoint, list);
        }
        const r = await scan(e.stream, () => createWalSegmentScanner());
        if ('error' in r) s.error = r.error;
        else s.summary = r.summary;
        return;
      }
      case 'checkpoint-dir':
        if (!this.checkpoints.has(kind.checkpoint)) this.checkpoints.set(kind.checkpoint, []);
        return;
      case 'head-chunks-dir':
      case 'wal-dir':
      case 'wbl-dir':
        return;
      case 'lock':
        this.lockSeen = true;
        return;
      case 'tmp':
        if (!this.tmpRoots.has(kind.root)) this.tmpRoots.set(kind.root, kind.tmpKind);
        return;
      case 'queries-active':
      case 'chunk-snapshot':
      case 'other':
        if (isFile) this.otherEntries.push(e.path);
        return;
    }
  }

  /**
   * Parses the block's index now that its chunk files have been seen, and cross-checks refs. Big
   * indexes are parsed in a worker thread while reading goes on; closeAll waits for them.
   */
  closeBlock(ulid: string): void {
    const b = this.blocks.get(ulid);
    if (!b || b.closed) return;
    b.closed = true;
    if (!b.index) return;
    const src = b.index;
    b.index = undefined;
    const segments = [...b.chunkSegments].sort((x, y) => x.number - y.number);
    const checkSegments: IndexCheckSegment[] = segments.map((seg, pos) => {
      const bad: number[] = [];
      for (const p of seg.summary?.problems ?? []) {
        if (p.kind !== 'crc' || p.offset === undefined) continue;
        const start = chunkStartAt(seg.summary!.chunkOffsets, p.offset);
        bad.push(start);
        b.badChunks.set(`${pos}:${start}`, { segment: seg.name, offset: start, message: p.message, owners: [] });
      }
      return { name: seg.name, size: seg.size, offsets: seg.summary?.chunkOffsets, bad };
    });
    const job = this.indexPool.check(src, this.verify, checkSegments).then((r) => {
      b.indexSummary = r.summary;
      if (r.error !== undefined) b.indexError = r.error;
      b.refsOutOfRange = r.refsOutOfRange;
      b.refsOutOfRangeCount = r.refsOutOfRangeCount;
      for (const o of r.badOwners) {
        const entry = b.badChunks.get(`${o.pos}:${o.start}`);
        if (entry) entry.owners = o.owners;
      }
    });
    this.pendingChecks.push(job);
  }

  async closeAll(truncated: boolean): Promise<void> {
    for (const ulid of this.blocks.keys()) {
      if (truncated && ulid === this.currentBlock) this.blocks.get(ulid)!.incomplete = true;
      this.closeBlock(ulid);
    }
    await Promise.all(this.pendingChecks);
  }

  disposeAll(): void {
    for (const b of this.blocks.values()) {
      b.index?.dispose();
      b.index = undefined;
    }
    this.indexPool.close();
  }
}

// ---- Helpers -------------------------------------------------------------------------------------

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of stream) {
    parts.push(c);
    n += c.length;
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
}

/** Runs a parser; a parser that throws (it should not) becomes a problem instead of a crash. */
function guard<T>(fn: () => T, onError: (message: string) => T): T {
  try {
    return fn();
  } catch (e) {
    return onError(e instanceof Error ? e.message : String(e));
  }
}

async function scan<T>(stream: AsyncIterable<Uint8Array>, make: () => PushScanner<T>): Promise<{ summary: T } | { error: string }> {
  let scanner: PushScanner<T> | undefined;
  try {
    scanner = make();
    for await (const c of stream) scanner.push(c);
    return { summary: scanner.end() };
  } catch (e) {
    for await (const _ of stream) void _; // keep the archive moving
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

/** Start of the chunk containing offset (the largest chunk start ≤ offset), or offset itself. */
function chunkStartAt(a: Uint32Array, offset: number): number {
  let lo = 0;
  let hi = a.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= offset) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best >= 0 ? a[best] : offset;
}

function union(ranges: TimeRange[]): TimeRange[] {
  const sorted = ranges.filter((r) => r.to > r.from).sort((a, b) => a.from - b.from);
  const out: TimeRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to) last.to = Math.max(last.to, r.to);
    else out.push({ ...r });
  }
  return out;
}

/** Merges ranges separated by at most `tolerance` ms. */
function unionWithin(ranges: TimeRange[], tolerance: number): TimeRange[] {
  const out: TimeRange[] = [];
  for (const r of union(ranges)) {
    const last = out[out.length - 1];
    if (last && r.from - last.to <= tolerance) last.to = Math.max(last.to, r.to);
    else out.push({ ...r });
  }
  return out;
}

/** Typical time between two samples of a series, from the blocks' stats (a scrape interval). */
function scrapeInterval(blocks: BlockInfo[]): number {
  const intervals = blocks
    .filter((b) => b.metaReadable && b.numSamples > 0 && b.numSeries > 0 && b.maxTime > b.minTime)
    .map((b) => (b.maxTime - b.minTime) / Math.max(1, b.numSamples / b.numSeries - 1));
  return median(intervals) ?? DEFAULT_INTERVAL_MS;
}

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// ---- Entry point over entries ------------------------------------------------------------------

/** Analyses a stream of entries (from openSource, or a tar stream from a pod). */
export async function analyzeEntries(entries: AsyncIterable<DumpEntry>, opts: AnalyzeEntriesOptions): Promise<AnalysisResult> {
  const started = Date.now();
  const verify = opts.verify ?? 'quick';
  const a = new Analysis(opts.source, verify, opts.tmpDir);
  try {
    for await (const e of entries) {
      if (opts.signal?.aborted) throw new ToolError('cancelled', 'cancelled');
      await a.entry(e);
    }
    const problems = opts.sourceProblems?.() ?? [];
    const truncated = problems.some((p) => p.code === 'dump-truncated');
    await a.closeAll(truncated);
    for (const p of problems) {
      a.diag({
        code: p.code,
        severity: p.code === 'dump-truncated' ? 'error' : 'warning',
        message:
          p.code === 'dump-truncated'
            ? `${p.message}. The analysis covers only what was read; get a complete dump (re-run the dump, check free disk space and the transfer).`
            : `${p.message}. Extracting this archive with a tool that follows such entries could write outside the target directory; tsdbdump repair drops it.`,
        path: p.path,
      });
    }
    return finish(a, opts.source, verify, started);
  } finally {
    a.disposeAll();
  }
}

// ---- Combining facts into the result -----------------------------------------------------------

function finish(a: Analysis, source: string, verify: VerifyDepth, started: number): AnalysisResult {
  const blocks = blockInfos(a);
  blockDiagnostics(a, blocks);
  const head = headInfo(a, blocks);
  const wal = walInfo(a);
  const wbl = a.wblSegments.length > 0 ? { segments: segmentInfos(a.wblSegments) } : undefined;
  const coverage = coverageOf(a, blocks, head, wal);
  if (a.lockSeen) {
    a.diag({
      code: 'lock-file-present',
      severity: 'information',
      path: 'lock',
      message: 'The dump contains a `lock` file. It is harmless for Prometheus (the lock is an flock, not the file), but a restore should not carry it over; tsdbdump restore and repair leave it out.',
    });
  }
  for (const [root, kind] of a.tmpRoots) {
    a.diag({
      code: 'leftover-tmp',
      severity: 'information',
      path: root,
      message: `Leftover of interrupted work (${kind}). Prometheus removes it at startup; it holds no data that is served. tsdbdump repair leaves it out.`,
    });
  }
  const sevRank: Record<Severity, number> = { error: 0, warning: 1, information: 2, hint: 3 };
  a.diagnostics.sort((x, y) => sevRank[x.severity] - sevRank[y.severity] || (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  return {
    source,
    verify,
    blocks,
    head,
    wal,
    ...(wbl ? { wbl } : {}),
    coverage,
    diagnostics: a.diagnostics,
    otherEntries: a.otherEntries,
    totalBytes: a.totalBytes,
    durationMs: Date.now() - started,
  };
}

function blockInfos(a: Analysis): BlockInfo[] {
  const out: BlockInfo[] = [];
  for (const b of a.blocks.values()) {
    const m = b.meta;
    const idx = b.indexSummary;
    const metaReadable = !!m && (m.version === 1 || m.version === 2);
    const info: BlockInfo = {
      ulid: m?.ulid ?? b.dir,
      dir: b.dir,
      minTime: m?.minTime ?? idx?.minTime ?? 0,
      maxTime: m?.maxTime ?? (idx?.maxTime !== undefined ? idx.maxTime + 1 : 0),
      level: m?.compaction?.level ?? 0,
      numSamples: m?.stats?.numSamples ?? 0,
      numSeries: m?.stats?.numSeries ?? idx?.seriesCount ?? 0,
      numChunks: m?.stats?.numChunks ?? idx?.chunkCount ?? 0,
      sizeBytes: b.sizeBytes,
      path: b.dir,
      metaReadable,
      chunkFiles: [...b.chunkSegments].sort((x, y) => x.number - y.number).map((s) => s.name),
    };
    if (m?.stats?.numTombstones !== undefined) info.numTombstones = m.stats.numTombstones;
    if (m?.compaction?.sources) info.sources = m.compaction.sources;
    if (m?.compaction?.parents) info.parents = m.compaction.parents.map((p) => p.ulid);
    if (m?.compaction?.deletable) info.deletable = true;
    out.push(info);
  }
  return out.sort((x, y) => x.minTime - y.minTime || x.maxTime - y.maxTime || (x.dir < y.dir ? -1 : 1));
}

const PROM_CORRUPTED = (ulid: string, err: string) => `opening storage failed: reloadBlocks: corrupted block ${ulid}: ${err}`;

function blockDiagnostics(a: Analysis, blocks: BlockInfo[]): void {
  const loadable = new Set(blocks.filter((b) => b.metaReadable).map((b) => b.dir));
  // Every ULID named as a parent by a loadable block: Prometheus deletes those at startup.
  const parentOf = new Map<string, string>();
  for (const b of blocks) if (b.metaReadable) for (const p of b.parents ?? []) if (p !== b.ulid) parentOf.set(p, b.ulid);

  for (const info of blocks) {
    const b = a.blocks.get(info.dir)!;
    const dir = info.dir;
    if (b.incomplete && !b.metaSeen) continue; // cut off by the truncation, already reported
    const replacedBy = parentOf.get(info.ulid) ?? parentOf.get(dir);

    // meta.json
    if (!b.metaSeen) {
      a.diag({
        code: 'meta-missing',
        severity: 'error',
        path: `${dir}/`,
        blocks: [dir],
        range: info.maxTime > info.minTime ? { from: info.minTime, to: info.maxTime } : undefined,
        prometheusMessage: `level=error component=tsdb msg="Failed to read meta.json for a block during reloadBlocks. Skipping" dir=<data>/${dir} err="open <data>/${dir}/meta.json: no such file or directory"`,
        message: `Block ${dir} has no meta.json. Prometheus skips the block (its data is not served${rangeText(info)}) and compaction fails every minute with "plan compaction: open …/meta.json: no such file or directory". Run \`tsdbdump repair\` to rebuild meta.json from the index, or remove the directory.`,
      });
    } else if (b.metaError !== undefined || !b.meta) {
      a.diag({
        code: 'meta-invalid',
        severity: 'error',
        path: `${dir}/meta.json`,
        blocks: [dir],
        range: info.maxTime > info.minTime ? { from: info.minTime, to: info.maxTime } : undefined,
        prometheusMessage: `level=error component=tsdb msg="Failed to read meta.json for a block during reloadBlocks. Skipping" dir=<data>/${dir} err="${b.metaError ?? 'invalid meta.json'}"`,
        message: `meta.json of block ${dir} cannot be read (${b.metaError ?? 'invalid'}). Prometheus skips the block: its data is not served${rangeText(info)}. Run \`tsdbdump repair\` to rebuild meta.json from the index.`,
      });
    } else if (b.meta.version !== 1) {
      if (b.meta.version === 2) {
        a.diag({
          code: 'meta-invalid',
          severity: 'information',
          path: `${dir}/meta.json`,
          blocks: [dir],
          prometheusMessage: `msg="Fixing broken block" ulid=${b.meta.ulid}`,
          message: `meta.json of block ${dir} has version 2 (written by Prometheus 2.1). Prometheus repairs it at startup (sets the index version byte and rewrites meta.json); nothing to do.`,
        });
      } else {
        a.diag({
          code: 'meta-invalid',
          severity: 'error',
          path: `${dir}/meta.json`,
          blocks: [dir],
          prometheusMessage: `level=error component=tsdb msg="Failed to read meta.json for a block during reloadBlocks. Skipping" dir=<data>/${dir} err="unexpected meta file version ${b.meta.version}"`,
          message: `meta.json of block ${dir} has version ${b.meta.version}; only 1 is valid. Prometheus skips the block: its data is not served${rangeText(info)}. Run \`tsdbdump repair\` to rebuild meta.json.`,
        });
      }
    }
    const m = info.metaReadable ? b.meta : undefined;
    if (m && m.ulid !== dir && m.ulid.toUpperCase() !== dir.toUpperCase()) {
      a.diag({
        code: 'block-ulid-mismatch',
        severity: 'warning',
        path: `${dir}/meta.json`,
        blocks: [dir, m.ulid],
        message: `Directory ${dir} holds a meta.json whose ulid is ${m.ulid}. Prometheus loads it under the meta.json ULID, so compaction and retention later look for directory ${m.ulid} and fail or delete the wrong one. Rename the directory to ${m.ulid} (or run \`tsdbdump repair\`).`,
      });
    }
    if (m && m.minTime >= m.maxTime) {
      a.diag({
        code: 'meta-invalid',
        severity: 'warning',
        path: `${dir}/meta.json`,
        blocks: [dir],
        message: `meta.json of block ${dir} has minTime ${msUtc(m.minTime)} ≥ maxTime ${msUtc(m.maxTime)}: the block covers no time and queries never read it. Run \`tsdbdump repair\` to rebuild meta.json from the index.`,
      });
    }
    if (m?.compaction?.deletable) {
      a.diag({
        code: 'block-deletable',
        severity: 'information',
        path: `${dir}/meta.json`,
        blocks: [dir],
        prometheusMessage: `msg="Deleting obsolete block" block=${m.ulid}`,
        message: `Block ${dir} is marked deletable in meta.json (a compaction left it empty). Prometheus deletes it at startup; its data is not served. Nothing to do (tsdbdump repair leaves it out).`,
      });
    }
    if (replacedBy && loadable.has(dir)) {
      a.diag({
        code: 'block-superseded',
        severity: 'information',
        path: `${dir}/`,
        blocks: [dir, replacedBy],
        range: { from: info.minTime, to: info.maxTime },
        prometheusMessage: `msg="Deleting obsolete block" block=${info.ulid}`,
        message: `Block ${dir} was already compacted into ${replacedBy} (it is one of its parents; left by a crash after compaction). Prometheus deletes it at startup; no data is lost. tsdbdump repair leaves it out.`,
      });
    }

    // Chunk files
    const corruptedAtOpen: string[] = [];
    for (const seg of b.chunkSegments) {
      const p = `${dir}/chunks/${seg.name}`;
      if (seg.error) {
        a.diag({ code: 'chunk-corrupt', severity: 'error', path: p, blocks: [dir], message: `chunks/${seg.name} of block ${dir} could not be read (${seg.error}). Queries touching its chunks fail. Restore the block from another copy or drop it with \`tsdbdump repair\`.` });
        continue;
      }
      const s = seg.summary!;
      if (!s.headerOk) corruptedAtOpen.push(s.problems.find((x) => x.kind === 'header')?.message ?? `invalid chunk segment header in chunks/${seg.name}`);
      let crc = 0;
      let framing = 0;
      for (const prob of s.problems) {
        if (prob.kind === 'crc') {
          if (++crc > MAX_PER_FILE) continue;
          const start = prob.offset !== undefined ? chunkStartAt(s.chunkOffsets, prob.offset) : undefined;
          const bad = [...b.badChunks.values()].find((x) => x.segment === seg.name && x.offset === start);
          const owners = bad?.owners ?? [];
          const ownerText = owners.length
            ? owners.map((o) => `series ${o.series} [${utc(o.minTime)}, ${utc(o.maxTime)}]`).join('; ')
            : 'a chunk no series of the index points at';
          const range = owners.length ? { from: Math.min(...owners.map((o) => o.minTime)), to: Math.max(...owners.map((o) => o.maxTime)) + 1 } : undefined;
          a.diag({
            code: 'chunk-crc-mismatch',
            severity: 'error',
            path: p,
            offset: start,
            blocks: [dir],
            range,
            prometheusMessage: start !== undefined ? `cannot populate chunk ${start} from block 00000000000000000000000000: ${prob.message}` : undefined,
            message: `Chunk at offset ${start ?? '?'} of chunks/${seg.name} in block ${dir} is damaged (${prob.message}). Prometheus starts, but every query touching it fails (or silently drops the block from the answer): data of ${ownerText} is lost. Restore the block from another copy, or run \`tsdbdump repair\` to drop the damaged chunk.`,
          });
        } else if (prob.kind === 'framing') {
          if (++framing > MAX_PER_FILE) continue;
          a.diag({
            code: 'chunk-corrupt',
            severity: 'error',
            path: p,
            offset: prob.offset,
            blocks: [dir],
            message: `chunks/${seg.name} of block ${dir} is damaged at byte ${prob.offset ?? '?'} (${prob.message}). Queries reading the chunks from there on fail. Restore the block from another copy or run \`tsdbdump repair\`.`,
          });
        }
      }
      if (crc > MAX_PER_FILE) a.diag({ code: 'chunk-crc-mismatch', severity: 'error', path: p, blocks: [dir], message: `…and ${crc - MAX_PER_FILE} more damaged chunks in chunks/${seg.name} of block ${dir}.` });
      if (framing > MAX_PER_FILE) a.diag({ code: 'chunk-corrupt', severity: 'error', path: p, blocks: [dir], message: `…and ${framing - MAX_PER_FILE} more framing problems in chunks/${seg.name} of block ${dir}.` });
    }

    // Index
    const idxPath = `${dir}/index`;
    if (!b.indexSeen && !b.incomplete) {
      corruptedAtOpen.push(`open index file: open <data>/${dir}/index: no such file or directory`);
    }
    if (b.indexError) {
      corruptedAtOpen.push(b.indexError);
    }
    const idx = b.indexSummary;
    if (idx) {
      let nonFatal = 0;
      for (const prob of idx.problems) {
        if (prob.fatalAtStartup) corruptedAtOpen.push(prob.message);
        else if (++nonFatal <= MAX_PER_FILE) {
          a.diag({
            code: 'index-corrupt',
            severity: 'error',
            path: idxPath,
            offset: prob.offset,
            blocks: [dir],
            message: `The index of block ${dir} is damaged in its ${prob.section} section at byte ${prob.offset ?? '?'} (${prob.message}). Prometheus starts, but queries reading the affected series or postings fail. Restore the block from another copy or drop it with \`tsdbdump repair\`.`,
          });
        }
      }
      if (nonFatal > MAX_PER_FILE) a.diag({ code: 'index-corrupt', severity: 'error', path: idxPath, blocks: [dir], message: `…and ${nonFatal - MAX_PER_FILE} more index problems in block ${dir}.` });
      if (b.refsOutOfRangeCount > 0) {
        for (const r of b.refsOutOfRange) {
          a.diag({
            code: 'chunk-ref-out-of-range',
            severity: 'error',
            path: idxPath,
            blocks: [dir],
            range: { from: r.minTime, to: r.maxTime + 1 },
            message: `The index of block ${dir} points series ${r.series} [${utc(r.minTime)}, ${utc(r.maxTime)}] at chunk ref ${r.ref} (segment ${Number(r.ref >> 32n)}, offset ${Number(r.ref & 0xffffffffn)}): ${r.reason}. Queries of that series over that range fail. Restore the block from another copy or run \`tsdbdump repair\`.`,
          });
        }
        if (b.refsOutOfRangeCount > b.refsOutOfRange.length) {
          a.diag({ code: 'chunk-ref-out-of-range', severity: 'error', path: idxPath, blocks: [dir], message: `…and ${b.refsOutOfRangeCount - b.refsOutOfRange.length} more chunk refs out of range in block ${dir}.` });
        }
      }
      if (m && idx.problems.length === 0) metaVsIndex(a, dir, m, idx);
    }

    // Tombstones
    if (b.tombstonesError) corruptedAtOpen.push(b.tombstonesError);
    else if (b.tombstones && b.tombstones.problems.length > 0) {
      const prob = b.tombstones.problems[0];
      const replaced = replacedBy ? `; it is a parent of ${replacedBy}, so Prometheus just deletes it` : '';
      a.diag({
        code: 'tombstones-corrupt',
        severity: replacedBy ? 'information' : 'error',
        path: `${dir}/tombstones`,
        offset: prob.offset,
        blocks: [dir],
        prometheusMessage: replacedBy ? undefined : PROM_CORRUPTED(info.ulid, prob.message),
        message: `The tombstones file of block ${dir} is damaged (${prob.message}). Prometheus treats the block as corrupted and refuses to start${replaced}. Run \`tsdbdump repair\` (drops the tombstones file: deleted data reappears) or restore the block.`,
      });
    }

    // Problems found when Prometheus opens the block: fatal unless a compacted block replaces it.
    if (corruptedAtOpen.length > 0 && info.metaReadable) {
      const err = corruptedAtOpen[0];
      a.diag({
        code: 'index-corrupt',
        severity: replacedBy ? 'information' : 'error',
        path: b.indexSeen ? idxPath : `${dir}/`,
        blocks: [dir],
        prometheusMessage: replacedBy ? `msg="Found corrupted block, but replaced by compacted one so it's safe to delete. This should not happen with atomic deletes." block=${info.ulid}` : PROM_CORRUPTED(info.ulid, err),
        message: replacedBy
          ? `Block ${dir} is corrupted (${err}) but it is a parent of ${replacedBy}: Prometheus deletes it at startup; no data is lost.`
          : `Block ${dir} is corrupted (${err}): Prometheus refuses to start (\`opening storage failed: reloadBlocks: corrupted block …\`). Run \`tsdbdump repair\` to drop the block (its data${rangeText(info)} is lost) or restore it from another copy.`,
      });
    }
  }

  overlapDiagnostics(a, blocks, parentOf);
  duplicateSourceDiagnostics(a, blocks, parentOf);
}

function rangeText(b: { minTime: number; maxTime: number }): string {
  return b.maxTime > b.minTime ? `, [${utc(b.minTime)}, ${utc(b.maxTime)})` : '';
}

function metaVsIndex(a: Analysis, dir: string, m: BlockMeta, idx: IndexSummary): void {
  const issues: string[] = [];
  if (idx.minTime !== undefined && idx.minTime < m.minTime) issues.push(`the index has samples from ${msUtc(idx.minTime)}, before meta.json minTime ${msUtc(m.minTime)}`);
  if (idx.maxTime !== undefined && idx.maxTime >= m.maxTime) issues.push(`the index has samples up to ${msUtc(idx.maxTime)}, not before meta.json maxTime ${msUtc(m.maxTime)} (exclusive)`);
  if (m.stats?.numSeries !== undefined && m.stats.numSeries !== idx.seriesCount) issues.push(`meta.json says ${m.stats.numSeries} series, the index holds ${idx.seriesCount}`);
  if (m.stats?.numChunks !== undefined && m.stats.numChunks !== idx.chunkCount) issues.push(`meta.json says ${m.stats.numChunks} chunks, the index references ${idx.chunkCount}`);
  if (issues.length === 0) return;
  a.diag({
    code: 'meta-inconsistent',
    severity: 'warning',
    path: `${dir}/meta.json`,
    blocks: [dir],
    message: `meta.json of block ${dir} disagrees with its index: ${issues.join('; ')}. Prometheus trusts meta.json: samples outside its range are not returned by queries and statistics are wrong. Run \`tsdbdump repair\` to rebuild meta.json from the index.`,
  });
}

/** Overlaps between blocks Prometheus keeps (readable, not deletable, not replaced). */
function overlapDiagnostics(a: Analysis, blocks: BlockInfo[], parentOf: Map<string, string>): void {
  const served = blocks.filter((b) => b.metaReadable && !b.deletable && !parentOf.has(b.ulid) && b.maxTime > b.minTime).sort((x, y) => x.minTime - y.minTime);
  for (let i = 0; i < served.length; i++) {
    for (let j = i + 1; j < served.length && served[j].minTime < served[i].maxTime; j++) {
      const x = served[i];
      const y = served[j];
      if (!(x.minTime < y.maxTime && y.minTime < x.maxTime)) continue;
      const from = Math.max(x.minTime, y.minTime);
      const to = Math.min(x.maxTime, y.maxTime);
      const detail = `[mint: ${from}, maxt: ${to}, range: ${rangeOf(from, to)}, blocks: 2]: <ulid: ${x.ulid}, mint: ${x.minTime}, maxt: ${x.maxTime}, range: ${rangeOf(x.minTime, x.maxTime)}>, <ulid: ${y.ulid}, mint: ${y.minTime}, maxt: ${y.maxTime}, range: ${rangeOf(y.minTime, y.maxTime)}>`;
      a.diag({
        code: 'block-overlap',
        severity: 'warning',
        path: `${y.dir}/`,
        blocks: [x.ulid, y.ulid],
        range: { from, to },
        prometheusMessage: `level=warn component=tsdb msg="Overlapping blocks found during reloadBlocks" detail="${detail}"`,
        message: `Blocks ${x.ulid} and ${y.ulid} overlap on ${msRangeUtc(from, to)}. Prometheus 2.39+ starts, merges the duplicates in queries and compacts the two blocks together; Prometheus 2.8–2.38 refuses to start: \`opening storage failed: reloadBlocks: invalid block sequence: block time ranges overlap: ${detail}\` (unless --storage.tsdb.allow-overlapping-blocks). To restore into an older Prometheus, run \`tsdbdump repair\` or drop one block.`,
      });
    }
  }
}

/** Two kept blocks whose compaction sources intersect hold the same data twice. */
function duplicateSourceDiagnostics(a: Analysis, blocks: BlockInfo[], parentOf: Map<string, string>): void {
  const served = blocks.filter((b) => b.metaReadable && !b.deletable && !parentOf.has(b.ulid) && (b.sources?.length ?? 0) > 0);
  for (let i = 0; i < served.length; i++) {
    for (let j = i + 1; j < served.length; j++) {
      const x = served[i];
      const y = served[j];
      const ys = new Set(y.sources);
      const shared = x.sources!.filter((s) => ys.has(s));
      if (shared.length === 0) continue;
      const [small, big] = x.sources!.length <= y.sources!.length ? [x, y] : [y, x];
      const all = shared.length === small.sources!.length;
      a.diag({
        code: 'block-superseded',
        severity: 'warning',
        path: `${small.dir}/`,
        blocks: [small.ulid, big.ulid],
        range: { from: Math.max(x.minTime, y.minTime), to: Math.min(x.maxTime, y.maxTime) },
        message: all
          ? `Block ${small.ulid} holds data already in ${big.ulid} (all its compaction sources are among that block's). Prometheus serves both and merges duplicates; remove ${small.ulid} (or run \`tsdbdump repair\`).`
          : `Blocks ${x.ulid} and ${y.ulid} share ${shared.length} compaction source(s): the same data twice. Prometheus serves both and merges duplicates; run \`tsdbdump repair\` to keep one copy.`,
      });
    }
  }
}

// ---- Head and WAL --------------------------------------------------------------------------------

function headInfo(a: Analysis, blocks: BlockInfo[]): AnalysisResult['head'] {
  const files = [...a.headFiles].sort((x, y) => x.number - y.number);
  const infos: HeadChunkFileInfo[] = files.map((f) => ({
    name: f.name,
    number: f.number,
    sizeBytes: f.size,
    records: f.summary?.records ?? 0,
    ...(f.summary?.minTime !== undefined ? { minTime: f.summary.minTime } : {}),
    ...(f.summary?.maxTime !== undefined ? { maxTime: f.summary.maxTime } : {}),
  }));
  // Sequence: Prometheus refuses to start on a numbering gap.
  for (let i = 1; i < files.length; i++) {
    const prev = files[i - 1];
    const cur = files[i];
    if (cur.number === prev.number + 1) continue;
    a.diag({
      code: 'head-chunks-out-of-sequence',
      severity: 'error',
      path: cur.path,
      prometheusMessage: `opening storage failed: found unsequential head chunk files <data>/chunks_head/${pad(prev.number, 6)} (index: ${prev.number}) and <data>/chunks_head/${pad(cur.number, 6)} (index: ${cur.number})`,
      message: `Head chunk files jump from ${prev.name} to ${cur.name} (${cur.number - prev.number - 1} missing). Prometheus refuses to start. Run \`tsdbdump repair\` (drops chunks_head/${cur.name} and later files; the WAL still holds their samples), or delete those files by hand.`,
    });
  }
  // Header or record damage. What the WAL replays (segments a scrape interval apart count as one
  // stretch) and what blocks hold is not lost when Prometheus drops head chunk files.
  const tolerance = 2 * scrapeInterval(blocks);
  const newestBlockEnd = Math.max(-Infinity, ...blocks.filter((b) => b.metaReadable && !b.deletable).map((b) => b.maxTime));
  const walCover = unionWithin(walCoverage(a), tolerance);
  for (let i = 0; i < files.length; i++) {
    const f = files[i];
    const s = f.summary;
    const err = f.error ?? (s && !s.headerOk ? (s.problems[0]?.message ?? 'invalid header') : undefined);
    if (err !== undefined && !(i === files.length - 1 && f.size < 4)) {
      a.diag({
        code: 'head-chunk-corrupt',
        severity: 'error',
        path: f.path,
        prometheusMessage: `opening storage failed: ${err}`,
        message: `Head chunk file ${f.path} has a bad header (${err}). Prometheus refuses to start. Run \`tsdbdump repair\` (drops the head chunk files; the WAL still holds their samples).`,
      });
      continue;
    }
    if (s && s.problems.length > 0) {
      const later = files.slice(i).map((x) => x.name);
      const lost = files
        .slice(i)
        .filter((x) => x.summary?.minTime !== undefined)
        .map((x) => ({ from: Math.max(x.summary!.minTime!, newestBlockEnd), to: x.summary!.maxTime! + 1 }))
        .filter((r) => r.to > r.from && !walCover.some((w) => w.from <= r.from && r.to <= w.to));
      const prob = s.problems[0];
      a.diag({
        code: 'head-chunk-corrupt',
        severity: lost.length > 0 ? 'error' : 'warning',
        path: f.path,
        offset: prob.offset,
        range: lost.length > 0 ? { from: Math.min(...lost.map((r) => r.from)), to: Math.max(...lost.map((r) => r.to)) } : undefined,
        prometheusMessage: `level=error msg="Loading on-disk chunks failed" err="iterate on on-disk chunks: corruption in head chunk file <data>/${f.path}: ${prob.message}"`,
        message: `Head chunk file ${f.path} is damaged at byte ${prob.offset ?? '?'} (${prob.message}). Prometheus starts, deletes chunks_head/${later.join(', ')} and rebuilds the head from the WAL: ${lost.length > 0 ? 'samples not in the WAL are lost' : 'the WAL holds their samples, so nothing is lost'}. \`tsdbdump repair\` does the same cleanup.`,
      });
    }
  }
  // What Prometheus reports as the head range: data newer than the newest in-order block.
  const newest = Math.max(-Infinity, ...blocks.filter((b) => b.metaReadable && !b.deletable).map((b) => b.maxTime));
  const ranges = [...files.filter((f) => f.summary?.minTime !== undefined).map((f) => ({ from: f.summary!.minTime!, to: f.summary!.maxTime! })), ...walCover.map((r) => ({ from: r.from, to: r.to - 1 }))].filter(
    (r) => r.to >= newest,
  );
  const head: AnalysisResult['head'] = { chunksHeadFiles: infos };
  if (ranges.length > 0) {
    head.minTime = Math.max(Math.min(...ranges.map((r) => r.from)), Number.isFinite(newest) ? newest : -Infinity);
    head.maxTime = Math.max(...ranges.map((r) => r.to));
  }
  return head;
}

/** The checkpoint Prometheus replays (the highest), if any. */
function activeCheckpoint(a: Analysis): number | undefined {
  const ns = [...a.checkpoints.keys()];
  return ns.length ? Math.max(...ns) : undefined;
}

/** Sample ranges ([from, to) ) of what WAL replay brings back: checkpoint plus segments after it. */
function walCoverage(a: Analysis): TimeRange[] {
  const cp = activeCheckpoint(a);
  const out: TimeRange[] = [];
  const add = (s: SegmentState) => {
    if (s.summary?.minTime !== undefined && s.summary.maxTime !== undefined) out.push({ from: s.summary.minTime, to: s.summary.maxTime + 1 });
  };
  if (cp !== undefined) for (const s of a.checkpoints.get(cp) ?? []) add(s);
  for (const s of a.walSegments) if (cp === undefined || s.number > cp) add(s);
  return out;
}

function segmentInfos(list: SegmentState[]): WalSegmentInfo[] {
  return [...list]
    .sort((x, y) => x.number - y.number)
    .map((s) => ({
      name: s.name,
      number: s.number,
      sizeBytes: s.size,
      records: s.summary?.records ?? 0,
      samples: s.summary?.samples ?? 0,
      ...(s.summary?.minTime !== undefined ? { minTime: s.summary.minTime } : {}),
      ...(s.summary?.maxTime !== undefined ? { maxTime: s.summary.maxTime } : {}),
    }));
}

function walInfo(a: Analysis): AnalysisResult['wal'] {
  const segs = [...a.walSegments].sort((x, y) => x.number - y.number);
  const cp = activeCheckpoint(a);
  segmentSequence(a, segs, 'wal');
  segmentSequence(a, [...a.wblSegments].sort((x, y) => x.number - y.number), 'wbl');

  // Checkpoint vs segments.
  let checkpoint: WalCheckpointInfo | undefined;
  if (cp !== undefined) {
    const cpSegs = [...(a.checkpoints.get(cp) ?? [])].sort((x, y) => x.number - y.number);
    const cpName = `checkpoint.${pad(cp, 8)}`;
    checkpoint = {
      name: cpName,
      number: cp,
      segments: segmentInfos(cpSegs),
      series: cpSegs.reduce((n, s) => n + (s.summary?.series ?? 0), 0),
      samples: cpSegs.reduce((n, s) => n + (s.summary?.samples ?? 0), 0),
    };
    const after = segs.filter((s) => s.number > cp);
    if (after.length > 0 && after[0].number !== cp + 1) {
      const missing = pad(cp + 1, 8);
      a.diag({
        code: 'wal-checkpoint-stale',
        severity: 'error',
        path: `wal/${cpName}`,
        prometheusMessage: `opening storage failed: repair corrupted WAL: cannot handle error: open WAL segment: ${cp + 1}: open <data>/wal/${missing}: no such file or directory`,
        message: `WAL checkpoint ${cp} is followed by segment ${after[0].name}, but segment ${missing} (the first one replayed after the checkpoint) is missing. Prometheus refuses to start. Run \`tsdbdump repair\` (renumbers or drops segments; samples of the missing segment are lost unless head chunks hold them).`,
      });
    }
    for (const older of [...a.checkpoints.keys()].filter((n) => n < cp)) {
      a.diag({
        code: 'wal-checkpoint-stale',
        severity: 'information',
        path: `wal/checkpoint.${pad(older, 8)}`,
        message: `Older WAL checkpoint ${older} is ignored (checkpoint ${cp} replaces it); Prometheus deletes it at the next checkpoint. Nothing to do.`,
      });
    }
    if (cpSegs.length === 0) {
      a.diag({
        code: 'wal-checkpoint-stale',
        severity: 'error',
        path: `wal/${cpName}`,
        message: `WAL checkpoint ${cp} holds no segment. Prometheus fails to replay it (\`backfill checkpoint\`) and refuses to start. Run \`tsdbdump repair\` or remove the empty checkpoint directory.`,
      });
    }
    for (const s of cpSegs) walRecordDiagnostics(a, [s], 'checkpoint');
  }
  const replayed = segs.filter((s) => cp === undefined || s.number > cp);
  walRecordDiagnostics(a, replayed, 'wal');
  walRecordDiagnostics(a, [...a.wblSegments].sort((x, y) => x.number - y.number), 'wbl');

  const infos = segmentInfos(segs);
  const ranges = walCoverage(a);
  const wal: AnalysisResult['wal'] = {
    segments: infos,
    samples: replayed.reduce((n, s) => n + (s.summary?.samples ?? 0), 0) + (checkpoint?.samples ?? 0),
  };
  if (checkpoint) wal.checkpoint = checkpoint;
  if (ranges.length > 0) {
    wal.minTime = Math.min(...ranges.map((r) => r.from));
    wal.maxTime = Math.max(...ranges.map((r) => r.to - 1));
  }
  return wal;
}

function segmentSequence(a: Analysis, segs: SegmentState[], dir: 'wal' | 'wbl'): void {
  for (let i = 1; i < segs.length; i++) {
    const prev = segs[i - 1];
    const cur = segs[i];
    if (cur.number === prev.number + 1) continue;
    a.diag({
      code: 'wal-segments-not-sequential',
      severity: 'error',
      path: cur.path,
      prometheusMessage: 'opening storage failed: get segment range: segments are not sequential',
      message: `${dir.toUpperCase()} segments jump from ${prev.name} to ${cur.name} (${cur.number - prev.number - 1} missing). Prometheus refuses to start. Run \`tsdbdump repair\` (renames the later segments to close the gap; samples of the missing segments are lost unless head chunks hold them).`,
    });
  }
}

/** Record damage: Prometheus repairs by cutting the damaged segment and deleting every later one. */
function walRecordDiagnostics(a: Analysis, segs: SegmentState[], kind: 'wal' | 'wbl' | 'checkpoint'): void {
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i];
    const sum = s.summary;
    if (s.error !== undefined) {
      a.diag({ code: 'wal-record-corrupt', severity: 'error', path: s.path, message: `${s.path} could not be read (${s.error}). Run \`tsdbdump repair\`.` });
      continue;
    }
    if (!sum || sum.problems.length === 0) continue;
    const prob = sum.problems[0];
    if (prob.unsupported) {
      // Not damage: records this analyser cannot decode (zstd, Prometheus 2.46+); Prometheus reads them.
      a.diag({
        code: 'wal-record-unsupported',
        severity: 'information',
        path: s.path,
        offset: prob.offset,
        message: `${s.path} holds zstd-compressed records (written by Prometheus 2.46+ with --storage.tsdb.wal-compression-type=zstd) from byte ${prob.offset ?? 0} on. Prometheus reads them; this analyser cannot, so their samples are not counted or checked.`,
      });
      continue;
    }
    // What Prometheus prints as `corruption in segment … at N`: where its reader stood, not the last good record.
    const readerAt = prob.readerOffset ?? sum.goodUntil;
    const isLast = i === segs.length - 1;
    const dirPath = s.path.slice(0, s.path.lastIndexOf('/'));
    if (kind === 'checkpoint') {
      a.diag({
        code: 'wal-record-corrupt',
        severity: 'error',
        path: s.path,
        offset: prob.offset,
        prometheusMessage: `opening storage failed: backfill checkpoint: read records: corruption in segment <data>/${s.path} at ${readerAt}: ${prob.message}`,
        message: `The WAL checkpoint segment ${s.path} is damaged at byte ${prob.offset ?? sum.goodUntil} (${prob.message}). Prometheus refuses to start. Run \`tsdbdump repair\`.`,
      });
      continue;
    }
    // The last segment ending inside a record (a crash's last write): the zeros Prometheus reads
    // past EOF make it either `last record is torn` or a CRC mismatch in the final page.
    const problemAt = prob.offset ?? sum.goodUntil;
    const inFinalPage = sum.endsMidPage && Math.floor(problemAt / WAL_PAGE_SIZE) >= Math.floor(Math.max(0, s.size - 1) / WAL_PAGE_SIZE);
    if (isLast && (prob.torn || inFinalPage) && sum.problems.length === 1) {
      a.diag({
        code: 'wal-torn-tail',
        severity: 'warning',
        path: s.path,
        offset: sum.goodUntil,
        prometheusMessage: `level=warn msg="Encountered WAL read error, attempting repair" err="read records: corruption in segment <data>/${s.path} at ${readerAt}: last record is torn"`,
        message: `The last ${kind.toUpperCase()} segment ${s.name} ends inside a record (a write cut by a crash). Prometheus starts, cuts the segment at byte ${sum.goodUntil} and loses only that incomplete record. Nothing to do.`,
      });
      continue;
    }
    const later = segs.slice(i + 1);
    const lostSamples = later.reduce((n, x) => n + (x.summary?.samples ?? 0), 0);
    const lostRanges = later.filter((x) => x.summary?.minTime !== undefined);
    const lostRange = lostRanges.length ? { from: Math.min(...lostRanges.map((x) => x.summary!.minTime!)), to: Math.max(...lostRanges.map((x) => x.summary!.maxTime!)) + 1 } : undefined;
    const laterText = later.length ? `deletes ${later.map((x) => x.name).join(', ')} (${lostSamples} samples${lostRange ? `, ${utc(lostRange.from)} – ${utc(lostRange.to)}` : ''})` : 'deletes nothing after it';
    a.diag({
      code: 'wal-record-corrupt',
      severity: 'error',
      path: s.path,
      offset: prob.offset,
      range: lostRange,
      prometheusMessage: `level=warn msg="Encountered WAL read error, attempting repair" err="read records: corruption in segment <data>/${s.path} at ${readerAt}: ${prob.message}"`,
      message: `${kind.toUpperCase()} segment ${s.path} is damaged at byte ${prob.offset ?? sum.goodUntil} (${prob.message}). Prometheus "repairs" it at startup: it cuts ${s.name} at byte ${sum.goodUntil} (losing the records after it) and ${laterText} in ${dirPath}/; samples not also in head chunks or blocks are lost. Run \`tsdbdump repair\` first to see and keep what can be kept.`,
    });
  }
}

// ---- Coverage ------------------------------------------------------------------------------------

function coverageOf(a: Analysis, blocks: BlockInfo[], head: AnalysisResult['head'], wal: AnalysisResult['wal']): AnalysisResult['coverage'] {
  void wal;
  const served = blocks.filter((b) => b.metaReadable && !b.deletable && b.maxTime > b.minTime);
  const ranges: TimeRange[] = served.map((b) => ({ from: b.minTime, to: b.maxTime }));
  for (const f of a.headFiles) if (f.summary?.minTime !== undefined) ranges.push({ from: f.summary.minTime, to: f.summary.maxTime! + 1 });
  ranges.push(...walCoverage(a));
  void head;
  const merged = union(ranges);
  if (merged.length === 0) return { gaps: [] };
  // A gap shorter than about two scrape intervals is normal (block boundaries, a missed scrape).
  const threshold = Math.max(2 * scrapeInterval(served), 1000);
  const gaps: TimeRange[] = [];
  for (let i = 1; i < merged.length; i++) {
    const g = { from: merged[i - 1].to, to: merged[i].from };
    if (g.to - g.from > threshold) gaps.push(g);
  }
  for (const g of gaps) {
    const unread = blocks.filter((b) => !b.metaReadable && b.minTime < g.to && g.from < b.maxTime).map((b) => b.dir);
    a.diag({
      code: 'coverage-gap',
      severity: 'information',
      path: '',
      range: g,
      message: `No data for ${utc(g.from)} – ${utc(g.to)} (${Math.round((g.to - g.from) / 60000)} min)${unread.length ? `: block(s) ${unread.join(', ')} would cover it but are not served` : ': no block, head chunk or WAL segment covers it (dumps filtered by time leave such gaps)'}.`,
    });
  }
  return { minTime: merged[0].from, maxTime: merged[merged.length - 1].to, gaps };
}
