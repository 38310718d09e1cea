/**
 * The sample-holdings model behind repair decisions: what each file of a dump holds (per series,
 * as time intervals with sample counts or as exact sample timestamps), which of it Prometheus 2.42
 * would actually serve from a given set of files (docs/tsdb-format.md §6, §7, §9), and how many samples
 * one holding set has that another lacks.
 *
 * A sample counts as held by a block chunk when its timestamp lies in the chunk's [minTime, maxTime]
 * (index metas carry no per-sample times); WAL samples and decoded head chunks are exact points.
 * Where an interval is only partly covered by what remains, its loss is estimated in proportion to
 * the uncovered time, minus the exact points that remain there.
 */
import { missingFirstReplayedSegment, newestCheckpoint, replayedSegments } from '../analysis/walReplay';
import type { DiagnosticCode } from '../errors';
import type { TimeRange } from '../protocol';
import { numberingGaps } from '../tsdb/blockDir';
import { mmapSequenceBreak } from '../tsdb/headChunks';

/** Inclusive [minTime, maxTime] with the number of samples in it. */
export interface IntervalPiece {
  minTime: number;
  maxTime: number;
  samples: number;
  /** Block chunk identity (`<file position>:<offset>`), so a single chunk can be blanked. */
  chunkId?: string;
  /** Histogram samples (a histogram chunk encoding, or a WAL histogram record). */
  histogram?: boolean;
}

export interface BlockModel {
  dir: string;
  /** meta.json parses: Prometheus loads the block (unless its index is fatally damaged). */
  metaReadable: boolean;
  /** From meta.json, or computed from the index when meta.json is unreadable. */
  minTime?: number;
  maxTime?: number;
  /** meta.json compaction hints (OOO blocks do not raise the head's minimum valid time). */
  hasHints: boolean;
  /** meta.json marks it deletable: Prometheus deletes it at startup (tsdb/db.go deletableBlocks). */
  deletable?: boolean;
  /** The index failed a check Prometheus makes when opening the block (startup is then fatal). */
  indexFatal: boolean;
  /** Series pieces from the index; undefined when the index could not be read. */
  series?: Map<string, IntervalPiece[]>;
}

export interface HeadRecordModel {
  offset: number;
  ref: number;
  minTime: number;
  maxTime: number;
  samples: number;
  /** Decoded sample times, when the chunk could be decoded. */
  times?: Float64Array;
  /** Out-of-order chunk (encoding bit 0x80): loaded apart, does not move the in-order m-map time. */
  ooo?: boolean;
  /** A histogram chunk encoding. */
  histogram?: boolean;
}

export interface HeadFileModel {
  path: string;
  number: number;
  headerOk: boolean;
  records: HeadRecordModel[];
  /** Offset of the first damaged record (Prometheus then drops this file and all later ones). */
  corruptAt?: number;
}

export interface WalRecordModel {
  offset: number;
  series?: { ref: number; key: string }[];
  refs?: Float64Array;
  times?: Float64Array;
  /** Histogram samples (record types 7, 8, 9, 10, 12, 13). */
  histogram?: boolean;
}

export interface WalSegmentModel {
  path: string;
  number: number;
  sizeBytes: number;
  records: WalRecordModel[];
  /** Offset after the last good record when the segment is damaged or torn (what Prometheus's repair keeps). */
  corruptAt?: number;
  /** The damage is a torn last record. */
  torn?: boolean;
}

export interface CheckpointModel {
  path: string;
  number: number;
  segments: WalSegmentModel[];
}

export interface DumpModel {
  blocks: BlockModel[];
  headFiles: HeadFileModel[];
  wal: WalSegmentModel[];
  /** Write-behind log (out-of-order samples, 2.39+): replayed into the OOO head after the WAL. */
  wbl?: WalSegmentModel[];
  checkpoints: CheckpointModel[];
}

/** The data after some edits, as Prometheus would find it. */
export interface Layout {
  blocks: { block: BlockModel; loadable: boolean; maxTime?: number; blanked?: Set<string>; indexRewritten?: boolean }[];
  headFiles: { file: HeadFileModel; number: number; cutAt?: number }[];
  wal: { seg: WalSegmentModel; number: number; cutAt?: number }[];
  checkpoints: { cp: CheckpointModel; number: number; cuts?: Map<string, number> }[];
  /** WBL segments (repair leaves them as they are). */
  wbl?: WalSegmentModel[];
}

export interface SeriesHold {
  intervals: IntervalPiece[];
  points: number[];
}
export type HoldSet = Map<string, SeriesHold>;

function holdOf(set: HoldSet, key: string): SeriesHold {
  let h = set.get(key);
  if (!h) {
    h = { intervals: [], points: [] };
    set.set(key, h);
  }
  return h;
}

/** Union of holding sets (shares the piece arrays' elements, never mutates the inputs). */
export function unionHolds(...sets: HoldSet[]): HoldSet {
  const out: HoldSet = new Map();
  for (const set of sets) {
    for (const [key, h] of set) {
      const o = holdOf(out, key);
      for (const i of h.intervals) o.intervals.push(i);
      for (const p of h.points) o.points.push(p);
    }
  }
  return out;
}

// ---- What Prometheus would refuse ----------------------------------------------------------------

/**
 * A fatal startup error Prometheus would hit. The planner decides on the structured fields (which
 * code, which file, segment or block); the message is only for people.
 */
export interface StartupFailure {
  code: Extract<
    DiagnosticCode,
    | 'head-chunks-out-of-sequence'
    | 'head-chunk-corrupt'
    | 'wal-segments-not-sequential'
    | 'wal-checkpoint-stale'
    | 'wal-record-corrupt'
    | 'index-corrupt'
  >;
  /** The file concerned (a head chunk file, a checkpoint segment). */
  file?: string;
  /** The WAL segment (or, for a stale checkpoint, the missing segment) concerned. */
  segment?: number;
  /** The checkpoint concerned (checkpoint.N). */
  checkpoint?: number;
  /** The block dir concerned. */
  block?: string;
  message: string;
}

/** Fatal startup errors Prometheus 2.42 would hit on this layout (empty: it starts). */
export function startupFailures(layout: Layout): StartupFailure[] {
  const out: StartupFailure[] = [];
  const head = [...layout.headFiles].sort((a, b) => a.number - b.number);
  for (const [prev, cur] of numberingGaps(head)) {
    out.push({
      code: 'head-chunks-out-of-sequence',
      file: cur.file.path,
      message: `found unsequential head chunk files ${pad6(prev.number)} and ${pad6(cur.number)}`,
    });
  }
  for (const h of head)
    if (!h.file.headerOk)
      out.push({ code: 'head-chunk-corrupt', file: h.file.path, message: `head chunk file ${pad6(h.number)} has a bad header` });
  const wal = [...layout.wal].sort((a, b) => a.number - b.number);
  const walGap = numberingGaps(wal)[0];
  if (walGap) {
    const [a, b] = walGap;
    out.push({
      code: 'wal-segments-not-sequential',
      segment: b.number,
      message: `segments are not sequential (${pad8(a.number)} then ${pad8(b.number)})`,
    });
  }
  const cp = newestCheckpoint(layout.checkpoints);
  const missing = missingFirstReplayedSegment(wal.map((w) => w.number), cp?.number);
  if (cp && missing !== undefined) {
    out.push({
      code: 'wal-checkpoint-stale',
      checkpoint: cp.number,
      segment: missing,
      message: `checkpoint.${pad8(cp.number)} is not followed by segment ${pad8(missing)}`,
    });
  }
  if (cp) {
    for (const s of cp.cp.segments) {
      const cut = cp.cuts?.get(s.path);
      if (s.corruptAt !== undefined && (cut === undefined || cut > s.corruptAt)) {
        out.push({
          code: 'wal-record-corrupt',
          checkpoint: cp.number,
          file: s.path,
          message: `backfill checkpoint: ${s.path} is damaged at byte ${s.corruptAt}`,
        });
      }
    }
  }
  for (const b of layout.blocks)
    if (b.loadable && b.block.indexFatal && !b.indexRewritten)
      out.push({ code: 'index-corrupt', block: b.block.dir, message: `corrupted block ${b.block.dir}` });
  return out;
}

export const pad6 = (n: number): string => String(n).padStart(6, '0');
export const pad8 = (n: number): string => String(n).padStart(8, '0');

// ---- What Prometheus would serve -----------------------------------------------------------------

/** Minimum valid time of the head: the largest maxTime among loaded in-order blocks. */
export function minValidTime(layout: Layout): number {
  let t = -Infinity;
  for (const b of layout.blocks) {
    if (b.loadable && (!b.block.indexFatal || b.indexRewritten) && !b.block.hasHints && b.maxTime !== undefined)
      t = Math.max(t, b.maxTime);
  }
  return t;
}

interface ReplayedRecord {
  rec: WalRecordModel;
}

/** WAL records Prometheus replays: the newest checkpoint, then segments after it, stopping at damage. */
function replayedWal(layout: Layout): ReplayedRecord[] {
  const out: ReplayedRecord[] = [];
  const cp = newestCheckpoint(layout.checkpoints);
  if (cp) for (const s of [...cp.cp.segments].sort((a, b) => a.number - b.number)) for (const rec of s.records) out.push({ rec });
  const after = replayedSegments(layout.wal, cp?.number);
  for (const w of after) {
    const limit = w.cutAt ?? Infinity;
    const damaged = w.seg.corruptAt !== undefined && w.seg.corruptAt < limit;
    const end = damaged ? w.seg.corruptAt! : limit;
    for (const rec of w.seg.records) if (rec.offset < end) out.push({ rec });
    // Prometheus's WAL repair deletes every later segment.
    if (damaged) break;
  }
  return out;
}

/** What Prometheus would serve from this layout (assuming it starts). */
export function servedBy(layout: Layout): HoldSet {
  const out: HoldSet = new Map();
  const minValid = minValidTime(layout);
  for (const b of layout.blocks) {
    if (!b.loadable || (b.block.indexFatal && !b.indexRewritten) || !b.block.series) continue;
    for (const [key, pieces] of b.block.series) {
      const h = holdOf(out, key);
      for (const p of pieces) if (!(p.chunkId && b.blanked?.has(p.chunkId))) h.intervals.push(p);
    }
  }
  const replay = replayedWal(layout);
  const refs = new Map<number, string>();
  for (const { rec } of replay) if (rec.series) for (const s of rec.series) refs.set(s.ref, s.key);

  // m-mapped head chunks, files in order. A damaged record drops its file and all later ones; an
  // out-of-sequence chunk (up to and in the damaged file) drops them all (docs/tsdb-format.md §6,
  // the one check: tsdb/headChunks mmapSequenceBreak). The WAL refills either.
  const head = [...layout.headFiles].sort((a, b) => a.number - b.number);
  const readable = head.map((f) => {
    const cut = f.cutAt ?? Infinity;
    const corrupt = f.file.corruptAt ?? Infinity;
    return { records: f.file.records.filter((r) => r.offset < Math.min(cut, corrupt)), damaged: corrupt < cut };
  });
  const firstDamaged = readable.findIndex((f) => f.damaged);
  const checked = firstDamaged < 0 ? readable : readable.slice(0, firstDamaged + 1);
  const inOrder = checked.map((f) => f.records.filter((r) => !r.ooo).flatMap((r) => [r.ref, r.minTime, r.maxTime]));
  const outOfSequence = mmapSequenceBreak(inOrder, minValid);
  const mmMax = new Map<number, number>();
  const loaded: HeadRecordModel[] = [];
  if (!outOfSequence) {
    for (const f of firstDamaged < 0 ? readable : readable.slice(0, firstDamaged)) {
      for (const r of f.records) {
        if (r.ooo) loaded.push(r);
        else if (r.maxTime >= minValid) {
          loaded.push(r);
          mmMax.set(r.ref, r.maxTime);
        }
      }
    }
  }
  for (const r of loaded) {
    const key = refs.get(r.ref);
    if (key === undefined) continue;
    const h = holdOf(out, key);
    if (r.times) for (const t of r.times) h.points.push(t);
    else h.intervals.push({ minTime: r.minTime, maxTime: r.maxTime, samples: r.samples });
  }

  for (const { rec } of replay) {
    if (!rec.refs || !rec.times) continue;
    for (let i = 0; i < rec.refs.length; i++) {
      const t = rec.times[i];
      const ref = rec.refs[i];
      if (t < minValid) continue;
      const key = refs.get(ref);
      if (key === undefined) continue;
      const mm = mmMax.get(ref);
      if (mm !== undefined && t <= mm) continue;
      holdOf(out, key).points.push(t);
    }
  }

  // The WBL replays into the out-of-order head (tsdb/head_wal.go loadWBL), up to its first damage;
  // no minimum valid time applies to it. Points are a set, so what OOO head chunks hold counts once.
  for (const seg of [...(layout.wbl ?? [])].sort((a, b) => a.number - b.number)) {
    for (const rec of seg.records) {
      if (!rec.refs || !rec.times) continue;
      for (let i = 0; i < rec.refs.length; i++) {
        const key = refs.get(rec.refs[i]);
        if (key !== undefined) holdOf(out, key).points.push(rec.times[i]);
      }
    }
    if (seg.corruptAt !== undefined) break;
  }
  return out;
}

/**
 * The first head chunk file (in number order) holding an in-order chunk that starts at or before
 * the end of the previous chunk of its series (chunks ending before minValid skipped, as
 * Prometheus does): "out of sequence m-mapped chunk". Undefined when the files are in sequence.
 */
export function mmapOutOfSequence(files: { file: HeadFileModel; number: number }[], minValid = -Infinity): HeadFileModel | undefined {
  const sorted = [...files].sort((a, b) => a.number - b.number);
  if (sorted.some((f) => !f.file.headerOk || f.file.corruptAt !== undefined)) return undefined;
  const triples = sorted.map((f) => f.file.records.filter((r) => !r.ooo).flatMap((r) => [r.ref, r.minTime, r.maxTime]));
  const hit = mmapSequenceBreak(triples, minValid);
  return hit ? sorted[hit.file].file : undefined;
}

/** Series refs → label keys from every series record anywhere (checkpoints and segments). */
export function allSeriesRefs(model: DumpModel): Map<number, string> {
  const refs = new Map<number, string>();
  const add = (s: WalSegmentModel) => {
    for (const rec of s.records) if (rec.series) for (const x of rec.series) refs.set(x.ref, x.key);
  };
  for (const cp of [...model.checkpoints].sort((a, b) => a.number - b.number)) for (const s of cp.segments) add(s);
  for (const s of [...model.wal].sort((a, b) => a.number - b.number)) add(s);
  return refs;
}

export interface RawSelection {
  blocks?: Iterable<BlockModel>;
  /** Only these chunks of a block (by chunkId). */
  chunks?: { block: BlockModel; chunkIds: Set<string> }[];
  headFiles?: Iterable<{ file: HeadFileModel; from?: number }>;
  wal?: Iterable<{ seg: WalSegmentModel; from?: number }>;
}

/** Label keys of the series that hold histogram samples anywhere in the dump. */
export function histogramSeries(model: DumpModel): Set<string> {
  const out = new Set<string>();
  const refs = allSeriesRefs(model);
  for (const b of model.blocks) for (const [key, pieces] of b.series ?? []) if (pieces.some((p) => p.histogram)) out.add(key);
  for (const f of model.headFiles) for (const r of f.records) if (r.histogram && refs.has(r.ref)) out.add(refs.get(r.ref)!);
  for (const s of [...model.wal, ...(model.wbl ?? []), ...model.checkpoints.flatMap((c) => c.segments)])
    for (const rec of s.records) if (rec.histogram && rec.refs) for (const r of rec.refs) if (refs.has(r)) out.add(refs.get(r)!);
  return out;
}

/** The part of a holding set that belongs to the given series. */
export function onlySeries(set: HoldSet, keys: Set<string>): HoldSet {
  const out: HoldSet = new Map();
  for (const [k, h] of set) if (keys.has(k)) out.set(k, h);
  return out;
}

/**
 * Samples whose series ref no series record declares (lost with a damaged checkpoint, say) are
 * still counted as held, under this pseudo label set: Prometheus never serves them.
 */
export function unknownSeries(ref: number): string {
  return `{__unknown_series_ref__="${ref}"}`;
}

/** Everything the selected files hold, whatever Prometheus would do with it. `from` selects records at or after an offset. */
export function rawHoldings(sel: RawSelection, refs: Map<number, string>, unknownFrom = -Infinity): HoldSet {
  const out: HoldSet = new Map();
  // Samples of undeclared series are counted only where no block could hold them under their real name.
  const holdFor = (ref: number, t: number): SeriesHold | undefined => {
    const key = refs.get(ref);
    if (key !== undefined) return holdOf(out, key);
    return t >= unknownFrom ? holdOf(out, unknownSeries(ref)) : undefined;
  };
  for (const b of sel.blocks ?? []) {
    if (!b.series) continue;
    for (const [key, pieces] of b.series) for (const p of pieces) holdOf(out, key).intervals.push(p);
  }
  for (const { block, chunkIds } of sel.chunks ?? []) {
    if (!block.series) continue;
    for (const [key, pieces] of block.series)
      for (const p of pieces) if (p.chunkId && chunkIds.has(p.chunkId)) holdOf(out, key).intervals.push(p);
  }
  for (const { file, from } of sel.headFiles ?? []) {
    for (const r of file.records) {
      if (from !== undefined && r.offset < from) continue;
      if (r.times) {
        for (const t of r.times) holdFor(r.ref, t)?.points.push(t);
      } else holdFor(r.ref, r.maxTime)?.intervals.push({ minTime: r.minTime, maxTime: r.maxTime, samples: r.samples });
    }
  }
  for (const { seg, from } of sel.wal ?? []) {
    for (const rec of seg.records) {
      if (from !== undefined && rec.offset < from) continue;
      if (!rec.refs || !rec.times) continue;
      for (let i = 0; i < rec.refs.length; i++) holdFor(rec.refs[i], rec.times[i])?.points.push(rec.times[i]);
    }
  }
  return out;
}

/** Every sample held by any file of the dump. */
export function allHoldings(model: DumpModel): HoldSet {
  const refs = allSeriesRefs(model);
  const newestBlockEnd = newestBlockEndOf(model);
  return rawHoldings(
    {
      blocks: model.blocks,
      headFiles: model.headFiles.map((file) => ({ file })),
      wal: [...model.wal, ...(model.wbl ?? []), ...model.checkpoints.flatMap((c) => c.segments)].map((seg) => ({ seg })),
    },
    refs,
    newestBlockEnd,
  );
}

/** Largest maxTime among in-order blocks (readable or not). */
export function newestBlockEndOf(model: DumpModel): number {
  return model.blocks.reduce((m, b) => (b.hasHints || b.maxTime === undefined ? m : Math.max(m, b.maxTime)), -Infinity);
}

// ---- Loss ----------------------------------------------------------------------------------------

export interface Loss {
  samples: number;
  series: number;
  ranges: TimeRange[];
  perSeries: { series: string; samples: number; ranges: TimeRange[] }[];
}

type Span = [number, number];

function mergeSpans(spans: Span[]): Span[] {
  const sorted = spans.filter((s) => s[0] <= s[1]).sort((a, b) => a[0] - b[0]);
  const out: Span[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s[0] <= last[1] + 1) last[1] = Math.max(last[1], s[1]);
    else out.push([s[0], s[1]]);
  }
  return out;
}

function inSpans(spans: Span[], t: number): boolean {
  let lo = 0;
  let hi = spans.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (t < spans[mid][0]) hi = mid - 1;
    else if (t > spans[mid][1]) lo = mid + 1;
    else return true;
  }
  return false;
}

/** [a, b] minus the merged spans (sorted, disjoint). */
function subtractSpans(a: number, b: number, spans: Span[]): Span[] {
  const out: Span[] = [];
  let cur = a;
  // First span that ends at or after a.
  let lo = 0;
  let hi = spans.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (spans[mid][1] < a) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < spans.length; i++) {
    const [x, y] = spans[i];
    if (y < cur) continue;
    if (x > b) break;
    if (x > cur) out.push([cur, Math.min(b, x - 1)]);
    cur = Math.max(cur, y + 1);
    if (cur > b) break;
  }
  if (cur <= b) out.push([cur, b]);
  return out;
}

function countIn(sorted: Float64Array, a: number, b: number): number {
  return lowerBound(sorted, b + 1) - lowerBound(sorted, a);
}

function lowerBound(sorted: Float64Array, t: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function sortedUnique(points: number[]): Float64Array {
  const a = Float64Array.from(points).sort();
  let n = 0;
  for (let i = 0; i < a.length; i++) if (i === 0 || a[i] !== a[i - 1]) a[n++] = a[i];
  return a.subarray(0, n);
}

/** Ranges that lie closer than this are reported as one. */
const RANGE_JOIN_MS = 60_000;

function joinRanges(ranges: TimeRange[]): TimeRange[] {
  const sorted = [...ranges].sort((a, b) => a.from - b.from);
  const out: TimeRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to + RANGE_JOIN_MS) last.to = Math.max(last.to, r.to);
    else out.push({ ...r });
  }
  return out;
}

/** Samples of `have` that `keep` does not hold. Ranges are [from, to) in ms. */
export function lossOf(have: HoldSet, keep: HoldSet): Loss {
  let samples = 0;
  const perSeries: Loss['perSeries'] = [];
  const all: TimeRange[] = [];
  for (const [key, h] of have) {
    const k = keep.get(key);
    const keepSpans = mergeSpans((k?.intervals ?? []).map((p) => [p.minTime, p.maxTime] as Span));
    const keepPoints = sortedUnique(k?.points ?? []);
    const havePoints = sortedUnique(h.points);
    const lostPoints: number[] = [];
    for (const t of havePoints) {
      if (inSpans(keepSpans, t)) continue;
      if (countIn(keepPoints, t, t) > 0) continue;
      lostPoints.push(t);
    }
    const lostSorted = Float64Array.from(lostPoints);
    let seriesLoss = lostPoints.length;
    const ranges: TimeRange[] = pointRanges(lostPoints);
    // Pieces of `have` already counted (sorted by start, merged as they come).
    const counted: Span[] = [];
    for (const p of [...h.intervals].sort((a, b) => a.minTime - b.minTime)) {
      const uncovered = subtractSpans(p.minTime, p.maxTime, keepSpans).flatMap(([x, y]) => subtractSpans(x, y, counted));
      const last = counted[counted.length - 1];
      if (last && p.minTime <= last[1] + 1) last[1] = Math.max(last[1], p.maxTime);
      else counted.push([p.minTime, p.maxTime]);
      if (uncovered.length === 0) continue;
      const width = p.maxTime - p.minTime + 1;
      const open = uncovered.reduce((s, [x, y]) => s + (y - x + 1), 0);
      const estimate = Math.round((p.samples * open) / width);
      let elsewhere = 0;
      for (const [x, y] of uncovered) elsewhere += countIn(keepPoints, x, y) + countIn(lostSorted, x, y);
      const lost = Math.max(0, estimate - elsewhere);
      if (lost > 0) {
        seriesLoss += lost;
        for (const [x, y] of uncovered) ranges.push({ from: x, to: y + 1 });
      }
    }
    if (seriesLoss > 0) {
      samples += seriesLoss;
      const joined = joinRanges(ranges);
      perSeries.push({ series: key, samples: seriesLoss, ranges: joined });
      all.push(...joined);
    }
  }
  perSeries.sort((a, b) => b.samples - a.samples || (a.series < b.series ? -1 : 1));
  return { samples, series: perSeries.length, ranges: joinRanges(all), perSeries };
}

function pointRanges(sorted: number[]): TimeRange[] {
  const out: TimeRange[] = [];
  for (const t of sorted) {
    const last = out[out.length - 1];
    if (last && t <= last.to + RANGE_JOIN_MS) last.to = t + 1;
    else out.push({ from: t, to: t + 1 });
  }
  return out;
}

/** Number of distinct samples in a holding set. */
export function countHeld(set: HoldSet): number {
  return lossOf(set, new Map()).samples;
}

/** `{a="b",c="d"}` with __name__ in front, as Prometheus prints a series. */
export function seriesKey(labels: [string, string][]): string {
  const sorted = [...labels].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const name = sorted.find(([n]) => n === '__name__')?.[1] ?? '';
  const rest = sorted.filter(([n]) => n !== '__name__').map(([n, v]) => `${n}=${JSON.stringify(v)}`);
  return `${name}{${rest.join(',')}}`;
}
