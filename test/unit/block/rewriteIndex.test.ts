/**
 * Index rewrite (repair) on real 2.42 indexes: keeping every chunk gives Prometheus's own bytes;
 * a damaged TOC (its CRC or an offset) is read around; refs not kept, and a series left without
 * chunks, are left out, and the result reads clean with the project's reader.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { blocks, bufferSource } from '../tsdb/helpers';
import { rewriteIndex } from '../../../server/src/block/rewriteIndex';
import { readIndex, type IndexSeries } from '../../../server/src/tsdb/index';

const indexes = () => blocks('healthy').map((b) => readFileSync(path.join(b.dir, 'index')));

function seriesOf(bytes: Uint8Array): IndexSeries[] {
  const out: IndexSeries[] = [];
  const summary = readIndex(bufferSource(bytes), { verify: 'full', onSeries: (s) => out.push(s) });
  assert.deepEqual(summary.problems, []);
  return out;
}

describe('rewriteIndex', () => {
  test('keeping every chunk writes Prometheus 2.42 index bytes exactly', () => {
    for (const bytes of indexes()) {
      const r = rewriteIndex(bufferSource(bytes), () => true)!;
      assert.ok(Buffer.from(r.bytes).equals(bytes));
      assert.equal(r.droppedChunks, 0);
      assert.deepEqual([...r.ids].filter(([a, b]) => a !== b), []);
    }
  });

  test('a TOC with a bad CRC or a bad offset is read around: the same bytes come out', () => {
    const bytes = indexes()[2];
    for (const at of [bytes.length - 1, bytes.length - 30, bytes.length - 50]) {
      const damaged = Uint8Array.from(bytes);
      damaged[at] ^= 0xff;
      const r = rewriteIndex(bufferSource(damaged), () => true)!;
      assert.ok(Buffer.from(r.bytes).equals(bytes), `damage at ${bytes.length - at} from the end`);
    }
  });

  test('refs not kept are left out, a series without chunks goes, series IDs are mapped', () => {
    const bytes = indexes()[2];
    const before = seriesOf(bytes);
    const victim = before[10];
    const dropped = new Set(victim.chunks.map((c) => c.offset));
    const lastOfFirst = before[0].chunks[before[0].chunks.length - 1].offset;
    dropped.add(lastOfFirst);
    const r = rewriteIndex(bufferSource(bytes), (_seg, off) => !dropped.has(off), { weigh: () => ({ samples: 2, histogram: false }) })!;
    const after = seriesOf(r.bytes);
    assert.equal(after.length, before.length - 1);
    assert.equal(r.droppedSeries, 1);
    assert.equal(r.droppedChunks, victim.chunks.length + 1);
    assert.equal(r.samples, 2 * r.chunks);
    assert.equal(after[0].chunks.length, before[0].chunks.length - 1);
    assert.ok(!r.ids.has(victim.id));
    for (const s of after) {
      const old = before.find((x) => JSON.stringify(x.labels) === JSON.stringify(s.labels))!;
      assert.equal(r.ids.get(old.id), s.id);
    }
  });
});
