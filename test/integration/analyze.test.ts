/**
 * `tsdbdump analyze` end to end on every real-Prometheus scenario of test/fixtures/EXPECTED.md, as
 * .tar.gz, extracted data dir and plain .tar: the verdicts must follow what Prometheus 2.42 does.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AnalysisResult } from '../../server/src/protocol';
import { SCENARIOS, dataDir, dumpPath, facts, type Scenario } from '../helpers/fixtures';
import { analysisBlockFacts, analyzeJson, errorsOf, hasStackTrace, promtoolList, runCli, warningsOf } from './cliHelpers';

const A = 1735862400000;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-analyze-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function plainTar(s: Scenario): string {
  const out = path.join(tmp, `${s}.tar`);
  execFileSync('tar', ['cf', out, '-C', dataDir(s), '.']);
  return out;
}

const forms: [string, (s: Scenario) => string][] = [
  ['tar.gz', dumpPath],
  ['data dir', dataDir],
  ['tar', plainTar],
];

const codes = (r: AnalysisResult, sev?: string) => r.diagnostics.filter((d) => !sev || d.severity === sev).map((d) => d.code).sort();

/** What EXPECTED.md says for each scenario; `full` is the --verify full result. */
const verdicts: Record<Scenario, (r: AnalysisResult, exit: number, s: Scenario) => void> = {
  healthy(r, exit) {
    assert.equal(exit, 0);
    assert.deepEqual(errorsOf(r), []);
    assert.deepEqual(warningsOf(r), []);
    assert.equal(r.blocks.length, 4);
    assert.deepEqual(r.blocks.map((b) => b.level), [3, 2, 1, 1]);
    assert.deepEqual(r.coverage.gaps, []);
    assert.equal(r.coverage.minTime, A);
    assert.equal(r.coverage.maxTime, 1735973985010 + 1);
    assert.equal(r.head.minTime, 1735963200000);
    assert.equal(r.head.maxTime, 1735973985010);
    assert.equal(r.wal.samples, 36000);
    assert.equal(r.wal.checkpoint?.name, 'checkpoint.00000001');
    assert.deepEqual(
      r.wal.segments.map((s) => [s.name, s.samples]),
      [
        ['00000002', 12000],
        ['00000003', 12000],
        ['00000004', 0],
        ['00000005', 6000],
        ['00000006', 6000],
      ],
    );
    assert.deepEqual(
      r.head.chunksHeadFiles.map((f) => [f.name, f.records]),
      [
        ['000003', 100],
        ['000004', 100],
        ['000005', 50],
        ['000006', 50],
      ],
    );
  },
  overlap(r, exit, s) {
    assert.equal(exit, 0);
    assert.deepEqual(errorsOf(r), []);
    const w = warningsOf(r);
    assert.deepEqual(w.map((d) => d.code), ['block-overlap']);
    const dmg = facts(s).damage as { addedBlock: string; overlapsBlock: string };
    assert.deepEqual([...w[0].blocks!].sort(), [dmg.addedBlock, dmg.overlapsBlock].sort());
    assert.deepEqual(w[0].range, { from: 1735934400001, to: 1735941585011 });
    assert.match(w[0].message, new RegExp(dmg.addedBlock));
    assert.match(w[0].message, new RegExp(dmg.overlapsBlock));
    assert.match(w[0].message, /invalid block sequence/);
    assert.equal(
      w[0].prometheusMessage,
      `level=warn component=tsdb msg="Overlapping blocks found during reloadBlocks" detail="[mint: 1735934400001, ` +
        `maxt: 1735941585011, range: 1h59m45s, blocks: 2]: <ulid: ${dmg.overlapsBlock}, mint: 1735927200001, maxt: ` +
        `1735948785011, range: 5h59m45s>, <ulid: ${dmg.addedBlock}, mint: 1735934400001, maxt: 1735941585011, range: 1h59m45s>"`,
    );
    assert.equal(r.blocks.length, 5);
  },
  'head-gap'(r, exit) {
    assert.equal(exit, 1);
    const e = errorsOf(r);
    assert.deepEqual(e.map((d) => d.code), ['head-chunks-out-of-sequence']);
    assert.equal(e[0].path, 'chunks_head/000005');
    assert.equal(
      e[0].prometheusMessage,
      'opening storage failed: found unsequential head chunk files ' +
        '<data>/chunks_head/000003 (index: 3) and <data>/chunks_head/000005 (index: 5)',
    );
    assert.match(e[0].message, /tsdbdump repair/);
  },
  'wal-gap'(r, exit) {
    assert.equal(exit, 1);
    const e = errorsOf(r);
    assert.deepEqual(e.map((d) => d.code), ['wal-segments-not-sequential']);
    assert.equal(e[0].path, 'wal/00000006');
    assert.equal(e[0].prometheusMessage, 'opening storage failed: get segment range: segments are not sequential');
  },
  'chunk-crc'(r, exit) {
    // The default (full) checks every chunk CRC: Prometheus starts, but every query touching the
    // chunk fails (EXPECTED.md), so it is an error.
    assert.equal(exit, 1);
    assert.equal(r.verify, 'full');
    assert.deepEqual(errorsOf(r).map((d) => d.code), ['chunk-crc-mismatch']);
  },
  'meta-bad'(r, exit, s) {
    assert.equal(exit, 1);
    const dmg = facts(s).damage as { invalid: { block: string; file: string }; missing: { block: string } };
    assert.deepEqual(codes(r, 'error'), ['meta-invalid', 'meta-missing']);
    const inv = r.diagnostics.find((d) => d.code === 'meta-invalid')!;
    assert.equal(inv.path, dmg.invalid.file);
    assert.match(
      inv.prometheusMessage!,
      /Failed to read meta\.json for a block during reloadBlocks\. Skipping.*unexpected end of JSON input/,
    );
    const miss = r.diagnostics.find((d) => d.code === 'meta-missing')!;
    assert.equal(miss.path, `${dmg.missing.block}/`);
    assert.match(miss.prometheusMessage!, /Failed to read meta\.json for a block during reloadBlocks\. Skipping/);
    assert.deepEqual(r.blocks.filter((b) => !b.metaReadable).map((b) => b.dir).sort(), [dmg.invalid.block, dmg.missing.block].sort());
    assert.deepEqual(warningsOf(r), []);
  },
  'no-blocks'(r, exit) {
    assert.equal(exit, 0);
    assert.deepEqual(errorsOf(r), []);
    assert.deepEqual(warningsOf(r), []);
    assert.equal(r.blocks.length, 0);
    assert.equal(r.coverage.minTime, A);
    assert.equal(r.coverage.maxTime, 1735871385009 + 1);
    assert.equal(r.head.minTime, A);
    assert.equal(r.head.maxTime, 1735871385009);
    assert.equal(r.wal.samples, 30000);
    assert.deepEqual(r.coverage.gaps, []);
  },
};

for (const s of SCENARIOS) {
  for (const [form, pathOf] of forms) {
    test(`analyze ${s} (${form}) agrees with Prometheus 2.42`, async () => {
      const { run, result } = await analyzeJson(pathOf(s));
      assert.equal(hasStackTrace(run.stderr), false, run.stderr);
      verdicts[s](result, run.code, s);
    });
  }
}

test('analyze chunk-crc --verify quick: only the startup checks, so the bad chunk CRC goes unseen', async () => {
  // Prometheus does not check chunk CRCs at startup either: quick finds nothing wrong yet.
  const { run, result } = await analyzeJson(dumpPath('chunk-crc'), ['--verify', 'quick']);
  assert.equal(run.code, 0);
  assert.equal(result.verify, 'quick');
  assert.deepEqual(errorsOf(result), []);
  const help = await runCli(['analyze', '--help']);
  assert.match(help.stdout, /--verify quick .*skips the chunk, series and postings\s+CRC32Cs/s);
});

test('analyze chunk-crc --verify full: chunk-crc-mismatch at offset 242153 naming the series and range', async () => {
  for (const src of [dumpPath('chunk-crc'), dataDir('chunk-crc')]) {
    const { run, result } = await analyzeJson(src, ['--verify', 'full']);
    assert.equal(run.code, 1);
    const dmg = facts('chunk-crc').damage as { file: string; chunk: { chunkOffset: number; chunkMinTime: number; chunkMaxTime: number } };
    const e = errorsOf(result);
    assert.deepEqual(e.map((d) => d.code), ['chunk-crc-mismatch']);
    assert.equal(e[0].path, dmg.file);
    assert.equal(e[0].offset, 242153);
    assert.deepEqual(e[0].range, { from: dmg.chunk.chunkMinTime, to: dmg.chunk.chunkMaxTime + 1 });
    assert.match(e[0].message, /node_cpu_seconds_total\{cpu="0",instance="node-4:9100",job="node",mode="idle"\}/);
    assert.match(
      e[0].prometheusMessage!,
      /^cannot populate chunk 242153 from block 00000000000000000000000000: checksum mismatch expected:[0-9a-f]+, actual:[0-9a-f]+$/,
    );
    assert.equal(result.verify, 'full');
  }
});

test('analyze --verify full on healthy data finds nothing either', async () => {
  const { run, result } = await analyzeJson(dumpPath('healthy'), ['--verify', 'full']);
  assert.equal(run.code, 0);
  assert.deepEqual(result.diagnostics.filter((d) => d.severity === 'error' || d.severity === 'warning'), []);
});

for (const s of SCENARIOS) {
  test(`block facts of ${s} equal what promtool tsdb list prints`, async () => {
    const { result } = await analyzeJson(dumpPath(s));
    assert.deepEqual(analysisBlockFacts(result), promtoolList(dataDir(s)));
  });
}

test('the human report names the source, the verdict and every block; exit code as with --json', async () => {
  const run = await runCli(['analyze', dumpPath('head-gap')]);
  assert.equal(run.code, 1);
  assert.match(run.stdout, /^tsdbdump report: /);
  assert.match(run.stdout, /^verdict: 1 error, 0 warnings/m);
  assert.match(run.stdout, /^error head-chunks-out-of-sequence chunks_head\/000005: /m);
  assert.match(run.stdout, /^ {4}prometheus: opening storage failed: found unsequential head chunk files/m);
  for (const b of facts('head-gap').blocks) assert.match(run.stdout, new RegExp(`^block  ${b.dir}  \\|`, 'm'));
  assert.equal(run.stderr, '', 'no progress on a non-TTY stderr');
});

test('usage errors exit 2 with a one-line message', async () => {
  for (const args of [
    ['analyze'],
    ['analyze', dumpPath('healthy'), '--verify', 'deep'],
    ['analyze', dumpPath('healthy'), '--bogus'],
    ['frobnicate'],
  ]) {
    const run = await runCli(args);
    assert.equal(run.code, 2, args.join(' '));
    assert.match(run.stderr, /^tsdbdump: /m);
    assert.equal(hasStackTrace(run.stderr), false);
  }
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /analyze/);
  const ahelp = await runCli(['analyze', '--help']);
  assert.equal(ahelp.code, 0);
  assert.match(ahelp.stdout, /--verify/);
});

test('indexes parsed in the worker thread give the same analysis as in-process', async () => {
  for (const s of ['chunk-crc', 'meta-bad', 'overlap'] as const) {
    const inWorker = await runCli(['analyze', dumpPath(s), '--json', '--verify', 'full'], { env: { TSDBDUMP_INDEX_WORKER_MIN: '0' } });
    const inProcess = await runCli(['analyze', dumpPath(s), '--json', '--verify', 'full'], { env: { TSDBDUMP_INDEX_WORKER: '0' } });
    assert.equal(inWorker.code, inProcess.code, s);
    const strip = (out: string) => ({ ...(JSON.parse(out) as AnalysisResult), durationMs: 0 });
    assert.deepEqual(strip(inWorker.stdout), strip(inProcess.stdout), s);
  }
});
