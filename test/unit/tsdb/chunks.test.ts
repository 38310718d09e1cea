import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createChunkSegmentScanner, parseChunkSegmentName, type ChunkSegmentSummary } from '../../../server/src/tsdb/chunks';
import type { Verify } from '../../../server/src/tsdb/types';
import { dataDir, facts } from '../../helpers/fixtures';
import { blocks, bytesOf, feed, pushPatterns, withByte } from './helpers';

function scan(bytes: Uint8Array, verify: Verify, size = () => Number.MAX_SAFE_INTEGER): ChunkSegmentSummary {
  return feed(createChunkSegmentScanner({ verify }), bytes, size);
}

interface CrcDamage { file: string; chunk: { chunkOffset: number; chunksInSegment: number; byteOffset: number } }

test('healthy chunk segments: chunk count equals meta numChunks, no problems in quick and full', () => {
  for (const b of blocks('healthy')) {
    const bytes = bytesOf(path.join(b.dir, 'chunks/000001'));
    for (const verify of ['quick', 'full'] as const) {
      const s = scan(bytes, verify);
      assert.deepEqual(s.problems, [], `${b.ulid} ${verify}`);
      assert.equal(s.headerOk, true);
      assert.equal(s.chunks, b.meta.stats?.numChunks);
      assert.equal(s.sizeBytes, bytes.length);
      assert.equal(s.scannedUntil, bytes.length);
      assert.deepEqual(s.encodings, { 1: s.chunks });
      assert.equal(s.chunkOffsets[0], 8);
      for (let i = 1; i < s.chunks; i++) assert.ok(s.chunkOffsets[i] > s.chunkOffsets[i - 1]);
    }
  }
});

test('chunk-crc: the flipped chunk is the one and only CRC problem, with Prometheus message and offset', () => {
  const d = facts('chunk-crc').damage as unknown as CrcDamage;
  const bytes = bytesOf(path.join(dataDir('chunk-crc'), d.file));
  assert.equal(d.chunk.chunkOffset, 242153);
  const full = scan(bytes, 'full');
  assert.deepEqual(full.problems, [{ kind: 'crc', message: 'checksum mismatch expected:680c9110, actual:2b841d79', offset: 242153 }]);
  assert.equal(full.chunks, d.chunk.chunksInSegment);
  // Quick mode checks framing only: the flipped data byte is invisible there.
  assert.deepEqual(scan(bytes, 'quick').problems, []);
});

test('chunk scanner gives identical summaries for any push boundaries', () => {
  const d = facts('chunk-crc').damage as unknown as CrcDamage;
  const bytes = bytesOf(path.join(dataDir('chunk-crc'), d.file));
  const truncated = bytes.subarray(0, d.chunk.byteOffset);
  for (const input of [bytes, truncated]) {
    for (const verify of ['quick', 'full'] as const) {
      const want = scan(input, verify);
      for (const p of pushPatterns()) assert.deepEqual(scan(input, verify, p.size), want, `${verify} ${p.name}`);
    }
  }
});

test('chunk header damage, framing damage and truncation become problems, not exceptions', () => {
  const b = blocks('healthy')[0];
  const bytes = bytesOf(path.join(b.dir, 'chunks/000001'));
  assert.deepEqual(scan(withByte(bytes, 0), 'quick').problems, [{ kind: 'header', message: 'invalid magic number 7abd40dd', offset: 0 }]);
  assert.deepEqual(scan(withByte(bytes, 4, 3), 'quick').problems, [
    { kind: 'header', message: 'invalid chunk format version 2', offset: 4 },
  ]);
  assert.deepEqual(scan(bytes.subarray(0, 5), 'quick').problems, [
    { kind: 'header', message: 'invalid segment header in segment 0: invalid size', offset: 0 },
  ]);
  // The header is wrong but every chunk after it still frames.
  assert.equal(scan(withByte(bytes, 0), 'full').chunks, b.meta.stats?.numChunks);

  const s = scan(bytes, 'quick');
  const second = s.chunkOffsets[1];
  // An encoding byte of 0 cannot be followed: framing is lost from that chunk on.
  const encAt = second + (bytes[second] < 0x80 ? 1 : 2);
  const badEnc = new Uint8Array(bytes);
  badEnc[encAt] = 0;
  const lost = scan(badEnc, 'quick');
  assert.deepEqual(lost.problems, [{ kind: 'framing', message: 'invalid chunk encoding 0', offset: encAt }]);
  assert.equal(lost.chunks, 1);
  assert.equal(lost.scannedUntil, second);

  // Cut in the middle of the last chunk: Prometheus's "doesn't include enough bytes".
  const last = s.chunkOffsets[s.chunks - 1];
  const cut = scan(bytes.subarray(0, bytes.length - 3), 'full');
  assert.deepEqual(cut.problems, [
    {
      kind: 'framing',
      message: `segment doesn't include enough bytes to read the chunk - required:${bytes.length}, available:${bytes.length - 3}`,
      offset: last,
    },
  ]);
  assert.equal(cut.chunks, s.chunks - 1);
  // Cut inside a len field that needs two bytes.
  const twoByteLen = Array.from(s.chunkOffsets).find((o) => bytes[o] >= 0x80)!;
  assert.deepEqual(scan(bytes.subarray(0, twoByteLen + 1), 'quick').problems, [
    { kind: 'framing', message: 'reading chunk length failed with 0', offset: twoByteLen },
  ]);
  // An empty file has no header.
  assert.equal(scan(new Uint8Array(0), 'full').problems[0].kind, 'header');
  // A flipped CRC byte is a CRC problem in full mode.
  const crcFlip = scan(withByte(bytes, s.chunkOffsets[2] - 1), 'full');
  assert.equal(crcFlip.problems.length, 1);
  assert.equal(crcFlip.problems[0].offset, s.chunkOffsets[1]);
});

test('chunk segment names', () => {
  assert.equal(parseChunkSegmentName('000001'), 1);
  assert.equal(parseChunkSegmentName('1000000'), 1000000);
  assert.equal(parseChunkSegmentName('000001.tmp'), undefined);
});
