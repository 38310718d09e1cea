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
import type { RepairAction, RepairPlan, TsdbDiagnostic } from '../protocol';
import {
  applyAll,
  blockGroups,
  checkpointGroup,
  dropStep,
  headGroup,
  redundantBlockGroups,
  walGroup,
  type Candidate,
  type Group,
  type Step,
} from './candidates';
import { emptyEdits, layoutOf, type EditState } from './edits';
import type { RepairFacts } from './facts';
import {
  type HoldSet,
  type Loss,
  allHoldings,
  allSeriesRefs,
  countHeld,
  histogramSeries,
  onlySeries,
  lossOf,
  newestBlockEndOf,
  rawHoldings,
  servedBy,
  startupFailures,
  type StartupFailure,
  unionHolds,
} from './model';


export interface PlannedRepair extends RepairPlan {
  edits: EditState;
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
  const failuresWith = (e: EditState, scope: FailureScope, dir?: string): StartupFailure[] =>
    startupFailures(layoutOf(model, e)).filter((f) => inScope(f, scope, dir));

  let edits = emptyEdits();
  const chosen: { steps: Step[]; alternatives?: RepairAction['alternatives'] }[] = [];

  // Unconditional cleanups: nothing in them is TSDB data Prometheus would load.
  const cleanup: Step[] = [
    ...facts.lockPaths.map((p) =>
      dropStep(p, 'lock-file-present', 'stale lock file: a restored Prometheus must not find it', {}, 'drop-entry'),
    ),
    ...facts.tmpRoots.map((p) =>
      dropStep(p, 'leftover-tmp', 'leftover of interrupted work (Prometheus deletes it at startup)', {}, 'drop-entry'),
    ),
    ...facts.unsafe.map((u) => dropStep(u.path, 'tar-unsafe-path', `${u.message}`, {}, 'drop-entry')),
  ];
  if (facts.truncated)
    cleanup.push(
      dropStep(facts.truncated.path, 'dump-truncated', `${facts.truncated.message}; the entry cut short is left out`, {}, 'drop-entry'),
    );
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

  for (const g of blockGroups(facts)) decide(g, 'block', g.title);
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
      const alt = (r: Row, summary: string) => ({
        summary,
        samples: r.lost - b.lost,
        series: lossOf(b.served, r.served).series,
        startable: r.startable,
      });
      if (hg)
        chosen.push({
          steps: heads[b.h].steps,
          alternatives: table.filter((r) => r.w === b.w && r.h !== b.h).map((r) => alt(r, heads[r.h].summary)),
        });
      if (wg)
        chosen.push({
          steps: wals[b.w].steps,
          alternatives: table.filter((r) => r.h === b.h && r.w !== b.w).map((r) => alt(r, wals[r.w].summary)),
        });
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
      const a: RepairAction = {
        kind: s.kind,
        path: s.path,
        fixes: s.fixes,
        reason: s.reason,
        loss: { samples: loss.samples, series: loss.series, ranges: loss.ranges },
      };
      if (s.to !== undefined) a.to = s.to;
      if (s.offset !== undefined) a.offset = s.offset;
      if (loss.perSeries.length) a.lostSeries = loss.perSeries.slice(0, MAX_LOST_SERIES);
      if (i === main && c.alternatives?.length) a.alternatives = c.alternatives;
      actions.push(a);
    });
  }
  const held = countHeld(data) + unreadableHeld;
  const lost = lossOf(data, served).samples + unreadableHeld;
  const histSeries = histogramSeries(model);
  const fixed = new Set(actions.map((a) => a.fixes));
  const unfixable = diagnostics.filter((d) => d.severity === 'error' && !fixed.has(d.code) && !fixedIndirectly(d, actions));
  return {
    source,
    actions,
    unfixable,
    nothingToRepair: actions.length === 0,
    totals: {
      samplesHeld: held,
      samplesServedAfter: held - lost,
      samplesLost: lost,
      notServedAnyway: Math.max(0, lost - actionLoss),
      ...(histSeries.size ? { histogramSamplesServedAfter: countHeld(onlySeries(served, histSeries)) } : {}),
    },
    edits,
  };
}

type FailureScope = 'head' | 'wal' | 'block' | 'checkpoint';

/**
 * Whether a startup failure concerns the part a decision is about, from its fields: a block's own
 * failures; the head chunk files'; a damaged checkpoint; the WAL's (its numbering, the segment after
 * the checkpoint, and a damaged checkpoint, which replay reads first).
 */
export function inScope(f: StartupFailure, scope: FailureScope, dir?: string): boolean {
  const checkpointDamaged = f.code === 'wal-record-corrupt' && f.checkpoint !== undefined;
  switch (scope) {
    case 'block':
      return dir !== undefined && f.block === dir;
    case 'head':
      return f.code === 'head-chunks-out-of-sequence' || f.code === 'head-chunk-corrupt';
    case 'checkpoint':
      return checkpointDamaged;
    case 'wal':
      return f.code === 'wal-segments-not-sequential' || f.code === 'wal-checkpoint-stale' || checkpointDamaged;
  }
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
  return scored
    .filter((s) => s !== best)
    .map((s) => ({
      summary: s.cand.summary,
      samples: s.lost - best.lost,
      series: lossOf(best.served, s.served).series,
      startable: s.startable,
    }));
}
