/**
 * Restore a dump into a pod, never losing the pod's data:
 *
 *   analyse the dump (refuse on error diagnostics unless forced) → preflight on the target (Ready,
 *   exec allowed, tools, free space, exec protocol, version vs overlaps, retention) → the preview
 *   (a dry run ends here, with the dump's errors in the preview instead of a refusal) → confirmation
 *   → BACKUP the target with a verified dump → upload into a staging dir inside the data dir (same
 *   volume, so the swap is a rename) → sha256sum there → swap (replace: old data moved aside;
 *   merge: new block dirs moved in) → restart Prometheus → wait until Ready → query the restored
 *   range through the pod proxy.
 *
 * Restart, by the volume that holds the data dir (kube/volume.ts, read from the pod spec): on a
 * PersistentVolumeClaim or hostPath the pod is deleted (its StatefulSet recreates it on the same
 * volume); on an emptyDir or ephemeral volume, which die with the pod, only the Prometheus
 * container is restarted (/-/quit; the kubelet restarts it in place), and without the lifecycle
 * API the restore is refused; no volume at all is refused; an unknown volume source is refused
 * unless forced.
 *
 * Upload: with v5.channel.k8s.io (Kubernetes >= 1.30) one tar stream into `tar xf -` (or one
 * `cat > file` per file without tar), which needs stdin closed at the end. v4 cannot close stdin,
 * so there each file goes into `head -c <size> > file`, which ends on its own after the exact
 * byte count. Free space comes from statfs (`stat -f`, no /proc needed), `df` as the fallback.
 *
 * Replace mode: between the swap and the kill the old Prometheus still runs; its open files are
 * the moved-aside ones, but anything it creates by path (a new WAL segment, a block from a
 * compaction, a memory snapshot on shutdown) would land in the restored data. So the pod is
 * deleted right after the swap with the shortest grace period that is not a force deletion
 * (1 s; the kubelet kills after its own minimum of about 2 s): a force deletion (0) would let
 * the StatefulSet start the new Prometheus before the old container is gone.
 *
 * Failures before the swap remove the staging dir and leave the data as it was. Failures after
 * the swap move the old data back (it is still in the pod, aside) and restart again; the verified
 * local backup remains as the last resort, and the error says where it is.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import * as tarStream from 'tar-stream';
import { isUlid } from '../tsdb/blockDir';
import { ToolError, toToolError } from '../errors';
import type {
  AnalysisResult,
  BlockInfo,
  CompatibilityRequirement,
  DataVolume,
  RestorePreview,
  RestoreRequest,
  RestoreResult,
  TimeRange,
  UploadMethod,
} from '../protocol';
import { analyzeSource } from '../analysis/analyze';
import { openSource } from '../dump/source';
import { executeDump, planDump, podSha256, type DumpOutcome } from './dump';
import { EXEC_V5, execCollect, execOk, execStream } from './exec';
import { deletePod, isReady, requireExec, resolvePod, restartCountOf, waitForReady, type ResolvedPod } from './prometheusPods';
import { compareVersions, prometheusStatus, promApi, requestQuit, type PromStatus } from './prometheusApi';
import { effectiveDataDir, listDataDir, type DataDirListing } from './summary';
import { keepAlive, removeMarked, removeStaleLeftovers, stagingMarker } from './leftovers';
import { dataVolumeOf } from './volume';

/** Never restored: Prometheus's own lock and query log belong to the running instance. */
const NEVER_RESTORE = new Set(['lock', 'queries.active']);
/** Replace mode stops the old Prometheus this fast after the swap (0 would be a force deletion). */
const REPLACE_KILL_GRACE_SECONDS = 1;

export type RestorePhase =
  'analysing' | 'preflight' | 'backup' | 'uploading' | 'verifying' | 'swapping' | 'restarting' | 'checking' | 'rolling-back' | 'done';

export interface RestoreProgress {
  phase: RestorePhase;
  message: string;
  bytes?: number;
  totalBytes?: number;
}

export interface RestoreOptions {
  signal?: AbortSignal;
  onProgress?: (p: RestoreProgress) => void;
  /** Asked after the preflight, before anything changes; false cancels. Absent = proceed. */
  confirm?: (preview: RestorePreview) => Promise<boolean>;
  /** Analysis to reuse (the caller may have analysed the dump already). */
  analysis?: AnalysisResult;
  readyTimeoutMs?: number;
}

export interface RestoreOutcome extends RestoreResult {
  preview: RestorePreview;
  warnings: string[];
  /** Absent on a dry run (nothing is backed up). */
  backupResult?: DumpOutcome;
  verifiedSeries?: number;
}

interface UploadEntry {
  path: string;
  size: number;
  sha256: string;
}

/**
 * The target while it is restored: how it is restarted (from its data volume), and the instance
 * deleted last (to wait for its successor).
 */
type RestoringPod = ResolvedPod & { restart: 'pod' | 'container'; deletedUid?: string };

function blockDirOf(p: string): string | undefined {
  const top = p.split('/')[0];
  return isUlid(top) ? top : undefined;
}

/**
 * The last full analysis of a dump file, reused while the file is unchanged: VS Code runs a dry run
 * for its confirmation and then the restore, and a big dump takes seconds to analyse. Data dirs
 * are always analysed again (their files can change without the dir's own stat changing).
 */
let lastAnalysis: { key: string; result: AnalysisResult } | undefined;

async function dumpFileKey(source: string): Promise<string | undefined> {
  const st = await fsp.stat(source).catch(() => undefined);
  return st?.isFile() ? [path.resolve(source), st.dev, st.ino, st.size, st.mtimeMs].join('\0') : undefined;
}

/** Returns the analysis and whether it was reused. */
async function analyse(source: string, signal?: AbortSignal): Promise<{ analysis: AnalysisResult; reused: boolean }> {
  const key = await dumpFileKey(source);
  if (key !== undefined && lastAnalysis?.key === key) return { analysis: lastAnalysis.result, reused: true };
  // full: chunk CRCs too; a restore is the moment to find damaged chunks, not after Prometheus hits them
  const analysis = await analyzeSource(source, { signal, verify: 'full' });
  if (key !== undefined && (await dumpFileKey(source)) === key) lastAnalysis = { key, result: analysis };
  return { analysis, reused: false };
}

/** statfs through `stat -f` (works without /proc, unlike df in some images); df as the fallback. */
const FREE_SPACE_SCRIPT = 'stat -f -c "statfs %a %S" "$1" 2>/dev/null || df -k "$1"';

/**
 * Bytes available to Prometheus (a non-root user) from the output of FREE_SPACE_SCRIPT: either
 * `statfs <available blocks> <block size>` or `df -k` (a header, then one filesystem line, which
 * df wraps after a long device name).
 */
export function parseFreeSpace(output: string): number | undefined {
  const text = output.trim();
  const statfs = /^statfs (\d+) (\d+)$/.exec(text);
  if (statfs) return Number(statfs[1]) * Number(statfs[2]);
  const tokens = text.split('\n').slice(1).join(' ').trim().split(/\s+/);
  if (tokens.length < 6) return undefined;
  const availableKiB = tokens[tokens.length - 3];
  return /^\d+$/.test(availableKiB) ? Number(availableKiB) * 1024 : undefined;
}

/**
 * One exec that tells the free space in `dir` and, as any exec does, the exec subprotocol the
 * API server negotiates (undefined only when the exec itself failed).
 */
async function probeTarget(p: ResolvedPod, dir: string, signal?: AbortSignal): Promise<{ freeBytes?: number; protocol?: string }> {
  const r = await execCollect(p.conn, {
    namespace: p.namespace,
    pod: p.name,
    container: p.container,
    command: ['sh', '-c', FREE_SPACE_SCRIPT, 'sh', dir],
    signal,
    timeoutMs: 30_000,
  }).catch(() => undefined);
  if (!r) return {};
  return { protocol: r.protocol, freeBytes: r.exitCode === 0 ? parseFreeSpace(r.stdout.toString('utf8')) : undefined };
}

function rangesOverlap(a: { minTime: number; maxTime: number }, b: { minTime: number; maxTime: number }): boolean {
  return a.minTime < b.maxTime && b.minTime < a.maxTime;
}

/** Runs a constant shell script with positional arguments (paths are never interpolated). */
async function podScript(p: ResolvedPod, script: string, args: string[], signal?: AbortSignal, timeoutMs = 120_000): Promise<void> {
  await execOk(p.conn, {
    namespace: p.namespace,
    pod: p.name,
    container: p.container,
    command: ['sh', '-c', script, 'sh', ...args],
    signal,
    timeoutMs,
  });
}

const SWAP_REPLACE = [
  'set -e',
  'd="$1"; s="$2"; old="$3"',
  'mkdir "$old"',
  // everything visible in the data dir goes aside (dot-dirs, like staging and aside, stay)
  'for f in "$d"/*; do [ -e "$f" ] || continue; mv "$f" "$old"/; done',
  'for f in "$s"/* "$s"/.[!.]*; do [ -e "$f" ] || continue; mv "$f" "$d"/; done',
  'rmdir "$s"',
].join('\n');

const SWAP_MERGE = ['set -e', 'd="$1"; s="$2"; shift 2', 'for b in "$@"; do mv "$s/$b" "$d/$b"; done', 'rm -rf "$s"'].join('\n');

const ROLLBACK_REPLACE = [
  'set -e',
  'd="$1"; old="$2"; junk="$3"',
  '[ -d "$old" ] || exit 4',
  'mkdir -p "$junk"',
  'for f in "$d"/*; do [ -e "$f" ] || continue; mv "$f" "$junk"/; done',
  'for f in "$old"/* "$old"/.[!.]*; do [ -e "$f" ] || continue; mv "$f" "$d"/; done',
  'rmdir "$old"',
  'rm -rf "$junk"',
].join('\n');

const ROLLBACK_MERGE = ['set -e', 'd="$1"; shift', 'for b in "$@"; do rm -rf "$d/$b"; done'].join('\n');

function defaultBackupPath(source: string, pod: ResolvedPod): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '').replace(/\d{3}Z$/, 'Z');
  return path.join(path.dirname(path.resolve(source)), `${pod.conn.context}-${pod.namespace}-${pod.name}-backup-${stamp}.tar.gz`);
}

/** What the preflight learnt: the preview, and what the restore itself needs of it. */
interface Preflight {
  pod: RestoringPod;
  preview: RestorePreview;
  /** The dump's blocks with a readable meta.json. */
  sourceBlocks: BlockInfo[];
  /** Which dump paths are uploaded. */
  include: (p: string) => boolean;
}

/**
 * Checks the target and works out what the restore would do; changes nothing. Throws when the
 * target refuses (not Ready, no controller, missing tools, nothing to merge, overlaps an old
 * Prometheus refuses, not enough space).
 */
async function preflight(req: RestoreRequest, analysis: AnalysisResult, errorLines: string[], signal?: AbortSignal): Promise<Preflight> {
  const resolved = await resolvePod(req.target, signal);
  if (!isReady(resolved.pod))
    throw new ToolError(
      'restore-refused',
      `target pod ${resolved.namespace}/${resolved.name} is not Ready; restore needs a running Prometheus to check and to verify`,
    );
  await requireExec(resolved, signal);
  const status: PromStatus = await prometheusStatus(resolved, signal).catch(() => ({}));
  const dataDir = effectiveDataDir(req.target, status);
  const dataVolume = dataVolumeOf(resolved.pod, resolved.container, dataDir);
  const pod: RestoringPod = { ...resolved, restart: restartMethod(resolved, dataDir, dataVolume, status, req.force === true) };
  const listing: DataDirListing = await listDataDir(pod, dataDir, signal);
  if (!listing.tools.has('sha256sum'))
    throw new ToolError('pod-missing-tool', `sha256sum is not available in ${pod.namespace}/${pod.name}: uploads could not be verified`);

  const sourceBlocks = analysis.blocks.filter((b) => b.metaReadable);
  const { adds, skipped, include } = selectUpload(req.mode, analysis, sourceBlocks, listing, pod);
  const added = sourceBlocks.filter((b) => adds.includes(b.dir));
  const warnings = compatibilityWarnings(status, req.mode === 'merge' ? [...listing.blocks, ...added] : sourceBlocks, added);

  // Sizes and space.
  const uploadBytes = req.mode === 'merge' ? added.reduce((n, b) => n + b.sizeBytes, 0) : analysis.totalBytes;
  const probe = await probeTarget(pod, dataDir, signal);
  const free = probe.freeBytes;
  if (free !== undefined && free < uploadBytes * 1.05 + 16 * 1024 * 1024) {
    throw new ToolError(
      'restore-refused',
      `not enough space in ${pod.namespace}/${pod.name}:${dataDir}: ${Math.round(free / 1048576)} ` +
        `MiB free, the restore stages ${Math.round(uploadBytes / 1048576)} MiB beside the current data`,
    );
  }
  if (free === undefined) warnings.push('free space in the pod could not be checked (neither `stat -f` nor `df` answered)');
  const uploadMethod = chooseUploadMethod(probe.protocol, listing.tools);
  if (uploadMethod === 'head' && !listing.tools.has('head')) {
    throw new ToolError(
      'pod-missing-tool',
      `head is not available in ${pod.namespace}/${pod.name}: the API server ` +
        `speaks no ${EXEC_V5} (Kubernetes < 1.30), so uploads need \`head -c\` to end each file without closing stdin`,
    );
  }

  const preview: RestorePreview = {
    pod: { context: pod.conn.context, namespace: pod.namespace, name: pod.name, container: pod.container },
    dataDir,
    mode: req.mode,
    prometheusVersion: status.version,
    dataVolume,
    replaces: req.mode === 'replace' ? [...new Set([...listing.files.keys()].map((f) => f.split('/')[0]))].sort() : [],
    adds,
    skipped,
    uploadBytes,
    freeBytes: free,
    execProtocol: probe.protocol,
    uploadMethod,
    backup: path.resolve(req.backup ?? defaultBackupPath(req.source, pod)),
    warnings,
    errors: errorLines,
    tooNewForTarget: tooNewFor(status.version, analysis, include, warnings),
    needsForce: false,
  };
  preview.needsForce = preview.errors.length > 0 || preview.tooNewForTarget.length > 0;
  return { pod, preview, sourceBlocks, include };
}

/**
 * How Prometheus is restarted without losing the data dir, or a refusal (kube/volume.ts): deleting
 * the pod keeps only a volume that outlives it, and needs a controller to bring the pod back.
 */
function restartMethod(pod: ResolvedPod, dataDir: string, volume: DataVolume, status: PromStatus, force: boolean): 'pod' | 'container' {
  const where = `${pod.namespace}/${pod.name}:${dataDir}`;
  const details = { dataVolume: volume };
  if (volume.restart === 'none') {
    throw new ToolError(
      'restore-refused',
      `${where} is not on a volume (${volume.description}): any restart of Prometheus would lose it, the restored data with it`,
      details,
    );
  }
  if (volume.restart === 'container') {
    if (status.lifecycleApi) return 'container';
    throw new ToolError(
      'restore-refused',
      `${where} is on an ${volume.description}, which is emptied when the pod is deleted: ` +
        `tsdbdump would restart only the Prometheus container through its lifecycle API ` +
        `(/-/quit), but Prometheus runs without --web.enable-lifecycle. Turn it on, or give Prometheus a PersistentVolumeClaim`,
      details,
    );
  }
  if (volume.restart === 'unknown' && !force) {
    throw new ToolError(
      'restore-refused',
      `${where} is on a ${volume.description}: tsdbdump does not know ` +
        `whether it survives deleting the pod (the restart), so it refuses; force the restore if it does`,
      details,
    );
  }
  const owner = pod.pod.metadata?.ownerReferences?.find((r) => r.controller);
  if (!owner)
    throw new ToolError(
      'restore-refused',
      `${pod.namespace}/${pod.name} has no controller (StatefulSet): deleting it to restart Prometheus would not bring it back`,
    );
  return 'pod';
}

/**
 * The compatibility requirements (analysis/compatibility) of the uploaded entries that the
 * target's Prometheus version does not meet: it would refuse them or drop them without a word.
 * An unknown target version is a warning, not a refusal.
 */
function tooNewFor(
  version: string | undefined,
  analysis: AnalysisResult,
  include: (p: string) => boolean,
  warnings: string[],
): CompatibilityRequirement[] {
  const requirements = (analysis.compatibility?.requirements ?? []).filter((r) => r.where.length === 0 || r.where.some(include));
  if (!requirements.length) return [];
  if (!version) {
    warnings.push(
      `the target's Prometheus version is unknown, so it was not checked ` +
        `against what the dump needs (Prometheus ${analysis.compatibility!.minVersion})`,
    );
    return [];
  }
  return requirements.filter((r) => compareVersions(version, r.needs) < 0);
}

/** Which blocks go in and which entries of the dump stay out. */
function selectUpload(
  mode: RestoreRequest['mode'],
  analysis: AnalysisResult,
  sourceBlocks: BlockInfo[],
  listing: DataDirListing,
  pod: ResolvedPod,
): { adds: string[]; skipped: string[]; include: (p: string) => boolean } {
  if (mode === 'replace') {
    return {
      adds: sourceBlocks.map((b) => b.dir),
      skipped: [],
      include: (p) => !NEVER_RESTORE.has(p.split('/')[0]) && !p.startsWith('snapshots/'),
    };
  }
  const targetBlocks = new Set(listing.blocks.map((b) => b.dir).concat(listing.unreadableBlocks));
  const skipped = sourceBlocks.filter((b) => targetBlocks.has(b.dir)).map((b) => `${b.dir} (already in the target)`);
  const adds = sourceBlocks.filter((b) => !targetBlocks.has(b.dir)).map((b) => b.dir);
  if (analysis.head.chunksHeadFiles.length || analysis.wal.segments.length)
    skipped.push('chunks_head/ and wal/ (merge adds blocks only; the target keeps its own head)');
  if (!adds.length)
    throw new ToolError('restore-refused', `nothing to merge: every block of the dump is already in ${pod.namespace}/${pod.name}`);
  const addSet = new Set(adds);
  return { adds, skipped, include: (p) => addSet.has(blockDirOf(p) ?? '') };
}

/**
 * Version and retention: overlapping blocks (refused before Prometheus 2.39, merged later) and
 * added blocks that retention would delete at once. `resulting` is every block after the restore.
 */
function compatibilityWarnings(
  status: PromStatus,
  resulting: { dir: string; minTime: number; maxTime: number }[],
  added: BlockInfo[],
): string[] {
  const warnings: string[] = [];
  const version = status.version;
  const overlapping: string[] = [];
  for (let i = 0; i < resulting.length; i++) {
    for (let j = i + 1; j < resulting.length; j++)
      if (rangesOverlap(resulting[i], resulting[j])) overlapping.push(`${resulting[i].dir}/${resulting[j].dir}`);
  }
  if (overlapping.length) {
    const msg = `${overlapping.length} pair(s) of blocks would overlap (${overlapping.slice(0, 3).join(', ')})`;
    if (version !== undefined && compareVersions(version, '2.39.0') < 0)
      throw new ToolError('restore-refused', `${msg}; Prometheus ${version} (before 2.39) refuses to start with overlapping blocks`);
    if (version === undefined) warnings.push(`${msg}; the target's Prometheus version is unknown (before 2.39 it would refuse to start)`);
    else warnings.push(`${msg}; Prometheus ${version} merges them at the next compaction`);
  }
  if (status.retentionMs) {
    const cutoff = Date.now() - status.retentionMs;
    const old = added.filter((b) => b.maxTime < cutoff);
    if (old.length)
      warnings.push(
        `${old.length} block(s) end before the target's retention (${status.retention}): Prometheus deletes them ` +
          `at its next retention pass (${old.map((b) => b.dir).slice(0, 3).join(', ')}${old.length > 3 ? ', …' : ''})`,
      );
  } else if (!status.retention) {
    warnings.push("the target's retention is unknown (Prometheus status API not reachable)");
  }
  return warnings;
}

/** Restores `req.source` into the target pod (with `req.dryRun`, only works out the preview). */
export async function restoreToPod(req: RestoreRequest, o: RestoreOptions = {}): Promise<RestoreOutcome> {
  const started = Date.now();
  const { signal } = o;
  const say = (phase: RestorePhase, message: string, extra: Partial<RestoreProgress> = {}) => o.onProgress?.({ phase, message, ...extra });

  // 1. The dump itself.
  say('analysing', `analysing ${req.source}`);
  let analysis = o.analysis;
  if (!analysis) {
    const a = await analyse(req.source, signal);
    analysis = a.analysis;
    if (a.reused) say('analysing', `${req.source} is unchanged since its last analysis: reusing it`);
  }
  const errors = analysis.diagnostics.filter((d) => d.severity === 'error');
  const errorLines = errors.map((d) => `${d.code} ${d.path}: ${d.message}`);
  if (errors.length && !req.force && !req.dryRun) {
    throw new ToolError(
      'dump-has-errors',
      `the dump has ${errors.length} error diagnostic(s) (${[...new Set(errors.map((d) => d.code))].join(', ')}); ` +
        `restoring it could make Prometheus fail or lose data. Repair it first, or force the restore`,
      { errors: errorLines },
    );
  }

  // 2. The target.
  say('preflight', 'checking the target pod');
  const { pod, preview, sourceBlocks, include } = await preflight(req, analysis, errorLines, signal);
  const { dataDir, adds, uploadBytes, uploadMethod, backup, warnings } = preview;
  const restoredTarget = { ...req.target, context: pod.conn.context, namespace: pod.namespace, container: pod.container, dataDir };
  if (req.dryRun) {
    say('done', 'dry run: nothing was changed');
    return { target: restoredTarget, backup, restoredBlocks: [], durationMs: Date.now() - started, preview, warnings };
  }
  if (preview.tooNewForTarget.length && !req.force) {
    const needs = preview.tooNewForTarget.map((r) => `${r.feature} needs ${r.needs} (${r.olderDoes})`);
    throw new ToolError(
      'target-too-old',
      `${pod.namespace}/${pod.name} runs Prometheus ${preview.prometheusVersion}, ` +
        `too old for this dump: ${needs.join('; ')}. Restore into a newer Prometheus, or force the restore`,
      { tooNewForTarget: preview.tooNewForTarget },
    );
  }
  if (o.confirm && !(await o.confirm(preview))) throw new ToolError('cancelled', 'restore cancelled; nothing was changed');
  signal?.throwIfAborted();
  // What an interrupted run left in this pod goes first (kube/leftovers.ts); never fatal.
  const cleanedUp = await removeStaleLeftovers(pod, dataDir, signal).catch(() => [] as string[]);

  // 3. Backup (a verified dump of everything the target has now).
  say('backup', `backing up ${pod.namespace}/${pod.name}:${dataDir} to ${backup}`);
  const backupPlan = await planDump({ target: { ...req.target, dataDir }, signal });
  const backupResult = await executeDump(backupPlan, backup, {
    signal,
    onProgress: (p) => say('backup', 'backing up', { bytes: p.bytes, totalBytes: p.totalBytes }),
  });

  // 4. Upload into staging and verify there.
  const id = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const staging = `${dataDir}/.tsdbdump-staging-${id}`;
  const aside = `${dataDir}/.tsdbdump-previous-${id}`;
  let uploaded: UploadEntry[];
  // The marker keeps the staging dir from being swept as an interrupted run's while this one runs.
  const stopHeartbeat = await keepAlive(pod, stagingMarker(staging), signal);
  try {
    say('uploading', `uploading to ${staging}`, { bytes: 0, totalBytes: uploadBytes });
    const onBytes = (b: number) => say('uploading', 'uploading', { bytes: b, totalBytes: uploadBytes });
    uploaded = uploadMethod === 'tar'
      ? await uploadWithTar(pod, req.source, staging, include, onBytes, signal)
      : await uploadFileByFile(pod, req.source, staging, include, uploadMethod, onBytes, signal);
    say('verifying', `verifying ${uploaded.length} files in the pod`);
    const podHashes = await podSha256(pod, staging, uploaded.map((u) => u.path), signal);
    const bad = uploaded.filter((u) => podHashes.get(u.path) !== u.sha256);
    if (bad.length)
      throw new ToolError(
        'checksum-mismatch',
        `${bad.length} uploaded file(s) differ in the pod from the dump: ${bad
          .slice(0, 5)
          .map((b) => b.path)
          .join(', ')}`,
      );
  } catch (e) {
    stopHeartbeat();
    await removeMarked(pod, staging, stagingMarker(staging)).catch(() => undefined);
    const err = toToolError(e, 'restore-failed');
    if (signal?.aborted)
      throw new ToolError(
        'cancelled',
        `restore cancelled before anything was replaced; ${pod.namespace}/${pod.name} is unchanged (backup at ${backup})`,
      );
    throw new ToolError(
      err.code === 'internal' ? 'restore-failed' : err.code,
      `restore failed before anything was ` +
        `replaced: ${err.message}; ${pod.namespace}/${pod.name} is unchanged, the staging dir was removed (backup at ${backup})`,
    );
  }

  // 5. Swap, restart, verify. From here a failure rolls back.
  let swapped = false;
  try {
    say(
      'swapping',
      req.mode === 'replace' ? `moving the current data aside to ${aside} and the restored data in` : `adding ${adds.length} block(s)`,
    );
    if (req.mode === 'replace') await podScript(pod, SWAP_REPLACE, [dataDir, staging, aside], signal);
    else await podScript(pod, SWAP_MERGE, [dataDir, staging, ...adds], signal);
    swapped = true;
    stopHeartbeat();
    await removeDir(pod, stagingMarker(staging));
    const verifiedRange = await restartAndCheck(pod, req.mode, adds, sourceBlocks, o, say);
    if (req.mode === 'replace') await removeDir(pod, aside);
    say('done', 'restore verified');
    return {
      target: restoredTarget,
      backup,
      restoredBlocks: adds,
      verifiedRange: verifiedRange?.range,
      verifiedSeries: verifiedRange?.series,
      durationMs: Date.now() - started,
      preview,
      warnings,
      backupResult,
      cleanedUp,
    };
  } catch (e) {
    stopHeartbeat();
    const err = toToolError(e, 'restore-failed');
    if (!swapped) {
      // The swap script failed part-way (set -e): undo what it moved.
      await rollback(pod, req.mode, dataDir, aside, adds, id).catch(() => undefined);
      await removeMarked(pod, staging, stagingMarker(staging)).catch(() => undefined);
    } else {
      say('rolling-back', 'restore failed after the swap: putting the previous data back');
      try {
        // The pod may be between instances (deleted, being recreated): exec needs a running container.
        pod.pod = await waitForReady(pod.conn, pod.name, { oldUid: pod.deletedUid });
        await rollback(pod, req.mode, dataDir, aside, adds, id);
        await restartPrometheus(pod, req.mode); // the default deadline: readyTimeoutMs may be what just failed
      } catch (re) {
        throw new ToolError(
          'restore-failed',
          `restore failed after the swap (${err.message}) and putting the previous ` +
            `data back failed too (${toToolError(re).message}); restore the verified backup ${backup} into ${pod.namespace}/${pod.name}`,
        );
      }
    }
    throw new ToolError(
      'restore-failed',
      `restore failed (${err.message}); the previous data ` +
        `of ${pod.namespace}/${pod.name} was put back${swapped ? ' and Prometheus restarted' : ''}; the verified backup is at ${backup}`,
    );
  }
}

async function rollback(
  pod: ResolvedPod,
  mode: 'replace' | 'merge',
  dataDir: string,
  aside: string,
  adds: string[],
  id: string,
): Promise<void> {
  const fresh = pod;
  if (mode === 'replace') {
    const r = await execCollect(fresh.conn, {
      namespace: fresh.namespace,
      pod: fresh.name,
      container: fresh.container,
      command: ['sh', '-c', ROLLBACK_REPLACE, 'sh', dataDir, aside, `${dataDir}/.tsdbdump-failed-${id}`],
      timeoutMs: 120_000,
    });
    if (r.exitCode === 4) return; // nothing was moved aside yet
    if (r.exitCode !== 0) throw new ToolError('restore-failed', `moving the previous data back failed: ${r.stderr.trim()}`);
  } else {
    await podScript(fresh, ROLLBACK_MERGE, [dataDir, ...adds]);
  }
}

async function removeDir(pod: ResolvedPod, dir: string): Promise<void> {
  await execCollect(pod.conn, {
    namespace: pod.namespace,
    pod: pod.name,
    container: pod.container,
    command: ['rm', '-rf', dir],
    timeoutMs: 120_000,
  }).catch(() => undefined);
}

/** tar over v5; without v5 (or when the probe could not tell) `head -c`, which needs no end of stdin. */
function chooseUploadMethod(protocol: string | undefined, tools: Set<string>): UploadMethod {
  if (protocol !== EXEC_V5) return 'head';
  return tools.has('tar') ? 'tar' : 'cat';
}

/**
 * Restarts Prometheus the way its data volume allows (restartMethod) and waits until it is Ready.
 * Pod restart: deletes the pod (its StatefulSet recreates it on the same volume). Replace mode: the
 * data dir was just swapped under the running Prometheus, so it is stopped as fast as possible
 * (see the top of this file); merge mode leaves it its graceful shutdown.
 */
async function restartPrometheus(
  pod: RestoringPod,
  mode: 'replace' | 'merge',
  o: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  if (pod.restart === 'container') {
    const restarts = restartCountOf(pod.pod, pod.container);
    await requestQuit(pod, o.signal);
    pod.pod = await waitForReady(pod.conn, pod.name, {
      restartedContainer: { name: pod.container, after: restarts },
      timeoutMs: o.timeoutMs,
      signal: o.signal,
    });
    return;
  }
  const oldUid = pod.pod.metadata?.uid;
  await deletePod(pod.conn, pod.name, o.signal, { gracePeriodSeconds: mode === 'replace' ? REPLACE_KILL_GRACE_SECONDS : undefined });
  pod.deletedUid = oldUid;
  pod.pod = await waitForReady(pod.conn, pod.name, { oldUid, timeoutMs: o.timeoutMs, signal: o.signal });
}

async function restartAndCheck(
  pod: RestoringPod,
  mode: 'replace' | 'merge',
  adds: string[],
  blocks: { dir: string; minTime: number; maxTime: number }[],
  o: RestoreOptions,
  say: (phase: RestorePhase, message: string) => void,
): Promise<{ range: TimeRange; series: number } | undefined> {
  say('restarting', `restarting ${pod.namespace}/${pod.name}`);
  await restartPrometheus(pod, mode, { timeoutMs: o.readyTimeoutMs, signal: o.signal });
  const restored = blocks.filter((b) => adds.includes(b.dir));
  if (!restored.length) return undefined;
  const range = { from: Math.min(...restored.map((b) => b.minTime)), to: Math.max(...restored.map((b) => b.maxTime)) };
  say('checking', `querying ${new Date(range.from).toISOString()} – ${new Date(range.to).toISOString()} through the pod proxy`);
  // Ready can come a moment before the query API serves the loaded blocks: poll with a deadline.
  const until = Date.now() + 60_000;
  let last = '';
  for (;;) {
    try {
      const q = new URLSearchParams({
        'match[]': '{__name__!=""}',
        start: (range.from / 1000).toFixed(3),
        end: ((range.to - 1) / 1000).toFixed(3),
      });
      const series = await promApi<unknown[]>(pod, 'GET', `/api/v1/series?${q.toString()}`, o.signal, 60_000);
      if (series.length > 0) return { range, series: series.length };
      last = 'no series in the restored range';
    } catch (e) {
      last = toToolError(e).message;
    }
    if (Date.now() > until) throw new ToolError('restore-failed', `the restored range does not answer queries after the restart: ${last}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Streams the selected entries of the dump as a tar into `tar xf - -C <staging>` in the pod. */
async function uploadWithTar(
  pod: ResolvedPod,
  source: string,
  staging: string,
  include: (p: string) => boolean,
  onBytes: (n: number) => void,
  signal?: AbortSignal,
): Promise<UploadEntry[]> {
  const opened = await openSource(source, { signal });
  const pack = tarStream.pack();
  pack.on('error', () => undefined); // reported through `producing`
  // The pack is read directly as the exec's stdin (async iteration keeps the back-pressure).
  const stdin = pack as unknown as AsyncIterable<Buffer>;
  const h = execStream(pod.conn, {
    namespace: pod.namespace,
    pod: pod.name,
    container: pod.container,
    command: ['sh', '-c', 'mkdir -p "$1" && exec tar xf - -C "$1"', 'sh', staging],
    stdin,
    signal,
  });
  h.stdout.resume();
  const entries: UploadEntry[] = [];
  let bytes = 0;
  const producing = (async () => {
    for await (const e of opened.entries) {
      if (!include(e.path) || (e.type !== 'file' && e.type !== 'directory')) continue;
      if (e.type === 'directory') {
        await new Promise<void>((res, rej) =>
          pack.entry({ name: `${e.path}/`, type: 'directory', mode: 0o755 }, (err) => (err ? rej(err) : res())),
        );
        continue;
      }
      const hash = createHash('sha256');
      const sink = pack.entry({ name: e.path, type: 'file', size: e.size, mode: 0o644 });
      const finished = new Promise<void>((res, rej) => {
        sink.on('finish', res);
        sink.on('error', rej);
      });
      for await (const chunk of e.stream) {
        hash.update(chunk);
        bytes += chunk.length;
        if (!sink.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)))
          await new Promise<void>((r) => sink.once('drain', () => r()));
        onBytes(bytes);
      }
      sink.end(null);
      await finished;
      entries.push({ path: e.path, size: e.size, sha256: hash.digest('hex') });
    }
    const trunc = opened.problems.find((p) => p.code === 'dump-truncated');
    if (trunc) throw new ToolError('dump-truncated', `the dump is truncated: ${trunc.message}`);
    pack.finalize();
  })();
  producing.catch(() => {
    pack.destroy();
    h.kill();
  });
  const [, status] = await Promise.all([producing, h.done]);
  if (status.exitCode === 127) throw new ToolError('pod-missing-tool', `tar is not available in ${pod.namespace}/${pod.name}`);
  if (status.exitCode !== 0)
    throw new ToolError('restore-failed', `tar in the pod exited with ${status.exitCode}: ${status.stderr.trim().slice(0, 500)}`);
  return entries;
}

/**
 * One exec per file; the path (and size) are positional arguments of a constant script.
 * cat: writes until stdin is closed (v5 only). head: reads exactly the file's size and ends by
 * itself, so it works over v4, which cannot close stdin.
 */
async function uploadFileByFile(
  pod: ResolvedPod,
  source: string,
  staging: string,
  include: (p: string) => boolean,
  method: 'cat' | 'head',
  onBytes: (n: number) => void,
  signal?: AbortSignal,
): Promise<UploadEntry[]> {
  const opened = await openSource(source, { signal });
  const entries: UploadEntry[] = [];
  let bytes = 0;
  const made = new Set<string>();
  await execOk(pod.conn, {
    namespace: pod.namespace,
    pod: pod.name,
    container: pod.container,
    command: ['mkdir', '-p', staging],
    signal,
    timeoutMs: 30_000,
  });
  for await (const e of opened.entries) {
    if (!include(e.path) || e.type !== 'file') continue;
    const dir = path.posix.dirname(e.path);
    if (dir !== '.' && !made.has(dir)) {
      await execOk(pod.conn, {
        namespace: pod.namespace,
        pod: pod.name,
        container: pod.container,
        command: ['mkdir', '-p', `${staging}/${dir}`],
        signal,
        timeoutMs: 30_000,
      });
      made.add(dir);
    }
    const dest = `${staging}/${e.path}`;
    const command =
      method === 'cat' ? ['sh', '-c', 'cat > "$1"', 'sh', dest] : ['sh', '-c', 'head -c "$2" > "$1"', 'sh', dest, String(e.size)];
    const hash = createHash('sha256');
    const stdin = new PassThrough({ highWaterMark: 1024 * 1024 });
    const h = execStream(pod.conn, {
      namespace: pod.namespace,
      pod: pod.name,
      container: pod.container,
      command,
      stdin,
      stdinEndsItself: method === 'head',
      signal,
    });
    h.stdout.resume();
    /** Resolves false when the session ended before it took every byte. */
    const feeding = (async () => {
      let sent = 0;
      for await (const chunk of e.stream) {
        hash.update(chunk);
        sent += chunk.length;
        bytes += chunk.length;
        if (!(await writeUnlessClosed(stdin, chunk))) return false;
        onBytes(bytes);
      }
      // head would wait for the missing bytes forever (nothing can say "end" over v4): do not let it
      if (sent !== e.size) throw new ToolError('dump-truncated', `the dump is truncated: ${e.path} has ${sent} of ${e.size} bytes`);
      stdin.end();
      return true;
    })();
    feeding.catch(() => h.kill());
    const [complete, status] = await Promise.all([feeding, h.done]);
    if (status.exitCode !== 0)
      throw new ToolError(
        'restore-failed',
        `writing ${e.path} in the pod failed (exit ${status.exitCode}): ${status.stderr.trim().slice(0, 300)}`,
      );
    if (!complete) throw new ToolError('restore-failed', `writing ${e.path} in the pod ended before the whole file was sent`);
    entries.push({ path: e.path, size: e.size, sha256: hash.digest('hex') });
  }
  const trunc = opened.problems.find((p) => p.code === 'dump-truncated');
  if (trunc) throw new ToolError('dump-truncated', `the dump is truncated: ${trunc.message}`);
  return entries;
}

/** Writes with back-pressure; false when the stream was closed (the exec session ended) instead. */
async function writeUnlessClosed(stream: PassThrough, chunk: Uint8Array): Promise<boolean> {
  if (stream.destroyed) return false;
  if (stream.write(chunk)) return true;
  await new Promise<void>((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
  return !stream.destroyed;
}
