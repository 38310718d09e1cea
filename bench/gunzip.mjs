// Baseline: plain Node zlib gunzip of a file streamed to a null sink. `node gunzip.mjs <file> [chunkSize]`:
// without a chunk size, zlib's defaults (the plain baseline); with one, the chunk size the analyzer uses.
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

let bytes = 0;
await pipeline(
  createReadStream(process.argv[2], { highWaterMark: 1024 * 1024 }),
  createGunzip(process.argv[3] ? { chunkSize: Number(process.argv[3]) } : {}),
  new Writable({
    write(chunk, _enc, cb) {
      bytes += chunk.length;
      cb();
    },
  }),
);
process.stdout.write(`${JSON.stringify({ bytes })}\n`);
