/**
 * Repair on data written by real Prometheus 3.16: the 3.x scenarios (head-gap, wal-gap, chunk-crc,
 * meta-bad) and our own damage of the `native` scenario (native histograms, out-of-order samples
 * in wbl/ and OOO head chunks, a zstd WAL): each is repaired with the CLI, real Prometheus 3.16 is
 * started on the output and must serve exactly what the report says is kept, floats and histogram
 * samples counted apart through the query API.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, writeFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dataDir3, dumpPath3, ensureFixtures3, facts3, observed3, prometheus3Bin, repoRoot } from '../helpers/fixtures';
import { flipByte } from '../helpers/damage';
import { startPrometheus, type StartOptions } from '../helpers/prometheus';
import type { RepairResult } from '../../server/src/protocol';
import { openBlock } from '../../server/src/block/readBlock';
import { isHistogramEncoding } from '../../server/src/tsdb/chunkenc';

const V = '3.16.0';
const A = 1735862400000;
const H = 3600_000;
const cli = path.join(repoRoot, 'dist/cli.js');
/** The native scenario's storage settings (make-tsdb.sh native_env): OOO window, zstd WAL, 3.11+ features. */
const NATIVE: StartOptions = {
  config: 'storage:\n  tsdb:\n    out_of_order_time_window: 6h\n',
  flags: ['--storage.tsdb.wal-compression-type=zstd', '--enable-feature=st-storage,fast-startup'],
};
let work: string;
let prometheus: string;

before(() => {
  ensureFixtures3(V);
  prometheus = path.join(prometheus3Bin(V), 'prometheus');
  work = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-repair3-'));
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Floats and histogram samples Prometheus serves over [A - 100h, A + 40h] (as make-tsdb.sh's observe). */
async function served(port: number): Promise<{ floats: number; histograms: number }> {
  const q = encodeURIComponent(`{__name__=~".+"}[${140 * 3600 + 1}s]`);
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${q}&time=${(A + 40 * H) / 1000}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: { values?: unknown[]; histograms?: unknown[] }[] } };
  assert.equal(body.status, 'success', `query failed: ${body.error}`);
  let floats = 0;
  let histograms = 0;
  for (const r of body.data!.result) {
    floats += r.values?.length ?? 0;
    histograms += r.histograms?.length ?? 0;
  }
  return { floats, histograms };
}

async function servedOn(data: string, opts: StartOptions): Promise<{ floats: number; histograms: number; log: string }> {
  const prom = await startPrometheus(data, prometheus, opts);
  try {
    return { ...(await served(prom.port)), log: prom.log() };
  } finally {
    await prom.stop();
  }
}

/** Repairs with the CLI, starts 3.16 on the output, and compares what it serves with the report. */
async function repairAndServe(name: string, source: string, opts: StartOptions = {}) {
  const out = path.join(work, `${name}.repaired.tar.gz`);
  const r = spawnSync(process.execPath, [cli, 'repair', source, '-o', out, '--json'], { encoding: 'utf8', timeout: 240_000 });
  assert.equal(r.status, 0, `repair exit ${r.status}: ${r.stderr}\n${r.stdout.slice(0, 4000)}`);
  const result = JSON.parse(r.stdout) as RepairResult;
  assert.equal(result.nothingToRepair, false);
  assert.deepEqual(result.after!.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code} ${d.path}`), []);
  const t = result.totals!;
  assert.equal(result.actions.reduce((n, a) => n + a.loss.samples, 0) + t.notServedAnyway, t.samplesLost);
  const data = mkdtempSync(path.join(work, `data-${name}-`));
  execFileSync('tar', ['xzf', out, '-C', data]);
  const s = await servedOn(data, opts);
  assert.doesNotMatch(s.log, /level=ERROR/, s.log);
  assert.equal(s.floats + s.histograms, t.samplesServedAfter, `3.16 serves ${JSON.stringify(s)}, the report says ${JSON.stringify(t)}\n${s.log}`);
  assert.equal(s.histograms, t.histogramSamplesServedAfter ?? 0, `histogram samples: 3.16 serves ${s.histograms}, report ${JSON.stringify(t)}`);
  return { result, served: s };
}

function nativeCopy(name: string): string {
  const dir = path.join(work, `src-${name}`);
  cpSync(dataDir3(V, 'native'), dir, { recursive: true });
  return dir;
}

const undamaged = () => observed3(V, 'native');

describe('repair on the 3.16 scenarios (floats)', () => {
  for (const s of ['head-gap', 'wal-gap', 'chunk-crc', 'meta-bad'] as const) {
    test(`${s}: 3.16 starts on the repaired dump and serves what the report says`, async () => {
      const { result } = await repairAndServe(`s-${s}`, dumpPath3(V, s));
      assert.ok(result.actions.length > 0);
    });
  }
});

describe('repair on our own damage of 3.16 native data (histograms, OOO, zstd WAL)', () => {
  test('the holdings model counts histograms, OOO (wbl, OOO head chunks) and the zstd WAL as 3.16 serves them', () => {
    const healthy = spawnSync(process.execPath, [cli, 'repair', dumpPath3(V, 'native'), '--dry-run', '--json'], { encoding: 'utf8' });
    assert.equal(healthy.status, 0, healthy.stderr);
    assert.equal((JSON.parse(healthy.stdout) as RepairResult).nothingToRepair, true);
    // A stale lock file makes a plan (with totals) that changes nothing else.
    const src = nativeCopy('lock');
    writeFileSync(path.join(src, 'lock'), '');
    const r = spawnSync(process.execPath, [cli, 'repair', src, '--dry-run', '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const t = (JSON.parse(r.stdout) as RepairResult).totals!;
    // What 3.16 served when make-tsdb.sh started it on this data (observed.json).
    assert.equal(t.samplesHeld, undamaged().servedSamples);
    assert.equal(t.samplesServedAfter, undamaged().servedSamples);
    assert.equal(t.histogramSamplesServedAfter, undamaged().servedHistogramSamples);
  });

  test('head-gap (a head chunk file removed): repaired, every histogram sample still served', async () => {
    const src = nativeCopy('head-gap');
    const heads = readdirSync(path.join(src, 'chunks_head')).sort();
    rmSync(path.join(src, 'chunks_head', heads[1]));
    const { result, served: s } = await repairAndServe('n-head-gap', src, NATIVE);
    assert.ok(result.actions.some((a) => a.fixes === 'head-chunks-out-of-sequence'), JSON.stringify(result.actions, null, 1));
    assert.equal(s.floats + s.histograms, undamaged().servedSamples! - result.totals!.samplesLost);
  });

  test('wal-gap (a zstd WAL segment removed): renumbered, nothing lost', async () => {
    const src = nativeCopy('wal-gap');
    const segs = readdirSync(path.join(src, 'wal')).filter((n) => /^\d+$/.test(n)).sort();
    rmSync(path.join(src, 'wal', segs[1]));
    const { result, served: s } = await repairAndServe('n-wal-gap', src, NATIVE);
    const rename = result.actions.find((a) => a.kind === 'rename-file' && a.fixes === 'wal-segments-not-sequential');
    assert.ok(rename, JSON.stringify(result.actions, null, 1));
    assert.equal(result.totals!.samplesLost, 0);
    // The removed segment's own samples are gone from the dump; everything else is served.
    assert.ok(s.floats + s.histograms < undamaged().servedSamples! && s.histograms > 0);
  });

  test('chunk-crc on a histogram chunk of a block: that chunk blanked, only its histogram samples lost', async () => {
    const src = nativeCopy('hist-crc');
    const dir = facts3(V, 'native').blocks[0].dir;
    const b = openBlock(path.join(src, dir));
    let target: { offset: number; samples: number } | undefined;
    try {
      for (const s of b.series) {
        const c = s.chunks.find((x) => isHistogramEncoding(b.chunk(x).encoding));
        if (c) {
          target = { offset: c.offset, samples: 0 };
          break;
        }
      }
    } finally {
      b.close();
    }
    assert.ok(target, 'a histogram chunk in the block');
    flipByte(path.join(src, dir, 'chunks/000001'), target.offset + 12);
    const { result, served: s } = await repairAndServe('n-hist-crc', src, NATIVE);
    const blank = result.actions.find((a) => a.kind === 'blank-chunk');
    assert.ok(blank, JSON.stringify(result.actions, null, 1));
    assert.equal(blank.offset, target.offset);
    assert.ok(blank.loss.samples > 0);
    assert.equal(s.histograms, undamaged().servedHistogramSamples! - blank.loss.samples);
    assert.equal(s.floats + s.histograms, undamaged().servedSamples! - result.totals!.samplesLost);
  });

  test('meta-bad (a block meta.json removed): rebuilt with the float/histogram stats, nothing lost', async () => {
    const src = nativeCopy('meta-bad');
    const dir = facts3(V, 'native').blocks[0].dir;
    rmSync(path.join(src, dir, 'meta.json'));
    const { result, served: s } = await repairAndServe('n-meta-bad', src, NATIVE);
    assert.ok(result.actions.some((a) => a.kind === 'rebuild-meta' && a.path === `${dir}/meta.json`), JSON.stringify(result.actions, null, 1));
    assert.equal(result.totals!.samplesLost, 0);
    assert.equal(s.floats, undamaged().servedSamples! - undamaged().servedHistogramSamples!);
    assert.equal(s.histograms, undamaged().servedHistogramSamples!);
  });

  test('an out-of-sequence m-mapped chunk (first and last head chunk files swapped): repaired, nothing lost', async () => {
    const src = nativeCopy('ooo-mmap');
    const heads = readdirSync(path.join(src, 'chunks_head')).sort();
    const [a, b] = [path.join(src, 'chunks_head', heads[0]), path.join(src, 'chunks_head', heads[heads.length - 1])];
    renameSync(a, `${a}.x`);
    renameSync(b, a);
    renameSync(`${a}.x`, b);
    // What 3.16 does on it: an ERROR, every head chunk file deleted, the head rebuilt from the WAL.
    const before = path.join(work, 'ooo-mmap-before');
    cpSync(src, before, { recursive: true });
    const seen = await servedOn(before, NATIVE);
    assert.match(seen.log, /out of sequence m-mapped chunk/);
    const r = spawnSync(process.execPath, [cli, 'analyze', src, '--json'], { encoding: 'utf8' });
    const diag = (JSON.parse(r.stdout) as { diagnostics: { code: string; severity: string }[] }).diagnostics.find(
      (d) => d.code === 'head-chunk-mmap-out-of-sequence',
    );
    // The WAL holds every sample, so 3.16's own cleanup loses nothing: a warning, not an error.
    assert.equal(diag?.severity, 'warning');
    assert.equal(seen.floats + seen.histograms, undamaged().servedSamples);
    const { result, served: s } = await repairAndServe('n-ooo-mmap', src, NATIVE);
    const fix = result.actions.filter((x) => x.fixes === 'head-chunk-mmap-out-of-sequence');
    assert.ok(fix.length > 0, JSON.stringify(result.actions, null, 1));
    assert.ok(fix.every((x) => x.loss.samples === 0));
    assert.ok(fix[0].alternatives?.some((x) => /renumber/.test(x.summary) && x.samples === 0), JSON.stringify(fix[0].alternatives));
    assert.equal(s.floats + s.histograms, undamaged().servedSamples);
    assert.equal(s.histograms, undamaged().servedHistogramSamples);
    // The alternative (renumbering back into time order), applied by hand: 3.16 loads the files, no ERROR.
    const renumbered = path.join(work, 'ooo-mmap-renumbered');
    cpSync(src, renumbered, { recursive: true });
    const [ra, rb] = [path.join(renumbered, 'chunks_head', heads[0]), path.join(renumbered, 'chunks_head', heads[heads.length - 1])];
    renameSync(ra, `${ra}.x`);
    renameSync(rb, ra);
    renameSync(`${ra}.x`, rb);
    const alt = await servedOn(renumbered, NATIVE);
    assert.doesNotMatch(alt.log, /level=ERROR/);
    assert.equal(alt.floats + alt.histograms, undamaged().servedSamples);
  });
});
