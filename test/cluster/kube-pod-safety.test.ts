/**
 * What dump and restore leave in a pod and what its volume keeps (issue 12), on the test cluster.
 *
 * Leftovers: a snapshot dump that fails after Prometheus made the snapshot removes it; the next dump
 * or restore removes the snapshots and staging dirs that interrupted tsdbdump runs left (stale
 * markers, kube/leftovers.ts), and only those; a dry run removes nothing.
 *
 * Restore and the volume that holds the data dir (part 3), on the test cluster with real
 * Prometheus pods whose volumes behave like the kubelet's: a PersistentVolumeClaim outlives the pod,
 * an emptyDir is emptied when the pod is deleted but kept across a container restart, and data
 * without a volume is lost on any restart.
 *   - emptyDir with the lifecycle API: only the Prometheus container is restarted (/-/quit), the
 *     pod keeps its uid, and the restored data is served;
 *   - emptyDir without the lifecycle API, and no volume at all: refused before anything changes;
 *   - the preview names the volume (PVC for the default pods).
 */
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dumpFromPod } from '../../server/src/kube/dump';
import { STALE_AFTER_S } from '../../server/src/kube/leftovers';
import { getPod, resolvePod, restartCountOf } from '../../server/src/kube/prometheusPods';
import { restoreToPod } from '../../server/src/kube/restore';
import { compareVersions } from '../../server/src/kube/prometheusApi';
import type { KubeTarget, RestorePreview } from '../../server/src/protocol';
import { dumpPath, dumpPath3 } from '../helpers/fixtures';
import { defaultTopology, startTestCluster, type TestCluster } from './testCluster';
import { assertRestoredFromDump, BLOCK_RE, seriesAt as seriesAtTime } from './kube-helpers';

const AT = Date.parse('2025-01-03T06:00:00Z');
let cluster: TestCluster;
let work: string;
const target = (pod: string): KubeTarget => ({ kubeconfig: cluster.kubeconfigPath, context: 'dev', namespace: 'observability', pod });
const seriesAt = (t: KubeTarget, promql: string) => seriesAtTime(t, promql, AT);

before(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsdbdump-kube-volumes-'));
  const topology = defaultTopology().filter((c) => c.name === 'dev');
  const template = topology[0].pods[0];
  const variant = (name: string, over: object) => ({
    ...template,
    ...over,
    name,
    labels: { ...template.labels, 'app.kubernetes.io/instance': name },
  });
  topology[0].pods.push(
    variant('prometheus-empty-0', { dataVolume: 'emptyDir' }),
    variant('prometheus-empty-nolifecycle-0', { dataVolume: 'emptyDir', lifecycleApi: false }),
    variant('prometheus-novolume-0', { dataVolume: 'none' }),
  );
  for (const p of topology[0].pods) p.retention = '100y';
  cluster = await startTestCluster({ stateDir: path.join(work, 'state'), topology, seed: {} });
});

after(async () => {
  await cluster?.stop();
  await fsp.rm(work, { recursive: true, force: true });
});

const hostDataDir = (pod: string) => cluster.pod(`dev/observability/${pod}`).dataDir;

/** A snapshot made by Prometheus itself (its admin API), as a user or prombackup would. */
async function prometheusSnapshot(pod: string): Promise<string> {
  const r = await fetch(`${cluster.pod(`dev/observability/${pod}`).prometheusUrl}/api/v1/admin/tsdb/snapshot`, { method: 'POST' });
  return ((await r.json()) as { data: { name: string } }).data.name;
}

/** A marker as tsdbdump writes it, last touched `ageS` seconds ago. */
async function marker(file: string, ageS: number): Promise<void> {
  await fsp.writeFile(file, '');
  const t = Date.now() / 1000 - ageS;
  await fsp.utimes(file, t, t);
}

describe('leftovers in the pod', () => {
  test('a snapshot dump that fails after Prometheus made the snapshot removes it', async () => {
    cluster.injectFault('dev/observability/prometheus-0', { kind: 'fail-next-exec', code: 500 });
    await assert.rejects(dumpFromPod({ target: target('prometheus-0'), output: path.join(work, 'snap.tar.gz'), snapshot: true }));
    cluster.clearFaults('dev/observability/prometheus-0');
    const snapshots = path.join(hostDataDir('prometheus-0'), 'snapshots');
    assert.deepEqual(existsSync(snapshots) ? await fsp.readdir(snapshots) : [], [], 'no snapshot and no marker left');
    assert.equal(existsSync(path.join(work, 'snap.tar.gz')), false);
  });

  test('the next dump removes stale tsdbdump snapshots and staging dirs, and only those', async () => {
    const data = hostDataDir('prometheus-0');
    const [stale, live, foreign] = [
      await prometheusSnapshot('prometheus-0'),
      await prometheusSnapshot('prometheus-0'),
      await prometheusSnapshot('prometheus-0'),
    ];
    await marker(path.join(data, 'snapshots', `${stale}.tsdbdump`), STALE_AFTER_S + 60);
    await marker(path.join(data, 'snapshots', `${live}.tsdbdump`), 5);
    await fsp.mkdir(path.join(data, '.tsdbdump-staging-old', '01JAAAAAAAAAAAAAAAAAAAAAAA'), { recursive: true });
    await marker(path.join(data, '.tsdbdump-staging-old.tsdbdump'), STALE_AFTER_S + 60);
    // The previous data of an interrupted replace-mode restore: the target's own data, never swept.
    await fsp.mkdir(path.join(data, '.tsdbdump-previous-old'), { recursive: true });
    const r = await dumpFromPod({ target: target('prometheus-0'), output: path.join(work, 'after-crash.tar.gz') });
    assert.deepEqual(r.cleanedUp.sort(), [`/prometheus/.tsdbdump-staging-old`, `/prometheus/snapshots/${stale}`].sort());
    const left = await fsp.readdir(path.join(data, 'snapshots'));
    assert.deepEqual(left.sort(), [foreign, live, `${live}.tsdbdump`].sort());
    assert.equal(existsSync(path.join(data, '.tsdbdump-staging-old')), false);
    assert.equal(existsSync(path.join(data, '.tsdbdump-staging-old.tsdbdump')), false);
    assert.ok(existsSync(path.join(data, '.tsdbdump-previous-old')));
    for (const s of [live, foreign]) await fsp.rm(path.join(data, 'snapshots', s), { recursive: true });
    await fsp.rm(path.join(data, 'snapshots', `${live}.tsdbdump`));
    await fsp.rm(path.join(data, '.tsdbdump-previous-old'), { recursive: true });
  });
});

describe('restore and the target\'s Prometheus version', () => {
  test('data written by Prometheus 3.16 into a 2.42 pod: refused with what 2.42 would lose, unless forced', async () => {
    const source = dumpPath3('3.16.0', 'native');
    const dry = await restoreToPod({ source, target: target('prometheus-0'), mode: 'replace', dryRun: true });
    assert.match(dry.preview.prometheusVersion ?? '', /^2\.42\./);
    assert.ok(dry.preview.needsForce);
    const features = dry.preview.tooNewForTarget.map((r) => r.feature);
    assert.ok(features.length > 0, 'the preview lists what 2.42 cannot read');
    assert.ok(
      dry.preview.tooNewForTarget.every((r) => compareVersions(r.needs, dry.preview.prometheusVersion!) > 0),
      JSON.stringify(dry.preview.tooNewForTarget),
    );
    const backup = path.join(work, 'too-new-backup.tar.gz');
    const before = await resolvePod(target('prometheus-0'));
    await assert.rejects(
      restoreToPod({ source, target: target('prometheus-0'), mode: 'replace', backup }),
      (e: Error & { code?: string; details?: { tooNewForTarget?: unknown[] } }) => {
        assert.equal(e.code, 'target-too-old');
        assert.match(e.message, /runs Prometheus 2\.42\.\S+, too old for this dump: /);
        for (const f of features) assert.ok(e.message.includes(f), f);
        assert.equal(e.details?.tooNewForTarget?.length, features.length);
        return true;
      },
    );
    assert.equal(existsSync(backup), false, 'refused before the backup: nothing changed');
    assert.equal((await getPod(before.conn, 'prometheus-0')).metadata?.uid, before.pod.metadata?.uid);
  });
});

async function previewOf(pod: string): Promise<RestorePreview> {
  const r = await restoreToPod({ source: dumpPath('healthy'), target: target(pod), mode: 'replace', dryRun: true });
  return r.preview;
}

describe('restore by the data volume', () => {
  test('a PVC pod: the preview names the claim, the restart deletes the pod; a dry run removes no leftovers', async () => {
    const stale = path.join(hostDataDir('prometheus-0'), '.tsdbdump-staging-dry.tsdbdump');
    await fsp.mkdir(path.join(hostDataDir('prometheus-0'), '.tsdbdump-staging-dry'));
    await marker(stale, STALE_AFTER_S + 60);
    const p = await previewOf('prometheus-0');
    assert.deepEqual([p.dataVolume.kind, p.dataVolume.restart, p.dataVolume.claim], ['persistentVolumeClaim', 'pod', 'data-prometheus-0']);
    assert.ok(existsSync(stale), 'a dry run changes nothing in the pod');
    await fsp.rm(stale);
    await fsp.rm(path.join(hostDataDir('prometheus-0'), '.tsdbdump-staging-dry'), { recursive: true });
  });

  test('an emptyDir pod with the lifecycle API: only the container restarts, the pod and its data stay', async () => {
    const pod = 'prometheus-empty-0';
    const before = await resolvePod(target(pod));
    const uid = before.pod.metadata?.uid;
    const restarts = restartCountOf(before.pod, 'prometheus');
    // What an interrupted restore left: the next restore removes it first.
    await fsp.mkdir(path.join(hostDataDir(pod), '.tsdbdump-staging-crashed'));
    await marker(path.join(hostDataDir(pod), '.tsdbdump-staging-crashed.tsdbdump'), STALE_AFTER_S + 60);
    let preview: RestorePreview | undefined;
    const backup = path.join(work, 'empty-backup.tar.gz');
    const r = await restoreToPod({ source: dumpPath('healthy'), target: target(pod), mode: 'replace', backup }, {
      confirm: async (p) => {
        preview = p;
        return true;
      },
    });
    assert.deepEqual([preview?.dataVolume.kind, preview?.dataVolume.restart], ['emptyDir', 'container']);
    const after = await getPod(before.conn, pod);
    assert.equal(after.metadata?.uid, uid, 'the same pod: deleting it would have emptied the emptyDir');
    assert.equal(restartCountOf(after, 'prometheus'), restarts + 1);
    assert.ok(r.verifiedSeries! > 0);
    assert.deepEqual(r.cleanedUp, ['/prometheus/.tsdbdump-staging-crashed']);
    assert.ok((await seriesAt(target(pod), 'count(fixture_noise)')) > 0, 'the restored data answers');
    await assertRestoredFromDump(cluster.pod(`dev/observability/${pod}`).dataDir, dumpPath('healthy'));
    assert.ok(existsSync(backup), 'the verified backup was written first');
    // The cluster's emptyDir is truthful: deleting the pod empties it.
    await cluster.deletePod(`dev/observability/${pod}`);
    await cluster.pod(`dev/observability/${pod}`).waitReady();
    assert.deepEqual((await fsp.readdir(cluster.pod(`dev/observability/${pod}`).dataDir)).filter((n) => BLOCK_RE.test(`${n}/`)), []);
  });

  for (const [pod, why] of [
    [
      'prometheus-empty-nolifecycle-0',
      /is on an emptyDir \(volume data at \/prometheus\), which is emptied when the pod is deleted: .*without --web\.enable-lifecycle/,
    ],
    [
      'prometheus-novolume-0',
      /is not on a volume \(the container's own filesystem \(no volume\)\): any restart of Prometheus would lose it/,
    ],
  ] as const) {
    test(`${pod}: refused before anything changes`, async () => {
      const before = await resolvePod(target(pod));
      const backup = path.join(work, `${pod}-backup.tar.gz`);
      const listing = await fsp.readdir(cluster.pod(`dev/observability/${pod}`).dataDir);
      await assert.rejects(
        restoreToPod({ source: dumpPath('healthy'), target: target(pod), mode: 'replace', backup }),
        (e: Error & { code?: string; details?: { dataVolume?: { kind: string } } }) => {
          assert.equal(e.code, 'restore-refused');
          assert.match(e.message, why);
          assert.ok(e.details?.dataVolume, 'the refusal carries the volume as data');
          return true;
        },
      );
      assert.equal(existsSync(backup), false, 'nothing backed up: the restore stopped at the preflight');
      const after = await getPod(before.conn, pod);
      assert.equal(after.metadata?.uid, before.pod.metadata?.uid);
      assert.equal(restartCountOf(after, 'prometheus'), restartCountOf(before.pod, 'prometheus'));
      assert.deepEqual(await fsp.readdir(cluster.pod(`dev/observability/${pod}`).dataDir), listing);
    });
  }
});
