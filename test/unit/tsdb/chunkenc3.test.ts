/**
 * Chunk encodings 1–6 on chunks written by real Prometheus 3.16 (st-storage: XOR2, HistogramST,
 * FloatHistogramST) and 3.5 (XOR, Histogram, FloatHistogram) in the `native` scenario: every chunk
 * of every block and of chunks_head/ decodes, its samples match the index / head chunk metadata,
 * the counts match meta.json, and the values are the ones make-tsdb.sh pushed by remote write.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import {
  CUSTOM_BUCKETS_SCHEMA, OOO_BIT, SCHEMA_PREFIX_BYTES, UnknownEncodingError, decodeChunk, decodeChunkSamples, histogramChunkSchema,
  type ChunkSample,
} from '../../../server/src/tsdb/chunkenc';
import { createChunkSegmentScanner } from '../../../server/src/tsdb/chunks';
import { Cursor, FormatError } from '../../../server/src/tsdb/cursor';
import { readIndex, type IndexSeries } from '../../../server/src/tsdb/index';
import { isUlid } from '../../../server/src/tsdb/blockDir';
import { PROMETHEUS3_VERSIONS, dataDir3, type Prometheus3 } from '../../helpers/fixtures';
import { bufferSource, bytesOf } from './helpers';

const A = 1735862400000;
const STEP = 15000;

/** Chunk payload at a segment offset: uvarint len, encoding byte, data (tsdb/docs/format/chunks.md). */
function chunkAt(seg: Uint8Array, offset: number): { encoding: number; data: Uint8Array } {
  const c = new Cursor(seg, 0, offset);
  const len = c.uvarint();
  const encoding = c.u8();
  return { encoding, data: c.bytes(len) };
}

/** The value make-tsdb.sh pushed for a series at step k (see buildNativeSeries there). */
function checkValue(labels: Map<string, string>, s: ChunkSample): void {
  const name = labels.get('__name__');
  const k = Math.floor((s.t - A) / STEP);
  const where = `${name} at ${s.t}`;
  if (name === 'fixture_float') assert.equal(s.v, k * (Number(labels.get('series')) + 1), where);
  else if (name === 'process.cpu.time') assert.equal(s.v, k * 0.25, where);
  else if (name === 'http.server.active_requests') assert.equal(s.v, (k % 17) + 0.5, where);
  else if (name === 'fixture_nhcb_seconds') {
    const h = s.h!;
    assert.equal(h.schema, CUSTOM_BUCKETS_SCHEMA, where);
    assert.deepEqual(h.customValues, [0.1, 0.5, 1, 5], where);
    assert.deepEqual(h.positiveBuckets, [k + 1, 2 * k + 1, k, 3, k + 5], where);
    assert.equal(h.count, 5 * k + 10, where);
    assert.equal(h.sum, k * 0.3, where);
  } else if (name === 'fixture_histogram' || name === 'http.server.request.duration') {
    const h = s.h!;
    const n = name === 'fixture_histogram' ? 6 : 4;
    const buckets = Array.from({ length: n }, (_, b) => (k + 1) * (b + 1));
    assert.equal(h.schema, 3, where);
    assert.deepEqual(h.positiveBuckets, buckets, where);
    assert.equal(h.zeroCount, k % 3, where);
    assert.equal(h.count, (k % 3) + buckets.reduce((a, b) => a + b, 0), where);
    assert.equal(h.sum, k * 1.5, where);
    assert.equal(h.zeroThreshold, 1e-128, where);
    assert.equal(h.customValues, undefined, where);
  } else if (name === 'fixture_float_histogram') {
    const h = s.h!;
    assert.equal(h.schema, 0, where);
    assert.deepEqual(h.positiveBuckets, [k * 0.5, k * 0.25 + 1, 2.5], where);
    assert.equal(h.count, (k % 3) + k * 0.75 + 3.5, where);
  } else assert.fail(`unexpected series ${name}`);
}

function blockDirs(v: Prometheus3): string[] {
  const root = dataDir3(v, 'native');
  return readdirSync(root).filter(isUlid).map((n) => path.join(root, n));
}

/** Encodings seen in chunks_head/ (what the head appends with) and in blocks (observed: 3.16's compaction also writes 2 and 3). */
const ENCODINGS: Record<Prometheus3, number[]> = { '3.16.0': [4, 5, 6], '3.5.3': [1, 2, 3] };
const BLOCK_ENCODINGS: Record<Prometheus3, number[]> = { '3.16.0': [2, 3, 4, 5, 6], '3.5.3': [1, 2, 3] };

for (const v of PROMETHEUS3_VERSIONS) {
  test(`${v} native blocks: every chunk decodes to the index's time range, counts equal meta.json, values are the pushed ones`, () => {
    const encodings = new Set<number>();
    for (const dir of blockDirs(v)) {
      const meta = JSON.parse(bytesOf(path.join(dir, 'meta.json')).reduce((a, b) => a + String.fromCharCode(b), '')) as {
        stats: { numSamples: number; numFloatSamples?: number; numHistogramSamples?: number; numChunks: number };
      };
      const segs = readdirSync(path.join(dir, 'chunks')).sort().map((n) => bytesOf(path.join(dir, 'chunks', n)));
      const series: IndexSeries[] = [];
      readIndex(bufferSource(bytesOf(path.join(dir, 'index'))), { verify: 'full', onSeries: (s) => series.push(s) });
      let floats = 0;
      let histograms = 0;
      let chunks = 0;
      const nhcbPerSeg = segs.map(() => 0);
      for (const s of series) {
        const labels = new Map(s.labels);
        for (const m of s.chunks) {
          const { encoding, data } = chunkAt(segs[m.segment], m.offset);
          assert.equal(encoding & OOO_BIT, 0, 'no OOO bit in blocks');
          const samples = decodeChunkSamples(encoding, data);
          const f = decodeChunk(encoding, data);
          assert.equal(f.count, samples.length);
          assert.equal(f.minTime, m.minTime, `${dir} chunk minTime`);
          assert.equal(f.maxTime, m.maxTime, `${dir} chunk maxTime`);
          assert.equal(samples[0].t, m.minTime);
          for (let i = 1; i < samples.length; i++) assert.ok(samples[i].t > samples[i - 1].t);
          for (const x of samples) checkValue(labels, x);
          // The schema read from the chunk's first bytes (what the scanners use) is the decoded one.
          assert.equal(histogramChunkSchema(encoding, data.subarray(0, SCHEMA_PREFIX_BYTES)), samples[0].h?.schema);
          if (samples[0].h?.schema === CUSTOM_BUCKETS_SCHEMA) nhcbPerSeg[m.segment]++;
          if (f.histogram) histograms += f.count;
          else floats += f.count;
          encodings.add(encoding);
          chunks++;
        }
      }
      assert.equal(chunks, meta.stats.numChunks);
      assert.ok(nhcbPerSeg.some((n) => n > 0), 'NHCB chunks in the block');
      // The segment scanner counts the NHCB chunks, whole or pushed 7 bytes at a time (chunks across pushes).
      segs.forEach((seg, i) => {
        for (const step of [seg.length, 7]) {
          const sc = createChunkSegmentScanner({ verify: 'quick' });
          for (let o = 0; o < seg.length; o += step) sc.push(seg.subarray(o, o + step));
          assert.equal(sc.end().customBucketChunks, nhcbPerSeg[i], `${dir} segment ${i}, pushes of ${step}`);
        }
      });
      assert.equal(floats + histograms, meta.stats.numSamples);
      // 3.5 writes no float/histogram split into meta.json (observed); 3.16 does.
      assert.equal(meta.stats.numFloatSamples, v === '3.5.3' ? undefined : floats);
      assert.equal(meta.stats.numHistogramSamples, v === '3.5.3' ? undefined : histograms);
    }
    assert.deepEqual([...encodings].sort(), BLOCK_ENCODINGS[v]);
  });

  test(`${v} native chunks_head: in-order and OOO (0x80) chunks decode to their record's range and count`, () => {
    const root = path.join(dataDir3(v, 'native'), 'chunks_head');
    let ooo = 0;
    let inOrder = 0;
    for (const name of readdirSync(root).sort()) {
      const b = bytesOf(path.join(root, name));
      const c = new Cursor(b, 0, 8);
      // seriesRef u64 | mint i64 | maxt i64 | encoding u8 | len uvarint | data | CRC32 (tsdb/docs/format/head_chunks.md)
      while (c.remaining > 25 && b[c.position + 24] !== 0) {
        c.skip(8);
        const mint = c.i64();
        const maxt = c.i64();
        const encoding = c.u8();
        const data = c.bytes(c.uvarint());
        c.skip(4);
        const f = decodeChunk(encoding, data);
        assert.equal(f.minTime, mint);
        assert.equal(f.maxTime, maxt);
        assert.ok(f.count > 0);
        if (encoding & OOO_BIT) {
          ooo++;
          // OOO samples were pushed 7.5 s off the 15 s grid.
          for (const s of decodeChunkSamples(encoding, data)) assert.equal((s.t - A) % STEP, 7500);
        } else inOrder++;
        assert.ok(ENCODINGS[v].includes(encoding & 0x7f));
      }
    }
    assert.ok(ooo > 0, 'OOO head chunks');
    assert.ok(inOrder > 0, 'in-order head chunks');
  });
}

test('an encoding above 6 is unknown (with its number), not damage; a cut chunk is damage', () => {
  assert.throws(() => decodeChunk(7, new Uint8Array([0, 1, 0])), (e: unknown) => e instanceof UnknownEncodingError && e.encoding === 7);
  assert.throws(() => decodeChunk(0x87, new Uint8Array([0, 1, 0])), (e: unknown) => e instanceof UnknownEncodingError && e.encoding === 7);
  const dir = blockDirs('3.16.0')[0];
  const seg = bytesOf(path.join(dir, 'chunks', '000001'));
  const { encoding, data } = chunkAt(seg, 8);
  assert.throws(() => decodeChunk(encoding, data.subarray(0, Math.max(3, data.length >> 1))), FormatError);
});
