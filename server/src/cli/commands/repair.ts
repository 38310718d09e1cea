/** `tsdbdump repair <source> -o <out.tar.gz> [--json] [--dry-run]` */
import { existsSync } from 'node:fs';
import { utc } from '../../analysis/goFormat';
import { ToolError } from '../../errors';
import type { RepairAction, RepairResult, TimeRange } from '../../protocol';
import { repairDump } from '../../repair/repair';
import { parseCommandArgs } from '../args';
import type { CliCommand } from '../types';

export const repairCommand: CliCommand = {
  name: 'repair',
  summary: 'write a repaired copy of a dump that Prometheus starts on, losing as little as possible',
  usage: `Usage: tsdbdump repair <source> -o <out.tar.gz> [--json] [--dry-run]

Analyses the dump, works out for every problem the candidate repairs and what each would lose
(a sample is lost only when no block, head chunk file or remaining WAL segment still holds it),
and writes a new dump with the least lossy one. The source is never modified. The output is
analysed again afterwards.

A healthy dump is left alone: "nothing to repair" and no file is written.

Options:
  -o, --output FILE  where to write the repaired dump (.tar.gz, or .tar)
  --dry-run          print the plan only
  --json             print the RepairResult as JSON
  -h, --help         show this help

Exit status: 0 repaired (or nothing to repair), 1 errors remain after the repair (or would,
with --dry-run), 2 usage or I/O error.`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs('repair', argv, {
      json: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      output: { type: 'string', short: 'o' },
    });
    if (values.help) {
      ctx.stdout.write(`${this.usage}\n`);
      return 0;
    }
    if (positionals.length !== 1) throw new ToolError('usage', 'repair: expected exactly one <source> (see `tsdbdump repair --help`)');
    const dryRun = !!values['dry-run'];
    const output = values.output as string | undefined;
    if (!dryRun && !output) throw new ToolError('usage', 'repair: -o <out.tar.gz> is required (or use --dry-run)');
    if (output && existsSync(output)) throw new ToolError('usage', `repair: ${output} already exists; choose another output file`);
    const progress = ctx.progress('repairing');
    let result: RepairResult;
    try {
      result = await repairDump(positionals[0], output ?? `${positionals[0]}.repaired.tar.gz`, {
        dryRun,
        signal: ctx.signal,
        onProgress: (p) => progress.update(p.bytes ?? 0, p.totalBytes, `${p.phase}${p.entry ? ` ${p.entry}` : ''}`),
      });
    } finally {
      progress.done();
    }
    const remaining = result.after
      ? result.after.diagnostics.filter((d) => d.severity === 'error')
      : result.unfixable.filter((d) => d.severity === 'error');
    if (values.json) ctx.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else ctx.stdout.write(renderRepair(result));
    return remaining.length > 0 ? 1 : 0;
  },
};

function ranges(rs: TimeRange[]): string {
  if (rs.length === 0) return '';
  const shown = rs.slice(0, 4).map((r) => `[${utc(r.from)}, ${utc(r.to)})`);
  return `${shown.join(', ')}${rs.length > 4 ? ` and ${rs.length - 4} more` : ''}`;
}

function actionLine(a: RepairAction): string {
  const what =
    a.kind === 'rename-file'
      ? `rename ${a.path} → ${a.to}`
      : a.kind === 'truncate-file'
        ? `cut ${a.path} at byte ${a.offset}`
        : a.kind === 'blank-chunk'
          ? `blank the chunk at offset ${a.offset} of ${a.path}`
          : a.kind === 'rebuild-meta' || a.kind === 'rewrite-index'
            ? `write ${a.path}`
            : `drop ${a.path}`;
  const cost =
    a.loss.samples === 0 ? 'loses nothing' : `loses ${a.loss.samples} samples of ${a.loss.series} series in ${ranges(a.loss.ranges)}`;
  const lines = [`  - ${what} [${a.fixes}]`, `      why:  ${a.reason}`, `      cost: ${cost}`];
  for (const s of a.lostSeries ?? []) lines.push(`        ${s.series}: ${s.samples} samples in ${ranges(s.ranges)}`);
  if (a.lostSeries && a.loss.series > a.lostSeries.length) lines.push(`        … and ${a.loss.series - a.lostSeries.length} more series`);
  for (const alt of a.alternatives ?? []) {
    const verdict = !alt.startable
      ? 'Prometheus would still refuse to start'
      : alt.samples > 0
        ? `would lose ${alt.samples} more samples`
        : alt.samples < 0
          ? `would lose ${-alt.samples} fewer samples`
          : 'would lose the same';
    lines.push(`      instead of: ${alt.summary} (${verdict})`);
  }
  return lines.join('\n');
}

export function renderRepair(r: RepairResult): string {
  const out: string[] = [];
  out.push(`Repair of ${r.source}${r.dryRun ? ' (dry run: nothing written)' : ''}`);
  if (r.nothingToRepair) {
    if (r.unfixable.length === 0) {
      out.push('Nothing to repair: no file written.');
      return `${out.join('\n')}\n`;
    }
    out.push('No repair known for these problems; they REMAIN (no file written):');
    for (const d of r.unfixable) out.push(`  - ${d.code} ${d.path}: ${d.message}`);
    return `${out.join('\n')}\n`;
  }
  out.push('', `Plan (${r.actions.length} action${r.actions.length === 1 ? '' : 's'}):`);
  for (const a of r.actions) out.push(actionLine(a));
  if (r.totals) {
    const t = r.totals;
    out.push(
      '',
      `Samples: ${t.samplesHeld} held by the dump, ${t.samplesServedAfter} served by Prometheus after the repair` +
        (t.histogramSamplesServedAfter !== undefined ? ` (${t.histogramSamplesServedAfter} of them histogram samples)` : '') +
        `, ${t.samplesLost} lost` +
        (t.notServedAnyway > 0 ? ` (${t.notServedAnyway} of them Prometheus would not serve whatever the repair)` : ''),
    );
  }
  if (r.unfixable.length) {
    out.push('', 'Left as they are:');
    for (const d of r.unfixable) out.push(`  - ${d.code} ${d.path}: ${d.message}`);
  }
  if (r.output) out.push('', `Wrote ${r.output}`);
  if (r.after) {
    const errors = r.after.diagnostics.filter((d) => d.severity === 'error');
    const warnings = r.after.diagnostics.filter((d) => d.severity === 'warning');
    if (errors.length === 0) out.push(`Re-analysis of the output: no errors${warnings.length ? `, ${warnings.length} warning(s)` : ''}.`);
    else {
      out.push(`Re-analysis of the output: ${errors.length} error(s) REMAIN:`);
      for (const d of errors) out.push(`  - ${d.code} ${d.path}: ${d.message}`);
    }
  }
  return `${out.join('\n')}\n`;
}
