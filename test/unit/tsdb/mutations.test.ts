/**
 * Seeded random damage on real files: every parser must end in structured problems (or, for the
 * chunk payload decoders, a FormatError), never another exception.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createChunkSegmentScanner } from '../../../server/src/tsdb/chunks';
import { xorTimeRange, decodeXor } from '../../../server/src/tsdb/chunkenc';
import { FormatError, Cursor } from '../../../server/src/tsdb/cursor';
import { parseMetaJson } from '../../../server/src/tsdb/metaJson';
import { parseTombstones } from '../../../server/src/tsdb/tombstones';
import { blocks, bytesOf, rng } from './helpers';

function mutate(bytes: Uint8Array, r: () => number): Uint8Array {
  const kind = r();
  if (kind < 0.2) return bytes.subarray(0, Math.floor(r() * bytes.length)).slice();
  const m = bytes.slice();
  for (let k = 0, n = 1 + Math.floor(r() * 5); k < n; k++) m[Math.floor(r() * m.length)] = Math.floor(r() * 256);
  return m;
}

test('chunk segment scanner: 300 seeded mutations, quick and full, random push sizes, no exception', () => {
  const bytes = bytesOf(path.join(blocks('healthy')[1].dir, 'chunks/000001'));
  const r = rng(17);
  let found = 0;
  for (let i = 0; i < 300; i++) {
    const m = mutate(bytes, r);
    for (const verify of ['quick', 'full'] as const) {
      const s = createChunkSegmentScanner({ verify });
      for (let at = 0; at < m.length; ) {
        const n = 1 + Math.floor(r() * 20000);
        s.push(m.subarray(at, at + n));
        at += n;
      }
      const sum = s.end();
      assert.ok(sum.scannedUntil <= m.length, `mutation ${i}`);
      assert.equal(sum.chunkOffsets.length, sum.chunks);
      if (verify === 'full' && sum.problems.length) found++;
    }
  }
  assert.ok(found > 200, `only ${found} of 300 mutations detected`);
});

test('XOR decoding of damaged chunks throws only FormatError', () => {
  const bytes = bytesOf(path.join(blocks('healthy')[1].dir, 'chunks/000001'));
  const s = createChunkSegmentScanner({ verify: 'quick' });
  s.push(bytes);
  const offsets = s.end().chunkOffsets;
  const r = rng(5);
  for (let i = 0; i < 300; i++) {
    const c = new Cursor(bytes, 0, offsets[Math.floor(r() * offsets.length)]);
    const data = mutate(c.bytes(c.uvarint() + 1).subarray(1), r);
    for (const decode of [xorTimeRange, decodeXor]) {
      try {
        decode(data);
      } catch (e) {
        assert.ok(e instanceof FormatError, `mutation ${i}: ${String(e)}`);
      }
    }
  }
});

test('meta.json and tombstones: seeded mutations give results or errors, never exceptions', () => {
  const b = blocks('healthy')[0];
  const meta = bytesOf(path.join(b.dir, 'meta.json'));
  const r = rng(8);
  for (let i = 0; i < 300; i++) {
    const res = parseMetaJson(mutate(meta, r));
    assert.ok(res.ok || (typeof res.error === 'string' && res.error.length > 0));
  }
  const tomb = new Uint8Array([0x01, 0x30, 0xba, 0x30, 1, 5, 1, 0xd0, 0x0f, 0, 0, 0, 0]);
  for (let i = 0; i < 300; i++) {
    const res = parseTombstones(mutate(tomb, r));
    assert.ok(res.problems.length > 0 || res.intervals.length >= 0);
  }
});
