/** `tsdbdump analyze` on inputs that are not (complete, safe) dumps: right code, exit code, no stack trace. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { dumpPath } from '../helpers/fixtures';
import { makeTar } from '../unit/dump/helpers';
import { spawn } from 'node:child_process';
import { analyzeJson, cliPath, ensureCli, errorsOf, hasStackTrace, runCli } from './cliHelpers';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-input-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const file = (name: string, bytes: Uint8Array | string) => {
  const p = path.join(tmp, name);
  writeFileSync(p, bytes);
  return p;
};

async function expectFailure(source: string, code: string, re?: RegExp): Promise<void> {
  const run = await runCli(['analyze', source]);
  assert.equal(run.code, 2, `${source}: ${run.stderr}`);
  assert.match(run.stderr, /^tsdbdump: /);
  if (re) assert.match(run.stderr, re);
  assert.equal(hasStackTrace(run.stderr), false, run.stderr);
  assert.equal(run.stdout, '');
  const json = await runCli(['analyze', source, '--json']);
  assert.equal(json.code, 2);
  assert.equal(JSON.parse(json.stdout).error.code, code);
}

test('not a dump: promdump text, random text, empty file, random bytes, gzip of non-tar, tar without TSDB data', async () => {
  await expectFailure(file('promdump.tar.gz', 'No persistent blocks found\n'), 'not-a-dump', /No persistent blocks found/);
  await expectFailure(file('notes.txt', 'Lorem ipsum dolor sit amet\n'.repeat(20)), 'not-a-dump', /not a Prometheus dump/);
  await expectFailure(file('empty.tar.gz', ''), 'not-a-dump', /empty/);
  const rnd = Buffer.alloc(10000);
  let x = 7;
  for (let i = 0; i < rnd.length; i++) rnd[i] = (x = (x * 1103515245 + 12345) & 0x7fffffff) >> 16;
  rnd[0] = 0x42;
  await expectFailure(file('random.bin', rnd), 'not-a-dump');
  await expectFailure(file('text.gz', zlib.gzipSync('a gzip of text, not a tar\n'.repeat(50))), 'not-a-dump', /not a tar/);
  await expectFailure(file('other.tar', await makeTar([{ name: 'hello.txt', body: 'hi' }])), 'not-a-dump', /without Prometheus TSDB data/);
  await expectFailure(path.join(tmp, 'does-not-exist.tar.gz'), 'io-error', /no such file/);
});

test('a .tar.gz cut at several points: dump-truncated with what was read (exit 1), or exit 2 before the first entry', async () => {
  const whole = readFileSync(dumpPath('healthy'));
  await expectFailure(file('cut-10.tar.gz', whole.subarray(0, 10)), 'dump-truncated');
  for (const frac of [0.1, 0.3, 0.6, 0.95, 0.9999]) {
    const src = file(`cut-${frac}.tar.gz`, whole.subarray(0, Math.floor(whole.length * frac)));
    const { run, result } = await analyzeJson(src);
    assert.equal(run.code, 1, `cut at ${frac}`);
    assert.equal(hasStackTrace(run.stderr), false);
    const t = errorsOf(result).filter((d) => d.code === 'dump-truncated');
    assert.equal(t.length, 1, `cut at ${frac}`);
    assert.match(t[0].message, /entries were read/);
    // No meta-missing noise for the block the cut went through.
    assert.ok(
      result.diagnostics.filter((d) => d.code === 'meta-missing').length <= 0,
      JSON.stringify(result.diagnostics.map((d) => d.code)),
    );
  }
});

test('unsafe tar entries (.., absolute path, symlink) are tar-unsafe-path errors (exit 1) and nothing is written', async () => {
  const dir = mkdtempSync(path.join(tmp, 'unsafe-'));
  const src = path.join(dir, 'evil.tar.gz');
  const wal = readFileSync(path.join(path.dirname(dumpPath('healthy')), 'healthy/data/wal/00000002'));
  writeFileSync(
    src,
    await makeTar(
      [
        { name: 'wal/', type: 'directory' },
        { name: 'wal/00000002', body: wal },
        { name: '../evil', body: 'evil' },
        { name: '/tmp/tsdbdump-evil-absolute', body: 'evil' },
        { name: 'chunks_head/000001', type: 'symlink', linkname: '/etc/passwd' },
      ],
      true,
    ),
  );
  const before = readdirSync(path.dirname(dir)).sort();
  const { run, result } = await analyzeJson(src);
  const unsafe = result.diagnostics.filter((d) => d.code === 'tar-unsafe-path');
  assert.deepEqual(unsafe.map((d) => d.path), ['../evil', '/tmp/tsdbdump-evil-absolute', 'chunks_head/000001'].sort());
  for (const d of unsafe) assert.equal(d.severity, 'error');
  assert.equal(run.code, 1);
  assert.deepEqual(result.wal.segments.map((s) => s.name), ['00000002']);
  assert.deepEqual(result.head.chunksHeadFiles, []);
  assert.deepEqual(readdirSync(dir), ['evil.tar.gz']);
  assert.deepEqual(readdirSync(path.dirname(dir)).sort(), before);
  assert.ok(!readdirSync('/tmp').includes('tsdbdump-evil-absolute'));
});

test('a reader that closes the pipe early (`samples … | head -1`): the CLI stops, exit 0, no stack trace, no staging left', async () => {
  ensureCli();
  const tmpdir = mkdtempSync(path.join(tmp, 'tmpdir-'));
  const child = spawn(process.execPath, [cliPath, 'samples', dumpPath('healthy'), '--match', '{__name__=~".+"}', '--csv'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TMPDIR: tmpdir },
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // Like head -1: read the first chunk, then close our end of the pipe.
  const first = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
  child.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.match(first, /^series,timestamp_ms,value/);
  assert.equal(code, 0, stderr);
  assert.equal(hasStackTrace(stderr), false, stderr);
  assert.equal(stderr, '');
  assert.deepEqual(readdirSync(tmpdir), [], 'the staged copy of the dump is removed');
});
