/**
 * The samples of a selector, read from the dump and merged the way Prometheus's querier merges
 * them (storage/merge.go chainSampleIterator over the blocks and the head): one series per label
 * set whatever holds it, samples in time order, the same timestamp only once (the first source in
 * block order, then the head, wins), tombstoned ranges left out (tsdb/querier.go, each block's
 * tombstones and the WAL's tombstone records for the head). Staleness markers (value.StaleNaN) are
 * kept and flagged; range queries leave them out (promql/engine.go matrixIterSlice).
 *
 * Memory: the block indexes and the head's matching series (openDumpData), plus one series'
 * samples at a time while it is merged and handed on.
 */
import { ToolError } from '../errors';
import { decodeChunk, type HistogramValue } from '../tsdb/chunkenc';
import type { WalHistogram } from '../tsdb/wal';
import { compareLabelSets } from '../tsdb/order';
import type { IndexSeries } from '../tsdb/index';
import type { HistogramSample, SamplesParams, SamplesResult, SeriesSamples } from '../protocol';
import { openDumpData, type DumpData, type HeadSeries } from './dumpData';
import { parseSelector, selectorMatches, type Selector } from './selector';

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);
const STALE_NAN_BITS = 0x7ff0000000000002n;

/** value.IsStaleNaN (model/value/value.go): the NaN with the staleness payload. */
export function isStaleNaN(v: number): boolean {
  if (!Number.isNaN(v)) return false;
  f64[0] = v;
  return u64[0] === STALE_NAN_BITS;
}

export interface SamplesOptions {
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
  /** Each series as it is merged (the CLI streams them); when given, the result's `series` stays empty. */
  onSeries?: (s: SeriesSamples) => void | Promise<void>;
}

type Labels = [string, string][];

interface Place {
  block?: number;
  series?: IndexSeries;
  head?: HeadSeries;
  headRef?: number;
}

function labelRecord(labels: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of labels) out[k] = v;
  return out;
}

/** Where each matching series is stored, in label order. */
export function matchingSeries(data: DumpData, sel: Selector): { labels: Labels; places: Place[] }[] {
  const byKey = new Map<string, { labels: Labels; places: Place[] }>();
  const add = (labels: Labels, p: Place) => {
    const key = JSON.stringify(labels);
    let e = byKey.get(key);
    if (!e) byKey.set(key, (e = { labels, places: [] }));
    e.places.push(p);
  };
  data.blocks.forEach((b, i) => {
    for (const s of b.block.series) if (selectorMatches(sel, labelRecord(s.labels))) add(s.labels, { block: i, series: s });
  });
  for (const [ref, hs] of data.head?.series ?? []) {
    if (selectorMatches(sel, labelRecord(hs.labels))) add(hs.labels, { head: hs, headRef: ref });
  }
  return [...byKey.values()].sort((a, b) => compareLabelSets(a.labels, b.labels));
}

function fromChunk(h: HistogramValue): HistogramSample {
  return {
    schema: h.schema, count: h.count, sum: h.sum, zeroThreshold: h.zeroThreshold, zeroCount: h.zeroCount,
    positiveSpans: h.positiveSpans, negativeSpans: h.negativeSpans, positiveBuckets: h.positiveBuckets,
    negativeBuckets: h.negativeBuckets, ...(h.customValues ? { customValues: h.customValues } : {}),
    counterResetHint: h.counterReset,
  };
}

/** A WAL histogram with absolute bucket counts (integer histograms store deltas, tsdb/record/record.go). */
function fromWal(h: WalHistogram, float: boolean): HistogramSample {
  const abs = (b: number[]) => {
    if (float) return b;
    let x = 0;
    return b.map((d) => (x += d));
  };
  return {
    schema: h.schema, count: h.count, sum: h.sum, zeroThreshold: h.zeroThreshold, zeroCount: h.zeroCount,
    positiveSpans: h.positiveSpans, negativeSpans: h.negativeSpans, positiveBuckets: abs(h.positiveBuckets),
    negativeBuckets: abs(h.negativeBuckets), ...(h.customValues ? { customValues: h.customValues } : {}),
    counterResetHint: h.counterResetHint,
  };
}

type Sample = { t: number; v?: number; h?: HistogramSample };

const deleted = (t: number, stones: readonly [number, number][] | undefined) => !!stones && stones.some(([a, b]) => t >= a && t <= b);

/** The merged samples of one series from every place holding it, within [from, to]. */
export function mergeSeries(
  data: DumpData,
  places: Place[],
  from: number,
  to: number,
  stonesOf: (block: number, id: number) => [number, number][] | undefined,
  totals: SamplesResult['totals'],
): Sample[] {
  const all: Sample[] = [];
  for (const p of places) {
    if (p.series && p.block !== undefined) {
      const stones = stonesOf(p.block, p.series.id);
      const b = data.blocks[p.block];
      let chunks;
      try {
        chunks = b.block.seriesChunks(p.series);
      } catch (e) {
        // A damaged chunk (CRC, framing): Prometheus fails every query touching it; here the
        // series' other copies are still read and the damage is reported.
        if (!(e instanceof ToolError)) throw e;
        data.skipped.push({ path: b.ulid, reason: e.message });
        continue;
      }
      for (const c of chunks) {
        if (c.maxTime < from || c.minTime > to) continue;
        decodeChunk(c.encoding, c.data, (s) => {
          if (s.t < from || s.t > to) return;
          if (deleted(s.t, stones)) totals.tombstoned++;
          else all.push(s.h ? { t: s.t, h: fromChunk(s.h) } : { t: s.t, v: s.v });
        });
      }
    } else if (p.head) {
      const stones = data.head?.tombstones.get(p.headRef!);
      const one = (t: number, s: Sample) => {
        if (t < from || t > to) return;
        if (deleted(t, stones)) totals.tombstoned++;
        else all.push(s);
      };
      for (const s of p.head.floats) one(s.t, { t: s.t, v: s.v });
      for (const s of p.head.histograms) one(s.t, { t: s.t, h: fromWal(s.h, s.float) });
    }
  }
  // Stable sort: among equal timestamps the first place (blocks by ULID, then the head) wins.
  all.sort((a, b) => a.t - b.t);
  const out: Sample[] = [];
  for (const s of all) {
    if (out.length > 0 && out[out.length - 1].t === s.t) {
      totals.duplicatesDropped++;
      continue;
    }
    out.push(s);
  }
  return out;
}

export async function readSamples(params: SamplesParams, opts: SamplesOptions = {}): Promise<SamplesResult> {
  const sel = parseSelector(params.match);
  const from = params.from ?? -Infinity;
  const to = params.to ?? Infinity;
  const data = await openDumpData(params.source, {
    signal: opts.signal,
    onProgress: opts.onProgress,
    headFilter: (labels) => selectorMatches(sel, labelRecord(labels)),
  });
  const result: SamplesResult = {
    source: params.source,
    match: params.match,
    ...(params.from !== undefined ? { from: params.from } : {}),
    ...(params.to !== undefined ? { to: params.to } : {}),
    series: [],
    totals: { series: 0, floats: 0, histograms: 0, stale: 0, duplicatesDropped: 0, tombstoned: 0 },
    skipped: data.skipped,
  };
  try {
    const stoneMaps = data.blocks.map((b) => {
      const m = new Map<number, [number, number][]>();
      for (const t of b.block.tombstones) m.set(t.seriesId, [...(m.get(t.seriesId) ?? []), [t.minTime, t.maxTime]]);
      return m;
    });
    const matched = matchingSeries(data, sel);
    let n = 0;
    for (const { labels, places } of matched) {
      opts.signal?.throwIfAborted();
      if (++n % 100 === 0) opts.onProgress?.(`series ${n} of ${matched.length}`);
      const samples = mergeSeries(data, places, from, to, (b, id) => stoneMaps[b].get(id), result.totals);
      if (samples.length === 0) continue;
      const s: SeriesSamples = { labels: labelRecord(labels), floats: [], histograms: [], stale: [] };
      for (const x of samples) {
        if (x.h) {
          if (isStaleNaN(x.h.sum)) s.stale.push(x.t);
          s.histograms.push([x.t, x.h]);
        } else if (isStaleNaN(x.v!)) {
          s.stale.push(x.t);
          s.floats.push([x.t, null]);
        } else {
          s.floats.push([x.t, x.v!]);
        }
      }
      result.totals.series++;
      result.totals.floats += s.floats.length;
      result.totals.histograms += s.histograms.length;
      result.totals.stale += s.stale.length;
      if (opts.onSeries) await opts.onSeries(s);
      else result.series.push(s);
    }
  } finally {
    await data.close();
  }
  return result;
}
