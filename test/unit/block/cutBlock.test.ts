/**
 * XOR encoder and block cut on real 2.42 blocks: re-encoding every decoded chunk of the healthy
 * fixture gives Prometheus's bytes; a cut holds exactly the source's samples in [from, to),
 * copies inner chunks byte for byte and reads back clean with the project's readers.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { blocks, bufferSource, feed } from '../tsdb/helpers';
import { openBlock, type OpenedBlock } from '../../../server/src/block/readBlock';
import { cutBlock } from '../../../server/src/block/cutBlock';
import { decodeXor, type XorSample } from '../../../server/src/tsdb/chunkenc';
import { encodeXor } from '../../../server/src/tsdb/write/xorEncoder';
import { writeBlock } from '../../../server/src/block/writeBlock';
import { readIndex } from '../../../server/src/tsdb/index';
import { createChunkSegmentScanner, type ChunkSegmentSummary } from '../../../server/src/tsdb/chunks';
import { isToolError } from '../../../server/src/errors';

const A = 1735862400000;
const H = 3600_000;
let work: string;
before(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-cut-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

/** Every sample of a block, by series key. */
function samplesOf(b: OpenedBlock): Map<string, XorSample[]> {
  const out = new Map<string, XorSample[]>();
  for (const s of b.series) {
    const all: XorSample[] = [];
    for (const c of s.chunks) all.push(...decodeXor(b.chunk(c).data));
    out.set(JSON.stringify(s.labels), all);
  }
  return out;
}

function windowOf(all: Map<string, XorSample[]>, from: number, to: number): Map<string, XorSample[]> {
  const out = new Map<string, XorSample[]>();
  for (const [k, v] of all) {
    const w = v.filter((x) => x.t >= from && x.t < to);
    if (w.length) out.set(k, w);
  }
  return out;
}

describe('encodeXor', () => {
  test('re-encoding every chunk of the healthy blocks gives the same bytes', () => {
    let n = 0;
    for (const fb of blocks('healthy')) {
      const b = openBlock(fb.dir);
      try {
        for (const s of b.series) {
          for (const c of s.chunks) {
            const { encoding, data } = b.chunk(c);
            assert.equal(encoding, 1);
            assert.deepEqual(encodeXor(decodeXor(data)), new Uint8Array(data), `chunk ${c.offset}`);
            n++;
          }
        }
      } finally {
        b.close();
      }
    }
    assert.equal(n, 2800);
  });

  test('extreme values and timestamp jumps round-trip (every dod bucket, NaN, ±Inf, -0)', () => {
    const ts = [-5, 0, 1, 3, 8000, 8001, 8002 + 70000, 9e12, 9e12 + 1, 9e12 + 600000, 9e12 + 600001];
    const vs = [0, -0, NaN, Infinity, -Infinity, 1e-300, 1.5, 1.5, 2 ** 53, -1e300, 5e-324];
    const samples = ts.map((t, i) => ({ t, v: vs[i] }));
    const back = decodeXor(encodeXor(samples));
    assert.equal(back.length, samples.length);
    back.forEach((x, i) => {
      assert.equal(x.t, samples[i].t);
      assert.ok(Object.is(x.v, samples[i].v), `value ${i}: ${x.v} vs ${samples[i].v}`);
    });
  });

  test('refuses timestamps that do not increase', () => {
    assert.throws(() => encodeXor([{ t: 5, v: 1 }, { t: 5, v: 2 }]), RangeError);
  });
});

describe('cutBlock', () => {
  // The level-3 block spans [A, A+18h); edges a few ms off the 15 s scrape grid cut chunks in the middle.
  const l3 = () => blocks('healthy').find((b) => b.meta.compaction.level === 3)!;

  test('holds exactly the source samples in [from, to), inner chunks copied byte for byte', () => {
    const src = openBlock(l3().dir);
    const parent = mkdtempSync(path.join(work, 'cut-'));
    try {
      const from = A + 5 * H + 7 * 60_000 + 3;
      const to = A + 11 * H + 60_000 + 5;
      const r = cutBlock(src, { from, to }, { parentDir: parent, sync: false });
      assert.ok(r.block);
      const expected = windowOf(samplesOf(src), from, to);
      const total = [...expected.values()].reduce((n, v) => n + v.length, 0);
      const cut = openBlock(r.block.dir);
      try {
        assert.deepEqual(samplesOf(cut), expected);
        assert.equal(r.samplesWritten, total);
        assert.equal(cut.meta.stats?.numSamples, total);
        assert.equal(cut.meta.stats?.numFloatSamples, total);
        assert.equal(cut.meta.stats?.numSeries, 50);
        assert.equal(cut.meta.stats?.numChunks, r.chunksKept + r.chunksReencoded);
        assert.equal(r.chunksReencoded, 100, 'two edge chunks per series');
        assert.deepEqual(r.droppedEdgeChunks, []);
        assert.equal(cut.meta.minTime, from);
        assert.equal(cut.meta.maxTime, to);
        assert.deepEqual(cut.meta.compaction, { level: 1, sources: [cut.meta.ulid] });
        assert.notEqual(cut.meta.ulid, src.meta.ulid);
        // Inner chunks are the source's bytes.
        const srcChunks = new Set<string>();
        for (const s of src.series) for (const c of s.chunks) srcChunks.add(Buffer.from(src.chunk(c).data).toString('base64'));
        let same = 0;
        for (const s of cut.series) for (const c of s.chunks) if (srcChunks.has(Buffer.from(cut.chunk(c).data).toString('base64'))) same++;
        assert.equal(same, r.chunksKept);
        assert.ok(r.chunksKept > 0);
        // Full verification by the project's readers: every CRC, postings and label index.
        const idx = readFileSync(path.join(r.block.dir, 'index'));
        assert.deepEqual(readIndex(bufferSource(idx), { verify: 'full' }).problems, []);
        for (const seg of readdirSync(path.join(r.block.dir, 'chunks'))) {
          const scan: ChunkSegmentSummary = feed(
            createChunkSegmentScanner({ verify: 'full' }),
            readFileSync(path.join(r.block.dir, 'chunks', seg)),
            () => 1 << 16,
          );
          assert.deepEqual(scan.problems, []);
        }
      } finally {
        cut.close();
      }
    } finally {
      src.close();
    }
  });

  test('a window with no sample writes no block; an invalid window is a usage error', () => {
    const src = openBlock(l3().dir);
    const parent = mkdtempSync(path.join(work, 'empty-'));
    try {
      const r = cutBlock(src, { from: A - 10 * H, to: A - 9 * H }, { parentDir: parent, sync: false });
      assert.equal(r.block, undefined);
      assert.equal(r.seriesDropped, 50);
      assert.deepEqual(readdirSync(parent), []);
      assert.throws(() => cutBlock(src, { from: A, to: A }, { parentDir: parent }), (e) => isToolError(e) && e.code === 'usage');
    } finally {
      src.close();
    }
  });

  test('tombstones are applied and series left empty are dropped', () => {
    const src = openBlock(l3().dir);
    const parent = mkdtempSync(path.join(work, 'tomb-'));
    try {
      const victim = src.series[3];
      const other = src.series[4];
      const from = A + 2 * H;
      const to = A + 3 * H;
      const withStones: OpenedBlock = {
        ...src,
        tombstones: [
          { seriesId: victim.id, minTime: A, maxTime: A + 4 * H },
          { seriesId: other.id, minTime: A + 2 * H + 30 * 60_000, maxTime: A + 2 * H + 40 * 60_000 },
        ],
      };
      const r = cutBlock(withStones, { from, to }, { parentDir: parent, sync: false });
      const expected = windowOf(samplesOf(src), from, to);
      expected.delete(JSON.stringify(victim.labels));
      const key = JSON.stringify(other.labels);
      expected.set(key, expected.get(key)!.filter((x) => x.t < A + 2 * H + 30 * 60_000 || x.t > A + 2 * H + 40 * 60_000));
      const cut = openBlock(r.block!.dir);
      try {
        assert.deepEqual(samplesOf(cut), expected);
        assert.equal(r.seriesDropped, 1);
        assert.equal(cut.series.length, 49);
        assert.deepEqual(cut.tombstones, []);
      } finally {
        cut.close();
      }
    } finally {
      src.close();
    }
  });
});

describe('cutBlock: chunks it cannot re-encode', () => {
  test('a histogram chunk inside the window is kept as it is, one across an edge is dropped and reported', () => {
    const parent = mkdtempSync(path.join(work, 'hist-'));
    // Hand-made payloads for encoding 2 (histogram): only the u16 sample count is read by the cut.
    const hist = (n: number, fill: number) => new Uint8Array([0, n, fill, fill, fill]);
    const xs = (t0: number) => Array.from({ length: 10 }, (_, i) => ({ t: t0 + i * 1000, v: i }));
    const src = writeBlock({
      parentDir: parent,
      minTime: 0,
      maxTime: 100_000,
      symbols: ['__name__', 'f', 'h'],
      series: [
        { labels: [['__name__', 'f']], chunks: [{ minTime: 0, maxTime: 9000, encoding: 1, data: encodeXor(xs(0)) }] },
        {
          labels: [['__name__', 'h']],
          chunks: [
            { minTime: 1000, maxTime: 9000, encoding: 2, data: hist(7, 0xaa) },
            { minTime: 20_000, maxTime: 29_000, encoding: 2, data: hist(5, 0xbb) },
            { minTime: 40_000, maxTime: 49_000, encoding: 2, data: hist(3, 0xcc) },
          ],
        },
      ],
      sync: false,
    });
    const b = openBlock(src.dir);
    const out = mkdtempSync(path.join(work, 'hist-out-'));
    try {
      const r = cutBlock(b, { from: 5000, to: 45_000 }, { parentDir: out, sync: false });
      assert.deepEqual(r.droppedEdgeChunks, [
        { labels: [['__name__', 'h']], encoding: 2, minTime: 1000, maxTime: 9000, samples: 7 },
        { labels: [['__name__', 'h']], encoding: 2, minTime: 40_000, maxTime: 49_000, samples: 3 },
      ]);
      const cut = openBlock(r.block!.dir);
      try {
        assert.equal(cut.series.length, 2);
        const h = cut.series[1];
        assert.deepEqual(h.chunks.map((c) => [c.minTime, c.maxTime]), [[20_000, 29_000]]);
        assert.deepEqual(new Uint8Array(cut.chunk(h.chunks[0]).data), hist(5, 0xbb));
        assert.deepEqual(decodeXor(cut.chunk(cut.series[0].chunks[0]).data), xs(0).filter((x) => x.t >= 5000));
        assert.deepEqual(cut.meta.stats, { numSamples: 10, numFloatSamples: 5, numHistogramSamples: 5, numSeries: 2, numChunks: 2 });
      } finally {
        cut.close();
      }
    } finally {
      b.close();
    }
  });
});
