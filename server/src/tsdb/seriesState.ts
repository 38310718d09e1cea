/**
 * `wal/series_state.json` of Prometheus 3.11+ with `--enable-feature=fast-startup`
 * (SeriesLifecycleState, tsdb/head_wal.go): the last series ID and WAL segment, and whether the last
 * shutdown was clean. Prometheus reads it with json.Decoder at startup; when it cannot, it logs
 * `Failed to read series state file, skipping the fast startup` and replays as usual (not fatal).
 */
import { decodeUtf8 } from './cursor';

export interface SeriesState {
  lastSeriesId: number;
  lastWalSegment: number;
  cleanShutdown: boolean;
}

export type SeriesStateParse = { ok: true; state: SeriesState } | { ok: false; message: string };

/** Parses the file; fields Go would zero when missing are 0 / false here too. */
export function parseSeriesState(bytes: Uint8Array): SeriesStateParse {
  let v: unknown;
  try {
    v = JSON.parse(decodeUtf8(bytes));
  } catch (e) {
    return { ok: false, message: `decode series state: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, message: 'decode series state: not a JSON object' };
  const o = v as Record<string, unknown>;
  const id = o.last_series_id ?? 0;
  const seg = o.last_wal_segment ?? 0;
  const clean = o.clean_shutdown ?? false;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0)
    return { ok: false, message: 'decode series state: last_series_id is not a uint64' };
  if (typeof seg !== 'number' || !Number.isInteger(seg))
    return { ok: false, message: 'decode series state: last_wal_segment is not an int' };
  if (typeof clean !== 'boolean') return { ok: false, message: 'decode series state: clean_shutdown is not a bool' };
  return { ok: true, state: { lastSeriesId: id, lastWalSegment: seg, cleanShutdown: clean } };
}
