/**
 * Kubernetes object shapes served by the test cluster: Status errors, Pod and Namespace objects,
 * Table rows, label and field selectors. Shapes follow the real API server (see
 * docs/kube-api-subset.md); only what kubectl and client-node read is filled in.
 */
import type { ContainerRun, PodInstance, PodSlot } from './podRuntime';
import { PROMETHEUS_PORT, PROMETHEUS_PORT_NAME, prometheusArgv } from './podRuntime';

export type Json = Record<string, unknown>;

export interface StatusBody extends Json {
  kind: 'Status';
  apiVersion: 'v1';
  code: number;
}

export function status(code: number, reason: string, message: string, details?: Json): StatusBody {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

export const REASON_BY_CODE: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed',
  409: 'Conflict', 410: 'Expired', 500: 'InternalError', 503: 'ServiceUnavailable',
};

export const notFound = (name: string, kind = 'pods'): StatusBody =>
  status(404, 'NotFound', `${kind} "${name}" not found`, { name, kind });

export const badRequest = (message: string): StatusBody => status(400, 'BadRequest', message);

export function forbidden(user: string, verb: string, resource: string, namespace: string | undefined, name?: string): StatusBody {
  const [res, sub] = resource.split('/');
  const what = name ? `${res} "${name}"` : res;
  const where = namespace ? ` in the namespace "${namespace}"` : ' at the cluster scope';
  return status(403, 'Forbidden', `${what} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group ""${where}`,
    { ...(name ? { name } : {}), kind: sub ? res : resource });
}

// ---------------------------------------------------------------------------------------------
// Pods

function containerState(c: ContainerRun['state']): Json {
  switch (c.kind) {
    case 'waiting':
      return { waiting: { reason: c.reason } };
    case 'running':
      return { running: { startedAt: c.startedAt } };
    case 'terminated':
      return {
        terminated: {
          exitCode: c.exitCode,
          ...(c.signal ? { signal: c.signal } : {}),
          reason: c.reason,
          startedAt: c.startedAt,
          finishedAt: c.finishedAt,
        },
      };
  }
}

function condition(type: string, ok: boolean, since: string): Json {
  return { type, status: ok ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: since };
}

export function podObject(slot: PodSlot, pod: PodInstance, resourceVersion: string): Json {
  const def = slot.def;
  const statefulSet = def.name.replace(/-\d+$/, '');
  const metadata: Json = {
    name: def.name,
    generateName: `${statefulSet}-`,
    namespace: def.namespace,
    uid: pod.uid,
    resourceVersion,
    creationTimestamp: pod.creationTimestamp,
    labels: { ...(def.labels ?? {}), 'statefulset.kubernetes.io/pod-name': def.name },
    annotations: { ...(def.annotations ?? {}) },
    ownerReferences: [
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        name: statefulSet,
        uid: `00000000-0000-4000-8000-${hash12(slot.key)}`,
        controller: true,
        blockOwnerDeletion: true,
      },
    ],
  };
  if (pod.deletionTimestamp) {
    metadata.deletionTimestamp = pod.deletionTimestamp;
    metadata.deletionGracePeriodSeconds = pod.deletionGracePeriodSeconds;
  }
  const containers = def.containers.map((c) => ({
    name: c.name,
    image: c.image,
    ...(c.kind === 'prometheus'
      ? {
          args: prometheusArgv(def, slot.port).slice(1),
          ports: [{ name: PROMETHEUS_PORT_NAME, containerPort: PROMETHEUS_PORT, protocol: 'TCP' }],
        }
      : { command: ['/bin/sh', '-c', 'exec sleep 2147483647'] }),
    volumeMounts: def.dataVolume === 'none' ? [] : [{ name: 'data', mountPath: '/prometheus' }],
    imagePullPolicy: 'IfNotPresent',
  }));
  const since = pod.startTime ?? pod.creationTimestamp;
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata,
    spec: {
      containers,
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      nodeName: slot.nodeName,
      hostname: def.name,
      volumes:
        def.dataVolume === 'none'
          ? []
          : [
              {
                name: 'data',
                ...(def.dataVolume === 'emptyDir' ? { emptyDir: {} } : { persistentVolumeClaim: { claimName: `data-${def.name}` } }),
              },
            ],
    },
    status: {
      phase: pod.phase,
      conditions: [
        condition('Initialized', true, pod.creationTimestamp),
        condition('Ready', pod.ready, since),
        condition('ContainersReady', pod.ready, since),
        condition('PodScheduled', true, pod.creationTimestamp),
      ],
      hostIP: '127.0.0.1',
      ...(pod.phase === 'Pending' ? {} : { podIP: slot.podIP, podIPs: [{ ip: slot.podIP }], startTime: pod.startTime }),
      containerStatuses: pod.containers.map((c) => ({
        name: c.def.name,
        state: containerState(c.state),
        lastState: c.lastState ? containerState(c.lastState) : {},
        ready: c.ready,
        restartCount: c.restartCount,
        image: c.def.image,
        imageID: `${c.def.image.split(':')[0]}@sha256:${hash12(c.def.image).padEnd(64, '0')}`,
        ...(c.state.kind === 'waiting' ? {} : { containerID: c.containerId }),
        started: c.state.kind === 'running',
      })),
      qosClass: 'BestEffort',
    },
  };
}

function hash12(s: string): string {
  let h = 0x811c9dc5;
  for (const ch of s) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return (h.toString(16).padStart(8, '0') + 'a5a5').slice(0, 12);
}

/** kubectl's STATUS column: Terminating, a waiting reason, or the phase. */
export function podStatusCell(pod: Json): string {
  const md = pod.metadata as Json;
  if (md.deletionTimestamp) return 'Terminating';
  const st = pod.status as Json;
  for (const cs of (st.containerStatuses as Json[]) ?? []) {
    const state = cs.state as Json;
    if (state.waiting) return String((state.waiting as Json).reason);
    if (state.terminated && !cs.ready) return String((state.terminated as Json).reason);
  }
  return String(st.phase);
}

export function humanAge(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

const col = (name: string, type: string, description: string, priority = 0, format = ''): Json => ({
  name,
  type,
  format,
  description,
  priority,
});

const POD_COLUMNS = [
  col('Name', 'string', 'Name must be unique within a namespace.', 0, 'name'),
  col('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
  col('Status', 'string', 'The aggregate status of the containers in this pod.'),
  col(
    'Restarts',
    'string',
    'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.',
  ),
  col('Age', 'string', 'CreationTimestamp is a timestamp representing the server time when this object was created.'),
  col('IP', 'string', 'IP address allocated to the pod.', 1),
  col('Node', 'string', 'Name of the Node this Pod is scheduled on.', 1),
  col('Nominated Node', 'string', 'Name of the Node this Pod is nominated on.', 1),
  col('Readiness Gates', 'string', 'Readiness gates of the pod.', 1),
];

const NAMESPACE_COLUMNS = [
  col('Name', 'string', 'Name must be unique within a namespace.', 0, 'name'),
  col('Status', 'string', 'The status of the namespace'),
  col('Age', 'string', 'CreationTimestamp is a timestamp representing the server time when this object was created.'),
];

function partial(obj: Json): Json {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

function podCells(pod: Json): unknown[] {
  const st = pod.status as Json;
  const cs = (st.containerStatuses as Json[]) ?? [];
  const ready = cs.filter((c) => c.ready).length;
  const restarts = cs.reduce((n, c) => n + Number(c.restartCount ?? 0), 0);
  return [
    (pod.metadata as Json).name,
    `${ready}/${cs.length}`,
    podStatusCell(pod),
    String(restarts),
    humanAge((pod.metadata as Json).creationTimestamp as string),
    st.podIP ?? '<none>',
    (pod.spec as Json).nodeName ?? '<none>',
    '<none>',
    '<none>',
  ];
}

export function table(kind: 'pods' | 'namespaces', items: Json[], resourceVersion: string): Json {
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: kind === 'pods' ? POD_COLUMNS : NAMESPACE_COLUMNS,
    rows: items.map((o) => ({
      cells:
        kind === 'pods' ? podCells(o) : [(o.metadata as Json).name, 'Active', humanAge((o.metadata as Json).creationTimestamp as string)],
      object: partial(o),
    })),
  };
}

export function namespaceObject(name: string, created: string, resourceVersion: string): Json {
  return {
    kind: 'Namespace',
    apiVersion: 'v1',
    metadata: {
      name,
      uid: `00000000-0000-4000-9000-${hash12(name)}`,
      resourceVersion,
      creationTimestamp: created,
      labels: { 'kubernetes.io/metadata.name': name },
    },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

// ---------------------------------------------------------------------------------------------
// Selectors

type Requirement = { key: string; op: 'eq' | 'ne' | 'in' | 'notin' | 'exists' | 'absent'; values: string[] };

/** Parses a label selector; throws with the API server's kind of message when malformed. */
export function parseLabelSelector(s: string): Requirement[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) parts.push(cur);
  return parts.map((p) => p.trim()).filter(Boolean).map((p) => {
    let m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(p);
    if (m) return { key: m[1], op: m[2] as 'in' | 'notin', values: m[3].split(',').map((v) => v.trim()) };
    m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(p);
    if (m) return { key: m[1], op: m[2] === '!=' ? 'ne' : 'eq', values: [m[3]] };
    m = /^(!?)([\w./-]+)$/.exec(p);
    if (m) return { key: m[2], op: m[1] ? 'absent' : 'exists', values: [] };
    throw new Error(`unable to parse requirement: ${p}`);
  });
}

export function matchLabels(reqs: Requirement[], labels: Record<string, string>): boolean {
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    const v = labels[r.key];
    switch (r.op) {
      case 'eq': return has && v === r.values[0];
      case 'ne': return !has || v !== r.values[0];
      case 'in': return has && r.values.includes(v);
      case 'notin': return !has || !r.values.includes(v);
      case 'exists': return has;
      case 'absent': return !has;
    }
  });
}

const FIELD_PATHS: Record<string, (o: Json) => unknown> = {
  'metadata.name': (o) => (o.metadata as Json).name,
  'metadata.namespace': (o) => (o.metadata as Json).namespace,
  'status.phase': (o) => (o.status as Json | undefined)?.phase,
  'spec.nodeName': (o) => (o.spec as Json | undefined)?.nodeName,
  'status.podIP': (o) => (o.status as Json | undefined)?.podIP,
};

export function parseFieldSelector(s: string): (o: Json) => boolean {
  const tests = s.split(',').map((p) => p.trim()).filter(Boolean).map((p) => {
    const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(p);
    if (!m || !FIELD_PATHS[m[1]]) throw new Error(`field label not supported: ${m ? m[1] : p}`);
    const get = FIELD_PATHS[m[1]];
    const want = m[3];
    const neg = m[2] === '!=';
    return (o: Json) => (String(get(o) ?? '') === want) !== neg;
  });
  return (o) => tests.every((t) => t(o));
}
