/**
 * Calls to the Kubernetes API: every request carries a deadline (AbortSignal), and failures become
 * ToolErrors with kube-* codes whose message names what was attempted.
 */
import type { ConfigurationOptions } from './client';
import { ToolError } from '../errors';
import type { KubeConnection } from './kubeconfig';

export const DEFAULT_TIMEOUT_MS = 20_000;

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
      return new ToolError(
        'kube-unauthorized',
        `${what}: the cluster${server ? ` at ${server}` : ''} rejected the ` +
          `credentials (401 Unauthorized); refresh the token in the kubeconfig`,
      );
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
  if (
    /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|ECONNRESET|socket hang up|certificate|self[- ]signed|EAI_AGAIN/i.test(text)
  ) {
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
