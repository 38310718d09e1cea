/**
 * The human report of an analysis (CLI default output, and the VS Code report document).
 *
 * LINE FORMAT (stable; syntaxes/tsdbdump-report.tmLanguage.json is written from it). Every line
 * starts with a fixed word that says what it is; fields are separated by two spaces.
 *
 *   tsdbdump report: <source>                          title (line 0)
 *   verify: <quick|full>  read: <size>  time: <n> ms   facts about the run
 *   verdict: <n> errors, <n> warnings, <n> information, <n> hints
 *   coverage: <from> .. <to> (<span>), <n> gap(s)     from/to are UTC `YYYY-MM-DDTHH:MM:SS[.mmm]Z`
 *   gap  <from> .. <to> (<span>)                       one per coverage gap
 *   compatibility: Prometheus >= <x.y.z> reads the whole dump without loss (<feature> in <path> need <x.y.z>; …)
 *   (empty line)
 *   == <Section> ==                                     section headings: Timeline, Blocks, Head, WAL, Diagnostics, Other entries
 *   axis  <from> .. <to>  (<width> columns)            timeline scale (Timeline section)
 *   block  <ULID dir>  |<bar>|  L<level>  <from> .. <to>  <samples> samples  <series> series  <chunks> chunks  <size>
 *          [  meta.json unreadable|deletable]        (optional suffix on the same line)
 *   head  chunks_head/<NNNNNN>  |<bar>|  <from> .. <to>  <records> records  <size>
 *   ckpt  wal/checkpoint.<NNNNNNNN>  <series> series  <samples> samples
 *   wal  wal/<NNNNNNNN>  |<bar>|  <from> .. <to>  <samples> samples  <records> records  <size>
 *   wbl  wbl/<NNNNNNNN>  |<bar>|  ...                   same as wal
 *   <severity> <code> <path>: <message>              one per diagnostic; severity is error|warning|information|hint
 *       prometheus: <exact log line>                   continuation (4 spaces) of the diagnostic above
 *       at: <byte offset>  range: <from> .. <to>      continuation (4 spaces); either part may be absent
 *   other  <path>                                       entries that are not TSDB data
 *   none                                                a section with nothing in it
 *
 * In `<bar>`, `#` marks time the item covers and `.` time it does not, on the axis of the Timeline
 * section; `-` is used when the item has no known time range. `-` stands for an unknown time.
 *
 * `lines` maps each block dir (ULID), `chunks_head/NNNNNN`, `wal/NNNNNNNN`, `wal/checkpoint.N`
 * and `wbl/NNNNNNNN` to the 0-based line of its entry.
 */
import { compatibilityLine } from './compat';
import type { AnalysisResult, ReportResult, Severity, TsdbDiagnostic } from '../protocol';
import { humanBytes, humanSpan, utc } from './goFormat';

export const BAR_WIDTH = 48;

export function renderReport(result: AnalysisResult): ReportResult {
  const out: string[] = [];
  const lines: Record<string, number> = {};
  const push = (s: string, key?: string) => {
    if (key !== undefined && !(key in lines)) lines[key] = out.length;
    out.push(s);
  };
  const count = (s: Severity) => result.diagnostics.filter((d) => d.severity === s).length;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

  push(`tsdbdump report: ${result.source}`);
  push(`verify: ${result.verify}  read: ${humanBytes(result.totalBytes)}  time: ${result.durationMs} ms`);
  push(
    `verdict: ${plural(count('error'), 'error')}, ${plural(count('warning'), 'warning')}, ${count('information')} ` +
      `information, ${plural(count('hint'), 'hint')}`,
  );
  const cov = result.coverage;
  if (cov.minTime !== undefined && cov.maxTime !== undefined) {
    push(
      `coverage: ${utc(cov.minTime)} .. ${utc(cov.maxTime)} (${humanSpan(cov.maxTime - cov.minTime)}), ${plural(cov.gaps.length, 'gap')}`,
    );
  } else push('coverage: - .. - (no data), 0 gaps');
  for (const g of cov.gaps) push(`gap  ${utc(g.from)} .. ${utc(g.to)} (${humanSpan(g.to - g.from)})`);
  if (result.compatibility) push(compatibilityLine(result.compatibility));
  push('');

  // Axis of the timeline: everything with a time range.
  const times: number[] = [];
  for (const b of result.blocks) if (b.maxTime > b.minTime) times.push(b.minTime, b.maxTime);
  for (const f of result.head.chunksHeadFiles) if (f.minTime !== undefined) times.push(f.minTime, f.maxTime! + 1);
  for (const s of result.wal.segments) if (s.minTime !== undefined) times.push(s.minTime, s.maxTime! + 1);
  const axis = times.length ? { from: Math.min(...times), to: Math.max(...times) } : undefined;
  const bar = (from?: number, to?: number): string => {
    if (!axis || from === undefined || to === undefined || to <= from) return `|${'-'.repeat(BAR_WIDTH)}|`;
    const span = Math.max(1, axis.to - axis.from);
    const a = Math.floor(((from - axis.from) / span) * BAR_WIDTH);
    const b = Math.max(a + 1, Math.ceil(((to - axis.from) / span) * BAR_WIDTH));
    let s = '';
    for (let i = 0; i < BAR_WIDTH; i++) s += i >= a && i < b ? '#' : '.';
    return `|${s}|`;
  };

  push('== Timeline ==');
  if (axis) push(`axis  ${utc(axis.from)} .. ${utc(axis.to)}  (${BAR_WIDTH} columns)`);
  else push('none');
  push('');

  push('== Blocks ==');
  if (result.blocks.length === 0) push('none');
  for (const b of result.blocks) {
    const flags = [!b.metaReadable ? 'meta.json unreadable' : '', b.deletable ? 'deletable' : ''].filter(Boolean);
    push(
      `block  ${b.dir}  ${bar(b.minTime, b.maxTime)}  L${b.level}  ${utc(b.minTime)} .. ${utc(b.maxTime)}  ${b.numSamples} ` +
        `samples  ${b.numSeries} series  ${b.numChunks} chunks  ${humanBytes(b.sizeBytes)}${flags.length ? `  ${flags.join('  ')}` : ''}`,
      b.dir,
    );
  }
  push('');

  push('== Head ==');
  if (result.head.minTime !== undefined) push(`range: ${utc(result.head.minTime)} .. ${utc(result.head.maxTime)}`);
  if (result.head.chunksHeadFiles.length === 0) push('none');
  for (const f of result.head.chunksHeadFiles) {
    const to = f.maxTime !== undefined ? f.maxTime + 1 : undefined;
    push(
      `head  chunks_head/${f.name}  ${bar(f.minTime, to)}  ${utc(f.minTime)} ` +
        `.. ${utc(f.maxTime)}  ${f.records} records  ${humanBytes(f.sizeBytes)}`,
      `chunks_head/${f.name}`,
    );
  }
  push('');

  push('== WAL ==');
  if (result.wal.minTime !== undefined)
    push(`range: ${utc(result.wal.minTime)} .. ${utc(result.wal.maxTime)}  ${result.wal.samples} samples replayed`);
  const cp = result.wal.checkpoint;
  if (cp) push(`ckpt  wal/${cp.name}  ${cp.series} series  ${cp.samples} samples`, `wal/${cp.name}`);
  if (result.wal.segments.length === 0 && !cp) push('none');
  for (const s of result.wal.segments) {
    const to = s.maxTime !== undefined ? s.maxTime + 1 : undefined;
    push(
      `wal  wal/${s.name}  ${bar(s.minTime, to)}  ${utc(s.minTime)} ` +
        `.. ${utc(s.maxTime)}  ${s.samples} samples  ${s.records} records  ${humanBytes(s.sizeBytes)}`,
      `wal/${s.name}`,
    );
  }
  for (const s of result.wbl?.segments ?? []) {
    const to = s.maxTime !== undefined ? s.maxTime + 1 : undefined;
    push(
      `wbl  wbl/${s.name}  ${bar(s.minTime, to)}  ${utc(s.minTime)} ` +
        `.. ${utc(s.maxTime)}  ${s.samples} samples  ${s.records} records  ${humanBytes(s.sizeBytes)}`,
      `wbl/${s.name}`,
    );
  }
  push('');

  push('== Diagnostics ==');
  if (result.diagnostics.length === 0) push('none');
  const order: Severity[] = ['error', 'warning', 'information', 'hint'];
  for (const sev of order) for (const d of result.diagnostics.filter((x) => x.severity === sev)) pushDiagnostic(d, push);
  if (result.otherEntries.length > 0) {
    push('');
    push('== Other entries ==');
    for (const p of result.otherEntries) push(`other  ${p}`);
  }
  return { text: `${out.join('\n')}\n`, lines };
}

function pushDiagnostic(d: TsdbDiagnostic, push: (s: string) => void): void {
  push(`${d.severity} ${d.code} ${d.path || '.'}: ${oneLine(d.message)}`);
  if (d.prometheusMessage) push(`    prometheus: ${oneLine(d.prometheusMessage)}`);
  const at = [d.offset !== undefined ? `at: ${d.offset}` : '', d.range ? `range: ${utc(d.range.from)} .. ${utc(d.range.to)}` : ''].filter(
    Boolean,
  );
  if (at.length) push(`    ${at.join('  ')}`);
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ');
}
