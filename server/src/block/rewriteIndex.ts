/**
 * A block's index written again from what still reads in it (repair): the symbols and series
 * entries found without trusting the TOC (readIndex salvage), each series' chunk metas filtered to
 * the chunks still present, and everything after the series (label indices, postings, offset
 * tables, TOC, every CRC32C) rebuilt by the index writer. Chunk refs are kept as they are, so the
 * chunk files need not change. Series IDs are offsets: the map from old to new IDs lets tombstones
 * follow their series.
 */
import { readIndex, type IndexSeries } from '../tsdb/index';
import type { ByteSource } from '../tsdb/types';
import { IndexWriter, type ByteSink, type IndexChunkRef } from '../tsdb/write/indexWriter';
import { compareLabelSets, compareStrings } from '../tsdb/order';

export interface RewrittenIndex {
  bytes: Uint8Array;
  /** Old series ID → new series ID, for the series kept. */
  ids: Map<number, number>;
  series: number;
  chunks: number;
  /** Chunk metas left out (not kept by `keep`, or out of order). */
  droppedChunks: number;
  /** Series entries left out: a bad CRC, out of order, or no chunk left. */
  droppedSeries: number;
  /** Samples of the chunks kept, as `weigh` counts them (0 without it). */
  samples: number;
  histogramSamples: number;
}

class MemorySink implements ByteSink {
  private parts: Uint8Array[] = [];
  size = 0;
  write(bytes: Uint8Array): void {
    this.parts.push(Uint8Array.from(bytes));
    this.size += bytes.length;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/**
 * @param keep whether a chunk meta's chunk is still there (segment position, offset of its len field)
 * @param labelIndices write the deprecated label indices (as 2.x and 3.0–3.6 do)
 */
export function rewriteIndex(
  src: ByteSource,
  keep: (segment: number, offset: number) => boolean,
  opts: { labelIndices?: boolean; weigh?: (segment: number, offset: number) => { samples: number; histogram: boolean } } = {},
): RewrittenIndex | undefined {
  const labelIndices = opts.labelIndices ?? true;
  let symbols: readonly string[] = [];
  const series: IndexSeries[] = [];
  let badSeries = 0;
  const summary = readIndex(src, {
    verify: 'quick',
    salvage: true,
    onSymbols: (s) => (symbols = s),
    onSeries: (s) => (s.crcOk === false ? badSeries++ : series.push(s)),
  });
  if (summary.problems.some((p) => p.section === 'header' || p.section === 'symbols') && series.length === 0) return undefined;
  // The writer wants sorted unique symbols holding every label string: the old table when it is so.
  let table = [...symbols];
  const sorted = table.every((s, i) => i === 0 || compareStrings(table[i - 1], s) < 0);
  const known = new Set(symbols);
  const missing = series.some((s) => s.labels.some(([n, v]) => !known.has(n) || !known.has(v)));
  if (!sorted || missing) {
    const all = new Set<string>();
    for (const s of series) for (const [n, v] of s.labels) all.add(n).add(v);
    table = [...all].sort(compareStrings);
  }
  const sink = new MemorySink();
  const writer = new IndexWriter(sink, table, { labelIndices });
  const ids = new Map<number, number>();
  let chunks = 0;
  let samples = 0;
  let histogramSamples = 0;
  let droppedChunks = 0;
  let droppedSeries = badSeries;
  let last: IndexSeries['labels'] | undefined;
  let lastRef = -1;
  for (const s of series) {
    if (last && compareLabelSets(s.labels, last) <= 0) {
      droppedSeries++;
      droppedChunks += s.chunks.length;
      continue;
    }
    const refs: IndexChunkRef[] = [];
    let maxT = -Infinity;
    for (const c of s.chunks) {
      const ref = c.segment * 2 ** 32 + c.offset;
      if (!keep(c.segment, c.offset) || ref <= lastRef || c.minTime <= maxT || c.maxTime < c.minTime) {
        droppedChunks++;
        continue;
      }
      refs.push({ minTime: c.minTime, maxTime: c.maxTime, ref });
      const w = opts.weigh?.(c.segment, c.offset);
      if (w) {
        samples += w.samples;
        if (w.histogram) histogramSamples += w.samples;
      }
      lastRef = ref;
      maxT = c.maxTime;
    }
    if (refs.length === 0) {
      droppedSeries++;
      continue;
    }
    ids.set(s.id, writer.addSeries(s.labels, refs));
    last = s.labels;
    chunks += refs.length;
  }
  writer.finish();
  return { bytes: sink.bytes(), ids, series: ids.size, chunks, droppedChunks, droppedSeries, samples, histogramSamples };
}
