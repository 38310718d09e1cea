/**
 * Faults on the test cluster: exec denied, a pod without tar, the connection killed mid-dump and
 * mid-restore, the pod deleted mid-dump, a full local disk, cancellation, a damaged dump. In every
 * case: a clear error, no file under the final name (nor a leftover .partial), no data lost in the pod.
 */
import { execFile } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeSource } from '../../server/src/analysis/analyze';
import { dumpFromPod, executeDump, planDump } from '../../server/src/kube/dump';
import { restoreToPod } from '../../server/src/kube/restore';
import { dataDir, dumpPath } from '../helpers/fixtures';
import type { KubeTarget } from '../../server/src/protocol';
import type { TestCluster } from './testCluster';
import {
  BLOCK_RE,
  eventually,
  hashTree,
  midSizeFixture,
  seriesAt as seriesAtTime,
  startKubeTestCluster,
  tarGzEntries,
  waitTsdbSettled,
} from './kube-helpers';

const run = promisify(execFile);
const AT = Date.parse('2025-01-03T06:00:00Z');

let cluster: TestCluster;
let work: string;
let kubeconfig: string;
const target = (context: string, namespace: string, pod: string) => ({ kubeconfig, context, namespace, pod });
const prod = () => target('prod', 'monitoring', 'prometheus-0');
const notar = () => target('prod', 'monitoring', 'prometheus-notar-0');
const dev = () => target('dev', 'observability', 'prometheus-0');

/** A PromQL value at AT, the middle of the fixture data. */
const seriesAt = (t: KubeTarget, promql: string) => seriesAtTime(t, promql, AT);

/** Nothing under the final name, no .partial, no manifest. */
async function assertNoOutput(out: string): Promise<void> {
  for (const f of [out, `${out}.partial`, `${out}.manifest.json`, `${out}.manifest.json.partial`])
    assert.ok(!existsSync(f), `${path.basename(f)} must not exist`);
}

/** Nothing under the final name; what was received is kept in `.partial` with its progress record, for a resume (kube/dumpResume.ts). */
async function assertKeptForResume(out: string): Promise<void> {
  for (const f of [out, `${out}.manifest.json`, `${out}.manifest.json.partial`]) assert.ok(!existsSync(f), `${path.basename(f)} must not exist`);
  assert.ok(existsSync(`${out}.partial`) && existsSync(`${out}.partial.resume.json`), 'the partial and its progress record are kept');
}

/** The fixture's data still answers in the pod (after it is Ready again). */
async function assertPodDataIntact(t: ReturnType<typeof prod>, key: string): Promise<void> {
  await cluster.pod(key).waitReady(120_000);
  const n = await eventually('fixture data answering', async () => {
    const v = await seriesAt(t, 'count(fixture_noise)');
    return v > 0 ? v : undefined;
  });
  assert.ok(n > 0);
}

before(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsdbdump-kube-faults-'));
  cluster = await startKubeTestCluster({
    stateDir: path.join(work, 'state'),
    seed: { 'prod/monitoring/prometheus-0': midSizeFixture(), 'prod/monitoring/prometheus-notar-0': dataDir('healthy') },
  });
  kubeconfig = cluster.kubeconfigPath;
  // Tests compare against the seeded blocks: let Prometheus finish the compactions it starts with.
  await waitTsdbSettled(cluster, 'prod/monitoring/prometheus-0');
  await waitTsdbSettled(cluster, 'prod/monitoring/prometheus-notar-0');
});

after(async () => {
  await cluster?.stop();
  await fsp.rm(work, { recursive: true, force: true });
});

describe('permissions', () => {
  test('a user without exec rights gets kube-forbidden from the access review, before anything streams', async () => {
    const out = path.join(work, 'forbidden.tar.gz');
    await assert.rejects(
      dumpFromPod({ target: target('prod-restricted', 'monitoring', 'prometheus-0'), output: out }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'kube-forbidden');
        assert.match(e.message, /no permission to exec into monitoring\/prometheus-0 \(create pods\/exec\) in context prod-restricted/);
        return true;
      },
    );
    await assertNoOutput(out);
    assert.equal(cluster.pod('prod/monitoring/prometheus-0').activeExecs?.() ?? 0, 0);
  });
});

describe('a pod without tar', () => {
  test('dump falls back to reading files one by one: same entries, verified, readable', async () => {
    const withTar = await dumpFromPod({ target: prod(), output: path.join(work, 'with-tar.tar.gz') });
    const out = path.join(work, 'notar.tar.gz');
    const r = await dumpFromPod({ target: notar(), output: out });
    assert.equal(r.plan.useTar, false);
    const entries = await tarGzEntries(out);
    const files = entries.filter((e) => e.type === 'file');
    assert.ok(files.some((f) => f.name.startsWith('wal/')) && files.some((f) => BLOCK_RE.test(f.name)));
    assert.ok(
      files.findIndex((f) => BLOCK_RE.test(f.name)) > files.findIndex((f) => f.name.startsWith('wal/')),
      'head first, like the tar layout',
    );
    const manifest = r.manifestData;
    for (const f of files.filter((x) => BLOCK_RE.test(x.name) && !r.changedDuringDump.includes(x.name))) {
      assert.equal(manifest.files.find((m) => m.path === f.name)?.podSha256, f.sha256, f.name);
    }
    const x = path.join(work, 'notar-x');
    await fsp.mkdir(x);
    await run('tar', ['xzf', out, '-C', x]);
    const result = await analyzeSource(out);
    assert.deepEqual(result.diagnostics.filter((d) => d.severity === 'error'), []);
    assert.ok(withTar.files > 0 && r.files > 0);
  });

  test('restore into it uploads with cat and verifies with sha256sum', async () => {
    const src = path.join(work, 'with-tar.tar.gz');
    const r = await restoreToPod({ source: src, target: notar(), mode: 'replace', backup: path.join(work, 'notar-backup.tar.gz') });
    assert.ok(r.verifiedSeries! > 0);
    assert.ok(existsSync(path.join(work, 'notar-backup.tar.gz')));
    assert.ok((await seriesAt(notar(), 'count(fixture_noise)')) > 0);
  });
});

describe('connection and pod failures', () => {
  test('the connection killed mid-dump: clear error, no file, pod data intact', async () => {
    const out = path.join(work, 'dropped.tar.gz');
    const plan = await planDump({ target: prod() });
    // The first exec to send 256 KiB is the tar stream (the leftover sweep before it sends nothing;
    // pod hashing runs after it in this mode).
    cluster.injectFault('prod/monitoring/prometheus-0', { kind: 'drop-exec-after-bytes', bytes: 256 * 1024 });
    await assert.rejects(executeDump(plan, out, { podHashConcurrently: false }), (e: Error & { code?: string }) => {
      assert.match(e.message, /dump of monitoring\/prometheus-0 failed: .*(connection|closed|truncated|end)/i);
      assert.match(e.message, /received are kept in dropped\.tar\.gz\.partial: run the same dump again to resume it/);
      return true;
    });
    await assertKeptForResume(out);
    await assertPodDataIntact(prod(), 'prod/monitoring/prometheus-0');
  });

  test('the pod deleted mid-dump: clear error, no file, the recreated pod has its data', async () => {
    const out = path.join(work, 'deleted.tar.gz');
    const key = 'prod/monitoring/prometheus-0';
    let deleting: Promise<void> | undefined;
    await assert.rejects(
      dumpFromPod(
        { target: prod(), output: out },
        {
          // ~20 MB read at 1 MB/s, the pod deleted at the first bytes: the pod's tar is still writing
          // then (the API server, the sockets and our reader buffer ~10 MB between it and us)
          maxBytesPerSecond: 1_000_000,
          onProgress: (p) => {
            if (p.phase === 'streaming' && p.bytes > 0 && !deleting) deleting = cluster.deletePod(key);
          },
        },
      ),
      (e: Error & { code?: string }) => {
        assert.match(e.message, /dump of monitoring\/prometheus-0 failed/);
        return true;
      },
    );
    assert.ok(deleting, 'the pod was deleted while the dump streamed');
    await deleting;
    for (const f of [out, `${out}.manifest.json`]) assert.ok(!existsSync(f), `${path.basename(f)} must not exist`);
    await assertPodDataIntact(prod(), key);
  });

  test('the connection killed mid-restore: the target is unchanged and the staging dir removed', async () => {
    const src = path.join(work, 'with-tar.tar.gz');
    const devData = cluster.pod('dev/observability/prometheus-0').dataDir;
    const before = [...(await fsp.readdir(devData))].sort();
    const devUid = cluster.pod('dev/observability/prometheus-0').uid();
    let dropped = false;
    await assert.rejects(
      restoreToPod(
        { source: src, target: dev(), mode: 'replace', backup: path.join(work, 'dev-backup-drop.tar.gz') },
        {
          onProgress: (p) => {
            // announced right before the upload exec starts: the next exec of the pod is the upload
            if (p.phase === 'uploading' && !dropped) {
              dropped = true;
              cluster.injectFault('dev/observability/prometheus-0', { kind: 'drop-exec-after-stdin-bytes', bytes: 500_000 });
            }
          },
        },
      ),
      (e: Error & { code?: string }) => {
        assert.match(e.message, /restore failed before anything was replaced/);
        assert.match(e.message, /unchanged/);
        return true;
      },
    );
    assert.ok(dropped);
    const afterNames = [...(await fsp.readdir(devData))].sort();
    assert.deepEqual(afterNames.filter((n) => n.startsWith('.tsdbdump')), [], 'staging removed');
    assert.deepEqual(afterNames, before);
    assert.equal(cluster.pod('dev/observability/prometheus-0').uid(), devUid, 'Prometheus was not restarted');
    assert.ok(existsSync(path.join(work, 'dev-backup-drop.tar.gz')), 'the backup was made before the upload');
  });
});

describe('failure after the swap', () => {
  test('the previous data is put back, Prometheus restarted, and the error says so', async () => {
    const src = path.join(work, 'with-tar.tar.gz');
    const key = 'dev/observability/prometheus-0';
    const devData = cluster.pod(key).dataDir;
    const namesBefore = (await fsp.readdir(devData)).filter((n) => n !== 'queries.active').sort();
    const walBefore = await hashTree(path.join(devData, 'wal'));
    await assert.rejects(
      // A readiness deadline nothing can meet: the restore fails after the swap, at the restart.
      restoreToPod(
        { source: src, target: dev(), mode: 'replace', backup: path.join(work, 'dev-backup-swap.tar.gz') },
        { readyTimeoutMs: 1 },
      ),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'restore-failed');
        assert.match(e.message, /previous data of observability\/prometheus-0 was put back and Prometheus restarted/);
        assert.match(e.message, /dev-backup-swap\.tar\.gz/);
        return true;
      },
    );
    await cluster.pod(key).waitReady(120_000);
    const namesAfter = (await fsp.readdir(devData)).filter((n) => n !== 'queries.active').sort();
    assert.deepEqual(namesAfter, namesBefore, 'no restored blocks, no staging or aside dirs');
    const walAfter = await hashTree(path.join(devData, 'wal'));
    for (const [f] of walBefore) assert.ok(walAfter.has(f), `wal/${f} is back`);
    assert.equal(await seriesAt(dev(), 'count(fixture_noise)'), 0, 'the restored data is gone again');
  });
});

describe('local faults and bad input', () => {
  test('disk full locally: io-error, nothing left behind, pod untouched', async (t) => {
    const tiny = path.join(work, 'tiny');
    await fsp.mkdir(tiny);
    let mounted = true;
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', tiny]);
    } catch {
      mounted = false;
    }
    t.after(async () => {
      if (mounted) await run('umount', [tiny]).catch(() => undefined);
    });
    const out = path.join(tiny, 'full.tar.gz');
    if (mounted) {
      await assert.rejects(dumpFromPod({ target: prod(), output: out }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'io-error');
        assert.match(e.message, /ENOSPC/);
        return true;
      });
      await assertNoOutput(out);
      assert.deepEqual(await fsp.readdir(tiny), []);
    } else {
      // No tmpfs (unprivileged container): a read-only target behaves the same way.
      const ro = path.join(work, 'ro-file');
      await fsp.writeFile(ro, '');
      await assert.rejects(
        dumpFromPod({ target: prod(), output: path.join(ro, 'x.tar.gz') }),
        (e: Error & { code?: string }) => e.code === 'io-error',
      );
    }
    await assertPodDataIntact(prod(), 'prod/monitoring/prometheus-0');
  });

  test('cancelling a dump keeps what was received for a resume, nothing under the final name', async () => {
    const out = path.join(work, 'cancelled.tar.gz');
    const ac = new AbortController();
    await assert.rejects(
      dumpFromPod(
        { target: prod(), output: out },
        { signal: ac.signal, maxBytesPerSecond: 1_000_000, onProgress: (p) => p.bytes > 100_000 && ac.abort() },
      ),
      (e: Error & { code?: string }) => e.code === 'cancelled' && /run the same dump again to resume/.test(e.message),
    );
    await assertKeptForResume(out);
  });

  test('a dump with error diagnostics is refused without force, before any backup or change', async () => {
    const backup = path.join(work, 'refused-backup.tar.gz');
    const devData = cluster.pod('dev/observability/prometheus-0').dataDir;
    const before = await hashTree(devData, (rel) => BLOCK_RE.test(rel));
    await assert.rejects(
      restoreToPod({ source: dumpPath('chunk-crc'), target: dev(), mode: 'replace', backup }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'dump-has-errors');
        assert.match(e.message, /error diagnostic/);
        return true;
      },
    );
    assert.ok(!existsSync(backup));
    assert.deepEqual(await hashTree(devData, (rel) => BLOCK_RE.test(rel)), before);
  });
});
