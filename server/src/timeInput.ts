/**
 * Times typed by a user, the one parser for the CLI's --from/--to and VS Code's Dump from Pod
 * (through the worker's `parseTimes` request): RFC 3339 with an explicit zone
 * (`2025-01-03T06:00:00Z`, `…+02:00`), epoch milliseconds, or `now`, `now-6h`, `now-1h30m`,
 * `now+15m`. A time without a zone is refused: guessing local time silently would dump the wrong
 * window. Durations are Prometheus's (`6h`, `1h30m`, `2d`), also used for retention.
 */
import { ToolError } from './errors';
import type { ParsedTime } from './protocol';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365 * 86_400_000,
};

/** Parses a Prometheus-style duration such as `6h`, `1h30m`, `90s`, `2d`. */
export function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/g;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    if (m.index !== consumed) break;
    total += Number(m[1]) * UNIT_MS[m[2]];
    consumed += m[0].length;
  }
  if (consumed === 0 || consumed !== text.length) throw new ToolError('usage', `"${text}" is not a duration (examples: 6h, 1h30m, 2d)`);
  return total;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})$/;

/** One time; throws a usage ToolError whose message says what is accepted. */
export function parseTime(text: string, now: number = Date.now()): number {
  const t = text.trim();
  if (/^now$/i.test(t)) return now;
  const rel = /^now\s*([+-])\s*(.+)$/i.exec(t);
  if (rel) return now + (rel[1] === '-' ? -1 : 1) * parseDuration(rel[2].trim());
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    // 10 digits or fewer reads as seconds by mistake: refuse instead of dumping 1970.
    if (t.length <= 10) throw new ToolError('usage', `"${t}" looks like epoch seconds; times in digits are epoch milliseconds (${t}000)`);
    return n;
  }
  if (RFC3339.test(t)) {
    const ms = Date.parse(t.replace(' ', 'T'));
    if (Number.isFinite(ms)) return ms;
  }
  if (/^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/.test(t)) {
    throw new ToolError(
      'usage',
      `"${t}" has no time zone; add one (e.g. ${t.includes('T') ? t : `${t}T00:00:00`}Z for UTC) — local time is never assumed`,
    );
  }
  throw new ToolError('usage', `"${t}" is not a time: use RFC 3339 with a zone (2025-01-03T06:00:00Z), epoch milliseconds, or now-6h`);
}

/** A range bound: empty (or only spaces) is no bound, anything else must be a time. */
export function parseTimeBound(text: string | undefined, now: number = Date.now()): number | undefined {
  return text === undefined || text.trim() === '' ? undefined : parseTime(text, now);
}

/** Each text as an instant or the parser's error, for the worker's `parseTimes` request. */
export function parseTimes(texts: readonly string[], now: number = Date.now()): ParsedTime[] {
  return texts.map((text) => {
    try {
      return { text, ms: parseTimeBound(text, now) };
    } catch (e) {
      return { text, error: e instanceof Error ? e.message : String(e) };
    }
  });
}
