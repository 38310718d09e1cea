/**
 * Restore at the edges, on the test cluster with real Prometheus pods:
 *   - an API server that speaks exec only up to v4.channel.k8s.io (Kubernetes < 1.30), which cannot
 *     close stdin: dumps need no stdin and work; restores upload each file with `head -c <size>`,
 *     which ends by itself, and Prometheus serves the restored range;
 *   - the preview reports the pod's free space (statfs; the pods have no /proc, so df fails there);
 *   - a data dir on a tiny volume (a tmpfs mounted before the pod starts) refuses the restore
 *     before anything is backed up or changed;
 *   - replace mode deletes the pod with a 1 s grace period right after the swap;
 *   - a dry run returns the preview and changes nothing (no backup, no file, no restart), and
 *     reports a damaged dump's errors in the preview instead of refusing.
 */
import { execFile } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dumpFromPod, type DumpOutcome } from '../../server/src/kube/dump';
import { EXEC_V4, EXEC_V5, execCollect } from '../../server/src/kube/exec';
import { getPod, resolvePod } from '../../server/src/kube/prometheusPods';
import { restoreToPod } from '../../server/src/kube/restore';
import type { KubeTarget, RestorePreview } from '../../server/src/protocol';
import { dumpPath } from '../helpers/fixtures';
import { defaultTopology, startTestCluster, type TestCluster } from './testCluster';
import { assertRestoredFromDump, BLOCK_RE, hashTree, seriesAt as seriesAtTime, tarGzEntries, waitTsdbSettled } from './kube-helpers';

const run = promisify(execFile);
const AT = Date.parse('2025-01-03T06:00:00Z');
const PROD = 'prod/monitoring/prometheus-0';
const DEV = 'dev/observability/prometheus-0';
const TINY = 'prod/monitoring/prometheus-tiny-0';
/** Room for Prometheus' own WAL, far below the 16 MiB margin the restore keeps beside any upload. */
const TINY_VOLUME = '12m';

let cluster: TestCluster;
let work: string;
let kubeconfig: string;
let tinyVolume: string | undefined;
const target = (context: string, namespace: string, pod: string) => ({ kubeconfig, context, namespace, pod });
const prod = () => target('prod', 'monitoring', 'prometheus-0');
const dev = () => target('dev', 'observability', 'prometheus-0');
const tiny = () => target('prod', 'monitoring', 'prometheus-tiny-0');

/** A PromQL value at AT, the middle of the fixture data. */
const seriesAt = (t: KubeTarget, promql: string) => seriesAtTime(t, promql, AT);

before(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsdbdump-kube-edge-'));
  const stateDir = path.join(work, 'state');
  const topology = defaultTopology();
  const prodCluster = topology.find((c) => c.name === 'prod')!;
  const template = prodCluster.pods.find((p) => p.name === 'prometheus-notar-0')!;
  prodCluster.pods.push({
    ...template,
    name: 'prometheus-tiny-0',
    withTar: true,
    labels: { ...template.labels, 'app.kubernetes.io/instance': 'tiny' },
  });
  for (const c of topology) for (const p of c.pods) p.retention = '100y';
  // The tiny pod's /prometheus is a small tmpfs, mounted where the cluster builds that pod's root.
  const volume = path.join(stateDir, 'prod', 'monitoring', 'prometheus-tiny-0', 'root', 'prometheus');
  await fsp.mkdir(volume, { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', `size=${TINY_VOLUME}`, 'tmpfs', volume]);
  tinyVolume = volume;
  cluster = await startTestCluster({ stateDir, topology });
  kubeconfig = cluster.kubeconfigPath;
  await waitTsdbSettled(cluster, PROD);
});

after(async () => {
  await cluster?.stop();
  if (tinyVolume) await run('umount', [tinyVolume]);
  await fsp.rm(work, { recursive: true, force: true });
});

describe('an API server without v5 exec (Kubernetes < 1.30)', () => {
  let dump: DumpOutcome;

  test('the fault holds: stdin that needs an end is refused, stdin that ends itself is not', async () => {
    cluster.injectFault(PROD, { kind: 'exec-v4-only' });
    cluster.injectFault(DEV, { kind: 'exec-v4-only' });
    const p = await resolvePod(prod());
    const at = { namespace: p.namespace, pod: p.name, container: p.container };
    const input = () => {
      const s = new PassThrough();
      s.end(Buffer.from('0123456789'));
      return s;
    };
    await assert.rejects(execCollect(p.conn, { ...at, command: ['wc', '-c'], stdin: input() }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'kube-exec-failed');
      assert.match(e.message, /does not speak v5\.channel\.k8s\.io/);
      return true;
    });
    const r = await execCollect(p.conn, { ...at, command: ['head', '-c', '4'], stdin: input(), stdinEndsItself: true });
    assert.equal(r.exitCode, 0);
    assert.equal(r.protocol, EXEC_V4);
    assert.equal(r.stdout.toString('utf8'), '0123');
  });

  test('a dump needs no stdin: it works and is verified', async () => {
    const out = path.join(work, 'prod-v4.tar.gz');
    dump = await dumpFromPod({ target: prod(), output: out });
    assert.ok(existsSync(out));
    assert.ok(dump.blocks.length > 0);
    const files = (await tarGzEntries(out)).filter((e) => e.type === 'file');
    assert.ok(files.some((f) => BLOCK_RE.test(f.name)) && files.some((f) => f.name.startsWith('wal/')));
    for (const f of dump.manifestData.files.filter((m) => BLOCK_RE.test(m.path) && !dump.changedDuringDump.includes(m.path))) {
      assert.equal(f.podSha256, f.sha256, `${f.path} verified against the pod`);
    }
  });

  test('restore uploads with head -c per file, verifies, and Prometheus serves the restored range', async () => {
    assert.equal(await seriesAt(dev(), 'count(fixture_noise)'), 0, 'dev has no fixture data before the restore');
    let preview: RestorePreview | undefined;
    let watching: Promise<number | undefined> | undefined;
    const r = await restoreToPod(
      { source: dump.output, target: dev(), mode: 'replace', backup: path.join(work, 'dev-backup-v4.tar.gz') },
      {
        confirm: async (p) => {
          preview = p;
          return true;
        },
        onProgress: (p) => {
          if (p.phase === 'restarting' && !watching) watching = deletionGracePeriod(dev());
        },
      },
    );
    assert.ok(preview);
    assert.equal(preview.execProtocol, EXEC_V4);
    assert.equal(preview.uploadMethod, 'head');
    assert.ok(preview.freeBytes !== undefined && preview.freeBytes > preview.uploadBytes, `free space reported (${preview.freeBytes})`);
    assert.ok(!r.warnings.some((w) => /free space/.test(w)));
    assert.ok(r.verifiedSeries! > 0);
    assert.ok((await seriesAt(dev(), 'count(fixture_noise)')) > 0, 'fixture_noise answers in dev');
    // Replace mode stops the old Prometheus at once after the swap (not a force deletion: 1 s).
    assert.equal(await watching, 1);
    await assertRestoredFromDump(cluster.pod(DEV).dataDir, dump.output);
  });

  test('with v5 again the preview picks the tar stream', async () => {
    cluster.clearFaults(PROD);
    cluster.clearFaults(DEV);
    let preview: RestorePreview | undefined;
    await assert.rejects(
      restoreToPod(
        { source: dump.output, target: dev(), mode: 'replace', backup: path.join(work, 'never.tar.gz') },
        {
          confirm: async (p) => {
            preview = p;
            return false;
          },
        },
      ),
      (e: Error & { code?: string }) => e.code === 'cancelled',
    );
    assert.equal(preview?.execProtocol, EXEC_V5);
    assert.equal(preview?.uploadMethod, 'tar');
    assert.ok(preview?.freeBytes !== undefined && preview.freeBytes > 0);
    assert.ok(!existsSync(path.join(work, 'never.tar.gz')));
  });
});

describe('dry run', () => {
  /** The dev pod as far as a restore could change it: block files, data dir entries, backups beside the dump, the pod instance. */
  async function devState(): Promise<unknown> {
    const data = cluster.pod(DEV).dataDir;
    return {
      blocks: [...(await hashTree(data, (rel) => BLOCK_RE.test(rel))).entries()].sort(),
      entries: (await fsp.readdir(data)).sort(),
      backups: (await fsp.readdir(work)).filter((n) => /-backup-/.test(n)).sort(),
      uid: cluster.pod(DEV).uid(),
    };
  }

  test('a dry run returns the preview and changes nothing: no backup, no staging, no restart', async () => {
    await waitTsdbSettled(cluster, DEV);
    const source = path.join(work, 'prod-v4.tar.gz');
    const before = await devState();
    // No backup path given: the default one (beside the dump) must not be written either.
    const r = await restoreToPod({ source, target: dev(), mode: 'replace', dryRun: true });
    assert.deepEqual(await devState(), before);
    assert.deepEqual(r.restoredBlocks, []);
    assert.equal(r.backupResult, undefined);
    const p = r.preview;
    assert.deepEqual(p.pod, { context: 'dev', namespace: 'observability', name: 'prometheus-0', container: 'prometheus' });
    assert.equal(p.dataDir, '/prometheus');
    assert.equal(p.mode, 'replace');
    const dumpedBlocks = [
      ...new Set((await tarGzEntries(source)).filter((e) => BLOCK_RE.test(e.name)).map((e) => e.name.split('/')[0])),
    ].sort();
    assert.deepEqual([...p.adds].sort(), dumpedBlocks);
    assert.ok(p.replaces.includes('wal'), `replaces ${p.replaces.join(', ')}`);
    assert.ok(p.uploadBytes > 0 && p.freeBytes !== undefined && p.freeBytes > p.uploadBytes);
    assert.equal(p.uploadMethod, 'tar');
    assert.match(p.backup, new RegExp(`^${work}/dev-observability-prometheus-0-backup-\\d{4}-\\d{2}-\\d{2}T\\d{6}Z\\.tar\\.gz$`));
    assert.deepEqual(p.errors, []);
  });

  test('a damaged dump: the dry run lists its errors instead of refusing, and still changes nothing', async () => {
    const before = await devState();
    const backup = path.join(work, 'dry-damaged-backup.tar.gz');
    const r = await restoreToPod({ source: dumpPath('chunk-crc'), target: dev(), mode: 'replace', backup, dryRun: true });
    assert.ok(r.preview.errors.length > 0, 'the preview lists the errors');
    assert.ok(r.preview.errors.some((e) => /^chunk-crc-mismatch \S+: /.test(e)), r.preview.errors.join('\n'));
    assert.equal(r.preview.backup, backup);
    assert.ok(!existsSync(backup));
    assert.deepEqual(await devState(), before);
    // Without dryRun the same request is refused, as before (with the dry run's analysis: the file is unchanged).
    const messages: string[] = [];
    await assert.rejects(
      restoreToPod(
        { source: dumpPath('chunk-crc'), target: dev(), mode: 'replace', backup },
        { onProgress: (p) => messages.push(p.message) },
      ),
      (e: Error & { code?: string }) => e.code === 'dump-has-errors',
    );
    assert.ok(messages.some((m) => /is unchanged since its last analysis: reusing it$/.test(m)), messages.join('\n'));
    // A file touched since its analysis is analysed again.
    const copy = path.join(work, 'chunk-crc-copy.tar.gz');
    await fsp.copyFile(dumpPath('chunk-crc'), copy);
    await restoreToPod({ source: copy, target: dev(), mode: 'replace', backup, dryRun: true });
    await fsp.utimes(copy, new Date(), new Date(Date.now() + 5000));
    messages.length = 0;
    await restoreToPod(
      { source: copy, target: dev(), mode: 'replace', backup, dryRun: true },
      { onProgress: (p) => messages.push(p.message) },
    );
    assert.ok(!messages.some((m) => /reusing/.test(m)), messages.join('\n'));
  });
});

describe('free space', () => {
  test('a data dir too small for the upload refuses the restore before any backup or change', async () => {
    const data = cluster.pod(TINY).dataDir;
    const uid = cluster.pod(TINY).uid();
    const backup = path.join(work, 'tiny-backup.tar.gz');
    const source = path.join(work, 'prod-v4.tar.gz');
    await assert.rejects(restoreToPod({ source, target: tiny(), mode: 'replace', backup }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'restore-refused');
      assert.match(e.message, /not enough space in monitoring\/prometheus-tiny-0:\/prometheus: \d+ MiB free, the restore stages \d+ MiB/);
      return true;
    });
    assert.ok(!existsSync(backup), 'nothing was backed up');
    assert.deepEqual(
      (await fsp.readdir(data)).filter((n) => n.startsWith('.tsdbdump') || /^[0-9A-HJKMNP-TV-Z]{26}$/.test(n)),
      [],
      'no staging dir, no block uploaded',
    );
    assert.equal(cluster.pod(TINY).uid(), uid, 'Prometheus was not restarted');
  });
});

/** Polls the pod until it is terminating; its deletionGracePeriodSeconds then. */
async function deletionGracePeriod(t: ReturnType<typeof dev>): Promise<number | undefined> {
  const p = await resolvePod(t);
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    const pod = await getPod(p.conn, p.name).catch(() => undefined);
    if (pod?.metadata?.deletionTimestamp) return pod.metadata.deletionGracePeriodSeconds;
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
}
