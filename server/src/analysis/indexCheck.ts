/**
 * Reads a block index and cross-checks its chunk refs against the block's chunk segments (refs must
 * land on a chunk start; CRC-damaged chunks get their owning series). Pure over bytes, so it runs
 * either in-process or in indexWorker.ts beside the archive reader.
 */
import { readIndex, type IndexSeries, type IndexSummary } from '../tsdb/index';
import type { ByteSource, Verify } from '../tsdb/types';

/** At most this many examples are kept per kind. */
export const MAX_EXAMPLES = 5;

export interface IndexCheckSegment {
  name: string;
  size: number;
  /** Chunk start offsets, ascending (undefined when the segment could not be scanned). */
  offsets?: Uint32Array;
  /** Starts of CRC-damaged chunks. */
  bad: number[];
}

export interface SeriesRange {
  series: string;
  minTime: number;
  maxTime: number;
}

export interface IndexCheckResult {
  summary?: IndexSummary;
  /** The parser failed outright (it should not). */
  error?: string;
  refsOutOfRange: (SeriesRange & { ref: bigint; reason: string })[];
  refsOutOfRangeCount: number;
  /** Owners of damaged chunks, by segment position and chunk start. */
  badOwners: { pos: number; start: number; owners: SeriesRange[] }[];
}

export function labelsText(labels: [string, string][]): string {
  const name = labels.find(([k]) => k === '__name__')?.[1] ?? '';
  const rest = labels.filter(([k]) => k !== '__name__').map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `${name}{${rest.join(',')}}`;
}

export function containsSorted(a: Uint32Array, v: number): boolean {
  let lo = 0;
  let hi = a.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const x = a[mid];
    if (x === v) return true;
    if (x < v) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** segments: the block's chunk files in number order (a ref's upper half is the position). */
export function checkIndex(src: ByteSource, verify: Verify, segments: IndexCheckSegment[]): IndexCheckResult {
  const result: IndexCheckResult = { refsOutOfRange: [], refsOutOfRangeCount: 0, badOwners: [] };
  const badByPos = new Map<number, Map<number, SeriesRange[]>>();
  segments.forEach((seg, pos) => {
    for (const start of seg.bad) {
      const owners: SeriesRange[] = [];
      const m = badByPos.get(pos) ?? new Map<number, SeriesRange[]>();
      m.set(start, owners);
      badByPos.set(pos, m);
      result.badOwners.push({ pos, start, owners });
    }
  });
  const onSeries = (s: IndexSeries) => {
    for (const c of s.chunks) {
      // Number arithmetic is exact here (refs < 2^53) and much cheaper than BigInt shifts.
      const refN = Number(c.ref);
      const pos = Math.floor(refN / 0x100000000);
      const off = refN % 0x100000000;
      const seg = segments[pos];
      let reason: string | undefined;
      if (!seg) reason = `segment index ${pos} out of range`;
      else if (seg.offsets && !containsSorted(seg.offsets, off)) {
        reason =
          off >= seg.size
            ? `segment doesn't include enough bytes to read the chunk - required:${off}, available:${seg.size}`
            : `offset ${off} is not the start of a chunk in chunks/${seg.name}`;
      }
      if (reason) {
        result.refsOutOfRangeCount++;
        if (result.refsOutOfRange.length < MAX_EXAMPLES)
          result.refsOutOfRange.push({ series: labelsText(s.labels), ref: c.ref, minTime: c.minTime, maxTime: c.maxTime, reason });
        continue;
      }
      const owners = badByPos.size > 0 ? badByPos.get(pos)?.get(off) : undefined;
      if (owners && owners.length < MAX_EXAMPLES) owners.push({ series: labelsText(s.labels), minTime: c.minTime, maxTime: c.maxTime });
    }
  };
  try {
    result.summary = readIndex(src, { verify, onSeries });
  } catch (e) {
    result.error = e instanceof Error ? e.message : String(e);
  }
  return result;
}
