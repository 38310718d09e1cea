/**
 * The analysis engine: reads a dump entry by entry (in archive order, bounded memory), hands each
 * file to the parser for its kind, and combines the facts into an AnalysisResult with diagnostics
 * whose severity follows what Prometheus 2.42 does (docs/tsdb-format.md §7, §9, EXPECTED.md): error
 * where it refuses to start or loses / does not serve data, warning where it starts but something
 * is off, information for things it cleans up by itself.
 */
import { fileMarks } from './fileMarks';
import { compatibilityOf } from './compat';
import { ToolError } from '../errors';
import { DEFAULT_VERIFY, type AnalysisResult, type BlockInfo, type Severity, type TimeRange, type VerifyDepth } from '../protocol';
import { openSource, type DumpEntry, type OpenedSource, type SourceProblem, type SourceProgress } from '../dump/source';
import { utc } from './goFormat';
import { Analysis, scrapeInterval, union } from './state';
import { blockDiagnostics, blockInfos } from './blocks';
import { headInfo } from './head';
import { segmentInfos, walCoverage, walInfo } from './wal';

export interface AnalyzeOptions {
  verify?: VerifyDepth;
  signal?: AbortSignal;
  onProgress?: (p: SourceProgress) => void;
}

export interface AnalyzeEntriesOptions {
  verify?: VerifyDepth;
  signal?: AbortSignal;
  /** Shown as `source` in the result. */
  source: string;
  /** Problems the entry producer found (unsafe entries, truncation); read after the entries are consumed. */
  sourceProblems?: () => SourceProblem[];
  /** Directory for index spill files. */
  tmpDir?: string;
}

/** Opens a .tar.gz / .tgz / .tar / data directory and analyses it. Throws ToolError for unreadable or non-dump sources. */
export async function analyzeSource(source: string, opts: AnalyzeOptions = {}): Promise<AnalysisResult> {
  const started = Date.now();
  const opened = await openSource(source, { signal: opts.signal, onProgress: opts.onProgress });
  const result = await analyzeOpened(opened, { verify: opts.verify, signal: opts.signal, source });
  result.durationMs = Date.now() - started;
  return result;
}

/**
 * Analyses a source already opened (openSource, or openTarStream for a tar coming from a pod:
 * `analyzeOpened(openTarStream(stdout, { label: 'pod:ns/name' }), { source: 'pod:ns/name' })`).
 */
export function analyzeOpened(
  opened: OpenedSource,
  opts: { verify?: VerifyDepth; signal?: AbortSignal; source?: string },
): Promise<AnalysisResult> {
  return analyzeEntries(opened.entries, {
    verify: opts.verify,
    signal: opts.signal,
    source: opts.source ?? opened.source,
    sourceProblems: () => opened.problems,
  });
}

// ---- Entry point over entries ------------------------------------------------------------------

/** Analyses a stream of entries (from openSource, or a tar stream from a pod). */
export async function analyzeEntries(entries: AsyncIterable<DumpEntry>, opts: AnalyzeEntriesOptions): Promise<AnalysisResult> {
  const started = Date.now();
  const verify = opts.verify ?? DEFAULT_VERIFY;
  const a = new Analysis(opts.source, verify, opts.tmpDir);
  try {
    for await (const e of entries) {
      if (opts.signal?.aborted) throw new ToolError('cancelled', 'cancelled');
      await a.entry(e);
    }
    const problems = opts.sourceProblems?.() ?? [];
    const truncated = problems.some((p) => p.code === 'dump-truncated');
    await a.closeAll(truncated);
    for (const p of problems) {
      a.diag({
        code: p.code,
        // Both are errors: a truncated dump lost data, and an unsafe entry makes the next step
        // (`tar xzf`, a restore) unsafe; CI pipelines read the exit code.
        severity: 'error',
        message:
          p.code === 'dump-truncated'
            ? `${p.message}. The analysis covers only what was read; get a ` +
              `complete dump (re-run the dump, check free disk space and the transfer).`
            : `${p.message}. Extracting this archive with a tool that follows such entries could ` +
              `write outside the target directory, so do not extract or restore it as it is; tsdbdump repair writes a copy without it.`,
        path: p.path,
      });
    }
    return finish(a, opts.source, verify, started);
  } finally {
    a.disposeAll();
  }
}

// ---- Combining facts into the result -----------------------------------------------------------

function finish(a: Analysis, source: string, verify: VerifyDepth, started: number): AnalysisResult {
  const blocks = blockInfos(a);
  blockDiagnostics(a, blocks);
  const head = headInfo(a, blocks);
  const wal = walInfo(a);
  const wbl = a.wblSegments.length > 0 ? { segments: segmentInfos(a.wblSegments) } : undefined;
  const coverage = coverageOf(a, blocks, head, wal);
  if (a.lockSeen) {
    a.diag({
      code: 'lock-file-present',
      severity: 'information',
      path: 'lock',
      message:
        'The dump contains a `lock` file. It is harmless for Prometheus (the ' +
          'lock is an flock, not the file), but a restore should not carry it over; tsdbdump restore and repair leave it out.',
    });
  }
  for (const [root, kind] of a.tmpRoots) {
    a.diag({
      code: 'leftover-tmp',
      severity: 'information',
      path: root,
      message: `Leftover of interrupted work (${kind}). Prometheus removes ` +
        `it at startup; it holds no data that is served. tsdbdump repair leaves it out.`,
    });
  }
  const sevRank: Record<Severity, number> = { error: 0, warning: 1, information: 2, hint: 3 };
  a.diagnostics.sort((x, y) => sevRank[x.severity] - sevRank[y.severity] || (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  return {
    source,
    verify,
    blocks,
    head,
    wal,
    ...(wbl ? { wbl } : {}),
    coverage,
    files: { head: fileMarks('chunks_head', head.chunksHeadFiles, a.diagnostics), wal: fileMarks('wal', wal.segments, a.diagnostics) },
    diagnostics: a.diagnostics,
    compatibility: compatibilityOf(a),
    otherEntries: a.otherEntries,
    totalBytes: a.totalBytes,
    durationMs: Date.now() - started,
  };
}

// ---- Coverage ------------------------------------------------------------------------------------

function coverageOf(
  a: Analysis,
  blocks: BlockInfo[],
  head: AnalysisResult['head'],
  wal: AnalysisResult['wal'],
): AnalysisResult['coverage'] {
  void wal;
  const served = blocks.filter((b) => b.metaReadable && !b.deletable && b.maxTime > b.minTime);
  const ranges: TimeRange[] = served.map((b) => ({ from: b.minTime, to: b.maxTime }));
  for (const f of a.headFiles) if (f.summary?.minTime !== undefined) ranges.push({ from: f.summary.minTime, to: f.summary.maxTime! + 1 });
  ranges.push(...walCoverage(a));
  void head;
  const merged = union(ranges);
  if (merged.length === 0) return { gaps: [] };
  // A gap shorter than about two scrape intervals is normal (block boundaries, a missed scrape).
  const threshold = Math.max(2 * scrapeInterval(served), 1000);
  const gaps: TimeRange[] = [];
  for (let i = 1; i < merged.length; i++) {
    const g = { from: merged[i - 1].to, to: merged[i].from };
    if (g.to - g.from > threshold) gaps.push(g);
  }
  for (const g of gaps) {
    const unread = blocks.filter((b) => !b.metaReadable && b.minTime < g.to && g.from < b.maxTime).map((b) => b.dir);
    a.diag({
      code: 'coverage-gap',
      severity: 'information',
      path: '',
      range: g,
      message: `No data for ${utc(g.from)} – ${utc(g.to)} (${Math.round((g.to - g.from) / 60000)} min)${
        unread.length
          ? `: block(s) ${unread.join(', ')} would cover it but are not served`
          : ': no block, head chunk or WAL segment covers it (dumps filtered by time leave such gaps)'
      }.`,
    });
  }
  return { minTime: merged[0].from, maxTime: merged[merged.length - 1].to, gaps };
}
