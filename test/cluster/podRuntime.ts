/**
 * Pods of the test cluster: each pod is a directory tree used as a chroot root (busybox applets,
 * the real Prometheus binary and its libc, /prometheus as the data dir). Containers are real
 * processes started with `chroot <root> argv…`; Prometheus containers scrape themselves.
 * The root survives pod deletion, so a deleted pod comes back with the same data, like a
 * StatefulSet pod with a persistent volume.
 */
import { ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { constants as fsc, existsSync, readdirSync, rmSync } from 'node:fs';
import { access, copyFile, link, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const PROMETHEUS_PORT = 9090;
export const PROMETHEUS_PORT_NAME = 'web';
export const CONTAINER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ContainerDef {
  name: string;
  image: string;
  /** `prometheus`: real Prometheus on the pod's port; `sleep`: a process that only sleeps. */
  kind: 'prometheus' | 'sleep';
}

export interface PodDef {
  namespace: string;
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  containers: ContainerDef[];
  /** false: an image without the `tar` applet (default true). */
  withTar?: boolean;
  /** Adds --web.enable-admin-api (snapshot API). */
  adminApi?: boolean;
  /**
   * --storage.tsdb.retention.time. Default: 100y when the pod is seeded (the fixtures hold 2025 data that a
   * 15d retention would drop), else 15d, Prometheus' default.
   */
  retention?: string;
  /** Host directory copied into /prometheus when the pod root is first created. */
  seedDir?: string;
  /**
   * The volume at /prometheus: a PersistentVolumeClaim (default: kept when the pod is deleted), an
   * emptyDir (emptied when the pod is deleted, kept across a container restart), or none (the
   * container's filesystem: emptied by a container restart too).
   */
  dataVolume?: 'persistentVolumeClaim' | 'emptyDir' | 'none';
  /** false: Prometheus runs without --web.enable-lifecycle (default true). */
  lifecycleApi?: boolean;
  /**
   * Host path of the Prometheus binary put at /bin/prometheus (default: Debian's 2.42), e.g. a 3.x build
   * from the tool cache (test/helpers/fixtures.ts prometheus3Bin); its shared libraries are copied too.
   */
  prometheusBinary?: string;
  /** Extra Prometheus flags (e.g. `--storage.tsdb.wal-compression-type=zstd`). */
  prometheusFlags?: string[];
  /**
   * false: Prometheus does not scrape itself. Seeded 2025 data plus today's scrapes make a head that spans
   * years, and Prometheus 3.x then compacts it one empty 2 h range at a time for many minutes.
   */
  selfScrape?: boolean;
  /** Extra top-level prometheus.yml lines (e.g. a `storage:` section with an out_of_order_time_window). */
  prometheusConfig?: string;
}

// ---------------------------------------------------------------------------------------------
// Logs

export interface LogLine {
  time: string; // RFC 3339 with nanoseconds
  text: string; // without the newline
}

function nanoTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

/** The captured stdout/stderr of one container instance, line by line, with followers. */
export class LogBuffer {
  readonly lines: LogLine[] = [];
  private partial = '';
  private readonly followers = new Set<(line: LogLine | null) => void>();
  ended = false;

  push(chunk: Buffer): void {
    const text = this.partial + chunk.toString('utf8');
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const p of parts) this.add(p);
  }

  private add(text: string): void {
    const line = { time: nanoTime(), text };
    this.lines.push(line);
    if (this.lines.length > 20000) this.lines.splice(0, this.lines.length - 20000);
    for (const f of this.followers) f(line);
  }

  end(): void {
    if (this.ended) return;
    if (this.partial) this.add(this.partial);
    this.partial = '';
    this.ended = true;
    for (const f of this.followers) f(null);
    this.followers.clear();
  }

  /** Calls `f` for each new line, then with null when the container stops. Returns an unsubscribe. */
  follow(f: (line: LogLine | null) => void): () => void {
    if (this.ended) {
      f(null);
      return () => undefined;
    }
    this.followers.add(f);
    return () => this.followers.delete(f);
  }
}

// ---------------------------------------------------------------------------------------------
// Images: one copy of busybox + prometheus (+ its shared libraries) per state dir, hardlinked into roots

let setprivAvailable: boolean | undefined;

/** argv that starts `argv` inside `root`, killed if this Node process dies (no orphans). */
export function chrootArgv(root: string, argv: string[]): [string, string[]] {
  if (setprivAvailable === undefined) {
    try {
      execFileSync('setpriv', ['--help'], { stdio: 'ignore' });
      setprivAvailable = true;
    } catch {
      setprivAvailable = false;
    }
  }
  return setprivAvailable ? ['setpriv', ['--pdeathsig', 'KILL', 'chroot', root, ...argv]] : ['chroot', [root, ...argv]];
}

export interface ImageFiles {
  dir: string;
  busyboxApplets: string[];
  /** Shared libraries of prometheus, as absolute paths (also their path inside the root). */
  libs: string[];
}

export async function prepareImages(stateDir: string): Promise<ImageFiles> {
  const dir = path.join(stateDir, 'images');
  await mkdir(dir, { recursive: true });
  const busybox = findExecutable(['/bin/busybox', '/usr/bin/busybox']);
  const prometheus = findExecutable(['/usr/bin/prometheus', '/bin/prometheus']);
  if (!busybox) throw new Error('busybox-static is not installed (apt-get install busybox-static)');
  if (!prometheus) throw new Error('prometheus is not installed (apt-get install prometheus)');
  if (!existsSync(path.join(dir, 'busybox'))) await copyFile(busybox, path.join(dir, 'busybox'));
  if (!existsSync(path.join(dir, 'prometheus'))) await copyFile(prometheus, path.join(dir, 'prometheus'));
  const { stdout: list } = await run(busybox, ['--list']);
  const busyboxApplets = list.split('\n').map((s) => s.trim()).filter((s) => s && s !== 'busybox');
  return { dir, busyboxApplets, libs: await sharedLibs(prometheus) };
}

async function sharedLibs(binary: string): Promise<string[]> {
  try {
    const { stdout } = await run('ldd', [binary]);
    return [...stdout.matchAll(/(\/\S+)\s+\(0x/g)].map((m) => m[1]);
  } catch {
    return []; // "not a dynamic executable": nothing to copy
  }
}

function findExecutable(candidates: string[]): string | undefined {
  return candidates.find((c) => existsSync(c));
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  if (existsSync(to)) return;
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}

/** Builds (or completes) the root of a pod; seeds /prometheus when it is new and empty. */
export async function preparePodRoot(root: string, def: PodDef, images: ImageFiles, port: number): Promise<void> {
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc/prometheus', 'prometheus', 'tmp', 'root', 'dev', 'proc']) {
    await mkdir(path.join(root, d), { recursive: true });
  }
  await linkOrCopy(path.join(images.dir, 'busybox'), path.join(root, 'bin/busybox'));
  let libs = images.libs;
  if (def.prometheusBinary) {
    if (!existsSync(path.join(root, 'bin/prometheus'))) await copyFile(def.prometheusBinary, path.join(root, 'bin/prometheus'));
    libs = [...new Set([...libs, ...(await sharedLibs(def.prometheusBinary))])];
  } else {
    await linkOrCopy(path.join(images.dir, 'prometheus'), path.join(root, 'bin/prometheus'));
  }
  for (const lib of libs) {
    const target = path.join(root, lib);
    await mkdir(path.dirname(target), { recursive: true });
    if (!existsSync(target)) await copyFile(lib, target);
  }
  const withTar = def.withTar !== false;
  for (const applet of images.busyboxApplets) {
    if (applet === 'tar' && !withTar) continue;
    const linkPath = path.join(root, 'bin', applet);
    if (!existsSync(linkPath)) await symlink('busybox', linkPath).catch(() => undefined);
  }
  for (const [dev, minor] of [['null', '3'], ['zero', '5'], ['urandom', '9']] as const) {
    const p = path.join(root, 'dev', dev);
    if (!existsSync(p)) await run('mknod', ['-m', '666', p, 'c', '1', minor]).catch(() => writeFile(p, ''));
  }
  await writeFile(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n');
  await writeFile(path.join(root, 'etc/group'), 'root:x:0:\nnobody:x:65534:\n');
  await writeFile(path.join(root, 'etc/hostname'), `${def.name}\n`);
  await writeFile(path.join(root, 'etc/hosts'), `127.0.0.1 localhost ${def.name}\n`);
  await writeFile(path.join(root, 'etc/prometheus/prometheus.yml'), prometheusConfig(def, port));
  const data = path.join(root, 'prometheus');
  if (def.seedDir && (await readdir(data)).length === 0) {
    // `cp -a src/. dst/`: keeps modes and times, fast for the 1 GiB bench fixture.
    await run('cp', ['-a', '--', `${def.seedDir}/.`, `${data}/`]);
  }
}

function prometheusConfig(def: PodDef, port: number): string {
  return [
    '# Written by the tsdbdump test cluster: Prometheus scrapes itself.',
    'global:',
    '  scrape_interval: 2s',
    '  evaluation_interval: 15s',
    ...(def.selfScrape === false
      ? ['scrape_configs: []']
      : [
        'scrape_configs:',
        '  - job_name: prometheus',
        '    static_configs:',
        `      - targets: ['127.0.0.1:${port}']`,
        `        labels: {pod: '${def.name}', namespace: '${def.namespace}'}`,
      ]),
    '',
  ].join('\n');
}

export function prometheusArgv(def: PodDef, port: number): string[] {
  const argv = [
    '/bin/prometheus',
    '--config.file=/etc/prometheus/prometheus.yml',
    '--storage.tsdb.path=/prometheus',
    `--storage.tsdb.retention.time=${def.retention ?? (def.seedDir ? '100y' : '15d')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ];
  if (def.lifecycleApi !== false) argv.push('--web.enable-lifecycle');
  if (def.adminApi) argv.push('--web.enable-admin-api');
  argv.push(...(def.prometheusFlags ?? []));
  return argv;
}


/** Resolves argv[0] inside the root like execvp would; undefined when not found. */
export async function resolveInRoot(root: string, command: string): Promise<string | undefined> {
  const candidates = command.includes('/') ? [command] : CONTAINER_PATH.split(':').map((d) => `${d}/${command}`);
  for (const c of candidates) {
    const abs = path.join(root, c);
    if (!abs.startsWith(root)) continue;
    try {
      await access(abs, fsc.X_OK);
      return c;
    } catch {
      // next
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Containers and pod instances

export type ContainerState =
  | { kind: 'waiting'; reason: string }
  | { kind: 'running'; startedAt: string }
  | { kind: 'terminated'; exitCode: number; signal?: string; reason: string; startedAt: string; finishedAt: string };

export class ContainerRun {
  state: ContainerState = { kind: 'waiting', reason: 'ContainerCreating' };
  lastState?: ContainerState;
  ready = false;
  restartCount = 0;
  /** Consecutive quick exits, for the CrashLoopBackOff delay. */
  crashes = 0;
  proc?: ChildProcess;
  logs = new LogBuffer();
  previousLogs?: LogBuffer;
  containerId = `containerd://${randomUUID().replace(/-/g, '')}`;
  constructor(readonly def: ContainerDef) {}
}

function isoSeconds(d = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface ExecHandle {
  /** Kills the exec'd process group (the session reports 137). */
  kill(): void;
}

/** One incarnation of a pod (a new one, with a new uid, after each deletion). */
export class PodInstance {
  readonly uid = randomUUID();
  readonly creationTimestamp = isoSeconds();
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' = 'Pending';
  readonly containers: ContainerRun[];
  readonly execs = new Set<ExecHandle>();
  startTime?: string;
  stopped = false;
  constructor(readonly slot: PodSlot) {
    this.containers = slot.def.containers.map((c) => new ContainerRun(c));
  }

  get ready(): boolean {
    return !this.deletionTimestamp && this.containers.every((c) => c.ready);
  }

  container(name: string): ContainerRun | undefined {
    return this.containers.find((c) => c.def.name === name);
  }
}

export interface PodEvents {
  changed(slot: PodSlot, type: 'ADDED' | 'MODIFIED' | 'DELETED'): void;
}

/** A named pod place (namespace/name) with a persistent root; holds the current instance. */
export class PodSlot {
  current?: PodInstance;
  /** Last resourceVersion assigned to this pod's object (set by the API store). */
  resourceVersion = '0';
  private closing = false;
  private instances = 0;

  constructor(
    readonly def: PodDef,
    readonly root: string,
    readonly port: number,
    readonly podIP: string,
    readonly nodeName: string,
    private readonly events: PodEvents,
  ) {}

  get dataDir(): string {
    return path.join(this.root, 'prometheus');
  }

  get key(): string {
    return `${this.def.namespace}/${this.def.name}`;
  }

  /** Empties the data dir, as the kubelet's new emptyDir (or a new container filesystem) is empty. */
  async wipeDataDir(): Promise<void> {
    for (const e of await readdir(this.dataDir)) await rm(path.join(this.dataDir, e), { recursive: true, force: true });
  }

  /** Creates a new instance and starts its containers; resolves when it is Ready. */
  async create(): Promise<PodInstance> {
    // A replacement pod gets a new emptyDir; the first instance keeps the seeded data.
    if (this.instances++ > 0 && this.def.dataVolume && this.def.dataVolume !== 'persistentVolumeClaim') await this.wipeDataDir();
    const pod = new PodInstance(this);
    this.current = pod;
    this.events.changed(this, 'ADDED');
    await new Promise((r) => setTimeout(r, 50));
    if (this.closing) {
      pod.stopped = true;
      throw new Error(`pod ${this.key}: cluster is stopping`);
    }
    pod.phase = 'Running';
    pod.startTime = isoSeconds();
    for (const c of pod.containers) this.startContainer(pod, c);
    this.events.changed(this, 'MODIFIED');
    await this.waitReady(pod);
    return pod;
  }

  waitReady(pod: PodInstance, timeoutMs = 60000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const tick = () => {
        if (pod.ready) return resolve();
        if (pod.stopped || this.current !== pod) return reject(new Error(`pod ${this.key} went away before it was ready`));
        if (Date.now() > deadline) return reject(new Error(`pod ${this.key} not ready after ${timeoutMs} ms`));
        setTimeout(tick, 50);
      };
      tick();
    });
  }

  private startContainer(pod: PodInstance, c: ContainerRun): void {
    const argv = c.def.kind === 'prometheus'
      ? prometheusArgv(this.def, this.port)
      : ['/bin/sh', '-c', 'echo "level=info msg=\\"sidecar started, watching /etc/prometheus\\""; exec sleep 2147483647'];
    const [cmd, args] = chrootArgv(this.root, argv);
    const proc = spawn(cmd, args, {
      detached: true, // own process group: kill(-pid) reaches everything it started
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: CONTAINER_PATH, HOME: '/root', HOSTNAME: this.def.name },
    });
    c.proc = proc;
    const startedAt = isoSeconds();
    c.state = { kind: 'running', startedAt };
    c.ready = c.def.kind !== 'prometheus';
    const logs = c.logs;
    proc.stdout?.on('data', (b: Buffer) => logs.push(b));
    proc.stderr?.on('data', (b: Buffer) => logs.push(b));
    proc.on('error', (err) => logs.push(Buffer.from(`failed to start container: ${err.message}\n`)));
    proc.on('close', (code, signal) => {
      logs.end();
      c.proc = undefined;
      c.ready = false;
      const exitCode = code ?? 128 + (signal ? (signalNumber(signal) ?? 15) : 0);
      c.state = {
        kind: 'terminated',
        exitCode,
        signal: signal ?? undefined,
        reason: exitCode === 0 ? 'Completed' : 'Error',
        startedAt,
        finishedAt: isoSeconds(),
      };
      if (pod.deletionTimestamp || pod.stopped || this.closing || this.current !== pod) return;
      // Like the kubelet: restart the container in place (restartCount + 1), keep the old logs as
      // "previous"; a container that keeps crashing waits in CrashLoopBackOff (0.5 s doubling to 8 s here).
      const terminated = c.state;
      c.crashes = Date.now() - Date.parse(startedAt) < 10000 ? c.crashes + 1 : 0;
      const delay = Math.min(500 * 2 ** Math.max(0, c.crashes - 1), 8000);
      if (c.crashes >= 2) {
        c.lastState = terminated;
        c.state = { kind: 'waiting', reason: 'CrashLoopBackOff' };
      }
      this.events.changed(this, 'MODIFIED');
      setTimeout(() => {
        if (pod.deletionTimestamp || pod.stopped || this.closing || this.current !== pod) return;
        c.lastState = terminated;
        c.restartCount++;
        c.previousLogs = c.logs;
        c.logs = new LogBuffer();
        c.containerId = `containerd://${randomUUID().replace(/-/g, '')}`;
        // Without a volume the data dir is in the container's filesystem, which a restart renews.
        if (this.def.dataVolume === 'none' && c.def.kind === 'prometheus') {
          for (const e of readdirSync(this.dataDir)) rmSync(path.join(this.dataDir, e), { recursive: true, force: true });
        }
        this.startContainer(pod, c);
        this.events.changed(this, 'MODIFIED');
      }, delay);
    });
    if (c.def.kind === 'prometheus') this.probeReady(pod, c, proc);
  }

  /** Readiness probe: GET /-/ready until 200, then mark the container ready. */
  private probeReady(pod: PodInstance, c: ContainerRun, proc: ChildProcess): void {
    const attempt = () => {
      if (c.proc !== proc || pod.deletionTimestamp || pod.stopped) return;
      const req = http.get({ host: '127.0.0.1', port: this.port, path: '/-/ready', timeout: 1000 }, (res) => {
        res.resume();
        if (res.statusCode === 200 && c.proc === proc && !pod.deletionTimestamp) {
          c.ready = true;
          this.events.changed(this, 'MODIFIED');
        } else {
          setTimeout(attempt, 100);
        }
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => setTimeout(attempt, 100));
    };
    setTimeout(attempt, 100);
  }

  /**
   * Graceful deletion like the kubelet: mark terminating, kill execs (they report 137), SIGTERM the
   * containers, SIGKILL after the grace period; the instance is gone after at least ~1 s.
   * Resolves when the DELETED event has been emitted.
   */
  async terminate(gracePeriodSeconds = 30, minimumMs = 1000): Promise<void> {
    const pod = this.current;
    if (!pod || pod.deletionTimestamp) return;
    const started = Date.now();
    pod.deletionTimestamp = isoSeconds();
    pod.deletionGracePeriodSeconds = gracePeriodSeconds;
    for (const c of pod.containers) c.ready = false;
    this.events.changed(this, 'MODIFIED');
    for (const e of [...pod.execs]) e.kill();
    await this.stopContainers(pod, gracePeriodSeconds * 1000);
    const rest = minimumMs - (Date.now() - started);
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    pod.stopped = true;
    pod.phase = 'Succeeded';
    this.lastDeleted = pod;
    this.current = undefined;
    this.events.changed(this, 'DELETED');
  }

  lastDeleted?: PodInstance;

  private async stopContainers(pod: PodInstance, graceMs: number): Promise<void> {
    await Promise.all(pod.containers.map((c) => stopProcess(c.proc, graceMs)));
  }

  /** Stops everything for good (cluster shutdown). */
  async shutdown(): Promise<void> {
    this.closing = true;
    const pod = this.current;
    if (!pod) return;
    pod.stopped = true;
    for (const e of [...pod.execs]) e.kill();
    await Promise.all(pod.containers.map((c) => stopProcess(c.proc, 5000)));
  }
}

export function signalNumber(signal: NodeJS.Signals): number | undefined {
  return osConstants.signals[signal];
}

/** SIGTERM to the process group, SIGKILL after `graceMs`; resolves when the process is gone. */
export function stopProcess(proc: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return Promise.resolve();
  const pid = proc.pid;
  return new Promise((resolve) => {
    const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), Math.max(0, graceMs));
    proc.once('exit', () => {
      clearTimeout(timer);
      killGroup(pid, 'SIGKILL'); // anything left in the group
      resolve();
    });
    killGroup(pid, graceMs <= 0 ? 'SIGKILL' : 'SIGTERM');
  });
}

export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}
