/**
 * A plain HTTP(S) request to the API server with the kubeconfig's credentials, for the pod proxy
 * (./prometheusApi), whose bodies are Prometheus JSON, not Kubernetes objects.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { DEFAULT_TIMEOUT_MS, deadline, kubeError } from './apiCall';
import type { KubeConnection } from './kubeconfig';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request; the response body is capped at maxBytes (64 MiB by default). */
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
