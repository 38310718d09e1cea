/**
 * Streaming exec into a pod over the WebSocket exec protocol (v5.channel.k8s.io, v4 fallback).
 *
 * client-node's Exec writes every stdout frame into the target stream without looking at the
 * return value and sends stdin frames as fast as they are read, so a slow consumer (gzip, disk)
 * or a slow pod makes memory grow without bound. This helper speaks the same protocol over `ws`
 * directly with the KubeConfig's credentials (applyToHTTPSOptions) and propagates back-pressure
 * both ways: stdout is a Readable that pauses the socket while its buffer is full, and stdin
 * frames wait for the socket to flush.
 *
 * Only v5 can end stdin without ending the session (a CLOSE frame). On v4 stdin is refused unless
 * the caller says the command stops reading on its own (`stdinEndsItself`, e.g. `head -c N`).
 */
import { Readable } from 'node:stream';
import type * as https from 'node:https';
import WebSocket from 'ws';
import { ToolError } from '../errors';
import { httpError, kubeError } from './apiCall';
import type { KubeConnection } from './kubeconfig';

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const STATUS = 3;
const CLOSE = 255;
const STDERR_LIMIT = 64 * 1024;
/** How much stdin may sit in the socket's send buffer before we wait for it to flush. */
const STDIN_HIGH_WATER = 4 * 1024 * 1024;
const STDIN_FRAME = 256 * 1024;

export interface ExecOptions {
  namespace: string;
  pod: string;
  container?: string;
  command: string[];
  stdin?: Readable | AsyncIterable<Buffer>;
  signal?: AbortSignal;
  /** Deadline for the WebSocket upgrade. */
  connectTimeoutMs?: number;
  /** Fail when no frame arrives for this long while we are not pausing the socket ourselves. */
  idleTimeoutMs?: number;
  /** stdout buffer before the socket is paused. */
  highWaterMark?: number;
  /**
   * The command ends without needing EOF on stdin (it reads a known byte count, like `head -c N`):
   * stdin may then go over v4.channel.k8s.io, which cannot signal the end of input.
   */
  stdinEndsItself?: boolean;
}

export interface ExecStatus {
  exitCode: number;
  /** The status message of a failure (non-zero exit, or an error starting the command). */
  message?: string;
  /** The executable was not found in the container (the command never ran). */
  missingExecutable?: boolean;
  stderr: string;
  /** The negotiated subprotocol (v5.channel.k8s.io or v4.channel.k8s.io). */
  protocol?: string;
}

export const EXEC_V5 = 'v5.channel.k8s.io';
export const EXEC_V4 = 'v4.channel.k8s.io';

export interface ExecHandle {
  stdout: Readable;
  /** Resolves when the status arrives (after the last stdout byte); rejects when the stream breaks. */
  done: Promise<ExecStatus>;
  stderr(): string;
  /** Ends the session now (the command is killed by the server with the connection). */
  kill(): void;
}

interface V1StatusLike {
  status?: string;
  message?: string;
  reason?: string;
  details?: { causes?: { reason?: string; message?: string }[] };
}

function parseStatus(buf: Buffer, stderr: string): ExecStatus {
  let s: V1StatusLike;
  try {
    s = JSON.parse(buf.toString('utf8')) as V1StatusLike;
  } catch {
    // pre-v4 protocols send plain text errors
    const text = buf.toString('utf8');
    return { exitCode: text ? 1 : 0, message: text || undefined, stderr };
  }
  if (s.status === 'Success') return { exitCode: 0, stderr };
  const cause = s.details?.causes?.find((c) => c.reason === 'ExitCode');
  if (cause?.message && /^\d+$/.test(cause.message)) return { exitCode: Number(cause.message), message: s.message, stderr };
  const missing = /executable file not found|no such file or directory|not found in \$PATH/i.test(s.message ?? '');
  return { exitCode: missing ? 127 : 1, message: s.message, missingExecutable: missing, stderr };
}

export function execUrl(conn: KubeConnection, o: Pick<ExecOptions, 'namespace' | 'pod' | 'container' | 'command'>, stdin: boolean): string {
  const q = new URLSearchParams();
  for (const arg of o.command) q.append('command', arg);
  if (o.container) q.set('container', o.container);
  q.set('stdin', String(stdin));
  q.set('stdout', 'true');
  q.set('stderr', 'true');
  q.set('tty', 'false');
  const base = conn.server.replace(/\/+$/, '').replace(/^http/, 'ws');
  return `${base}/api/v1/namespaces/${encodeURIComponent(o.namespace)}/pods/${encodeURIComponent(o.pod)}/exec?${q.toString()}`;
}

/** Starts a command in the pod. stdout streams with back-pressure; `done` carries the exit code. */
export function execStream(conn: KubeConnection, o: ExecOptions): ExecHandle {
  const what = `exec ${o.command[0]} in ${o.namespace}/${o.pod}`;
  let ws: WebSocket | undefined;
  let stderr = '';
  let status: ExecStatus | undefined;
  let finished = false;
  let pausedByUs = false;
  let idleTimer: NodeJS.Timeout | undefined;
  let resolveDone!: (s: ExecStatus) => void;
  let rejectDone!: (e: unknown) => void;
  const done = new Promise<ExecStatus>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  done.catch(() => undefined); // callers may only look at stdout's error

  const stdout = new Readable({
    highWaterMark: o.highWaterMark ?? 1024 * 1024,
    read() {
      if (pausedByUs && ws) {
        pausedByUs = false;
        ws.resume();
        armIdle();
      }
    },
    destroy(err, cb) {
      if (!finished) fail(err ?? new ToolError('cancelled', `${what}: cancelled`));
      cb(err);
    },
  });

  // Consumers see stream errors through `done` or their own iteration; an unread stdout must not crash the process.
  stdout.on('error', () => undefined);

  const cleanup = () => {
    if (idleTimer) clearTimeout(idleTimer);
    o.signal?.removeEventListener('abort', onAbort);
  };
  // The caller's stdin belongs to this session: its errors end the session (not the process), and a
  // failed session stops reading it.
  const stdinStream = o.stdin instanceof Readable ? o.stdin : undefined;
  stdinStream?.on('error', () => undefined);
  const fail = (e: unknown) => {
    if (finished) return;
    finished = true;
    cleanup();
    stdinStream?.destroy();
    const err = e instanceof ToolError ? e : kubeError(e, what, conn);
    try {
      ws?.terminate();
    } catch {
      /* already closed */
    }
    if (!stdout.destroyed) stdout.destroy(err);
    rejectDone(err);
  };
  const succeed = (s: ExecStatus) => {
    if (finished) return;
    finished = true;
    cleanup();
    stdout.push(null);
    resolveDone(s);
    ws?.close(1000);
  };
  const armIdle = () => {
    if (idleTimer) clearTimeout(idleTimer);
    const ms = o.idleTimeoutMs ?? 120_000;
    idleTimer = setTimeout(() => {
      if (!pausedByUs && !finished) fail(new ToolError('kube-unreachable', `${what}: no data from the pod for ${Math.round(ms / 1000)} s`));
      else armIdle();
    }, ms);
    idleTimer.unref?.();
  };
  const onAbort = () => fail(new ToolError('cancelled', `${what}: cancelled`));
  if (o.signal?.aborted) {
    queueMicrotask(onAbort);
  } else {
    o.signal?.addEventListener('abort', onAbort, { once: true });
  }

  void (async () => {
    const tlsOpts: https.RequestOptions = {};
    await conn.kc.applyToHTTPSOptions(tlsOpts);
    if (finished) return;
    const url = execUrl(conn, o, o.stdin != null);
    ws = new WebSocket(url, [EXEC_V5, EXEC_V4], {
      ...(tlsOpts as WebSocket.ClientOptions),
      handshakeTimeout: o.connectTimeoutMs ?? 20_000,
      perMessageDeflate: false,
      maxPayload: 64 * 1024 * 1024,
    });
    ws.binaryType = 'nodebuffer';
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.length < 64 && chunks.push(c));
      res.on('end', () => fail(httpError(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), what, conn.server)));
      res.on('error', (e) => fail(e));
    });
    ws.on('error', (e) => fail(e));
    ws.on('open', () => {
      armIdle();
      if (o.stdin && ws!.protocol !== EXEC_V5 && !o.stdinEndsItself) {
        // v4 cannot close stdin without ending the command: fail before sending anything
        fail(
          new ToolError(
            'kube-exec-failed',
            `${what}: the API server does not speak ${EXEC_V5} (Kubernetes ` +
              `>= 1.30), so streaming into the pod cannot signal the end of input`,
          ),
        );
        return;
      }
      if (o.stdin) void pumpStdin(ws!, o.stdin).catch((e) => fail(e));
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (finished) return;
      armIdle();
      let channel: number;
      let payload: Buffer;
      if (isBinary) {
        channel = data[0];
        payload = data.subarray(1);
      } else {
        // base64 protocols are never offered, but keep text frames harmless
        channel = data[0] - 48;
        payload = Buffer.from(data.subarray(1).toString('latin1'), 'base64');
      }
      if (channel === STDOUT) {
        if (payload.length > 0 && !stdout.push(payload) && !pausedByUs) {
          pausedByUs = true;
          ws!.pause();
        }
      } else if (channel === STDERR) {
        if (stderr.length < STDERR_LIMIT) stderr += payload.toString('utf8');
      } else if (channel === STATUS) {
        status = { ...parseStatus(payload, stderr), protocol: ws!.protocol };
        succeed(status);
      }
    });
    ws.on('close', (code, reason) => {
      if (finished) return;
      fail(
        new ToolError(
          'kube-exec-failed',
          `${what}: the connection closed before the command finished ` +
            `(WebSocket ${code}${reason.length ? ` ${reason.toString()}` : ''})${stderr ? `; stderr: ${stderr.trim().slice(0, 500)}` : ''}`,
        ),
      );
    });
  })().catch((e) => fail(e));

  const pumpStdin = async (sock: WebSocket, input: Readable | AsyncIterable<Buffer>) => {
    const v5 = sock.protocol === EXEC_V5;
    for await (const raw of input as AsyncIterable<Buffer>) {
      const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
      // frames of at most STDIN_FRAME bytes, as kubectl sends them
      for (let off = 0; off < chunk.length; off += STDIN_FRAME) {
        if (finished) return;
        const part = chunk.subarray(off, Math.min(chunk.length, off + STDIN_FRAME));
        const buf = Buffer.allocUnsafe(part.length + 1);
        buf[0] = STDIN;
        part.copy(buf, 1);
        await new Promise<void>((res, rej) => {
          sock.send(buf, { binary: true }, (err) => (err ? rej(err) : undefined));
          // wait for the flush only when the send buffer is large: keeps throughput, bounds memory
          if (sock.bufferedAmount < STDIN_HIGH_WATER) res();
          else waitFlush(sock).then(res, rej);
        });
      }
    }
    if (finished || !v5) return;
    sock.send(Buffer.from([CLOSE, STDIN]), { binary: true });
  };

  return {
    stdout,
    done,
    stderr: () => stderr,
    kill: () => fail(new ToolError('cancelled', `${what}: stopped`)),
  };
}

function waitFlush(sock: WebSocket): Promise<void> {
  return new Promise((res, rej) => {
    const tick = () => {
      if (sock.readyState !== WebSocket.OPEN) return rej(new Error('connection closed while sending'));
      if (sock.bufferedAmount < STDIN_HIGH_WATER / 2) return res();
      setTimeout(tick, 5);
    };
    tick();
  });
}

/** Runs a command and collects its stdout (capped); rejects on stream failure, not on exit codes. */
export async function execCollect(
  conn: KubeConnection,
  o: ExecOptions & { maxBytes?: number; timeoutMs?: number },
): Promise<ExecStatus & { stdout: Buffer }> {
  const timeout = AbortSignal.timeout(o.timeoutMs ?? 60_000);
  const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout;
  const h = execStream(conn, { ...o, signal });
  const chunks: Buffer[] = [];
  let size = 0;
  const max = o.maxBytes ?? 32 * 1024 * 1024;
  try {
    for await (const c of h.stdout) {
      size += (c as Buffer).length;
      if (size > max) {
        h.kill();
        throw new ToolError('kube-exec-failed', `exec ${o.command[0]}: output larger than ${max} bytes`);
      }
      chunks.push(c as Buffer);
    }
    const s = await h.done;
    return { ...s, stdout: Buffer.concat(chunks) };
  } catch (e) {
    if (timeout.aborted && !(o.signal?.aborted ?? false)) {
      throw new ToolError(
        'kube-unreachable',
        `exec ${o.command[0]} in ${o.namespace}/${o.pod}: no result within ${Math.round((o.timeoutMs ?? 60_000) / 1000)} s`,
      );
    }
    throw e;
  }
}

/** Like execCollect, but a non-zero exit is an error carrying stderr. */
export async function execOk(conn: KubeConnection, o: ExecOptions & { maxBytes?: number; timeoutMs?: number }): Promise<Buffer> {
  const r = await execCollect(conn, o);
  if (r.missingExecutable) throw new ToolError('pod-missing-tool', `${o.command[0]} is not available in ${o.namespace}/${o.pod}`);
  if (r.exitCode !== 0) {
    throw new ToolError(
      'kube-exec-failed',
      `${o.command.slice(0, 2).join(' ')} in ${o.namespace}/${o.pod} exited ` +
        `with ${r.exitCode}${r.stderr ? `: ${r.stderr.trim().slice(0, 500)}` : ''}`,
    );
  }
  return r.stdout;
}
