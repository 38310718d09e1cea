#!/usr/bin/env node
// Dump benchmark: `tsdbdump dump` of a test-cluster pod holding the `big` fixture, compared in the
// same run with the raw stream `kubectl exec <pod> -- tar cf - <dir> > file` and with
// `kubectl exec … | gzip > file`. Needs root (the test cluster's pods are chroots) and the real
// kubectl. Reuses the big fixture that bench/run.mjs builds (.cache/bench/mb<N>/big/data).
//   TSDBDUMP_BENCH_MB     extra block data in MB (default 1024: more than 1 GiB of TSDB data)
//   TSDBDUMP_BENCH_CACHE  cache folder (default .cache/bench)
//   TSDBDUMP_BENCH_RUNS   runs per measurement, best one kept (default 1)
// Targets: tsdbdump >= 0.5x the raw stream's throughput, peak RSS <= 300 MB, output a valid gzip.
import { spawn, execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const mb = Number(process.env.TSDBDUMP_BENCH_MB ?? 1024);
const runs = Math.max(1, Number(process.env.TSDBDUMP_BENCH_RUNS ?? 1));
const cache = path.resolve(process.env.TSDBDUMP_BENCH_CACHE ?? path.join(root, '.cache/bench'));
const fixture = path.join(cache, `mb${mb}`, 'big', 'data');
const cli = path.join(root, 'dist/cli.js');
const preload = path.join(root, 'bench/rss-preload.mjs');
const MiB = 1024 * 1024;

if (process.getuid?.() !== 0) {
  console.log('bench/dump.mjs: skipped (the test cluster needs root: its pods are chroot directories)');
  process.exit(0);
}
if (!existsSync(fixture)) {
  console.log(`building the big fixture (${mb} MB) into ${path.dirname(fixture)} …`);
  execFileSync('bash', [path.join(root, 'test/fixtures/make-tsdb.sh'), 'big', path.join(cache, `mb${mb}`), '--size-mb', String(mb)], { stdio: 'inherit' });
}
if (!existsSync(cli)) execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs')], { stdio: 'inherit' });
const clusterModule = path.join(root, 'out/test/cluster/index.js');
if (!existsSync(clusterModule)) {
  try {
    execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--tests'], { stdio: 'inherit' });
  } catch {
    // tsc reports type errors but still emits; the cluster module is what matters here
  }
}
const require = createRequire(import.meta.url);
const { startTestCluster, defaultTopology } = require(clusterModule);
const { waitTsdbSettled } = require(path.join(root, 'out/test/cluster/kube-helpers.js'));

const tmp = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-bench-dump-'));
const topology = defaultTopology();
for (const c of topology) for (const p of c.pods) p.retention = '100y';
console.log(`starting the test cluster with ${fixture} as prod/monitoring/prometheus-0's data …`);
const cluster = await startTestCluster({ topology, stateDir: path.join(tmp, 'state'), seed: { 'prod/monitoring/prometheus-0': fixture } });
const key = 'prod/monitoring/prometheus-0';

function run(label, argv, stdoutFile, { pipeTo, rss } = {}) {
  return new Promise((resolve, reject) => {
    const rssFile = rss ? path.join(tmp, `rss-${Math.random().toString(36).slice(2)}.json`) : undefined;
    const started = process.hrtime.bigint();
    const [cmd, ...args] = argv;
    const env = { ...process.env, ...(rssFile ? { TSDBDUMP_BENCH_RSS_FILE: rssFile } : {}) };
    const out = stdoutFile ? createWriteStream(stdoutFile) : undefined;
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr = (stderr + c).slice(-4000)));
    let last = child;
    if (pipeTo) {
      const second = spawn(pipeTo[0], pipeTo.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
      child.stdout.pipe(second.stdin);
      second.stdout.pipe(out);
      last = second;
    } else if (out) {
      child.stdout.pipe(out);
    } else {
      child.stdout.resume();
    }
    let pending = pipeTo ? 2 : 1;
    const codes = [];
    const done = (code) => {
      codes.push(code);
      if (--pending > 0) return;
      const finish = () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        if (codes.some((c) => c !== 0)) return reject(new Error(`${label} failed (${codes.join(',')}): ${stderr}`));
        const usage = rssFile && existsSync(rssFile) ? JSON.parse(readFileSync(rssFile, 'utf8')) : {};
        resolve({ ms, ...usage });
      };
      if (out && !out.writableFinished) out.on('finish', finish);
      else finish();
    };
    child.on('error', reject);
    child.on('close', done);
    if (last !== child) last.on('close', done);
  });
}

async function best(label, fn) {
  let b;
  for (let i = 0; i < runs; i++) {
    const r = await fn();
    if (!b || r.ms < b.ms) b = { ...r, maxRssBytes: Math.max(r.maxRssBytes ?? 0, b?.maxRssBytes ?? 0) };
  }
  return b;
}

try {
  console.log('waiting for the pod\'s Prometheus to finish its startup compactions …');
  await waitTsdbSettled(cluster, key, 30 * 60_000);
  const dataDir = cluster.pod(key).dataDir;
  const tops = readdirSync(dataDir).filter((n) => !['lock', 'queries.active', 'snapshots'].includes(n) && !n.startsWith('.'));
  const paths = [...tops.filter((n) => ['chunks_head', 'wal', 'wbl'].includes(n)), ...tops.filter((n) => !['chunks_head', 'wal', 'wbl'].includes(n)).sort()];
  const kubectlBase = ['kubectl', '--kubeconfig', cluster.kubeconfigPath, '--cache-dir', path.join(tmp, 'kcache'), '--context', 'prod', '-n', 'monitoring', 'exec', 'prometheus-0', '-c', 'prometheus', '--'];
  const tarArgv = ['tar', 'cf', '-', '-C', '/prometheus', ...paths];

  const rawFile = path.join(tmp, 'raw.tar');
  const raw = await best('kubectl raw', () => run('kubectl exec tar', [...kubectlBase, ...tarArgv], rawFile));
  const tarBytes = statSync(rawFile).size;
  rmSync(rawFile);
  const gzFile = path.join(tmp, 'kubectl.tar.gz');
  const kgz = await best('kubectl | gzip', () => run('kubectl exec tar | gzip', [...kubectlBase, ...tarArgv], gzFile, { pipeTo: ['gzip'] }));
  const kgzSize = statSync(gzFile).size;
  rmSync(gzFile);
  const outFile = path.join(tmp, 'tsdbdump.tar.gz');
  const td = await best('tsdbdump dump', async () => {
    rmSync(outFile, { force: true });
    return run('tsdbdump dump', [process.execPath, '--import', pathToFileURL(preload).href, cli, 'dump', 'prod/monitoring/prometheus-0', '--kubeconfig', cluster.kubeconfigPath, '-o', outFile, '--json'], undefined, { rss: true });
  });
  const tdSize = statSync(outFile).size;
  // The dump must stay a valid gzip tar (what promdump and `tar xzf` read).
  execFileSync('tar', ['tzf', outFile], { stdio: ['ignore', 'ignore', 'inherit'] });

  const line = (name, r, size) =>
    `${name.padEnd(22)} ${(r.ms / 1000).toFixed(2).padStart(7)} s  ${(tarBytes / MiB / (r.ms / 1000)).toFixed(0).padStart(5)} MiB/s of tar  ${(raw.ms / r.ms).toFixed(2)}x raw` +
    `${size ? `  output ${(size / MiB).toFixed(0)} MiB` : ''}${r.maxRssBytes ? `  peak RSS ${(r.maxRssBytes / MiB).toFixed(0)} MB` : ''}`;
  console.log(`\n${key}: ${(tarBytes / MiB).toFixed(0)} MiB tar (${paths.length} top-level entries); best of ${runs} run(s)`);
  console.log(line('kubectl exec tar (raw)', raw, tarBytes));
  console.log(line('kubectl … | gzip', kgz, kgzSize));
  console.log(line('tsdbdump dump', td, tdSize));
  const ratio = raw.ms / td.ms;
  const rssMb = td.maxRssBytes / MiB;
  console.log(`tsdbdump dump: ${ratio >= 0.5 ? 'ok' : 'BELOW'} target >= 0.5x raw (${ratio.toFixed(2)}x); peak RSS ${rssMb.toFixed(0)} MB ${rssMb <= 300 ? 'ok' : 'ABOVE'} (target <= 300 MB); ${(raw.ms / kgz.ms).toFixed(2)}x for kubectl | gzip`);
} finally {
  await cluster.stop();
  rmSync(tmp, { recursive: true, force: true });
}
