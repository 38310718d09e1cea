/**
 * One pass over a dump that gathers what the repair planner needs: per block the index series with
 * their chunk metas (sample counts read from the chunk files), meta.json, damaged chunks; per head
 * chunk file its records (decoded sample times where possible); per WAL / checkpoint segment its
 * series and sample records with their offsets. Block directories named in `spool` are also copied
 * to a temp directory, so the writer can move them to their place in the promdump order.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { openSource, type DumpEntry, type SourceOptions } from '../dump/source';
import { collectByteSource } from '../dump/byteSource';
import { classifyPath } from '../tsdb/blockDir';
import { crc32c, hex } from '../tsdb/crc32c';
import { decodeChunkSamples, isHistogramEncoding, isKnownEncoding } from '../tsdb/chunkenc';
import { createHeadChunkScanner, type HeadChunkRecord } from '../tsdb/headChunks';
import { readIndex, type IndexSeries } from '../tsdb/index';
import { parseMetaJson, type BlockMeta } from '../tsdb/metaJson';
import { parseTombstones } from '../tsdb/tombstones';
import { createWalSegmentScanner } from '../tsdb/wal';
import type { BlockModel, CheckpointModel, HeadFileModel, HeadRecordModel, IntervalPiece, WalRecordModel, WalSegmentModel } from './model';
import { seriesKey } from './model';
import type { BadChunk, BlockFacts, RepairFacts } from './facts';

export interface EntryInfo {
  path: string;
  type: DumpEntry['type'];
  size: number;
}

export interface Collected {
  facts: RepairFacts;
  /** Entries in source order. */
  entries: EntryInfo[];
}

export interface CollectOptions extends SourceOptions {
  /** Block dirs whose entries are copied to spoolDir (same relative paths). */
  spool?: Set<string>;
  /** Copy every entry to spoolDir. */
  spoolAll?: boolean;
  spoolDir?: string;
}

/** Sample counts and CRC results of every chunk of one chunk segment file. */
export interface ChunkFileScan {
  offsets: number[];
  samples: number[];
  /** Whether each chunk holds histogram samples (encodings 2, 3, 5, 6). */
  histogram: boolean[];
  bad: { offset: number; encodingOffset: number; dataLength: number; message: string }[];
  framingError?: { offset: number; message: string };
}

/** Streams a block chunk file: for each chunk its offset, sample count and CRC check. */
export class ChunkCounter {
  private carry: Uint8Array = new Uint8Array(0);
  private base = 0; // file offset of carry[0]
  private headerDone = false;
  readonly result: ChunkFileScan = { offsets: [], samples: [], histogram: [], bad: [] };

  push(bytes: Uint8Array): void {
    if (this.result.framingError) return;
    let buf: Uint8Array;
    if (this.carry.length) {
      buf = new Uint8Array(this.carry.length + bytes.length);
      buf.set(this.carry, 0);
      buf.set(bytes, this.carry.length);
    } else buf = bytes;
    let pos = 0;
    if (!this.headerDone) {
      if (buf.length < 8) {
        this.carry = buf.slice();
        return;
      }
      const magic = ((buf[0] << 24) | (buf[1] << 16) | (buf[2] << 8) | buf[3]) >>> 0;
      if (magic !== 0x85bd40dd) {
        this.result.framingError = { offset: 0, message: `invalid magic number ${hex(magic)}` };
        return;
      }
      this.headerDone = true;
      pos = 8;
    }
    for (;;) {
      // len uvarint
      let p = pos;
      let len = 0;
      let mul = 1;
      let ok = false;
      for (let i = 0; i < 5 && p < buf.length; i++) {
        const b = buf[p++];
        len += (b & 0x7f) * mul;
        if (b < 0x80) {
          ok = true;
          break;
        }
        mul *= 128;
      }
      if (!ok) {
        if (p - pos >= 5) {
          this.result.framingError = { offset: this.base + pos, message: 'bad chunk length' };
          return;
        }
        break;
      }
      const end = p + 1 + len + 4;
      if (end > buf.length) break;
      const enc = buf[p];
      if (enc < 1 || enc > 6) {
        this.result.framingError = { offset: this.base + pos, message: `invalid chunk encoding ${enc}` };
        return;
      }
      const data = buf.subarray(p + 1, p + 1 + len);
      const raw = data.length >= 2 ? (data[0] << 8) | data[1] : 0;
      const count = enc === 5 || enc === 6 ? raw & 0x3fff : raw;
      const crcAt = p + 1 + len;
      const stored = ((buf[crcAt] << 24) | (buf[crcAt + 1] << 16) | (buf[crcAt + 2] << 8) | buf[crcAt + 3]) >>> 0;
      const actual = crc32c(buf.subarray(p, crcAt));
      this.result.offsets.push(this.base + pos);
      this.result.samples.push(count);
      this.result.histogram.push(enc === 2 || enc === 3 || enc === 5 || enc === 6);
      if (stored !== actual) {
        this.result.bad.push({
          offset: this.base + pos,
          encodingOffset: this.base + p,
          dataLength: len,
          message: `checksum mismatch expected:${hex(stored)}, actual:${hex(actual)}`,
        });
      }
      pos = end;
    }
    this.carry = buf.slice(pos);
    this.base += pos;
  }

  end(): ChunkFileScan {
    if (!this.result.framingError && this.carry.length > 0) {
      this.result.framingError = { offset: this.base, message: `segment doesn't include enough bytes to read the chunk` };
    }
    return this.result;
  }
}

interface BlockAcc {
  dir: string;
  metaPresent: boolean;
  meta?: BlockMeta;
  metaError?: string;
  indexSeen: boolean;
  indexReadable: boolean;
  indexFatal: boolean;
  /** What a strict read of the index found wrong (the series then come from a salvage read). */
  indexProblems: string[];
  /** Series entries whose CRC does not match (left out of a rewritten index). */
  badSeries: number;
  series: { key: string; chunks: { minTime: number; maxTime: number; ref: bigint }[] }[];
  chunkFiles: Map<number, { path: string; scan: ChunkFileScan }>;
  tombstonesBad: boolean;
  hasTombstonesFile: boolean;
  numTombstones?: number;
}

async function* teeToSpool(stream: AsyncIterable<Uint8Array>, out: WriteStream | undefined): AsyncGenerator<Uint8Array> {
  for await (const c of stream) {
    if (out && !out.write(c)) await new Promise<void>((r) => out.once('drain', r));
    yield c;
  }
}

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of stream) parts.push(c);
  return Buffer.concat(parts);
}

function decodeHeadTimes(bytes: Uint8Array, r: HeadChunkRecord): Float64Array | undefined {
  if (!isKnownEncoding(r.encoding & 0x7f)) return undefined;
  try {
    // seriesRef u64 | mint i64 | maxt i64 | encoding u8 | len uvarint | data
    let p = r.offset + 25;
    let len = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = bytes[p++];
      len += (b & 0x7f) * mul;
      if (b < 0x80) break;
      mul *= 128;
    }
    const samples = decodeChunkSamples(r.encoding & 0x7f, bytes.subarray(p, p + len));
    if (samples.length !== r.samples && r.samples > 0) return undefined;
    const times = Float64Array.from(samples, (s) => s.t);
    if (times.length && (times[0] !== r.minTime || times[times.length - 1] !== r.maxTime)) return undefined;
    return times;
  } catch {
    return undefined;
  }
}

export async function collectFacts(source: string, opts: CollectOptions = {}): Promise<Collected> {
  const opened = await openSource(source, { signal: opts.signal, onProgress: opts.onProgress });
  const entries: EntryInfo[] = [];
  const blocks = new Map<string, BlockAcc>();
  const headFiles: HeadFileModel[] = [];
  const wal: WalSegmentModel[] = [];
  const wbl: WalSegmentModel[] = [];
  const checkpoints = new Map<number, CheckpointModel>();
  const lockPaths: string[] = [];
  const tmpRoots = new Set<string>();

  const blockOf = (dir: string): BlockAcc => {
    let b = blocks.get(dir);
    if (!b) {
      b = {
        dir,
        metaPresent: false,
        indexSeen: false,
        indexReadable: false,
        indexFatal: false,
        indexProblems: [],
        badSeries: 0,
        series: [],
        chunkFiles: new Map(),
        tombstonesBad: false,
        hasTombstonesFile: false,
      };
      blocks.set(dir, b);
    }
    return b;
  };

  for await (const entry of opened.entries) {
    opts.signal?.throwIfAborted();
    entries.push({ path: entry.path, type: entry.type, size: entry.size });
    const kind = classifyPath(entry.path);
    const top = entry.path.split('/')[0];
    let spoolOut: WriteStream | undefined;
    if ((opts.spoolAll || opts.spool?.has(top)) && opts.spoolDir) {
      const target = path.join(opts.spoolDir, entry.path);
      if (entry.type === 'directory') mkdirSync(target, { recursive: true });
      else if (entry.type === 'file') {
        mkdirSync(path.dirname(target), { recursive: true });
        spoolOut = createWriteStream(target);
      }
    }
    const body = teeToSpool(entry.stream, spoolOut);
    try {
      if (entry.type !== 'file') {
        if (kind.kind === 'block-dir') blockOf(kind.ulid);
        if (kind.kind === 'tmp') tmpRoots.add(kind.root);
        if (kind.kind === 'checkpoint-dir' && !checkpoints.has(kind.checkpoint)) {
          checkpoints.set(kind.checkpoint, { path: entry.path, number: kind.checkpoint, segments: [] });
        }
        continue;
      }
      switch (kind.kind) {
        case 'block-meta': {
          const b = blockOf(kind.ulid);
          b.metaPresent = true;
          const parsed = parseMetaJson(await readAll(body));
          if (parsed.ok && parsed.meta.version === 1) b.meta = parsed.meta;
          else if (parsed.ok && parsed.meta.version === 2) b.meta = parsed.meta;
          else b.metaError = parsed.ok ? `unexpected meta file version ${parsed.meta.version}` : parsed.error;
          break;
        }
        case 'block-index': {
          const b = blockOf(kind.ulid);
          b.indexSeen = true;
          const src = await collectByteSource(body);
          const onSeries = (s: IndexSeries) =>
            b.series.push({
              key: seriesKey(s.labels),
              chunks: s.chunks.map((c) => ({ minTime: c.minTime, maxTime: c.maxTime, ref: c.ref })),
            });
          try {
            // Full: postings and series CRCs too, so a rewritten index can fix what queries would trip on.
            const strict: IndexSeries[] = [];
            const summary = readIndex(src, { verify: 'full', onSeries: (s) => strict.push(s) });
            b.indexFatal = summary.problems.some((p) => p.fatalAtStartup);
            b.indexReadable = !b.indexFatal;
            b.indexProblems = summary.problems.map((p) => `${p.message}${p.offset !== undefined ? ` (at byte ${p.offset})` : ''}`);
            if (b.indexProblems.length === 0) for (const s of strict) onSeries(s);
            else {
              // What a rewritten index keeps: every series entry that parses with its CRC intact.
              const salvaged = readIndex(src, {
                verify: 'quick',
                salvage: true,
                onSeries: (s) => (s.crcOk === false ? b.badSeries++ : onSeries(s)),
              });
              if (b.series.length === 0 && salvaged.problems.length > 0) b.indexProblems = [];
            }
          } catch {
            b.indexFatal = true;
            b.indexReadable = false;
            b.series = [];
            b.indexProblems = [];
          } finally {
            src.dispose();
          }
          break;
        }
        case 'block-chunk-segment': {
          const b = blockOf(kind.ulid);
          const counter = new ChunkCounter();
          for await (const c of body) counter.push(c);
          b.chunkFiles.set(kind.segment, { path: entry.path, scan: counter.end() });
          break;
        }
        case 'block-tombstones': {
          const b = blockOf(kind.ulid);
          b.hasTombstonesFile = true;
          const parsed = parseTombstones(await readAll(body));
          b.tombstonesBad = parsed.problems.length > 0;
          b.numTombstones = parsed.intervals.length;
          break;
        }
        case 'head-chunk-file': {
          const bytes = await readAll(body);
          const records: HeadRecordModel[] = [];
          const raw: HeadChunkRecord[] = [];
          const scanner = createHeadChunkScanner({ verify: 'full', onRecord: (r) => raw.push(r) });
          scanner.push(bytes);
          const summary = scanner.end();
          for (const r of raw) {
            if (r.crcOk === false) continue;
            const rec: HeadRecordModel = {
              offset: r.offset,
              ref: r.seriesRef,
              minTime: r.minTime,
              maxTime: r.maxTime,
              samples: r.samples,
              times: decodeHeadTimes(bytes, r),
            };
            if (r.encoding & 0x80) rec.ooo = true;
            if (isHistogramEncoding(r.encoding & 0x7f)) rec.histogram = true;
            records.push(rec);
          }
          const firstBad = raw.find((r) => r.crcOk === false)?.offset;
          const probOffsets = summary.problems.map((p) => p.offset ?? summary.dataEnd);
          const corruptAt = [firstBad, ...probOffsets]
            .filter((x): x is number => x !== undefined)
            .reduce((m, x) => Math.min(m, x), Infinity);
          headFiles.push({
            path: entry.path,
            number: kind.number,
            headerOk: summary.headerOk,
            records: records.filter((r) => r.offset < corruptAt),
            corruptAt: summary.headerOk && Number.isFinite(corruptAt) ? corruptAt : undefined,
          });
          break;
        }
        case 'wal-segment':
        case 'wbl-segment':
        case 'checkpoint-segment': {
          const records: WalRecordModel[] = [];
          const scanner = createWalSegmentScanner({
            onRecord: (r, offset) => {
              if (r.type === 'series') records.push({ offset, series: r.series.map((s) => ({ ref: s.ref, key: seriesKey(s.labels) })) });
              else if (r.type === 'samples' && r.samples.length) {
                records.push({ offset, refs: Float64Array.from(r.samples, (s) => s.ref), times: Float64Array.from(r.samples, (s) => s.t) });
              } else if (r.type === 'histograms' && r.samples.length) {
                records.push({
                  offset,
                  refs: Float64Array.from(r.samples, (s) => s.ref),
                  times: Float64Array.from(r.samples, (s) => s.t),
                  histogram: true,
                });
              }
            },
          });
          for await (const c of body) scanner.push(c);
          const summary = scanner.end();
          // zstd records (2.46+) are readable by Prometheus, only not by us: not damage to cut away.
          const damage = summary.problems.filter((p) => !p.unsupported);
          const damaged = damage.length > 0;
          const seg: WalSegmentModel = {
            path: entry.path,
            number: kind.number,
            sizeBytes: summary.sizeBytes,
            records: damaged ? records.filter((r) => r.offset < summary.goodUntil) : records,
          };
          if (damaged) {
            seg.corruptAt = summary.goodUntil;
            seg.torn = damage[0].torn;
          }
          if (kind.kind === 'wal-segment') wal.push(seg);
          else if (kind.kind === 'wbl-segment') wbl.push(seg);
          else {
            let cp = checkpoints.get(kind.checkpoint);
            if (!cp) {
              cp = { path: `wal/checkpoint.${String(kind.checkpoint).padStart(8, '0')}`, number: kind.checkpoint, segments: [] };
              checkpoints.set(kind.checkpoint, cp);
            }
            cp.segments.push(seg);
          }
          break;
        }
        case 'lock':
          lockPaths.push(entry.path);
          break;
        case 'tmp':
          tmpRoots.add(kind.root);
          break;
      }
    } finally {
      // Whatever was not read still has to reach the spool.
      for await (const _ of body) void _;
      if (spoolOut) {
        const out = spoolOut;
        await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      }
    }
  }

  const blockFacts: BlockFacts[] = [];
  const blockModels: BlockModel[] = [];
  for (const b of blocks.values()) {
    const { model, facts } = finishBlock(b);
    blockModels.push(model);
    blockFacts.push(facts);
  }
  const unsafe = opened.problems.filter((p) => p.code === 'tar-unsafe-path').map((p) => ({ path: p.path, message: p.message }));
  const trunc = opened.problems.find((p) => p.code === 'dump-truncated');
  const facts: RepairFacts = {
    model: { blocks: blockModels, headFiles, wal, wbl, checkpoints: [...checkpoints.values()] },
    blocks: blockFacts,
    lockPaths,
    tmpRoots: [...tmpRoots],
    unsafe,
  };
  if (trunc) facts.truncated = { path: trunc.path, message: trunc.message };
  return { facts, entries };
}

function finishBlock(b: BlockAcc): { model: BlockModel; facts: BlockFacts } {
  // Chunk refs carry the 0-based position of the file among the block's chunk files.
  const files = [...b.chunkFiles.entries()].sort((x, y) => x[0] - y[0]).map(([, f]) => f);
  const series = new Map<string, IntervalPiece[]>();
  let unresolved = 0;
  let numSamples = 0;
  let numChunks = 0;
  let seriesWithChunks = 0;
  const danglingSeries = new Set<string>();
  let danglingFrom = Infinity;
  let danglingTo = -Infinity;
  let minTime = Infinity;
  let maxTime = -Infinity;
  const badChunks: BadChunk[] = [];
  for (const [pos, f] of files.entries()) {
    for (const bad of f.scan.bad) {
      badChunks.push({
        path: f.path,
        offset: bad.offset,
        encodingOffset: bad.encodingOffset,
        dataLength: bad.dataLength,
        chunkId: `${pos}:${bad.offset}`,
        message: bad.message,
      });
    }
  }
  for (const s of b.series) {
    const pieces: IntervalPiece[] = [];
    for (const c of s.chunks) {
      const pos = Number(c.ref >> 32n);
      const off = Number(c.ref & 0xffffffffn);
      const f = files[pos];
      const i = f ? sortedIndexOf(f.scan.offsets, off) : -1;
      if (i < 0) {
        unresolved++;
        if (!danglingSeries.has(s.key)) danglingSeries.add(s.key);
        danglingFrom = Math.min(danglingFrom, c.minTime);
        danglingTo = Math.max(danglingTo, c.maxTime + 1);
        continue;
      }
      const samples = f.scan.samples[i];
      const piece: IntervalPiece = { minTime: c.minTime, maxTime: c.maxTime, samples, chunkId: `${pos}:${off}` };
      if (f.scan.histogram[i]) piece.histogram = true;
      pieces.push(piece);
      numSamples += samples;
      numChunks++;
      minTime = Math.min(minTime, c.minTime);
      maxTime = Math.max(maxTime, c.maxTime);
    }
    if (pieces.length > 0) seriesWithChunks++;
    const list = series.get(s.key);
    if (list) list.push(...pieces);
    else series.set(s.key, pieces);
  }
  const chunkTails = files
    .filter((f) => f.scan.framingError && f.scan.framingError.offset >= 8)
    .map((f) => ({ path: f.path, offset: f.scan.framingError!.offset, message: f.scan.framingError!.message }));
  const metaReadable = b.meta !== undefined;
  const computed =
    (b.indexReadable || b.indexProblems.length > 0) && numChunks > 0
      ? { minTime, maxTime: maxTime + 1, numSamples, numSeries: seriesWithChunks, numChunks }
      : undefined;
  const model: BlockModel = {
    dir: b.dir,
    metaReadable,
    minTime: b.meta?.minTime ?? computed?.minTime,
    maxTime: b.meta?.maxTime ?? computed?.maxTime,
    hasHints: (b.meta?.compaction.hints?.length ?? 0) > 0,
    deletable: b.meta?.compaction.deletable === true,
    indexFatal: b.indexFatal || !b.indexSeen,
    // A fatally damaged index whose series still read (salvage) holds them: a rewrite can keep them.
    series: b.indexReadable || b.indexProblems.length > 0 ? series : undefined,
  };
  const facts: BlockFacts = {
    dir: b.dir,
    metaPresent: b.metaPresent,
    indexReadable: b.indexReadable,
    badChunks,
    unresolvedRefs: unresolved,
    indexProblems: b.indexProblems,
    badSeries: b.badSeries,
    chunkFiles: files.map((f) => ({ path: f.path, offsets: f.scan.offsets, samples: f.scan.samples, histogram: f.scan.histogram })),
    unreadableSamples: 0,
    tombstonesBad: b.tombstonesBad,
    hasTombstonesFile: b.hasTombstonesFile,
  };
  if (b.meta) facts.meta = b.meta;
  if (b.metaError) facts.metaError = b.metaError;
  if (computed) facts.computed = computed;
  if (chunkTails.length) facts.chunkTails = chunkTails;
  if ((unresolved > 0 || b.badSeries > 0) && b.meta?.stats?.numSamples !== undefined)
    facts.unreadableSamples = Math.max(0, b.meta.stats.numSamples - numSamples);
  if (danglingSeries.size > 0 && b.badSeries === 0) {
    facts.unreadableSeries = danglingSeries.size;
    facts.unreadableRange = { from: danglingFrom, to: danglingTo };
  }
  if (b.numTombstones) facts.numTombstones = b.numTombstones;
  return { model, facts };
}

/** Index of x in an ascending array, or -1. */
export function sortedIndexOf(sorted: number[], x: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < x) lo = mid + 1;
    else if (sorted[mid] > x) hi = mid - 1;
    else return mid;
  }
  return -1;
}
