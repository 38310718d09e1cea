/**
 * Kubeconfig access without side effects: every call loads its own KubeConfig and picks the
 * context on that in-memory copy, so the user's file and current context are never changed.
 * Deadlines and error mapping of API calls are in ./apiCall, plain HTTP requests in ./rawHttp.
 */
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { k8s, type KubeConfig } from './client';
import { ToolError } from '../errors';
import type { KubeContextInfo, KubeTarget } from '../protocol';

export interface KubeConnection {
  kc: KubeConfig;
  context: string;
  /** The namespace asked for, else the context's namespace, else `default`. */
  namespace: string;
  server: string;
}

function defaultKubeconfigExists(): boolean {
  const fromEnv = (process.env.KUBECONFIG ?? '').split(path.delimiter).filter(Boolean);
  const candidates = fromEnv.length ? fromEnv : [path.join(os.homedir(), '.kube', 'config')];
  return candidates.some((f) => existsSync(f)) || existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token');
}

async function loadConfig(kubeconfig?: string): Promise<KubeConfig> {
  const { KubeConfig } = await k8s();
  const kc = new KubeConfig();
  // Without this check client-node invents a `loaded-context` pointing at localhost:8080.
  if (!kubeconfig && !defaultKubeconfigExists()) {
    throw new ToolError('kubeconfig-missing',
      'no kubeconfig found ($KUBECONFIG, ~/.kube/config or an in-cluster service account); set tsdbdump.kubeconfig or pass --kubeconfig');
  }
  try {
    if (kubeconfig) kc.loadFromFile(kubeconfig);
    else kc.loadFromDefault();
  } catch (e) {
    throw new ToolError('usage', `cannot read kubeconfig ${kubeconfig ?? '(default)'}: ${(e as Error).message}`);
  }
  return kc;
}

export async function listContexts(kubeconfig?: string): Promise<KubeContextInfo[]> {
  const kc = await loadConfig(kubeconfig);
  const current = kc.getCurrentContext();
  return kc.getContexts().map((c) => ({
    name: c.name,
    cluster: c.cluster,
    user: c.user,
    namespace: c.namespace,
    current: c.name === current,
  }));
}

/** A KubeConfig for one target's context (a private copy; the file's current context is untouched). */
export async function connect(target: Pick<KubeTarget, 'kubeconfig' | 'context' | 'namespace'>): Promise<KubeConnection> {
  const kc = await loadConfig(target.kubeconfig);
  const context = target.context ?? kc.getCurrentContext();
  const ctx = kc.getContextObject(context);
  if (!ctx) {
    const known = kc.getContexts().map((c) => c.name).join(', ') || 'none';
    throw new ToolError('usage', `no context "${context}" in the kubeconfig (known: ${known})`);
  }
  kc.setCurrentContext(context); // on this private copy only
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new ToolError('usage', `context "${context}" names no cluster`);
  return { kc, context, namespace: target.namespace ?? ctx.namespace ?? 'default', server: cluster.server };
}
