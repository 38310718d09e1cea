/**
 * Decision logic of the repair planner on synthetic holdings: the candidates it considers, what
 * each loses, and which one it picks (the least lossy one that lets Prometheus start).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type BlockModel,
  type DumpModel,
  type HeadFileModel,
  type HoldSet,
  type WalSegmentModel,
  countHeld,
  lossOf,
  servedBy,
  startupFailures,
} from '../../../server/src/repair/model';
import { emptyEdits, layoutOf } from '../../../server/src/repair/edits';
import type { BlockFacts, RepairFacts } from '../../../server/src/repair/facts';
import { inScope, planFromFacts } from '../../../server/src/repair/plan';
import { missingFirstReplayedSegment, replayedSegments } from '../../../server/src/analysis/walReplay';

const A = 'up{job="a"}';
const B = 'up{job="b"}';

function times(from: number, to: number, step: number): Float64Array {
  const out: number[] = [];
  for (let t = from; t <= to; t += step) out.push(t);
  return Float64Array.from(out);
}

/** A WAL segment with one samples record per series over [from, to]. */
function walSeg(number: number, from?: number, to?: number, opts: { series?: boolean; checkpoint?: number } = {}): WalSegmentModel {
  const records: WalSegmentModel['records'] = [];
  if (opts.series) records.push({ offset: 0, series: [{ ref: 1, key: A }, { ref: 2, key: B }] });
  if (from !== undefined && to !== undefined) {
    const ts = times(from, to, 10);
    records.push({ offset: 100, refs: new Float64Array(ts.length).fill(1), times: ts });
    records.push({ offset: 200, refs: new Float64Array(ts.length).fill(2), times: ts });
  }
  const dir = opts.checkpoint !== undefined ? `wal/checkpoint.${String(opts.checkpoint).padStart(8, '0')}` : 'wal';
  return {
    path: `${dir}/${String(opts.checkpoint !== undefined ? 0 : number).padStart(8, '0')}`,
    number: opts.checkpoint !== undefined ? 0 : number,
    sizeBytes: 32768,
    records,
  };
}

function headFile(number: number, from: number, to: number): HeadFileModel {
  return {
    path: `chunks_head/${String(number).padStart(6, '0')}`,
    number,
    headerOk: true,
    records: [1, 2].map((ref, i) => ({
      offset: 8 + i * 100,
      ref,
      minTime: from,
      maxTime: to,
      samples: times(from, to, 10).length,
      times: times(from, to, 10),
    })),
  };
}

function block(dir: string, minTime: number, maxTime: number, metaReadable = true): BlockModel {
  // Samples every 10 ms from minTime; maxTime is exclusive (last sample + 10 here).
  const n = (maxTime - minTime) / 10;
  return {
    dir,
    metaReadable,
    minTime,
    maxTime,
    hasHints: false,
    indexFatal: false,
    series: new Map([
      [A, [{ minTime, maxTime: maxTime - 10, samples: n, chunkId: `0:8` }]],
      [B, [{ minTime, maxTime: maxTime - 10, samples: n, chunkId: `0:200` }]],
    ]),
  };
}

function blockFacts(b: BlockModel, metaOk = true): BlockFacts {
  const f: BlockFacts = {
    dir: b.dir,
    metaPresent: metaOk,
    indexReadable: true,
    badChunks: [],
    unresolvedRefs: 0,
    indexProblems: [],
    badSeries: 0,
    chunkFiles: [],
    unreadableSamples: 0,
    tombstonesBad: false,
    hasTombstonesFile: true,
    computed: { minTime: b.minTime!, maxTime: b.maxTime!, numSamples: 200, numSeries: 2, numChunks: 2 },
  };
  if (metaOk) f.meta = { ulid: b.dir, minTime: b.minTime!, maxTime: b.maxTime!, compaction: { level: 1, sources: [b.dir] }, version: 1 };
  return f;
}

const ULID1 = '01M83YYJ7D8M4N71W2QBVBXFRN';
const ULID2 = '01M83YYJ6HHBN73KG1VVVM919P';

function facts(model: DumpModel, blocks: BlockFacts[] = model.blocks.map((b) => blockFacts(b))): RepairFacts {
  return { model, blocks, lockPaths: [], tmpRoots: [], unsafe: [] };
}

function baseModel(): DumpModel {
  // Block [0, 1000); head chunks 000003 [1000, 1990]; checkpoint 1 declares the series;
  // segments 2 [1000, 1990] and 3 [2000, 2990].
  return {
    blocks: [block(ULID1, 0, 1000)],
    headFiles: [headFile(3, 1000, 1990)],
    wal: [walSeg(2, 1000, 1990), walSeg(3, 2000, 2990)],
    checkpoints: [
      { path: 'wal/checkpoint.00000001', number: 1, segments: [walSeg(0, undefined, undefined, { series: true, checkpoint: 1 })] },
    ],
  };
}

test('healthy synthetic dump: nothing to repair, everything served', () => {
  const model = baseModel();
  const plan = planFromFacts('x', facts(model), []);
  assert.equal(plan.nothingToRepair, true);
  assert.equal(plan.actions.length, 0);
  // 100 per series in the block, 100 in the head range, 100 in segment 3.
  assert.equal(plan.totals!.samplesHeld, 600);
  assert.equal(plan.totals!.samplesServedAfter, 600);
  assert.deepEqual(startupFailures(layoutOf(model, emptyEdits())), []);
});

test('wal gap: renumbering the later segment keeps everything; deleting it loses what only it holds', () => {
  const model = baseModel();
  // Segment 3 goes missing, 4 follows; head chunks hold [1000, 2000] so 4's first sample survives a delete.
  model.wal = [walSeg(2, 1000, 1990), walSeg(4, 2000, 2990)];
  model.headFiles = [headFile(3, 1000, 2000)];
  const plan = planFromFacts('x', facts(model), []);
  assert.equal(plan.nothingToRepair, false);
  const rename = plan.actions.find((a) => a.kind === 'rename-file');
  assert.ok(rename, JSON.stringify(plan.actions, null, 1));
  assert.equal(rename.path, 'wal/00000004');
  assert.equal(rename.to, 'wal/00000003');
  assert.equal(rename.loss.samples, 0);
  assert.equal(plan.totals!.samplesLost, 0);
  const alt = rename.alternatives?.find((x) => /drop the WAL segments after the gap/.test(x.summary));
  assert.ok(alt, JSON.stringify(rename.alternatives));
  // 100 samples per series in segment 4; the first one (t=2000) is also in the head chunk.
  assert.equal(alt.samples, 2 * 99);
});

test('head gap: dropping the files after the gap loses nothing because the WAL holds them; renumbering would', () => {
  const model = baseModel();
  model.wal = [walSeg(2, 1000, 1990), walSeg(3, 2000, 2990), walSeg(4, 3000, 3990)];
  // 000003 [1000,1990], 000004 missing (its data, [2000, 2990], is in the WAL only), 000005 [3000, 3990].
  model.headFiles = [headFile(3, 1000, 1990), headFile(5, 3000, 3990)];
  const plan = planFromFacts('x', facts(model), []);
  const drops = plan.actions.filter((a) => a.kind === 'drop-file');
  assert.deepEqual(drops.map((a) => a.path), ['chunks_head/000005']);
  assert.equal(drops[0].loss.samples, 0);
  assert.equal(plan.totals!.samplesLost, 0);
  const renumber = drops[0].alternatives!.find((x) => /renumber/.test(x.summary))!;
  // WAL samples at or before the last m-mapped chunk's maxTime are skipped on replay: [2000, 2990] is lost.
  assert.equal(renumber.samples, 200);
  assert.equal(renumber.startable, true);
});

test('missing meta.json: rebuilt from the index rather than dropping the block', () => {
  const model = baseModel();
  const b2 = block(ULID2, 1000, 1500, false);
  model.blocks.push(b2);
  model.headFiles = [headFile(3, 1500, 1990)];
  model.wal = [walSeg(2, 1500, 1990), walSeg(3, 2000, 2990)];
  const bf = [blockFacts(model.blocks[0]), blockFacts(b2, false)];
  const plan = planFromFacts('x', facts(model, bf), []);
  const meta = plan.actions.find((a) => a.kind === 'rebuild-meta');
  assert.ok(meta);
  assert.equal(meta.fixes, 'meta-missing');
  const written = plan.edits.metas.get(ULID2)!;
  assert.equal(written.ulid, ULID2);
  assert.equal(written.minTime, 1000);
  assert.equal(written.maxTime, 1500);
  assert.deepEqual(written.compaction, { level: 1, sources: [ULID2] });
  assert.equal(plan.totals!.samplesLost, 0);
  assert.ok(meta.alternatives!.some((x) => x.summary === 'drop the block' && x.samples === 100));
});

test('WAL damaged mid-segment: cutting it and keeping the later segments beats what Prometheus would do', () => {
  const model = baseModel();
  model.wal = [walSeg(2, 1000, 1990), walSeg(3, 2000, 2990), walSeg(4, 3000, 3990)];
  model.wal[1].corruptAt = 150; // the second samples record (series b, [2000, 2990]) is damaged
  model.wal[1].records = model.wal[1].records.filter((r) => r.offset < 150);
  const plan = planFromFacts('x', facts(model), []);
  const cut = plan.actions.find((a) => a.kind === 'truncate-file');
  assert.ok(cut);
  assert.equal(cut.offset, 150);
  assert.ok(!plan.actions.some((a) => a.path === 'wal/00000004'), 'segment 4 is kept');
  const prom = cut.alternatives!.find((x) => /what Prometheus's own repair does/.test(x.summary))!;
  assert.equal(prom.samples, 200);
});

test('checkpoint without segment N+1: the checkpoint is renamed, nothing lost', () => {
  const model = baseModel();
  model.wal = [walSeg(3, 2000, 2990), walSeg(4, 3000, 3990)];
  model.headFiles = [headFile(3, 1000, 1990)];
  const plan = planFromFacts('x', facts(model), []);
  const rename = plan.actions.find((a) => a.kind === 'rename-file')!;
  assert.equal(rename.path, 'wal/checkpoint.00000001');
  assert.equal(rename.to, 'wal/checkpoint.00000002');
  assert.equal(plan.totals!.samplesLost, 0);
  // Dropping the checkpoint loses the series declarations and with them every WAL and head sample.
  assert.ok(rename.alternatives!.some((x) => /drop checkpoint/.test(x.summary) && x.samples > 0));
});

test('damaged block chunk: blank that chunk only, the rest of the block stays', () => {
  const model = baseModel();
  const bf = blockFacts(model.blocks[0]);
  bf.badChunks = [
    { path: `${ULID1}/chunks/000001`, offset: 8, encodingOffset: 9, dataLength: 10, chunkId: '0:8', message: 'checksum mismatch' },
  ];
  const plan = planFromFacts('x', facts(model, [bf]), []);
  const blank = plan.actions.find((a) => a.kind === 'blank-chunk')!;
  assert.equal(blank.loss.samples, 100);
  assert.equal(blank.lostSeries![0].series, A);
  assert.deepEqual(blank.loss.ranges, [{ from: 0, to: 991 }]);
  assert.equal(plan.edits.metas.get(ULID1)!.stats!.numSamples, 100);
  assert.ok(blank.alternatives!.some((x) => x.summary === 'drop the block' && x.samples === 100));
});

test('loss estimate: a partly covered interval loses its uncovered share minus exact points still held', () => {
  const have: HoldSet = new Map([[A, { intervals: [{ minTime: 0, maxTime: 999, samples: 100 }], points: [] }]]);
  const keep: HoldSet = new Map([[A, { intervals: [{ minTime: 0, maxTime: 499, samples: 50 }], points: [500, 510, 520] }]]);
  const loss = lossOf(have, keep);
  assert.equal(loss.samples, 47);
  assert.deepEqual(loss.ranges, [{ from: 500, to: 1000 }]);
  assert.equal(countHeld(have), 100);
});

test('served model: head chunks below the newest block are ignored, WAL samples at or before m-mapped chunks skipped', () => {
  const model = baseModel();
  model.headFiles = [headFile(3, 500, 1500)];
  const served = servedBy(layoutOf(model, emptyEdits()));
  // Per series: block [0, 990] 100 + head chunk (990, 1500] 51 (loaded: maxTime ≥ 1000) + WAL (1500, 2990] 149.
  assert.equal(countHeld(served), 2 * (100 + 51 + 149));
});

test('startup failures carry code, file, segment, checkpoint and block; the planner scopes them by those fields', () => {
  const model = baseModel();
  // checkpoint.1 is followed by segment 3 (2 is missing), and the block's index is fatally damaged.
  model.wal = [walSeg(3, 2000, 2990)];
  model.blocks[0].indexFatal = true;
  const failures = startupFailures(layoutOf(model, emptyEdits()));
  assert.deepEqual(
    failures.map(({ message: _m, ...fields }) => fields),
    [
      { code: 'wal-checkpoint-stale', checkpoint: 1, segment: 2 },
      { code: 'index-corrupt', block: ULID1 },
    ],
  );
  // Rewording a message changes nothing a decision reads.
  const reworded = failures.map((f) => ({ ...f, message: 'something else entirely' }));
  assert.deepEqual(reworded.map((f) => inScope(f, 'wal')), [true, false]);
  assert.deepEqual(reworded.map((f) => inScope(f, 'block', ULID1)), [false, true]);
  assert.deepEqual(reworded.map((f) => inScope(f, 'block', ULID2)), [false, false]);
  assert.deepEqual(reworded.map((f) => inScope(f, 'head')), [false, false]);
});

test('one stale-checkpoint rule: the analysis and the repair model read the same segments as missing', () => {
  // Segments below the checkpoint do not matter: replay opens checkpoint.N + 1 whenever a later one exists.
  const cases: { segments: number[]; checkpoint?: number; missing?: number }[] = [
    { segments: [2, 3], checkpoint: 1 },
    { segments: [3], checkpoint: 1, missing: 2 },
    { segments: [0, 1, 3], checkpoint: 1, missing: 2 },
    { segments: [0, 1], checkpoint: 1 },
    { segments: [5, 6] },
  ];
  for (const c of cases) {
    assert.equal(missingFirstReplayedSegment(c.segments, c.checkpoint), c.missing, JSON.stringify(c));
    const model = baseModel();
    model.wal = c.segments.map((n) => walSeg(n));
    if (c.checkpoint === undefined) model.checkpoints = [];
    const stale = startupFailures(layoutOf(model, emptyEdits())).filter((f) => f.code === 'wal-checkpoint-stale');
    assert.deepEqual(stale.map((f) => f.segment), c.missing === undefined ? [] : [c.missing], JSON.stringify(c));
  }
  assert.deepEqual(replayedSegments([{ number: 3 }, { number: 1 }, { number: 2 }], 1), [{ number: 2 }, { number: 3 }]);
});
