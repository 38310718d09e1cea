/**
 * Fuzz-style robustness: random byte flips and truncations of a real dump (tar and tar.gz, fixed
 * seed). Every run must end with exit 0/1 and a valid AnalysisResult, or exit 2 with a clear
 * failure code; never a crash, a stack trace or an `internal` error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { FAILURE_CODES, DIAGNOSTIC_CODES } from '../../server/src/errors';
import { dumpPath } from '../helpers/fixtures';
import { hasStackTrace, runCli } from './cliHelpers';
import { rng } from '../helpers/random';

const ITERATIONS = 200;
const PARALLEL = 2;


test(`fuzz: ${ITERATIONS} mutated or truncated dumps never crash the analyzer`, { timeout: 15 * 60_000 }, async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-fuzz-'));
  const gz = readFileSync(dumpPath('healthy'));
  const tar = zlib.gunzipSync(gz);
  const rand = rng(20250103);
  const int = (n: number) => Math.floor(rand() * n);
  const cases: { file: string; verify: string; what: string }[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const kind = i % 4;
    let bytes: Buffer;
    let what: string;
    if (kind === 0 || kind === 2) {
      bytes = Buffer.from(kind === 0 ? tar : gz);
      const flips = 1 + int(16);
      for (let k = 0; k < flips; k++) bytes[int(bytes.length)] ^= 1 + int(255);
      what = `${flips} flips in ${kind === 0 ? 'tar' : 'tar.gz'}`;
      if (kind === 0 && i % 8 === 0) bytes = zlib.gzipSync(bytes, { level: 1 });
    } else {
      const src = kind === 1 ? tar : gz;
      const cut = int(src.length);
      bytes = src.subarray(0, cut);
      what = `${kind === 1 ? 'tar' : 'tar.gz'} cut at ${cut}`;
    }
    const file = path.join(tmp, `case-${i}.bin`);
    writeFileSync(file, bytes);
    cases.push({ file, verify: i % 3 === 0 ? 'full' : 'quick', what });
  }
  let next = 0;
  const outcomes: Record<string, number> = {};
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++];
      const run = await runCli(['analyze', c.file, '--json', '--verify', c.verify], { timeoutMs: 120_000 });
      const label = `${c.what} (${path.basename(c.file)})`;
      assert.ok([0, 1, 2].includes(run.code), `${label}: exit ${run.code}\n${run.stderr}`);
      assert.equal(hasStackTrace(run.stderr), false, `${label}: ${run.stderr}`);
      const out = JSON.parse(run.stdout);
      if (run.code === 2) {
        assert.ok((FAILURE_CODES as readonly string[]).includes(out.error.code), label);
        assert.notEqual(out.error.code, 'internal', `${label}: ${out.error.message}`);
        outcomes[out.error.code] = (outcomes[out.error.code] ?? 0) + 1;
      } else {
        assert.ok(Array.isArray(out.blocks) && Array.isArray(out.diagnostics), label);
        for (const d of out.diagnostics) assert.ok((DIAGNOSTIC_CODES as readonly string[]).includes(d.code), `${label}: ${d.code}`);
        assert.equal(run.code === 1, out.diagnostics.some((d: { severity: string }) => d.severity === 'error'), label);
        outcomes[`exit ${run.code}`] = (outcomes[`exit ${run.code}`] ?? 0) + 1;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: PARALLEL }, worker));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  // Both kinds of endings occur: analyses (with and without errors) and clear failures.
  assert.ok(
    (outcomes['exit 1'] ?? 0) > 0 && (outcomes['exit 0'] ?? 0) + (outcomes['exit 1'] ?? 0) > ITERATIONS / 4,
    JSON.stringify(outcomes),
  );
});
