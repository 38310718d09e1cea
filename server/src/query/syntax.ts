/**
 * Where a PromQL expression stops parsing, by Prometheus's own grammar as the Prometheus project ships
 * it on npm (@prometheus-io/lezer-promql, the grammar of Prometheus's web UI). Lezer recovers from
 * errors and marks them with error nodes; the first one is where the expression stops being PromQL.
 * Type errors (`rate(foo)`) parse fine here and come back from Prometheus as `bad_data`.
 */
import type { LRParser } from '@lezer/lr';
import type { PromqlSyntaxError } from '../protocol';

// The package is ESM with a CommonJS build beside it (its `require` export), which this CommonJS code loads.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parser } = require('@prometheus-io/lezer-promql') as { parser: LRParser };

export function promqlSyntaxError(expr: string): PromqlSyntaxError | undefined {
  if (expr.trim() === '') return { offset: 0, line: 1, column: 1, message: 'the expression is empty' };
  let at: number | undefined;
  parser.parse(expr).iterate({
    enter(node) {
      if (at !== undefined) return false;
      if (node.type.isError) at = node.from;
      return undefined;
    },
  });
  if (at === undefined) return undefined;
  const before = expr.slice(0, at);
  const line = before.split('\n').length;
  const column = at - (before.lastIndexOf('\n') + 1) + 1;
  const rest = expr.slice(at).trimStart();
  const what = rest === '' ? 'unexpected end of the expression' : `unexpected ${JSON.stringify(rest.slice(0, 12))}`;
  return { offset: at, line, column, message: `${line}:${column}: parse error: ${what}` };
}
