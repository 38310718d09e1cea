/**
 * Text for people: UTC times and ranges, durations, severities, lists. Sizes are
 * server/src/analysis/goFormat.ts's humanBytes, the one byte formatter of the CLI, the report and the UI.
 */
import type { Severity } from '../../../server/src/protocol';

export { humanBytes as formatBytes } from '../../../server/src/analysis/goFormat';

const SEVERITY_ORDER: Severity[] = ['error', 'warning', 'information', 'hint'];

export function worstSeverity(ds: readonly { severity: Severity }[]): Severity | undefined {
  let best: number | undefined;
  for (const d of ds) {
    const i = SEVERITY_ORDER.indexOf(d.severity);
    if (best === undefined || i < best) best = i;
  }
  return best === undefined ? undefined : SEVERITY_ORDER[best];
}

/** `2025-01-03 00:00:00`: UTC, to the second, ISO order. */
export function formatUtc(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '?';
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '');
}

/** `2025-01-03 00:00:00 → 2025-01-03 18:00:00 UTC`; the end date is left out when it is the same day. */
export function formatRange(from: number | undefined, to: number | undefined): string {
  const a = formatUtc(from);
  const b = formatUtc(to);
  const sameDay = a.slice(0, 10) === b.slice(0, 10) && a !== '?';
  return `${a} → ${sameDay ? b.slice(11) : b} UTC`;
}

/** A requested dump range, where an open end means "from the oldest block" / "until now". */
export function formatRequestedRange(from: number | undefined, to: number | undefined): string {
  if (from === undefined && to === undefined) return 'everything';
  if (from === undefined) return `everything up to ${formatUtc(to)} UTC`;
  if (to === undefined) return `${formatUtc(from)} UTC until now`;
  return formatRange(from, to);
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return m ? `${h}h${m}m` : `${h}h`;
  if (m > 0) return sec ? `${m}m${sec}s` : `${m}m`;
  return `${sec}s`;
}

/** Names and an ellipsis past `max`, so a modal stays readable with hundreds of blocks. */
export function listOf(items: readonly string[], max = 8): string {
  return items.length > max ? `${items.slice(0, max).join(', ')}, … and ${items.length - max} more` : items.join(', ');
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
