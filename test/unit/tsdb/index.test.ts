import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readIndex, type IndexSeries, type IndexSummary } from '../../../server/src/tsdb/index';
import { createChunkSegmentScanner } from '../../../server/src/tsdb/chunks';
import { xorTimeRange, decodeXor, chunkSampleCount } from '../../../server/src/tsdb/chunkenc';
import { Cursor } from '../../../server/src/tsdb/cursor';
import { crc32c } from '../../../server/src/tsdb/crc32c';
import type { Verify } from '../../../server/src/tsdb/types';
import { blocks, bufferSource, bytesOf, rng, withByte } from './helpers';

function read(bytes: Uint8Array, verify: Verify): { summary: IndexSummary; series: IndexSeries[] } {
  const series: IndexSeries[] = [];
  const summary = readIndex(bufferSource(bytes), { verify, onSeries: (s) => series.push(s) });
  return { summary, series };
}

const TWO_HOURS = 2 * 3600 * 1000;

test('every healthy index parses with no problems and matches meta.json stats and time range', () => {
  for (const b of blocks('healthy')) {
    for (const verify of ['quick', 'full'] as const) {
      const { summary, series } = read(bytesOf(path.join(b.dir, 'index')), verify);
      assert.deepEqual(summary.problems, [], `${b.ulid} ${verify}`);
      assert.equal(summary.version, 2);
      assert.equal(summary.seriesCount, b.meta.stats?.numSeries);
      assert.equal(series.length, b.meta.stats?.numSeries);
      assert.equal(summary.chunkCount, b.meta.stats?.numChunks);
      assert.equal(summary.symbolCount, 39);
      assert.equal(summary.minTime, b.meta.minTime);
      // maxTime is exclusive: last sample + 1 for backfilled and compacted blocks; the block cut
      // from the head ends at the aligned range end instead, past its last sample.
      if (b.meta.maxTime % TWO_HOURS !== 0) assert.equal(summary.maxTime, b.meta.maxTime - 1, b.ulid);
      else assert.equal(summary.maxTime, 1735963185009, b.ulid);
      for (const s of series) {
        assert.equal(s.labels[0][0], '__name__');
        assert.equal(s.id * 16 >= summary.toc!.series, true);
        if (verify === 'full') assert.equal(s.crcOk, true);
      }
    }
  }
});

test('every index chunk ref lands on a chunk; XOR chunks decode to the index times and meta sample totals', () => {
  for (const b of blocks('healthy')) {
    const { series } = read(bytesOf(path.join(b.dir, 'index')), 'quick');
    const chunkBytes = bytesOf(path.join(b.dir, 'chunks/000001'));
    const scanner = createChunkSegmentScanner({ verify: 'quick' });
    scanner.push(chunkBytes);
    const offsets = new Set(scanner.end().chunkOffsets);
    let samples = 0;
    let decodedOne = false;
    for (const s of series) {
      for (const c of s.chunks) {
        assert.equal(c.ref >> 32n, 0n);
        const off = Number(c.ref & 0xffffffffn);
        assert.ok(offsets.has(off), `ref ${off}`);
        const cur = new Cursor(chunkBytes, 0, off);
        const len = cur.uvarint();
        const enc = cur.u8();
        assert.equal(enc, 1);
        const data = cur.bytes(len);
        const r = xorTimeRange(data);
        assert.equal(r.first, c.minTime);
        assert.equal(r.last, c.maxTime);
        assert.equal(chunkSampleCount(enc, data), r.count);
        samples += r.count;
        if (!decodedOne) {
          const all = decodeXor(data);
          assert.equal(all.length, r.count);
          assert.equal(all[0].t, c.minTime);
          assert.equal(all[all.length - 1].t, c.maxTime);
          for (let i = 1; i < all.length; i++) assert.ok(all[i].t > all[i - 1].t);
          assert.ok(all.every((x) => Number.isFinite(x.v)));
          decodedOne = true;
        }
      }
    }
    assert.equal(samples, b.meta.stats?.numSamples, b.ulid);
  }
});

/** The healthy level-1 block's index and its TOC. */
function sample(): { bytes: Uint8Array; toc: NonNullable<IndexSummary['toc']>; series: IndexSeries[] } {
  const bytes = bytesOf(path.join(blocks('healthy')[3].dir, 'index'));
  const { summary, series } = read(bytes, 'quick');
  return { bytes, toc: summary.toc!, series };
}

test('index damage: each flipped byte gives the Prometheus problem in the right section and offset', () => {
  const { bytes, toc, series } = sample();
  const tocAt = bytes.length - 52;
  const problems = (b: Uint8Array, v: Verify = 'full') => read(b, v).summary.problems.map((p) => ({ ...p }));

  assert.deepEqual(problems(withByte(bytes, 0)), [
    { section: 'header', message: 'invalid magic number 45aad700', offset: 0, fatalAtStartup: true },
  ]);
  assert.deepEqual(problems(withByte(bytes, 4, 7)), [
    { section: 'header', message: 'unknown index file version 5', offset: 4, fatalAtStartup: true },
  ]);
  assert.deepEqual(problems(withByte(bytes, tocAt + 3), 'quick'), [
    { section: 'toc', message: 'read TOC: read TOC: invalid checksum', offset: tocAt, fatalAtStartup: true },
  ]);
  // A symbol byte: the symbols frame CRC (checked at open, so also in quick mode).
  assert.deepEqual(problems(withByte(bytes, toc.symbols + 12), 'quick'), [
    { section: 'symbols', message: 'read symbols: invalid checksum', offset: toc.symbols, fatalAtStartup: true },
  ]);
  // The postings offset table CRC is checked at open.
  assert.deepEqual(problems(withByte(bytes, toc.postingsTable + 10), 'quick'), [
    { section: 'postingsTable', message: 'read postings table: invalid checksum', offset: toc.postingsTable, fatalAtStartup: true },
  ]);
  // A byte of a series: only full mode checks series CRCs; it is not fatal at startup.
  const s = series[7];
  const seriesAt = s.id * 16;
  const flipped = withByte(bytes, seriesAt + 3, 0x01);
  assert.deepEqual(problems(flipped, 'quick').filter((p) => p.section === 'series' && p.message.includes('checksum')), []);
  const full = problems(flipped).filter((p) => p.message.includes('checksum'));
  assert.deepEqual(full, [{ section: 'series', message: `series ${s.id}: invalid checksum`, offset: seriesAt, fatalAtStartup: false }]);
  // A postings list byte (the first list is all series).
  const postingsAt = Math.ceil(toc.postings / 4) * 4;
  assert.deepEqual(problems(withByte(bytes, postingsAt + 9)), [
    { section: 'postings', message: 'all postings: invalid checksum', offset: postingsAt, fatalAtStartup: false },
  ]);
  assert.deepEqual(problems(withByte(bytes, postingsAt + 9), 'quick'), []);
  // A label index (deprecated section) byte.
  const li = Math.ceil(toc.labelIndices / 4) * 4;
  const liProblems = problems(withByte(bytes, li + 9));
  assert.equal(liProblems.length, 1);
  assert.equal(liProblems[0].section, 'labelIndices');
  assert.match(liProblems[0].message, /invalid checksum$/);
});

test('index semantic checks: out-of-order chunks with a valid CRC are reported with the writer message', () => {
  const { bytes, series } = sample();
  // Rewrite series[0]'s second chunk's mint delta to 0 (mint == previous maxt) and fix its CRC.
  const s = series[0];
  const at = s.id * 16;
  const c = new Cursor(bytes, 0, at);
  const len = c.uvarint();
  const bodyStart = c.position;
  const body = new Cursor(bytes, 0, bodyStart, bodyStart + len);
  const nLabels = body.uvarint();
  for (let i = 0; i < nLabels * 2; i++) body.uvarint();
  body.uvarint(); // nChunks
  body.varint();
  body.uvarint();
  body.uvarint();
  const deltaAt = body.position;
  assert.equal(bytes[deltaAt] < 0x80, false); // a multi-byte delta: rewrite it to 0 without changing the length
  const edited = bytes.slice();
  let p = deltaAt;
  while (edited[p] >= 0x80) edited[p++] = 0x80;
  edited[p] = 0;
  new DataView(edited.buffer).setUint32(bodyStart + len, crc32c(edited.subarray(bodyStart, bodyStart + len)));
  const { summary } = read(edited, 'full');
  assert.deepEqual(summary.problems, [
    {
      section: 'series',
      message: `series ${s.id}: chunk minT ${s.chunks[0].maxTime} is not higher than previous chunk maxT ${s.chunks[0].maxTime}`,
      offset: at,
      fatalAtStartup: false,
    },
  ]);
});

test('errors of the ByteSource and of onSeries propagate unchanged', () => {
  const { bytes } = sample();
  const ioError = Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', syscall: 'read' });
  const failing = { size: bytes.length, read: () => { throw ioError; } };
  assert.throws(() => readIndex(failing, { verify: 'quick' }), (e) => e === ioError);
  const stop = new Error('cancelled');
  assert.throws(() => readIndex(bufferSource(bytes), { verify: 'quick', onSeries: () => { throw stop; } }), (e) => e === stop);
});

test('truncated indexes give problems, never exceptions', () => {
  const { bytes } = sample();
  // Messages as promtool 2.42 prints them for the same cuts (verified).
  assert.equal(read(bytes.subarray(0, 3), 'quick').summary.problems[0].message, 'index header: invalid size');
  assert.equal(read(bytes.subarray(0, 40), 'quick').summary.problems[0].message, 'read TOC: invalid size');
  for (const n of [0, 3, 5, 40, 56, 1000, bytes.length - 53, bytes.length - 1]) {
    const { summary } = read(bytes.subarray(0, n), 'full');
    assert.ok(summary.problems.length > 0, `cut at ${n}`);
    assert.ok(summary.problems.every((p) => typeof p.message === 'string' && p.message.length > 0 && !/could not be read/.test(p.message)));
  }
});

test('randomized mutations of an index: readIndex never throws, problems are well formed', () => {
  const { bytes, toc } = sample();
  const r = rng(42);
  let withProblems = 0;
  for (let i = 0; i < 300; i++) {
    const m = bytes.slice();
    const kind = r();
    if (kind < 0.6) {
      // Flip 1–4 random bytes, TOC CRC fixed half the time so later sections get exercised.
      for (let k = 0, n = 1 + Math.floor(r() * 4); k < n; k++) m[Math.floor(r() * m.length)] ^= 1 + Math.floor(r() * 255);
      if (r() < 0.5) new DataView(m.buffer).setUint32(m.length - 4, crc32c(m.subarray(m.length - 52, m.length - 4)));
    } else if (kind < 0.8) {
      // Damage only the series region and keep TOC intact.
      const at = toc.series + Math.floor(r() * (toc.labelIndices - toc.series));
      m[at] = Math.floor(r() * 256);
    } else {
      // Random garbage in a frame length field.
      const at = [toc.symbols, toc.postingsTable, toc.labelIndicesTable][Math.floor(r() * 3)];
      new DataView(m.buffer).setUint32(at, Math.floor(r() * 2 ** 32));
    }
    for (const verify of ['quick', 'full'] as const) {
      const { summary } = read(m, verify);
      for (const p of summary.problems) {
        assert.equal(typeof p.message, 'string');
        assert.equal(typeof p.fatalAtStartup, 'boolean');
        // The catch-all in readIndex reports reader bugs this way: none may happen.
        assert.doesNotMatch(p.message, /could not be read/, `mutation ${i}`);
      }
      if (verify === 'full' && summary.problems.length) withProblems++;
    }
  }
  assert.ok(withProblems > 100, `only ${withProblems} mutations detected`);
});
