/**
 * Repair planning: for each problem, the candidate repairs, each judged by what Prometheus would
 * then serve (model.ts). The least lossy candidate that lets Prometheus start wins; on a tie the
 * first listed (the most conservative) does. Every chosen action carries what it costs: the samples
 * the files it removes or changes held that nothing left in the dump still holds.
 *
 * Candidates per problem:
 * - head chunk numbering gap / damaged record / bad header: drop the files after the gap, drop all,
 *   renumber, drop the files before the gap; damage: drop the file and later ones (what Prometheus
 *   does) or zero the file from the damaged record on.
 * - WAL gap: renumber the later segments, drop those after the gap, drop those before (then fix the
 *   checkpoint); damaged record: cut there and drop later segments (Prometheus's own repair) or cut
 *   and keep them; checkpoint N without N+1: rename the checkpoint or drop it; damaged checkpoint:
 *   cut it or drop it. Head and WAL choices are made together (m-mapped chunk times decide which
 *   WAL samples replay).
 * - block meta.json missing/invalid: rebuild it from index and chunks, or drop the block; damaged
 *   chunk: blank that chunk (empty chunk of the same size, numSamples lowered), or drop the block;
 *   damaged tombstones: drop the file (deletions come back) or the block; unreadable index or chunk
 *   refs into nothing: drop the block (cost from meta.json); garbage after the last used chunk: cut.
 * - deletable blocks and blocks listed as another block's parent: dropped (Prometheus deletes them).
 * - overlapping or duplicate blocks (a warning: 2.39+ merges them): the smaller block is dropped
 *   only when everything it holds stays served, which also makes the dump safe for Prometheus
 *   2.8–2.38; otherwise both stay.
 * - lock files, tmp leftovers, unsafe tar entries, the entry a truncated archive cut short: left out.
 */
import type { DiagnosticCode } from '../errors';
import type { RepairAction, RepairActionKind, RepairPlan, TimeRange, TsdbDiagnostic } from '../protocol';
import type { BlockMeta } from '../tsdb/metaJson';
import {
  type BlockModel,
  type DumpModel,
  type HoldSet,
  type Layout,
  type Loss,
  type RawSelection,
  allHoldings,
  allSeriesRefs,
  countHeld,
  lossOf,
  newestBlockEndOf,
  pad6,
  pad8,
  rawHoldings,
  servedBy,
  startupFailures,
  unionHolds,
} from './model';

// ---- Facts the collector gathers ---------------------------------------------------------------

export interface BadChunk {
  /** `<dir>/chunks/NNNNNN` */
  path: string;
  /** Offset of the chunk's len field (the ref's lower 32 bits). */
  offset: number;
  /** Offset of the encoding byte; data follows it. */
  encodingOffset: number;
  dataLength: number;
  /** `<file position>:<offset>`, as in IntervalPiece.chunkId. */
  chunkId: string;
  message: string;
}

export interface BlockFacts {
  dir: string;
  metaPresent: boolean;
  meta?: BlockMeta;
  metaError?: string;
  indexReadable: boolean;
  badChunks: BadChunk[];
  /** Index chunk refs that land on no chunk. */
  unresolvedRefs: number;
  /** Chunk files whose framing breaks after every chunk the index uses: cut there. */
  chunkTails?: { path: string; offset: number; message: string }[];
  tombstonesBad: boolean;
  hasTombstonesFile: boolean;
  /** Computed from the index and the chunk files. maxTime = last sample + 1. */
  computed?: { minTime: number; maxTime: number; numSamples: number; numSeries: number; numChunks: number };
  numTombstones?: number;
}

export interface RepairFacts {
  model: DumpModel;
  blocks: BlockFacts[];
  lockPaths: string[];
  tmpRoots: string[];
  unsafe: { path: string; message: string }[];
  truncated?: { path: string; message: string };
}

// ---- Edits ---------------------------------------------------------------------------------------

export interface EditState {
  dropBlocks: Set<string>;
  /** Block dir → meta.json to write (rebuilt or with corrected stats). */
  metas: Map<string, BlockMeta>;
  /** Block dir → chunk ids replaced by empty chunks. */
  blanked: Map<string, Set<string>>;
  /** Files or directories (with everything under them) left out. */
  dropPaths: Set<string>;
  /** File or directory path → new path. */
  renames: Map<string, string>;
  /** File path → bytes kept (WAL: the file is cut; head chunks: zero-filled from there, size kept). */
  cuts: Map<string, number>;
}

export function emptyEdits(): EditState {
  return { dropBlocks: new Set(), metas: new Map(), blanked: new Map(), dropPaths: new Set(), renames: new Map(), cuts: new Map() };
}

function cloneEdits(e: EditState): EditState {
  return {
    dropBlocks: new Set(e.dropBlocks),
    metas: new Map(e.metas),
    blanked: new Map([...e.blanked].map(([k, v]) => [k, new Set(v)])),
    dropPaths: new Set(e.dropPaths),
    renames: new Map(e.renames),
    cuts: new Map(e.cuts),
  };
}

function lastNumber(p: string, re: RegExp): number | undefined {
  const m = re.exec(p);
  return m ? Number(m[1]) : undefined;
}

/** The data as Prometheus would find it after the edits. */
export function layoutOf(model: DumpModel, e: EditState): Layout {
  const blocks = model.blocks
    .filter((b) => !e.dropBlocks.has(b.dir))
    .map((b) => {
      const meta = e.metas.get(b.dir);
      return { block: b, loadable: b.metaReadable || meta !== undefined, maxTime: meta?.maxTime ?? b.maxTime, blanked: e.blanked.get(b.dir) };
    });
  const headFiles = model.headFiles
    .filter((f) => !e.dropPaths.has(f.path))
    .map((f) => {
      const to = e.renames.get(f.path);
      return { file: f, number: to ? (lastNumber(to, /(\d+)$/) ?? f.number) : f.number, cutAt: e.cuts.get(f.path) };
    });
  const wal = model.wal
    .filter((s) => !e.dropPaths.has(s.path))
    .map((s) => {
      const to = e.renames.get(s.path);
      return { seg: s, number: to ? (lastNumber(to, /(\d+)$/) ?? s.number) : s.number, cutAt: e.cuts.get(s.path) };
    });
  const checkpoints = model.checkpoints
    .filter((c) => !e.dropPaths.has(c.path))
    .map((c) => {
      const to = e.renames.get(c.path);
      const cuts = new Map(c.segments.filter((s) => e.cuts.has(s.path)).map((s) => [s.path, e.cuts.get(s.path)!]));
      return { cp: c, number: to ? (lastNumber(to, /checkpoint\.(\d+)$/) ?? c.number) : c.number, cuts };
    });
  return { blocks, headFiles, wal, checkpoints };
}

// ---- Candidates ------------------------------------------------------------------------------------

interface Step {
  kind: RepairActionKind;
  path: string;
  to?: string;
  offset?: number;
  fixes: DiagnosticCode;
  reason: string;
  /** What the files this step removes or changes held (for its cost). */
  affected: RawSelection;
  /** A block whose index cannot be read: its cost comes from meta.json (per series unknown). */
  unreadable?: { samples: number; series: number; range?: TimeRange };
  apply(e: EditState): void;
}

interface Candidate {
  summary: string;
  steps: Step[];
}

interface Group {
  title: string;
  candidates: Candidate[];
  /** Keep the dump as it is when every candidate loses data (warnings only). */
  optional?: boolean;
  /** Joint groups are decided together (head chunks and WAL interact through m-mapped chunk times). */
  joint?: 'head' | 'wal';
}

function dropStep(path: string, fixes: DiagnosticCode, reason: string, affected: RawSelection = {}, kind: RepairActionKind = 'drop-file'): Step {
  return { kind, path, fixes, reason, affected, apply: (e) => void e.dropPaths.add(path) };
}

function renameStep(path: string, to: string, fixes: DiagnosticCode, reason: string, affected: RawSelection = {}): Step {
  return { kind: 'rename-file', path, to, fixes, reason, affected, apply: (e) => void e.renames.set(path, to) };
}

const headPath = (n: number) => `chunks_head/${pad6(n)}`;
const walPath = (n: number) => `wal/${pad8(n)}`;
const cpPath = (n: number) => `wal/checkpoint.${pad8(n)}`;

/** Splits sorted numbers into runs of consecutive numbers. */
function runs<T extends { number: number }>(sorted: T[]): T[][] {
  const out: T[][] = [];
  for (const x of sorted) {
    const last = out[out.length - 1];
    if (last && x.number === last[last.length - 1].number + 1) last.push(x);
    else out.push([x]);
  }
  return out;
}

function headGroup(facts: RepairFacts): Group | undefined {
  const files = [...facts.model.headFiles].sort((a, b) => a.number - b.number);
  const hasGap = runs(files).length > 1;
  const badHeader = files.filter((f) => !f.headerOk);
  const damaged = files.filter((f) => f.headerOk && f.corruptAt !== undefined);
  if (!hasGap && badHeader.length === 0 && damaged.length === 0) return undefined;

  const gapCode: DiagnosticCode = 'head-chunks-out-of-sequence';
  const corruptCode: DiagnosticCode = 'head-chunk-corrupt';
  type Variant = { label: string; steps: Step[]; kept: typeof files };
  const variants: Variant[] = [];
  const headerSteps = badHeader.map((f) => dropStep(f.path, corruptCode, `bad file header: Prometheus refuses to start`, { headFiles: [{ file: f }] }));
  const noBadHeader = files.filter((f) => f.headerOk);
  if (damaged.length === 0) variants.push({ label: '', steps: headerSteps, kept: noBadHeader });
  else {
    // What Prometheus itself does: drop the damaged file and every later one.
    const first = damaged[0];
    const later = noBadHeader.filter((f) => f.number >= first.number);
    variants.push({
      label: `drop ${first.path} (damaged) and later files`,
      steps: [
        ...headerSteps,
        ...later.map((f) =>
          dropStep(f.path, corruptCode, f === first ? `damaged record at byte ${f.corruptAt}: Prometheus would delete this file and every later one` : `follows the damaged ${first.path}`, { headFiles: [{ file: f }] }),
        ),
      ],
      kept: noBadHeader.filter((f) => f.number < first.number),
    });
    variants.push({
      label: `cut damaged files at the damage`,
      steps: [
        ...headerSteps,
        ...damaged.map<Step>((f) => ({
          kind: 'truncate-file',
          path: f.path,
          offset: f.corruptAt,
          fixes: corruptCode,
          reason: `damaged record at byte ${f.corruptAt}: zero the file from there (records before it are kept)`,
          affected: { headFiles: [{ file: f, from: f.corruptAt }] },
          apply: (e) => void e.cuts.set(f.path, f.corruptAt!),
        })),
      ],
      kept: noBadHeader,
    });
  }
  const candidates: Candidate[] = [];
  for (const v of variants) {
    const rs = runs(v.kept);
    if (rs.length <= 1) {
      candidates.push({ summary: v.label || 'drop the damaged files', steps: v.steps });
      continue;
    }
    const prefix = v.label ? `${v.label}, then ` : '';
    const firstRun = rs[0];
    const after = v.kept.filter((f) => !firstRun.includes(f));
    candidates.push({
      summary: `${prefix}drop the head chunk files after the gap (${after.map((f) => pad6(f.number)).join(', ')})`,
      steps: [
        ...v.steps,
        ...after.map((f) => dropStep(f.path, gapCode, `after the numbering gap at ${pad6(firstRun[firstRun.length - 1].number)}: Prometheus refuses to start ("found unsequential head chunk files"); the head is rebuilt from the WAL`, { headFiles: [{ file: f }] })),
      ],
    });
    candidates.push({
      summary: `${prefix}drop every head chunk file`,
      steps: [...v.steps, ...v.kept.map((f) => dropStep(f.path, gapCode, `numbering gap in chunks_head/: drop all head chunk files; the head is rebuilt from the WAL`, { headFiles: [{ file: f }] }))],
    });
    const renames: Step[] = [];
    let next = v.kept[0].number;
    for (const f of v.kept) {
      if (f.number !== next) renames.push(renameStep(f.path, headPath(next), gapCode, `renumber to close the gap in chunks_head/`, {}));
      next++;
    }
    candidates.push({ summary: `${prefix}renumber the head chunk files after the gap`, steps: [...v.steps, ...renames] });
    const lastRun = rs[rs.length - 1];
    const before = v.kept.filter((f) => !lastRun.includes(f));
    candidates.push({
      summary: `${prefix}drop the head chunk files before the gap (${before.map((f) => pad6(f.number)).join(', ')})`,
      steps: [...v.steps, ...before.map((f) => dropStep(f.path, gapCode, `before the numbering gap in chunks_head/`, { headFiles: [{ file: f }] }))],
    });
  }
  if (!candidates.some((c) => c.steps.length === files.length && c.steps.every((s) => s.kind === 'drop-file'))) {
    candidates.push({
      summary: 'drop every head chunk file',
      steps: files.map((f) => dropStep(f.path, hasGap ? gapCode : corruptCode, `drop all head chunk files; the head is rebuilt from the WAL`, { headFiles: [{ file: f }] })),
    });
  }
  return { title: 'head chunk files', candidates: dedupe(candidates), joint: 'head' };
}

function walGroup(facts: RepairFacts): Group | undefined {
  const model = facts.model;
  const segs = [...model.wal].sort((a, b) => a.number - b.number);
  const cps = [...model.checkpoints].sort((a, b) => a.number - b.number);
  const cp = cps[cps.length - 1];
  const replayed = segs.filter((s) => !cp || s.number > cp.number);
  const damaged = replayed.filter((s) => s.corruptAt !== undefined);
  const hasGap = runs(segs).length > 1;
  const cpStale = cp !== undefined && replayed.length > 0 && replayed[0].number !== cp.number + 1;
  if (!hasGap && damaged.length === 0 && !cpStale) return undefined;

  type Variant = { label: string; steps: Step[]; kept: typeof segs };
  const variants: Variant[] = [];
  if (damaged.length === 0) variants.push({ label: '', steps: [], kept: segs });
  else {
    const first = damaged[0];
    const code: DiagnosticCode = first.torn && first === replayed[replayed.length - 1] ? 'wal-torn-tail' : 'wal-record-corrupt';
    const cutStep = (s: typeof first): Step => ({
      kind: 'truncate-file',
      path: s.path,
      offset: s.corruptAt,
      fixes: s.torn && s === replayed[replayed.length - 1] ? 'wal-torn-tail' : 'wal-record-corrupt',
      reason: s.torn ? `the last record is torn: cut the segment at byte ${s.corruptAt}, after the last complete record` : `damaged record: cut the segment at byte ${s.corruptAt}, after the last good record`,
      affected: { wal: [{ seg: s, from: s.corruptAt }] },
      apply: (e) => void e.cuts.set(s.path, s.corruptAt!),
    });
    const later = segs.filter((s) => s.number > first.number);
    variants.push({
      label: later.length ? `cut ${first.path} and drop the later segments (what Prometheus's own repair does)` : `cut ${first.path}`,
      steps: [cutStep(first), ...later.map((s) => dropStep(s.path, code, `follows the damaged ${first.path}: Prometheus's WAL repair would delete it`, { wal: [{ seg: s }] }))],
      kept: segs.filter((s) => s.number <= first.number),
    });
    if (later.length) {
      variants.push({ label: `cut the damaged segments and keep the later ones`, steps: damaged.map(cutStep), kept: segs });
    }
  }
  const candidates: Candidate[] = [];
  const gapCode: DiagnosticCode = 'wal-segments-not-sequential';
  for (const v of variants) {
    const rs = runs(v.kept);
    const prefix = v.label ? `${v.label}, then ` : '';
    const options: Candidate[] = [];
    if (rs.length <= 1) options.push({ summary: v.label, steps: v.steps });
    else {
      const renames: Step[] = [];
      let next = v.kept[0].number;
      for (const s of v.kept) {
        if (s.number !== next) renames.push(renameStep(s.path, walPath(next), gapCode, `renumber to close the gap in wal/ (segment order is kept)`, {}));
        next++;
      }
      options.push({ summary: `${prefix}renumber the WAL segments after the gap (${renames.map((r) => `${r.path.slice(4)}→${r.to!.slice(4)}`).join(', ')})`, steps: [...v.steps, ...renames] });
      const firstRun = rs[0];
      const after = v.kept.filter((s) => !firstRun.includes(s));
      options.push({
        summary: `${prefix}drop the WAL segments after the gap (${after.map((s) => pad8(s.number)).join(', ')})`,
        steps: [...v.steps, ...after.map((s) => dropStep(s.path, gapCode, `after the gap in wal/: Prometheus refuses to start ("segments are not sequential")`, { wal: [{ seg: s }] }))],
      });
      const lastRun = rs[rs.length - 1];
      const before = v.kept.filter((s) => !lastRun.includes(s));
      options.push({
        summary: `${prefix}drop the WAL segments before the gap (${before.map((s) => pad8(s.number)).join(', ')})`,
        steps: [...v.steps, ...before.map((s) => dropStep(s.path, gapCode, `before the gap in wal/: Prometheus refuses to start ("segments are not sequential")`, { wal: [{ seg: s }] }))],
      });
    }
    for (const o of options) candidates.push(...withCheckpointFix(facts, o));
  }
  return { title: 'WAL', candidates: dedupe(candidates.filter((c) => c.steps.length > 0)), joint: 'wal' };
}

/** A damaged segment in the newest checkpoint: Prometheus refuses to start (`backfill checkpoint`). */
function checkpointGroup(facts: RepairFacts): Group | undefined {
  const cps = [...facts.model.checkpoints].sort((a, b) => a.number - b.number);
  const cp = cps[cps.length - 1];
  const damaged = cp?.segments.filter((s) => s.corruptAt !== undefined) ?? [];
  if (!cp || damaged.length === 0) return undefined;
  const code: DiagnosticCode = 'wal-record-corrupt';
  return {
    title: cp.path,
    candidates: [
      {
        summary: `cut the damaged checkpoint segment${damaged.length > 1 ? 's' : ''} after the last good record`,
        steps: damaged.map<Step>((s) => ({
          kind: 'truncate-file',
          path: s.path,
          offset: s.corruptAt,
          fixes: code,
          reason: `damaged checkpoint record: Prometheus refuses to start ("backfill checkpoint"); cut at byte ${s.corruptAt}, keeping the records before it`,
          affected: { wal: [{ seg: s, from: s.corruptAt }] },
          apply: (e) => void e.cuts.set(s.path, s.corruptAt!),
        })),
      },
      {
        summary: `drop ${cp.path}`,
        steps: [dropStep(cp.path, code, 'damaged checkpoint: without it the WAL segments replay from the first one', { wal: cp.segments.map((seg) => ({ seg })) })],
      },
    ],
  };
}

/** When the newest checkpoint N is not followed by segment N+1, adds the ways to fix that. */
function withCheckpointFix(facts: RepairFacts, c: Candidate): Candidate[] {
  const e = emptyEdits();
  for (const s of c.steps) s.apply(e);
  const layout = layoutOf(facts.model, e);
  const cps = [...layout.checkpoints].sort((a, b) => a.number - b.number);
  const cp = cps[cps.length - 1];
  if (!cp) return [c];
  const segs = [...layout.wal].sort((a, b) => a.number - b.number);
  const after = segs.filter((s) => s.number > cp.number);
  if (after.length === 0 || after[0].number === cp.number + 1) return [c];
  const code: DiagnosticCode = 'wal-checkpoint-stale';
  const first = after[0].number;
  const out: Candidate[] = [];
  const olderCp = facts.model.checkpoints.some((x) => x.number === first - 1);
  const below = segs.filter((s) => s.number <= cp.number);
  if (!olderCp) {
    out.push({
      summary: `${c.summary ? `${c.summary}, then ` : ''}rename checkpoint.${pad8(cp.number)} to checkpoint.${pad8(first - 1)} so that segment ${pad8(first)} follows it`,
      steps: [
        ...c.steps,
        renameStep(cp.cp.path, cpPath(first - 1), code, `checkpoint ${cp.number} must be followed by segment ${cp.number + 1}, which is missing; the checkpoint's content is unchanged`),
        // Older segments would now sit below the checkpoint with a gap before the renamed one.
        ...below.map((s) => dropStep(s.seg.path, code, `segment ${pad8(s.number)} is already covered by the checkpoint (Prometheus ignores it)`, { wal: [{ seg: s.seg }] })),
      ],
    });
  }
  out.push({
    summary: `${c.summary ? `${c.summary}, then ` : ''}drop checkpoint.${pad8(cp.number)}`,
    steps: [...c.steps, dropStep(cp.cp.path, code, `checkpoint ${cp.number} is not followed by segment ${cp.number + 1}; without it the segments replay from the first one`, { wal: cp.cp.segments.map((seg) => ({ seg })) })],
  });
  return out;
}

function dedupe(cands: Candidate[]): Candidate[] {
  const seen = new Set<string>();
  return cands.filter((c) => {
    const sig = c.steps
      .map((s) => `${s.kind} ${s.path} ${s.to ?? ''} ${s.offset ?? ''}`)
      .sort()
      .join('|');
    if (seen.has(sig)) return false;
    seen.add(sig);
    return true;
  });
}

/** meta.json rebuilt from the index and chunks (tsdb-format.md §2): level 1, sources [self]. */
export function rebuiltMeta(b: BlockFacts): BlockMeta | undefined {
  const c = b.computed;
  if (!c) return undefined;
  const stats: NonNullable<BlockMeta['stats']> = { numSamples: c.numSamples, numSeries: c.numSeries, numChunks: c.numChunks };
  if (b.numTombstones) stats.numTombstones = b.numTombstones;
  return { ulid: b.dir, minTime: c.minTime, maxTime: c.maxTime, stats, compaction: { level: 1, sources: [b.dir] }, version: 1 };
}

function blockGroups(facts: RepairFacts, diagnostics: TsdbDiagnostic[]): Group[] {
  const groups: Group[] = [];
  const byDir = new Map(facts.model.blocks.map((b) => [b.dir, b]));
  const parentOf = new Map<string, string>();
  for (const b of facts.blocks) if (b.meta) for (const p of b.meta.compaction.parents ?? []) parentOf.set(p.ulid, b.dir);
  for (const bf of facts.blocks) {
    const bm = byDir.get(bf.dir);
    if (!bm) continue;
    const unreadable: Step['unreadable'] =
      !bm.series && bf.meta
        ? { samples: bf.meta.stats?.numSamples ?? 0, series: bf.meta.stats?.numSeries ?? 0, range: { from: bf.meta.minTime, to: bf.meta.maxTime } }
        : undefined;
    const drop = (fixes: DiagnosticCode, reason: string): Step => ({
      kind: 'drop-block',
      path: `${bf.dir}/`,
      fixes,
      reason: unreadable ? `${reason} (its ${unreadable.samples} samples of ${unreadable.series} series, per meta.json, are lost)` : reason,
      affected: { blocks: [bm] },
      unreadable,
      apply: (e) => void e.dropBlocks.add(bf.dir),
    });
    const metaOk = bf.meta !== undefined && (bf.meta.version === 1 || bf.meta.version === 2);
    if (bf.meta?.compaction.deletable) {
      groups.push({ title: bf.dir, candidates: [{ summary: 'drop the deletable block', steps: [drop('block-deletable', 'meta.json marks the block deletable; Prometheus deletes it at startup')] }] });
      continue;
    }
    const replacedBy = parentOf.get(bf.dir) ?? (bf.meta ? parentOf.get(bf.meta.ulid) : undefined);
    if (replacedBy && replacedBy !== bf.dir && metaOk) {
      groups.push({ title: bf.dir, candidates: [{ summary: 'drop the superseded block', steps: [drop('block-superseded', `already compacted into ${replacedBy} (one of its parents); Prometheus deletes it at startup`)] }] });
      continue;
    }
    const indexFatal = bm.indexFatal || !bf.indexReadable;
    const metaCode: DiagnosticCode = bf.metaPresent ? 'meta-invalid' : 'meta-missing';
    if (indexFatal) {
      groups.push({
        title: bf.dir,
        candidates: [{ summary: 'drop the block', steps: [drop(metaOk ? 'index-corrupt' : metaCode, `the index cannot be read${metaOk ? ': Prometheus refuses to start ("corrupted block")' : ' and meta.json is unusable'}; nothing in the block can be served`)] }],
      });
      continue;
    }
    if (bf.unresolvedRefs > 0) {
      groups.push({ title: bf.dir, candidates: [{ summary: 'drop the block', steps: [drop('chunk-ref-out-of-range', `${bf.unresolvedRefs} index chunk refs point at no chunk: queries touching them fail`)] }] });
      continue;
    }
    const keepSteps: Step[] = [];
    const ulidMismatch = metaOk && bf.meta!.ulid.toUpperCase() !== bf.dir.toUpperCase();
    let meta: BlockMeta | undefined;
    let metaReason = '';
    let metaFixes: DiagnosticCode = metaCode;
    if (!metaOk) {
      meta = rebuiltMeta(bf);
      metaReason = `meta.json is ${bf.metaPresent ? `invalid (${bf.metaError ?? 'unreadable'})` : 'missing'}: rebuilt from the index and chunks (ulid from the directory name, minTime/maxTime from the chunk metas, maxTime = last sample + 1, stats counted, level 1, sources [self])`;
      if (!meta) {
        groups.push({ title: bf.dir, candidates: [{ summary: 'drop the block', steps: [drop(metaCode, 'meta.json is unusable and cannot be rebuilt')] }] });
        continue;
      }
    } else {
      const m = bf.meta!;
      const c = bf.computed;
      const fixes: string[] = [];
      let next: BlockMeta = m;
      if (ulidMismatch) {
        next = { ...next, ulid: bf.dir };
        fixes.push(`ulid ${m.ulid} → ${bf.dir} (the directory name)`);
        metaFixes = 'block-ulid-mismatch';
      }
      // meta.json disagreeing with the index (meta-inconsistent): Prometheus trusts meta.json.
      if (c && (c.minTime < m.minTime || c.maxTime > m.maxTime || m.minTime >= m.maxTime)) {
        const minTime = m.minTime >= m.maxTime ? c.minTime : Math.min(m.minTime, c.minTime);
        const maxTime = m.minTime >= m.maxTime ? c.maxTime : Math.max(m.maxTime, c.maxTime);
        next = { ...next, minTime, maxTime };
        fixes.push(`time range [${m.minTime}, ${m.maxTime}) → [${minTime}, ${maxTime}) so that it covers every chunk`);
        if (!ulidMismatch) metaFixes = m.minTime >= m.maxTime ? 'meta-invalid' : 'meta-inconsistent';
      }
      if (c && ((m.stats?.numSeries !== undefined && m.stats.numSeries !== c.numSeries) || (m.stats?.numChunks !== undefined && m.stats.numChunks !== c.numChunks))) {
        next = { ...next, stats: { ...m.stats, numSeries: c.numSeries, numChunks: c.numChunks, numSamples: c.numSamples } };
        fixes.push('stats counted from the index and chunks');
        if (!ulidMismatch && metaFixes === metaCode) metaFixes = 'meta-inconsistent';
      }
      if (fixes.length) {
        meta = next;
        metaReason = `meta.json rewritten (compaction history kept): ${fixes.join('; ')}`;
      }
    }
    const blankedIds = new Set(bf.badChunks.map((c) => c.chunkId));
    if (bf.badChunks.length > 0) {
      for (const c of bf.badChunks) {
        keepSteps.push({
          kind: 'blank-chunk',
          path: c.path,
          offset: c.offset,
          fixes: 'chunk-crc-mismatch',
          reason: `chunk at offset ${c.offset} is damaged (${c.message}): replace it by an empty chunk of the same size, so the rest of the block stays readable`,
          affected: { chunks: [{ block: bm, chunkIds: new Set([c.chunkId]) }] },
          apply: (e) => {
            const set = e.blanked.get(bf.dir) ?? new Set<string>();
            set.add(c.chunkId);
            e.blanked.set(bf.dir, set);
          },
        });
      }
      const lostSamples = countHeld(rawHoldings({ chunks: [{ block: bm, chunkIds: blankedIds }] }, new Map()));
      const base = meta ?? bf.meta!;
      meta = { ...base, stats: { ...base.stats, numSamples: Math.max(0, (base.stats?.numSamples ?? bf.computed?.numSamples ?? 0) - lostSamples) } };
      if (!metaReason) {
        metaReason = `numSamples lowered by the ${lostSamples} samples of the blanked chunks`;
        metaFixes = 'chunk-crc-mismatch';
      }
    }
    if (meta) {
      const m = meta;
      keepSteps.unshift({ kind: 'rebuild-meta', path: `${bf.dir}/meta.json`, fixes: metaFixes, reason: metaReason, affected: {}, apply: (e) => void e.metas.set(bf.dir, m) });
    }
    for (const t of bf.chunkTails ?? []) {
      keepSteps.push({
        kind: 'truncate-file',
        path: t.path,
        offset: t.offset,
        fixes: 'chunk-corrupt',
        reason: `unreadable bytes from offset ${t.offset} (${t.message}) after the last chunk the index refers to: cut them off`,
        affected: {},
        apply: (e) => void e.cuts.set(t.path, t.offset),
      });
    }
    if (bf.tombstonesBad) {
      keepSteps.push(dropStep(`${bf.dir}/tombstones`, 'tombstones-corrupt', 'the tombstones file is damaged (Prometheus refuses to open the block); without it the block has no deletions, so samples deleted earlier reappear', {}));
    }
    if (keepSteps.length === 0) continue;
    const mainCode = keepSteps.find((s) => s.kind !== 'rebuild-meta')?.fixes ?? metaFixes;
    groups.push({
      title: bf.dir,
      candidates: [
        { summary: keepSteps.map((s) => s.kind).join(' + '), steps: keepSteps },
        { summary: 'drop the block', steps: [drop(mainCode, 'drop the whole block')] },
      ],
    });
  }
  void diagnostics;
  return groups;
}

/** Overlapping or duplicate blocks (warnings): drop a block only when everything it holds is served by the rest. */
function redundantBlockGroups(facts: RepairFacts, diagnostics: TsdbDiagnostic[]): Group[] {
  const out: Group[] = [];
  const seen = new Set<string>();
  const byDir = new Map(facts.model.blocks.map((b) => [b.dir, b]));
  for (const d of diagnostics) {
    if (d.code !== 'block-overlap' && d.code !== 'block-superseded') continue;
    const dirs = (d.blocks ?? []).filter((x) => byDir.has(x));
    if (dirs.length < 2) continue;
    // The smaller block (by time range) is the candidate to go.
    const sorted = dirs.map((x) => byDir.get(x)!).sort((a, b) => span(a) - span(b));
    const victim = sorted[0];
    if (seen.has(victim.dir)) continue;
    seen.add(victim.dir);
    out.push({
      title: victim.dir,
      optional: true,
      candidates: [
        {
          summary: `drop ${victim.dir}`,
          steps: [
            {
              kind: 'drop-block',
              path: `${victim.dir}/`,
              fixes: d.code,
              reason: `overlaps ${sorted.slice(1).map((b) => b.dir).join(', ')} and holds nothing they do not (Prometheus 2.39+ would merge them; older releases refuse to start)`,
              affected: { blocks: [victim] },
              apply: (e) => void e.dropBlocks.add(victim.dir),
            },
          ],
        },
      ],
    });
  }
  return out;
}

function span(b: BlockModel): number {
  return (b.maxTime ?? 0) - (b.minTime ?? 0);
}

// ---- Choosing ---------------------------------------------------------------------------------------

export interface PlannedRepair extends RepairPlan {
  edits: EditState;
}

function applyAll(base: EditState, steps: Step[]): EditState {
  const e = cloneEdits(base);
  for (const s of steps) s.apply(e);
  return e;
}

interface Scored {
  cand: Candidate;
  lost: number;
  served: HoldSet;
  startable: boolean;
}

const MAX_LOST_SERIES = 20;

export function planFromFacts(source: string, facts: RepairFacts, diagnostics: TsdbDiagnostic[]): PlannedRepair {
  const model = facts.model;
  const data = allHoldings(model);
  const lostWith = (e: EditState): number => lossOf(data, servedBy(layoutOf(model, e))).samples;
  const evaluate = (e: EditState): { lost: number; served: HoldSet } => {
    const served = servedBy(layoutOf(model, e));
    return { lost: lossOf(data, served).samples, served };
  };
  const failuresWith = (e: EditState, scope: 'head' | 'wal' | 'block' | 'checkpoint', dir?: string): string[] => {
    const f = startupFailures(layoutOf(model, e));
    return f.filter((m) => {
      if (scope === 'block') return dir !== undefined && m.includes(dir);
      if (scope === 'head') return /head chunk/.test(m);
      if (scope === 'checkpoint') return /backfill checkpoint/.test(m);
      return /segment|checkpoint/.test(m);
    });
  };

  let edits = emptyEdits();
  const chosen: { steps: Step[]; alternatives?: RepairAction['alternatives'] }[] = [];

  // Unconditional cleanups: nothing in them is TSDB data Prometheus would load.
  const cleanup: Step[] = [
    ...facts.lockPaths.map((p) => dropStep(p, 'lock-file-present', 'stale lock file: a restored Prometheus must not find it', {}, 'drop-entry')),
    ...facts.tmpRoots.map((p) => dropStep(p, 'leftover-tmp', 'leftover of interrupted work (Prometheus deletes it at startup)', {}, 'drop-entry')),
    ...facts.unsafe.map((u) => dropStep(u.path, 'tar-unsafe-path', `${u.message}`, {}, 'drop-entry')),
  ];
  if (facts.truncated) cleanup.push(dropStep(facts.truncated.path, 'dump-truncated', `${facts.truncated.message}; the entry cut short is left out`, {}, 'drop-entry'));
  if (cleanup.length) {
    edits = applyAll(edits, cleanup);
    chosen.push({ steps: cleanup });
  }

  const decide = (g: Group, scope: 'block' | 'head' | 'wal' | 'checkpoint', dir?: string) => {
    const scored: Scored[] = g.candidates.map((cand) => {
      const e = applyAll(edits, cand.steps);
      return { cand, ...evaluate(e), startable: failuresWith(e, scope, dir).length === 0 };
    });
    const base = g.optional ? lostWith(edits) : Infinity;
    let best: Scored | undefined;
    for (const s of scored) if (s.startable && (!best || s.lost < best.lost)) best = s;
    if (!best || (g.optional && best.lost > base)) return;
    edits = applyAll(edits, best.cand.steps);
    chosen.push({ steps: best.cand.steps, alternatives: alternativesOf(scored, best) });
  };

  for (const g of blockGroups(facts, diagnostics)) decide(g, 'block', g.title);
  const cg = checkpointGroup(facts);
  if (cg) decide(cg, 'checkpoint');

  // Head chunks and WAL together: which head chunks stay decides which WAL samples replay.
  const hg = headGroup(facts);
  const wg = walGroup(facts);
  if (hg || wg) {
    const heads = hg?.candidates ?? [{ summary: '', steps: [] }];
    const wals = wg?.candidates ?? [{ summary: '', steps: [] }];
    type Row = { h: number; w: number; lost: number; served: HoldSet; startable: boolean };
    let best: Row | undefined;
    const table: Row[] = [];
    for (let w = 0; w < wals.length; w++) {
      for (let h = 0; h < heads.length; h++) {
        const e = applyAll(edits, [...heads[h].steps, ...wals[w].steps]);
        const startable = failuresWith(e, 'head').length === 0 && failuresWith(e, 'wal').length === 0;
        const row = { h, w, ...evaluate(e), startable };
        table.push(row);
        if (startable && (!best || row.lost < best.lost)) best = row;
      }
    }
    if (best) {
      const b = best;
      edits = applyAll(edits, [...heads[b.h].steps, ...wals[b.w].steps]);
      const alt = (r: Row, summary: string) => ({ summary, samples: r.lost - b.lost, series: lossOf(b.served, r.served).series, startable: r.startable });
      if (hg) chosen.push({ steps: heads[b.h].steps, alternatives: table.filter((r) => r.w === b.w && r.h !== b.h).map((r) => alt(r, heads[r.h].summary)) });
      if (wg) chosen.push({ steps: wals[b.w].steps, alternatives: table.filter((r) => r.h === b.h && r.w !== b.w).map((r) => alt(r, wals[r.w].summary)) });
    }
  }

  for (const g of redundantBlockGroups(facts, diagnostics)) {
    const e = applyAll(edits, g.candidates[0].steps);
    const victim = g.candidates[0].steps[0].affected;
    const extra = lossOf(rawHoldings(victim, new Map()), servedBy(layoutOf(model, e))).samples;
    if (extra === 0 && lostWith(e) <= lostWith(edits)) {
      edits = e;
      chosen.push({ steps: g.candidates[0].steps });
    }
  }

  // Costs: each action's files, against what is served in the end (first claim wins).
  const served = servedBy(layoutOf(model, edits));
  const refs = allSeriesRefs(model);
  const unknownFrom = newestBlockEndOf(model);
  let claimed: HoldSet = served;
  const actions: RepairAction[] = [];
  let actionLoss = 0;
  let unreadableHeld = 0;
  for (const c of chosen) {
    // Alternatives go with the step that names the decision (not a meta.json rewrite that comes with it).
    const main = Math.max(0, c.steps.findIndex((s) => s.kind !== 'rebuild-meta'));
    c.steps.forEach((s, i) => {
      const affected = rawHoldings(s.affected, refs, unknownFrom);
      const loss: Loss = lossOf(affected, claimed);
      if (s.unreadable) {
        loss.samples += s.unreadable.samples;
        loss.series += s.unreadable.series;
        if (s.unreadable.range) loss.ranges.push(s.unreadable.range);
        unreadableHeld += s.unreadable.samples;
      }
      claimed = unionHolds(claimed, affected);
      actionLoss += loss.samples;
      const a: RepairAction = { kind: s.kind, path: s.path, fixes: s.fixes, reason: s.reason, loss: { samples: loss.samples, series: loss.series, ranges: loss.ranges } };
      if (s.to !== undefined) a.to = s.to;
      if (s.offset !== undefined) a.offset = s.offset;
      if (loss.perSeries.length) a.lostSeries = loss.perSeries.slice(0, MAX_LOST_SERIES);
      if (i === main && c.alternatives?.length) a.alternatives = c.alternatives;
      actions.push(a);
    });
  }
  const held = countHeld(data) + unreadableHeld;
  const lost = lossOf(data, served).samples + unreadableHeld;
  const fixed = new Set(actions.map((a) => a.fixes));
  const unfixable = diagnostics.filter((d) => d.severity === 'error' && !fixed.has(d.code) && !fixedIndirectly(d, actions));
  return {
    source,
    actions,
    unfixable,
    nothingToRepair: actions.length === 0,
    totals: { samplesHeld: held, samplesServedAfter: held - lost, samplesLost: lost, notServedAnyway: Math.max(0, lost - actionLoss) },
    edits,
  };
}

/** A diagnostic about a file or block that an action removes or rewrites. */
function fixedIndirectly(d: TsdbDiagnostic, actions: RepairAction[]): boolean {
  const p = d.path.replace(/\/$/, '');
  return actions.some((a) => {
    const ap = a.path.replace(/\/$/, '');
    return p === ap || p.startsWith(`${ap}/`) || (a.kind === 'drop-block' && (d.blocks ?? []).includes(ap));
  });
}

function alternativesOf(scored: Scored[], best: Scored): RepairAction['alternatives'] {
  return scored.filter((s) => s !== best).map((s) => ({ summary: s.cand.summary, samples: s.lost - best.lost, series: lossOf(best.served, s.served).series, startable: s.startable }));
}
