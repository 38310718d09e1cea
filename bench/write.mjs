#!/usr/bin/env node
// Block writer benchmark: rewriting every block of the `big` fixture (more than 1 GiB of blocks)
// through the block writer, against a plain copy of the same files measured in the same run,
// interleaved, best of N. Reuses the fixture bench/run.mjs builds (.cache/bench/mb<N>/big/data).
//   TSDBDUMP_BENCH_MB, TSDBDUMP_BENCH_CACHE as bench/run.mjs; TSDBDUMP_BENCH_RUNS (default 3)
// Targets: writer >= 0.5x the copy's throughput, peak RSS <= 300 MB.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const mb = Number(process.env.TSDBDUMP_BENCH_MB ?? 1024);
const runs = Math.max(1, Number(process.env.TSDBDUMP_BENCH_RUNS ?? 3));
const cache = path.resolve(process.env.TSDBDUMP_BENCH_CACHE ?? path.join(root, '.cache/bench'));
const data = path.join(cache, `mb${mb}`, 'big', 'data');
const preload = path.join(root, 'bench/rss-preload.mjs');
const child = path.join(root, 'bench/write-child.mjs');
const MiB = 1024 * 1024;

if (!existsSync(data)) {
  console.log(`building the big fixture (${mb} MB) into ${path.dirname(data)} …`);
  execFileSync('bash', [path.join(root, 'test/fixtures/make-tsdb.sh'), 'big', path.join(cache, `mb${mb}`), '--size-mb', String(mb)], { stdio: 'inherit' });
}
if (!existsSync(path.join(root, 'out/server/src/block/writeBlock.js'))) {
  try {
    execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--tests'], { stdio: 'inherit' });
  } catch {
    // tsc still emits on type errors; the writer module is what matters here
  }
}

// Output beside the fixture: the same disk for both, and never /tmp when that is a small tmpfs.
const tmpRoot = mkdtempSync(path.join(cache, 'write-bench-'));

function measure(mode) {
  const out = mkdtempSync(path.join(tmpRoot, `${mode}-`));
  const rssFile = path.join(tmpRoot, `rss-${mode}-${Math.random().toString(36).slice(2)}.json`);
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const p = spawn(process.execPath, ['--import', pathToFileURL(preload).href, child, mode, data, out], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TSDBDUMP_BENCH_RSS_FILE: rssFile } });
    let stdout = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.on('error', reject);
    p.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      rmSync(out, { recursive: true, force: true });
      if (code !== 0) return reject(new Error(`${mode} exited ${code}`));
      resolve({ ms, ...JSON.parse(stdout), ...JSON.parse(readFileSync(rssFile, 'utf8')) });
    });
  });
}

const best = {};
try {
  for (let i = 0; i < runs; i++) {
    for (const mode of ['copy', 'write']) {
      const r = await measure(mode);
      const prev = best[mode];
      const maxRssBytes = Math.max(r.maxRssBytes, prev?.maxRssBytes ?? 0);
      best[mode] = !prev || r.ms < prev.ms ? { ...r, maxRssBytes } : { ...prev, maxRssBytes };
    }
  }
} finally {
  rmSync(tmpRoot, { recursive: true, force: true });
}
const { copy, write } = best;
const ratio = (write.bytes / write.ms) / (copy.bytes / copy.ms);
const rate = (r) => `${(r.bytes / MiB / (r.ms / 1000)).toFixed(0).padStart(5)} MiB/s`;
const rss = (r) => `peak RSS ${(r.maxRssBytes / MiB).toFixed(0)} MB`;
console.log(`\nblock writer on ${data}: ${write.blocks} blocks, ${(copy.bytes / MiB).toFixed(0)} MiB of block files; best of ${runs} runs`);
console.log(`plain copy        ${(copy.ms / 1000).toFixed(2).padStart(7)} s  ${rate(copy)}  ${rss(copy)}`);
console.log(
  `write blocks      ${(write.ms / 1000).toFixed(2).padStart(7)} s  ${rate(write)}  ${ratio.toFixed(2)}x copy  ${rss(write)}` +
    `${ratio >= 0.5 ? '  ok (target >= 0.5x)' : '  BELOW target 0.5x'}${write.maxRssBytes <= 300 * MiB ? '' : ' (ABOVE 300 MB)'}`,
);
