/**
 * Differential test of `samples --json` (and `series --json`) against real Prometheus: started on
 * a copy of each scenario's data dir, Prometheus is asked for `{__name__=~".+"}[range]` at the end
 * of the data, and every series' floats (timestamp, value) and native histograms (count, sum and
 * every non-empty bucket with its bounds) must equal what the CLI reads from the dump itself.
 * Range queries leave staleness markers out (promql/engine.go), so the CLI's stale samples are
 * compared apart: they must be the only samples Prometheus does not serve.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dataDir, dataDir3, dumpPath, dumpPath3, ensureFixtures, prometheus3Bin, type Scenario, type Scenario3 } from '../helpers/fixtures';
import { servedAll, startPrometheus, type ServedHistogram, type StartOptions } from '../helpers/prometheus';
import { ensureCli, runCli } from './cliHelpers';
import type { HistogramSample, SamplesResult, SeriesResult } from '../../server/src/protocol';

let work: string;
before(() => {
  ensureCli();
  ensureFixtures();
  work = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-samples-'));
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

type JsonHistogram = Omit<HistogramSample, 'sum' | 'count'> & { sum: number | string; count: number | string };
interface JsonSeries {
  labels: Record<string, string>;
  floats: [number, number | string | null][];
  histograms: [number, JsonHistogram][];
  stale: number[];
}

async function samplesJson(source: string, match = '{__name__=~".+"}'): Promise<SamplesResult & { series: JsonSeries[] }> {
  const r = await runCli(['samples', source, '--match', match, '--json'], { timeoutMs: 300_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as SamplesResult & { series: JsonSeries[] };
}

const keyOf = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** Non-empty buckets of a histogram as [lower, upper, count] (model/histogram: getBound, custom bounds for schema −53). */
function buckets(h: JsonHistogram): [number, number, number][] {
  const out: [number, number, number][] = [];
  const custom = h.schema === -53;
  const base = 2 ** (2 ** -h.schema);
  const bound = (i: number) => (custom ? (i < (h.customValues ?? []).length ? h.customValues![i] : Infinity) : base ** i);
  const walk = (spans: { offset: number; length: number }[], counts: number[], negative: boolean) => {
    let idx = 0;
    let k = 0;
    spans.forEach((s) => {
      idx += s.offset;
      for (let j = 0; j < s.length; j++, k++, idx++) {
        const c = counts[k];
        if (c === 0) continue;
        if (custom) out.push([idx === 0 ? -Infinity : bound(idx - 1), bound(idx), c]);
        else if (negative) out.push([-bound(idx), -bound(idx - 1), c]);
        else out.push([bound(idx - 1), bound(idx), c]);
      }
    });
  };
  walk(h.negativeSpans, h.negativeBuckets, true);
  if (h.zeroCount > 0) out.push([-h.zeroThreshold, h.zeroThreshold, h.zeroCount]);
  walk(h.positiveSpans, h.positiveBuckets, false);
  return out.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

const close = (a: number, b: number) => a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
const num = (s: string | number) => (typeof s === 'number' ? s : s === '+Inf' ? Infinity : s === '-Inf' ? -Infinity : Number(s));

function sameHistogram(ours: JsonHistogram, theirs: ServedHistogram, where: string): void {
  assert.ok(close(num(ours.count), num(theirs.count)), `${where}: count ${ours.count} vs ${theirs.count}`);
  const s1 = num(ours.sum);
  const s2 = num(theirs.sum);
  assert.ok((Number.isNaN(s1) && Number.isNaN(s2)) || close(s1, s2), `${where}: sum ${ours.sum} vs ${theirs.sum}`);
  const b1 = buckets(ours);
  const b2 = (theirs.buckets ?? []).map(([, lo, hi, c]) => [num(lo), num(hi), num(c)] as [number, number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  assert.equal(b1.length, b2.length, `${where}: ${b1.length} vs ${b2.length} buckets: ${JSON.stringify(b1)} vs ${JSON.stringify(b2)}`);
  b1.forEach((b, i) => assert.ok(b.every((x, j) => close(x, b2[i][j])), `${where}: bucket ${JSON.stringify(b)} vs ${JSON.stringify(b2[i])}`));
}

/** Compares one Prometheus run with the CLI's samples; returns how many samples (and of them histograms) were compared. */
async function compare(data: string, source: string, binary: string, opts: StartOptions = {}): Promise<{ n: number; h: number }> {
  const ours = await samplesJson(source);
  let minT = Infinity;
  let maxT = -Infinity;
  for (const s of ours.series) {
    for (const [t] of [...s.floats, ...s.histograms]) {
      minT = Math.min(minT, t);
      maxT = Math.max(maxT, t);
    }
  }
  assert.ok(ours.series.length > 0, 'the CLI read no series');
  const run = mkdtempSync(path.join(work, 'run-'));
  cpSync(data, run, { recursive: true });
  const prom = await startPrometheus(run, binary, opts);
  let theirs;
  try {
    // (to - range, to] in 3.x, [to - range, to] in 2.x: a range one second wider covers both.
    theirs = await servedAll(prom.port, maxT, maxT - minT + 1000);
  } finally {
    await prom.stop();
  }
  let compared = 0;
  let histograms = 0;
  const seen = new Set<string>();
  for (const s of ours.series) {
    const key = keyOf(s.labels);
    seen.add(key);
    const stale = new Set(s.stale);
    const floats = s.floats.filter(([t]) => !stale.has(t)).map(([t, v]) => [t, String(v === null ? 'NaN' : v)]);
    const hists = s.histograms.filter(([t]) => !stale.has(t));
    const p = theirs.get(key);
    if (floats.length + hists.length === 0) {
      assert.equal(p, undefined, `${key}: only staleness markers here, Prometheus serves samples`);
      continue;
    }
    assert.ok(p, `${key}: Prometheus serves no such series`);
    // Prometheus formats floats with strconv 'f' -1; JS String() may use exponents: compare as numbers.
    assert.equal(floats.length, p.values.length, `${key}: ${floats.length} floats vs ${p.values.length} served`);
    floats.forEach(([t, v], i) => {
      assert.equal(t, p.values[i][0], `${key}: float ${i} timestamp`);
      const a = Number(v);
      const b = Number(p.values[i][1]);
      assert.ok((Number.isNaN(a) && Number.isNaN(b)) || a === b, `${key} @${t}: ${v} vs ${p.values[i][1]}`);
    });
    assert.equal(hists.length, p.histograms.length, `${key}: ${hists.length} histograms vs ${p.histograms.length} served`);
    hists.forEach(([t, h], i) => {
      assert.equal(t, p.histograms[i][0], `${key}: histogram ${i} timestamp`);
      sameHistogram(h, p.histograms[i][1], `${key} @${t}`);
    });
    compared += floats.length + hists.length;
    histograms += hists.length;
  }
  for (const key of theirs.keys()) assert.ok(seen.has(key), `Prometheus serves ${key}, the CLI does not`);
  return { n: compared, h: histograms };
}

describe('samples: the dump read by tsdbdump equals what real Prometheus 2.42 serves', () => {
  const expected: Partial<Record<Scenario, number>> = { healthy: 372000, overlap: 372000, 'no-blocks': 30000 };
  for (const s of ['healthy', 'overlap', 'meta-bad', 'no-blocks'] as const) {
    test(s, async () => {
      const { n } = await compare(dataDir(s), dumpPath(s), 'prometheus');
      if (expected[s] !== undefined) assert.equal(n, expected[s]);
    });
  }
});

describe('samples: 3.16 data with native histograms, OOO and a zstd WAL', () => {
  const native: StartOptions = {
    config: 'storage:\n  tsdb:\n    out_of_order_time_window: 6h\n',
    flags: ['--storage.tsdb.wal-compression-type=zstd', '--enable-feature=st-storage,fast-startup'],
  };
  for (const s of ['healthy', 'native'] as Scenario3[]) {
    test(s, async () => {
      const bin = path.join(prometheus3Bin('3.16.0'), 'prometheus');
      const { n, h } = await compare(dataDir3('3.16.0', s), dumpPath3('3.16.0', s), bin, s === 'native' ? native : {});
      assert.equal(n, s === 'native' ? 16720 : 372000);
      assert.equal(h, s === 'native' ? 7600 : 0, 'histogram samples compared');
    });
  }
});

describe('series', () => {
  test('healthy: series, metrics and label cardinality; a selector narrows them; a bad one is reported with its position', async () => {
    const r = await runCli(['series', dumpPath('healthy'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const all = JSON.parse(r.stdout) as SeriesResult;
    assert.equal(all.totals.series, 50);
    assert.equal(all.metrics.reduce((n, m) => n + m.series, 0), 50);
    const up = all.metrics.find((m) => m.name === 'up');
    assert.ok(up && up.series > 0);
    const name = all.labels.find((l) => l.name === '__name__');
    assert.equal(name?.values, all.totals.metrics);
    assert.equal(all.heaviest.metricsBySeries[0].series, Math.max(...all.metrics.map((m) => m.series)));
    const m = JSON.parse((await runCli(['series', dumpPath('healthy'), '--match', 'up', '--json'])).stdout) as SeriesResult;
    assert.equal(m.totals.series, up.series);
    assert.ok(m.series.every((s) => s.labels.__name__ === 'up' && s.samples > 0));
    const bad = await runCli(['series', dumpPath('healthy'), '--match', 'up{job=~"a"']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^tsdbdump: selector .*position 12/m);
  });
});
