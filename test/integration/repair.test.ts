/**
 * Repair end to end: every broken fixture (built by real Prometheus 2.42) and our own corruptions
 * of the healthy one are repaired with the CLI, the output is extracted, REAL Prometheus is started
 * on it, and the number of samples it serves must equal what the repair report says is kept.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import { gunzipSync } from 'node:zlib';
import path from 'node:path';
import { dataDir, dataDir3, dumpPath, ensureFixtures, facts, repoRoot, type Scenario } from '../helpers/fixtures';
import { flipByte } from '../helpers/damage';
import type { RepairResult } from '../../server/src/protocol';
import { repairDump } from '../../server/src/repair/repair';
import { startPrometheus } from '../helpers/prometheus';
import { readIndex } from '../../server/src/tsdb/index';
import { memoryByteSource } from '../../server/src/dump/byteSource';
import { crc32c } from '../../server/src/tsdb/crc32c';
import { seriesKey } from '../../server/src/repair/model';

const A = 1735862400000;
const TOTAL = 372000;
const cli = path.join(repoRoot, 'dist/cli.js');
let work: string;

before(() => {
  ensureFixtures();
  work = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-repair-test-'));
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function runRepair(
  source: string,
  out: string,
  extra: string[] = [],
): { code: number; result?: RepairResult; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, 'repair', source, '-o', out, '--json', ...extra], { encoding: 'utf8', timeout: 240_000 });
  let result: RepairResult | undefined;
  try {
    result = JSON.parse(r.stdout) as RepairResult;
  } catch {
    result = undefined;
  }
  return { code: r.status ?? -1, result, stdout: r.stdout, stderr: r.stderr };
}


/** Samples Prometheus serves over [A, A+31h): the raw instant query of EXPECTED.md "healthy", counted here. */
async function servedSamples(port: number): Promise<number> {
  const q = encodeURIComponent('{__name__!=""}[111601s]');
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${q}&time=${(A + 31 * 3600_000) / 1000}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: { values: unknown[] }[] } };
  assert.equal(body.status, 'success', `query failed: ${body.error}`);
  return body.data!.result.reduce((n, r) => n + r.values.length, 0);
}

function extract(tarGz: string): string {
  const dir = mkdtempSync(path.join(work, 'data-'));
  execFileSync('tar', ['xzf', tarGz, '-C', dir]);
  return dir;
}

/** Repairs, checks the report, starts Prometheus on the output and compares what it serves. */
async function repairAndServe(name: string, source: string): Promise<{ result: RepairResult; served: number; log: string }> {
  const isFile = statSync(source).isFile();
  const hashBefore = isFile ? sha256(source) : undefined;
  const out = path.join(work, `${name}.repaired.tar.gz`);
  const r = runRepair(source, out);
  assert.equal(r.code, 0, `repair exit ${r.code}: ${r.stderr}\n${r.stdout.slice(0, 4000)}`);
  const result = r.result!;
  assert.equal(result.nothingToRepair, false);
  assert.ok(existsSync(out));
  assert.ok(!existsSync(`${out}.partial`));
  if (hashBefore) assert.equal(sha256(source), hashBefore, 'the source is never modified');
  // The output re-analyses clean.
  assert.ok(result.after, 'after-analysis present');
  assert.deepEqual(result.after.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code} ${d.path}`), []);
  // Sum of what the actions cost, plus what Prometheus would not serve anyway, is the total loss.
  const t = result.totals!;
  const actionLoss = result.actions.reduce((n, a) => n + a.loss.samples, 0);
  assert.equal(actionLoss + t.notServedAnyway, t.samplesLost);
  assert.equal(t.samplesHeld - t.samplesLost, t.samplesServedAfter);
  const data = extract(out);
  assertPromdumpLayout(out, data);
  const prom = await startPrometheus(data);
  try {
    const served = await servedSamples(prom.port);
    const log = prom.log();
    assert.doesNotMatch(log, /level=error/, log);
    assert.equal(served, t.samplesServedAfter, `Prometheus serves ${served}, the report says ${t.samplesServedAfter}; its log:\n${log}`);
    return { result, served, log };
  } finally {
    await prom.stop();
  }
}

/** promdump's order: chunks_head/, wal/ (segments, then checkpoints), block dirs by minTime with chunks, index, meta.json, tombstones. */
function assertPromdumpLayout(tarGz: string, data: string): void {
  const names = execFileSync('tar', ['tzf', tarGz], { encoding: 'utf8', maxBuffer: 64 << 20 })
    .split('\n')
    .filter(Boolean)
    .map((n) => n.replace(/\/$/, ''));
  const section = (n: string) => (n.startsWith('chunks_head') ? 0 : n.startsWith('wal') ? 1 : /^[0-9A-Z]{26}(\/|$)/.test(n) ? 2 : 3);
  const sections = names.map(section);
  assert.deepEqual(sections, [...sections].sort((a, b) => a - b), `sections out of order: ${names.join(' ')}`);
  const blockDirs = names.filter((n) => /^[0-9A-Z]{26}$/.test(n));
  const minTimes = blockDirs.map((d) => (JSON.parse(readFileSync(path.join(data, d, 'meta.json'), 'utf8')) as { minTime: number }).minTime);
  assert.deepEqual(minTimes, [...minTimes].sort((a, b) => a - b), 'blocks by minTime');
  for (const d of blockDirs) {
    const inner = names.filter((n) => n.startsWith(`${d}/`)).map((n) => n.slice(d.length + 1));
    const rank = (n: string) => (n.startsWith('chunks') ? 0 : n === 'index' ? 1 : n === 'meta.json' ? 2 : n === 'tombstones' ? 3 : 4);
    assert.deepEqual(inner.map(rank), inner.map(rank).sort((a, b) => a - b), `entries of ${d}: ${inner.join(' ')}`);
    assert.ok(inner.includes('meta.json') && inner.includes('index'), `${d} has index and meta.json`);
  }
}

function action(result: RepairResult, kind: string, p: string) {
  return result.actions.find((a) => a.kind === kind && a.path === p);
}

describe('repair on the broken fixtures', () => {
  test('healthy: nothing to repair, nothing written', () => {
    const out = path.join(work, 'healthy.repaired.tar.gz');
    const r = runRepair(dumpPath('healthy'), out);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.result!.nothingToRepair, true);
    assert.deepEqual(r.result!.actions, []);
    assert.ok(!existsSync(out));
    const human = spawnSync(process.execPath, [cli, 'repair', dumpPath('healthy'), '-o', out], { encoding: 'utf8' });
    assert.equal(human.status, 0);
    assert.match(human.stdout, /Nothing to repair/);
    assert.ok(!existsSync(out));
  });

  test('head-gap: drops the head chunk files after the gap, loses nothing, Prometheus serves all 372000 samples', async () => {
    const { result, served } = await repairAndServe('head-gap', dumpPath('head-gap'));
    const drops = result.actions.filter((a) => a.fixes === 'head-chunks-out-of-sequence');
    assert.deepEqual(drops.map((a) => `${a.kind} ${a.path}`), ['drop-file chunks_head/000005', 'drop-file chunks_head/000006']);
    assert.ok(drops.every((a) => a.loss.samples === 0));
    assert.equal(result.totals!.samplesHeld, TOTAL);
    assert.equal(served, TOTAL);
  });

  test('wal-gap: renames 00000006 to 00000005 (loses 0) rather than deleting it (loses 5979)', async () => {
    const { result, served } = await repairAndServe('wal-gap', dumpPath('wal-gap'));
    const rename = action(result, 'rename-file', 'wal/00000006');
    assert.ok(rename, JSON.stringify(result.actions, null, 1));
    assert.equal(rename.to, 'wal/00000005');
    assert.equal(rename.loss.samples, 0);
    const del = rename.alternatives?.find((x) => /drop the WAL segments after the gap/.test(x.summary));
    assert.ok(del, JSON.stringify(rename.alternatives));
    assert.equal(del.samples, 5979);
    assert.equal(served, TOTAL);
  });

  test('meta-bad: rebuilds both meta.json files from index and chunks, Prometheus serves the blocks again', async () => {
    const f = facts('meta-bad');
    const damage = f.damage as { invalid: { block: string }; missing: { block: string } };
    const { result, served, log } = await repairAndServe('meta-bad', dumpPath('meta-bad'));
    assert.ok(action(result, 'rebuild-meta', `${damage.invalid.block}/meta.json`));
    assert.ok(action(result, 'rebuild-meta', `${damage.missing.block}/meta.json`));
    assert.doesNotMatch(log, /Failed to read meta.json/);
    assert.equal(served, TOTAL);
  });

  test('chunk-crc: blanks the damaged chunk only; loses its 121 samples of one series', async () => {
    const f = facts('chunk-crc');
    const dmg = f.damage as { chunk: { chunkOffset: number } };
    const { result, served } = await repairAndServe('chunk-crc', dumpPath('chunk-crc'));
    const blank = result.actions.find((a) => a.kind === 'blank-chunk');
    assert.ok(blank, JSON.stringify(result.actions, null, 1));
    assert.equal(blank.offset, dmg.chunk.chunkOffset);
    assert.equal(blank.loss.samples, 121);
    assert.equal(blank.loss.series, 1);
    assert.equal(blank.lostSeries![0].series, 'node_cpu_seconds_total{cpu="0",instance="node-4:9100",job="node",mode="idle"}');
    assert.deepEqual(blank.loss.ranges, [{ from: 1735927200010, to: 1735929000004 }]);
    assert.equal(served, TOTAL - 121);
  });

  test('overlap (warning): drops the duplicate block whose data the larger one holds; nothing lost, no overlap warning', async () => {
    const f = facts('overlap');
    const added = (f.damage as { addedBlock: string | { ulid: string } }).addedBlock;
    const addedDir = typeof added === 'string' ? added : added.ulid;
    const { result, served, log } = await repairAndServe('overlap', dumpPath('overlap'));
    const drop = action(result, 'drop-block', `${addedDir}/`);
    assert.ok(drop, JSON.stringify(result.actions, null, 1));
    assert.equal(drop.loss.samples, 0);
    assert.doesNotMatch(log, /Overlapping blocks/);
    assert.equal(served, TOTAL);
  });
});

describe('the alternatives the planner rejected lose what it says (applied by hand, real Prometheus)', () => {
  const planOf = (scenario: Scenario): RepairResult => {
    const r = spawnSync(process.execPath, [cli, 'repair', dumpPath(scenario), '--dry-run', '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as RepairResult;
  };
  const servedOn = async (data: string): Promise<number> => {
    const prom = await startPrometheus(data);
    try {
      return await servedSamples(prom.port);
    } finally {
      await prom.stop();
    }
  };
  const copyOf = (scenario: Scenario, name: string): string => {
    const dir = path.join(work, `alt-${name}`);
    cpSync(dataDir(scenario), dir, { recursive: true });
    return dir;
  };

  test('head-gap: renumbering 000005/000006 down loses the samples the planner predicts (WAL replay skips them)', async () => {
    const alt = planOf('head-gap').actions[0].alternatives!.find((x) => /renumber/.test(x.summary))!;
    assert.ok(alt.samples > 0);
    const dir = copyOf('head-gap', 'renumber');
    renameSync(path.join(dir, 'chunks_head/000005'), path.join(dir, 'chunks_head/000004'));
    renameSync(path.join(dir, 'chunks_head/000006'), path.join(dir, 'chunks_head/000005'));
    assert.equal(await servedOn(dir), TOTAL - alt.samples);
  });

  test('wal-gap: deleting 00000006 loses the 5979 samples the planner predicts (EXPECTED.md)', async () => {
    const alt = planOf('wal-gap').actions[0].alternatives!.find((x) => /drop the WAL segments after the gap/.test(x.summary))!;
    assert.equal(alt.samples, 5979);
    const dir = copyOf('wal-gap', 'delete');
    rmSync(path.join(dir, 'wal/00000006'));
    assert.equal(await servedOn(dir), TOTAL - 5979);
  });
});

/** A copy of the healthy data dir to corrupt. */
function healthyCopy(name: string): string {
  const dir = path.join(work, `src-${name}`);
  cpSync(dataDir('healthy'), dir, { recursive: true });
  return dir;
}

describe('repair on our own corruptions of the healthy dump', () => {
  test('stale lock file and a tmp leftover dir are left out', async () => {
    const src = healthyCopy('lock-tmp');
    writeFileSync(path.join(src, 'lock'), '');
    const tmp = path.join(src, '01M83YYJ7D8M4N71W2QBVBXFRZ.tmp-for-creation');
    mkdirSync(tmp);
    writeFileSync(path.join(tmp, 'meta.json'), '{}');
    const { result, served } = await repairAndServe('lock-tmp', src);
    assert.ok(result.actions.some((a) => a.fixes === 'lock-file-present' && a.path === 'lock'));
    assert.ok(result.actions.some((a) => a.fixes === 'leftover-tmp'));
    assert.equal(served, TOTAL);
  });

  test('zstd WAL records of real Prometheus 3.16 are not damage: a repair of another problem leaves wal/ and wbl/ whole', () => {
    const src = path.join(work, 'native-zstd');
    cpSync(dataDir3('3.16.0', 'native'), src, { recursive: true });
    const heads = readdirSync(path.join(src, 'chunks_head')).sort();
    rmSync(path.join(src, 'chunks_head', heads[1]));
    const { code, result } = runRepair(src, path.join(work, 'zstd.tar.gz'), ['--dry-run']);
    assert.equal(code, 0);
    assert.ok(result!.actions.some((a) => a.fixes === 'head-chunks-out-of-sequence'), JSON.stringify(result!.actions));
    assert.deepEqual(result!.actions.filter((a) => a.path.startsWith('wal/') || a.path.startsWith('wbl/')), []);
  });

  test('torn WAL tail: the last segment is cut after its last complete record', async () => {
    const src = healthyCopy('torn');
    const seg = path.join(src, 'wal/00000006');
    truncateSync(seg, 20_000);
    const { result, served } = await repairAndServe('torn', src);
    const cut = result.actions.find((a) => a.kind === 'truncate-file' && a.path === 'wal/00000006');
    assert.ok(cut, JSON.stringify(result.actions, null, 1));
    assert.ok(cut.offset! < 20_000);
    assert.ok(served <= TOTAL);
  });

  test('checkpoint without segment N+1: fixed without losing what the head chunks hold', async () => {
    const src = healthyCopy('cp-stale');
    rmSync(path.join(src, 'wal/00000002'));
    const { result, served } = await repairAndServe('cp-stale', src);
    assert.ok(result.actions.some((a) => a.fixes === 'wal-checkpoint-stale'), JSON.stringify(result.actions, null, 1));
    assert.ok(served > TOTAL - 12000);
  });

  test('WAL record damaged mid-segment: cut there, later segments kept when that loses less', async () => {
    const src = healthyCopy('wal-mid');
    flipByte(path.join(src, 'wal/00000003'), 40_000);
    const { result } = await repairAndServe('wal-mid', src);
    const cut = result.actions.find((a) => a.kind === 'truncate-file' && a.path === 'wal/00000003');
    assert.ok(cut, JSON.stringify(result.actions, null, 1));
    assert.ok(!result.actions.some((a) => a.path === 'wal/00000005' || a.path === 'wal/00000006'), 'later segments are kept');
  });

  test('head chunk record damaged: repaired with the least loss (the WAL refills the head)', async () => {
    const src = healthyCopy('head-crc');
    flipByte(path.join(src, 'chunks_head/000005'), 5_000);
    const { result, served } = await repairAndServe('head-crc', src);
    assert.ok(result.actions.some((a) => a.fixes === 'head-chunk-corrupt'), JSON.stringify(result.actions, null, 1));
    assert.equal(served, TOTAL);
  });
});

/** The healthy dump's block dirs by role (facts.json order: L3, L2, L1b, L1h). */
function healthyBlock(i: number): string {
  return facts('healthy').blocks[i].dir;
}

describe('repair of damaged blocks and checkpoints (own corruptions)', () => {
  test('index with a damaged TOC offset: the index is rewritten from its series (the old repair dropped 24000 samples)', async () => {
    const src = healthyCopy('index-toc');
    const l1b = healthyBlock(2);
    flipByte(path.join(src, l1b, 'index'), statSync(path.join(src, l1b, 'index')).size - 30);
    const { result, served } = await repairAndServe('index-toc', src);
    const rewrite = action(result, 'rewrite-index', `${l1b}/index`);
    assert.ok(rewrite, JSON.stringify(result.actions, null, 1));
    assert.equal(rewrite.fixes, 'index-corrupt');
    assert.equal(rewrite.loss.samples, 0);
    // Dropping the block (what repair did before the block writer) is the rejected alternative.
    assert.equal(rewrite.alternatives?.find((a) => a.summary === 'drop the block')?.samples, 24000);
    assert.equal(result.totals!.samplesLost, 0);
    assert.equal(served, TOTAL);
  });

  test('garbage after the last chunk of a chunk file: cut off, the block stays', async () => {
    const src = healthyCopy('chunk-tail');
    const file = path.join(src, healthyBlock(2), 'chunks/000001');
    const size = statSync(file).size;
    writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.from('garbage after the last chunk')]));
    const { result, served } = await repairAndServe('chunk-tail', src);
    const cut = result.actions.find((a) => a.kind === 'truncate-file' && a.path === `${healthyBlock(2)}/chunks/000001`);
    assert.ok(cut, JSON.stringify(result.actions, null, 1));
    assert.equal(cut.offset, size);
    assert.equal(served, TOTAL);
  });

  test('meta.json that disagrees with the index (range too short, wrong stats): rewritten, compaction history kept', async () => {
    const src = healthyCopy('meta-inconsistent');
    const l1b = healthyBlock(2);
    const metaPath = path.join(src, l1b, 'meta.json');
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { maxTime: number; stats: { numSeries: number }; compaction: unknown };
    const original = { ...meta };
    meta.maxTime -= 3600_000;
    meta.stats.numSeries = 49;
    writeFileSync(metaPath, JSON.stringify(meta, null, '\t'));
    const { result, served, log } = await repairAndServe('meta-inconsistent', src);
    assert.ok(action(result, 'rebuild-meta', `${l1b}/meta.json`), JSON.stringify(result.actions, null, 1));
    const data = extract(path.join(work, 'meta-inconsistent.repaired.tar.gz'));
    const fixed = JSON.parse(readFileSync(path.join(data, l1b, 'meta.json'), 'utf8')) as typeof meta;
    assert.equal(fixed.maxTime, original.maxTime);
    assert.equal(fixed.stats.numSeries, 50);
    assert.deepEqual(fixed.compaction, original.compaction);
    assert.doesNotMatch(log, /level=warn.*[Oo]verlap/);
    assert.equal(served, TOTAL);
  });

  test('damaged tombstones file: only the tombstones go, the block stays', async () => {
    const src = healthyCopy('tombstones');
    const l1b = healthyBlock(2);
    writeFileSync(path.join(src, l1b, 'tombstones'), Buffer.from([0x01, 0x30, 0xba, 0x30, 0x01, 0x67, 0x61, 0x72, 0x62]));
    const { result, served } = await repairAndServe('tombstones', src);
    assert.ok(action(result, 'drop-file', `${l1b}/tombstones`), JSON.stringify(result.actions, null, 1));
    assert.equal(served, TOTAL);
  });

  test('a duplicate of a block under another ULID (same sources): one copy is dropped, nothing lost', async () => {
    const src = healthyCopy('duplicate');
    const l1b = healthyBlock(2);
    const copy = '01M83YYE6WQYE4QMR4K1K5QKNZ';
    cpSync(path.join(src, l1b), path.join(src, copy), { recursive: true });
    const meta = JSON.parse(readFileSync(path.join(src, copy, 'meta.json'), 'utf8')) as { ulid: string };
    meta.ulid = copy;
    writeFileSync(path.join(src, copy, 'meta.json'), JSON.stringify(meta, null, '\t'));
    const { result, served, log } = await repairAndServe('duplicate', src);
    const drops = result.actions.filter((a) => a.kind === 'drop-block');
    assert.equal(drops.length, 1, JSON.stringify(result.actions, null, 1));
    assert.equal(drops[0].loss.samples, 0);
    assert.doesNotMatch(log, /Overlapping blocks/);
    assert.equal(served, TOTAL);
  });

  test('a parent block left by a crash after compaction and a deletable block are dropped, nothing lost', async () => {
    const src = healthyCopy('leftovers');
    const l1b = healthyBlock(2);
    const parent = '01M83YYE6WQYE4QMR4K1K5QKP0';
    const deletable = '01M83YYE6WQYE4QMR4K1K5QKP1';
    for (const [dir, patch] of [
      [parent, {}],
      [deletable, { deletable: true }],
    ] as const) {
      cpSync(path.join(src, l1b), path.join(src, dir), { recursive: true });
      const meta = JSON.parse(readFileSync(path.join(src, dir, 'meta.json'), 'utf8')) as {
        ulid: string;
        compaction: Record<string, unknown>;
      };
      meta.ulid = dir;
      meta.compaction = { ...meta.compaction, sources: [dir], ...patch };
      writeFileSync(path.join(src, dir, 'meta.json'), JSON.stringify(meta, null, '\t'));
    }
    const metaPath = path.join(src, l1b, 'meta.json');
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { minTime: number; maxTime: number; compaction: { parents?: unknown[] } };
    meta.compaction.parents = [{ ulid: parent, minTime: meta.minTime, maxTime: meta.maxTime }];
    writeFileSync(metaPath, JSON.stringify(meta, null, '\t'));
    const { result, served } = await repairAndServe('leftovers', src);
    assert.ok(action(result, 'drop-block', `${parent}/`), JSON.stringify(result.actions, null, 1));
    assert.ok(action(result, 'drop-block', `${deletable}/`), JSON.stringify(result.actions, null, 1));
    assert.ok(result.actions.every((a) => a.loss.samples === 0));
    assert.equal(served, TOTAL);
  });

  test('damaged checkpoint: cut so Prometheus starts; the head samples whose series it declared are reported lost', async () => {
    const src = healthyCopy('checkpoint-damage');
    flipByte(path.join(src, 'wal/checkpoint.00000001/00000000'), 100);
    const { result, served } = await repairAndServe('checkpoint-damage', src);
    assert.ok(
      result.actions.some((a) => a.path === 'wal/checkpoint.00000001/00000000' && a.kind === 'truncate-file'),
      JSON.stringify(result.actions, null, 1),
    );
    // The one series record is gone: the 36000 head samples cannot be tied to a series any more.
    assert.equal(result.totals!.samplesLost, 36000);
    assert.equal(served, TOTAL - 36000);
  });
});

/** Varint helpers for editing an index series entry in place (docs/tsdb-format.md §3). */
function readUvarint(b: Uint8Array, at: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (let i = at; ; i++) {
    v += (b[i] & 0x7f) * mul;
    if (b[i] < 0x80) return [v, i + 1];
    mul *= 128;
  }
}
function uvarintBytes(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}
const zigzag = (v: number) => (v >= 0 ? 2 * v : -2 * v - 1);
const unzigzag = (u: number) => (u % 2 === 0 ? u / 2 : -(u + 1) / 2);

/**
 * Moves the last chunk ref of one series of a block's index by one byte (into the middle of its
 * chunk) and recomputes that entry's CRC: a well-formed entry with one bad chunk reference.
 * Returns the series' labels and the moved chunk's time range.
 */
function misdirectLastChunkRef(indexFile: string): { series: string; minTime: number; maxTime: number } {
  const bytes = readFileSync(indexFile);
  const series: { id: number; labels: [string, string][]; chunks: { minTime: number; maxTime: number }[] }[] = [];
  readIndex(memoryByteSource(bytes), { verify: 'quick', onSeries: (x) => series.push(x) });
  for (const s of [...series].reverse()) {
    if (s.chunks.length < 2) continue;
    const pos = s.id * 16;
    const [len, bodyAt] = readUvarint(bytes, pos);
    const [n, labelsAt] = readUvarint(bytes, bodyAt);
    let p = labelsAt;
    for (let i = 0; i < 2 * n; i++) p = readUvarint(bytes, p)[1];
    const [chunks, chunksAt] = readUvarint(bytes, p);
    p = chunksAt;
    p = readUvarint(bytes, p)[1]; // mint (varint)
    p = readUvarint(bytes, p)[1]; // maxt delta
    p = readUvarint(bytes, p)[1]; // ref
    let refAt = p;
    for (let i = 1; i < chunks; i++) {
      p = readUvarint(bytes, p)[1];
      p = readUvarint(bytes, p)[1];
      refAt = p;
      p = readUvarint(bytes, p)[1];
    }
    const [u, refEnd] = readUvarint(bytes, refAt);
    const moved = uvarintBytes(zigzag(unzigzag(u) + 1));
    if (moved.length !== refEnd - refAt) continue;
    Buffer.from(moved).copy(bytes, refAt);
    const crc = crc32c(bytes.subarray(bodyAt, bodyAt + len));
    bytes.writeUInt32BE(crc, bodyAt + len);
    writeFileSync(indexFile, bytes);
    const last = s.chunks[s.chunks.length - 1];
    return { series: seriesKey(s.labels), minTime: last.minTime, maxTime: last.maxTime };
  }
  throw new Error(`no series in ${indexFile} whose last ref could be moved in place`);
}

describe('least-lossy repair with the block writer (own damage of real 2.42 blocks)', () => {
  test('TOC intact except its CRC: the index is rewritten with the CRCs recomputed, nothing lost', async () => {
    const src = healthyCopy('toc-crc');
    const l1b = healthyBlock(2);
    const index = path.join(src, l1b, 'index');
    flipByte(index, statSync(index).size - 1);
    const { result, served } = await repairAndServe('toc-crc', src);
    const rewrite = action(result, 'rewrite-index', `${l1b}/index`);
    assert.ok(rewrite, JSON.stringify(result.actions, null, 1));
    assert.equal(rewrite.loss.samples, 0);
    assert.equal(rewrite.alternatives?.find((a) => a.summary === 'drop the block')?.samples, 24000);
    assert.equal(served, TOTAL);
    // The rewritten index has every series and chunk: promtool agrees with the source block.
    const data = extract(path.join(work, 'toc-crc.repaired.tar.gz'));
    const meta = JSON.parse(readFileSync(path.join(data, l1b, 'meta.json'), 'utf8')) as { stats: Record<string, number> };
    assert.deepEqual(
      { s: meta.stats.numSamples, n: meta.stats.numSeries, c: meta.stats.numChunks },
      { s: 24000, n: 50, c: facts('healthy').blocks[2].numChunks },
    );
  });

  test('postings offset table with a bad CRC (Prometheus refuses the block): rewritten, nothing lost', async () => {
    const src = healthyCopy('postings-crc');
    const l1b = healthyBlock(2);
    const index = path.join(src, l1b, 'index');
    const toc = readFileSync(index).subarray(statSync(index).size - 52);
    const postingsTable = Number(toc.readBigUInt64BE(40));
    flipByte(index, postingsTable + 8);
    const { result, served } = await repairAndServe('postings-crc', src);
    assert.ok(action(result, 'rewrite-index', `${l1b}/index`), JSON.stringify(result.actions, null, 1));
    assert.equal(result.totals!.samplesLost, 0);
    assert.equal(served, TOTAL);
  });

  test('a series entry with one bad chunk reference: only that chunk is left out of the rewritten index', async () => {
    const src = healthyCopy('bad-ref');
    const l1b = healthyBlock(2);
    const moved = misdirectLastChunkRef(path.join(src, l1b, 'index'));
    const { result, served } = await repairAndServe('bad-ref', src);
    const rewrite = action(result, 'rewrite-index', `${l1b}/index`);
    assert.ok(rewrite, JSON.stringify(result.actions, null, 1));
    assert.equal(rewrite.fixes, 'chunk-ref-out-of-range');
    // Exactly the samples of that one chunk (meta.json counts them; at most 120 per chunk here).
    const lost = rewrite.loss.samples;
    assert.ok(lost > 0 && lost <= 120, `lost ${lost}`);
    assert.equal(rewrite.loss.series, 1);
    assert.deepEqual(rewrite.loss.ranges, [{ from: moved.minTime, to: moved.maxTime + 1 }]);
    const drop = rewrite.alternatives?.find((a) => a.summary === 'drop the block');
    assert.equal(drop?.samples, 24000 - lost, 'the old repair (drop the block) lost the whole block');
    assert.equal(result.totals!.samplesLost, lost);
    assert.equal(served, TOTAL - lost);
  });

  test('a chunk file cut after its last complete chunks: cut there, only the refs beyond are dropped', async () => {
    const src = healthyCopy('chunks-cut');
    const l1b = healthyBlock(2);
    const file = path.join(src, l1b, 'chunks/000001');
    truncateSync(file, statSync(file).size - 500);
    const { result, served } = await repairAndServe('chunks-cut', src);
    const rewrite = action(result, 'rewrite-index', `${l1b}/index`);
    const cut = result.actions.find((a) => a.kind === 'truncate-file' && a.path === `${l1b}/chunks/000001`);
    assert.ok(rewrite && cut, JSON.stringify(result.actions, null, 1));
    assert.ok(cut.offset! < statSync(file).size);
    const lost = rewrite.loss.samples;
    assert.ok(lost > 0 && lost <= 3 * 120, `lost ${lost}: the chunks the cut reaches, no more`);
    assert.equal(rewrite.alternatives?.find((a) => a.summary === 'drop the block')?.samples, 24000 - lost);
    assert.equal(result.totals!.samplesLost, lost);
    assert.equal(served, TOTAL - lost);
  });

  test('a block wrongly marked deletable that holds data nothing else holds: un-marked, nothing lost', async () => {
    const src = healthyCopy('deletable-unique');
    const l1b = healthyBlock(2);
    const metaPath = path.join(src, l1b, 'meta.json');
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { compaction: Record<string, unknown> };
    meta.compaction.deletable = true;
    writeFileSync(metaPath, JSON.stringify(meta, null, '\t'));
    // Real Prometheus deletes the block at startup: 24000 samples gone.
    const before = path.join(work, 'deletable-before');
    cpSync(src, before, { recursive: true });
    const prom = await startPrometheus(before);
    try {
      assert.equal(await servedSamples(prom.port), TOTAL - 24000);
    } finally {
      await prom.stop();
    }
    const { result, served } = await repairAndServe('deletable-unique', src);
    const unmark = action(result, 'rebuild-meta', `${l1b}/meta.json`);
    assert.ok(unmark, JSON.stringify(result.actions, null, 1));
    assert.equal(unmark.fixes, 'block-deletable');
    assert.equal(unmark.alternatives?.find((a) => a.summary === 'drop the deletable block')?.samples, 24000);
    const data = extract(path.join(work, 'deletable-unique.repaired.tar.gz'));
    const fixed = JSON.parse(readFileSync(path.join(data, l1b, 'meta.json'), 'utf8')) as { compaction: Record<string, unknown> };
    assert.equal(fixed.compaction.deletable, undefined);
    assert.equal(served, TOTAL);
  });
});

describe('repair of damaged archives', () => {
  test('an archive cut short: the entry cut in the middle and the block it belonged to are left out, the rest is served', async () => {
    // A plain tar: how far a cut gzip stream is read depends on timing in the dump reader (see the report).
    const whole = gunzipSync(readFileSync(dumpPath('healthy')));
    const cut = path.join(work, 'cut.tar');
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const { result, served } = await repairAndServe('cut', cut);
    assert.ok(result.actions.some((a) => a.fixes === 'dump-truncated'), JSON.stringify(result.actions, null, 1));
    assert.ok(served > 0);
  });

  test('unsafe tar entries (.. in the name) are reported and left out', async () => {
    const tree = path.join(work, 'unsafe-tree');
    mkdirSync(tree);
    cpSync(dataDir('healthy'), path.join(tree, 'data'), { recursive: true });
    writeFileSync(path.join(tree, 'evil'), 'should never be written\n');
    const blocks = facts('healthy').blocks.map((b) => b.dir);
    const tarGz = path.join(work, 'unsafe.tar.gz');
    execFileSync('tar', ['--sort=name', '-C', path.join(tree, 'data'), '-czPf', tarGz, 'chunks_head', 'wal', ...blocks, '../evil']);
    const { result, served } = await repairAndServe('unsafe', tarGz);
    const drop = result.actions.find((a) => a.fixes === 'tar-unsafe-path');
    assert.ok(drop, JSON.stringify(result.actions, null, 1));
    assert.equal(drop.path, '../evil');
    assert.equal(served, TOTAL);
  });
});

describe('repair safety', () => {
  test('the source is untouched and a cancelled repair leaves no file under the final name', async () => {
    const source = dumpPath('wal-gap');
    const hash = sha256(source);
    const out = path.join(work, 'cancelled.tar.gz');
    const controller = new AbortController();
    await assert.rejects(
      repairDump(source, out, {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.phase === 'write') controller.abort();
        },
      }),
      (e: Error & { code?: string }) => e.code === 'cancelled',
    );
    assert.ok(!existsSync(out));
    assert.ok(!existsSync(`${out}.partial`));
    assert.equal(sha256(source), hash);
    assert.deepEqual(readdirSync(work).filter((n) => n.startsWith('.tsdbdump-repair-')), [], 'spool dir removed');
  });

  test('usage errors exit 2: missing -o, existing output, output equal to the source', () => {
    const src = dumpPath('head-gap');
    assert.equal(spawnSync(process.execPath, [cli, 'repair', src], { encoding: 'utf8' }).status, 2);
    const existing = path.join(work, 'exists.tar.gz');
    writeFileSync(existing, 'x');
    assert.equal(spawnSync(process.execPath, [cli, 'repair', src, '-o', existing], { encoding: 'utf8' }).status, 2);
    assert.equal(readFileSync(existing, 'utf8'), 'x');
  });

  test('a problem without a known repair (a WBL numbering gap) is reported as remaining: exit 1, nothing written', () => {
    const src = healthyCopy('wbl-gap');
    mkdirSync(path.join(src, 'wbl'));
    writeFileSync(path.join(src, 'wbl/00000000'), '');
    writeFileSync(path.join(src, 'wbl/00000002'), '');
    const out = path.join(work, 'wbl-gap.tar.gz');
    const r = spawnSync(process.execPath, [cli, 'repair', src, '-o', out], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /REMAIN/);
    assert.match(r.stdout, /wal-segments-not-sequential wbl\/00000002/);
    assert.ok(!existsSync(out));
  });

  test('--dry-run prints the plan and writes nothing', () => {
    const out = path.join(work, 'dry.tar.gz');
    const r = spawnSync(process.execPath, [cli, 'repair', dumpPath('head-gap'), '-o', out, '--dry-run'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /drop chunks_head\/000005/);
    assert.match(r.stdout, /dry run/);
    assert.ok(!existsSync(out));
  });
});

