/**
 * Series selectors (`up{job="api"}`, `{__name__=~"go_.+"}`, `{"my.metric", "a.b"="x"}`): the one
 * parser of selectors typed by users (CLI `series`/`samples --match`, the worker's `series` and
 * `samples` requests). A small hand-written parser of the selector part of PromQL's grammar
 * (promql/parser/generated_parser.y, lex.go): a full PromQL parser is not needed to pick series,
 * and a selector that does not parse is reported with its 0-based position (ToolError
 * 'selector-invalid', exit 2).
 *
 * Regex matchers are fully anchored (`^(?:re)$`, as labels.NewFastRegexMatcher) and `.` matches a
 * newline, as in Prometheus 3. They run as JavaScript regexes: Go's RE2 syntax is translated where
 * it differs (a leading `(?i)` / `(?s)` flag group, `(?P<name>`); other RE2-only syntax (POSIX
 * classes `[[:alpha:]]`, `\z`, `\Q…\E`, inline flags elsewhere) is rejected with its position,
 * and JS look-arounds / back-references, which RE2 refuses, are refused too.
 */
import { ToolError } from '../errors';
import type { LabelMatcher, LabelMatcherOp } from '../protocol';

export interface CompiledMatcher extends LabelMatcher {
  matches(value: string): boolean;
}

export interface Selector {
  text: string;
  matchers: CompiledMatcher[];
}

class SelectorError extends ToolError {
  constructor(text: string, position: number, what: string) {
    super('selector-invalid', `selector ${JSON.stringify(text)}: ${what} at position ${position + 1}`, { position });
  }
}

const ESCAPES: Record<string, string> = {
  a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'",
};
const NAME_START = /[A-Za-z_:]/;
const NAME_CHAR = /[A-Za-z0-9_:]/;
const LABEL_START = /[A-Za-z_]/;
const LABEL_CHAR = /[A-Za-z0-9_]/;

/** Parses a selector; throws ToolError('selector-invalid') with `details.position`. */
export function parseSelector(text: string): Selector {
  let i = 0;
  const fail = (what: string, at = i): never => {
    throw new SelectorError(text, at, what);
  };
  const unexpected = (what: string) =>
    i >= text.length ? `unexpected end of selector, expected ${what}` : `unexpected ${JSON.stringify(text[i])}, expected ${what}`;
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const ident = (start: RegExp, rest: RegExp): string | undefined => {
    if (i >= text.length || !start.test(text[i])) return undefined;
    const s = i;
    while (i < text.length && rest.test(text[i])) i++;
    return text.slice(s, i);
  };
  const str = (): string | undefined => {
    const q = text[i];
    if (q !== '"' && q !== "'" && q !== '`') return undefined;
    const start = i++;
    let out = '';
    for (;;) {
      if (i >= text.length) fail('unterminated quoted string', start);
      const c = text[i++];
      if (c === q) return out;
      if (q === '`' || c !== '\\') {
        if (c === '\n' && q !== '`') fail('newline in quoted string', i - 1);
        out += c;
        continue;
      }
      const e = text[i++];
      if (e !== undefined && e in ESCAPES) {
        out += ESCAPES[e];
      } else if (e === 'x' || e === 'u' || e === 'U') {
        const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
        const hex = text.slice(i, i + n);
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) fail(`invalid \\${e} escape`, i - 2);
        out += String.fromCodePoint(parseInt(hex, 16));
        i += n;
      } else if (e !== undefined && /[0-7]/.test(e)) {
        const oct = text.slice(i - 1, i + 2);
        if (!/^[0-7]{3}$/.test(oct)) fail('invalid octal escape', i - 2);
        out += String.fromCharCode(parseInt(oct, 8));
        i += 2;
      } else {
        fail(`unknown escape sequence \\${e ?? ''}`, i - 2);
      }
    }
  };

  const matchers: CompiledMatcher[] = [];
  skipSpace();
  const nameAt = i;
  const metric = ident(NAME_START, NAME_CHAR);
  if (metric !== undefined) matchers.push(compile(text, { name: '__name__', op: '=', value: metric }, nameAt));
  skipSpace();
  if (text[i] === '{') {
    i++;
    for (;;) {
      skipSpace();
      if (text[i] === '}') {
        i++;
        break;
      }
      const at = i;
      const quoted = str();
      const name = quoted ?? ident(LABEL_START, LABEL_CHAR);
      if (name === undefined) fail(unexpected('a label name or "}"'));
      skipSpace();
      const opAt = i;
      const op = (['=~', '!~', '!=', '='] as const).find((o) => text.startsWith(o, i));
      if (quoted !== undefined && (op === undefined || text[i] === ',' || text[i] === '}')) {
        // `{"my.metric"}`: a quoted name alone is the metric name (UTF-8 names, Prometheus 3).
        if (matchers.some((m) => m.name === '__name__' && m.op === '=')) fail('metric name given twice', at);
        matchers.push(compile(text, { name: '__name__', op: '=', value: name! }, at));
      } else {
        if (op === undefined) fail('expected a matcher operator (=, !=, =~, !~)', opAt);
        i += op!.length;
        skipSpace();
        const valueAt = i;
        const value = str();
        if (value === undefined) fail('expected a quoted label value', valueAt);
        matchers.push(compile(text, { name: name!, op: op!, value: value! }, valueAt));
      }
      skipSpace();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        break;
      }
      fail(unexpected('"," or "}"'));
    }
  } else if (metric === undefined) {
    fail(i >= text.length ? 'empty selector' : `unexpected ${JSON.stringify(text[i])}, expected a metric name or "{"`);
  }
  skipSpace();
  if (i < text.length) fail(`unexpected ${JSON.stringify(text[i])} after the selector (only a series selector is accepted here)`);
  // promql/parser/parse.go: "vector selector must contain at least one non-empty matcher".
  if (!matchers.some((m) => !m.matches(''))) fail('vector selector must contain at least one non-empty matcher', 0);
  return { text, matchers };
}

/** Whether a label set (sorted or not) matches every matcher; a missing label is the empty value. */
export function selectorMatches(sel: Selector, labels: Readonly<Record<string, string>>): boolean {
  for (const m of sel.matchers) if (!m.matches(labels[m.name] ?? '')) return false;
  return true;
}

function compile(text: string, m: LabelMatcher & { op: LabelMatcherOp }, at: number): CompiledMatcher {
  if (m.op === '=') return { ...m, matches: (v) => v === m.value };
  if (m.op === '!=') return { ...m, matches: (v) => v !== m.value };
  const re = goRegex(text, m.value, at);
  return m.op === '=~' ? { ...m, matches: (v) => re.test(v) } : { ...m, matches: (v) => !re.test(v) };
}

/** An RE2 pattern as an anchored JS RegExp (see the module comment for what is translated or refused). */
export function goRegex(text: string, pattern: string, at: number): RegExp {
  let flags = 's';
  let body = pattern;
  const lead = /^\(\?([imsU]+)\)/.exec(body);
  if (lead) {
    if (lead[1].includes('U')) throw new SelectorError(text, at, 'regex flag U (ungreedy) is not supported');
    if (lead[1].includes('i')) flags += 'i';
    if (lead[1].includes('m')) flags += 'm';
    body = body.slice(lead[0].length);
  }
  const refused: [RegExp, string][] = [
    [/\[\[:[a-z]+:\]/, 'POSIX character classes ([[:alpha:]]) are not supported'],
    [/\\[zQEpP]/, 'the escapes \\z, \\Q…\\E, \\p and \\P are not supported'],
    [/\(\?[imsU-]+[:)]/, 'inline regex flags are supported only at the start'],
    [/\(\?<?[=!]/, 'look-arounds are not valid in Prometheus regexes (RE2)'],
    [/\\[1-9]/, 'back-references are not valid in Prometheus regexes (RE2)'],
  ];
  for (const [re, why] of refused) if (re.test(body)) throw new SelectorError(text, at, why);
  body = body.replace(/\(\?P</g, '(?<');
  try {
    return new RegExp(`^(?:${body})$`, flags);
  } catch (e) {
    throw new SelectorError(text, at, `invalid regex ${JSON.stringify(pattern)}: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`);
  }
}
