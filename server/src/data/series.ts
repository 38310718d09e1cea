/**
 * The dump's series, metrics and label cardinality across every loaded block and the head (what
 * `promtool tsdb analyze` prints for one block, here for the whole dump). Which blocks and head
 * samples count is openDumpData's rule; a series stored in several blocks counts once, its samples
 * in each (stored copies). Sample counts come from the chunk headers (chunkenc.ts decodeChunk
 * without values), so no sample value is decoded.
 */
import { decodeChunk } from '../tsdb/chunkenc';
import { compareStrings } from '../tsdb/order';
import type { LabelNameInfo, MetricInfo, SeriesInfo, SeriesParams, SeriesResult } from '../protocol';
import { openDumpData } from './dumpData';
import { parseSelector, selectorMatches } from './selector';
import { matchingSeries } from './samples';

const VALUES_CAP = 1000;
const SERIES_CAP = 10_000;

export async function listSeries(
  params: SeriesParams,
  opts: { signal?: AbortSignal; onProgress?: (m: string) => void } = {},
): Promise<SeriesResult> {
  const sel = params.match !== undefined ? parseSelector(params.match) : undefined;
  const top = params.top ?? 10;
  const rec = (labels: [string, string][]) => Object.fromEntries(labels) as Record<string, string>;
  const data = await openDumpData(params.source, {
    signal: opts.signal,
    onProgress: opts.onProgress,
    headCountsOnly: true,
    headFilter: sel ? (l) => selectorMatches(sel, rec(l)) : undefined,
  });
  try {
    const all = sel ?? { text: '', matchers: [] };
    const matched = matchingSeries(data, all);
    const metrics = new Map<string, MetricInfo>();
    const labelValues = new Map<string, Map<string, number>>();
    const series: SeriesInfo[] = [];
    let totalSamples = 0;
    let n = 0;
    for (const { labels, places } of matched) {
      opts.signal?.throwIfAborted();
      if (++n % 10_000 === 0) opts.onProgress?.(`series ${n} of ${matched.length}`);
      const info: SeriesInfo = { labels: rec(labels), samples: 0, histogramSamples: 0, minTime: Infinity, maxTime: -Infinity, in: [] };
      for (const p of places) {
        if (p.series && p.block !== undefined) {
          const b = data.blocks[p.block];
          info.in.push(b.ulid);
          for (const c of p.series.chunks) {
            const { encoding, data: bytes } = b.block.chunk(c);
            const facts = decodeChunk(encoding, bytes);
            info.samples += facts.count;
            if (facts.histogram) info.histogramSamples += facts.count;
            info.minTime = Math.min(info.minTime, c.minTime);
            info.maxTime = Math.max(info.maxTime, c.maxTime);
          }
        } else if (p.head) {
          info.in.push('head');
          info.samples += p.head.count;
          info.histogramSamples += p.head.histogramCount;
          info.minTime = Math.min(info.minTime, p.head.minTime);
          info.maxTime = Math.max(info.maxTime, p.head.maxTime);
        }
      }
      totalSamples += info.samples;
      const name = info.labels.__name__ ?? '';
      let m = metrics.get(name);
      if (!m) metrics.set(name, (m = { name, series: 0, samples: 0, histogram: false }));
      m.series++;
      m.samples += info.samples;
      if (info.histogramSamples > 0) m.histogram = true;
      for (const [k, v] of labels) {
        let vals = labelValues.get(k);
        if (!vals) labelValues.set(k, (vals = new Map()));
        vals.set(v, (vals.get(v) ?? 0) + 1);
      }
      if (series.length < SERIES_CAP) series.push(info);
    }
    const byName = (a: { name: string }, b: { name: string }) => compareStrings(a.name, b.name);
    const labels: LabelNameInfo[] = [...labelValues].map(([name, vals]) => ({
      name,
      values: vals.size,
      series: [...vals.values()].reduce((a, b) => a + b, 0),
    }));
    labels.sort(byName);
    const pairs = [...labelValues].flatMap(([name, vals]) => [...vals].map(([value, count]) => ({ name, value, series: count })));
    const metricList = [...metrics.values()].sort(byName);
    const values: SeriesResult['labelValues'] = {};
    for (const [name, vals] of labelValues) {
      const sorted = [...vals.keys()].sort(compareStrings);
      values[name] = { values: sorted.slice(0, VALUES_CAP), truncated: sorted.length > VALUES_CAP };
    }
    return {
      source: params.source,
      ...(params.match !== undefined ? { match: params.match } : {}),
      totals: {
        series: matched.length, samples: totalSamples, metrics: metrics.size, labelNames: labelValues.size, labelPairs: pairs.length,
      },
      metrics: metricList,
      labels,
      labelValues: values,
      heaviest: {
        metricsBySeries: [...metricList].sort((a, b) => b.series - a.series || byName(a, b)).slice(0, top),
        labelNamesByValues: [...labels].sort((a, b) => b.values - a.values || byName(a, b)).slice(0, top),
        labelPairsBySeries: pairs
          .sort((a, b) => b.series - a.series || compareStrings(a.name, b.name) || compareStrings(a.value, b.value))
          .slice(0, top),
      },
      series,
      seriesLimit: SERIES_CAP,
      seriesTruncated: matched.length > SERIES_CAP,
      skipped: data.skipped,
    };
  } finally {
    await data.close();
  }
}
