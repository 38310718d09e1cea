/**
 * The head chunk files and WAL segments one by one, in number order, with the numbers missing from
 * each sequence and the worst diagnostic on each file: what the timeline shows (issue 13), decided
 * here once so the client only draws it. A missing number is tied to the diagnostic about the gap,
 * which the analysis puts on the file after it (head-chunks-out-of-sequence on chunks_head/000005,
 * wal-segments-not-sequential on the segment after the gap; docs/tsdb-format.md).
 */
import type { FileMark, HeadChunkFileInfo, Severity, TsdbDiagnostic, WalSegmentInfo } from '../protocol';

const RANK: Record<Severity, number> = { error: 0, warning: 1, information: 2, hint: 3 };

function worst(diagnostics: TsdbDiagnostic[]): TsdbDiagnostic | undefined {
  return [...diagnostics].sort((a, b) => RANK[a.severity] - RANK[b.severity])[0];
}

export function fileMarks(
  dir: 'chunks_head' | 'wal',
  files: (HeadChunkFileInfo | WalSegmentInfo)[],
  diagnostics: TsdbDiagnostic[],
): FileMark[] {
  const width = dir === 'wal' ? 8 : 6;
  const sorted = [...files].sort((a, b) => a.number - b.number);
  const out: FileMark[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const f = sorted[i];
    const p = `${dir}/${f.name}`;
    const own = worst(diagnostics.filter((d) => d.path === p));
    const prev = sorted[i - 1];
    if (prev && f.number > prev.number + 1) {
      for (let n = prev.number + 1; n < f.number; n++) {
        out.push({
          kind: 'missing',
          number: n,
          path: `${dir}/${String(n).padStart(width, '0')}`,
          ...(own ? { severity: own.severity, diagnosticPath: p, code: own.code } : {}),
        });
      }
    }
    out.push({
      kind: 'file',
      number: f.number,
      path: p,
      ...(f.minTime !== undefined ? { minTime: f.minTime } : {}),
      ...(f.maxTime !== undefined ? { maxTime: f.maxTime } : {}),
      ...(own ? { severity: own.severity, diagnosticPath: p, code: own.code } : {}),
    });
  }
  return out;
}
