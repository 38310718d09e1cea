/**
 * What Prometheus's WAL replay reads, the one model the analysis (./wal.ts) and the repair model
 * (../repair/model.ts) share. On startup Prometheus finds the newest checkpoint (checkpoint.N),
 * replays it, then opens the segments N+1 … last one by one (tsdb/head.go Head.Init with
 * wlog.LastCheckpoint and wlog.Segments); older checkpoints and segments ≤ N are not read.
 */

/** The checkpoint replay starts from: the highest number. */
export function newestCheckpoint<T extends { number: number }>(checkpoints: Iterable<T>): T | undefined {
  let best: T | undefined;
  for (const c of checkpoints) if (!best || c.number > best.number) best = c;
  return best;
}

/** The segments replayed after checkpoint `checkpoint` (all without one), by number. */
export function replayedSegments<T extends { number: number }>(segments: Iterable<T>, checkpoint: number | undefined): T[] {
  return [...segments].filter((s) => checkpoint === undefined || s.number > checkpoint).sort((a, b) => a.number - b.number);
}

/**
 * The stale-checkpoint rule: replay opens segment N+1 after checkpoint.N whenever the last segment
 * is at least N+1, so when N+1 is missing Prometheus fails with `open WAL segment: N+1: … no such
 * file or directory`. Returns the missing segment's number, or undefined when replay can start.
 */
export function missingFirstReplayedSegment(segmentNumbers: Iterable<number>, checkpoint: number | undefined): number | undefined {
  if (checkpoint === undefined) return undefined;
  const after = replayedSegments([...segmentNumbers].map((number) => ({ number })), checkpoint);
  return after.length > 0 && after[0].number !== checkpoint + 1 ? checkpoint + 1 : undefined;
}
