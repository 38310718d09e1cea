/** The byte transforms the repair writer applies, on real fixture files and any push boundaries. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ChunkCounter } from '../../../server/src/repair/collect';
import { blankChunks, takeBytes, zeroFrom } from '../../../server/src/repair/repair';
import { createChunkSegmentScanner } from '../../../server/src/tsdb/chunks';
import { dataDir, facts } from '../../helpers/fixtures';

async function* pieces(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

test('ChunkCounter counts every chunk and its samples, and finds the damaged one (chunk-crc fixture)', () => {
  const dmg = facts('chunk-crc').damage as { file: string; chunk: { chunkOffset: number; dataLength: number } };
  const bytes = readFileSync(path.join(dataDir('chunk-crc'), dmg.file));
  for (const size of [13, 4096, bytes.length]) {
    const c = new ChunkCounter();
    for (let i = 0; i < bytes.length; i += size) c.push(bytes.subarray(i, i + size));
    const r = c.end();
    assert.equal(r.offsets.length, 600);
    assert.equal(r.samples.reduce((a, b) => a + b, 0), 72000);
    assert.equal(r.bad.length, 1);
    assert.equal(r.bad[0].offset, dmg.chunk.chunkOffset);
    assert.equal(r.bad[0].dataLength, dmg.chunk.dataLength);
    assert.equal(r.framingError, undefined);
  }
});

test('blankChunks replaces the damaged chunk by a valid empty chunk of the same size, whatever the push size', async () => {
  const dmg = facts('chunk-crc').damage as { file: string; chunk: { chunkOffset: number } };
  const bytes = readFileSync(path.join(dataDir('chunk-crc'), dmg.file));
  const c = new ChunkCounter();
  c.push(bytes);
  const bad = c.end().bad.map((b) => ({ ...b, path: dmg.file, chunkId: `0:${b.offset}` }));
  for (const size of [97, 65536]) {
    const out = await collect(blankChunks(pieces(bytes, size), bad));
    assert.equal(out.length, bytes.length);
    const again = new ChunkCounter();
    again.push(out);
    const r = again.end();
    assert.deepEqual(r.bad, []);
    assert.equal(r.offsets.length, 600);
    assert.equal(r.samples.reduce((a, b) => a + b, 0), 72000 - 121);
    const scanner = createChunkSegmentScanner({ verify: 'full' });
    scanner.push(out);
    assert.deepEqual(scanner.end().problems, []);
    // Only the damaged chunk's data and CRC changed.
    const start = bad[0].encodingOffset + 1;
    const end = start + bad[0].dataLength + 4;
    assert.ok(out.subarray(0, start).equals(bytes.subarray(0, start)));
    assert.ok(out.subarray(end).equals(bytes.subarray(end)));
  }
});

test('takeBytes keeps a prefix; zeroFrom keeps the size and zeroes the tail', async () => {
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i % 251) + 1);
  for (const size of [1, 7, 1000]) {
    const head = await collect(takeBytes(pieces(bytes, size), 333));
    assert.ok(head.equals(Buffer.from(bytes.subarray(0, 333))));
    const z = await collect(zeroFrom(pieces(bytes, size), 333));
    assert.equal(z.length, 1000);
    assert.ok(z.subarray(0, 333).equals(Buffer.from(bytes.subarray(0, 333))));
    assert.ok(z.subarray(333).every((b) => b === 0));
  }
});
