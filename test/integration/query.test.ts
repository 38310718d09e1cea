/**
 * `tsdbdump query` and the local Prometheus behind it (server/src/query/), with real Prometheus 2.42
 * and 3.16: answers equal what the same Prometheus serves when started by hand on the same data
 * (and what make-tsdb.sh's own start recorded in observed.json), bad expressions and limits come
 * back as data with exit 2, a dump Prometheus refuses to start on names the analysis's diagnostic,
 * the source is never touched, and nothing (process, temp dir) outlives the CLI, also on Ctrl-C and
 * a SIGKILL of the parent.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dataDir, dumpPath, dumpPath3, observed3, prometheus3Bin, repoRoot, type Scenario3 } from '../helpers/fixtures';
import { startPrometheus } from '../helpers/prometheus';
import { LocalPrometheus } from '../../server/src/query/localPrometheus';
import type { QueryAnswer } from '../../server/src/protocol';
import { cliPath, ensureCli, hasStackTrace, runCli } from './cliHelpers';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-querytest-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const ANCHOR = 1735862400000;
const HOUR = 3_600_000;
const P242 = '/usr/bin/prometheus';
const p316 = () => path.join(prometheus3Bin('3.16.0'), 'prometheus');

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Our temp dirs and processes: every tsdbdump-query-* dir, and every process whose command line names one. */
function leftovers(): { dirs: string[]; procs: string[] } {
  const dirs = readdirSync(os.tmpdir()).filter((n) => n.startsWith('tsdbdump-query-'));
  const procs: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (dirs.some((d) => cmd.includes(d))) procs.push(`${pid}: ${cmd}`);
  }
  return { dirs, procs };
}

/** Child pids of a process (from /proc/<pid>/task/<pid>/children). */
function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function queryJson(args: string[]): Promise<{ code: number; stderr: string; answer: QueryAnswer & { prometheus?: string } }> {
  const run = await runCli(['query', ...args, '--json']);
  assert.ok(!hasStackTrace(run.stderr), run.stderr);
  try {
    return { code: run.code, stderr: run.stderr, answer: JSON.parse(run.stdout) };
  } catch {
    throw new Error(`query printed no JSON (exit ${run.code}): ${run.stderr}`);
  }
}

/** What Prometheus itself serves on an extracted copy (tar xzf, started by the test helper). */
async function servedByHand(dump: string, binary: string, api: string, params: Record<string, string>): Promise<unknown> {
  const dir = mkdtempSync(path.join(tmp, 'byhand-'));
  execFileSync('tar', ['xzf', dump, '-C', dir]);
  const prom = await startPrometheus(dir, binary);
  try {
    const res = await fetch(`http://127.0.0.1:${prom.port}${api}`, { method: 'POST', body: new URLSearchParams(params) });
    const body = (await res.json()) as { status: string; data: unknown };
    assert.equal(body.status, 'success', JSON.stringify(body));
    return body.data;
  } finally {
    await prom.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const builds = () => [
  { name: '2.42', binary: P242, dump: (s: Scenario3) => (s === 'native' ? undefined : dumpPath(s as Exclude<Scenario3, 'native'>)) },
  { name: '3.16.0', binary: p316(), dump: (s: Scenario3) => dumpPath3('3.16.0', s) },
];

for (const b of ['2.42', '3.16.0'] as const) {
  test(`${b}: instant and range answers equal what the same Prometheus serves on a copy started by hand`, async () => {
    const build = builds().find((x) => x.name === b)!;
    const dump = build.dump('healthy')!;
    const before = sha256(dump);
    const at = ANCHOR + 30 * HOUR;
    const instant = await queryJson([dump, 'rate(http_requests_total[5m])', '--time', String(at), '--prometheus', build.binary]);
    assert.equal(instant.code, 0, instant.stderr);
    assert.equal(instant.answer.data!.resultType, 'vector');
    assert.ok((instant.answer.data!.result as unknown[]).length > 0, 'the healthy fixture has http_requests_total');
    assert.deepEqual(instant.answer.data, await servedByHand(dump, build.binary, '/api/v1/query', { query: 'rate(http_requests_total[5m])', time: String(at / 1000) }));
    const from = ANCHOR;
    const to = ANCHOR + 40 * HOUR;
    const expr = 'sum by (job) (rate(http_requests_total[5m]))';
    const range = await queryJson([dump, expr, '--from', String(from), '--to', String(to), '--step', '10m', '--prometheus', build.binary]);
    assert.equal(range.code, 0, range.stderr);
    assert.equal(range.answer.data!.resultType, 'matrix');
    const byHand = await servedByHand(dump, build.binary, '/api/v1/query_range', {
      query: expr,
      start: String(from / 1000),
      end: String(to / 1000),
      step: '600',
    });
    assert.deepEqual(range.answer.data, byHand);
    assert.equal(sha256(dump), before, 'the source dump is untouched');
  });
}

test('3.16.0: every scenario serves the samples that real 3.16 served in make-tsdb.sh (observed.json), or is refused', async () => {
  for (const s of ['healthy', 'overlap', 'meta-bad', 'no-blocks', 'native', 'head-gap', 'wal-gap'] as const) {
    const o = observed3('3.16.0', s);
    let local: LocalPrometheus | undefined;
    try {
      local = await LocalPrometheus.start(dumpPath3('3.16.0', s), { binary: p316() });
    } catch (e) {
      assert.equal(o.ready, false, `${s}: refused, but 3.16 started on it in make-tsdb.sh: ${String(e)}`);
      assert.equal((e as { code?: string }).code, 'prometheus-refused', `${s}: ${String(e)}`);
      continue;
    }
    try {
      assert.equal(o.ready, true, `${s}: started, but 3.16 refused it in make-tsdb.sh`);
      // The same count as make-tsdb.sh's countServed: one count_over_time per metric name.
      const from = ANCHOR - 100 * HOUR;
      const to = ANCHOR + 40 * HOUR;
      let total = 0;
      for (const name of (await local.names({ kind: 'labelValues', label: '__name__' })).names!) {
        const q = `sum(count_over_time({__name__=${JSON.stringify(name)}}[${Math.ceil((to - from) / 1000) + 1}s]))`;
        const a = await local.query({ expr: q, time: to });
        assert.equal(a.problem, undefined, `${s}: ${JSON.stringify(a.problem)}`);
        const r = a.data!.result as { value: [number, string] }[];
        total += r.length ? Number(r[0].value[1]) : 0;
      }
      assert.equal(total, o.servedSamples, `${s}: samples served`);
    } finally {
      await local.stop();
    }
  }
});

test('3.16.0 native: a histogram series comes back as Prometheus histograms', async () => {
  const dump = dumpPath3('3.16.0', 'native');
  const r = await queryJson([dump, 'fixture_histogram', '--time', String(ANCHOR + 3 * HOUR), '--prometheus', p316()]);
  assert.equal(r.code, 0, r.stderr);
  const series = r.answer.data!.result as { histogram?: [number, { count: string }] }[];
  assert.ok(series.length > 0 && series.every((x) => x.histogram && Number(x.histogram[1].count) > 0), JSON.stringify(series).slice(0, 500));
  assert.match(r.answer.prometheus ?? '', /^3\.16\.0/);
});

test('an expression that does not parse: its position, exit 2, no Prometheus needed to say so', async () => {
  const expr = 'sum(rate(http_requests_total[5m]) by (job)';
  const r = await queryJson([dumpPath('healthy'), expr, '--prometheus', P242]);
  assert.equal(r.code, 2);
  assert.equal(r.answer.problem?.kind, 'syntax');
  // Lezer stops at ` by`: the aggregation's argument list is still open there.
  assert.deepEqual([r.answer.problem!.syntax!.line, r.answer.problem!.syntax!.column], [1, 35]);
  assert.equal(r.answer.problem!.syntax!.offset, 34);
  const text = await runCli(['query', dumpPath('healthy'), expr, '--prometheus', P242]);
  assert.equal(text.code, 2);
  assert.match(text.stderr, /^tsdbdump: 1:35: /m);
  assert.match(text.stderr, new RegExp(`^ {2}${' '.repeat(34)}\\^$`, 'm'), 'a caret under the position');
});

test("a type error Prometheus finds is its bad_data, exit 2", async () => {
  const r = await queryJson([dumpPath('healthy'), 'rate(up)', '--prometheus', P242]);
  assert.equal(r.code, 2);
  assert.equal(r.answer.problem?.kind, 'prometheus');
  assert.equal(r.answer.problem?.errorType, 'bad_data');
});

for (const b of ['2.42', '3.16.0'] as const) {
  test(`${b}: a query over --query.max-samples says which limit and how to narrow it`, async () => {
    const build = builds().find((x) => x.name === b)!;
    const r = await queryJson([build.dump('healthy')!, '{__name__!=""}[40h]', '--time', String(ANCHOR + 40 * HOUR), '--max-samples', '1000', '--prometheus', build.binary]);
    assert.equal(r.code, 2, r.stderr);
    assert.deepEqual(r.answer.problem?.limit, { flag: 'query.max-samples', value: '1000' });
    assert.match(r.stderr, /--query\.max-samples=1000/);
  });
}

test('a query over --query.timeout says so', async () => {
  // 9 600 steps of a rate over every series: far more than 1 ms of work (the engine checks its deadline every step).
  const args = ['--from', String(ANCHOR), '--to', String(ANCHOR + 40 * HOUR), '--step', '15s', '--timeout', '1ms', '--prometheus', P242];
  const r = await queryJson([dumpPath('healthy'), 'sum(rate({__name__!=""}[5m]))', ...args]);
  assert.equal(r.code, 2, r.stderr);
  assert.deepEqual(r.answer.problem?.limit, { flag: 'query.timeout', value: '1ms' });
});

test('a dump Prometheus refuses to start on: exit 1, the analysis diagnostic, and how to repair it', async () => {
  for (const b of builds()) {
    const dump = b.dump('head-gap')!;
    const r = await runCli(['query', dump, 'up', '--prometheus', b.binary, '--json']);
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout) as { error: { code: string; diagnostics: { code: string; path: string }[] } };
    assert.equal(out.error.code, 'prometheus-refused');
    assert.deepEqual(out.error.diagnostics.map((d) => [d.code, d.path]), [['head-chunks-out-of-sequence', 'chunks_head/000005']]);
    assert.match(r.stderr, /tsdbdump repair /);
  }
});

test('no Prometheus binary: a clear message saying how to get one, exit 2', async () => {
  const r = await runCli(['query', dumpPath('healthy'), 'up', '--json'], { env: { PATH: mkdtempSync(path.join(tmp, 'empty-path-')) } });
  assert.equal(r.code, 2);
  assert.equal(JSON.parse(r.stdout).error.code, 'prometheus-missing');
  assert.match(r.stderr, /^tsdbdump: .*--prometheus/m);
  const bad = await runCli(['query', dumpPath('healthy'), 'up', '--prometheus', path.join(tmp, 'nope'), '--json']);
  assert.equal(bad.code, 2);
  assert.equal(JSON.parse(bad.stdout).error.code, 'prometheus-missing');
});

test('a data dir as source: copied, never written (every file keeps its bytes and mtime)', async () => {
  const dir = dataDir('healthy');
  const files = readdirSync(dir, { recursive: true }).map(String).filter((f) => statSync(path.join(dir, f)).isFile()).sort();
  const snapshot = () => files.map((f) => `${f} ${statSync(path.join(dir, f)).mtimeMs} ${sha256(path.join(dir, f))}`);
  const before = snapshot();
  const r = await queryJson([dir, 'count(up)', '--time', String(ANCHOR + 30 * HOUR), '--prometheus', P242]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(dir, { recursive: true }).map(String).filter((f) => statSync(path.join(dir, f)).isFile()).sort(), files);
  assert.deepEqual(snapshot(), before);
});

test('nothing outlives the CLI: after an answer, after Ctrl-C, after a SIGKILL of the parent', async () => {
  ensureCli();
  const mine = () => {
    const l = leftovers();
    return { dirs: l.dirs.filter((d) => !before.dirs.includes(d)), procs: l.procs.filter((p) => !before.procs.includes(p)) };
  };
  const before = leftovers();
  // After an answer: the CLI returned, so everything is gone already.
  const r = await runCli(['query', dumpPath('healthy'), 'up', '--prometheus', P242]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(mine(), { dirs: [], procs: [] });

  // Ctrl-C: SIGINT to the CLI's whole process group, as a terminal sends it, while Prometheus starts.
  const cli = spawn(process.execPath, [cliPath, 'query', dumpPath('healthy'), 'up', '--prometheus', P242], { detached: true, stdio: 'ignore' });
  const prom = await until('Prometheus under the CLI', () => children(cli.pid!).flatMap(children)[0]);
  process.kill(-cli.pid!, 'SIGINT');
  const code = await new Promise<number | null>((resolve) => cli.once('exit', (c) => resolve(c)));
  assert.notEqual(code, 0);
  await until('Prometheus gone after Ctrl-C', () => !alive(prom));
  assert.deepEqual(mine(), { dirs: [], procs: [] });

  // SIGKILL of the parent: its end of the guard's stdin closes, the guard stops Prometheus and removes the copy.
  const holder = spawn(process.execPath, [path.join(repoRoot, 'out/test/helpers/queryHolder.js'), dumpPath('healthy'), P242], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let text = '';
    holder.stdout!.on('data', (c) => {
      text += String(c);
      if (text.includes('\n')) resolve(text.split('\n')[0]);
    });
    holder.once('exit', (c) => reject(new Error(`holder exited with ${c}`)));
  });
  const { tempDir, port } = JSON.parse(line) as { tempDir: string; port: number };
  assert.equal((await fetch(`http://127.0.0.1:${port}/-/ready`)).status, 200);
  const held = children(holder.pid!).flatMap(children);
  assert.equal(held.length, 1, 'Prometheus runs under the guard');
  holder.kill('SIGKILL');
  await until('Prometheus gone after SIGKILL of its parent', () => held.every((p) => !alive(p)));
  await until('temp dir removed', () => !existsSync(tempDir));
  await assert.rejects(fetch(`http://127.0.0.1:${port}/-/ready`));
  assert.deepEqual(mine(), { dirs: [], procs: [] });
});
