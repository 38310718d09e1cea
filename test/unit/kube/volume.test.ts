import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dataVolumeOf, type PodVolumeSpec } from '../../../server/src/kube/volume';

/** A pod whose `prometheus` container has `mounts`; a sidecar mounts something at /prometheus too. */
function pod(volumes: object[], mounts: { name: string; mountPath: string }[]): PodVolumeSpec {
  const spec = {
    containers: [
      { name: 'sidecar', volumeMounts: [{ name: 'cfg', mountPath: '/prometheus' }] },
      { name: 'prometheus', volumeMounts: mounts },
    ],
    volumes,
  };
  return { spec: spec as PodVolumeSpec['spec'] };
}

test('data volume: the PVC, hostPath, emptyDir or ephemeral volume mounted at (or above) the data dir decides the restart', () => {
  const pvc = dataVolumeOf(
    pod([{ name: 'data', persistentVolumeClaim: { claimName: 'data-prometheus-0' } }], [{ name: 'data', mountPath: '/prometheus' }]),
    'prometheus',
    '/prometheus',
  );
  assert.deepEqual(pvc, {
    kind: 'persistentVolumeClaim', restart: 'pod', volume: 'data', mountPath: '/prometheus', claim: 'data-prometheus-0',
    description: 'PersistentVolumeClaim data-prometheus-0 (volume data at /prometheus)',
    restartDescription: 'Prometheus is restarted: the pod is deleted and its StatefulSet recreates it on the same volume',
  });
  // The Prometheus Operator's default without storage: an emptyDir, data dir below the mount.
  const empty = dataVolumeOf(
    pod([{ name: 'prometheus-db', emptyDir: {} }], [{ name: 'prometheus-db', mountPath: '/prometheus/' }]),
    'prometheus',
    '/prometheus/data',
  );
  assert.equal(empty.kind, 'emptyDir');
  assert.equal(empty.restart, 'container');
  assert.equal(
    dataVolumeOf(pod([{ name: 'd', hostPath: { path: '/srv' } }], [{ name: 'd', mountPath: '/data' }]), 'prometheus', '/data').restart,
    'pod',
  );
  assert.equal(
    dataVolumeOf(pod([{ name: 'd', ephemeral: { volumeClaimTemplate: {} } }], [{ name: 'd', mountPath: '/data' }]), 'prometheus', '/data')
      .restart,
    'container',
  );
});

test('data volume: the longest mount that holds the data dir wins; a sibling path is not inside a mount', () => {
  const p = pod([{ name: 'root', persistentVolumeClaim: { claimName: 'r' } }, { name: 'scratch', emptyDir: {} }], [
    { name: 'root', mountPath: '/var' }, { name: 'scratch', mountPath: '/var/prometheus' },
  ]);
  assert.equal(dataVolumeOf(p, 'prometheus', '/var/prometheus/data').kind, 'emptyDir');
  assert.equal(dataVolumeOf(p, 'prometheus', '/var/prometheus-2').kind, 'persistentVolumeClaim');
});

test('data volume: no mount is the container filesystem (no restart keeps it); an unknown source is other', () => {
  const none = dataVolumeOf(pod([], [{ name: 'cfg', mountPath: '/etc/prometheus' }]), 'prometheus', '/prometheus');
  assert.deepEqual(none, {
    kind: 'container', restart: 'none', description: 'the container\'s own filesystem (no volume)',
    restartDescription: 'Prometheus cannot be restarted without losing the data dir',
  });
  // client-node's V1Volume instances carry every source field, the unset ones as undefined.
  const nfs = dataVolumeOf(
    pod([{ name: 'd', emptyDir: undefined, nfs: { server: 'x', path: '/' } }], [{ name: 'd', mountPath: '/prometheus' }]),
    'prometheus',
    '/prometheus',
  );
  assert.deepEqual(
    [nfs.kind, nfs.restart, nfs.source, nfs.description],
    ['other', 'unknown', 'nfs', 'nfs volume (volume d at /prometheus)'],
  );
  // Another container's mounts do not count.
  assert.equal(dataVolumeOf(pod([], []), 'prometheus', '/prometheus').kind, 'container');
});
