/**
 * The CLI analysis on data written by real Prometheus 3.16 and 3.5 (test/fixtures/make-tsdb.sh
 * --prometheus): the verdict agrees with what the same real Prometheus did when started on the
 * data (observed.json), block facts equal promtool's `tsdb list`, and meta.json's sample counts
 * (with 3.6+'s float/histogram split) are checked against the chunks.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  PROMETHEUS3_VERSIONS, SCENARIOS3, dataDir3, dumpPath, dumpPath3, observed3, prometheus3Bin, type Prometheus3,
} from '../helpers/fixtures';
import { isUlid } from '../../server/src/tsdb/blockDir';
import { crc32c } from '../../server/src/tsdb/crc32c';
import { analysisBlockFacts, analyzeJson, promtoolList, runCli } from './cliHelpers';
import { freePort } from '../helpers/net';
import { startPrometheus } from '../helpers/prometheus';

const A = 1735862400000; // the fixtures' anchor (make-tsdb.sh ANCHOR)
const H = 3600_000;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-analyze3-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

for (const v of PROMETHEUS3_VERSIONS) {
  const healthyServed = (): number => observed3(v, 'healthy').servedSamples!;
  for (const s of SCENARIOS3) {
    test(`${v} ${s}: error exactly where real Prometheus ${v} refused to start, failed a query or served fewer samples`, async () => {
      const o = observed3(v, s);
      assert.ok(o.prometheus.includes(`version ${v}`), o.prometheus);
      // The damaged scenarios are copies of healthy: fewer samples served than there is a loss.
      const fromHealthy = !['healthy', 'no-blocks', 'native'].includes(s);
      const lost = !o.ready || o.queryError !== null || (fromHealthy && o.servedSamples! < healthyServed());
      const { run, result } = await analyzeJson(dumpPath3(v, s));
      const errors = result.diagnostics.filter((d) => d.severity === 'error');
      assert.equal(run.code, lost ? 1 : 0, JSON.stringify({ o, diagnostics: result.diagnostics.map((d) => [d.severity, d.code, d.path]) }));
      assert.equal(errors.length > 0, lost);
      if (s === 'healthy' || s === 'native' || s === 'no-blocks') assert.deepEqual(result.diagnostics, [], 'nothing on healthy 3.x data');
    });
  }

  test(`${v}: block facts of every scenario equal what promtool ${v} tsdb list prints`, async () => {
    const promtool = path.join(prometheus3Bin(v), 'promtool');
    for (const s of SCENARIOS3) {
      const { result } = await analyzeJson(dumpPath3(v, s));
      assert.deepEqual(analysisBlockFacts(result), promtoolList(dataDir3(v, s), promtool), `${v} ${s}`);
    }
  });
}

function nativeCopy(v: Prometheus3, name: string): { dir: string; blocks: string[] } {
  const dir = path.join(tmp, `${v}-${name}`);
  cpSync(dataDir3(v, 'native'), dir, { recursive: true });
  return { dir, blocks: readdirSync(dir).filter(isUlid).sort() };
}

test('3.16 block facts carry meta.json\'s float/histogram split; it equals the chunks\' counts (no meta-inconsistent)', async () => {
  const { result } = await analyzeJson(dumpPath3('3.16.0', 'native'));
  const meta = (dir: string) => JSON.parse(readFileSync(path.join(dataDir3('3.16.0', 'native'), dir, 'meta.json'), 'utf8')) as {
    stats: { numFloatSamples: number; numHistogramSamples: number; numSamples: number };
  };
  assert.equal(result.blocks.length, 2);
  for (const b of result.blocks) {
    const st = meta(b.dir).stats;
    assert.ok(st.numHistogramSamples > 0 && st.numFloatSamples > 0);
    assert.equal(b.numFloatSamples, st.numFloatSamples);
    assert.equal(b.numHistogramSamples, st.numHistogramSamples);
    assert.equal(b.numFloatSamples! + b.numHistogramSamples!, b.numSamples);
  }
  const lts = (await analyzeJson(dumpPath3('3.5.3', 'native'))).result.blocks;
  for (const b of lts) assert.equal(b.numFloatSamples, undefined, '3.5 writes no split');
});

test('3.16 meta.json float/histogram counts are checked against the chunks: an edited count is meta-inconsistent', async () => {
  const { dir, blocks } = nativeCopy('3.16.0', 'meta-counts');
  const metaFile = path.join(dir, blocks[0], 'meta.json');
  const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as { stats: { numHistogramSamples: number } };
  const real = meta.stats.numHistogramSamples;
  meta.stats.numHistogramSamples = real + 1;
  writeFileSync(metaFile, JSON.stringify(meta, null, '\t'));
  const { run, result } = await analyzeJson(dir);
  assert.equal(run.code, 0);
  const d = result.diagnostics.find((x) => x.code === 'meta-inconsistent');
  assert.ok(d, JSON.stringify(result.diagnostics));
  assert.equal(d.severity, 'warning');
  assert.match(d.message, new RegExp(`says ${real + 1} histogram samples, the chunks hold ${real}`));
});

test('a chunk encoding above 6 is reported as unknown with its number, never as corruption', async () => {
  const { dir, blocks } = nativeCopy('3.16.0', 'enc9');
  const seg = path.join(dir, blocks[0], 'chunks', '000001');
  const b = readFileSync(seg);
  // First chunk: uvarint len at byte 8, then the encoding byte (CRC then fails in full mode: the CRC covers it, so fix it up).
  let p = 8;
  let len = 0;
  for (let shift = 0; ; shift += 7) {
    const x = b[p++];
    len += (x & 0x7f) * 2 ** shift;
    if (x < 0x80) break;
  }
  b[p] = 9;
  b.writeUInt32BE(crc32c(b.subarray(p, p + 1 + len)), p + 1 + len);
  writeFileSync(seg, b);
  const { result } = await analyzeJson(dir);
  const d = result.diagnostics.find((x) => x.code === 'chunk-encoding-unknown');
  assert.ok(d, JSON.stringify(result.diagnostics));
  assert.match(d.message, /1 chunks of encoding 9\b/);
  assert.deepEqual(result.diagnostics.filter((x) => x.code === 'chunk-corrupt' || x.code === 'chunk-crc-mismatch'), []);
});

test('compatibility gate: 2.42 data needs nothing new, 3.5 native data needs ' +
  '3.2.0, 3.16 native data 3.14.0; the report names why', async () => {
  const old = (await analyzeJson(dumpPath('healthy'))).result.compatibility!;
  assert.deepEqual(old, { minVersion: '2.0.0', requirements: [] });
  const lts = (await analyzeJson(dumpPath3('3.5.3', 'native'))).result.compatibility!;
  assert.equal(lts.minVersion, '3.2.0');
  assert.equal(lts.requirements[0].feature, 'custom-bucket histogram WAL records');
  assert.ok(lts.requirements.some((r) => r.feature === 'zstd-compressed WAL records' && r.needs === '2.46.0'));
  // NHCB in block chunks (2.54.0; tsdb/chunkenc/histogram_meta.go), named with the chunk files.
  const nhcb = lts.requirements.find((r) => r.feature === 'custom-bucket histogram chunks (NHCB)');
  assert.equal(nhcb?.needs, '2.54.0');
  assert.ok(nhcb!.where.some((w) => /^[0-9A-Z]{26}\/chunks\/000001$/.test(w)), nhcb!.where.join(', '));
  const newest = (await analyzeJson(dumpPath3('3.16.0', 'native'))).result.compatibility!;
  assert.equal(newest.minVersion, '3.14.0');
  for (const f of ['XOR2 chunks', 'SamplesV2 WAL records (start timestamps)', 'out-of-order data (wbl/, OOO head chunks)',
    'custom-bucket histogram chunks (NHCB)']) {
    assert.ok(
      newest.requirements.some((r) => r.feature === f),
      f,
    );
  }
  const run = await runCli(['analyze', dumpPath3('3.16.0', 'native')]);
  assert.match(
    run.stdout,
    /^compatibility: Prometheus >= 3\.14\.0 reads the whole dump without loss \(.*XOR2 chunks in \S+\/chunks\/000001/m,
  );
});

test('real Prometheus 2.42 (older than the gate\'s 2.54.0) on 3.5.3\'s native blocks: lists the NHCB series, serves none ' +
  'of their samples, without an error; the other histograms and floats are served', async () => {
  const { dir, blocks } = nativeCopy('3.5.3', 'nhcb-on-2.42');
  for (const n of readdirSync(dir)) if (!blocks.includes(n)) rmSync(path.join(dir, n), { recursive: true, force: true });
  const prom = await startPrometheus(dir);
  try {
    const q = async (promql: string, endpoint = 'query') => {
      const url = `http://127.0.0.1:${prom.port}/api/v1/${endpoint}?${promql}`;
      const body = (await (await fetch(url)).json()) as { status: string; data: unknown };
      assert.equal(body.status, 'success', JSON.stringify(body));
      return body.data as { result: { value: [number, string] }[] } & unknown[];
    };
    const at = `time=${(A + 40 * H) / 1000}`;
    const count = async (m: string) =>
      (await q(`query=${encodeURIComponent(`count_over_time(${m}[140h])`)}&${at}`)).result.reduce((a, r) => a + Number(r.value[1]), 0);
    const series = await q(`match[]=fixture_nhcb_seconds&start=${(A - H) / 1000}&end=${(A + 10 * H) / 1000}`, 'series');
    assert.equal(series.length, 2, 'the NHCB series are listed');
    assert.equal(await count('fixture_nhcb_seconds'), 0, 'none of their samples is served');
    assert.equal(await count('fixture_histogram'), 1080, 'exponential histograms are served');
    assert.equal(await count('fixture_float'), 4 * 1080);
    assert.doesNotMatch(prom.log(), /level=(error|warn).*(chunk|histogram)/i);
  } finally {
    await prom.stop();
  }
});

test('real Prometheus 3.5.3 on 3.16 native data: starts without a word, but ' +
  'every query fails on the unknown chunk encodings (the gate says 3.14.0)', async () => {
  const { dir } = nativeCopy('3.16.0', 'on-3.5');
  const port = await freePort();
  const cfg = path.join(tmp, 'ooo.yml');
  writeFileSync(cfg, 'global:\n  scrape_interval: 15s\nstorage:\n  tsdb:\n    out_of_order_time_window: 6h\n');
  const p = spawn(
    path.join(prometheus3Bin('3.5.3'), 'prometheus'),
    [
      `--config.file=${cfg}`,
      `--storage.tsdb.path=${dir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--enable-feature=native-histograms',
      '--storage.tsdb.wal-compression-type=zstd',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  p.stderr.on('data', (d: Buffer) => (log += d.toString()));
  try {
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      const ok = await fetch(`${url}/-/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      assert.ok(i < 600 && p.exitCode === null, `Prometheus 3.5.3 did not get ready: ${log.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const q = encodeURIComponent('sum(count_over_time(fixture_float[200h]))');
    const body = (await (await fetch(`${url}/api/v1/query?query=${q}&time=${(1735862400000 + 40 * 3600000) / 1000}`)).json()) as {
      status: string;
      error?: string;
    };
    assert.equal(body.status, 'error');
    assert.match(body.error!, /invalid chunk encoding "<unknown>"/);
    assert.doesNotMatch(log, /level=(WARN|ERROR)/, 'no warning about the records and chunks it cannot read');
  } finally {
    p.kill('SIGTERM');
    await new Promise((r) => p.once('exit', r));
  }
});
