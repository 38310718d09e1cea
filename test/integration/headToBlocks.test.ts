/**
 * Head to blocks on the real healthy data dir: its WAL (checkpoint 1 + segments 2–6) becomes
 * blocks; real Prometheus 2.42 and 3.x started on the blocks alone (no WAL, no head chunks) serve
 * exactly what Prometheus 2.42 serves from the original data dir with its head.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dataDir, ensureFixtures, facts } from '../helpers/fixtures';
import { prometheusBuilds, servedRange, startPrometheus, type PrometheusBuild } from '../helpers/prometheus';
import { headToBlocks } from '../../server/src/block/headToBlocks';
import { isUlid } from '../../server/src/tsdb/blockDir';

const A = 1735862400000;
const H = 3600_000;
let work: string;
let builds: PrometheusBuild[];
before(() => {
  ensureFixtures();
  builds = prometheusBuilds();
  work = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-head-'));
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

async function served(b: PrometheusBuild, dir: string) {
  const run = path.join(work, `run-${path.basename(dir)}-${b.name}`);
  cpSync(dir, run, { recursive: true });
  const prom = await startPrometheus(run, b.prometheus);
  try {
    return await servedRange(prom.port, A + 31 * H, 31 * H + 1);
  } finally {
    await prom.stop();
  }
}

describe('headToBlocks', () => {
  test('the healthy head as blocks: Prometheus serves every sample of the original, head included', async () => {
    const out = path.join(work, 'converted');
    cpSync(dataDir('healthy'), out, { recursive: true, filter: (src) => !/\/(wal|chunks_head)(\/|$)/.test(src) });
    assert.deepEqual(readdirSync(out).filter((n) => !isUlid(n)), []);
    const r = headToBlocks(dataDir('healthy'), { parentDir: out });
    const head = (facts('healthy') as unknown as { head: { samples: number } }).head;
    assert.equal(r.samplesWritten, head.samples);
    assert.equal(r.samplesWritten, 36000);
    assert.equal(r.series, 50);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.left, { belowBlocks: 0, tombstoned: 0, unknownSeries: 0, duplicates: 0, histograms: 0 });
    assert.equal(r.blocks.length, 2, 'A+28h..A+30h and A+30h..A+31h');
    const expected = await served(builds[0], dataDir('healthy'));
    assert.equal([...expected.values()].reduce((n, v) => n + v.length, 0), 372000);
    for (const b of builds) assert.deepEqual(await served(b, out), expected, b.name);
  });

  test('wal-gap: the records after the missing segment are still converted; the gap is reported', () => {
    const out = mkdtempSync(path.join(work, 'gap-'));
    const r = headToBlocks(dataDir('wal-gap'), { parentDir: out });
    assert.match(r.problems.join('\n'), /segments are not sequential: 00000004 then 00000006/);
    const removed = (facts('wal-gap').damage as { removedSamples: { samples: number } }).removedSamples.samples;
    assert.equal(r.samplesWritten, 36000 - removed);
  });
});
