/** What the repair collector gathers from dumps written by real Prometheus. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectFacts } from '../../../server/src/repair/collect';
import { allHoldings, countHeld } from '../../../server/src/repair/model';
import { dumpPath, facts } from '../../helpers/fixtures';

test('head-gap: head chunk records decoded to exact sample times, WAL series and samples with offsets, blocks from the index', async () => {
  const { facts: f, entries } = await collectFacts(dumpPath('head-gap'));
  assert.ok(entries.some((e) => e.path === 'chunks_head/000003'));
  assert.deepEqual(f.model.headFiles.map((h) => h.number), [3, 5, 6]);
  for (const h of f.model.headFiles) {
    assert.equal(h.headerOk, true);
    assert.equal(h.corruptAt, undefined);
    for (const r of h.records) {
      assert.ok(r.times, `record at ${r.offset} of ${h.path} decoded`);
      assert.equal(r.times.length, r.samples);
    }
  }
  assert.deepEqual(f.model.wal.map((s) => s.number).sort((a, b) => a - b), [2, 3, 4, 5, 6]);
  const walSamples = f.model.wal.reduce((n, s) => n + s.records.reduce((m, r) => m + (r.times?.length ?? 0), 0), 0);
  assert.equal(walSamples, 36000);
  assert.equal(f.model.checkpoints.length, 1);
  assert.equal(f.model.checkpoints[0].segments[0].records.reduce((n, r) => n + (r.series?.length ?? 0), 0), 50);
  const want = facts('head-gap').blocks;
  assert.equal(f.blocks.length, want.length);
  for (const b of f.blocks) {
    const w = want.find((x) => x.dir === b.dir)!;
    assert.equal(b.computed!.numSamples, w.numSamples);
    assert.equal(b.computed!.numChunks, w.numChunks);
    assert.equal(b.computed!.numSeries, w.numSeries);
    assert.equal(b.computed!.minTime, w.minTime);
    assert.ok(b.computed!.maxTime <= w.maxTime!);
    assert.deepEqual(b.badChunks, []);
  }
  // Every sample of [A, A+31h) exactly once: 336000 in blocks, the rest in head chunks and the WAL.
  assert.equal(countHeld(allHoldings(f.model)), 372000);
});

test('meta-bad: blocks without a readable meta.json still get their index ' +
  'holdings and computed stats (maxTime = last sample + 1)', async () => {
  const { facts: f } = await collectFacts(dumpPath('meta-bad'));
  const dmg = facts('meta-bad').damage as { invalid: { block: string }; missing: { block: string } };
  const invalid = f.blocks.find((b) => b.dir === dmg.invalid.block)!;
  const missing = f.blocks.find((b) => b.dir === dmg.missing.block)!;
  assert.equal(invalid.metaPresent, true);
  assert.equal(invalid.meta, undefined);
  assert.match(invalid.metaError!, /unexpected end of JSON input/);
  assert.equal(missing.metaPresent, false);
  // EXPECTED.md: <L2> [1735927200001, 1735948785011) 72000 samples, <L1b> [1735948800000, 1735955985011) 24000.
  assert.deepEqual(invalid.computed, { minTime: 1735927200001, maxTime: 1735948785011, numSamples: 72000, numSeries: 50, numChunks: 600 });
  assert.deepEqual(missing.computed, { minTime: 1735948800000, maxTime: 1735955985011, numSamples: 24000, numSeries: 50, numChunks: 200 });
});
