/**
 * Where a diagnostic lands inside a block's meta.json (for extracted data dirs in the workspace),
 * and what the hover on a minTime/maxTime number shows. Pure functions over text; no LSP types.
 */
import type { TsdbDiagnostic } from '../protocol';
import type { MetaFieldRanges } from '../tsdb/metaJson';
import { isUlid } from '../tsdb/blockDir';

export type MetaField = keyof MetaFieldRanges;

/** The meta.json field a diagnostic points at, per code (whole-file problems point at the start). */
export function metaFieldFor(code: TsdbDiagnostic['code']): MetaField | undefined {
  switch (code) {
    case 'block-overlap':
    case 'coverage-gap':
      return 'minTime';
    case 'block-ulid-mismatch':
      return 'ulid';
    case 'block-superseded':
    case 'block-deletable':
      return 'compaction';
    case 'meta-inconsistent':
      return 'stats';
    default:
      return undefined;
  }
}

/** Block dirs (ULIDs) a diagnostic concerns: its `blocks`, or the first segment of its path. */
export function blockDirsOf(d: TsdbDiagnostic): string[] {
  const dirs = new Set<string>();
  for (const b of d.blocks ?? []) dirs.add(b);
  const first = d.path.split('/')[0];
  if (isUlid(first)) dirs.add(first);
  return [...dirs];
}

/** Character offset → 0-based line/character. */
export function positionAt(text: string, offset: number): { line: number; character: number } {
  let line = 0;
  let lineStart = 0;
  const end = Math.min(Math.max(offset, 0), text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, character: end - lineStart };
}

/**
 * The number under `offset` in a meta.json text when it is the value of a `minTime`/`maxTime` key
 * (top level or inside compaction.parents), with its UTC rendering.
 */
export function timeAt(text: string, offset: number): { key: string; value: number; start: number; end: number; utc: string } | undefined {
  let start = offset;
  let end = offset;
  while (start > 0 && /[-0-9]/.test(text[start - 1])) start--;
  while (end < text.length && /[0-9]/.test(text[end])) end++;
  if (end === start) return undefined;
  const before = text.slice(Math.max(0, start - 40), start);
  const m = /"(minTime|maxTime)"\s*:\s*$/.exec(before);
  if (!m) return undefined;
  const value = Number(text.slice(start, end));
  if (!Number.isSafeInteger(value)) return undefined;
  return { key: m[1], value, start, end, utc: formatUtc(value) };
}

/** `2025-01-03T00:00:00.000Z`; out-of-range values say so instead of throwing. */
export function formatUtc(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? `${ms} (out of range)` : d.toISOString();
}

/** The report line of a dump path: the path itself, else its closest listed parent, else line 0. */
export function reportLineOf(lines: Record<string, number>, dumpPath: string): number {
  const parts = dumpPath.split('/');
  for (let n = parts.length; n > 0; n--) {
    const line = lines[parts.slice(0, n).join('/')];
    if (line !== undefined) return line;
  }
  return 0;
}
