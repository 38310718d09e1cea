/**
 * Truth test of the loopback test cluster: the real kubectl on this machine, unmodified, against it.
 * One cluster for the whole file (started in `before`, stopped in `after`).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCluster, type TestCluster } from './testCluster';

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

let cluster: TestCluster;
let work: string;

/** Runs kubectl with an argv array (never a shell), a fresh cache dir and our kubeconfig. */
function kubectl(args: string[], opts: { input?: Buffer | string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', ['--kubeconfig', cluster.kubeconfigPath, '--cache-dir', path.join(work, 'cache'), ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

const text = (r: Run): string => r.stdout.toString('utf8');

function ok(r: Run): Run {
  assert.equal(r.code, 0, `kubectl failed (${r.code}): ${r.stderr}`);
  return r;
}

before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'tsdbdump-kubectl-'));
  cluster = await startTestCluster({ stateDir: path.join(work, 'state') });
});

after(async () => {
  await cluster?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('real kubectl against the test cluster', () => {
  test('get pods -A prints a table with every pod of the current context', async () => {
    const out = text(ok(await kubectl(['get', 'pods', '-A'])));
    assert.match(out, /^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE/m);
    assert.match(out, /^monitoring\s+prometheus-0\s+2\/2\s+Running\s+0\s+/m);
    assert.match(out, /^monitoring\s+prometheus-notar-0\s+1\/1\s+Running\s+0\s+/m);
    assert.match(out, /^default\s+web-0\s+1\/1\s+Running\s+0\s+/m);
    const wide = text(ok(await kubectl(['get', 'pods', '-n', 'monitoring', '-o', 'wide'])));
    assert.match(wide, /prometheus-0\s+2\/2\s+Running\s+0\s+\S+\s+10\.244\.\d+\.\d+\s+prod-node-1/);
  });

  test('label selectors filter Prometheus pods from other pods', async () => {
    const out = text(ok(await kubectl(['get', 'pods', '-A', '-l', 'app.kubernetes.io/name=prometheus', '-o', 'name'])));
    assert.deepEqual(out.trim().split('\n').sort(), ['pod/prometheus-0', 'pod/prometheus-notar-0']);
    const none = await kubectl(['get', 'pods', '-n', 'monitoring', '-l', 'app=nginx-like']);
    assert.equal(none.code, 0);
    assert.match(none.stderr, /No resources found in monitoring namespace/);
  });

  test('get pods -o json returns Pod objects with containers, labels and Ready conditions', async () => {
    const list = JSON.parse(text(ok(await kubectl(['get', 'pods', '-n', 'monitoring', '-o', 'json'])))) as {
      items: {
        metadata: { name: string; uid: string; labels: Record<string, string>; annotations: Record<string, string> };
        spec: { containers: { name: string }[] };
        status: { conditions: { type: string; status: string }[] };
      }[];
    };
    const byName = new Map(list.items.map((p) => [p.metadata.name, p]));
    const prom = byName.get('prometheus-0');
    assert.ok(prom, 'prometheus-0 listed');
    assert.deepEqual(prom.spec.containers.map((c) => c.name), ['prometheus', 'config-reloader']);
    assert.equal(prom.metadata.annotations['kubectl.kubernetes.io/default-container'], 'prometheus');
    assert.equal(prom.metadata.labels['app.kubernetes.io/name'], 'prometheus');
    assert.equal(prom.status.conditions.find((c) => c.type === 'Ready')?.status, 'True');
    assert.ok(byName.has('prometheus-notar-0'));
  });

  test('other contexts and namespaces: dev has its own Prometheus, namespaces are listed', async () => {
    const dev = text(ok(await kubectl(['--context', 'dev', 'get', 'pods', '-n', 'observability'])));
    assert.match(dev, /^prometheus-0\s+1\/1\s+Running/m);
    const ns = text(ok(await kubectl(['get', 'namespaces'])));
    assert.match(ns, /^monitoring\s+Active/m);
    assert.match(ns, /^default\s+Active/m);
  });

  test('exec -i streams stdin to the command and its stdout back', async () => {
    const input = randomBytes(1 << 20);
    const r = ok(await kubectl(['exec', '-i', '-n', 'monitoring', 'prometheus-0', '--', 'cat'], { input }));
    assert.equal(r.stdout.length, input.length);
    assert.ok(r.stdout.equals(input), 'echoed bytes equal the input');
    const wc = ok(await kubectl(['exec', '-i', 'prometheus-0', '--', 'wc', '-c'], { input: 'hello\n' }));
    assert.equal(text(wc).trim(), '6');
  });

  test('exec reports non-zero exit codes like a kubelet', async () => {
    const r = await kubectl(['exec', 'prometheus-0', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(r.code, 3);
    assert.equal(text(r), 'out\n');
    assert.match(r.stderr, /err\n/);
    assert.match(r.stderr, /command terminated with exit code 3/);
    // Refused before the upgrade: kubectl retries over SPDY and must get the same error back.
    const badContainer = await kubectl(['exec', 'prometheus-0', '-c', 'nope', '--', 'true']);
    assert.equal(badContainer.code, 1);
    // kubectl ≤ 1.32 gets the API server's BadRequest; 1.37 checks the pod's spec itself first.
    assert.match(badContainer.stderr, /(Error from server \(BadRequest\): |error: )container nope is not valid for pod prometheus-0/);
  });

  test('exec without stdin lists the seeded data dir', async () => {
    const out = text(ok(await kubectl(['exec', 'prometheus-0', '-c', 'prometheus', '--', 'ls', '/prometheus'])));
    const names = out.trim().split('\n');
    assert.ok(names.includes('wal'), out);
    assert.ok(names.includes('chunks_head'), out);
    assert.ok(names.some((n) => /^[0-9A-HJKMNP-TV-Z]{26}$/.test(n)), `a block dir in ${out}`);
    const tools = await kubectl([
      'exec',
      'prometheus-0',
      '--',
      'sh',
      '-c',
      'for t in sh tar cat sha256sum ls find stat mkdir mv rm du wc gzip sleep kill; do command -v $t >/dev/null || echo missing $t; done',
    ]);
    assert.equal(text(ok(tools)), '');
  });

  test('a pod image without tar: exec tar is an InternalError, tar inside sh exits 127', async () => {
    const direct = await kubectl(['exec', 'prometheus-notar-0', '--', 'tar', 'cf', '-', '/etc']);
    assert.equal(direct.code, 1);
    assert.match(direct.stderr, /error: Internal error occurred: .*exec: "tar": executable file not found in \$PATH/);
    const viaShell = await kubectl(['exec', 'prometheus-notar-0', '--', 'sh', '-c', 'tar cf - /etc']);
    assert.equal(viaShell.code, 127);
    assert.match(viaShell.stderr, /tar: not found/);
    ok(await kubectl(['exec', 'prometheus-notar-0', '--', 'cat', '/etc/prometheus/prometheus.yml']));
  });

  test('cp copies a file into a pod and back, and a directory out of a pod', async () => {
    const blob = randomBytes(3 << 20);
    const local = path.join(work, 'blob.bin');
    await writeFile(local, blob);
    ok(await kubectl(['cp', local, 'monitoring/prometheus-0:/tmp/blob.bin']));
    const back = path.join(work, 'blob.back');
    ok(await kubectl(['cp', 'monitoring/prometheus-0:/tmp/blob.bin', back]));
    assert.ok((await readFile(back)).equals(blob), 'file round trip');
    const podRoot = cluster.pod('prod/monitoring/prometheus-0').root;
    assert.ok((await readFile(path.join(podRoot, 'tmp/blob.bin'))).equals(blob), 'file landed in the pod root');

    const dirOut = path.join(work, 'etc-prometheus');
    ok(await kubectl(['cp', 'monitoring/prometheus-0:/etc/prometheus', dirOut]));
    assert.deepEqual(await readdir(dirOut), ['prometheus.yml']);
    assert.equal(
      await readFile(path.join(dirOut, 'prometheus.yml'), 'utf8'),
      await readFile(path.join(podRoot, 'etc/prometheus/prometheus.yml'), 'utf8'),
    );
  });

  test('cp copies a directory tree into a pod and back byte for byte', async () => {
    const src = path.join(work, 'tree');
    const files: Record<string, Buffer> = {
      'a.bin': randomBytes(200000),
      'sub/b.txt': Buffer.from('hello\n'),
      'sub/deeper/c.bin': randomBytes(1 << 20),
      'sub/empty.txt': Buffer.alloc(0),
    };
    for (const [rel, data] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(src, rel)), { recursive: true });
      await writeFile(path.join(src, rel), data);
    }
    ok(await kubectl(['cp', src, 'monitoring/prometheus-0:/tmp/tree']));
    const podRoot = cluster.pod('prod/monitoring/prometheus-0').root;
    const back = path.join(work, 'tree-back');
    ok(await kubectl(['cp', 'monitoring/prometheus-0:/tmp/tree', back]));
    for (const [rel, data] of Object.entries(files)) {
      assert.ok((await readFile(path.join(podRoot, 'tmp/tree', rel))).equals(data), `${rel} in the pod`);
      assert.ok((await readFile(path.join(back, rel))).equals(data), `${rel} copied back`);
    }
  });

  test('cp out of the pod without tar fails', async () => {
    const r = await kubectl(['cp', 'monitoring/prometheus-notar-0:/etc/prometheus', path.join(work, 'notar-out')]);
    assert.notEqual(r.code, 0);
  });

  test('logs show the real Prometheus startup; containers are selectable', async () => {
    const out = text(ok(await kubectl(['logs', '-n', 'monitoring', 'prometheus-0'])));
    assert.match(out, /Server is ready to receive web requests/);
    assert.match(out, /Starting Prometheus Server/);
    const tail = text(ok(await kubectl(['logs', 'prometheus-0', '-c', 'prometheus', '--tail', '1', '--timestamps'])));
    assert.equal(tail.trim().split('\n').length, 1);
    assert.match(tail, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z /);
    const sidecar = text(ok(await kubectl(['logs', 'prometheus-0', '-c', 'config-reloader'])));
    assert.match(sidecar, /sidecar started/);
  });

  test('get --raw through the pod proxy reaches the real Prometheus', async () => {
    const info = JSON.parse(
      text(ok(await kubectl(['get', '--raw', '/api/v1/namespaces/monitoring/pods/prometheus-0:9090/proxy/api/v1/status/buildinfo']))),
    ) as { status: string; data: { version: string } };
    assert.equal(info.status, 'success');
    assert.match(info.data.version, /^2\.42\./);
    const ready = text(ok(await kubectl(['get', '--raw', '/api/v1/namespaces/monitoring/pods/prometheus-0:web/proxy/-/ready'])));
    assert.match(ready, /Prometheus Server is Ready/);
    const query = JSON.parse(
      text(ok(await kubectl(['get', '--raw', '/api/v1/namespaces/monitoring/pods/prometheus-0:9090/proxy/api/v1/query?query=up']))),
    ) as { status: string };
    assert.equal(query.status, 'success');
    const none = await kubectl(['get', '--raw', '/api/v1/namespaces/default/pods/web-0:9090/proxy/']);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /ServiceUnavailable|connection refused/);
  });

  test('a token without exec rights gets Forbidden; a wrong token is Unauthorized', async () => {
    const denied = await kubectl(['--context', 'prod-restricted', 'exec', 'prometheus-0', '--', 'ls']);
    assert.equal(denied.code, 1);
    // kubectl ≤ 1.32 retries over SPDY and prints the Status; 1.37 prints the refused WebSocket upgrade's Status.
    assert.match(
      denied.stderr,
      /(Error from server \(Forbidden\)|error: unable to upgrade connection): pods "prometheus-0" is forbidden: User "prod-viewer" cannot create resource "pods\/exec" in API group "" in the namespace "monitoring"/,
    );
    ok(await kubectl(['--context', 'prod-restricted', 'get', 'pods']));
    const canI = await kubectl(['--context', 'prod-restricted', 'auth', 'can-i', 'create', 'pods', '--subresource=exec']);
    assert.equal(text(canI).trim(), 'no');
    assert.equal(text(ok(await kubectl(['auth', 'can-i', 'create', 'pods/exec']))).trim(), 'yes');
    const wrong = await kubectl(['--token', 'not-a-valid-token', 'get', 'pods']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /Unauthorized/);
  });

  test('delete pod: kubectl waits for the deletion, the pod comes back Ready with a new uid and the same data', async () => {
    ok(await kubectl(['exec', 'prometheus-0', '--', 'sh', '-c', 'echo kept > /prometheus/marker.txt']));
    const before = JSON.parse(text(ok(await kubectl(['get', 'pod', 'prometheus-0', '-o', 'json'])))) as { metadata: { uid: string } };
    // An exec running while the pod is deleted dies with the container.
    const running = kubectl(['exec', 'prometheus-0', '--', 'sleep', '300']);
    const pod = cluster.pod('prod/monitoring/prometheus-0');
    await pollUntil(async () => pod.activeExecs() === 1);
    const del = ok(await kubectl(['delete', 'pod', 'prometheus-0', '--timeout=60s']));
    assert.match(text(del), /pod "prometheus-0" deleted/);
    const killed = await running;
    assert.equal(killed.code, 137);
    assert.match(killed.stderr, /command terminated with exit code 137/);
    // Like a StatefulSet, the replacement appears a moment after the deletion; `wait` needs it to exist.
    await pollUntil(async () => (await kubectl(['get', 'pod', 'prometheus-0', '-o', 'name'])).code === 0);
    ok(await kubectl(['wait', '--for=condition=Ready', 'pod/prometheus-0', '--timeout=60s']));
    const after = JSON.parse(text(ok(await kubectl(['get', 'pod', 'prometheus-0', '-o', 'json'])))) as { metadata: { uid: string } };
    assert.notEqual(after.metadata.uid, before.metadata.uid);
    assert.equal(text(ok(await kubectl(['exec', 'prometheus-0', '--', 'cat', '/prometheus/marker.txt']))), 'kept\n');
    const logs = text(ok(await kubectl(['logs', 'prometheus-0'])));
    assert.match(logs, /Server is ready to receive web requests/);
  });
});

async function pollUntil(f: () => Promise<boolean>, timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
