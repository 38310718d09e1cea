/**
 * The promdump README demo on the test cluster with real Prometheus pods: dump a time window from
 * prod/monitoring/prometheus-0, restore it into dev/observability/prometheus-0 (another context and
 * namespace), and query there a metric that only existed in the source; checksums, the tar layout,
 * the analysis of the dump, the backup (restoring it gives the target back exactly), merge mode,
 * and the CLI commands.
 */
import { execFile } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeSource } from '../../server/src/analysis/analyze';
import { dumpFromPod, type DumpOutcome } from '../../server/src/kube/dump';
import { listContexts } from '../../server/src/kube/kubeconfig';
import { listPrometheusPods, resolvePod } from '../../server/src/kube/prometheusPods';
import { restoreToPod } from '../../server/src/kube/restore';
import { promApi } from '../../server/src/kube/prometheusApi';
import { podSummary } from '../../server/src/kube/summary';
import { analyzePod } from '../../server/src/kube/analyzePod';
import { facts, repoRoot } from '../helpers/fixtures';
import type { TestCluster } from './testCluster';
import {
  assertRestoredFromDump,
  BLOCK_RE,
  eventually,
  hashTree,
  sha256File,
  startKubeTestCluster,
  tarGzEntries,
  waitTsdbSettled,
} from './kube-helpers';

const run = promisify(execFile);
const FROM = Date.parse('2025-01-03T00:00:00Z');
const TO = Date.parse('2025-01-03T12:00:00Z');

let cluster: TestCluster;
let work: string;
let kubeconfig: string;
const prod = () => ({ kubeconfig, context: 'prod', namespace: 'monitoring', pod: 'prometheus-0' });
const dev = () => ({ kubeconfig, context: 'dev', namespace: 'observability', pod: 'prometheus-0' });

async function queryViaProxy(target: ReturnType<typeof dev>, promql: string, atMs: number): Promise<number> {
  const p = await resolvePod(target);
  const data = await promApi<{ result: { value: [number, string] }[] }>(
    p,
    'GET',
    `/api/v1/query?query=${encodeURIComponent(promql)}&time=${atMs / 1000}`,
  );
  return data.result.length ? Number(data.result[0].value[1]) : 0;
}

before(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsdbdump-kube-'));
  cluster = await startKubeTestCluster({ stateDir: path.join(work, 'state') });
  kubeconfig = cluster.kubeconfigPath;
  // Tests compare against the seeded blocks: let Prometheus finish the compactions it starts with.
  await waitTsdbSettled(cluster, 'prod/monitoring/prometheus-0');
});

after(async () => {
  await cluster?.stop();
  await fsp.rm(work, { recursive: true, force: true });
});

describe('pods tree', () => {
  test('contexts come from the kubeconfig without changing its current context', async () => {
    const before = await fsp.readFile(kubeconfig, 'utf8');
    const contexts = await listContexts(kubeconfig);
    assert.deepEqual(contexts.map((c) => c.name).sort(), ['dev', 'prod', 'prod-restricted']);
    const pods = await listPrometheusPods({ kubeconfig, context: 'dev' });
    assert.deepEqual(pods.map((p) => `${p.namespace}/${p.name}`), ['observability/prometheus-0']);
    assert.equal(await fsp.readFile(kubeconfig, 'utf8'), before, 'the kubeconfig file is never written');
    assert.equal(contexts.find((c) => c.current)?.name, 'prod');
  });

  test('Prometheus pods are found by labels and image, other pods are not', async () => {
    const pods = await listPrometheusPods({ kubeconfig, context: 'prod' });
    assert.deepEqual(pods.map((p) => `${p.namespace}/${p.name}`), ['monitoring/prometheus-0', 'monitoring/prometheus-notar-0']);
    const p0 = pods[0];
    assert.equal(p0.prometheusContainer, 'prometheus', 'the config-reloader sidecar is not taken for Prometheus');
    assert.deepEqual(p0.containers, ['prometheus', 'config-reloader']);
    assert.equal(p0.ready, true);
    const bySelector = await listPrometheusPods({ kubeconfig, context: 'prod', labelSelector: 'app=nginx-like' });
    assert.deepEqual(bySelector.map((p) => p.name), ['web-0']);
  });

  test('summary: the blocks of the seeded fixture, head, size, version and retention', async () => {
    // Right after start Prometheus may still replay its WAL and not answer the status API yet.
    const s = await eventually('the status API through the pod proxy', async () => {
      const x = await podSummary(prod());
      return x.prometheusVersion && !x.error ? x : undefined;
    });
    // The live Prometheus may already have compacted the seeded blocks (new ULIDs, same coverage).
    const expected = facts('healthy').blocks;
    assert.ok(s.blocks.length > 0);
    for (const b of s.blocks) assert.ok(b.sizeBytes > 0);
    assert.equal(s.minTime, Math.min(...expected.map((b) => b.minTime!)));
    assert.ok(s.maxTime! >= Math.max(...expected.map((b) => b.maxTime!)));
    assert.match(s.prometheusVersion ?? '', /^2\.42\./);
    assert.equal(s.retention, '100y');
    assert.equal(s.dataDir, '/prometheus');
    assert.ok(s.walSegments > 0, "WAL segments counted"); // chunks_head may be empty right after a head compaction
    assert.ok(s.sizeBytes > 0);
  });

  test('summary errors are items, not exceptions: a missing pod and a restricted user', async () => {
    const missing = await podSummary({ ...prod(), pod: 'nope-0' });
    assert.equal(missing.error?.code, 'kube-not-found');
    const restricted = await podSummary({ ...prod(), context: 'prod-restricted' });
    assert.equal(restricted.error?.code, 'kube-forbidden');
    assert.match(restricted.error!.message, /exec/);
  });
});

describe('the promdump demo: dump from prod, restore into dev, query there', () => {
  let dump: DumpOutcome;
  let backup: string;

  test('dump a window: block-granular selection, head included, checksums verified, manifest beside it', async () => {
    const out = path.join(work, 'prod-window.tar.gz');
    const phases = new Set<string>();
    dump = await dumpFromPod({ target: prod(), from: FROM, to: TO, output: out }, { onProgress: (p) => phases.add(p.phase) });
    assert.equal(dump.output, out);
    assert.ok(existsSync(out) && !existsSync(`${out}.partial`));
    // Block-granular: exactly the blocks (as listed when the dump started) overlapping the window.
    const listed = dump.plan.listing.blocks;
    const inWindow = listed.filter((b) => b.minTime < TO && b.maxTime > FROM).map((b) => b.dir);
    assert.ok(inWindow.length > 0);
    assert.deepEqual([...dump.blocks].sort(), inWindow.sort());
    assert.ok(dump.blocks.length < listed.length, 'the window leaves some blocks out');
    assert.ok(phases.has('verifying') && phases.has('done'));

    const entries = await tarGzEntries(out);
    // promdump layout: relative to the data dir, chunks_head/ and wal/ first, then block dirs
    const firstBlock = entries.findIndex((e) => BLOCK_RE.test(`${e.name}/`));
    const lastHead = Math.max(...entries.map((e, i) => (/^(chunks_head|wal)(\/|$)/.test(e.name) ? i : -1)));
    assert.ok(firstBlock > lastHead, 'head entries come first');
    assert.ok(entries.every((e) => !e.name.startsWith('/') && !e.name.startsWith('./') && !e.name.split('/').includes('..')));
    const blockDirs = new Set(entries.filter((e) => BLOCK_RE.test(e.name)).map((e) => e.name.split('/')[0]));
    const vanished = dump.blocks.filter((b) => dump.changedDuringDump.some((c) => c.startsWith(`${b}/`)));
    assert.deepEqual([...blockDirs].sort(), dump.blocks.filter((b) => !vanished.includes(b) || blockDirs.has(b)).sort());

    // The manifest's hashes are those of the archive's bytes, and match the pod's for every block file.
    const manifest = JSON.parse(await fsp.readFile(dump.manifest, 'utf8')) as DumpOutcome['manifestData'];
    assert.equal(manifest.archive.sha256, await sha256File(out));
    const files = entries.filter((e) => e.type === 'file');
    assert.equal(manifest.files.length, files.length);
    for (const e of files) {
      const m = manifest.files.find((f) => f.path === e.name);
      assert.ok(m, `${e.name} in the manifest`);
      assert.equal(m.sha256, e.sha256, e.name);
      assert.equal(m.size, e.size);
      if (BLOCK_RE.test(e.name) && !dump.changedDuringDump.includes(e.name))
        assert.equal(m.podSha256, e.sha256, `${e.name} verified against the pod`);
    }
    // Immutable block files still in the pod match it byte for byte.
    const podFiles = await hashTree(cluster.pod('prod/monitoring/prometheus-0').dataDir, (rel) => BLOCK_RE.test(rel));
    for (const e of files.filter((f) => BLOCK_RE.test(f.name) && podFiles.has(f.name)))
      assert.equal(podFiles.get(e.name), e.sha256, e.name);
    assert.equal(manifest.pod.context, 'prod');
    assert.match(manifest.prometheusVersion ?? '', /^2\.42/);
    assert.deepEqual(manifest.requestedRange, { from: FROM, to: TO });
  });

  test('the dump is a valid gzip tar for `tar xzf` and the analysis engine', async () => {
    const x = path.join(work, 'extracted');
    await fsp.mkdir(x);
    await run('tar', ['xzf', dump.output, '-C', x]);
    for (const b of dump.blocks) assert.ok(existsSync(path.join(x, b, 'meta.json')), `${b}/meta.json extracted`);
    assert.ok(existsSync(path.join(x, 'wal')));
    const result = await analyzeSource(dump.output);
    assert.deepEqual(result.blocks.map((b) => b.dir).sort(), [...dump.blocks].sort());
    assert.deepEqual(result.diagnostics.filter((d) => d.severity === 'error'), []);
  });

  test('restore into dev (another context and namespace): backup first, then ' +
    'the source-only metric answers through the pod proxy', async () => {
    const at = Date.parse('2025-01-03T06:00:00Z');
    assert.equal(await queryViaProxy(dev(), 'count(fixture_noise)', at), 0, 'dev has no fixture data before the restore');
    backup = path.join(work, 'dev-backup.tar.gz');
    const devBefore = cluster.pod('dev/observability/prometheus-0').uid();
    const phases: string[] = [];
    const r = await restoreToPod(
      { source: dump.output, target: dev(), mode: 'replace', backup },
      { onProgress: (p) => (phases.at(-1) === p.phase ? undefined : phases.push(p.phase)) },
    );
    assert.deepEqual(phases, ['analysing', 'preflight', 'backup', 'uploading', 'verifying', 'swapping', 'restarting', 'checking', 'done']);
    assert.equal(r.backup, backup);
    assert.ok(existsSync(backup) && existsSync(`${backup}.manifest.json`));
    assert.deepEqual([...r.restoredBlocks].sort(), [...dump.blocks].sort());
    assert.ok(r.verifiedRange && r.verifiedSeries! > 0);
    assert.notEqual(cluster.pod('dev/observability/prometheus-0').uid(), devBefore, 'Prometheus was restarted');
    assert.ok((await queryViaProxy(dev(), 'count(fixture_noise)', at)) > 0, 'fixture_noise answers in dev');
    assert.ok((await queryViaProxy(dev(), 'count(node_cpu_seconds_total)', at)) > 0);
    await assertRestoredFromDump(cluster.pod('dev/observability/prometheus-0').dataDir, dump.output);
  });

  test('the backup restores the target exactly', async () => {
    const manifest = JSON.parse(await fsp.readFile(`${backup}.manifest.json`, 'utf8')) as DumpOutcome['manifestData'];
    await restoreToPod({ source: backup, target: dev(), mode: 'replace', backup: path.join(work, 'dev-backup-2.tar.gz') });
    const devData = cluster.pod('dev/observability/prometheus-0').dataDir;
    const now = await hashTree(devData);
    for (const f of manifest.files) {
      if (/^wal\//.test(f.path) || /^chunks_head\//.test(f.path)) {
        // The restarted Prometheus keeps appending to its head: what was backed up is a prefix.
        const abs = path.join(devData, f.path);
        const current = await fsp.readFile(abs).catch(() => undefined);
        assert.ok(current, `${f.path} is back`);
        const { createHash } = await import('node:crypto');
        assert.equal(
          createHash('sha256').update(current.subarray(0, f.size)).digest('hex'),
          f.sha256,
          `${f.path} starts with the backed-up bytes`,
        );
      } else {
        assert.equal(now.get(f.path), f.sha256, f.path);
      }
    }
    assert.deepEqual([...now.keys()].filter((k) => BLOCK_RE.test(k)), [], 'the restored blocks are gone again');
    assert.equal(await queryViaProxy(dev(), 'count(fixture_noise)', Date.parse('2025-01-03T06:00:00Z')), 0);
  });

  test('merge mode adds the blocks the target lacks and keeps its head', async () => {
    const devData = cluster.pod('dev/observability/prometheus-0').dataDir;
    const walBefore = (await fsp.readdir(path.join(devData, 'wal'))).sort();
    const r = await restoreToPod({ source: dump.output, target: dev(), mode: 'merge', backup: path.join(work, 'dev-backup-3.tar.gz') });
    assert.deepEqual([...r.restoredBlocks].sort(), [...dump.blocks].sort());
    assert.ok(r.preview.skipped.some((s) => s.includes('wal')));
    const walAfter = (await fsp.readdir(path.join(devData, 'wal'))).sort();
    assert.ok(walBefore.every((w) => walAfter.includes(w)), 'the target kept its WAL');
    assert.ok((await queryViaProxy(dev(), 'count(fixture_noise)', Date.parse('2025-01-03T06:00:00Z'))) > 0);
    await assert.rejects(
      restoreToPod({ source: dump.output, target: dev(), mode: 'merge', backup: path.join(work, 'dev-backup-4.tar.gz') }),
      (e: Error & { code?: string }) => e.code === 'restore-refused' && /already/.test(e.message),
    );
    assert.ok(!existsSync(path.join(work, 'dev-backup-4.tar.gz')), 'a refused restore backs nothing up');
  });

  test('snapshot mode (admin API): a consistent copy, every file verified, the snapshot removed afterwards', async () => {
    const out = path.join(work, 'snapshot.tar.gz');
    const r = await dumpFromPod({ target: prod(), from: FROM, to: TO, output: out, snapshot: true });
    assert.ok(r.plan.snapshot);
    assert.deepEqual(r.changedDuringDump, [], 'a snapshot does not change while it is read');
    assert.ok(r.manifestData.files.every((f) => f.verified));
    assert.equal(r.manifestData.snapshot, r.plan.snapshot);
    const entries = await tarGzEntries(out);
    assert.ok(
      entries.length > 0 && entries.every((e) => !e.name.startsWith('snapshots/')),
      'entries are relative to the snapshot, like a data dir',
    );
    const snapDir = path.join(cluster.pod('prod/monitoring/prometheus-0').dataDir, 'snapshots');
    assert.deepEqual(existsSync(snapDir) ? await fsp.readdir(snapDir) : [], []);
    const noAdmin = { ...prod(), pod: 'prometheus-notar-0' };
    await assert.rejects(
      dumpFromPod({ target: noAdmin, output: path.join(work, 'x.tar.gz'), snapshot: true }),
      (e: Error & { code?: string }) => e.code === 'usage' && /admin API/.test(e.message),
    );
    assert.ok(!existsSync(path.join(work, 'x.tar.gz')));
  });

  test('analyze in place streams the pod into the analysis without a file', async () => {
    const result = await analyzePod(prod());
    const expected = facts('healthy').blocks;
    assert.ok(result.blocks.length > 0);
    assert.equal(Math.min(...result.blocks.map((b) => b.minTime)), Math.min(...expected.map((b) => b.minTime!)));
    assert.ok(result.wal.segments.length > 0);
    assert.match(result.source, /^pod:prod\/monitoring\/prometheus-0$/);
  });
});

describe('CLI', () => {
  const cli = path.join(repoRoot, 'dist/cli.js');
  const runCli = async (args: string[]) => {
    try {
      const r = await run(process.execPath, [cli, ...args], { maxBuffer: 64 * 1024 * 1024 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  };

  test('pods --json and meta --json', async () => {
    const pods = await runCli(['pods', '--kubeconfig', kubeconfig, '--context', 'prod', '-n', 'monitoring', '--json']);
    assert.equal(pods.code, 0, pods.stderr);
    assert.deepEqual((JSON.parse(pods.stdout) as { name: string }[]).map((p) => p.name), ['prometheus-0', 'prometheus-notar-0']);
    const meta = await runCli(['meta', 'monitoring/prometheus-0', '--kubeconfig', kubeconfig, '--context', 'prod', '--json']);
    assert.equal(meta.code, 0, meta.stderr);
    assert.ok((JSON.parse(meta.stdout) as { blocks: unknown[] }).blocks.length > 0);
  });

  test('dump with RFC 3339 times, and local times are refused', async () => {
    const out = path.join(work, 'cli.tar.gz');
    const r = await runCli([
      'dump',
      'prod/monitoring/prometheus-0',
      '--kubeconfig',
      kubeconfig,
      '--from',
      '2025-01-03T00:00:00Z',
      '--to',
      '2025-01-03T12:00:00+00:00',
      '-o',
      out,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as { output: string; blocks: string[] };
    assert.equal(res.output, out);
    assert.match(r.stderr, /block-granular/);
    assert.ok(existsSync(out));
    const local = await runCli([
      'dump',
      'prod/monitoring/prometheus-0',
      '--kubeconfig',
      kubeconfig,
      '--from',
      '2025-01-03T00:00:00',
      '-o',
      path.join(work, 'x.tar.gz'),
    ]);
    assert.equal(local.code, 2);
    assert.match(local.stderr, /no time zone/);
    assert.ok(!existsSync(path.join(work, 'x.tar.gz')));
  });

  test('restore --dry-run: prints what the restore would do and changes nothing (no terminal, no --yes needed)', async () => {
    const dev = cluster.pod('dev/observability/prometheus-0');
    const blocksBefore = await hashTree(dev.dataDir, (rel) => BLOCK_RE.test(rel));
    const uid = dev.uid();
    const filesBefore = await fsp.readdir(work);
    const r = await runCli([
      'restore',
      path.join(work, 'cli.tar.gz'),
      'observability/prometheus-0',
      '--context',
      'dev',
      '--kubeconfig',
      kubeconfig,
      '--dry-run',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^restore into dev\/observability\/prometheus-0:\S+ .*mode replace$/m);
    assert.match(r.stdout, /^replaces everything now in /m);
    assert.match(r.stdout, /^upload: /m);
    assert.match(r.stdout, /\(dry run: nothing was changed\)/);
    assert.deepEqual(await hashTree(dev.dataDir, (rel) => BLOCK_RE.test(rel)), blocksBefore);
    assert.equal(dev.uid(), uid, 'the pod was not restarted');
    assert.deepEqual(await fsp.readdir(work), filesBefore, 'no backup (nor anything else) written');
  });

  test('restore without a terminal needs --yes; analyze pod: works', async () => {
    const r = await runCli(['restore', path.join(work, 'cli.tar.gz'), 'dev/observability/prometheus-0', '--kubeconfig', kubeconfig]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--yes/);
    const a = await runCli(['analyze', 'pod:monitoring/prometheus-0', '--kubeconfig', kubeconfig, '--context', 'prod', '--json']);
    assert.equal(a.code, 0, a.stderr);
    assert.ok((JSON.parse(a.stdout) as { blocks: unknown[] }).blocks.length > 0);
  });
});
