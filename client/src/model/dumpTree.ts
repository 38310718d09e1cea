/**
 * What the Dump Files tree shows for an analysis: labels, descriptions, tooltips, icons and
 * problem badges. Pure functions over protocol types (no `vscode` import), unit-tested in plain Node.
 */
import type { AnalysisResult, BlockInfo, Severity, TsdbDiagnostic } from '../../../server/src/protocol';
import { formatBytes, formatDuration, formatRange, worstSeverity } from './format';

export type NodeKind = 'block' | 'head' | 'headFile' | 'wal' | 'walSegment' | 'checkpoint' | 'other' | 'otherEntry';

export interface ModelNode {
  /** Unique inside its dump: the dump path (`<ULID>`, `chunks_head/000005`, `wal/00000002`) or a group key. */
  id: string;
  kind: NodeKind;
  label: string;
  description?: string;
  /** Markdown. */
  tooltip: string;
  /** Codicon id for a node without problems. */
  icon: string;
  /** Worst severity among the diagnostics that concern this node (or its children). */
  severity?: Severity;
  problems: TsdbDiagnostic[];
  /** Dump path used to find its line in the report. */
  path?: string;
  ulid?: string;
  children?: ModelNode[];
}

/** Diagnostics that concern a dump path: the path itself, anything under it, or a block they name. */
export function problemsOf(diagnostics: readonly TsdbDiagnostic[], dumpPath: string, ulid?: string): TsdbDiagnostic[] {
  return diagnostics.filter(
    (d) => d.path === dumpPath || d.path.startsWith(`${dumpPath}/`) || (ulid !== undefined && d.blocks?.includes(ulid)),
  );
}

function problemLines(ps: readonly TsdbDiagnostic[]): string {
  return ps.map((d) => `- **${d.severity}** \`${d.code}\`: ${escapeMarkdown(d.message)}`).join('\n');
}

function escapeMarkdown(s: string): string {
  return s.replace(/([\\`*_[\]<>|])/g, '\\$1');
}

function withProblems(n: Omit<ModelNode, 'severity'>): ModelNode {
  const severity = worstSeverity(n.problems);
  const tooltip = n.problems.length ? `${n.tooltip}\n\n**Problems**\n\n${problemLines(n.problems)}` : n.tooltip;
  return { ...n, severity, tooltip };
}

export function blockNode(b: BlockInfo, diagnostics: readonly TsdbDiagnostic[]): ModelNode {
  const problems = problemsOf(diagnostics, b.dir, b.ulid);
  const range = formatRange(b.minTime, b.maxTime);
  const tooltip = [
    `**Block** \`${b.ulid}\``,
    '',
    `${range} (${formatDuration(b.maxTime - b.minTime)})`,
    '',
    `| | |`,
    `|---|---|`,
    `| level | ${b.level} |`,
    `| samples | ${b.numSamples.toLocaleString('en-US')} |`,
    `| series | ${b.numSeries.toLocaleString('en-US')} |`,
    `| chunks | ${b.numChunks.toLocaleString('en-US')} |`,
    `| size | ${formatBytes(b.sizeBytes)} |`,
    `| minTime | ${b.minTime} |`,
    `| maxTime | ${b.maxTime} |`,
    ...(b.dir !== b.ulid ? [`| directory | ${b.dir} |`] : []),
    ...(b.metaReadable ? [] : ['| meta.json | unreadable |']),
  ].join('\n');
  return withProblems({
    id: b.dir,
    kind: 'block',
    label: b.ulid || b.dir,
    description: `${range} · ${formatBytes(b.sizeBytes)} · L${b.level}`,
    tooltip,
    icon: 'database',
    problems,
    path: b.dir,
    ulid: b.ulid,
  });
}

/** The children of a dump in the tree: its blocks by minTime, then Head, WAL and other entries. */
export function dumpChildren(r: AnalysisResult): ModelNode[] {
  const ds = r.diagnostics;
  const nodes: ModelNode[] = [...r.blocks].sort((a, b) => a.minTime - b.minTime || a.dir.localeCompare(b.dir)).map((b) => blockNode(b, ds));

  const headFiles = r.head.chunksHeadFiles.map((f) => {
    const p = `chunks_head/${f.name}`;
    return withProblems({
      id: p,
      kind: 'headFile',
      label: f.name,
      description: `${f.minTime !== undefined ? formatRange(f.minTime, f.maxTime) + ' · ' : ''}${f.records} ` +
        `records · ${formatBytes(f.sizeBytes)}`,
      tooltip: `**Head chunk file** \`${p}\`\n\n${f.records} ` +
        `records, ${formatBytes(f.sizeBytes)}${f.minTime !== undefined ? `\n\n${formatRange(f.minTime, f.maxTime)}` : ''}`,
      icon: 'file-binary',
      problems: problemsOf(ds, p),
      path: p,
    });
  });
  nodes.push(
    withProblems({
      id: 'chunks_head',
      kind: 'head',
      label: 'Head',
      description:
        `${headFiles.length} chunk file${headFiles.length === 1 ? '' : 's'}` +
        `${r.head.minTime !== undefined ? ` · ${formatRange(r.head.minTime, r.head.maxTime)}` : ''}`,
      tooltip: `**Head** (chunks_head/): memory-mapped chunks of the head block`,
      icon: 'pulse',
      problems: problemsOf(ds, 'chunks_head'),
      path: 'chunks_head',
      children: headFiles,
    }),
  );

  const walChildren: ModelNode[] = [];
  const cp = r.wal.checkpoint;
  if (cp) {
    const p = `wal/${cp.name}`;
    walChildren.push(
      withProblems({
        id: p,
        kind: 'checkpoint',
        label: cp.name,
        description: `checkpoint of segments ≤ ${cp.number} · ${cp.series} series · ${cp.samples} samples`,
        tooltip: `**WAL checkpoint** \`${p}\`\n\nCovers segments up ` +
          `to ${cp.number}; ${cp.segments.length} segment file(s), ${cp.series} series, ${cp.samples} samples`,
        icon: 'archive',
        problems: problemsOf(ds, p),
        path: p,
      }),
    );
  }
  for (const s of r.wal.segments) {
    const p = `wal/${s.name}`;
    walChildren.push(
      withProblems({
        id: p,
        kind: 'walSegment',
        label: s.name,
        description: `${s.minTime !== undefined ? formatRange(s.minTime, s.maxTime) + ' · ' : ''}${s.samples} ` +
          `samples · ${formatBytes(s.sizeBytes)}`,
        tooltip: `**WAL segment** \`${p}\`\n\n${s.records} records, ${s.samples} ` +
          `samples, ${formatBytes(s.sizeBytes)}${s.minTime !== undefined ? `\n\n${formatRange(s.minTime, s.maxTime)}` : ''}`,
        icon: 'file',
        problems: problemsOf(ds, p),
        path: p,
      }),
    );
  }
  nodes.push(
    withProblems({
      id: 'wal',
      kind: 'wal',
      label: 'WAL',
      description:
        `${r.wal.segments.length} segment${r.wal.segments.length === 1 ? '' : 's'}${cp ? ' + checkpoint' : ''}` +
        `${r.wal.minTime !== undefined ? ` · ${formatRange(r.wal.minTime, r.wal.maxTime)}` : ''}`,
      tooltip: `**Write-ahead log** (wal/): ${r.wal.samples} samples`,
      icon: 'history',
      problems: problemsOf(ds, 'wal'),
      path: 'wal',
      children: walChildren,
    }),
  );

  if (r.otherEntries.length) {
    const others = r.otherEntries.map((e) =>
      withProblems({
        id: `other:${e}`,
        kind: 'otherEntry',
        label: e,
        tooltip: `\`${e}\`: not TSDB data`,
        icon: 'question',
        problems: problemsOf(ds, e),
        path: e,
      }),
    );
    nodes.push(
      withProblems({
        id: 'other',
        kind: 'other',
        label: 'Other entries',
        description: String(others.length),
        tooltip: 'Entries that are not TSDB data',
        icon: 'files',
        problems: [],
        children: others,
      }),
    );
  }
  return nodes;
}

/** `4 blocks · 1 error, 2 warnings` for the dump item. */
export function dumpSummary(r: AnalysisResult): string {
  const counts = new Map<Severity, number>();
  for (const d of r.diagnostics) counts.set(d.severity, (counts.get(d.severity) ?? 0) + 1);
  const parts = [`${r.blocks.length} block${r.blocks.length === 1 ? '' : 's'}`];
  const probs = (['error', 'warning'] as Severity[])
    .filter((s) => counts.get(s))
    .map((s) => `${counts.get(s)} ${s}${counts.get(s) === 1 ? '' : 's'}`);
  parts.push(probs.length ? probs.join(', ') : 'no problems');
  return parts.join(' · ');
}
