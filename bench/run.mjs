#!/usr/bin/env node
// `npm run bench`: throughput of `tsdbdump analyze` against plain zlib gunzip of the same dump, in
// one run, plus peak RSS. Builds the `big` fixture once (test/fixtures/make-tsdb.sh, about 4 min
// for 1024 MB on 2 cores) into .cache/bench/mb<N>/ and reuses it.
//   TSDBDUMP_BENCH_MB     extra block data in MB (default 1024: a dump of more than 1 GiB uncompressed)
//   TSDBDUMP_BENCH_CACHE  cache folder (default .cache/bench)
//   TSDBDUMP_BENCH_RUNS   runs per measurement, interleaved, best one kept (default 3)
//   TSDBDUMP_BENCH_CLI    CLI bundle to measure (default dist/cli.js, copied before measuring)
// Targets: quick >= 0.9x gunzip throughput, full >= 0.8x, peak RSS <= 200 MB.
import { spawn, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync, statSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const mb = Number(process.env.TSDBDUMP_BENCH_MB ?? 1024);
const runs = Math.max(1, Number(process.env.TSDBDUMP_BENCH_RUNS ?? 3));
const cache = path.resolve(process.env.TSDBDUMP_BENCH_CACHE ?? path.join(root, '.cache/bench'));
const outDir = path.join(cache, `mb${mb}`);
const dump = path.join(outDir, 'big.tar.gz');
const builtCli = process.env.TSDBDUMP_BENCH_CLI ?? path.join(root, 'dist/cli.js');
const preload = path.join(root, 'bench/rss-preload.mjs');

if (!existsSync(dump)) {
  console.log(`building the big fixture (${mb} MB) into ${outDir} …`);
  execFileSync('bash', [path.join(root, 'test/fixtures/make-tsdb.sh'), 'big', outDir, '--size-mb', String(mb)], { stdio: 'inherit' });
}
if (!existsSync(builtCli)) execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs')], { stdio: 'inherit' });
// Measure a snapshot of the bundle, so a rebuild during the run cannot change what is measured.
const cli = path.join(cache, 'cli-snapshot.js');
copyFileSync(builtCli, cli);
// The index worker thread is loaded from beside the bundle.
const worker = path.join(path.dirname(builtCli), 'indexWorker.js');
if (existsSync(worker)) copyFileSync(worker, path.join(cache, 'indexWorker.js'));

const tmp = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-bench-'));

/** Runs node with the RSS preload; returns wall time, peak RSS, exit code and stdout size. */
function measure(args) {
  const rssFile = path.join(tmp, `rss-${Math.random().toString(36).slice(2)}.json`);
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, ['--import', pathToFileURL(preload).href, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TSDBDUMP_BENCH_RSS_FILE: rssFile } });
    let out = '';
    child.stdout.on('data', (c) => {
      if (out.length < 1 << 20) out += c;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const usage = existsSync(rssFile) ? JSON.parse(readFileSync(rssFile, 'utf8')) : {};
      resolve({ ms, code, out, ...usage });
    });
  });
}

/** Runs the measurements interleaved (gunzip, quick, full, gunzip, …) so a load change on the machine hits all alike; keeps each one's fastest run and highest RSS. */
async function measureAll(jobs) {
  const best = {};
  for (let i = 0; i < runs; i++) {
    for (const [label, args] of jobs) {
      const r = await measure(args);
      if (r.code !== 0 && r.code !== 1) throw new Error(`${label} exited ${r.code}`);
      const prev = best[label];
      const maxRssBytes = Math.max(r.maxRssBytes ?? 0, prev?.maxRssBytes ?? 0);
      best[label] = !prev || r.ms < prev.ms ? { ...r, maxRssBytes } : { ...prev, maxRssBytes };
    }
  }
  return best;
}

const size = statSync(dump).size;
const results = await measureAll([
  ['gunzip', [path.join(root, 'bench/gunzip.mjs'), dump]],
  ['gunzip1m', [path.join(root, 'bench/gunzip.mjs'), dump, String(1024 * 1024)]],
  ['quick', [cli, 'analyze', dump, '--json', '--verify', 'quick']],
  ['full', [cli, 'analyze', dump, '--json', '--verify', 'full']],
]);
const { gunzip: gz, gunzip1m: gz1m, quick, full } = results;
const tarBytes = JSON.parse(gz.out).bytes;
for (const [name, r] of [['quick', quick], ['full', full]]) {
  const res = JSON.parse(r.out.length >= 1 << 20 ? '{}' : r.out);
  if (res.blocks) console.log(`analyze ${name}: ${res.blocks.length} blocks, ${res.diagnostics.filter((d) => d.severity === 'error').length} errors, exit ${r.code}`);
}

const MiB = 1024 * 1024;
const line = (name, r, target) => {
  const ratio = gz.ms / r.ms;
  const ok = target === undefined ? '' : ratio >= target ? `  ok (target >= ${target}x)` : `  BELOW target ${target}x`;
  const rss = r.maxRssBytes / MiB;
  return `${name.padEnd(16)} ${(r.ms / 1000).toFixed(2).padStart(7)} s  ${(size / MiB / (r.ms / 1000)).toFixed(0).padStart(5)} MiB/s compressed  ${ratio.toFixed(2)}x gunzip  peak RSS ${rss.toFixed(0)} MB${rss <= 200 || target === undefined ? '' : ' (ABOVE 200 MB)'}${ok}`;
};
console.log(`\ndump ${dump}: ${(size / MiB).toFixed(0)} MiB compressed, ${(tarBytes / MiB).toFixed(0)} MiB tar (${tarBytes} bytes); best of ${runs} runs`);
console.log(line('gunzip (zlib)', gz));
console.log(`${'gunzip 1 MiB'.padEnd(16)} ${(gz1m.ms / 1000).toFixed(2).padStart(7)} s  (zlib with the analyzer's 1 MiB chunks, a stricter baseline: quick ${(gz1m.ms / quick.ms).toFixed(2)}x, full ${(gz1m.ms / full.ms).toFixed(2)}x)`);
console.log(line('analyze quick', quick, 0.9));
console.log(line('analyze full', full, 0.8));
rmSync(tmp, { recursive: true, force: true });
