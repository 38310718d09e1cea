/**
 * The block writer on real 2.42 blocks: every block of the healthy fixture, read with the
 * project's readers and written again from its own symbols, series and chunks, gives Prometheus's
 * index, chunk segments, tombstones and meta.json byte for byte; what is written reads back the same.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { blocks } from '../tsdb/helpers';
import { openBlock, type OpenedBlock } from '../../../server/src/block/readBlock';
import { writeBlock, type WriteSeries } from '../../../server/src/block/writeBlock';
import { compareStrings } from '../../../server/src/tsdb/order';

let work: string;
before(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-write-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

function* seriesOf(b: OpenedBlock): Generator<WriteSeries> {
  for (const s of b.series) {
    yield { labels: s.labels, chunks: b.seriesChunks(s) };
  }
}

describe('writeBlock: a copy of a real block is Prometheus\'s bytes', () => {
  for (const fb of blocks('healthy')) {
    test(`healthy level-${fb.meta.compaction.level} block ${fb.meta.minTime}`, () => {
      const src = openBlock(fb.dir);
      const parent = mkdtempSync(path.join(work, 'copy-'));
      try {
        const w = writeBlock({
          parentDir: parent,
          ulid: src.meta.ulid,
          minTime: src.meta.minTime,
          maxTime: src.meta.maxTime,
          compaction: src.meta.compaction,
          stats: src.meta.stats,
          symbols: src.symbols,
          series: seriesOf(src),
          sync: false,
        });
        for (const f of ['index', 'meta.json', 'tombstones', ...readdirSync(path.join(fb.dir, 'chunks')).map((c) => `chunks/${c}`)]) {
          assert.ok(readFileSync(path.join(w.dir, f)).equals(readFileSync(path.join(fb.dir, f))), `${f} differs`);
        }
        assert.deepEqual(readdirSync(path.join(w.dir, 'chunks')), readdirSync(path.join(fb.dir, 'chunks')));
      } finally {
        src.close();
      }
    });
  }
});

describe('Go string order', () => {
  test('compareStrings orders as the UTF-8 bytes do (Go), not as UTF-16 code units', () => {
    const samples = ['', 'a', 'ab', 'b', 'é', '\uFFFD', '\uE000', '\u{1F600}', '\u{10000}', 'a\u{1F600}', 'a\uFFFD', 'z', 'Z'];
    for (const x of samples) {
      for (const y of samples) {
        const bytes = Math.sign(Buffer.compare(Buffer.from(x), Buffer.from(y)));
        assert.equal(Math.sign(compareStrings(x, y)), bytes, `${JSON.stringify(x)} vs ${JSON.stringify(y)}`);
      }
    }
    // The case a JS sort gets wrong: U+FFFD (EF BF BD) sorts before U+1F600 (F0 9F 98 80).
    assert.ok(compareStrings('\uFFFD', '\u{1F600}') < 0 && '\uFFFD' > '\u{1F600}');
  });
});

describe('openBlock.seriesChunks', () => {
  test('a series whose chunks span several 4 MiB read-ahead windows keeps every chunk intact', () => {
    const parent = mkdtempSync(path.join(work, 'wide-'));
    // 12 chunks of 1 MiB (encoding 2 payloads: only their bytes matter here) in one series.
    const payloads = Array.from({ length: 12 }, (_, i) => {
      const p = new Uint8Array(1 << 20);
      for (let k = 0; k < p.length; k += 4096) p.fill((i * 31 + k / 4096) & 0xff, k, k + 4096);
      p[0] = 0;
      p[1] = 1;
      return p;
    });
    const w = writeBlock({
      parentDir: parent,
      minTime: 0,
      maxTime: 100,
      symbols: ['__name__', 'wide'],
      series: [
        { labels: [['__name__', 'wide']], chunks: payloads.map((data, i) => ({ minTime: i * 2, maxTime: i * 2 + 1, encoding: 2, data })) },
      ],
      sync: false,
    });
    const b = openBlock(w.dir);
    try {
      const got = b.seriesChunks(b.series[0]);
      assert.equal(got.length, 12);
      got.forEach((c, i) => assert.ok(Buffer.from(c.data).equals(Buffer.from(payloads[i])), `chunk ${i}`));
    } finally {
      b.close();
    }
  });
});
