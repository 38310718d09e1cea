/**
 * Kubeconfig access without side effects: every call loads its own KubeConfig and picks the
 * context on that in-memory copy, so the user's file and current context are never changed.
 * Every request carries a deadline (AbortSignal), and failures become ToolErrors with kube-* codes.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { k8s, type ConfigurationOptions, type KubeConfig } from './client';
import { ToolError } from '../errors';
import type { KubeContextInfo, KubeTarget } from '../protocol';

export const DEFAULT_TIMEOUT_MS = 20_000;

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

/** A signal that fires on the caller's abort or after `ms`, whichever comes first. */
export function deadline(ms: number, outer?: AbortSignal): AbortSignal {
  const t = AbortSignal.timeout(ms);
  return outer ? AbortSignal.any([outer, t]) : t;
}

/** Per-call options for the generated API clients: attach the abort signal to the request. */
export function callOptions(signal: AbortSignal): ConfigurationOptions {
  // The object API runs observable middleware: anything with toPromise() will do.
  const mw = {
    pre: (ctx: { setSignal(s: unknown): void }) => {
      ctx.setSignal(signal);
      return { toPromise: () => Promise.resolve(ctx) };
    },
    post: (ctx: unknown) => ({ toPromise: () => Promise.resolve(ctx) }),
  };
  return { middleware: [mw], middlewareMergeStrategy: 'append' } as unknown as ConfigurationOptions;
}

interface StatusBody {
  message?: string;
  reason?: string;
}

function statusMessage(body: unknown): string | undefined {
  if (typeof body === 'string') {
    try {
      return (JSON.parse(body) as StatusBody).message ?? body.slice(0, 300);
    } catch {
      return body.slice(0, 300) || undefined;
    }
  }
  if (body && typeof body === 'object') return (body as StatusBody).message;
  return undefined;
}

/** Maps an HTTP status from the API server to a ToolError. */
export function httpError(code: number, body: unknown, what: string, server?: string): ToolError {
  const msg = statusMessage(body);
  switch (code) {
    case 401:
      return new ToolError('kube-unauthorized', `${what}: the cluster${server ? ` at ${server}` : ''} rejected the credentials (401 Unauthorized); refresh the token in the kubeconfig`);
    case 403:
      return new ToolError('kube-forbidden', `${what}: forbidden (403)${msg ? `: ${msg}` : ''}`);
    case 404:
      return new ToolError('kube-not-found', `${what}: not found${msg ? `: ${msg}` : ''}`);
    default:
      return new ToolError('kube-exec-failed', `${what}: the API server answered ${code}${msg ? `: ${msg}` : ''}`);
  }
}

/** Turns whatever a kube call threw into a ToolError with a message naming what was attempted. */
export function kubeError(e: unknown, what: string, conn?: KubeConnection, signal?: AbortSignal): ToolError {
  if (e instanceof ToolError) return e;
  const err = e as { code?: unknown; body?: unknown; name?: string; message?: string; type?: string };
  if (typeof err?.code === 'number' && err.code >= 400) return httpError(err.code, err.body, what, conn?.server);
  if (signal?.aborted) {
    const reason = signal.reason as { name?: string } | undefined;
    if (reason?.name === 'TimeoutError') {
      return new ToolError('kube-unreachable', `${what}: no answer from ${conn?.server ?? 'the cluster'} within the deadline`);
    }
    return new ToolError('cancelled', `${what}: cancelled`);
  }
  if (err?.name === 'AbortError' || err?.type === 'aborted') return new ToolError('cancelled', `${what}: cancelled`);
  const text = err?.message ?? String(e);
  if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|ECONNRESET|socket hang up|certificate|self[- ]signed|EAI_AGAIN/i.test(text)) {
    return new ToolError('kube-unreachable', `${what}: cannot reach ${conn?.server ?? 'the cluster'}: ${text.split('\n')[0]}`);
  }
  return new ToolError('kube-exec-failed', `${what}: ${text.split('\n')[0]}`);
}

/** Runs one API call with a deadline and maps its failure. */
export async function kubeCall<T>(
  conn: KubeConnection,
  what: string,
  fn: (opts: ConfigurationOptions, signal: AbortSignal) => Promise<T>,
  outer?: AbortSignal,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<T> {
  const signal = deadline(timeoutMs, outer);
  try {
    return await fn(callOptions(signal), signal);
  } catch (e) {
    throw kubeError(e, what, conn, signal);
  }
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A plain HTTP(S) request to the API server with the kubeconfig's credentials (used for the pod
 * proxy, whose bodies are Prometheus JSON, not Kubernetes objects). The body is capped.
 */
export async function rawRequest(
  conn: KubeConnection,
  method: string,
  path: string,
  opts: { body?: string | Buffer; headers?: Record<string, string>; signal?: AbortSignal; timeoutMs?: number; maxBytes?: number } = {},
): Promise<RawResponse> {
  const url = new URL(conn.server.replace(/\/+$/, '') + path);
  const reqOpts: https.RequestOptions = {};
  await conn.kc.applyToHTTPSOptions(reqOpts);
  const signal = deadline(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, opts.signal);
  const maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise<RawResponse>((resolve, reject) => {
    const req = lib.request(
      url,
      { ...reqOpts, method, headers: { ...(reqOpts.headers ?? {}), Accept: 'application/json, */*', ...(opts.headers ?? {}) }, signal },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            req.destroy(new Error(`response larger than ${maxBytes} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', (e) => reject(kubeError(e, `${method} ${path}`, conn, signal)));
    req.end(opts.body);
  });
}
