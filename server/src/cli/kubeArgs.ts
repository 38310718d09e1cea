/** CLI options shared by the cluster commands and how they become a KubeTarget. */
import { ToolError } from '../errors';
import type { KubeTarget } from '../protocol';

export const KUBE_OPTIONS = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  container: { type: 'string', short: 'c' },
  'data-dir': { type: 'string' },
} as const;

export const KUBE_USAGE = `Cluster options:
  --kubeconfig FILE   kubeconfig to read (default: $KUBECONFIG or ~/.kube/config; never modified)
  --context NAME      context to use for this command only (default: the kubeconfig's current context)
  -n, --namespace NS  namespace (default: the context's namespace, else "default")
  -c, --container C   container (default: the one running Prometheus)
  --data-dir DIR      Prometheus data dir in the pod (default: its --storage.tsdb.path, else /prometheus)`;

/**
 * `<pod>`, `<namespace>/<pod>` or `<context>/<namespace>/<pod>`; explicit options must agree.
 */
export function targetFrom(podArg: string | undefined, values: Record<string, unknown>): KubeTarget {
  const t: KubeTarget = {
    kubeconfig: values.kubeconfig as string | undefined,
    context: values.context as string | undefined,
    namespace: values.namespace as string | undefined,
    container: values.container as string | undefined,
    dataDir: values['data-dir'] as string | undefined,
  };
  if (t.dataDir !== undefined && !t.dataDir.startsWith('/'))
    throw new ToolError('usage', `--data-dir must be an absolute path in the pod (got "${t.dataDir}")`);
  if (podArg === undefined) return t;
  const parts = podArg.replace(/^pod:/, '').split('/');
  if (parts.length > 3 || parts.some((p) => p === ''))
    throw new ToolError('usage', `"${podArg}" is not a pod: use <pod>, <namespace>/<pod> or <context>/<namespace>/<pod>`);
  const pod = parts.pop()!;
  const ns = parts.pop();
  const ctx = parts.pop();
  if (ns && t.namespace && ns !== t.namespace)
    throw new ToolError('usage', `namespace given twice: "${ns}" in ${podArg} and -n ${t.namespace}`);
  if (ctx && t.context && ctx !== t.context)
    throw new ToolError('usage', `context given twice: "${ctx}" in ${podArg} and --context ${t.context}`);
  return { ...t, pod, namespace: ns ?? t.namespace, context: ctx ?? t.context };
}
