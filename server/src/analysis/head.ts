/** Head chunk facts and diagnostics (chunks_head/): numbering, damage, and the head's time range. */
import type { AnalysisResult, BlockInfo, HeadChunkFileInfo } from '../protocol';
import { pad } from './goFormat';
import { numberingGaps } from '../tsdb/blockDir';
import { mmapSequenceBreak } from '../tsdb/headChunks';
import { type Analysis, scrapeInterval, unionWithin } from './state';
import { walCoverage } from './wal';

export function headInfo(a: Analysis, blocks: BlockInfo[]): AnalysisResult['head'] {
  const files = [...a.headFiles].sort((x, y) => x.number - y.number);
  const infos: HeadChunkFileInfo[] = files.map((f) => ({
    name: f.name,
    number: f.number,
    sizeBytes: f.size,
    records: f.summary?.records ?? 0,
    ...(f.summary?.minTime !== undefined ? { minTime: f.summary.minTime } : {}),
    ...(f.summary?.maxTime !== undefined ? { maxTime: f.summary.maxTime } : {}),
  }));
  // Sequence: Prometheus refuses to start on a numbering gap.
  for (const [prev, cur] of numberingGaps(files)) {
    a.diag({
      code: 'head-chunks-out-of-sequence',
      severity: 'error',
      path: cur.path,
      prometheusMessage: `opening storage failed: found unsequential head chunk files <data>/chunks_head/${pad(prev.number, 6)} ` +
        `(index: ${prev.number}) and <data>/chunks_head/${pad(cur.number, 6)} (index: ${cur.number})`,
      message: `Head chunk files jump from ${prev.name} to ${cur.name} ` +
        `(${cur.number - prev.number - 1} missing). Prometheus refuses to start. Run \`tsdbdump ` +
        `repair\` (drops chunks_head/${cur.name} and later files; the WAL still holds their samples), or delete those files by hand.`,
    });
  }
  // Header or record damage. What the WAL replays (segments a scrape interval apart count as one
  // stretch) and what blocks hold is not lost when Prometheus drops head chunk files.
  const tolerance = 2 * scrapeInterval(blocks);
  const newestBlockEnd = Math.max(-Infinity, ...blocks.filter((b) => b.metaReadable && !b.deletable).map((b) => b.maxTime));
  const walCover = unionWithin(walCoverage(a), tolerance);
  for (let i = 0; i < files.length; i++) {
    const f = files[i];
    const s = f.summary;
    const err = f.error ?? (s && !s.headerOk ? (s.problems[0]?.message ?? 'invalid header') : undefined);
    if (err !== undefined && !(i === files.length - 1 && f.size < 4)) {
      a.diag({
        code: 'head-chunk-corrupt',
        severity: 'error',
        path: f.path,
        prometheusMessage: `opening storage failed: ${err}`,
        message: `Head chunk file ${f.path} has a bad header (${err}). ` +
          `Prometheus refuses to start. Run \`tsdbdump repair\` (drops the head chunk files; the WAL still holds their samples).`,
      });
      continue;
    }
    if (s && s.problems.length > 0) {
      const later = files.slice(i).map((x) => x.name);
      const lost = files
        .slice(i)
        .filter((x) => x.summary?.minTime !== undefined)
        .map((x) => ({ from: Math.max(x.summary!.minTime!, newestBlockEnd), to: x.summary!.maxTime! + 1 }))
        .filter((r) => r.to > r.from && !walCover.some((w) => w.from <= r.from && r.to <= w.to));
      const prob = s.problems[0];
      a.diag({
        code: 'head-chunk-corrupt',
        severity: lost.length > 0 ? 'error' : 'warning',
        path: f.path,
        offset: prob.offset,
        range: lost.length > 0 ? { from: Math.min(...lost.map((r) => r.from)), to: Math.max(...lost.map((r) => r.to)) } : undefined,
        prometheusMessage: `level=error msg="Loading on-disk chunks failed" ` +
          `err="iterate on on-disk chunks: corruption in head chunk file <data>/${f.path}: ${prob.message}"`,
        message: `Head chunk file ${f.path} is damaged at byte ${prob.offset ?? '?'} (${prob.message}). Prometheus starts, ` +
          `deletes chunks_head/${later.join(', ')} and rebuilds the head from the ` +
          `WAL: ${lost.length > 0 ? 'samples not in the WAL are lost' : 'the WAL holds their samples, so nothing is lost'}. ` +
          `\`tsdbdump repair\` does the same cleanup.`,
      });
    }
  }
  mmapSequence(a, files, newestBlockEnd, walCover);
  // What Prometheus reports as the head range: data newer than the newest in-order block.
  const newest = Math.max(-Infinity, ...blocks.filter((b) => b.metaReadable && !b.deletable).map((b) => b.maxTime));
  const ranges = [
    ...files.filter((f) => f.summary?.minTime !== undefined).map((f) => ({ from: f.summary!.minTime!, to: f.summary!.maxTime! })),
    ...walCover.map((r) => ({ from: r.from, to: r.to - 1 })),
  ].filter((r) => r.to >= newest);
  const head: AnalysisResult['head'] = { chunksHeadFiles: infos };
  if (ranges.length > 0) {
    head.minTime = Math.max(Math.min(...ranges.map((r) => r.from)), Number.isFinite(newest) ? newest : -Infinity);
    head.maxTime = Math.max(...ranges.map((r) => r.to));
  }
  return head;
}

/** The checkpoint Prometheus replays (the highest), if any. */

/**
 * Prometheus loads m-mapped head chunks file by file and refuses a chunk that starts at or before
 * the end of the previous one of its series (tsdb/head.go loadMmappedChunks: "out of sequence
 * m-mapped chunk"); it then deletes every head chunk file and rebuilds the head from the WAL
 * (observed with 3.16: `Deletion of corrupted mmap chunk files failed, discarding chunk files
 * completely`). Chunks ending before the newest block are skipped before the check.
 */
function mmapSequence(a: Analysis, files: Analysis['headFiles'], minValid: number, walCover: { from: number; to: number }[]): void {
  if (files.some((f) => f.error || !f.summary?.headerOk || f.summary.problems.length > 0)) return;
  const hit = mmapSequenceBreak(files.map((f) => f.inOrder ?? []), minValid);
  if (!hit) return;
  const { ref, prevMaxTime: prev, minTime, maxTime } = hit;
  const f = files[hit.file];
  const lost = files
    .filter((x) => x.summary?.minTime !== undefined)
    .map((x) => ({ from: Math.max(x.summary!.minTime!, minValid), to: x.summary!.maxTime! + 1 }))
    .filter((x) => x.to > x.from && !walCover.some((w) => w.from <= x.from && x.to <= w.to));
  a.diag({
    code: 'head-chunk-mmap-out-of-sequence',
    severity: lost.length > 0 ? 'error' : 'warning',
    path: f.path,
    range: lost.length > 0 ? { from: Math.min(...lost.map((x) => x.from)), to: Math.max(...lost.map((x) => x.to)) } : undefined,
    prometheusMessage: `level=ERROR msg="Loading on-disk chunks failed" err="iterate on-disk chunks: out of sequence m-mapped ` +
      `chunk for series ref ${ref}, last chunk: [.., ${prev}], new: [${minTime}, ${maxTime}]"`,
    message: `Head chunk file ${f.path} holds a chunk of series ref ${ref} starting at ${minTime}, before the previous one ` +
      `of that series ends (${prev}): the head chunk files are out of order. Prometheus starts, deletes every head chunk ` +
      `file and rebuilds the head from the WAL: ` +
      `${lost.length > 0 ? 'samples not in the WAL are lost' : 'the WAL holds their samples, so nothing is lost'}. ` +
      'Run `tsdbdump repair` (drops the files, or renumbers them in time order when that loses less).',
  });
}
