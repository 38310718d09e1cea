/**
 * The test cluster with @kubernetes/client-node 1.x (the library the extension uses): kubeconfig
 * loading, CoreV1Api lists, Exec over WebSocket with large stdin/stdout streams (flow control and
 * integrity by SHA-256), exit statuses, access reviews, logs, and the fault-injection hooks.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCluster, type TestCluster } from './testCluster';

type K8s = typeof import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' } });
type V1Status = import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' } }).V1Status;

let cluster: TestCluster;
let k8s: K8s;
let work: string;

before(async () => {
  k8s = await import('@kubernetes/client-node');
  work = await mkdtemp(path.join(os.tmpdir(), 'tsdbdump-client-node-'));
  cluster = await startTestCluster({ stateDir: path.join(work, 'state') });
});

after(async () => {
  await cluster?.stop();
  await rm(work, { recursive: true, force: true });
});

function kubeConfig(context = 'prod') {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  kc.setCurrentContext(context); // only on this in-memory copy: the file is never edited
  return kc;
}

interface ExecResult {
  stdout: Buffer;
  stderr: string;
  status: V1Status;
  stdoutSha256: string;
  stdoutBytes: number;
}

/** Runs argv in a pod through client-node's Exec; keeps only a hash of big outputs. */
async function exec(
  argv: string[],
  opts: {
    context?: string;
    pod?: string;
    namespace?: string;
    container?: string;
    stdin?: Readable;
    keep?: boolean;
    slowReader?: boolean;
  } = {},
): Promise<ExecResult> {
  const ex = new k8s.Exec(kubeConfig(opts.context));
  const hash = createHash('sha256');
  const kept: Buffer[] = [];
  let stdoutBytes = 0;
  let stderr = '';
  const stdout = new Writable({
    highWaterMark: 1 << 16,
    write(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      stdoutBytes += chunk.length;
      if (opts.keep !== false) kept.push(chunk);
      if (opts.slowReader) setTimeout(cb, 1);
      else cb();
    },
  });
  const stderrStream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      stderr += chunk.toString();
      cb();
    },
  });
  const stdoutDone = new Promise<void>((resolve) => {
    stdout.on('finish', resolve);
    stdout.on('close', resolve);
  });
  const status = await new Promise<V1Status>((resolve, reject) => {
    ex.exec(
      opts.namespace ?? 'monitoring',
      opts.pod ?? 'prometheus-0',
      opts.container ?? 'prometheus',
      argv,
      stdout,
      stderrStream,
      opts.stdin ?? null,
      false,
      (s) => resolve(s),
    )
      .then((ws) => ws.on('close', () => setTimeout(() => reject(new Error('socket closed without a status')), 2000)))
      .catch(reject);
  });
  // client-node ends stdout when the status arrives; a slow writer may still be draining its buffer.
  await stdoutDone;
  return { stdout: Buffer.concat(kept), stderr, status, stdoutSha256: hash.digest('hex'), stdoutBytes };
}

/** client-node rejects with ws ErrorEvents, not Errors: match on their message. */
const errorMatching = (re: RegExp) => (e: unknown): boolean => {
  assert.match(String((e as { message?: string }).message ?? e), re);
  return true;
};

const exitCode = (s: V1Status): number =>
  s.status === 'Success' ? 0 : Number(s.details?.causes?.find((c) => c.reason === 'ExitCode')?.message ?? -1);

describe('@kubernetes/client-node against the test cluster', () => {
  test('CoreV1Api lists pods by label and namespaces', async () => {
    const api = kubeConfig().makeApiClient(k8s.CoreV1Api);
    const pods = await api.listNamespacedPod({ namespace: 'monitoring', labelSelector: 'app.kubernetes.io/name=prometheus' });
    assert.deepEqual(pods.items.map((p) => p.metadata?.name).sort(), ['prometheus-0', 'prometheus-notar-0']);
    const all = await api.listPodForAllNamespaces({ labelSelector: 'app.kubernetes.io/name!=prometheus' });
    assert.deepEqual(all.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`), ['default/web-0']);
    const one = await api.readNamespacedPod({ namespace: 'monitoring', name: 'prometheus-0' });
    assert.equal(one.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    assert.deepEqual(one.spec?.containers.map((c) => c.ports?.[0]?.containerPort), [9090, undefined]);
    const namespaces = await api.listNamespace();
    assert.ok(namespaces.items.some((n) => n.metadata?.name === 'monitoring'));
    const dev = await kubeConfig('dev').makeApiClient(k8s.CoreV1Api).listNamespacedPod({ namespace: 'observability' });
    assert.deepEqual(dev.items.map((p) => p.metadata?.name), ['prometheus-0']);
  });

  test('Exec streams 20 MB through stdin and back intact (v5 stdin close ends cat)', async () => {
    const input = randomBytes(20 << 20);
    const want = createHash('sha256').update(input).digest('hex');
    const stdin = new PassThrough();
    const feed = Readable.from((function* () {
      for (let i = 0; i < input.length; i += 256 << 10) yield input.subarray(i, i + (256 << 10));
    })());
    feed.pipe(stdin);
    const r = await exec(['sh', '-c', 'cat | sha256sum >&2; true'], { stdin, keep: false });
    assert.equal(r.status.status, 'Success', JSON.stringify(r.status));
    assert.equal(r.stderr.split(/\s+/)[0], want);

    const echo = new PassThrough();
    Readable.from([input.subarray(0, 8 << 20)]).pipe(echo);
    const back = await exec(['cat'], { stdin: echo, keep: false, slowReader: true });
    assert.equal(back.status.status, 'Success');
    assert.equal(back.stdoutBytes, 8 << 20);
    assert.equal(back.stdoutSha256, createHash('sha256').update(input.subarray(0, 8 << 20)).digest('hex'));
  });

  test('Exec output larger than any buffer keeps its bytes in order with a slow reader', async () => {
    const r = await exec(['sh', '-c', 'head -c 33554432 /dev/urandom | tee /tmp/big.bin | sha256sum > /tmp/big.sha; true'], {});
    assert.equal(r.status.status, 'Success');
    const big = await exec(['cat', '/tmp/big.bin'], { keep: false, slowReader: true });
    assert.equal(big.stdoutBytes, 32 << 20);
    const sum = await exec(['cat', '/tmp/big.sha']);
    assert.equal(sum.stdout.toString().split(/\s+/)[0], big.stdoutSha256);
  });

  test('Exec statuses: exit codes, missing executables, 403 for the restricted user', async () => {
    const r = await exec(['sh', '-c', 'exit 7']);
    assert.equal(r.status.status, 'Failure');
    assert.equal(r.status.reason, 'NonZeroExitCode');
    assert.equal(exitCode(r.status), 7);
    const missing = await exec(['tar', 'cf', '-', '/etc'], { pod: 'prometheus-notar-0' });
    assert.equal(missing.status.reason, 'InternalError');
    assert.match(String(missing.status.message), /executable file not found in \$PATH/);
    await assert.rejects(exec(['ls'], { context: 'prod-restricted' }), errorMatching(/Unexpected server response: 403/));
  });

  test('SelfSubjectAccessReview tells who may exec', async () => {
    const review = (context: string) =>
      kubeConfig(context)
        .makeApiClient(k8s.AuthorizationV1Api)
        .createSelfSubjectAccessReview({
          body: {
            spec: {
              resourceAttributes: { namespace: 'monitoring', verb: 'create', resource: 'pods', subresource: 'exec', name: 'prometheus-0' },
            },
          },
        });
    assert.equal((await review('prod')).status?.allowed, true);
    assert.equal((await review('prod-restricted')).status?.allowed, false);
  });

  test('fault injection: a dropped exec connection and a failing exec', async () => {
    cluster.injectFault('prod/monitoring/prometheus-0', { kind: 'drop-exec-after-bytes', bytes: 1 << 20 });
    await assert.rejects(exec(['cat', '/tmp/big.bin'], { keep: false }), errorMatching(/closed without a status/));
    cluster.injectFault('prod/monitoring/prometheus-0', { kind: 'fail-next-exec', code: 500 });
    await assert.rejects(exec(['true']), errorMatching(/Unexpected server response: 500/));
    const fine = await exec(['true']);
    assert.equal(fine.status.status, 'Success');
  });

  test('Log reads a container log', async () => {
    const chunks: Buffer[] = [];
    const sink = new Writable({ write(c: Buffer, _e, cb) { chunks.push(c); cb(); } });
    await new Promise<void>((resolve, reject) => {
      sink.on('finish', resolve);
      new k8s.Log(kubeConfig()).log('monitoring', 'prometheus-0', 'prometheus', sink, { follow: false, tailLines: 50 }).catch(reject);
    });
    assert.match(Buffer.concat(chunks).toString(), /level=info/);
  });
});

describe('exec subprotocols on the wire', () => {
  /** One exec over a raw WebSocket: returns every message as [channel, payload]. */
  async function rawExec(
    protocols: string[],
    query: string,
    send?: (ws: import('ws').WebSocket) => void,
  ): Promise<{ protocol: string; frames: [number, Buffer][] }> {
    const { WebSocket } = await import('ws');
    const url = `${cluster.servers.prod.replace('https', 'wss')}/api/v1/namespaces/monitoring/pods/prometheus-0/exec?${query}`;
    const ws = new WebSocket(url, protocols, { ca: cluster.caPem, headers: { Authorization: `Bearer ${cluster.tokens['prod-admin']}` } });
    const frames: [number, Buffer][] = [];
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) frames.push([data[0], data.subarray(1)]);
      else frames.push([Number(data.toString()[0]), Buffer.from(data.toString().slice(1), 'base64')]);
    });
    ws.on('open', () => send?.(ws));
    await new Promise<void>((resolve, reject) => {
      ws.on('close', () => resolve());
      ws.on('error', reject);
    });
    return { protocol: ws.protocol, frames };
  }

  const argv = (...a: string[]) => a.map((x) => `command=${encodeURIComponent(x)}`).join('&');

  test('v4.channel.k8s.io: ready frame, stdout, then a JSON status on channel 3', async () => {
    const r = await rawExec(['v4.channel.k8s.io'], `${argv('sh', '-c', 'echo hi; exit 4')}&container=prometheus&stdout=true&stderr=true`);
    assert.equal(r.protocol, 'v4.channel.k8s.io');
    assert.deepEqual(r.frames[0], [1, Buffer.alloc(0)]);
    assert.equal(Buffer.concat(r.frames.filter((f) => f[0] === 1).map((f) => f[1])).toString(), 'hi\n');
    const last = r.frames[r.frames.length - 1];
    assert.equal(last[0], 3);
    const st = JSON.parse(last[1].toString()) as { reason: string; details: { causes: { reason: string; message: string }[] } };
    assert.equal(st.reason, 'NonZeroExitCode');
    assert.deepEqual(st.details.causes, [{ reason: 'ExitCode', message: '4' }]);
  });

  test('v5 stdin close and base64.channel.k8s.io text frames', async () => {
    const v5 = await rawExec(['v5.channel.k8s.io'], `${argv('wc', '-c')}&container=prometheus&stdin=true&stdout=true`, (ws) => {
      ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('12345')]));
      ws.send(Buffer.from([255, 0]));
    });
    assert.equal(Buffer.concat(v5.frames.filter((f) => f[0] === 1).map((f) => f[1])).toString().trim(), '5');
    assert.deepEqual(JSON.parse(v5.frames[v5.frames.length - 1][1].toString()), { metadata: {}, status: 'Success' });
    const b64 = await rawExec(['base64.channel.k8s.io'], `${argv('echo', 'text frames')}&container=prometheus&stdout=true`);
    assert.equal(b64.protocol, 'base64.channel.k8s.io');
    assert.equal(Buffer.concat(b64.frames.filter((f) => f[0] === 1).map((f) => f[1])).toString(), 'text frames\n');
  });

  test('an unsupported subprotocol or a bad request is refused before the upgrade', async () => {
    await assert.rejects(
      rawExec(['v2.channel.k8s.io'], `${argv('true')}&container=prometheus&stdout=true`),
      /Unexpected server response: 400/,
    );
    await assert.rejects(rawExec(['v5.channel.k8s.io'], `${argv('true')}&container=nope&stdout=true`), /Unexpected server response: 400/);
  });

  test('Prometheus stopped through /-/quit is restarted in place like a kubelet would', async () => {
    const pod = cluster.pod('dev/observability/prometheus-0');
    const uid = pod.uid();
    const res = await fetch(`${pod.prometheusUrl}/-/quit`, { method: 'POST' });
    assert.equal(res.status, 200);
    const api = kubeConfig('dev').makeApiClient(k8s.CoreV1Api);
    const deadline = Date.now() + 30000;
    for (;;) {
      const p = await api.readNamespacedPod({ namespace: 'observability', name: 'prometheus-0' });
      const cs = p.status?.containerStatuses?.[0];
      if (cs?.restartCount === 1 && cs.ready) {
        assert.equal(p.metadata?.uid, uid, 'same pod, restarted container');
        assert.ok(cs.lastState?.terminated, 'lastState shows the stopped container');
        break;
      }
      assert.ok(Date.now() < deadline, 'container restarted and Ready again');
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});

describe('watch, deletion and dropped connections', () => {
  test('deleting a pod emits MODIFIED (terminating), DELETED, ADDED, then MODIFIED up to Ready', async () => {
    const kc = kubeConfig();
    const api = kc.makeApiClient(k8s.CoreV1Api);
    const list = await api.listNamespacedPod({ namespace: 'monitoring', fieldSelector: 'metadata.name=prometheus-notar-0' });
    const oldUid = list.items[0].metadata?.uid;
    const events: { type: string; uid?: string; ready?: string; terminating: boolean }[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const req = await new k8s.Watch(kc).watch(
      '/api/v1/namespaces/monitoring/pods',
      { fieldSelector: 'metadata.name=prometheus-notar-0', resourceVersion: list.metadata?.resourceVersion },
      (type: string, obj: import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' } }).V1Pod) => {
        const ready = obj.status?.conditions?.find((c) => c.type === 'Ready')?.status;
        events.push({ type, uid: obj.metadata?.uid, ready, terminating: !!obj.metadata?.deletionTimestamp });
        if (type !== 'DELETED' && obj.metadata?.uid !== oldUid && ready === 'True') done();
      },
      () => done(),
    );
    await api.deleteNamespacedPod({ namespace: 'monitoring', name: 'prometheus-notar-0' });
    await finished;
    req.abort();
    const types = events.map((e) => e.type);
    assert.equal(events[0].type, 'MODIFIED');
    assert.ok(events[0].terminating);
    const deleted = types.indexOf('DELETED');
    const added = types.indexOf('ADDED');
    assert.ok(deleted > 0 && added > deleted, types.join(' '));
    assert.equal(events[deleted].uid, oldUid);
    assert.notEqual(events[added].uid, oldUid);
    assert.equal(events[events.length - 1].ready, 'True');
  });

  test('dropConnections() cuts a followed log stream', async () => {
    const https = await import('node:https');
    const url = `${cluster.servers.prod}/api/v1/namespaces/monitoring/pods/prometheus-0/log?container=prometheus&follow=true`;
    await new Promise<void>((resolve, reject) => {
      const req = https.get(url, { ca: cluster.caPem, headers: { Authorization: `Bearer ${cluster.tokens['prod-admin']}` } }, (res) => {
        assert.equal(res.statusCode, 200);
        res.once('data', () => cluster.dropConnections());
        res.on('close', () => resolve());
        res.on('error', () => resolve());
        res.resume();
      });
      req.on('error', reject);
    });
  });
});
