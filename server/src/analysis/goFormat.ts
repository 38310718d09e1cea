/** Small formatters that reproduce how Prometheus (Go) prints values in its log lines. */

/** Go's time.Duration.String() of whole seconds, e.g. 7185 → `1h59m45s`, 0 → `0s`. */
export function goDurationSeconds(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  if (s === 0) return '0s';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h${m}m${sec}s`;
  if (m > 0) return `${m}m${sec}s`;
  return `${sec}s`;
}

/** Prometheus prints block ranges in overlap details as whole seconds of (maxt - mint). */
export function rangeOf(minTime: number, maxTime: number): string {
  return goDurationSeconds(Math.floor((maxTime - minTime) / 1000));
}

/** `%06d` (head chunk and block chunk files) or `%08d` (WAL segments). */
export function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** ISO 8601 UTC without milliseconds when they are zero. */
export function utc(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return String(ms);
  const iso = d.toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

/** Human size: 1.5 MiB, 131072 B → 128.0 KiB. */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** Human duration of a time range in ms: `2h`, `1h59m45s`, `915ms`. */
export function humanSpan(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  return goDurationSeconds(Math.round(ms / 1000)).replace(/(^|[hm])0m0s$/, '$1').replace(/([hm])0s$/, '$1');
}

/** Epoch milliseconds as found in the data, with their UTC time: `1735934400001 (2025-01-03T20:00:00.001Z)`. */
export function msUtc(ms: number): string {
  return `${ms} (${utc(ms)})`;
}

/** A half-open range in epoch milliseconds with its UTC times: `[a, b) = 2025-…Z .. 2025-…Z`. */
export function msRangeUtc(from: number, to: number): string {
  return `[${from}, ${to}) = ${utc(from)} .. ${utc(to)}`;
}
