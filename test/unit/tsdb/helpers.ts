/** Shared helpers for the format parser tests: real fixture files, a seeded RNG, chunked feeding. */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { dataDir, type Scenario } from '../../helpers/fixtures';
import { isUlid } from '../../../server/src/tsdb/blockDir';
import type { BlockMeta } from '../../../server/src/tsdb/metaJson';
import type { ByteSource, PushScanner } from '../../../server/src/tsdb/types';

export interface FixtureBlock { ulid: string; dir: string; meta: BlockMeta }

/** Blocks of a scenario with readable meta.json, sorted by minTime. */
export function blocks(s: Scenario): FixtureBlock[] {
  const root = dataDir(s);
  return readdirSync(root)
    .filter((n) => isUlid(n) && existsSync(path.join(root, n, 'meta.json')))
    .map((n) => {
      try {
        return { ulid: n, dir: path.join(root, n), meta: JSON.parse(readFileSync(path.join(root, n, 'meta.json'), 'utf8')) as BlockMeta };
      } catch {
        return undefined;
      }
    })
    .filter((b): b is FixtureBlock => b !== undefined)
    .sort((a, b) => a.meta.minTime - b.meta.minTime);
}

export function bytesOf(file: string): Uint8Array {
  return new Uint8Array(readFileSync(file));
}

export function bufferSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, Math.min(bytes.length, offset + length)) };
}

import { rng } from '../../helpers/random';

export { rng };

/** Feeds bytes in pieces whose sizes come from nextSize (copies each piece, as a stream would). */
export function feed<S>(scanner: PushScanner<S>, bytes: Uint8Array, nextSize: () => number): S {
  for (let at = 0; at < bytes.length; ) {
    const n = Math.max(1, Math.min(bytes.length - at, nextSize()));
    scanner.push(bytes.slice(at, at + n));
    at += n;
  }
  return scanner.end();
}

export function withByte(bytes: Uint8Array, offset: number, xor = 0xff): Uint8Array {
  const copy = bytes.slice();
  copy[offset] ^= xor;
  return copy;
}

/** The push patterns every scanner must give identical summaries for. */
export function pushPatterns(seed = 7): { name: string; size: () => number }[] {
  const r = rng(seed);
  return [
    { name: 'whole', size: () => Number.MAX_SAFE_INTEGER },
    { name: '1 byte', size: () => 1 },
    { name: '7 bytes', size: () => 7 },
    { name: '64 KiB', size: () => 65536 },
    { name: 'random', size: () => 1 + Math.floor(r() * r() * 5000) },
  ];
}
