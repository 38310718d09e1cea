// One measured run of bench/write.mjs: `node write-child.mjs <write|copy> <data dir> <out dir>`.
//   write  every block rewritten through the block writer (openBlock → writeBlock: index, chunk
//          segments, meta.json, tombstones), new ULIDs, no fsync (the copy does not sync either)
//   copy   the same files copied with plain 1 MiB reads and writes (what `cat a > b` does)
// Prints {bytes} (bytes written) on stdout.
import { closeSync, mkdirSync, openSync, readdirSync, readSync, statSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);
const [mode, data, out] = process.argv.slice(2);
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const blockDirs = readdirSync(data).filter((n) => ULID.test(n) && statSync(path.join(data, n, 'meta.json'), { throwIfNoEntry: false }));
let bytes = 0;

if (mode === 'write') {
  const { openBlock } = require(path.join(root, 'out/server/src/block/readBlock.js'));
  const { writeBlock } = require(path.join(root, 'out/server/src/block/writeBlock.js'));
  for (const name of blockDirs) {
    const b = openBlock(path.join(data, name), { verifyChunks: false });
    try {
      const series = (function* () {
        for (const s of b.series) yield { labels: s.labels, chunks: b.seriesChunks(s) };
      })();
      const w = writeBlock({ parentDir: out, minTime: b.meta.minTime, maxTime: b.meta.maxTime, symbols: b.symbols, series, sync: false });
      bytes += w.indexBytes + w.chunkBytes;
    } finally {
      b.close();
    }
  }
} else if (mode === 'copy') {
  const buf = Buffer.allocUnsafe(1 << 20);
  const copy = (from, to) => {
    const i = openSync(from, 'r');
    const o = openSync(to, 'wx');
    for (let n; (n = readSync(i, buf, 0, buf.length, null)) > 0; ) {
      for (let done = 0; done < n; ) done += writeSync(o, buf, done, n - done);
      bytes += n;
    }
    closeSync(i);
    closeSync(o);
  };
  for (const name of blockDirs) {
    const dst = path.join(out, name);
    mkdirSync(path.join(dst, 'chunks'), { recursive: true });
    for (const c of readdirSync(path.join(data, name, 'chunks'))) copy(path.join(data, name, 'chunks', c), path.join(dst, 'chunks', c));
    for (const f of ['index', 'meta.json', 'tombstones']) copy(path.join(data, name, f), path.join(dst, f));
  }
} else {
  throw new Error(`unknown mode ${mode}`);
}
process.stdout.write(`${JSON.stringify({ bytes, blocks: blockDirs.length })}\n`);
