/**
 * The loopback test Kubernetes cluster (a subset of the API, see docs/kube-api-subset.md).
 *
 * Programmatic API (stable; used by the kube tests and the bench):
 *
 *   import { startTestCluster } from '../cluster';           // from test/<phase>/…
 *   const cluster = await startTestCluster({ seed: { 'prod/monitoring/prometheus-0': dataDir('healthy') } });
 *   cluster.kubeconfigPath        // kubeconfig with contexts `prod`, `dev`, `prod-restricted` (current: prod)
 *   cluster.pod('prod/monitoring/prometheus-0')   // → TestPod: root, dataDir (host path of /prometheus),
 *                                                 //   prometheusUrl (direct http://127.0.0.1:port), uid(), waitReady()
 *   await cluster.deletePod('prod/monitoring/prometheus-0')  // like `kubectl delete pod`, resolves when the replacement is Ready
 *   cluster.injectFault('prod/monitoring/prometheus-0', { kind: 'drop-exec-after-bytes', bytes: 1 << 20 })
 *   cluster.injectFault('prod/monitoring/prometheus-0', { kind: 'fail-next-exec', code: 500 })
 *   cluster.injectFault('prod/monitoring/prometheus-0', { kind: 'exec-v4-only' })  // until clearFaults: no v5 exec (Kubernetes < 1.30)
 *   cluster.clearFaults('prod/monitoring/prometheus-0')   // removes the pod's pending and lasting faults
 *   cluster.dropConnections()    // destroys every open TCP connection to every API server
 *   await cluster.restartApiServers(500)   // every API server down (connections cut, port closed) for 500 ms, then back on its port
 *   await cluster.stop()         // kills every Prometheus and exec'd process; call it in `after`
 *
 * Pod keys are "<cluster>/<namespace>/<name>"; a context name works in place of the cluster name.
 *
 * Default topology:
 *   cluster `prod` (contexts `prod` → user prod-admin, `prod-restricted` → user prod-viewer: get/list/watch only,
 *   no pods/exec, no pods/proxy, no delete):
 *     monitoring/prometheus-0        containers prometheus + config-reloader (sleeps), default-container annotation,
 *                                    admin API on, /prometheus seeded (default: the `healthy` fixture); seeded pods
 *                                    get --storage.tsdb.retention.time=100y unless PodDef.retention says otherwise,
 *                                    the others Prometheus' default 15d
 *     monitoring/prometheus-notar-0  image without `tar` (busybox applets minus tar), admin API off
 *     default/web-0                  app=nginx-like, one container `web` that sleeps (not Prometheus)
 *   cluster `dev` (context `dev` → user dev-admin):
 *     observability/prometheus-0     Prometheus, empty data dir, admin API on
 *
 * A PodDef may run another Prometheus (`prometheusBinary`, e.g. 3.16 from the tool cache, with `prometheusFlags`,
 * `prometheusConfig`, and `selfScrape: false`; see kube-prom3.test.ts).
 *
 * Pods: a chroot root per pod under <stateDir>/<cluster>/<namespace>/<name>/root with busybox applets, the real
 * Prometheus binary, /etc/prometheus/prometheus.yml (scrapes itself every 2 s) and /prometheus (the data dir,
 * kept across pod deletion like a StatefulSet volume). Prometheus runs with --web.enable-lifecycle, so
 * `POST /-/quit` through the pod proxy stops it and the "kubelet" restarts the container (restartCount + 1).
 * Pod proxy port: 9090 or the name `web` (→ the pod's real loopback port). Limitations: no PID or network
 * namespace (exec'd processes see the host's processes; do not `kill 1`; inside the pod Prometheus listens on
 * the port given in its --web.listen-address arg, not 9090); no /proc in the root; all containers of a pod share
 * the root. Needs root (chroot).
 */
import { mkdtemp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { dataDir } from '../helpers/fixtures';
import { ApiServer, ClusterState, type TestUser } from './apiserver';
import { makeCerts } from './certs';
import type { ExecFault } from './exec';
import { freePort } from '../helpers/net';
import { type PodDef, PodSlot, prepareImages, preparePodRoot } from './podRuntime';

export type { PodDef } from './podRuntime';

export interface ClusterDef {
  name: string;
  namespaces: string[];
  pods: PodDef[];
}

export interface ContextInfo {
  name: string;
  cluster: string;
  user: string;
  namespace: string;
  /** true for the viewer user without exec/proxy/delete rights. */
  restricted: boolean;
}

export interface StartOptions {
  /** Where to write the kubeconfig (default <stateDir>/kubeconfig). */
  kubeconfigPath?: string;
  /** Pod roots, certificates, images (default: a new temporary directory, removed by stop()). */
  stateDir?: string;
  /** Keep the temporary state dir after stop() (only matters without `stateDir`). */
  keepState?: boolean;
  /**
   * Host directories copied into a pod's /prometheus when its root is first created, by pod key
   * ("prod/monitoring/prometheus-0"). Default: the `healthy` fixture into prod/monitoring/prometheus-0.
   */
  seed?: Record<string, string>;
  /** Replaces the default topology. */
  topology?: ClusterDef[];
}

export type InjectableFault =
  | { kind: 'fail-next-exec'; code?: number; message?: string }
  /** The next exec that sends (receives) that many bytes is cut; smaller execs pass and leave the fault waiting. */
  | { kind: 'drop-exec-after-bytes'; bytes: number }
  | { kind: 'drop-exec-after-stdin-bytes'; bytes: number }
  /** Lasting (until clearFaults): every exec of the pod negotiates v4.channel.k8s.io at best. */
  | { kind: 'exec-v4-only' };

export interface TestPod {
  key: string;
  cluster: string;
  namespace: string;
  name: string;
  /** Host path of the pod's root directory. */
  root: string;
  /** Host path of the pod's /prometheus. */
  dataDir: string;
  /** Direct URL of the pod's Prometheus (bypassing the API server), or undefined for non-Prometheus pods. */
  prometheusUrl?: string;
  /** uid of the current instance (undefined while the pod is deleted). */
  uid(): string | undefined;
  ready(): boolean;
  /** Number of exec sessions whose process is running in the current instance. */
  activeExecs(): number;
  /** Waits until the current (or next) instance is Ready. */
  waitReady(timeoutMs?: number): Promise<void>;
}

export interface TestCluster {
  kubeconfigPath: string;
  stateDir: string;
  contexts: ContextInfo[];
  /** API server URL by cluster name. */
  servers: Record<string, string>;
  /** Bearer tokens by user name. */
  tokens: Record<string, string>;
  caPem: string;
  pods: TestPod[];
  pod(key: string): TestPod;
  deletePod(key: string): Promise<void>;
  injectFault(podKey: string, fault: InjectableFault): void;
  clearFaults(podKey: string): void;
  dropConnections(): void;
  /** Stops every API server (open connections cut, nothing listening) for downMs, then listens again on the same port. */
  restartApiServers(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const PROM_LABELS = {
  'app.kubernetes.io/name': 'prometheus',
  'app.kubernetes.io/instance': 'k8s',
  'app.kubernetes.io/component': 'server',
};
const PROM_IMAGE = 'quay.io/prometheus/prometheus:v2.42.0';

export function defaultTopology(): ClusterDef[] {
  return [
    {
      name: 'prod',
      namespaces: ['default', 'kube-system', 'monitoring'],
      pods: [
        {
          namespace: 'monitoring',
          name: 'prometheus-0',
          labels: PROM_LABELS,
          adminApi: true,
          annotations: { 'kubectl.kubernetes.io/default-container': 'prometheus' },
          containers: [
            { name: 'prometheus', image: PROM_IMAGE, kind: 'prometheus' },
            { name: 'config-reloader', image: 'quay.io/prometheus-operator/prometheus-config-reloader:v0.63.0', kind: 'sleep' },
          ],
        },
        {
          namespace: 'monitoring',
          name: 'prometheus-notar-0',
          labels: { ...PROM_LABELS, 'app.kubernetes.io/instance': 'notar' },
          withTar: false,
          containers: [{ name: 'prometheus', image: 'registry.example.com/prometheus-distroless:v2.42.0', kind: 'prometheus' }],
        },
        {
          namespace: 'default',
          name: 'web-0',
          labels: { app: 'nginx-like' },
          containers: [{ name: 'web', image: 'docker.io/library/nginx:1.25', kind: 'sleep' }],
        },
      ],
    },
    {
      name: 'dev',
      namespaces: ['default', 'observability'],
      pods: [
        {
          namespace: 'observability',
          name: 'prometheus-0',
          labels: { ...PROM_LABELS, 'app.kubernetes.io/instance': 'dev' },
          adminApi: true,
          containers: [{ name: 'prometheus', image: PROM_IMAGE, kind: 'prometheus' }],
        },
      ],
    },
  ];
}

function yamlString(s: string): string {
  return JSON.stringify(s);
}

export async function startTestCluster(opts: StartOptions = {}): Promise<TestCluster> {
  if (process.getuid && process.getuid() !== 0) {
    throw new Error('the test cluster needs root: pods are chroot directories (run as root, e.g. in the CI container)');
  }
  const ownStateDir = !opts.stateDir;
  const stateDir = opts.stateDir ?? (await mkdtemp(path.join(os.tmpdir(), 'tsdbdump-cluster-')));
  await mkdir(stateDir, { recursive: true });
  const kubeconfigPath = opts.kubeconfigPath ?? path.join(stateDir, 'kubeconfig');
  const topology = opts.topology ?? defaultTopology();
  let seed = opts.seed;
  if (!seed) {
    seed = { 'prod/monitoring/prometheus-0': dataDir('healthy') };
  }

  const certDir = path.join(stateDir, 'pki');
  await mkdir(certDir, { recursive: true });
  const [certs, images] = await Promise.all([makeCerts(certDir), prepareImages(stateDir)]);

  const token = () => randomBytes(24).toString('base64url');
  const states = new Map<string, ClusterState>();
  const servers: ApiServer[] = [];
  const contexts: ContextInfo[] = [];
  const tokens: Record<string, string> = {};
  const testPods: TestPod[] = [];
  const slotsByKey = new Map<string, { state: ClusterState; slot: PodSlot }>();
  const clusterUrls: Record<string, string> = {};

  try {
    for (const [ci, def] of topology.entries()) {
      const state = new ClusterState(def.name);
      states.set(def.name, state);
      for (const ns of def.namespaces) state.addNamespace(ns);
      const admin: TestUser = {
        name: `${def.name}-admin`,
        token: token(),
        groups: ['system:masters', 'system:authenticated'],
        role: 'admin',
      };
      const users = [admin];
      contexts.push({
        name: def.name,
        cluster: def.name,
        user: admin.name,
        namespace: def.pods.find((p) => p.labels?.['app.kubernetes.io/name'] === 'prometheus')?.namespace ?? 'default',
        restricted: false,
      });
      if (ci === 0) {
        const viewer: TestUser = { name: `${def.name}-viewer`, token: token(), groups: ['system:authenticated'], role: 'viewer' };
        users.push(viewer);
        contexts.push({
          name: `${def.name}-restricted`,
          cluster: def.name,
          user: viewer.name,
          namespace: contexts[contexts.length - 1].namespace,
          restricted: true,
        });
      }
      for (const u of users) tokens[u.name] = u.token;
      await Promise.all(def.pods.map(async (p, pi) => {
        state.addNamespace(p.namespace);
        const key = `${def.name}/${p.namespace}/${p.name}`;
        const podDef: PodDef = { ...p, seedDir: seed?.[key] ?? p.seedDir };
        const root = path.join(stateDir, def.name, p.namespace, p.name, 'root');
        const port = await freePort();
        await preparePodRoot(root, podDef, images, port);
        const slot = new PodSlot(podDef, root, port, `10.244.${ci}.${10 + pi}`, `${def.name}-node-1`, state);
        state.slots.push(slot);
        slotsByKey.set(key, { state, slot });
        const isProm = p.containers.some((c) => c.kind === 'prometheus');
        testPods.push({
          key, cluster: def.name, namespace: p.namespace, name: p.name, root, dataDir: slot.dataDir,
          prometheusUrl: isProm ? `http://127.0.0.1:${port}` : undefined,
          uid: () => slot.current?.uid,
          ready: () => !!slot.current?.ready,
          activeExecs: () => slot.current?.execs.size ?? 0,
          waitReady: (timeoutMs = 60000) => waitForReady(slot, timeoutMs),
        });
      }));
      const server = new ApiServer(state, users, certs);
      await server.listen();
      servers.push(server);
      clusterUrls[def.name] = `https://127.0.0.1:${server.port}`;
    }
    await Promise.all([...slotsByKey.values()].map(({ slot }) => slot.create()));
  } catch (e) {
    await shutdown();
    throw e;
  }

  await writeKubeconfig();

  async function writeKubeconfig(): Promise<void> {
    const ca = Buffer.from(certs.caPem).toString('base64');
    const lines = ['apiVersion: v1', 'kind: Config', 'preferences: {}', `current-context: ${yamlString(contexts[0].name)}`, 'clusters:'];
    for (const [name, server] of Object.entries(clusterUrls)) {
      lines.push(`- name: ${yamlString(name)}`, '  cluster:', `    server: ${yamlString(server)}`, `    certificate-authority-data: ${ca}`);
    }
    lines.push('contexts:');
    for (const c of contexts) {
      lines.push(
        `- name: ${yamlString(c.name)}`,
        '  context:',
        `    cluster: ${yamlString(c.cluster)}`,
        `    user: ${yamlString(c.user)}`,
        `    namespace: ${yamlString(c.namespace)}`,
      );
    }
    lines.push('users:');
    for (const [name, t] of Object.entries(tokens)) lines.push(`- name: ${yamlString(name)}`, '  user:', `    token: ${yamlString(t)}`);
    await mkdir(path.dirname(kubeconfigPath), { recursive: true });
    await writeFile(kubeconfigPath + '.partial', lines.join('\n') + '\n', { mode: 0o600 });
    await rename(kubeconfigPath + '.partial', kubeconfigPath);
  }

  let stopped: Promise<void> | undefined;
  async function shutdown(): Promise<void> {
    for (const s of states.values()) s.stopping = true;
    await Promise.all(servers.map((s) => s.close()));
    await Promise.all([...slotsByKey.values()].map(({ slot }) => slot.shutdown()));
    if (ownStateDir && !opts.keepState) await rm(stateDir, { recursive: true, force: true });
  }

  function lookup(key: string): { state: ClusterState; slot: PodSlot } {
    const [first, ns, name] = key.split('/');
    const cluster = contexts.find((c) => c.name === first)?.cluster ?? first;
    const found = slotsByKey.get(`${cluster}/${ns}/${name}`);
    if (!found) throw new Error(`no pod ${key} in the test cluster (known: ${[...slotsByKey.keys()].join(', ')})`);
    return found;
  }

  return {
    kubeconfigPath,
    stateDir,
    contexts,
    servers: clusterUrls,
    tokens,
    caPem: certs.caPem,
    pods: testPods,
    pod(key) {
      const { slot } = lookup(key);
      return testPods.find((t) => t.root === slot.root) as TestPod;
    },
    async deletePod(key) {
      const { state, slot } = lookup(key);
      const old = slot.current;
      if (old) state.deletePod(slot, 30);
      const deadline = Date.now() + 60000;
      while (!(slot.current && slot.current !== old && slot.current.ready)) {
        if (Date.now() > deadline) throw new Error(`pod ${key} did not come back Ready`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    injectFault(podKey, fault) {
      const { state, slot } = lookup(podKey);
      state.faults.push({ ...fault, pod: slot.key } as ExecFault);
    },
    clearFaults(podKey) {
      const { state, slot } = lookup(podKey);
      for (let i = state.faults.length - 1; i >= 0; i--) if (state.faults[i].pod === slot.key) state.faults.splice(i, 1);
    },
    dropConnections() {
      for (const s of servers) s.dropConnections();
    },
    async restartApiServers(downMs = 500) {
      await Promise.all(servers.map((s) => s.close()));
      await new Promise((r) => setTimeout(r, downMs));
      await Promise.all(servers.map((s) => s.listen(s.port)));
    },
    stop() {
      stopped ??= shutdown();
      return stopped;
    },
  };
}

async function waitForReady(slot: PodSlot, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!slot.current?.ready) {
    if (Date.now() > deadline) throw new Error(`pod ${slot.key} not Ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
