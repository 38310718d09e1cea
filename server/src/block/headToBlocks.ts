/**
 * Head to blocks, offline: the float samples of a data dir's WAL (its latest checkpoint, then the
 * segments after it) written as blocks, one per 2-hour range as head compaction cuts them, so a
 * dump keeps its head data wherever it is restored. What Prometheus's replay would not serve is
 * left out and counted: samples below the newest block's maxTime (replay drops them as out of
 * bounds), samples under a WAL tombstone, samples of series whose record is missing. Histogram
 * samples are counted but not converted (the WAL reader does not decode their values), nor is
 * the out-of-order WBL. The m-mapped head chunks are not read: the WAL after the checkpoint holds
 * the same samples (chunks_head only spares Prometheus the WAL decoding at startup).
 *
 * Memory holds the head's samples (16 bytes each) until they are written: a head covers about
 * three hours, so this is bounded by the WAL, never by the block chunks.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseMetaJson } from '../tsdb/metaJson';
import { isUlid } from '../tsdb/blockDir';
import { createWalSegmentScanner, parseCheckpointName, parseWalSegmentName, type WalRecord } from '../tsdb/wal';
import { compareLabelSets, compareStrings } from '../tsdb/order';
import { encodeXor } from '../tsdb/write/xorEncoder';
import { symbolsOf } from '../tsdb/write/indexWriter';
import type { XorSample } from '../tsdb/chunkenc';
import { writeBlockIfAny, type WriteSeries, type WrittenBlock } from './writeBlock';

/** tsdb's default block range (2 h) and the head's chunk size (120 samples, tsdb/head_append.go). */
export const HEAD_BLOCK_RANGE = 2 * 3600_000;
const SAMPLES_PER_CHUNK = 120;

export interface HeadToBlocksResult {
  blocks: WrittenBlock[];
  samplesWritten: number;
  /** Series with at least one sample written. */
  series: number;
  /** WAL files read, in replay order (`checkpoint.N/…`, then segments). */
  files: string[];
  left: {
    /** Below the newest block's maxTime: Prometheus's replay drops them too. */
    belowBlocks: number;
    tombstoned: number;
    /** Samples of refs without a series record (e.g. after a missing segment). */
    unknownSeries: number;
    /** The same series and timestamp twice: the first one counts, as in the head. */
    duplicates: number;
    histograms: number;
  };
  /** WAL damage and gaps met (reading goes on with the next file). */
  problems: string[];
}

export function headToBlocks(dataDir: string, opts: { parentDir: string; sync?: boolean; blockRange?: number }): HeadToBlocksResult {
  const range = opts.blockRange ?? HEAD_BLOCK_RANGE;
  const result: HeadToBlocksResult = {
    blocks: [],
    samplesWritten: 0,
    series: 0,
    files: [],
    left: { belowBlocks: 0, tombstoned: 0, unknownSeries: 0, duplicates: 0, histograms: 0 },
    problems: [],
  };
  const walDir = path.join(dataDir, 'wal');
  if (!existsSync(walDir)) return result;

  // Replay order (tsdb/head.go Init): the newest checkpoint, then the segments numbered above it.
  const names = readdirSync(walDir);
  const checkpoints = names
    .map((n) => [n, parseCheckpointName(n)] as const)
    .filter((x): x is [string, number] => x[1] !== undefined)
    .sort((a, b) => a[1] - b[1]);
  const cp = checkpoints[checkpoints.length - 1];
  const files: string[] = [];
  if (cp) {
    for (const n of readdirSync(path.join(walDir, cp[0]))
      .filter((x) => parseWalSegmentName(x) !== undefined)
      .sort())
      files.push(path.join(cp[0], n));
  }
  const segments = names
    .map((n) => [n, parseWalSegmentName(n)] as const)
    .filter((x): x is [string, number] => x[1] !== undefined && (!cp || x[1] > cp[1]))
    .sort((a, b) => a[1] - b[1]);
  segments.forEach(([n, i], k) => {
    if (k > 0 && i !== segments[k - 1][1] + 1) result.problems.push(`segments are not sequential: ${segments[k - 1][0]} then ${n}`);
    files.push(n);
  });

  const labelsOf = new Map<number, [string, string][]>();
  const samples = new Map<number, { t: number[]; v: number[] }>();
  const stones = new Map<number, [number, number][]>();
  const onRecord = (r: WalRecord) => {
    if (r.type === 'series') {
      for (const s of r.series) labelsOf.set(s.ref, [...s.labels].sort((a, b) => compareStrings(a[0], b[0])));
    } else if (r.type === 'samples') {
      for (const s of r.samples) {
        let list = samples.get(s.ref);
        if (!list) samples.set(s.ref, (list = { t: [], v: [] }));
        list.t.push(s.t);
        list.v.push(s.v);
      }
    } else if (r.type === 'tombstones') {
      for (const t of r.tombstones) stones.set(t.ref, [...(stones.get(t.ref) ?? []), [t.minTime, t.maxTime]]);
    } else if (r.type === 'histograms') {
      result.left.histograms += r.samples.length;
    }
  };
  for (const f of files) {
    const scanner = createWalSegmentScanner({ onRecord });
    scanner.push(readFileSync(path.join(walDir, f)));
    const summary = scanner.end();
    for (const p of summary.problems) if (!p.torn || f !== files[files.length - 1]) result.problems.push(`${f}: ${p.message}`);
  }
  result.files = files;

  // Replay drops samples below the head's minValidTime: the newest block's maxTime.
  let minValid = -Infinity;
  for (const n of readdirSync(dataDir).filter(isUlid)) {
    const metaFile = path.join(dataDir, n, 'meta.json');
    if (!existsSync(metaFile)) continue;
    const m = parseMetaJson(readFileSync(metaFile));
    if (m.ok && !m.meta.compaction.deletable) minValid = Math.max(minValid, m.meta.maxTime);
  }

  // Per block range: series → samples, in order.
  const windows = new Map<number, { labels: [string, string][]; samples: XorSample[] }[]>();
  const written = new Set<number>();
  for (const [ref, list] of samples) {
    const labels = labelsOf.get(ref);
    if (!labels) {
      result.left.unknownSeries += list.t.length;
      continue;
    }
    const order = list.t.map((_, i) => i).sort((a, b) => list.t[a] - list.t[b] || a - b);
    const del = stones.get(ref) ?? [];
    let prev = -Infinity;
    let current: { window: number; samples: XorSample[] } | undefined;
    for (const i of order) {
      const t = list.t[i];
      if (t === prev) {
        result.left.duplicates++;
        continue;
      }
      prev = t;
      if (t < minValid) {
        result.left.belowBlocks++;
        continue;
      }
      if (del.some(([a, b]) => t >= a && t <= b)) {
        result.left.tombstoned++;
        continue;
      }
      const w = Math.floor(t / range) * range;
      if (!current || current.window !== w) {
        current = { window: w, samples: [] };
        const list2 = windows.get(w) ?? [];
        list2.push({ labels, samples: current.samples });
        windows.set(w, list2);
      }
      current.samples.push({ t, v: list.v[i] });
      written.add(ref);
    }
  }

  for (const w of [...windows.keys()].sort((a, b) => a - b)) {
    const series = windows.get(w)!.sort((a, b) => compareLabelSets(a.labels, b.labels));
    let minT = Infinity;
    let maxT = -Infinity;
    for (const s of series) {
      minT = Math.min(minT, s.samples[0].t);
      maxT = Math.max(maxT, s.samples[s.samples.length - 1].t);
    }
    const toWrite = function* (): Generator<WriteSeries> {
      for (const s of series) {
        const chunks = [];
        for (let i = 0; i < s.samples.length; i += SAMPLES_PER_CHUNK) {
          const part = s.samples.slice(i, i + SAMPLES_PER_CHUNK);
          chunks.push({ minTime: part[0].t, maxTime: part[part.length - 1].t, encoding: 1, data: encodeXor(part) });
        }
        yield { labels: s.labels, chunks };
      }
    };
    // maxTime = last sample + 1, as promtool's backfill: a range end beyond the data would make a
    // restored Prometheus reject new samples up to it (the head starts at the newest block's maxTime).
    const block = writeBlockIfAny({
      parentDir: opts.parentDir,
      minTime: minT,
      maxTime: maxT + 1,
      symbols: symbolsOf(series.map((s) => s.labels)),
      series: toWrite(),
      sync: opts.sync,
    });
    if (block) {
      result.blocks.push(block);
      result.samplesWritten += block.meta.stats?.numSamples ?? 0;
    }
  }
  result.series = written.size;
  return result;
}
