/**
 * What the Series node of a dump shows (Dump Files tree): metrics → series with their sample
 * counts, from the worker's `series` request (server/src/data/). Pure functions over protocol
 * types (no `vscode` import), unit-tested in plain Node.
 */
import type { FailureInfo, SeriesInfo, SeriesResult } from '../../../server/src/protocol';
import { formatRange } from './format';

export interface SeriesModelNode {
  /** Unique inside its dump. */
  id: string;
  kind: 'seriesRoot' | 'metric' | 'series' | 'seriesMessage';
  label: string;
  description?: string;
  /** Markdown. */
  tooltip: string;
  icon: string;
  /** The metric name (metric and series nodes), for commands such as a chart. */
  metric?: string;
  /** A series node's labels, `__name__` included. */
  labels?: Record<string, string>;
  /** A selector picking exactly this metric or series. */
  selector?: string;
  /** A message node about a failure or a cut list. */
  severity?: 'error' | 'warning' | 'information';
  children?: SeriesModelNode[];
}

const LEGACY_NAME = /^[A-Za-z_:][A-Za-z0-9_:]*$/;
const LEGACY_LABEL = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A Go-style double-quoted string literal, as PromQL reads it. */
function quote(s: string): string {
  return JSON.stringify(s);
}

/**
 * The selector of one series: `up{job="x"}`, or the 3.x quoted form `{"my.metric", "a.b"="x"}` when
 * a name is not a legacy one (promql/parser/lex.go; docs/architecture.md "UTF-8 names").
 */
export function seriesSelector(labels: Readonly<Record<string, string>>): string {
  const name = labels.__name__;
  const rest = Object.keys(labels)
    .filter((k) => k !== '__name__')
    .sort()
    .map((k) => `${LEGACY_LABEL.test(k) ? k : quote(k)}=${quote(labels[k])}`);
  if (name === undefined) return `{${rest.join(', ')}}`;
  if (LEGACY_NAME.test(name)) return rest.length ? `${name}{${rest.join(', ')}}` : name;
  return `{${[quote(name), ...rest].join(', ')}}`;
}

/** The labels of a series without its name, `{instance="a", job="b"}`; `{}` when it has none. */
export function seriesLabelText(labels: Readonly<Record<string, string>>): string {
  const rest = Object.keys(labels)
    .filter((k) => k !== '__name__')
    .sort()
    .map((k) => `${LEGACY_LABEL.test(k) ? k : quote(k)}=${quote(labels[k])}`);
  return `{${rest.join(', ')}}`;
}

/** `1 sample`, `2,400 samples`; `series` is its own plural. */
function count(n: number, what: string): string {
  return `${n.toLocaleString('en-US')} ${what}${n === 1 || what.endsWith('series') ? '' : 's'}`;
}

/** The Series node under a dump (its children come from the `series` request when expanded). */
export function seriesRootNode(filter: string | undefined, result?: SeriesResult): SeriesModelNode {
  const counts = result ? `${count(result.totals.metrics, 'metric')} · ${count(result.totals.series, 'series')}` : '';
  const description = [filter ? `filter ${filter}` : '', counts].filter(Boolean).join(' · ') || undefined;
  return {
    id: 'series',
    kind: 'seriesRoot',
    label: 'Series',
    description,
    tooltip:
      '**Series** read from the dump itself (blocks, head and WAL), no Prometheus needed' +
      (filter ? `\n\nFilter: \`${filter}\` (Filter Series… changes it; an empty filter shows all)` : '\n\nFilter Series… narrows them'),
    icon: 'symbol-field',
  };
}

/** The children of the Series node: one node per metric (by name), each with its series in label order. */
export function seriesChildren(r: SeriesResult): SeriesModelNode[] {
  const byMetric = new Map<string, SeriesInfo[]>();
  for (const s of r.series) {
    const name = s.labels.__name__ ?? '';
    let list = byMetric.get(name);
    if (!list) byMetric.set(name, (list = []));
    list.push(s);
  }
  const nodes: SeriesModelNode[] = [];
  for (const m of r.metrics) {
    const listed = byMetric.get(m.name) ?? [];
    const children: SeriesModelNode[] = listed.map((s) => seriesNode(s));
    if (listed.length < m.series) {
      children.push(message(`series:${m.name}:more`, `${count(m.series - listed.length, 'more series')} not listed`,
        `The listing is cut at ${r.seriesLimit.toLocaleString('en-US')} series: narrow it with Filter Series…`, 'information'));
    }
    const sel = seriesSelector({ __name__: m.name });
    nodes.push({
      id: `metric:${m.name}`,
      kind: 'metric',
      label: m.name,
      description: `${count(m.series, 'series')} · ${count(m.samples, 'sample')}${m.histogram ? ' · histogram' : ''}`,
      tooltip: `**Metric** \`${m.name}\`\n\n${m.series.toLocaleString('en-US')} series, ${m.samples.toLocaleString('en-US')} samples` +
        `${m.histogram ? ' (native histograms)' : ''}\n\nSelector: \`${sel}\``,
      icon: m.histogram ? 'graph' : 'symbol-numeric',
      metric: m.name,
      selector: sel,
      children,
    });
  }
  if (!r.metrics.length) {
    const label = r.match ? `no series match ${r.match}` : 'no series';
    nodes.push(message('series:none', label, 'The dump holds no series that match.', 'information'));
  }
  for (const s of r.skipped) {
    nodes.push(message(`series:skipped:${s.path}`, `not read: ${s.path}`, `\`${s.path}\` could not be read: ${s.reason}`, 'warning'));
  }
  return nodes;
}

function seriesNode(s: SeriesInfo): SeriesModelNode {
  const sel = seriesSelector(s.labels);
  const range = s.samples ? formatRange(s.minTime, s.maxTime) : '';
  return {
    id: `series:${sel}`,
    kind: 'series',
    label: seriesLabelText(s.labels),
    description: `${count(s.samples, 'sample')}${s.histogramSamples ? ` (${s.histogramSamples.toLocaleString('en-US')} histogram)` : ''}` +
      `${range ? ` · ${range}` : ''}`,
    tooltip: `**Series** \`${sel}\`\n\n${s.samples.toLocaleString('en-US')} samples stored` +
      `${range ? `, ${range}` : ''}\n\nIn: ${s.in.map((x) => `\`${x}\``).join(', ')}`,
    icon: s.histogramSamples ? 'graph' : 'pulse',
    metric: s.labels.__name__,
    labels: s.labels,
    selector: sel,
  };
}

function message(id: string, label: string, tooltip: string, severity: SeriesModelNode['severity']): SeriesModelNode {
  return { id, kind: 'seriesMessage', label, tooltip, icon: 'info', severity };
}

/** The node shown instead of the metrics when the request failed (a selector that does not parse…). */
export function seriesFailureNode(f: FailureInfo): SeriesModelNode {
  return message('series:failed', f.message, `**${f.code}**: ${f.message}\n\nFilter Series… changes the filter.`, 'error');
}
