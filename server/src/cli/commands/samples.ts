/** `tsdbdump samples <source> --match S [--from T --to T] [--json|--csv]`: merged samples read from the dump itself. */
import { once } from 'node:events';
import { ToolError } from '../../errors';
import { readSamples } from '../../data/samples';
import { parseTimeBound } from '../../timeInput';
import { utc } from '../../analysis/goFormat';
import { parseCommandArgs } from '../args';
import type { CliCommand } from '../types';
import type { SeriesSamples } from '../../protocol';

/** Non-finite floats as Prometheus's API writes them (JSON has no NaN or Inf). */
function num(v: number): number | string {
  if (Number.isFinite(v)) return v;
  return Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
}

function seriesName(labels: Record<string, string>): string {
  const { __name__: name, ...rest } = labels;
  return `${name ?? ''}{${Object.entries(rest).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}}`;
}

const csvCell = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

export const samplesCommand: CliCommand = {
  name: 'samples',
  summary: 'print the samples of a selector from blocks, head and WAL, merged as Prometheus merges them',
  usage: `Usage: tsdbdump samples <source> --match '<selector>' [--from T] [--to T] [--json | --csv]

Reads floats and native histograms from every block Prometheus would load and the head (WAL
replay), one series at a time: overlapping copies deduplicated (same timestamp once), tombstones
applied, staleness markers shown as "stale" (range queries leave them out).

  --match S     a series selector, e.g. 'up{job="api"}' (required)
  --from T      first instant (inclusive): RFC 3339 with a zone, epoch ms or now-6h
  --to T        last instant (inclusive)
  --json        one JSON document (SamplesResult; NaN and Inf as strings)
  --csv         series,timestamp_ms,value (histograms: count and sum columns)
  -h, --help    show this help`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs('samples', argv, {
      match: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      json: { type: 'boolean' },
      csv: { type: 'boolean' },
    });
    if (values.help) {
      ctx.stdout.write(`${this.usage}\n`);
      return 0;
    }
    if (positionals.length !== 1) throw new ToolError('usage', 'samples: expected exactly one <source> (see `tsdbdump samples --help`)');
    if (values.match === undefined) throw new ToolError('usage', "samples: --match '<selector>' is required");
    if (values.json && values.csv) throw new ToolError('usage', 'samples: --json and --csv exclude each other');
    const now = Date.now();
    const from = parseTimeBound(values.from, now);
    const to = parseTimeBound(values.to, now);
    if (from !== undefined && to !== undefined && from > to) throw new ToolError('usage', 'samples: --from must not be after --to');
    const w = ctx.stdout;
    let first = true;
    if (values.json) w.write('{"series":[');
    if (values.csv) w.write('series,timestamp_ms,value,histogram_count,histogram_sum,stale\n');
    const onSeries = async (s: SeriesSamples) => {
      let text: string;
      if (values.json) {
        const out = { ...s, floats: s.floats.map(([t, v]) => [t, v === null ? null : num(v)]),
          histograms: s.histograms.map(([t, h]) => [t, { ...h, sum: num(h.sum), count: num(h.count) }]) };
        text = `${first ? '' : ','}\n${JSON.stringify(out)}`;
      } else if (values.csv) {
        const name = csvCell(seriesName(s.labels));
        const stale = new Set(s.stale);
        const rows = [
          ...s.floats.map(([t, v]) => ({ t, row: `${name},${t},${v === null ? '' : num(v)},,,${stale.has(t) ? 'stale' : ''}` })),
          ...s.histograms.map(([t, h]) => ({
            t,
            row: `${name},${t},,${num(h.count)},${num(h.sum)},${stale.has(t) ? 'stale' : ''}`,
          })),
        ].sort((a, b) => a.t - b.t);
        text = rows.map((r) => `${r.row}\n`).join('');
      } else {
        const lines = [`${seriesName(s.labels)}`];
        const rows = [
          ...s.floats.map(([t, v]) => ({ t, text: v === null ? 'stale' : String(num(v)) })),
          ...s.histograms.map(([t, h]) => ({ t, text: `histogram count=${num(h.count)} sum=${num(h.sum)}` })),
        ].sort((a, b) => a.t - b.t);
        for (const r of rows) lines.push(`  ${utc(r.t)}  ${r.text}`);
        text = `${lines.join('\n')}\n`;
      }
      first = false;
      // A reader gone (EPIPE, cli/main.ts) aborts the signal: stop waiting for a drain that never comes.
      if (!w.write(text)) await once(w, 'drain', { signal: ctx.signal });
    };
    const progress = ctx.progress('reading samples');
    let r;
    try {
      r = await readSamples({ source: positionals[0], match: values.match, from, to }, {
        signal: ctx.signal, onSeries, onProgress: (m) => progress.update(0, undefined, m),
      });
    } finally {
      progress.done();
    }
    if (values.json) {
      const { series: _series, ...rest } = r;
      w.write(`\n],${JSON.stringify(rest).slice(1)}\n`);
    } else if (!values.csv) {
      const t = r.totals;
      w.write(`${t.series} series, ${t.floats} float and ${t.histograms} histogram samples, ${t.stale} staleness markers` +
        `${t.duplicatesDropped ? `, ${t.duplicatesDropped} duplicates merged` : ''}` +
        `${t.tombstoned ? `, ${t.tombstoned} deleted by tombstones` : ''}\n`);
      for (const s of r.skipped) w.write(`skipped ${s.path}: ${s.reason}\n`);
    }
    return 0;
  },
};
