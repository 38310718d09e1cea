/**
 * What a dump takes from a pod's data dir (chooseEntries) and the preview the worker's dump dry
 * run returns (dumpPreview): the one place that decides it, which Dump from Pod's confirmation shows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseEntries, dumpPreview } from '../../../server/src/kube/dump';
import { parseListing } from '../../../server/src/kube/summary';

const A = '01HAAAAAAAAAAAAAAAAAAAAAAA';
const B = '01HBBBBBBBBBBBBBBBBBBBBBBB';
const C = '01HCCCCCCCCCCCCCCCCCCCCCCC';
const H = 3_600_000;
const meta = (ulid: string, minTime: number, maxTime: number) => [
  `@meta ${ulid}/meta.json`,
  JSON.stringify({ ulid, minTime, maxTime, compaction: { level: 1 } }),
];
const listing = () =>
  parseListing(
    '/prometheus',
    [
      '@tools',
      'tar',
      '@files',
      `1000 ./${A}/chunks/000001`,
      `10 ./${A}/meta.json`,
      `2000 ./${B}/chunks/000001`,
      `10 ./${B}/meta.json`,
      `300 ./${C}/index`,
      '500 ./chunks_head/000001',
      '700 ./wal/00000003',
      '5 ./queries.active',
      ...meta(A, 0, 2 * H),
      ...meta(B, 2 * H, 4 * H),
      '@end',
    ].join('\n'),
  );

test('a range takes the blocks overlapping [from, to) whole, the head always, no block of unknown range', () => {
  const chosen = chooseEntries(listing(), 3 * H, 5 * H);
  assert.deepEqual(chosen.blocks.map((b) => b.dir), [B]);
  assert.deepEqual(chosen.skippedBlocks, [A, C]);
  assert.deepEqual(chosen.paths, ['chunks_head', 'wal', B]);
  assert.equal(chosen.estimatedBytes, 2010 + 500 + 700);
  assert.deepEqual(chosen.effectiveRange, { minTime: 2 * H, maxTime: 4 * H });
  assert.ok(chosen.notes.some((n) => n.includes(C)), 'the unreadable block is named');
});

test('[from, to) is half-open: a block ending at from is left out, one starting at to too', () => {
  assert.deepEqual(chooseEntries(listing(), 2 * H, 4 * H).blocks.map((b) => b.dir), [B]);
  assert.deepEqual(chooseEntries(listing(), 2 * H - 1, 2 * H).blocks.map((b) => b.dir), [A]);
});

test('no range takes everything, unreadable blocks included; an empty range is refused', () => {
  const all = chooseEntries(listing(), undefined, undefined);
  assert.deepEqual(all.paths, ['chunks_head', 'wal', A, B, C]);
  assert.deepEqual(all.skippedBlocks, []);
  assert.throws(() => chooseEntries(listing(), 5 * H, 5 * H), /empty time range/);
});

test('the dump preview: included blocks with sizes, the effective range extended by the head', () => {
  const l = listing();
  const chosen = chooseEntries(l, 3 * H, undefined);
  const plan = {
    pod: { conn: { context: 'prod' }, namespace: 'monitoring', name: 'prometheus-0', container: 'prometheus' },
    dataDir: '/prometheus',
    status: { adminApi: true, version: '2.42.0' },
    listing: l,
    from: 3 * H,
    to: undefined,
    useTar: true,
    ...chosen,
  };
  const preview = dumpPreview(plan as unknown as Parameters<typeof dumpPreview>[0], { from: 4 * H, to: 5 * H });
  assert.deepEqual(preview.blocks, [{ dir: B, ulid: B, minTime: 2 * H, maxTime: 4 * H, sizeBytes: 2010 }]);
  assert.equal(preview.totalBlocks, 2, 'blocks with a known range');
  assert.deepEqual(preview.effectiveRange, { from: 2 * H, to: 5 * H });
  assert.equal(preview.estimatedBytes, 2010 + 500 + 700);
  assert.equal(preview.adminApi, true);
  assert.deepEqual(preview.pod, { context: 'prod', namespace: 'monitoring', name: 'prometheus-0', container: 'prometheus' });
  const noTar = dumpPreview({ ...plan, useTar: false } as unknown as Parameters<typeof dumpPreview>[0]);
  assert.deepEqual(noTar.effectiveRange, { from: 2 * H, to: 4 * H }, 'without the head range, the blocks only');
  assert.ok(noTar.notes.some((n) => /no tar/.test(n)));
});
