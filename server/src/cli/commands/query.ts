/** `tsdbdump query <source> '<promql>' [--time T | --from T --to T [--step S]] [--json]` */
import { utc } from '../../analysis/goFormat';
import { ToolError } from '../../errors';
import type { PromHistogram, PromSeries, QueryAnswer } from '../../protocol';
import { LocalPrometheus, DEFAULT_MAX_SAMPLES, DEFAULT_QUERY_TIMEOUT } from '../../query/localPrometheus';
import { defaultStep } from '../../query/step';
import { parseDuration, parseTimeBound } from '../../timeInput';
import { parseCommandArgs } from '../args';
import type { CliCommand } from '../types';

export const queryCommand: CliCommand = {
  name: 'query',
  summary: 'run a PromQL query on a dump (a local Prometheus on a private copy of it)',
  usage: `Usage: tsdbdump query <source> '<promql>' [--time T | --from T --to T [--step S]] [--json]

Starts a real local Prometheus on a private copy of the dump (a .tar.gz/.tar is extracted, a data
directory copied, into a temp dir; the source is never touched): no scrape jobs, retention off,
listening on 127.0.0.1 on a free port. It answers the query and is stopped, and its copy removed,
when the command ends, also on Ctrl-C or when the CLI is killed.

The binary: --prometheus, else \`prometheus\` on PATH.

Times: RFC 3339 with a zone (2025-01-03T06:00:00Z), epoch milliseconds, or now-6h / now.

Options:
  --time T            instant query at T (default: the newest sample of the dump)
  --from T, --to T    range query over [from, to]
  --step S            range query resolution, a duration (default: (to - from) / 250, at least 1s)
  --prometheus PATH   the Prometheus binary to run
  --max-samples N     the local Prometheus's --query.max-samples (default ${DEFAULT_MAX_SAMPLES})
  --timeout D         the local Prometheus's --query.timeout (default ${DEFAULT_QUERY_TIMEOUT})
  --json              print the answer as JSON (\`data\` exactly as Prometheus's HTTP API returns it)
  -h, --help          show this help

Exit status: 0 answered, 1 Prometheus refused to start on the dump (run \`tsdbdump repair\`),
2 usage or I/O error, an expression that does not parse, a query stopped by a limit.`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs('query', argv, {
      time: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      step: { type: 'string' },
      prometheus: { type: 'string' },
      'max-samples': { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.help) {
      ctx.stdout.write(`${this.usage}\n`);
      return 0;
    }
    if (positionals.length !== 2) throw new ToolError('usage', `query: expected <source> and '<promql>' (see \`tsdbdump query --help\`)`);
    const [source, expr] = positionals;
    const now = Date.now();
    const time = parseTimeBound(values.time, now);
    const from = parseTimeBound(values.from, now);
    const to = parseTimeBound(values.to, now);
    const range = from !== undefined || to !== undefined || values.step !== undefined;
    if (range && time !== undefined) throw new ToolError('usage', 'query: --time and --from/--to/--step exclude each other');
    if (range && (from === undefined || to === undefined)) throw new ToolError('usage', 'query: a range query needs both --from and --to');
    if (range && to! < from!) throw new ToolError('usage', 'query: --to is before --from');
    const step = values.step !== undefined ? parseDuration(values.step) : range ? defaultStep(from!, to!) : undefined;
    if (step !== undefined && step <= 0) throw new ToolError('usage', 'query: --step must be positive');
    const maxSamples = values['max-samples'] === undefined ? undefined : Number(values['max-samples']);
    if (maxSamples !== undefined && !(Number.isInteger(maxSamples) && maxSamples > 0))
      throw new ToolError('usage', `query: --max-samples must be a positive integer (got "${values['max-samples']}")`);
    if (values.timeout !== undefined) parseDuration(values.timeout);

    const progress = ctx.progress('query');
    let local: LocalPrometheus | undefined;
    try {
      try {
        local = await LocalPrometheus.start(source, {
          binary: values.prometheus,
          signal: ctx.signal,
          maxSamples,
          queryTimeout: values.timeout,
          onProgress: (p) => progress.update(0, undefined, p.message),
        });
      } catch (e) {
        if (e instanceof ToolError && e.code === 'prometheus-refused') {
          progress.done();
          ctx.stderr.write(`tsdbdump: ${e.message}\ntsdbdump: repair it first: tsdbdump repair ${source} -o <fixed.tar.gz>\n`);
          if (values.json) ctx.stdout.write(`${JSON.stringify({ error: { code: e.code, message: e.message, ...e.details } })}\n`);
          return 1;
        }
        throw e;
      }
      progress.done();
      const answer = await local.query(range ? { expr, from, to, step } : { expr, time: time ?? local.maxTime ?? now }, ctx.signal);
      if (values.json) ctx.stdout.write(`${JSON.stringify({ prometheus: local.version, ...answer }, null, 2)}\n`);
      else if (!answer.problem) ctx.stdout.write(renderAnswer(answer));
      for (const w of [...(answer.warnings ?? []), ...(answer.infos ?? [])]) ctx.stderr.write(`tsdbdump: Prometheus: ${w}\n`);
      if (answer.problem) {
        ctx.stderr.write(`tsdbdump: ${answer.problem.message}\n`);
        const at = answer.problem.syntax;
        if (at) ctx.stderr.write(`  ${expr.split('\n')[at.line - 1]}\n  ${' '.repeat(at.column - 1)}^\n`);
        return 2;
      }
      return 0;
    } finally {
      progress.done();
      await local?.stop();
    }
  },
};

function seriesName(metric: Record<string, string>): string {
  const { __name__: name = '', ...labels } = metric;
  const inner = Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ');
  return `${name}{${inner}}`;
}

function histogramText(h: PromHistogram): string {
  return `{count=${h.count}, sum=${h.sum}, buckets=${h.buckets?.length ?? 0}}`;
}

const at = (t: number) => utc(Math.round(t * 1000));

/** The answer for people: one line per series of a vector, a block per series of a matrix. */
export function renderAnswer(answer: QueryAnswer): string {
  const data = answer.data!;
  if (data.resultType === 'scalar' || data.resultType === 'string') {
    const [t, v] = data.result as [number, string];
    return `${data.resultType} ${v} @ ${at(t)}\n`;
  }
  const series = data.result as PromSeries[];
  if (series.length === 0) return `no data${answer.time !== undefined ? ` at ${utc(answer.time)}` : ''}\n`;
  const lines: string[] = [];
  for (const s of series) {
    if (data.resultType === 'vector') {
      const v = s.value ? `${s.value[1]} @ ${at(s.value[0])}` : `${histogramText(s.histogram![1])} @ ${at(s.histogram![0])}`;
      lines.push(`${seriesName(s.metric)} => ${v}`);
      continue;
    }
    lines.push(seriesName(s.metric));
    for (const [t, v] of s.values ?? []) lines.push(`  ${at(t)}  ${v}`);
    for (const [t, h] of s.histograms ?? []) lines.push(`  ${at(t)}  ${histogramText(h)}`);
  }
  return `${lines.join('\n')}\n`;
}
