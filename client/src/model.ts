/**
 * What the Dump Files tree and the timeline show for an analysis: labels, descriptions, tooltips,
 * icons and problem badges. Pure functions over protocol types (no `vscode` import), so they are
 * unit-tested in plain Node.
 */
import * as path from 'node:path';
import type { AnalysisResult, BlockInfo, DumpResult, PodTsdbSummary, RestorePreview, Severity, TimeRange, TsdbDiagnostic, UploadMethod } from '../../server/src/protocol';

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

const SEVERITY_ORDER: Severity[] = ['error', 'warning', 'information', 'hint'];

export function worstSeverity(ds: readonly { severity: Severity }[]): Severity | undefined {
  let best: number | undefined;
  for (const d of ds) {
    const i = SEVERITY_ORDER.indexOf(d.severity);
    if (best === undefined || i < best) best = i;
  }
  return best === undefined ? undefined : SEVERITY_ORDER[best];
}

/** `2025-01-03 00:00:00`: UTC, to the second, ISO order. */
export function formatUtc(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '?';
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '');
}

/** `2025-01-03 00:00:00 → 2025-01-03 18:00:00 UTC`; the end date is left out when it is the same day. */
export function formatRange(from: number | undefined, to: number | undefined): string {
  const a = formatUtc(from);
  const b = formatUtc(to);
  const sameDay = a.slice(0, 10) === b.slice(0, 10) && a !== '?';
  return `${a} → ${sameDay ? b.slice(11) : b} UTC`;
}

/** A requested dump range, where an open end means "from the oldest block" / "until now". */
export function formatRequestedRange(from: number | undefined, to: number | undefined): string {
  if (from === undefined && to === undefined) return 'everything';
  if (from === undefined) return `everything up to ${formatUtc(to)} UTC`;
  if (to === undefined) return `${formatUtc(from)} UTC until now`;
  return formatRange(from, to);
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return m ? `${h}h${m}m` : `${h}h`;
  if (m > 0) return sec ? `${m}m${sec}s` : `${m}m`;
  return `${sec}s`;
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
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
      description: `${f.minTime !== undefined ? formatRange(f.minTime, f.maxTime) + ' · ' : ''}${f.records} records · ${formatBytes(f.sizeBytes)}`,
      tooltip: `**Head chunk file** \`${p}\`\n\n${f.records} records, ${formatBytes(f.sizeBytes)}${f.minTime !== undefined ? `\n\n${formatRange(f.minTime, f.maxTime)}` : ''}`,
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
      description: `${headFiles.length} chunk file${headFiles.length === 1 ? '' : 's'}${r.head.minTime !== undefined ? ` · ${formatRange(r.head.minTime, r.head.maxTime)}` : ''}`,
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
        tooltip: `**WAL checkpoint** \`${p}\`\n\nCovers segments up to ${cp.number}; ${cp.segments.length} segment file(s), ${cp.series} series, ${cp.samples} samples`,
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
        description: `${s.minTime !== undefined ? formatRange(s.minTime, s.maxTime) + ' · ' : ''}${s.samples} samples · ${formatBytes(s.sizeBytes)}`,
        tooltip: `**WAL segment** \`${p}\`\n\n${s.records} records, ${s.samples} samples, ${formatBytes(s.sizeBytes)}${s.minTime !== undefined ? `\n\n${formatRange(s.minTime, s.maxTime)}` : ''}`,
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
      description: `${r.wal.segments.length} segment${r.wal.segments.length === 1 ? '' : 's'}${cp ? ' + checkpoint' : ''}${r.wal.minTime !== undefined ? ` · ${formatRange(r.wal.minTime, r.wal.maxTime)}` : ''}`,
      tooltip: `**Write-ahead log** (wal/): ${r.wal.samples} samples`,
      icon: 'history',
      problems: problemsOf(ds, 'wal'),
      path: 'wal',
      children: walChildren,
    }),
  );

  if (r.otherEntries.length) {
    const others = r.otherEntries.map((e) =>
      withProblems({ id: `other:${e}`, kind: 'otherEntry', label: e, tooltip: `\`${e}\`: not TSDB data`, icon: 'question', problems: problemsOf(ds, e), path: e }),
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

// ---- timeline -----------------------------------------------------------------------------------

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
}

/** Pairwise overlaps of [minTime, maxTime) block ranges. */
export function blockOverlaps(blocks: readonly BlockInfo[]): (TimeRange & { blocks: string[] })[] {
  const out: (TimeRange & { blocks: string[] })[] = [];
  const sorted = [...blocks].filter((b) => b.metaReadable !== false).sort((a, b) => a.minTime - b.minTime);
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length && sorted[j].minTime < sorted[i].maxTime; j++) {
      const from = Math.max(sorted[i].minTime, sorted[j].minTime);
      const to = Math.min(sorted[i].maxTime, sorted[j].maxTime);
      if (from < to) out.push({ from, to, blocks: [sorted[i].ulid, sorted[j].ulid] });
    }
  }
  return out;
}

export function timelineData(source: string, title: string, r: AnalysisResult): TimelineData {
  const blocks = [...r.blocks].filter((b) => b.metaReadable !== false).sort((a, b) => a.minTime - b.minTime);
  const fromDiagnostics = r.diagnostics
    .filter((d) => d.code === 'block-overlap' && d.range && d.blocks && d.blocks.length >= 2)
    .map((d) => ({ from: d.range!.from, to: d.range!.to, blocks: d.blocks! }));
  const overlaps = fromDiagnostics.length ? fromDiagnostics : blockOverlaps(blocks);
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
  return { source, title, from, to: to > from ? to : from + 1, blocks: tBlocks, lanes: Math.max(1, laneEnds.length), head, wal, overlaps, gaps: r.coverage.gaps };
}

// ---- discovery ----------------------------------------------------------------------------------

const ULID_RE = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/i;

/**
 * The data dir a workspace file belongs to, if its path looks like TSDB data:
 * `<dir>/<ULID>/meta.json`, `<dir>/wal/<N>`, `<dir>/chunks_head/<N>` → `<dir>`.
 */
export function dataDirOfFile(filePath: string): string | undefined {
  const parts = filePath.split('/');
  if (parts.length < 3) return undefined;
  const name = parts[parts.length - 1];
  const parent = parts[parts.length - 2];
  const dir = parts.slice(0, -2).join('/') || '/';
  if (name === 'meta.json' && ULID_RE.test(parent)) return dir;
  if ((parent === 'wal' || parent === 'chunks_head') && /^[0-9]+$/.test(name)) return dir;
  return undefined;
}

/**
 * A time typed by the user: empty → undefined (no bound), epoch ms, RFC 3339 with a zone, or
 * `now`, `now-6h` (s, m, h, d, w). null when it is none of these (local time is never guessed).
 */
export function parseTimeInput(text: string, now = Date.now()): number | undefined | null {
  const s = text.trim();
  if (!s) return undefined;
  if (/^[0-9]{1,16}$/.test(s)) return Number(s);
  const rel = /^now(?:\s*-\s*([0-9]+)\s*(s|m|h|d|w))?$/.exec(s);
  if (rel) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 }[(rel[2] ?? 's') as 's'];
    return now - Number(rel[1] ?? 0) * unit;
  }
  if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(s)) {
    const t = Date.parse(s.replace(' ', 'T'));
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

/** Time range presets offered by Dump from Pod before a custom range. */
export const DUMP_RANGE_PRESETS: { label: string; ms?: number }[] = [
  { label: 'Last 1 hour', ms: 3600e3 },
  { label: 'Last 6 hours', ms: 6 * 3600e3 },
  { label: 'Last 24 hours', ms: 86400e3 },
  { label: 'Last 7 days', ms: 7 * 86400e3 },
  { label: 'Everything' },
];

export interface DumpPreview {
  /** Blocks overlapping [from, to): dumps are block-granular, so these are included whole. */
  included: PodTsdbSummary['blocks'];
  totalBlocks: number;
  /** What the dump will actually cover: the included blocks plus the head. */
  effective?: TimeRange;
  /** Included blocks plus the head (chunks_head + WAL), which is always dumped. */
  estimatedBytes: number;
}

/** What a dump of [from, to) from this pod will hold, computed from its summary before starting. */
export function dumpPreview(summary: PodTsdbSummary, from: number | undefined, to: number | undefined): DumpPreview {
  const lo = from ?? -Infinity;
  const hi = to ?? Infinity;
  const included = summary.blocks.filter((b) => b.minTime < hi && lo < b.maxTime);
  const blockBytes = summary.blocks.reduce((n, b) => n + b.sizeBytes, 0);
  const headBytes = Math.max(0, summary.sizeBytes - blockBytes);
  const starts = included.map((b) => b.minTime);
  const ends = included.map((b) => b.maxTime);
  // The head is part of every dump; the summary's overall maxTime is where the head ends.
  if (summary.maxTime !== undefined && (summary.headFiles > 0 || summary.walSegments > 0)) ends.push(summary.maxTime);
  const effective = starts.length || ends.length ? { from: Math.min(...(starts.length ? starts : ends)), to: Math.max(...ends) } : undefined;
  return { included, totalBlocks: summary.blocks.length, effective, estimatedBytes: included.reduce((n, b) => n + b.sizeBytes, 0) + headBytes };
}

// ---- restore confirmation -----------------------------------------------------------------------

export interface RestoreConfirmation {
  /** The modal's first line: dump, pod, context, mode. */
  message: string;
  /** The modal's detail: what the dry run found. */
  detail: string;
  /** "Restore", or "Restore Anyway" when the worker says it needs force (errors, a target too old). */
  button: 'Restore' | 'Restore Anyway';
}

const UPLOAD_METHOD_TEXT: Record<UploadMethod, string> = {
  tar: 'one tar stream',
  cat: 'one `cat` per file (no tar in the pod)',
  head: 'one `head -c` per file (the API server has no v5 exec)',
};

/** Names and an ellipsis past `max`, so a modal stays readable with hundreds of blocks. */
function listOf(items: readonly string[], max = 8): string {
  return items.length > max ? `${items.slice(0, max).join(', ')}, … and ${items.length - max} more` : items.join(', ');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * The one modal before a restore, from the worker's dry run: the target, what is replaced or
 * added, what is left out, sizes, the backup, warnings, and the dump's errors if any.
 */
export function restoreConfirmation(p: RestorePreview, source: string): RestoreConfirmation {
  const name = source.split(/[\\/]/).filter(Boolean).pop() ?? source;
  const hasErrors = p.errors.length > 0;
  const message = `Restore ${name} into ${p.pod.namespace}/${p.pod.name} (${p.pod.context}) with mode "${p.mode}"?${hasErrors ? ` The dump has ${plural(p.errors.length, 'error')}.` : ''}`;
  const lines = [`Data dir: ${p.dataDir} in container ${p.pod.container} (Prometheus ${p.prometheusVersion ?? 'version unknown'})`];
  if (p.mode === 'replace') lines.push(p.replaces.length ? `Replaces everything now in ${p.dataDir}: ${listOf(p.replaces)}` : `Replaces nothing: ${p.dataDir} is empty`);
  else lines.push(`Keeps the pod's blocks and head`);
  lines.push(`Adds ${plural(p.adds.length, 'block')}: ${listOf(p.adds) || 'none'}`);
  for (const s of p.skipped) lines.push(`Skips ${s}`);
  const free = p.freeBytes === undefined ? 'free space unknown' : `${formatBytes(p.freeBytes)} free in the pod`;
  lines.push(`Uploads ${formatBytes(p.uploadBytes)} (${free}) as ${UPLOAD_METHOD_TEXT[p.uploadMethod]}`);
  lines.push(`Backs up the current data first to ${p.backup}`);
  lines.push(`Data volume: ${p.dataVolume.description}`);
  lines.push(`${p.dataVolume.restartDescription[0].toUpperCase()}${p.dataVolume.restartDescription.slice(1)}.`);
  if (p.warnings.length) lines.push('', 'Warnings:', ...p.warnings.map((w) => `• ${w}`));
  if (hasErrors) {
    lines.push('', `Errors in the dump (restoring it could make Prometheus fail or lose data):`, ...p.errors.slice(0, 10).map((e) => `• ${e}`));
    if (p.errors.length > 10) lines.push(`• … and ${p.errors.length - 10} more`);
  }
  if (p.tooNewForTarget.length) {
    lines.push('', `Too new for Prometheus ${p.prometheusVersion ?? ''} in the pod (it would fail or drop this data):`,
      ...p.tooNewForTarget.map((r) => `• ${r.feature} needs ${r.needs}: ${r.olderDoes}`));
  }
  return { message, detail: lines.join('\n'), button: p.needsForce ? 'Restore Anyway' : 'Restore' };
}

/** The notification after a dump from a pod; files that changed while they were read are named. */
export function dumpDoneMessage(result: Pick<DumpResult, 'blocks' | 'bytes' | 'output' | 'changedDuringDump' | 'warnings' | 'cleanedUp'>): string {
  const parts = [`Dumped ${result.blocks.length} block(s), ${formatBytes(result.bytes)} to ${path.basename(result.output)}.`];
  const changed = result.changedDuringDump;
  if (changed.length) {
    parts.push(`${changed.length} file(s) changed while they were read (Prometheus kept writing; the manifest has the hashes of what was read): ${listOf(changed, 3)}.`);
  }
  parts.push(...result.warnings.map((w) => `Warning: ${w}.`));
  if (result.cleanedUp.length) parts.push(`Removed what an interrupted tsdbdump run had left in the pod: ${listOf(result.cleanedUp, 3)}.`);
  return parts.join(' ');
}

// ---- drag and drop ------------------------------------------------------------------------------

/** The Dump Files tree's mime: VS Code adds it to every drag from that tree; our payload rides on it. */
export const DUMPS_MIME = 'application/vnd.code.tree.tsdbdump.dumps';

const DUMP_FILE_RE = /\.(tar\.gz|tgz|tar)$/i;

/** The payload of a drag from the Dump Files tree: the dump sources. */
export function encodeDumpSources(sources: readonly string[]): string {
  return JSON.stringify(sources);
}

/**
 * The dump sources of a Dump Files drag payload. VS Code puts its own `{id, itemHandles}` under the
 * same mime in a real drag; anything that is not our list of paths gives [].
 */
export function decodeDumpSources(text: string): string[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) && v.every((s) => typeof s === 'string' && s.startsWith('/')) ? (v as string[]) : [];
  } catch {
    return [];
  }
}

/**
 * The dumps among dropped files (a `text/uri-list`, RFC 2483: one URI a line, `#` comments):
 * local files named .tar.gz/.tgz/.tar, and directories (data dirs; the restore probes them).
 */
export function dumpPathsFromUriList(text: string, isDirectory: (p: string) => boolean): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    let url: URL;
    try {
      url = new URL(line);
    } catch {
      continue;
    }
    if (url.protocol !== 'file:') continue;
    const p = decodeURIComponent(url.pathname).replace(/(.)\/+$/, '$1');
    if (DUMP_FILE_RE.test(p) || isDirectory(p)) out.push(p);
  }
  return out;
}
