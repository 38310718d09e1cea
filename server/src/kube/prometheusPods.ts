/**
 * Prometheus pods: discovery (labels or image), the container running Prometheus, access checks,
 * delete-and-wait (a StatefulSet brings the pod back with the same data) and readiness polling.
 */
import { k8s, type V1Pod } from './client';
import { ToolError } from '../errors';
import type { KubeTarget, PodInfo } from '../protocol';
import { kubeCall } from './apiCall';
import { connect, type KubeConnection } from './kubeconfig';

/** Used when the user sets no selector: any of these labels, or a container image named like prometheus. */
export const DEFAULT_POD_LABELS: [string, string][] = [
  ['app.kubernetes.io/name', 'prometheus'],
  ['app', 'prometheus'],
];

const NOT_PROMETHEUS_IMAGES = /operator|reloader|exporter|adapter|pushgateway|alertmanager|blackbox/i;

function imageBaseName(image: string): string {
  const noDigest = image.split('@')[0];
  const last = noDigest.split('/').pop() ?? noDigest;
  return last.split(':')[0];
}

function isPrometheusImage(image: string | undefined): boolean {
  if (!image) return false;
  const base = imageBaseName(image);
  return base.includes('prometheus') && !NOT_PROMETHEUS_IMAGES.test(base);
}

export function prometheusContainerOf(pod: V1Pod): string | undefined {
  const containers = pod.spec?.containers ?? [];
  const byImage = containers.find((c) => isPrometheusImage(c.image));
  if (byImage) return byImage.name;
  const byName = containers.find((c) => c.name === 'prometheus');
  if (byName) return byName.name;
  const annotated = pod.metadata?.annotations?.['kubectl.kubernetes.io/default-container'];
  if (annotated && containers.some((c) => c.name === annotated)) return annotated;
  return containers.length === 1 ? containers[0].name : undefined;
}

export function looksLikePrometheus(pod: V1Pod): boolean {
  const labels = pod.metadata?.labels ?? {};
  if (DEFAULT_POD_LABELS.some(([k, v]) => labels[k] === v)) return true;
  return (pod.spec?.containers ?? []).some((c) => isPrometheusImage(c.image));
}

export function isReady(pod: V1Pod): boolean {
  return !pod.metadata?.deletionTimestamp && (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export function podInfo(context: string, pod: V1Pod): PodInfo {
  return {
    context,
    namespace: pod.metadata?.namespace ?? '',
    name: pod.metadata?.name ?? '',
    phase: pod.metadata?.deletionTimestamp ? 'Terminating' : pod.status?.phase ?? 'Unknown',
    ready: isReady(pod),
    containers: (pod.spec?.containers ?? []).map((c) => c.name),
    prometheusContainer: prometheusContainerOf(pod),
    labels: pod.metadata?.labels ?? {},
  };
}

export interface ListPodsOptions {
  kubeconfig?: string;
  context?: string;
  /** One namespace; all namespaces when absent. */
  namespace?: string;
  /** A Kubernetes label selector; replaces the default discovery (labels or image). */
  labelSelector?: string;
  signal?: AbortSignal;
}

/** Prometheus pods of one context. */
export async function listPrometheusPods(o: ListPodsOptions): Promise<PodInfo[]> {
  const conn = await connect({ kubeconfig: o.kubeconfig, context: o.context, namespace: o.namespace });
  const api = conn.kc.makeApiClient((await k8s()).CoreV1Api);
  const selector = o.labelSelector?.trim() || undefined;
  const list = await kubeCall(
    conn,
    `list pods in ${o.namespace ? `namespace ${o.namespace}` : 'all namespaces'} of context ${conn.context}`,
    (opts) =>
      o.namespace
        ? api.listNamespacedPod({ namespace: o.namespace, labelSelector: selector }, opts)
        : api.listPodForAllNamespaces({ labelSelector: selector }, opts),
    o.signal,
  );
  return list.items
    .filter((p) => selector !== undefined || looksLikePrometheus(p))
    .map((p) => podInfo(conn.context, p))
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

export async function listNamespaces(o: { kubeconfig?: string; context?: string; signal?: AbortSignal }): Promise<string[]> {
  const conn = await connect(o);
  const api = conn.kc.makeApiClient((await k8s()).CoreV1Api);
  const list = await kubeCall(conn, `list namespaces of context ${conn.context}`, (opts) => api.listNamespace({}, opts), o.signal);
  return list.items.map((n) => n.metadata?.name ?? '').filter(Boolean).sort();
}

export async function getPod(conn: KubeConnection, name: string, signal?: AbortSignal): Promise<V1Pod> {
  const api = conn.kc.makeApiClient((await k8s()).CoreV1Api);
  return kubeCall(
    conn,
    `get pod ${conn.namespace}/${name}`,
    (opts) => api.readNamespacedPod({ namespace: conn.namespace, name }, opts),
    signal,
  );
}

/** A resolved target: the connection, the pod, the container to exec in. */
export interface ResolvedPod {
  conn: KubeConnection;
  pod: V1Pod;
  name: string;
  namespace: string;
  container: string;
}

/** Looks the pod up and picks the Prometheus container (or the one asked for). */
export async function resolvePod(target: KubeTarget, signal?: AbortSignal): Promise<ResolvedPod> {
  if (!target.pod) throw new ToolError('usage', 'no pod given');
  const conn = await connect(target);
  const pod = await getPod(conn, target.pod, signal);
  const names = (pod.spec?.containers ?? []).map((c) => c.name);
  let container = target.container;
  if (container && !names.includes(container)) {
    throw new ToolError(
      'kube-not-found',
      `pod ${conn.namespace}/${target.pod} has no container "${container}" (containers: ${names.join(', ')})`,
    );
  }
  container ??= prometheusContainerOf(pod) ?? names[0];
  if (!container) throw new ToolError('kube-not-found', `pod ${conn.namespace}/${target.pod} has no containers`);
  return { conn, pod, name: target.pod, namespace: conn.namespace, container };
}

/** SelfSubjectAccessReview: may the current user do `verb` on `resource/subresource` in the namespace? */
export async function canI(
  conn: KubeConnection,
  attrs: { verb: string; resource: string; subresource?: string; name?: string; namespace?: string },
  signal?: AbortSignal,
): Promise<{ allowed: boolean; reason?: string }> {
  const api = conn.kc.makeApiClient((await k8s()).AuthorizationV1Api);
  const review = await kubeCall(
    conn,
    `check ${attrs.verb} ${attrs.resource}${attrs.subresource ? `/${attrs.subresource}` : ''} permission`,
    (opts) =>
      api.createSelfSubjectAccessReview(
        {
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: {
              resourceAttributes: {
                namespace: attrs.namespace ?? conn.namespace,
                verb: attrs.verb,
                group: '',
                resource: attrs.resource,
                subresource: attrs.subresource,
                name: attrs.name,
              },
            },
          },
        },
        opts,
      ),
    signal,
  );
  return { allowed: review.status?.allowed === true, reason: review.status?.reason };
}

/** Fails with kube-forbidden, naming what is missing, when exec into the pod is not allowed. */
export async function requireExec(p: ResolvedPod, signal?: AbortSignal): Promise<void> {
  let r: { allowed: boolean; reason?: string };
  try {
    r = await canI(p.conn, { verb: 'create', resource: 'pods', subresource: 'exec', name: p.name }, signal);
  } catch (e) {
    // Clusters that hide the review API: let the exec itself tell.
    if (e instanceof ToolError && (e.code === 'kube-not-found' || e.code === 'kube-forbidden')) return;
    throw e;
  }
  if (!r.allowed) {
    throw new ToolError(
      'kube-forbidden',
      `no permission to exec into ${p.namespace}/${p.name} (create ` +
        `pods/exec) in context ${p.conn.context}${r.reason ? `: ${r.reason}` : ''}; dump, restore and in-place analysis need it`,
    );
  }
}

/**
 * Deletes the pod. `gracePeriodSeconds` 0 kills its containers at once (SIGKILL, no shutdown work);
 * absent: the pod's own grace period (SIGTERM first).
 */
export async function deletePod(
  conn: KubeConnection,
  name: string,
  signal?: AbortSignal,
  o: { gracePeriodSeconds?: number } = {},
): Promise<void> {
  const api = conn.kc.makeApiClient((await k8s()).CoreV1Api);
  const body = {
    propagationPolicy: 'Background',
    ...(o.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: o.gracePeriodSeconds } : {}),
  };
  await kubeCall(
    conn,
    `delete pod ${conn.namespace}/${name}`,
    (opts) => api.deleteNamespacedPod({ namespace: conn.namespace, name, body }, opts),
    signal,
  );
}

/**
 * Polls until the pod named `name` is Ready and (when `oldUid` is given) is a new instance.
 * Polling with a deadline keeps this simple and robust against watch disconnects.
 */
/** How often the kubelet has restarted a container of the pod (status.containerStatuses). */
export function restartCountOf(pod: V1Pod, container: string): number {
  return pod.status?.containerStatuses?.find((c) => c.name === container)?.restartCount ?? 0;
}

/**
 * Waits until the pod is Ready again: a new instance (`oldUid`: the deleted pod's uid), or the same
 * pod after the kubelet restarted one container (`restartedContainer`: its restartCount before).
 */
export async function waitForReady(
  conn: KubeConnection,
  name: string,
  o: { oldUid?: string; restartedContainer?: { name: string; after: number }; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<V1Pod> {
  const until = Date.now() + (o.timeoutMs ?? 180_000);
  let last = 'not seen yet';
  for (;;) {
    if (o.signal?.aborted) throw new ToolError('cancelled', `waiting for ${conn.namespace}/${name}: cancelled`);
    try {
      const pod = await getPod(conn, name, o.signal);
      const replaced = (!o.oldUid || pod.metadata?.uid !== o.oldUid)
        && (!o.restartedContainer || restartCountOf(pod, o.restartedContainer.name) > o.restartedContainer.after);
      if (replaced && isReady(pod)) return pod;
      last = replaced
        ? `phase ${pod.status?.phase ?? 'unknown'}, not ready`
        : o.oldUid
          ? 'still the old instance'
          : 'the container has not restarted yet';
    } catch (e) {
      if (!(e instanceof ToolError) || e.code !== 'kube-not-found') throw e;
      last = 'not found (being recreated)';
    }
    if (Date.now() > until) {
      throw new ToolError(
        'restore-failed',
        `pod ${conn.namespace}/${name} did not become ready within ${Math.round((o.timeoutMs ?? 180_000) / 1000)} s (${last})`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
