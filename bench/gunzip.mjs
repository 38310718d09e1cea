// Baseline: plain Node zlib gunzip of a file streamed to a null sink.
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

let bytes = 0;
await pipeline(
  createReadStream(process.argv[2], { highWaterMark: 1024 * 1024 }),
  createGunzip(),
  new Writable({
    write(chunk, _enc, cb) {
      bytes += chunk.length;
      cb();
    },
  }),
);
process.stdout.write(`${JSON.stringify({ bytes })}\n`);
