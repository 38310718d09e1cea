/**
 * What kind of volume holds a pod's data dir, read from the pod spec (the container's volumeMounts
 * and the pod's volumes), and what that means for a restart: deleting the pod keeps a
 * PersistentVolumeClaim or a hostPath, but empties an emptyDir (the Prometheus Operator's default
 * when no storage is configured) and removes a generic ephemeral volume; a restart of the container
 * alone keeps both. Data in the container's own filesystem (no volume) survives neither.
 */
import path from 'node:path';
import type { DataVolume, DataVolumeKind } from '../protocol';

/** The subset of a V1Pod this module reads. */
export interface PodVolumeSpec {
  spec?: {
    containers?: { name: string; volumeMounts?: { name: string; mountPath: string }[] }[];
    volumes?: { name: string }[];
  };
}

/** The volume sources the restore knows the lifetime of; anything else (nfs, csi, …) is `other`. */
const KNOWN_SOURCES: Record<string, DataVolumeKind> = {
  persistentVolumeClaim: 'persistentVolumeClaim',
  hostPath: 'hostPath',
  emptyDir: 'emptyDir',
  ephemeral: 'ephemeral',
};

/** The mount of `container` that holds `dataDir` (the longest mountPath that contains it). */
function mountOf(pod: PodVolumeSpec, container: string, dataDir: string): { name: string; mountPath: string } | undefined {
  const mounts = pod.spec?.containers?.find((c) => c.name === container)?.volumeMounts ?? [];
  const dir = path.posix.normalize(dataDir);
  const holds = (m: { mountPath: string }) => {
    const mp = path.posix.normalize(m.mountPath).replace(/\/+$/, '') || '/';
    return dir === mp || dir.startsWith(mp === '/' ? '/' : `${mp}/`);
  };
  return mounts.filter(holds).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
}

export function dataVolumeOf(pod: PodVolumeSpec, container: string, dataDir: string): DataVolume {
  const mount = mountOf(pod, container, dataDir);
  if (!mount) return withDescription({ kind: 'container', restart: 'none' });
  const volume = pod.spec?.volumes?.find((v) => v.name === mount.name) as Record<string, unknown> | undefined;
  // A volume names one source field; client-node's objects may also carry the others as undefined.
  const source = volume ? Object.keys(volume).find((k) => k !== 'name' && volume[k] !== undefined && volume[k] !== null) : undefined;
  const kind: DataVolumeKind = source ? (KNOWN_SOURCES[source] ?? 'other') : 'other';
  const restart = kind === 'persistentVolumeClaim' || kind === 'hostPath' ? 'pod'
    : kind === 'emptyDir' || kind === 'ephemeral' ? 'container'
    : 'unknown';
  const claim =
    kind === 'persistentVolumeClaim' ? (volume?.persistentVolumeClaim as { claimName?: string } | undefined)?.claimName : undefined;
  return withDescription({
    kind,
    restart,
    volume: mount.name,
    mountPath: mount.mountPath,
    ...(source && kind === 'other' ? { source } : {}),
    ...(claim ? { claim } : {}),
  });
}

const RESTART_DESCRIPTIONS: Record<DataVolume['restart'], string> = {
  pod: 'Prometheus is restarted: the pod is deleted and its StatefulSet recreates it on the same volume',
  container: 'only the Prometheus container is restarted (/-/quit): deleting the pod would empty its volume',
  none: 'Prometheus cannot be restarted without losing the data dir',
  unknown: 'Prometheus is restarted by deleting the pod, though whether the volume outlives the pod is unknown',
};

function withDescription(v: Omit<DataVolume, 'description' | 'restartDescription'>): DataVolume {
  return { ...v, description: describeDataVolume(v), restartDescription: RESTART_DESCRIPTIONS[v.restart] };
}

/** One line for people: "PersistentVolumeClaim data-prometheus-0 (volume data at /prometheus)". */
function describeDataVolume(v: Omit<DataVolume, 'description' | 'restartDescription'>): string {
  const at = v.volume ? ` (volume ${v.volume} at ${v.mountPath})` : '';
  switch (v.kind) {
    case 'persistentVolumeClaim': return `PersistentVolumeClaim${v.claim ? ` ${v.claim}` : ''}${at}`;
    case 'hostPath': return `hostPath${at}`;
    case 'emptyDir': return `emptyDir${at}`;
    case 'ephemeral': return `generic ephemeral volume${at}`;
    case 'container': return 'the container\'s own filesystem (no volume)';
    case 'other': return `${v.source ?? 'unknown'} volume${at}`;
  }
}
