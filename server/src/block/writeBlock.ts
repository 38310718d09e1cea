/**
 * Writes a block directory as Prometheus's compactor does (tsdb/compact.go write): everything goes
 * into `<ulid>.tmp-for-creation` (Prometheus ignores and deletes such directories), chunks are
 * streamed to the segments series by series, then index, meta.json and tombstones, and the
 * directory is renamed to `<ulid>` only when complete. Memory is bounded by the index (symbols,
 * postings), never by chunk bytes: the caller's series iterable yields one series' chunks at a time.
 */
import { mkdirSync, renameSync, rmSync, existsSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import path from 'node:path';
import { ulid as newUlid } from 'ulid';
import { chunkSampleCount } from '../tsdb/chunkenc';
import { serializeMetaJson, type BlockMeta } from '../tsdb/metaJson';
import type { TombstoneInterval } from '../tsdb/tombstones';
import { ChunkWriter, chunkSegmentName, type ChunkToWrite, type SegmentSink } from '../tsdb/write/chunkWriter';
import { IndexWriter } from '../tsdb/write/indexWriter';
import { encodeTombstones } from '../tsdb/write/tombstonesWriter';
import { FileSink } from './files';

export interface WriteChunk extends ChunkToWrite {
  minTime: number;
  maxTime: number;
}

export interface WriteSeries {
  labels: readonly (readonly [string, string])[];
  chunks: readonly WriteChunk[];
}

export type BlockStats = NonNullable<BlockMeta['stats']>;

export interface WriteBlockOptions {
  /** Directory the block goes into (a data dir). */
  parentDir: string;
  /** A new ULID when absent. */
  ulid?: string;
  minTime: number;
  /** Exclusive, as in meta.json. */
  maxTime: number;
  /** Default: a new block as LeveledCompactor.Write makes it, level 1 and its own only source (plus `hints`). */
  compaction?: BlockMeta['compaction'];
  /** Compaction hints for the default compaction (e.g. `from-out-of-order`). */
  hints?: string[];
  /** Stats to write as they are (a byte-identical copy); computed from the chunks when absent. */
  stats?: BlockStats;
  /** Sorted, unique; must hold every label name and value of the series (may hold more). */
  symbols: readonly string[];
  /** In label-set order; series without chunks are skipped (as the compactor does). */
  series: Iterable<WriteSeries>;
  tombstones?: readonly TombstoneInterval[];
  segmentSize?: number;
  /** See IndexWriterOptions.labelIndices (default true: as 2.x and 3.0–3.6). */
  labelIndices?: boolean;
  /** fsync files and the directory before the rename (default true). */
  sync?: boolean;
}

export interface WrittenBlock {
  ulid: string;
  dir: string;
  meta: BlockMeta;
  indexBytes: number;
  chunkBytes: number;
  segments: number;
}

/** Encodings that hold histogram samples (tsdb/chunkenc/chunk.go); 1 and 4 hold floats. */
export function isHistogramEncoding(encoding: number): boolean {
  const e = encoding & 0x7f;
  return e === 2 || e === 3 || e === 5 || e === 6;
}

class SegmentFiles implements SegmentSink {
  private current: FileSink | undefined;
  constructor(
    private readonly dir: string,
    private readonly sync: boolean,
  ) {}
  open(seq: number): void {
    this.current = new FileSink(path.join(this.dir, chunkSegmentName(seq)), this.sync, 8 << 20);
  }
  write(bytes: Uint8Array): void {
    this.current!.write(bytes);
  }
  close(): void {
    this.current?.close();
    this.current = undefined;
  }
  abandon(): void {
    this.current?.abandon();
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes the block, even one without samples. */
export function writeBlock(opts: WriteBlockOptions): WrittenBlock {
  return write(opts, false)!;
}

/** Writes the block unless it ends up without samples (Prometheus writes no empty block): undefined then, nothing left. */
export function writeBlockIfAny(opts: WriteBlockOptions): WrittenBlock | undefined {
  return write(opts, true);
}

function write(opts: WriteBlockOptions, skipEmpty: boolean): WrittenBlock | undefined {
  const ulid = opts.ulid ?? newUlid();
  const sync = opts.sync ?? true;
  const finalDir = path.join(opts.parentDir, ulid);
  if (existsSync(finalDir)) throw new Error(`${finalDir} already exists`);
  const tmp = `${finalDir}.tmp-for-creation`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(path.join(tmp, 'chunks'), { recursive: true });
  const segments = new SegmentFiles(path.join(tmp, 'chunks'), sync);
  let indexSink: FileSink | undefined;
  try {
    const chunkWriter = new ChunkWriter(segments, { segmentSize: opts.segmentSize });
    indexSink = new FileSink(path.join(tmp, 'index'), sync);
    const index = new IndexWriter(indexSink, opts.symbols, { labelIndices: opts.labelIndices });
    const stats = { numSamples: 0, numFloatSamples: 0, numHistogramSamples: 0, numSeries: 0, numChunks: 0 };
    for (const s of opts.series) {
      if (s.chunks.length === 0) continue;
      const refs = chunkWriter.writeSeriesChunks(s.chunks);
      index.addSeries(
        s.labels,
        s.chunks.map((c, i) => ({ minTime: c.minTime, maxTime: c.maxTime, ref: refs[i] })),
      );
      stats.numSeries++;
      stats.numChunks += s.chunks.length;
      for (const c of s.chunks) {
        const n = chunkSampleCount(c.encoding, c.data);
        stats.numSamples += n;
        if (isHistogramEncoding(c.encoding)) stats.numHistogramSamples += n;
        else stats.numFloatSamples += n;
      }
    }
    const chunkResult = chunkWriter.finish();
    const indexResult = index.finish();
    indexSink.close();
    if (skipEmpty && stats.numSamples === 0) {
      rmSync(tmp, { recursive: true, force: true });
      return undefined;
    }

    const meta: BlockMeta = {
      ulid,
      minTime: opts.minTime,
      maxTime: opts.maxTime,
      stats: opts.stats ?? stats,
      // A block Prometheus writes itself (LeveledCompactor.Write) is level 1 and its own source.
      compaction: opts.compaction ?? { level: 1, sources: [ulid], ...(opts.hints?.length ? { hints: opts.hints } : {}) },
      version: 1,
    };
    writeFileSync(path.join(tmp, 'meta.json'), serializeMetaJson(meta), { flag: 'wx' });
    writeFileSync(path.join(tmp, 'tombstones'), encodeTombstones(opts.tombstones ?? []), { flag: 'wx' });
    if (sync) {
      for (const f of ['meta.json', 'tombstones']) {
        const fd = openSync(path.join(tmp, f), 'r');
        fsyncSync(fd);
        closeSync(fd);
      }
      syncDir(path.join(tmp, 'chunks'));
      syncDir(tmp);
    }
    renameSync(tmp, finalDir);
    if (sync) syncDir(opts.parentDir);
    return { ulid, dir: finalDir, meta, indexBytes: indexResult.size, chunkBytes: chunkResult.bytes, segments: chunkResult.segments };
  } catch (e) {
    segments.abandon();
    indexSink?.abandon();
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
