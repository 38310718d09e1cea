import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  mmapSequenceBreak,
  createHeadChunkScanner,
  parseHeadChunkFileName,
  type HeadChunkFileSummary,
  type HeadChunkRecord,
} from '../../../server/src/tsdb/headChunks';
import { xorTimeRange } from '../../../server/src/tsdb/chunkenc';
import { Cursor } from '../../../server/src/tsdb/cursor';
import { crc32c } from '../../../server/src/tsdb/crc32c';
import type { Verify } from '../../../server/src/tsdb/types';
import { dataDir } from '../../helpers/fixtures';
import { bytesOf, feed, pushPatterns, rng, withByte } from './helpers';

function scan(bytes: Uint8Array, verify: Verify, size = () => Number.MAX_SAFE_INTEGER, records?: HeadChunkRecord[]): HeadChunkFileSummary {
  return feed(createHeadChunkScanner({ verify, fileNumber: 3, onRecord: records ? (r) => records.push(r) : undefined }), bytes, size);
}

const file = (n: string) => bytesOf(path.join(dataDir('healthy'), 'chunks_head', n));

test('healthy head chunk files: record counts and ranges of EXPECTED.md, zero tail after the data', () => {
  const want: [string, number, number, number][] = [
    ['000003', 100, 1735961415000, 1735965000003],
    ['000004', 100, 1735965000004, 1735968600009],
    ['000005', 50, 1735968615001, 1735970385009],
    ['000006', 50, 1735970400001, 1735972200003],
  ];
  for (const [name, records, min, max] of want) {
    const bytes = file(name);
    for (const verify of ['quick', 'full'] as const) {
      const recs: HeadChunkRecord[] = [];
      const s = scan(bytes, verify, undefined, recs);
      assert.deepEqual(s.problems, [], name);
      assert.equal(s.headerOk, true);
      assert.equal(s.records, records);
      assert.equal(s.minTime, min);
      assert.equal(s.maxTime, max);
      assert.equal(s.sizeBytes, 131072);
      assert.ok(s.dataEnd > 8 && s.dataEnd < 131072);
      assert.equal(s.nonZeroAfterEnd, undefined);
      assert.equal(s.removableIfLast, false);
      assert.equal(recs.reduce((a, r) => a + r.samples, 0), s.samples);
      for (const r of recs) {
        assert.ok(r.seriesRef >= 1 && r.seriesRef <= 50);
        assert.equal(r.encoding, 1);
        assert.equal(r.crcOk, verify === 'full' ? true : undefined);
        // The record's chunk decodes to exactly its header's time range and sample count.
        const c = new Cursor(bytes, 0, r.offset + 25);
        const range = xorTimeRange(c.bytes(c.uvarint()));
        assert.deepEqual(range, { count: r.samples, first: r.minTime, last: r.maxTime });
      }
    }
  }
  assert.equal(parseHeadChunkFileName('000007'), 7);
  assert.equal(parseHeadChunkFileName('x'), undefined);
});

test('head chunk scanner gives identical summaries and records for any push boundaries', () => {
  const bytes = file('000005');
  const damaged = withByte(bytes, 1000);
  for (const input of [bytes, damaged, bytes.subarray(0, 20000), bytes.subarray(0, 39347 + 20)]) {
    for (const verify of ['quick', 'full'] as const) {
      const wantRecs: HeadChunkRecord[] = [];
      const want = scan(input, verify, undefined, wantRecs);
      for (const p of pushPatterns(3)) {
        const recs: HeadChunkRecord[] = [];
        assert.deepEqual(scan(input, verify, p.size, recs), want, `${verify} ${p.name}`);
        assert.deepEqual(recs, wantRecs);
      }
    }
  }
});

test('head chunk damage: record CRC, header, truncation and a dirty short tail, with Prometheus messages', () => {
  const bytes = file('000003');
  const recs: HeadChunkRecord[] = [];
  const clean = scan(bytes, 'full', undefined, recs);
  const r5 = recs[5];
  // A flipped data byte of record 5: CRC mismatch (Go prints the byte slices: 8 hex digits).
  const flipped = scan(withByte(bytes, r5.offset + 40), 'full');
  assert.equal(flipped.problems.length, 1);
  assert.match(flipped.problems[0].message, /^checksum mismatch expected:[0-9a-f]{8}, actual:[0-9a-f]{8}$/);
  assert.equal(flipped.problems[0].offset, r5.offset);
  assert.equal(flipped.records, 100);
  assert.deepEqual(scan(withByte(bytes, r5.offset + 40), 'quick').problems, []);
  // Verified with Prometheus 2.42 on this very edit: `Loading on-disk chunks failed` err="iterate on on-disk
  // chunks: corruption in head chunk file …/000003: checksum mismatch expected:84cc9d07, actual:09c6c280".
  assert.deepEqual(scan(withByte(bytes, 8 + 25 + 10), 'full').problems, [
    { message: 'checksum mismatch expected:84cc9d07, actual:09c6c280', offset: 8 },
  ]);
  // Header.
  assert.deepEqual(scan(withByte(bytes, 1), 'quick').problems, [{ message: 'invalid magic number 1cfbc91', offset: 0 }]);
  assert.deepEqual(scan(withByte(bytes, 4, 2), 'quick').problems, [{ message: 'invalid chunk format version 3', offset: 4 }]);
  const zeroMagic = bytes.slice();
  zeroMagic.fill(0, 0, 4);
  assert.equal(scan(zeroMagic, 'quick').removableIfLast, true);
  const short = scan(bytes.subarray(0, 3), 'quick');
  assert.deepEqual(short.problems, [{ message: 'invalid head chunk file header: invalid size', offset: 0 }]);
  assert.equal(short.removableIfLast, true);
  // Cut inside record 5's data.
  const cut = scan(bytes.subarray(0, r5.offset + 60), 'full');
  assert.equal(cut.records, 5);
  assert.equal(cut.dataEnd, r5.offset);
  assert.equal(cut.problems.length, 1);
  assert.match(
    cut.problems[0].message,
    new RegExp(
      `^head chunk file doesn't include enough bytes to read the chunk ` +
        `header - required:${recs[6].offset}, available:${r5.offset + 60}, file:3$`,
    ),
  );
  // A non-zero byte in a tail shorter than 34 bytes is corruption.
  const dirty = bytes.slice(0, clean.dataEnd + 20);
  dirty[clean.dataEnd + 10] = 7;
  assert.deepEqual(scan(dirty, 'quick').problems, [
    {
      message: `head chunk file has some unread data, but doesn't include ` +
        `enough bytes to read the chunk header - required:${clean.dataEnd + 34}, available:${clean.dataEnd + 20}, file:3`,
      offset: clean.dataEnd,
    },
  ]);
  // A non-zero byte after the end marker is noted, not a problem.
  const after = withByte(bytes, clean.dataEnd + 500, 1);
  const s = scan(after, 'quick');
  assert.deepEqual(s.problems, []);
  assert.equal(s.nonZeroAfterEnd, clean.dataEnd + 500);
  // A fixed CRC keeps a rewritten record valid: the header fields are covered by it.
  const edited = bytes.slice();
  edited[r5.offset + 7] ^= 1; // seriesRef
  const end = recs[6].offset - 4;
  new DataView(edited.buffer).setUint32(end, crc32c(edited.subarray(r5.offset, end)));
  assert.deepEqual(scan(edited, 'full').problems, []);
});

test('out-of-order head chunks (encoding 0x81) are recognised and counted like XOR', () => {
  const bytes = file('000006');
  const recs: HeadChunkRecord[] = [];
  scan(bytes, 'full', undefined, recs);
  const edited = bytes.slice();
  const r = recs[3];
  edited[r.offset + 24] = 0x81;
  const end = recs[4].offset - 4;
  new DataView(edited.buffer).setUint32(end, crc32c(edited.subarray(r.offset, end)));
  const got: HeadChunkRecord[] = [];
  const s = scan(edited, 'full', undefined, got);
  assert.deepEqual(s.problems, []);
  assert.equal(got[3].encoding, 0x81);
  assert.equal(got[3].encoding & 0x7f, 1);
  assert.equal(got[3].samples, r.samples);
  assert.equal(got[3].crcOk, true);
});

test('randomized mutations of head chunk files never throw and always end in a summary', () => {
  const bytes = file('000004');
  const r = rng(99);
  for (let i = 0; i < 200; i++) {
    const m = bytes.subarray(0, 8 + Math.floor(r() * 90000)).slice();
    for (let k = 0, n = 1 + Math.floor(r() * 3); k < n; k++) m[Math.floor(r() * m.length)] = Math.floor(r() * 256);
    const s = scan(m, 'full', () => 1 + Math.floor(r() * 3000));
    assert.ok(s.dataEnd >= 0 && s.dataEnd <= m.length, `mutation ${i}`);
    for (const p of s.problems) assert.equal(typeof p.message, 'string');
  }
});

describe('mmapSequenceBreak (Prometheus loadMmappedChunks)', () => {
  test('in sequence across files; a chunk starting at or before its series\' previous end breaks it; old chunks are skipped', () => {
    assert.equal(mmapSequenceBreak([[1, 0, 9, 2, 0, 9], [1, 10, 19]]), undefined);
    assert.deepEqual(mmapSequenceBreak([[1, 10, 19], [2, 0, 5, 1, 19, 25]]), { file: 1, ref: 1, prevMaxTime: 19, minTime: 19, maxTime: 25 });
    // The earlier chunk ends before the minimum valid time: Prometheus skips it, no break.
    assert.equal(mmapSequenceBreak([[1, 10, 19], [1, 0, 5]], 6), undefined);
    assert.equal(mmapSequenceBreak([[1, 10, 19], [1, 0, 5]])?.file, 1);
  });
});
