/**
 * What tsdbdump leaves in a pod while it works, and how the next run knows what an interrupted run
 * left: a snapshot made for a dump (`<data>/snapshots/<name>`, whose hard links pin the disk space
 * of blocks Prometheus would delete) and the staging dir of a restore (`<data>/.tsdbdump-staging-*`).
 * Each gets a marker file beside it, touched every minute while the run goes on; a marker untouched
 * for longer than STALE_AFTER_S belongs to a run that is gone, and the next dump or restore of the
 * pod removes it with what it marks. Snapshots without a marker (made by people or by prombackup)
 * and the previous data a replace-mode restore moved aside are never touched.
 */
import { ToolError } from '../errors';
import { execCollect, execOk } from './exec';
import type { ResolvedPod } from './prometheusPods';

export const HEARTBEAT_MS = 60_000;

/** How the CLI reports one removed leftover (DumpResult/RestoreResult `cleanedUp`). */
export function removedLeftoverLine(path: string): string {
  return `removed ${path}, left in the pod by an interrupted tsdbdump run`;
}
/** Ten heartbeats missed: no live run is that late (an exec that hangs times out long before). */
export const STALE_AFTER_S = 600;

export function snapshotMarker(dataDir: string, snapshot: string): string {
  return `${dataDir}/snapshots/${snapshot}.tsdbdump`;
}

export function stagingMarker(staging: string): string {
  return `${staging}.tsdbdump`;
}

/**
 * Removes what stale markers mark, and the markers; prints each removed path. Ages come from
 * `stat -c %Y` and `date +%s` (busybox has both); a pod without them keeps everything.
 */
const SWEEP_SCRIPT = `
cd "$1" 2>/dev/null || exit 0
now=$(date +%s) || exit 0
for m in snapshots/*.tsdbdump .tsdbdump-staging-*.tsdbdump; do
  [ -f "$m" ] || continue
  t=$(stat -c %Y "$m" 2>/dev/null) || continue
  [ $((now - t)) -gt "$2" ] || continue
  d=\${m%.tsdbdump}
  rm -rf -- "$d" && rm -f -- "$m" && printf '%s\\n' "$d"
done
`;

/** Removes what interrupted tsdbdump runs left in the pod's data dir; returns the removed paths. */
export async function removeStaleLeftovers(pod: ResolvedPod, dataDir: string, signal?: AbortSignal): Promise<string[]> {
  const r = await execCollect(pod.conn, {
    namespace: pod.namespace,
    pod: pod.name,
    container: pod.container,
    command: ['sh', '-c', SWEEP_SCRIPT, 'sh', dataDir, String(STALE_AFTER_S)],
    signal,
    timeoutMs: 120_000,
  });
  return r.stdout.toString('utf8').split('\n').filter(Boolean).map((p) => `${dataDir}/${p}`);
}

/**
 * Touches `marker` now and every HEARTBEAT_MS until the returned stop() is called. A failed touch
 * is not an error of the run: at worst a later run sweeps what this one still uses only after
 * STALE_AFTER_S without a touch.
 */
export async function keepAlive(pod: ResolvedPod, marker: string, signal?: AbortSignal): Promise<() => void> {
  await touchMarker(pod, marker, signal);
  const timer = setInterval(() => void touchMarker(pod, marker, signal).catch(() => undefined), HEARTBEAT_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Creates the marker, or sets its time to now. A pod without `touch` gets no marker: what this run
 * leaves there is then never swept, but the run itself goes on.
 */
export async function touchMarker(pod: ResolvedPod, marker: string, signal?: AbortSignal): Promise<void> {
  try {
    await execOk(pod.conn, {
      namespace: pod.namespace,
      pod: pod.name,
      container: pod.container,
      command: ['touch', marker],
      signal,
      timeoutMs: 30_000,
    });
  } catch (e) {
    if (!(e instanceof ToolError && e.code === 'pod-missing-tool')) throw e;
  }
}

export async function removeMarked(pod: ResolvedPod, path: string, marker: string): Promise<void> {
  await execCollect(pod.conn, {
    namespace: pod.namespace, pod: pod.name, container: pod.container, command: ['rm', '-rf', '--', path, marker], timeoutMs: 60_000,
  });
}
