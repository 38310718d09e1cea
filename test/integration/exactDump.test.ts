/**
 * `tsdbdump dump <local source> --exact`: the output of the CLI on the real healthy dump holds
 * exactly the window's samples (real Prometheus 2.42 and 3.x on the extracted output serve what
 * Prometheus serves from the source data dir, head included, over the window, nothing outside),
 * keeps inner blocks byte for byte, cuts the edge blocks and turns the head into blocks.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dataDir, dumpPath, ensureFixtures } from '../helpers/fixtures';
import { prometheusBuilds, servedRange, startPrometheus, type PrometheusBuild } from '../helpers/prometheus';
import { cliPath, ensureCli } from './cliHelpers';
import type { ExactDumpResult } from '../../server/src/block/exactDump';

const A = 1735862400000;
const H = 3600_000;
const FROM = A + 17 * H + 12;
const TO = A + 29 * H + 12;
let work: string;
let builds: PrometheusBuild[];

before(() => {
  ensureFixtures();
  ensureCli();
  builds = prometheusBuilds();
  work = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-exact-'));
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function exact(source: string, out: string): ExactDumpResult {
  const r = spawnSync(
    process.execPath,
    [cliPath, 'dump', source, '--exact', '--from', String(FROM), '--to', String(TO), '-o', out, '--json'],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as ExactDumpResult;
}

async function served(b: PrometheusBuild, dir: string, toMs: number, rangeMs: number) {
  const prom = await startPrometheus(dir, b.prometheus);
  try {
    return await servedRange(prom.port, toMs, rangeMs);
  } finally {
    await prom.stop();
  }
}

describe('dump --exact of a local source', () => {
  test('the healthy dump cut to [A+17h, A+29h): inner blocks kept, edge blocks and the head cut, exactly the window served', async () => {
    const out = path.join(work, 'exact.tar.gz');
    const r = exact(dumpPath('healthy'), out);
    assert.ok(existsSync(out) && !existsSync(`${out}.partial`));
    assert.deepEqual(
      r.blocks.map((b) => [b.action, !!b.fromHead]),
      [
        ['cut', false],
        ['kept', false],
        ['kept', false],
        ['kept', false],
        ['cut', true],
        ['left-out', true],
      ],
    );
    assert.equal(r.head?.samplesWritten, 36000);
    assert.deepEqual(r.droppedEdgeChunks, []);
    const extracted = path.join(work, 'extracted');
    mkdirSync(extracted);
    execFileSync('tar', ['xzf', out, '-C', extracted]);
    assert.deepEqual(readdirSync(extracted).sort(), r.blocks.filter((b) => b.action !== 'left-out').map((b) => b.cutUlid ?? b.ulid).sort());
    // Kept blocks are the source's files.
    for (const b of r.blocks.filter((x) => x.action === 'kept')) {
      const src = path.join(dataDir('healthy'), b.ulid);
      for (const f of ['index', 'meta.json', 'tombstones', 'chunks/000001']) {
        assert.ok(readFileSync(path.join(extracted, b.ulid, f)).equals(readFileSync(path.join(src, f))), `${b.ulid}/${f}`);
      }
    }
    // What Prometheus 2.42 serves from the source data dir (blocks and head) over the window.
    const source = path.join(work, 'source');
    cpSync(dataDir('healthy'), source, { recursive: true });
    const expected = await served(builds[0], source, TO - 1, TO - FROM - 1);
    const n = [...expected.values()].reduce((k, v) => k + v.length, 0);
    assert.equal(r.samples, n);
    assert.equal(n, 12 * 12000);
    for (const b of builds) {
      const run = path.join(work, `run-${b.name}`);
      cpSync(extracted, run, { recursive: true });
      // The whole span of the source blocks: nothing outside the window may be served.
      assert.deepEqual(await served(b, run, A + 31 * H, 31 * H + 1), expected, b.name);
    }
    // promtool accepts every block of the output.
    for (const b of builds) {
      for (const blk of r.blocks.filter((x) => x.action !== 'left-out')) {
        const a = spawnSync(b.promtool, ['tsdb', 'analyze', extracted, blk.cutUlid ?? blk.ulid], { encoding: 'utf8' });
        assert.equal(a.status, 0, `${b.name}: ${a.stderr}`);
      }
    }
  });

  test('a data dir gives the same blocks; refusals are usage errors', () => {
    const out = path.join(work, 'exact-dir.tar.gz');
    const r = exact(dataDir('healthy'), out);
    assert.deepEqual(
      r.blocks.map((b) => [b.action, b.samples]),
      exact(dumpPath('healthy'), path.join(work, 'again.tar.gz')).blocks.map((b) => [b.action, b.samples]),
    );
    const bad = spawnSync(
      process.execPath,
      [cliPath, 'dump', dumpPath('healthy'), '--exact', '--from', String(TO), '--to', String(FROM), '-o', path.join(work, 'x.tar.gz')],
      { encoding: 'utf8' },
    );
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /from must be below/);
    assert.ok(!existsSync(path.join(work, 'x.tar.gz')) && !existsSync(path.join(work, 'x.tar.gz.partial')));
    const noOut = spawnSync(
      process.execPath,
      [cliPath, 'dump', dumpPath('healthy'), '--exact', '--from', String(FROM), '--to', String(TO)],
      { encoding: 'utf8' },
    );
    assert.equal(noOut.status, 2);
  });
});
