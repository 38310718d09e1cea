/**
 * The candidate repairs of each problem (see ./plan.ts for the list and how one is chosen): steps
 * that each edit the dump one way, grouped per problem.
 */
import type { DiagnosticCode } from '../errors';
import type { RepairActionKind, TimeRange, TsdbDiagnostic } from '../protocol';
import type { BlockMeta } from '../tsdb/metaJson';
import { cloneEdits, emptyEdits, layoutOf, type EditState } from './edits';
import type { BlockFacts, RepairFacts } from './facts';
import { type BlockModel, type RawSelection, countHeld, minValidTime, mmapOutOfSequence, pad6, pad8, rawHoldings } from './model';

export interface Step {
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

export interface Candidate {
  summary: string;
  steps: Step[];
}

export interface Group {
  title: string;
  candidates: Candidate[];
  /** Keep the dump as it is when every candidate loses data (warnings only). */
  optional?: boolean;
  /** Joint groups are decided together (head chunks and WAL interact through m-mapped chunk times). */
  joint?: 'head' | 'wal';
}

export function dropStep(
  path: string,
  fixes: DiagnosticCode,
  reason: string,
  affected: RawSelection = {},
  kind: RepairActionKind = 'drop-file',
): Step {
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

export function headGroup(facts: RepairFacts): Group | undefined {
  const files = [...facts.model.headFiles].sort((a, b) => a.number - b.number);
  const hasGap = runs(files).length > 1;
  const badHeader = files.filter((f) => !f.headerOk);
  const damaged = files.filter((f) => f.headerOk && f.corruptAt !== undefined);
  if (!hasGap && badHeader.length === 0 && damaged.length === 0) return mmapSequenceGroup(facts);

  const gapCode: DiagnosticCode = 'head-chunks-out-of-sequence';
  const corruptCode: DiagnosticCode = 'head-chunk-corrupt';
  type Variant = { label: string; steps: Step[]; kept: typeof files };
  const variants: Variant[] = [];
  const headerSteps = badHeader.map((f) =>
    dropStep(f.path, corruptCode, `bad file header: Prometheus refuses to start`, { headFiles: [{ file: f }] }),
  );
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
          dropStep(
            f.path,
            corruptCode,
            f === first
              ? `damaged record at byte ${f.corruptAt}: Prometheus would delete this file and every later one`
              : `follows the damaged ${first.path}`,
            { headFiles: [{ file: f }] },
          ),
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
        ...after.map((f) =>
          dropStep(
            f.path,
            gapCode,
            `after the numbering gap at ${pad6(firstRun[firstRun.length - 1].number)}: ` +
              `Prometheus refuses to start ("found unsequential head chunk files"); the head is rebuilt from the WAL`,
            { headFiles: [{ file: f }] },
          ),
        ),
      ],
    });
    candidates.push({
      summary: `${prefix}drop every head chunk file`,
      steps: [
        ...v.steps,
        ...v.kept.map((f) =>
          dropStep(f.path, gapCode, `numbering gap in chunks_head/: drop all head chunk files; the head is rebuilt from the WAL`, {
            headFiles: [{ file: f }],
          }),
        ),
      ],
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
      steps: [
        ...v.steps,
        ...before.map((f) => dropStep(f.path, gapCode, `before the numbering gap in chunks_head/`, { headFiles: [{ file: f }] })),
      ],
    });
  }
  if (!candidates.some((c) => c.steps.length === files.length && c.steps.every((s) => s.kind === 'drop-file'))) {
    candidates.push({
      summary: 'drop every head chunk file',
      steps: files.map((f) =>
        dropStep(f.path, hasGap ? gapCode : corruptCode, `drop all head chunk files; the head is rebuilt from the WAL`, {
          headFiles: [{ file: f }],
        }),
      ),
    });
  }
  return { title: 'head chunk files', candidates: dedupe(candidates), joint: 'head' };
}

/**
 * Head chunk files in sequence by number but not by time (an m-mapped chunk out of sequence):
 * Prometheus deletes them all at startup (what dropping them does), or they are renumbered so
 * that each file's in-order chunks follow the previous file's.
 */
function mmapSequenceGroup(facts: RepairFacts): Group | undefined {
  const files = [...facts.model.headFiles].sort((a, b) => a.number - b.number);
  const minValid = minValidTime(layoutOf(facts.model, emptyEdits()));
  const bad = mmapOutOfSequence(files.map((file) => ({ file, number: file.number })), minValid);
  if (!bad) return undefined;
  const code: DiagnosticCode = 'head-chunk-mmap-out-of-sequence';
  const candidates: Candidate[] = [
    {
      summary: 'drop every head chunk file (what Prometheus does at startup)',
      steps: files.map((f) =>
        dropStep(f.path, code, `${bad.path} holds an out-of-sequence m-mapped chunk: Prometheus deletes every head chunk file; ` +
          'the head is rebuilt from the WAL', { headFiles: [{ file: f }] }),
      ),
    },
  ];
  // Files by the start of their first in-order chunk (files without any keep their place at the end).
  const start = (f: (typeof files)[number]) => Math.min(Infinity, ...f.records.filter((r) => !r.ooo).map((r) => r.minTime));
  const ordered = [...files].sort((a, b) => start(a) - start(b) || a.number - b.number);
  const renames: Step[] = [];
  ordered.forEach((f, i) => {
    const n = files[i].number;
    if (f.number !== n)
      renames.push(renameStep(f.path, headPath(n), code, `renumber the head chunk files in the time order of their chunks`, {}));
  });
  const e = emptyEdits();
  for (const s of renames) s.apply(e);
  const after = layoutOf(facts.model, e).headFiles;
  if (renames.length && !mmapOutOfSequence(after, minValid))
    candidates.push({ summary: 'renumber the head chunk files in the time order of their chunks', steps: renames });
  return { title: 'head chunk files', candidates, joint: 'head' };
}

export function walGroup(facts: RepairFacts): Group | undefined {
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
      reason: s.torn
        ? `the last record is torn: cut the segment at byte ${s.corruptAt}, after the last complete record`
        : `damaged record: cut the segment at byte ${s.corruptAt}, after the last good record`,
      affected: { wal: [{ seg: s, from: s.corruptAt }] },
      apply: (e) => void e.cuts.set(s.path, s.corruptAt!),
    });
    const later = segs.filter((s) => s.number > first.number);
    variants.push({
      label: later.length ? `cut ${first.path} and drop the later segments (what Prometheus's own repair does)` : `cut ${first.path}`,
      steps: [
        cutStep(first),
        ...later.map((s) =>
          dropStep(s.path, code, `follows the damaged ${first.path}: Prometheus's WAL repair would delete it`, { wal: [{ seg: s }] }),
        ),
      ],
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
        if (s.number !== next)
          renames.push(renameStep(s.path, walPath(next), gapCode, `renumber to close the gap in wal/ (segment order is kept)`, {}));
        next++;
      }
      options.push({
        summary: `${prefix}renumber the WAL segments after the gap ` +
          `(${renames.map((r) => `${r.path.slice(4)}→${r.to!.slice(4)}`).join(', ')})`,
        steps: [...v.steps, ...renames],
      });
      const firstRun = rs[0];
      const after = v.kept.filter((s) => !firstRun.includes(s));
      options.push({
        summary: `${prefix}drop the WAL segments after the gap (${after.map((s) => pad8(s.number)).join(', ')})`,
        steps: [
          ...v.steps,
          ...after.map((s) =>
            dropStep(s.path, gapCode, `after the gap in wal/: Prometheus refuses to start ("segments are not sequential")`, {
              wal: [{ seg: s }],
            }),
          ),
        ],
      });
      const lastRun = rs[rs.length - 1];
      const before = v.kept.filter((s) => !lastRun.includes(s));
      options.push({
        summary: `${prefix}drop the WAL segments before the gap (${before.map((s) => pad8(s.number)).join(', ')})`,
        steps: [
          ...v.steps,
          ...before.map((s) =>
            dropStep(s.path, gapCode, `before the gap in wal/: Prometheus refuses to start ("segments are not sequential")`, {
              wal: [{ seg: s }],
            }),
          ),
        ],
      });
    }
    for (const o of options) candidates.push(...withCheckpointFix(facts, o));
  }
  return { title: 'WAL', candidates: dedupe(candidates.filter((c) => c.steps.length > 0)), joint: 'wal' };
}

/** A damaged segment in the newest checkpoint: Prometheus refuses to start (`backfill checkpoint`). */
export function checkpointGroup(facts: RepairFacts): Group | undefined {
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
          reason: `damaged checkpoint record: Prometheus refuses to start ` +
            `("backfill checkpoint"); cut at byte ${s.corruptAt}, keeping the records before it`,
          affected: { wal: [{ seg: s, from: s.corruptAt }] },
          apply: (e) => void e.cuts.set(s.path, s.corruptAt!),
        })),
      },
      {
        summary: `drop ${cp.path}`,
        steps: [
          dropStep(cp.path, code, 'damaged checkpoint: without it the WAL segments replay from the first one', {
            wal: cp.segments.map((seg) => ({ seg })),
          }),
        ],
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
      summary: `${c.summary ? `${c.summary}, then ` : ''}rename ` +
        `checkpoint.${pad8(cp.number)} to checkpoint.${pad8(first - 1)} so that segment ${pad8(first)} follows it`,
      steps: [
        ...c.steps,
        renameStep(
          cp.cp.path,
          cpPath(first - 1),
          code,
          `checkpoint ${cp.number} must be followed by segment ${cp.number + 1}, which is missing; the checkpoint's content is unchanged`,
        ),
        // Older segments would now sit below the checkpoint with a gap before the renamed one.
        ...below.map((s) =>
          dropStep(s.seg.path, code, `segment ${pad8(s.number)} is already covered by the checkpoint (Prometheus ignores it)`, {
            wal: [{ seg: s.seg }],
          }),
        ),
      ],
    });
  }
  out.push({
    summary: `${c.summary ? `${c.summary}, then ` : ''}drop checkpoint.${pad8(cp.number)}`,
    steps: [
      ...c.steps,
      dropStep(
        cp.cp.path,
        code,
        `checkpoint ${cp.number} is not followed by segment ${cp.number + 1}; without it the segments replay from the first one`,
        { wal: cp.cp.segments.map((seg) => ({ seg })) },
      ),
    ],
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

/** meta.json rebuilt from the index and chunks (docs/tsdb-format.md §2): level 1, sources [self]. */
export function rebuiltMeta(b: BlockFacts): BlockMeta | undefined {
  const c = b.computed;
  if (!c) return undefined;
  const stats: NonNullable<BlockMeta['stats']> = { numSamples: c.numSamples, numSeries: c.numSeries, numChunks: c.numChunks };
  if (b.numTombstones) stats.numTombstones = b.numTombstones;
  return { ulid: b.dir, minTime: c.minTime, maxTime: c.maxTime, stats, compaction: { level: 1, sources: [b.dir] }, version: 1 };
}

/** One block's facts and model, with the drop step every candidate list can end with. */
interface BlockCase {
  bf: BlockFacts;
  bm: BlockModel;
  /** meta.json parses and has a known version. */
  metaOk: boolean;
  /** The code of an unusable meta.json. */
  metaCode: DiagnosticCode;
  /** The block that lists this one as a parent (compacted into it), if any. */
  replacedBy?: string;
  drop(fixes: DiagnosticCode, reason: string): Step;
}

function blockCase(bf: BlockFacts, bm: BlockModel, parentOf: Map<string, string>): BlockCase {
  const unreadable: Step['unreadable'] =
    !bm.series && bf.meta
      ? {
          samples: bf.meta.stats?.numSamples ?? 0,
          series: bf.meta.stats?.numSeries ?? 0,
          range: { from: bf.meta.minTime, to: bf.meta.maxTime },
        }
      : unreadableOf(bf);
  return {
    bf,
    bm,
    metaOk: bf.meta !== undefined && (bf.meta.version === 1 || bf.meta.version === 2),
    metaCode: bf.metaPresent ? 'meta-invalid' : 'meta-missing',
    replacedBy: parentOf.get(bf.dir) ?? (bf.meta ? parentOf.get(bf.meta.ulid) : undefined),
    drop: (fixes, reason) => ({
      kind: 'drop-block',
      path: `${bf.dir}/`,
      fixes,
      reason: unreadable ? `${reason} (its ${unreadable.samples} samples of ${unreadable.series} series, per meta.json, are lost)` : reason,
      affected: { blocks: [bm] },
      unreadable,
      apply: (e) => void e.dropBlocks.add(bf.dir),
    }),
  };
}

const only = (c: BlockCase, summary: string, step: Step): Group => ({ title: c.bf.dir, candidates: [{ summary, steps: [step] }] });

/** Samples meta.json counts that no readable chunk holds (refs into nothing, series entries with a bad CRC). */
function unreadableOf(bf: BlockFacts): Step['unreadable'] {
  if (bf.unreadableSamples <= 0) return undefined;
  const range = bf.unreadableRange ?? (bf.meta ? { from: bf.meta.minTime, to: bf.meta.maxTime } : undefined);
  return { samples: bf.unreadableSamples, series: bf.unreadableSeries ?? 0, range };
}

/**
 * meta.json marks the block deletable: Prometheus deletes it at startup. Dropping it is listed first
 * (a tie keeps Prometheus's own choice); un-marking it wins when it holds what nothing else does.
 */
function deletableBlock(c: BlockCase): Group | undefined {
  const m = c.bf.meta;
  if (!m?.compaction.deletable) return undefined;
  const { deletable: _deletable, ...compaction } = m.compaction;
  void _deletable;
  const unmarked: BlockMeta = { ...m, compaction };
  return {
    title: c.bf.dir,
    candidates: [
      {
        summary: 'drop the deletable block',
        steps: [c.drop('block-deletable', 'meta.json marks the block deletable; Prometheus deletes it at startup')],
      },
      {
        summary: 'un-mark the block deletable (meta.json rewritten without compaction.deletable)',
        steps: [
          {
            kind: 'rebuild-meta',
            path: `${c.bf.dir}/meta.json`,
            fixes: 'block-deletable',
            reason:
              'meta.json marks the block deletable (Prometheus would delete it at startup), but it holds samples that no other ' +
              'block, head chunk or WAL segment holds: compaction.deletable removed, everything else kept',
            affected: {},
            apply: (e) => void e.metas.set(c.bf.dir, unmarked),
          },
        ],
      },
    ],
  };
}

/** Another block lists this one as a parent: Prometheus deletes it at startup. */
function supersededBlock(c: BlockCase): Group | undefined {
  if (!c.replacedBy || c.replacedBy === c.bf.dir || !c.metaOk) return undefined;
  const reason = `already compacted into ${c.replacedBy} (one of its parents); Prometheus deletes it at startup`;
  return only(c, 'drop the superseded block', c.drop('block-superseded', reason));
}

/** Stats of what the block's readable chunks hold (blanked chunks count no samples). */
function pieceStats(bm: BlockModel, blanked: ReadonlySet<string>): NonNullable<BlockMeta['stats']> {
  let numSamples = 0;
  let numHistogramSamples = 0;
  let numChunks = 0;
  let numSeries = 0;
  for (const pieces of bm.series?.values() ?? []) {
    if (pieces.length === 0) continue;
    numSeries++;
    for (const p of pieces) {
      numChunks++;
      const n = p.chunkId && blanked.has(p.chunkId) ? 0 : p.samples;
      numSamples += n;
      if (p.histogram) numHistogramSamples += n;
    }
  }
  return { numSamples, numSeries, numChunks, numFloatSamples: numSamples - numHistogramSamples, numHistogramSamples };
}

/** Stats as meta.json keeps them: the float/histogram split only where the block had it (3.6+). */
export function metaStats(
  base: BlockMeta['stats'] | undefined,
  counted: NonNullable<BlockMeta['stats']>,
  numTombstones?: number,
): NonNullable<BlockMeta['stats']> {
  const out: NonNullable<BlockMeta['stats']> = {
    numSamples: counted.numSamples,
    numSeries: counted.numSeries,
    numChunks: counted.numChunks,
  };
  if (base?.numTombstones !== undefined || numTombstones) out.numTombstones = numTombstones ?? base?.numTombstones;
  if (base?.numFloatSamples !== undefined || base?.numHistogramSamples !== undefined) {
    out.numFloatSamples = counted.numFloatSamples;
    out.numHistogramSamples = counted.numHistogramSamples;
  }
  return out;
}

/**
 * The index written again (block/rewriteIndex.ts) from the series entries that read and their refs
 * to chunks that are there, chunk files cut after their last whole chunk, meta.json's stats rebuilt
 * from what is written; what only the dropped refs held is lost.
 */
function rewriteCandidate(c: BlockCase, fixes: DiagnosticCode, why: string): Candidate | undefined {
  const { bf, bm } = c;
  if (!bm.series) return undefined;
  const metaFix = metaFixOf(c);
  const base = metaFix?.meta ?? bf.meta ?? rebuiltMeta(bf);
  if (!base) return undefined;
  const blanked = blankChunkSteps(c, { reason: '', fixes });
  const blankedIds = new Set(bf.badChunks.map((b) => b.chunkId));
  const counted = pieceStats(bm, blankedIds);
  const computed = bf.computed;
  const meta: BlockMeta = {
    ...base,
    minTime: computed ? Math.min(base.minTime, computed.minTime) : base.minTime,
    maxTime: computed ? Math.max(base.maxTime, computed.maxTime) : base.maxTime,
    stats: metaStats(base.stats, counted, bf.numTombstones),
  };
  const dropped = [
    bf.unresolvedRefs ? `${bf.unresolvedRefs} chunk refs into nothing` : '',
    bf.badSeries ? `${bf.badSeries} series entries with a bad CRC` : '',
  ].filter(Boolean);
  const steps: Step[] = [
    {
      kind: 'rewrite-index',
      path: `${bf.dir}/index`,
      fixes,
      reason:
        `${why}: the index is written again from the ${counted.numSeries} series entries that read and their ${counted.numChunks} ` +
        `chunk refs (symbols, postings, label indices, TOC and every CRC recomputed)` +
        (dropped.length ? `, leaving out ${dropped.join(' and ')}` : ''),
      affected: {},
      unreadable: unreadableOf(bf),
      apply: (e) => void e.rewriteIndex.add(bf.dir),
    },
    ...blanked.steps,
    ...chunkTailSteps(c),
    ...tombstoneSteps(c),
    {
      kind: 'rebuild-meta',
      path: `${bf.dir}/meta.json`,
      fixes,
      reason:
        `meta.json stats rebuilt from what the rewritten index and chunks hold: ${meta.stats!.numSeries} series, ` +
        `${meta.stats!.numChunks} chunks, ${meta.stats!.numSamples} samples` +
        (metaFix?.reason ? `; ${metaFix.reason}` : ''),
      affected: {},
      apply: (e) => void e.metas.set(bf.dir, meta),
    },
  ];
  return { summary: 'rewrite the index from what reads (block writer)', steps };
}

/** The index cannot be read: rewrite it from the series that still read, else nothing in the block can be served. */
function unreadableIndexBlock(c: BlockCase): Group | undefined {
  if (!c.bm.indexFatal && c.bf.indexReadable) return undefined;
  const why = c.metaOk ? ': Prometheus refuses to start ("corrupted block")' : ' and meta.json is unusable';
  const code: DiagnosticCode = c.metaOk ? 'index-corrupt' : c.metaCode;
  const drop = c.drop(code, `the index cannot be read${why}; nothing in the block can be served`);
  const rewrite =
    c.bf.indexProblems.length > 0
      ? rewriteCandidate(c, code, `the index is damaged (${c.bf.indexProblems.slice(0, 3).join('; ')})${why}`)
      : undefined;
  if (!rewrite) return only(c, 'drop the block', drop);
  return { title: c.bf.dir, candidates: [rewrite, { summary: 'drop the block', steps: [drop] }] };
}

/** Index chunk refs that land on no chunk: queries touching them fail. Rewrite the index without them, or drop the block. */
function danglingRefsBlock(c: BlockCase): Group | undefined {
  if (c.bf.unresolvedRefs === 0 && c.bf.badSeries === 0) return undefined;
  const what = [
    c.bf.unresolvedRefs ? `${c.bf.unresolvedRefs} index chunk refs point at no chunk` : '',
    c.bf.badSeries ? `${c.bf.badSeries} series entries have a bad CRC` : '',
  ]
    .filter(Boolean)
    .join(' and ');
  const code: DiagnosticCode = c.bf.unresolvedRefs ? 'chunk-ref-out-of-range' : 'index-corrupt';
  const drop = c.drop(code, `${what}: queries touching them fail`);
  const rewrite = rewriteCandidate(c, code, `${what} (queries touching them fail)`);
  if (!rewrite) return only(c, 'drop the block', drop);
  return { title: c.bf.dir, candidates: [rewrite, { summary: 'drop the block', steps: [drop] }] };
}

interface MetaFix {
  meta?: BlockMeta;
  reason: string;
  fixes: DiagnosticCode;
}

/**
 * The meta.json a kept block needs: rebuilt when it is unusable (undefined when it cannot be),
 * rewritten when its ulid, time range or stats disagree with the directory and the index.
 */
function metaFixOf(c: BlockCase): MetaFix | undefined {
  const { bf } = c;
  if (!c.metaOk) {
    const meta = rebuiltMeta(bf);
    if (!meta) return undefined;
    const reason =
      `meta.json is ${bf.metaPresent ? `invalid (${bf.metaError ?? 'unreadable'})` : 'missing'}: rebuilt from the index and chunks ` +
      '(ulid from the directory name, minTime/maxTime from the chunk metas, ' +
        'maxTime = last sample + 1, stats counted, level 1, sources [self])';
    return { meta, reason, fixes: c.metaCode };
  }
  const m = bf.meta!;
  const computed = bf.computed;
  const fixed: string[] = [];
  let fixes: DiagnosticCode = c.metaCode;
  let next: BlockMeta = m;
  const ulidMismatch = m.ulid.toUpperCase() !== bf.dir.toUpperCase();
  if (ulidMismatch) {
    next = { ...next, ulid: bf.dir };
    fixed.push(`ulid ${m.ulid} → ${bf.dir} (the directory name)`);
    fixes = 'block-ulid-mismatch';
  }
  // meta.json disagreeing with the index (meta-inconsistent): Prometheus trusts meta.json.
  if (computed && (computed.minTime < m.minTime || computed.maxTime > m.maxTime || m.minTime >= m.maxTime)) {
    const minTime = m.minTime >= m.maxTime ? computed.minTime : Math.min(m.minTime, computed.minTime);
    const maxTime = m.minTime >= m.maxTime ? computed.maxTime : Math.max(m.maxTime, computed.maxTime);
    next = { ...next, minTime, maxTime };
    fixed.push(`time range [${m.minTime}, ${m.maxTime}) → [${minTime}, ${maxTime}) so that it covers every chunk`);
    if (!ulidMismatch) fixes = m.minTime >= m.maxTime ? 'meta-invalid' : 'meta-inconsistent';
  }
  const statsDiffer =
    computed &&
    ((m.stats?.numSeries !== undefined && m.stats.numSeries !== computed.numSeries) ||
      (m.stats?.numChunks !== undefined && m.stats.numChunks !== computed.numChunks));
  if (computed && statsDiffer) {
    next = {
      ...next,
      stats: { ...m.stats, numSeries: computed.numSeries, numChunks: computed.numChunks, numSamples: computed.numSamples },
    };
    fixed.push('stats counted from the index and chunks');
    if (!ulidMismatch && fixes === c.metaCode) fixes = 'meta-inconsistent';
  }
  return fixed.length
    ? { meta: next, reason: `meta.json rewritten (compaction history kept): ${fixed.join('; ')}`, fixes }
    : { reason: '', fixes };
}

/** Each damaged chunk replaced by an empty chunk of the same size; meta.json's numSamples lowered to match. */
function blankChunkSteps(c: BlockCase, metaFix: MetaFix): { steps: Step[]; metaFix: MetaFix } {
  const { bf, bm } = c;
  if (bf.badChunks.length === 0) return { steps: [], metaFix };
  const steps: Step[] = bf.badChunks.map((chunk) => ({
    kind: 'blank-chunk',
    path: chunk.path,
    offset: chunk.offset,
    fixes: 'chunk-crc-mismatch',
    reason:
      `chunk at offset ${chunk.offset} is damaged (${chunk.message}): replace it by an empty chunk of the same size, ` +
      'so the rest of the block stays readable',
    affected: { chunks: [{ block: bm, chunkIds: new Set([chunk.chunkId]) }] },
    apply: (e) => {
      const set = e.blanked.get(bf.dir) ?? new Set<string>();
      set.add(chunk.chunkId);
      e.blanked.set(bf.dir, set);
    },
  }));
  const blankedIds = new Set(bf.badChunks.map((chunk) => chunk.chunkId));
  const lostSamples = countHeld(rawHoldings({ chunks: [{ block: bm, chunkIds: blankedIds }] }, new Map()));
  const base = metaFix.meta ?? bf.meta!;
  const numSamples = Math.max(0, (base.stats?.numSamples ?? bf.computed?.numSamples ?? 0) - lostSamples);
  const meta = { ...base, stats: { ...base.stats, numSamples } };
  const lowered = metaFix.reason
    ? metaFix
    : { reason: `numSamples lowered by the ${lostSamples} samples of the blanked chunks`, fixes: 'chunk-crc-mismatch' as const };
  return { steps, metaFix: { ...lowered, meta } };
}

/** Unreadable bytes after the last chunk the index refers to: cut off. */
function chunkTailSteps(c: BlockCase): Step[] {
  const beyond = c.bf.unresolvedRefs > 0;
  return (c.bf.chunkTails ?? []).map((t) => ({
    kind: 'truncate-file',
    path: t.path,
    offset: t.offset,
    fixes: 'chunk-corrupt',
    reason: beyond
      ? `unreadable bytes from offset ${t.offset} (${t.message}): cut the file after its last whole chunk ` +
        '(the rewritten index leaves out the refs beyond)'
      : `unreadable bytes from offset ${t.offset} (${t.message}) after the last chunk the index refers to: cut them off`,
    affected: {},
    apply: (e) => void e.cuts.set(t.path, t.offset),
  }));
}

/** A damaged tombstones file: dropped (the block then has no deletions). */
function tombstoneSteps(c: BlockCase): Step[] {
  if (!c.bf.tombstonesBad) return [];
  const reason =
    'the tombstones file is damaged (Prometheus refuses to open the block); without it the block has no deletions, ' +
    'so samples deleted earlier reappear';
  return [dropStep(`${c.bf.dir}/tombstones`, 'tombstones-corrupt', reason, {})];
}

/** A block worth keeping: its meta.json, chunk and tombstone fixes as one candidate, dropping it as the other. */
function repairableBlock(c: BlockCase): Group | undefined {
  if (c.bf.indexProblems.length > 0) {
    const rewrite = rewriteCandidate(c, 'index-corrupt', `the index has problems (${c.bf.indexProblems.slice(0, 3).join('; ')})`);
    if (rewrite)
      return {
        title: c.bf.dir,
        candidates: [rewrite, { summary: 'drop the block', steps: [c.drop('index-corrupt', 'drop the whole block')] }],
      };
  }
  const metaFix = metaFixOf(c);
  if (!metaFix) return only(c, 'drop the block', c.drop(c.metaCode, 'meta.json is unusable and cannot be rebuilt'));
  const blanked = blankChunkSteps(c, metaFix);
  const keepSteps = [...blanked.steps, ...chunkTailSteps(c), ...tombstoneSteps(c)];
  const { meta, reason, fixes } = blanked.metaFix;
  if (meta)
    keepSteps.unshift({
      kind: 'rebuild-meta',
      path: `${c.bf.dir}/meta.json`,
      fixes,
      reason,
      affected: {},
      apply: (e) => void e.metas.set(c.bf.dir, meta),
    });
  if (keepSteps.length === 0) return undefined;
  const mainCode = keepSteps.find((s) => s.kind !== 'rebuild-meta')?.fixes ?? fixes;
  return {
    title: c.bf.dir,
    candidates: [
      { summary: keepSteps.map((s) => s.kind).join(' + '), steps: keepSteps },
      { summary: 'drop the block', steps: [c.drop(mainCode, 'drop the whole block')] },
    ],
  };
}

/** Per block, the first kind of problem that applies decides its candidates (a deletable block is only dropped, …). */
const BLOCK_CANDIDATES: ((c: BlockCase) => Group | undefined)[] = [
  deletableBlock,
  supersededBlock,
  unreadableIndexBlock,
  danglingRefsBlock,
  repairableBlock,
];

export function blockGroups(facts: RepairFacts): Group[] {
  const byDir = new Map(facts.model.blocks.map((b) => [b.dir, b]));
  const parentOf = new Map<string, string>();
  for (const b of facts.blocks) if (b.meta) for (const p of b.meta.compaction.parents ?? []) parentOf.set(p.ulid, b.dir);
  const groups: Group[] = [];
  for (const bf of facts.blocks) {
    const bm = byDir.get(bf.dir);
    if (!bm) continue;
    const c = blockCase(bf, bm, parentOf);
    for (const kind of BLOCK_CANDIDATES) {
      const g = kind(c);
      if (g) {
        groups.push(g);
        break;
      }
    }
  }
  return groups;
}

/** Overlapping or duplicate blocks (warnings): drop a block only when everything it holds is served by the rest. */
export function redundantBlockGroups(facts: RepairFacts, diagnostics: TsdbDiagnostic[]): Group[] {
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
              reason: `overlaps ${sorted
                .slice(1)
                .map((b) => b.dir)
                .join(', ')} and holds nothing they do not (Prometheus 2.39+ would merge them; older releases refuse to start)`,
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

/** The edits with the steps applied (a copy). */
export function applyAll(base: EditState, steps: Step[]): EditState {
  const e = cloneEdits(base);
  for (const s of steps) s.apply(e);
  return e;
}
