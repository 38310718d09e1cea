/** `tsdbdump series <source> [--match S] [--json]`: metrics, series and label cardinality read from the dump itself. */
import { ToolError } from '../../errors';
import { listSeries } from '../../data/series';
import { utc } from '../../analysis/goFormat';
import { parseCommandArgs } from '../args';
import type { CliCommand } from '../types';

export const seriesCommand: CliCommand = {
  name: 'series',
  summary: 'list metrics, series and label cardinality of a dump (all blocks and the head), no Prometheus needed',
  usage: `Usage: tsdbdump series <source> [--match '<selector>'] [--top N] [--json]

<source> is a .tar.gz / .tar dump or a data directory. Counts span every block Prometheus would
load and the head (WAL replay); the heaviest metrics, label names and label pairs are listed
like \`promtool tsdb analyze\` does for one block.

  --match S     a series selector, e.g. 'up{job="api"}' or '{__name__=~"go_.+"}' (all series without)
  --top N       entries per "heaviest" list (default 10)
  --json        print the SeriesResult as JSON
  -h, --help    show this help`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs('series', argv, {
      match: { type: 'string' },
      top: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.help) {
      ctx.stdout.write(`${this.usage}\n`);
      return 0;
    }
    if (positionals.length !== 1) throw new ToolError('usage', 'series: expected exactly one <source> (see `tsdbdump series --help`)');
    const top = values.top === undefined ? 10 : Number(values.top);
    if (!Number.isInteger(top) || top < 1) throw new ToolError('usage', `series: --top must be a positive integer, got "${values.top}"`);
    const progress = ctx.progress('reading series');
    let r;
    try {
      const onProgress = (m: string) => progress.update(0, undefined, m);
      r = await listSeries({ source: positionals[0], match: values.match, top }, { signal: ctx.signal, onProgress });
    } finally {
      progress.done();
    }
    if (values.json) {
      ctx.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      return 0;
    }
    const out: string[] = [];
    const t = r.totals;
    out.push(`${t.series} series, ${t.samples} samples, ${t.metrics} metrics, ${t.labelNames} label names, ${t.labelPairs} label pairs`);
    for (const s of r.skipped) out.push(`skipped ${s.path}: ${s.reason}`);
    out.push('', 'Heaviest metrics (series):');
    for (const m of r.heaviest.metricsBySeries) {
      out.push(`  ${String(m.series).padStart(8)}  ${m.name}${m.histogram ? ' (histogram)' : ''}`);
    }
    out.push('', 'Label names with the most values:');
    for (const l of r.heaviest.labelNamesByValues) out.push(`  ${String(l.values).padStart(8)}  ${l.name}`);
    out.push('', 'Most common label pairs (series):');
    for (const p of r.heaviest.labelPairsBySeries) out.push(`  ${String(p.series).padStart(8)}  ${p.name}=${JSON.stringify(p.value)}`);
    out.push('', 'Metrics (series, samples):');
    for (const m of r.metrics) out.push(`  ${m.name}  ${m.series}  ${m.samples}`);
    if (values.match !== undefined) {
      out.push('', `Series matching ${values.match}:`);
      for (const s of r.series) {
        const { __name__: name, ...rest } = s.labels;
        const ls = Object.entries(rest).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ');
        out.push(`  ${name ?? ''}{${ls}}  ${s.samples} samples  ${utc(s.minTime)} – ${utc(s.maxTime)}  in ${s.in.join(', ')}`);
      }
      if (r.seriesTruncated) out.push(`  … (first ${r.seriesLimit} of ${t.series})`);
    }
    ctx.stdout.write(`${out.join('\n')}\n`);
    return 0;
  },
};
