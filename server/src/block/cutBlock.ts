/**
 * Block cut: a new block holding only a block's samples in a half-open window [from, to).
 * Chunks wholly inside are copied byte for byte; XOR chunks across an edge (or touched by a
 * tombstone, which the cut applies as compaction does) are decoded, filtered and re-encoded;
 * series left without samples are dropped; stats are recomputed. Chunks of other encodings
 * (histograms, 3.x encodings) cannot be re-encoded here: they are kept only when wholly inside,
 * and every one dropped at an edge is reported, never silently lost.
 *
 * The new block is what Prometheus's LeveledCompactor.Write makes of a new block: a new ULID,
 * level 1, itself as the only source, the out-of-order hint carried over. It names no parents:
 * Prometheus deletes every block a loaded block lists as parent (tsdb/db.go), and the source block
 * still holds the samples outside the window.
 */
import { decodeXor, chunkSampleCount } from '../tsdb/chunkenc';
import { FormatError } from '../tsdb/cursor';
import type { IndexSeries } from '../tsdb/index';
import { symbolsOf } from '../tsdb/write/indexWriter';
import { encodeXor, MAX_XOR_SAMPLES } from '../tsdb/write/xorEncoder';
import { ToolError } from '../errors';
import type { OpenedBlock } from './readBlock';
import { writeBlockIfAny, type WriteChunk, type WriteSeries, type WrittenBlock } from './writeBlock';

export interface TimeWindow {
  /** Inclusive, ms. */
  from: number;
  /** Exclusive, ms. */
  to: number;
}

export interface DroppedChunk {
  labels: [string, string][];
  encoding: number;
  minTime: number;
  maxTime: number;
  /** All samples of the chunk; some lay outside the window (it crossed an edge). */
  samples: number;
}

export interface CutResult {
  /** Undefined when no sample of the block lies in the window (Prometheus writes no empty block). */
  block?: WrittenBlock;
  window: TimeWindow;
  /** Chunks copied as they are. */
  chunksKept: number;
  /** Edge chunks decoded and written again with their samples in the window. */
  chunksReencoded: number;
  samplesWritten: number;
  seriesWritten: number;
  /** Series of the source without any sample left. */
  seriesDropped: number;
  /** Edge chunks that could not be re-encoded and were left out, with their sample counts. */
  droppedEdgeChunks: DroppedChunk[];
}

export interface CutOptions {
  parentDir: string;
  ulid?: string;
  segmentSize?: number;
  labelIndices?: boolean;
  sync?: boolean;
}

const XOR = 1;
const OOO_HINT = 'from-out-of-order';

type Interval = [number, number];

export function cutBlock(src: OpenedBlock, window: TimeWindow, opts: CutOptions): CutResult {
  const { from, to } = window;
  if (!(Number.isSafeInteger(from) && Number.isSafeInteger(to) && from < to)) {
    throw new ToolError('usage', `invalid window [${from}, ${to}): from must be below to`);
  }
  // Tombstones by series ID (inclusive intervals, tsdb/tombstones).
  const deleted = new Map<number, Interval[]>();
  for (const t of src.tombstones) {
    const list = deleted.get(t.seriesId) ?? [];
    list.push([t.minTime, t.maxTime]);
    deleted.set(t.seriesId, list);
  }
  const result: CutResult = {
    window: { from, to },
    chunksKept: 0,
    chunksReencoded: 0,
    samplesWritten: 0,
    seriesWritten: 0,
    seriesDropped: 0,
    droppedEdgeChunks: [],
  };

  // First pass over chunk metas only: which series keep something (their labels make the symbols).
  const kept: IndexSeries[] = [];
  for (const s of src.series) {
    if (s.chunks.some((c) => c.maxTime >= from && c.minTime < to)) kept.push(s);
  }

  const cutSeries = (s: IndexSeries): WriteSeries => {
    const stones = deleted.get(s.id) ?? [];
    const isDeleted = (t: number) => stones.some(([a, b]) => t >= a && t <= b);
    const chunks: WriteChunk[] = [];
    // Only the chunks that reach into the window are read.
    const wanted = s.chunks.filter((c) => c.maxTime >= from && c.minTime < to);
    const read = src.seriesChunks({ ...s, chunks: wanted });
    for (let k = 0; k < wanted.length; k++) {
      const c = wanted[k];
      const touched = stones.some(([a, b]) => a <= c.maxTime && b >= c.minTime);
      const inside = c.minTime >= from && c.maxTime < to && !touched;
      const { encoding, data, frame } = read[k];
      if (inside) {
        chunks.push({ minTime: c.minTime, maxTime: c.maxTime, encoding, data, frame });
        result.chunksKept++;
        continue;
      }
      if (encoding !== XOR) {
        result.droppedEdgeChunks.push({
          labels: s.labels,
          encoding,
          minTime: c.minTime,
          maxTime: c.maxTime,
          samples: safeCount(encoding, data),
        });
        continue;
      }
      let samples;
      try {
        samples = decodeXor(data);
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        throw new ToolError(
          'block-unreadable',
          `block ${src.meta.ulid}: XOR chunk ${c.segment + 1}:${c.offset} of ${formatLabels(s.labels)} does not decode: ${e.message}`,
        );
      }
      const inWindow = samples.filter((x) => x.t >= from && x.t < to && !isDeleted(x.t));
      for (let i = 0; i < inWindow.length; i += MAX_XOR_SAMPLES) {
        const part = inWindow.slice(i, i + MAX_XOR_SAMPLES);
        chunks.push({ minTime: part[0].t, maxTime: part[part.length - 1].t, encoding: XOR, data: encodeXor(part) });
        result.chunksReencoded++;
      }
    }
    return { labels: s.labels, chunks };
  };

  const counted = function* (): Generator<WriteSeries> {
    for (const s of kept) {
      const w = cutSeries(s);
      if (w.chunks.length === 0) continue;
      result.seriesWritten++;
      for (const c of w.chunks) result.samplesWritten += chunkSampleCount(c.encoding, c.data);
      yield w;
    }
  };

  const ooo = src.meta.compaction.hints?.includes(OOO_HINT);
  const written = writeBlockIfAny({
    parentDir: opts.parentDir,
    ulid: opts.ulid,
    minTime: Math.max(src.meta.minTime, from),
    maxTime: Math.min(src.meta.maxTime, to),
    symbols: symbolsOf(kept.map((s) => s.labels)),
    series: counted(),
    segmentSize: opts.segmentSize,
    labelIndices: opts.labelIndices,
    sync: opts.sync,
    hints: ooo ? [OOO_HINT] : undefined,
  });
  result.block = written;
  result.seriesDropped = src.series.length - result.seriesWritten;
  return result;
}

function safeCount(encoding: number, data: Uint8Array): number {
  try {
    return chunkSampleCount(encoding, data);
  } catch {
    return 0;
  }
}

function formatLabels(labels: [string, string][]): string {
  return `{${labels.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}}`;
}
