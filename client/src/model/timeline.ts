/**
 * The timeline's data: blocks in lanes on a time axis, the head and WAL ranges, and the overlaps
 * and gaps the analysis reports, each head chunk file and WAL segment with missing numbers marked
 * (the analysis's `files`; never computed here). Rendered by media/timeline.js.
 */
import type { AnalysisResult, FileMark, Severity, TimeRange } from '../../../server/src/protocol';
import { problemsOf } from './dumpTree';
import { formatRange, worstSeverity } from './format';

export interface TimelineBlock {
  ulid: string;
  dir: string;
  from: number;
  to: number;
  level: number;
  lane: number;
  overlap: boolean;
  severity?: Severity;
  label: string;
}

export interface TimelineData {
  source: string;
  title: string;
  from: number;
  to: number;
  blocks: TimelineBlock[];
  lanes: number;
  head?: TimeRange;
  wal?: TimeRange;
  overlaps: (TimeRange & { blocks: string[] })[];
  gaps: TimeRange[];
  /** Head chunk files and WAL segments one by one, missing numbers included (the analysis's `files`). */
  files: { head: FileMark[]; wal: FileMark[] };
}

/**
 * The overlaps the analysis reports (its block-overlap diagnostics), and only those: which blocks
 * overlap as Prometheus sees them (deletable and superseded blocks left out) is the server's rule.
 */
export function reportedOverlaps(r: AnalysisResult): (TimeRange & { blocks: string[] })[] {
  return r.diagnostics
    .filter((d) => d.code === 'block-overlap' && d.range && d.blocks && d.blocks.length >= 2)
    .map((d) => ({ from: d.range!.from, to: d.range!.to, blocks: d.blocks! }));
}

export function timelineData(source: string, title: string, r: AnalysisResult): TimelineData {
  const blocks = [...r.blocks].filter((b) => b.metaReadable !== false).sort((a, b) => a.minTime - b.minTime);
  const overlaps = reportedOverlaps(r);
  const overlapping = new Set(overlaps.flatMap((o) => o.blocks));
  // Greedy lanes: a block goes to the first lane whose last block ended before it starts.
  const laneEnds: number[] = [];
  const tBlocks: TimelineBlock[] = blocks.map((b) => {
    let lane = laneEnds.findIndex((end) => end <= b.minTime);
    if (lane < 0) lane = laneEnds.push(b.maxTime) - 1;
    else laneEnds[lane] = b.maxTime;
    return {
      ulid: b.ulid,
      dir: b.dir,
      from: b.minTime,
      to: b.maxTime,
      level: b.level,
      lane,
      overlap: overlapping.has(b.ulid),
      severity: worstSeverity(problemsOf(r.diagnostics, b.dir, b.ulid)),
      label: `${b.ulid} · ${formatRange(b.minTime, b.maxTime)} · L${b.level}`,
    };
  });
  const head = r.head.minTime !== undefined && r.head.maxTime !== undefined ? { from: r.head.minTime, to: r.head.maxTime } : undefined;
  const wal = r.wal.minTime !== undefined && r.wal.maxTime !== undefined ? { from: r.wal.minTime, to: r.wal.maxTime } : undefined;
  const times = [...tBlocks.flatMap((b) => [b.from, b.to]), ...(head ? [head.from, head.to] : []), ...(wal ? [wal.from, wal.to] : [])];
  const from = times.length ? Math.min(...times) : 0;
  const to = times.length ? Math.max(...times) : 1;
  return {
    source,
    title,
    from,
    to: to > from ? to : from + 1,
    blocks: tBlocks,
    lanes: Math.max(1, laneEnds.length),
    head,
    wal,
    overlaps,
    gaps: r.coverage.gaps,
    files: r.files ?? { head: [], wal: [] },
  };
}
