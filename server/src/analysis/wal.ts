/** WAL, WBL and checkpoint facts and diagnostics: segment sequence, record damage, what replay covers. */
import type { AnalysisResult, TimeRange, WalCheckpointInfo, WalSegmentInfo } from '../protocol';
import { WAL_PAGE_SIZE } from '../tsdb/wal';
import { pad, utc } from './goFormat';
import { numberingGaps } from '../tsdb/blockDir';
import type { Analysis, SegmentState } from './state';
import { missingFirstReplayedSegment, newestCheckpoint, replayedSegments } from './walReplay';

export function activeCheckpoint(a: Analysis): number | undefined {
  return newestCheckpoint([...a.checkpoints.keys()].map((number) => ({ number })))?.number;
}

/** Sample ranges ([from, to) ) of what WAL replay brings back: checkpoint plus segments after it. */
export function walCoverage(a: Analysis): TimeRange[] {
  const cp = activeCheckpoint(a);
  const out: TimeRange[] = [];
  const add = (s: SegmentState) => {
    if (s.summary?.minTime !== undefined && s.summary.maxTime !== undefined)
      out.push({ from: s.summary.minTime, to: s.summary.maxTime + 1 });
  };
  if (cp !== undefined) for (const s of a.checkpoints.get(cp) ?? []) add(s);
  for (const s of replayedSegments(a.walSegments, cp)) add(s);
  return out;
}

export function segmentInfos(list: SegmentState[]): WalSegmentInfo[] {
  return [...list]
    .sort((x, y) => x.number - y.number)
    .map((s) => ({
      name: s.name,
      number: s.number,
      sizeBytes: s.size,
      records: s.summary?.records ?? 0,
      samples: s.summary?.samples ?? 0,
      ...(s.summary?.minTime !== undefined ? { minTime: s.summary.minTime } : {}),
      ...(s.summary?.maxTime !== undefined ? { maxTime: s.summary.maxTime } : {}),
    }));
}

export function walInfo(a: Analysis): AnalysisResult['wal'] {
  const segs = [...a.walSegments].sort((x, y) => x.number - y.number);
  const cp = activeCheckpoint(a);
  segmentSequence(a, segs, 'wal');
  segmentSequence(a, [...a.wblSegments].sort((x, y) => x.number - y.number), 'wbl');

  // Checkpoint vs segments.
  let checkpoint: WalCheckpointInfo | undefined;
  if (cp !== undefined) {
    const cpSegs = [...(a.checkpoints.get(cp) ?? [])].sort((x, y) => x.number - y.number);
    const cpName = `checkpoint.${pad(cp, 8)}`;
    checkpoint = {
      name: cpName,
      number: cp,
      segments: segmentInfos(cpSegs),
      series: cpSegs.reduce((n, s) => n + (s.summary?.series ?? 0), 0),
      samples: cpSegs.reduce((n, s) => n + (s.summary?.samples ?? 0), 0),
    };
    const after = replayedSegments(segs, cp);
    if (missingFirstReplayedSegment(segs.map((s) => s.number), cp) !== undefined) {
      const missing = pad(cp + 1, 8);
      a.diag({
        code: 'wal-checkpoint-stale',
        severity: 'error',
        path: `wal/${cpName}`,
        prometheusMessage: `opening storage failed: repair corrupted WAL: ` +
          `cannot handle error: open WAL segment: ${cp + 1}: open <data>/wal/${missing}: no such file or directory`,
        message: `WAL checkpoint ${cp} is followed by segment ${after[0].name}, but segment ${missing} ` +
          `(the first one replayed after the checkpoint) is missing. Prometheus refuses to start. Run ` +
          `\`tsdbdump repair\` (renumbers or drops segments; samples of the missing segment are lost unless head chunks hold them).`,
      });
    }
    for (const older of [...a.checkpoints.keys()].filter((n) => n < cp)) {
      a.diag({
        code: 'wal-checkpoint-stale',
        severity: 'information',
        path: `wal/checkpoint.${pad(older, 8)}`,
        message: `Older WAL checkpoint ${older} is ignored (checkpoint ${cp} ` +
          `replaces it); Prometheus deletes it at the next checkpoint. Nothing to do.`,
      });
    }
    if (cpSegs.length === 0) {
      a.diag({
        code: 'wal-checkpoint-stale',
        severity: 'error',
        path: `wal/${cpName}`,
        message: `WAL checkpoint ${cp} holds no segment. Prometheus fails to ` +
          `replay it (\`backfill checkpoint\`) and refuses to start. Run \`tsdbdump repair\` or remove the empty checkpoint directory.`,
      });
    }
    for (const s of cpSegs) walRecordDiagnostics(a, [s], 'checkpoint');
  }
  const replayed = replayedSegments(segs, cp);
  walRecordDiagnostics(a, replayed, 'wal');
  walRecordDiagnostics(a, [...a.wblSegments].sort((x, y) => x.number - y.number), 'wbl');

  const infos = segmentInfos(segs);
  const ranges = walCoverage(a);
  const wal: AnalysisResult['wal'] = {
    segments: infos,
    samples: replayed.reduce((n, s) => n + (s.summary?.samples ?? 0), 0) + (checkpoint?.samples ?? 0),
  };
  if (checkpoint) wal.checkpoint = checkpoint;
  if (ranges.length > 0) {
    wal.minTime = Math.min(...ranges.map((r) => r.from));
    wal.maxTime = Math.max(...ranges.map((r) => r.to - 1));
  }
  return wal;
}

export function segmentSequence(a: Analysis, segs: SegmentState[], dir: 'wal' | 'wbl'): void {
  for (const [prev, cur] of numberingGaps(segs)) {
    a.diag({
      code: 'wal-segments-not-sequential',
      severity: 'error',
      path: cur.path,
      prometheusMessage: 'opening storage failed: get segment range: segments are not sequential',
      message: `${dir.toUpperCase()} segments jump from ${prev.name} to ${cur.name} ` +
        `(${cur.number - prev.number - 1} missing). Prometheus refuses to start. Run \`tsdbdump ` +
        `repair\` (renames the later segments to close the gap; samples of the missing segments are lost unless head chunks hold them).`,
    });
  }
}

/** Record damage: Prometheus repairs by cutting the damaged segment and deleting every later one. */
export function walRecordDiagnostics(a: Analysis, segs: SegmentState[], kind: 'wal' | 'wbl' | 'checkpoint'): void {
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i];
    const sum = s.summary;
    if (s.error !== undefined) {
      a.diag({
        code: 'wal-record-corrupt',
        severity: 'error',
        path: s.path,
        message: `${s.path} could not be read (${s.error}). Run \`tsdbdump repair\`.`,
      });
      continue;
    }
    if (!sum || sum.problems.length === 0) continue;
    for (const u of sum.problems.filter((p) => p.unsupported)) {
      // Not damage: a record type this analyser does not know (a newer Prometheus wrote it). Prometheus
      // skips record types it does not know (tsdb/head_wal.go), so their data is not loaded by it either.
      a.diag({
        code: 'wal-record-unsupported',
        severity: 'warning',
        path: s.path,
        offset: u.offset,
        message: `${s.path} holds WAL records of unknown type ${u.recordType ?? '?'} ` +
          `from byte ${u.offset ?? 0} on (written by a Prometheus newer than 3.16). ` +
          `A Prometheus that does not know the type skips them without a word; this analyser cannot count or check their data.`,
      });
    }
    const prob = sum.problems.find((p) => !p.unsupported);
    if (!prob) continue;
    // What Prometheus prints as `corruption in segment … at N`: where its reader stood, not the last good record.
    const readerAt = prob.readerOffset ?? sum.goodUntil;
    const isLast = i === segs.length - 1;
    const dirPath = s.path.slice(0, s.path.lastIndexOf('/'));
    if (kind === 'checkpoint') {
      a.diag({
        code: 'wal-record-corrupt',
        severity: 'error',
        path: s.path,
        offset: prob.offset,
        prometheusMessage: `opening storage failed: backfill checkpoint: ` +
          `read records: corruption in segment <data>/${s.path} at ${readerAt}: ${prob.message}`,
        message: `The WAL checkpoint segment ${s.path} is damaged at ` +
          `byte ${prob.offset ?? sum.goodUntil} (${prob.message}). Prometheus refuses to start. Run \`tsdbdump repair\`.`,
      });
      continue;
    }
    // The last segment ending inside a record (a crash's last write): the zeros Prometheus reads
    // past EOF make it either `last record is torn` or a CRC mismatch in the final page.
    const problemAt = prob.offset ?? sum.goodUntil;
    const inFinalPage = sum.endsMidPage && Math.floor(problemAt / WAL_PAGE_SIZE) >= Math.floor(Math.max(0, s.size - 1) / WAL_PAGE_SIZE);
    if (isLast && (prob.torn || inFinalPage) && sum.problems.length === 1) {
      a.diag({
        code: 'wal-torn-tail',
        severity: 'warning',
        path: s.path,
        offset: sum.goodUntil,
        prometheusMessage: `level=warn msg="Encountered WAL read error, ` +
          `attempting repair" err="read records: corruption in segment <data>/${s.path} at ${readerAt}: last record is torn"`,
        message: `The last ${kind.toUpperCase()} segment ${s.name} ends inside a record (a write cut ` +
          `by a crash). Prometheus starts, cuts the segment at byte ${sum.goodUntil} and loses only that incomplete record. Nothing to do.`,
      });
      continue;
    }
    const later = segs.slice(i + 1);
    const lostSamples = later.reduce((n, x) => n + (x.summary?.samples ?? 0), 0);
    const lostRanges = later.filter((x) => x.summary?.minTime !== undefined);
    const lostRange = lostRanges.length
      ? { from: Math.min(...lostRanges.map((x) => x.summary!.minTime!)), to: Math.max(...lostRanges.map((x) => x.summary!.maxTime!)) + 1 }
      : undefined;
    const laterText = later.length
      ? `deletes ${later.map((x) => x.name).join(', ')} (${lostSamples} ` +
        `samples${lostRange ? `, ${utc(lostRange.from)} – ${utc(lostRange.to)}` : ''})`
      : 'deletes nothing after it';
    a.diag({
      code: 'wal-record-corrupt',
      severity: 'error',
      path: s.path,
      offset: prob.offset,
      range: lostRange,
      prometheusMessage: `level=warn msg="Encountered WAL read error, ` +
        `attempting repair" err="read records: corruption in segment <data>/${s.path} at ${readerAt}: ${prob.message}"`,
      message: `${kind.toUpperCase()} segment ${s.path} is damaged at byte ${prob.offset ?? sum.goodUntil} ` +
        `(${prob.message}). Prometheus "repairs" it at startup: it cuts ${s.name} at byte ${sum.goodUntil} ` +
        `(losing the records after it) and ${laterText} in ${dirPath}/; samples not also in head chunks or ` +
        `blocks are lost. Run \`tsdbdump repair\` first to see and keep what can be kept.`,
    });
  }
}
