/** What the analysis engine holds while it reads a dump entry by entry, and the helpers shared by its diagnostics. */
import type { BlockInfo, TimeRange, TsdbDiagnostic, VerifyDepth } from '../protocol';
import type { DumpEntry } from '../dump/source';
import { collectByteSource, type DisposableByteSource } from '../dump/byteSource';
import { classifyPath, type PathKind } from '../tsdb/blockDir';
import { parseMetaJson, type BlockMeta } from '../tsdb/metaJson';
import type { IndexSummary } from '../tsdb/index';
import { IndexPool } from './indexPool';
import type { IndexCheckSegment } from './indexCheck';
import { createChunkSegmentScanner, type ChunkSegmentSummary } from '../tsdb/chunks';
import { createHeadChunkScanner, type HeadChunkFileSummary } from '../tsdb/headChunks';
import { createWalSegmentScanner, type WalSegmentSummary } from '../tsdb/wal';
import { parseTombstones, type TombstonesParse } from '../tsdb/tombstones';
import type { PushScanner } from '../tsdb/types';

/** At most this many diagnostics of one code per file; the rest are summed up in the last one. */
export const MAX_PER_FILE = 5;
export const META_LIMIT = 1024 * 1024;
export const TOMBSTONES_LIMIT = 64 * 1024 * 1024;
/** Scrape interval assumed when it cannot be estimated from the blocks. */
export const DEFAULT_INTERVAL_MS = 60_000;

// ---- State while reading -------------------------------------------------------------------------

export interface ChunkSegmentState {
  name: string;
  number: number;
  size: number;
  summary?: ChunkSegmentSummary;
  error?: string;
}

export interface BlockState {
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
  badChunks: Map<
    string,
    { segment: string; offset: number; message: string; owners: { series: string; minTime: number; maxTime: number }[] }
  >;
  tombstones?: TombstonesParse;
  tombstonesError?: string;
  tombstonesSeen: boolean;
  sizeBytes: number;
  closed: boolean;
  /** The archive was cut while this block was being read. */
  incomplete: boolean;
}

export interface SegmentState {
  name: string;
  number: number;
  path: string;
  size: number;
  summary?: WalSegmentSummary;
  error?: string;
}

export interface HeadFileState {
  name: string;
  number: number;
  path: string;
  size: number;
  summary?: HeadChunkFileSummary;
  error?: string;
  /** In-order (not OOO) chunks: series ref, minTime, maxTime, three numbers each, in file order. */
  inOrder?: number[];
}

export class Analysis {
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
        const inOrder: number[] = [];
        const r = await scan(e.stream, () =>
          createHeadChunkScanner({
            verify: 'full',
            fileNumber: kind.number,
            // For the m-map sequence check (analysis/head.ts): OOO chunks (bit 0x80) are loaded apart.
            onRecord: (rec) => void ((rec.encoding & 0x80) === 0 && inOrder.push(rec.seriesRef, rec.minTime, rec.maxTime)),
          }),
        );
        f.inOrder = inOrder;
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

export async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of stream) {
    parts.push(c);
    n += c.length;
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
}

/** Runs a parser; a parser that throws (it should not) becomes a problem instead of a crash. */
export function guard<T>(fn: () => T, onError: (message: string) => T): T {
  try {
    return fn();
  } catch (e) {
    return onError(e instanceof Error ? e.message : String(e));
  }
}

export async function scan<T>(stream: AsyncIterable<Uint8Array>, make: () => PushScanner<T>): Promise<{ summary: T } | { error: string }> {
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
export function chunkStartAt(a: Uint32Array, offset: number): number {
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

export function union(ranges: TimeRange[]): TimeRange[] {
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
export function unionWithin(ranges: TimeRange[], tolerance: number): TimeRange[] {
  const out: TimeRange[] = [];
  for (const r of union(ranges)) {
    const last = out[out.length - 1];
    if (last && r.from - last.to <= tolerance) last.to = Math.max(last.to, r.to);
    else out.push({ ...r });
  }
  return out;
}

/** Typical time between two samples of a series, from the blocks' stats (a scrape interval). */
export function scrapeInterval(blocks: BlockInfo[]): number {
  const intervals = blocks
    .filter((b) => b.metaReadable && b.numSamples > 0 && b.numSeries > 0 && b.maxTime > b.minTime)
    .map((b) => (b.maxTime - b.minTime) / Math.max(1, b.numSamples / b.numSeries - 1));
  return median(intervals) ?? DEFAULT_INTERVAL_MS;
}

export function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
