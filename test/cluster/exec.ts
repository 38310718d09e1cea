/**
 * pods/exec over WebSocket (v5.channel.k8s.io, v4.channel.k8s.io, channel.k8s.io and the base64
 * variants) like the kubelet's streaming server: the argv runs inside the pod's root with
 * `chroot`, stdout/stderr stream back with backpressure, the exit status ends the session on
 * channel 3. The SPDY fallback gets the same HTTP errors as the WebSocket upgrade would.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import type { Readable } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { ClusterState, TestUser } from './apiserver';
import { isAllowed, writeRawStatus } from './apiserver';
import { type Json, type StatusBody, badRequest, forbidden, notFound, status } from './k8s';
import {
  CONTAINER_PATH,
  type ContainerRun,
  type PodInstance,
  type PodSlot,
  chrootArgv,
  killGroup,
  resolveInRoot,
  signalNumber,
} from './podRuntime';

/** Faults the tests can inject into the next exec of a pod (`pod` is "namespace/name"). */
export type ExecFault =
  /** The next exec upgrade of the pod fails with this HTTP status (default 500 InternalError). */
  | { kind: 'fail-next-exec'; pod: string; code?: number; message?: string }
  /** The next exec of the pod loses its TCP connection (no close frame) after `bytes` bytes of stdout. */
  | { kind: 'drop-exec-after-bytes'; pod: string; bytes: number }
  /** The next exec of the pod loses its TCP connection after `bytes` bytes of stdin were received. */
  | { kind: 'drop-exec-after-stdin-bytes'; pod: string; bytes: number }
  /**
   * Every exec of the pod negotiates v4 at best, like an API server before Kubernetes 1.30 (no v5,
   * so stdin cannot be closed); stays until the pod's faults are cleared.
   */
  | { kind: 'exec-v4-only'; pod: string };

export interface ExecRequest {
  slot: PodSlot;
  pod: PodInstance;
  container: ContainerRun;
  argv: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

const SUPPORTED = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io'];
const SUPPORTED_BEFORE_1_30 = SUPPORTED.filter((p) => !p.startsWith('v5.'));
/** Upgrade requests of pods under the `exec-v4-only` fault: they negotiate without v5. */
const v4OnlyRequests = new WeakSet<http.IncomingMessage>();

const flag = (url: URL, name: string): boolean => ['true', '1'].includes(url.searchParams.get(name) ?? '');

/** The checks the API server and kubelet make before upgrading; a Status on failure. */
export function checkExec(state: ClusterState, user: TestUser, url: URL, namespace: string, name: string): ExecRequest | StatusBody {
  if (!isAllowed(user, 'create', 'pods', 'exec')) return forbidden(user.name, 'create', 'pods/exec', namespace, name);
  const slot = state.slot(namespace, name);
  const pod = slot?.current;
  if (!slot || !pod) return notFound(name);
  let containerName = url.searchParams.get('container') ?? '';
  if (!containerName) {
    if (pod.containers.length > 1) {
      return badRequest(
        `a container name must be specified for pod ${name}, choose one of: [${pod.containers.map((c) => c.def.name).join(' ')}]`,
      );
    }
    containerName = pod.containers[0].def.name;
  }
  const container = pod.container(containerName);
  if (!container) return badRequest(`container ${containerName} is not valid for pod ${name}`);
  const argv = url.searchParams.getAll('command');
  if (argv.length === 0) return badRequest('you must specify at least one command for the container');
  const req = {
    slot,
    pod,
    container,
    argv,
    stdin: flag(url, 'stdin'),
    stdout: flag(url, 'stdout'),
    stderr: flag(url, 'stderr'),
    tty: flag(url, 'tty'),
  };
  if (!req.stdin && !req.stdout && !req.stderr) return badRequest('you must specify at least 1 of stdin, stdout, stderr');
  if (container.state.kind !== 'running' || !container.proc)
    return badRequest(`unable to upgrade connection: container not found ("${containerName}")`);
  return req;
}

function takeFault(state: ClusterState, key: string, kinds: ExecFault['kind'][]): ExecFault | undefined {
  const i = state.faults.findIndex((f) => f.pod === key && kinds.includes(f.kind));
  return i >= 0 ? state.faults.splice(i, 1)[0] : undefined;
}

const wss = new WebSocketServer({
  noServer: true,
  perMessageDeflate: false,
  maxPayload: 256 << 20,
  handleProtocols: (protocols, req) => {
    const supported = v4OnlyRequests.has(req) ? SUPPORTED_BEFORE_1_30 : SUPPORTED;
    return [...protocols].find((p) => supported.includes(p)) ?? false;
  },
});

const EXEC_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/;

export function handleExecUpgrade(state: ClusterState, user: TestUser, req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
  const url = new URL(req.url ?? '/', 'https://127.0.0.1');
  const m = EXEC_PATH.exec(url.pathname);
  if (!m) return writeRawStatus(socket, status(404, 'NotFound', 'the server could not find the requested resource'));
  const [namespace, name] = [decodeURIComponent(m[1]), decodeURIComponent(m[2])];
  const checked = checkExec(state, user, url, namespace, name);
  if ('code' in checked) return writeRawStatus(socket, checked);
  const fail = takeFault(state, `${namespace}/${name}`, ['fail-next-exec']);
  if (fail && fail.kind === 'fail-next-exec') {
    const code = fail.code ?? 500;
    return writeRawStatus(
      socket,
      status(code, code === 500 ? 'InternalError' : 'InjectedFault', fail.message ?? 'Internal error occurred: injected fault'),
    );
  }
  const isWebSocket = String(req.headers.upgrade ?? '').toLowerCase() === 'websocket' && req.method === 'GET';
  if (!isWebSocket) {
    return writeRawStatus(
      socket,
      badRequest('unable to upgrade connection: SPDY is not supported by this test server, use a WebSocket client'),
    );
  }
  const v4Only = state.faults.some((f) => f.pod === `${namespace}/${name}` && f.kind === 'exec-v4-only');
  if (v4Only) v4OnlyRequests.add(req);
  const supported = v4Only ? SUPPORTED_BEFORE_1_30 : SUPPORTED;
  const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
  if (!offered.some((p) => supported.includes(p))) {
    return writeRawStatus(
      socket,
      badRequest(`unable to upgrade connection: none of the offered subprotocols [${offered.join(' ')}] is supported`),
    );
  }
  // A drop fault waits for the next exec that moves that many bytes: execs that move fewer (a
  // marker touch, a listing) end normally and leave the fault for the next one.
  const drop = takeFault(state, `${namespace}/${name}`, ['drop-exec-after-bytes', 'drop-exec-after-stdin-bytes']);
  wss.handleUpgrade(req, socket, head, (ws) => runSession(ws, socket, checked, drop, () => drop && state.faults.unshift(drop)));
}

/** Bytes waiting in the socket above which the process' output is paused. */
const HIGH_WATER = 4 << 20;
const LOW_WATER = 1 << 20;

function runSession(ws: WebSocket, socket: net.Socket, req: ExecRequest, drop: ExecFault | undefined, dropNotUsed: () => void): void {
  const protocol = ws.protocol;
  const base64 = protocol.includes('base64');
  const statusAsJson = protocol.startsWith('v4') || protocol.startsWith('v5');
  const v5 = protocol.startsWith('v5');
  ws.on('error', () => undefined);
  socket.setNoDelay(true);
  // Hold incoming frames (stdin, the v5 close) until the process exists to receive them.
  ws.pause();

  const sendFrame = (channel: number, data: Buffer, cb?: (err?: Error) => void): void => {
    if (ws.readyState !== WebSocket.OPEN) return cb?.(new Error('closed'));
    if (base64) ws.send(String(channel) + data.toString('base64'), cb);
    else ws.send(Buffer.concat([Buffer.from([channel]), data]), { binary: true }, cb);
  };
  const finish = (st: Json | undefined, text?: string): void => {
    if (st) sendFrame(3, Buffer.from(statusAsJson ? JSON.stringify(st) : (text ?? String(st.message ?? ''))));
    if (ws.readyState === WebSocket.OPEN) ws.close(1000);
  };
  // The kubelet's "stream ready" signal: one empty message on the lowest output channel.
  sendFrame(req.stdout ? 1 : req.stderr ? 2 : 3, Buffer.alloc(0));

  let closed = false;
  let dropped = false;
  let cleanup = (): void => undefined;
  ws.on('close', () => {
    closed = true;
    if (drop && !dropped) dropNotUsed();
    cleanup();
  });

  void resolveInRoot(req.slot.root, req.argv[0]).then((found) => {
    if (closed) return;
    if (!found) {
      const detail = `error executing command in container: failed to exec in container: ` +
        `failed to start exec "${req.container.containerId.slice(13, 77)}": OCI runtime ` +
        `exec failed: exec failed: unable to start container process: exec: "${req.argv[0]}": executable file not found in $PATH: unknown`;
      return finish({
        metadata: {},
        status: 'Failure',
        message: `Internal error occurred: ${detail}`,
        reason: 'InternalError',
        details: { causes: [{ message: detail }] },
        code: 500,
      });
    }
    const [cmd, args] = chrootArgv(req.slot.root, req.argv);
    const child = spawn(cmd, args, {
      detached: true,
      stdio: [req.stdin ? 'pipe' : 'ignore', req.stdout || req.tty ? 'pipe' : 'ignore', req.stderr && !req.tty ? 'pipe' : 'ignore'],
      env: { PATH: CONTAINER_PATH, HOME: '/root', HOSTNAME: req.slot.def.name, ...(req.tty ? { TERM: 'xterm' } : {}) },
    });
    const pid = child.pid;
    const handle = { kill: () => pid !== undefined && killGroup(pid, 'SIGKILL') };
    req.pod.execs.add(handle);
    cleanup = () => {
      // The client went away: the command dies with the connection, as with a real kubelet.
      if (child.exitCode === null && child.signalCode === null) handle.kill();
    };
    if (closed) cleanup();

    // Output with backpressure: pause reading the pipes while the socket holds too much.
    const outputs: Readable[] = [];
    let pending = 0;
    let paused = false;
    let sentStdout = 0;
    const dropNow = () => {
      dropped = true;
      socket.destroy();
      handle.kill();
    };
    const relay = (stream: Readable | null, channel: number) => {
      if (!stream) return;
      outputs.push(stream);
      stream.on('data', (b: Buffer) => {
        pending += b.length;
        sendFrame(channel, b, () => {
          pending -= b.length;
          if (paused && pending < LOW_WATER) {
            paused = false;
            for (const s of outputs) s.resume();
          }
        });
        if (channel === 1) {
          sentStdout += b.length;
          if (drop?.kind === 'drop-exec-after-bytes' && sentStdout >= drop.bytes) dropNow();
        }
        if (!paused && pending > HIGH_WATER) {
          paused = true;
          for (const s of outputs) s.pause();
        }
      });
    };
    relay(child.stdout, 1);
    relay(child.stderr, 2);

    // Input: stop reading frames while the process' stdin pipe is full.
    let receivedStdin = 0;
    let waitingForDrain = false;
    const stdin = child.stdin;
    stdin?.on('error', () => undefined);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      let channel: number;
      let payload: Buffer;
      if (isBinary || !base64) {
        if (data.length === 0) return;
        channel = data[0];
        payload = data.subarray(1);
      } else {
        const text = data.toString('utf8');
        channel = Number(text[0]);
        payload = Buffer.from(text.slice(1), 'base64');
      }
      if (channel === 0 && stdin && !stdin.writableEnded) {
        receivedStdin += payload.length;
        if (!stdin.write(payload) && !waitingForDrain) {
          waitingForDrain = true;
          ws.pause();
          stdin.once('drain', () => {
            waitingForDrain = false;
            ws.resume();
          });
        }
        if (drop?.kind === 'drop-exec-after-stdin-bytes' && receivedStdin >= drop.bytes) dropNow();
      } else if (channel === 255 && v5 && payload[0] === 0) {
        stdin?.end();
      }
      // channel 4 (resize) needs no action without a real terminal
    });

    ws.resume();
    child.on('error', (err) => {
      finish(status(500, 'InternalError', `Internal error occurred: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      req.pod.execs.delete(handle);
      ws.resume(); // read the client's close frame even if stdin was backed up
      stdin?.destroy();
      const exit = code ?? 128 + (signal ? (signalNumber(signal) ?? 0) : 0);
      if (exit === 0) return finish({ metadata: {}, status: 'Success' });
      const message = `command terminated with non-zero exit code: error executing command [${req.argv.join(' ')}], exit code ${exit}`;
      finish(
        {
          metadata: {},
          status: 'Failure',
          message,
          reason: 'NonZeroExitCode',
          details: { causes: [{ reason: 'ExitCode', message: String(exit) }] },
        },
        message,
      );
    });
  });
}
