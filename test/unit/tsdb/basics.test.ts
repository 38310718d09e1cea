import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Cursor, FormatError } from '../../../server/src/tsdb/cursor';
import { crc32c, crc32cJs } from '../../../server/src/tsdb/crc32c';
import { parseMetaJson, serializeMetaJson } from '../../../server/src/tsdb/metaJson';
import { parseTombstones } from '../../../server/src/tsdb/tombstones';
import { blocks, bytesOf, rng, withByte } from './helpers';
import { dataDir, facts } from '../../helpers/fixtures';

const enc = (s: string) => new TextEncoder().encode(s);

test('crc32c check value, chaining and native/JS agreement', () => {
  assert.equal(crc32c(enc('123456789')), 0xe3069283);
  assert.equal(crc32cJs(enc('123456789')), 0xe3069283);
  assert.equal(crc32c(enc('56789'), crc32c(enc('1234'))), 0xe3069283);
  const r = rng(1);
  const big = new Uint8Array(5000).map(() => Math.floor(r() * 256));
  for (const n of [0, 1, 7, 8, 63, 159, 160, 161, 1000, 5000])
    assert.equal(crc32c(big.subarray(0, n)), crc32cJs(big.subarray(0, n)), `n=${n}`);
});

test('cursor reads BE integers, Go varints and strings, and throws FormatError with the offset on overrun', () => {
  const c = new Cursor(new Uint8Array([0x01, 0x02, 0xac, 0x02, 0x03, 0x02, 0x61, 0x62, 0xff]), 100);
  assert.equal(c.u16(), 0x0102);
  assert.equal(c.uvarint(), 300);
  assert.equal(c.varint(), -2);
  assert.equal(c.string(), 'ab');
  assert.equal(c.offset, 108);
  assert.throws(() => c.u16(), (e: unknown) => e instanceof FormatError && e.offset === 108);
  // 10-byte uvarint whose last byte is > 1 overflows, like Go's binary.Uvarint.
  const over = new Cursor(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]));
  assert.throws(() => over.uvarint(), /varint overflow/);
  const max = new Cursor(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
  assert.equal(max.uvarintBig(), 2n ** 64n - 1n);
  const neg = new Cursor(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  assert.equal(neg.i64(), -1);
  assert.equal(new Cursor(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])).uvarint(), 2 ** 35);
  // Strings: the short-ASCII fast path and UTF-8 both decode right.
  for (const text of ['', 'up', 'café', 'x'.repeat(31) + 'é', 'y'.repeat(40), '日本']) {
    const b = enc(text);
    assert.equal(new Cursor(new Uint8Array([b.length, ...b])).string(), text);
  }
});

test('every healthy meta.json parses, matches facts.json and reserialises byte for byte', () => {
  const f = facts('healthy');
  for (const b of blocks('healthy')) {
    const bytes = bytesOf(path.join(b.dir, 'meta.json'));
    const r = parseMetaJson(bytes);
    assert.ok(r.ok, b.ulid);
    const fb = f.blocks.find((x) => x.ulid === b.ulid)!;
    assert.equal(r.meta.minTime, fb.minTime);
    assert.equal(r.meta.maxTime, fb.maxTime);
    assert.equal(r.meta.compaction.level, fb.level);
    assert.equal(r.meta.stats?.numChunks, fb.numChunks);
    assert.equal(r.meta.stats?.numSamples, fb.numSamples);
    assert.equal(Buffer.from(serializeMetaJson(r.meta)).toString(), Buffer.from(bytes).toString());
    const text = Buffer.from(bytes).toString();
    const m = r.ranges.minTime!;
    assert.equal(text.slice(m.valueStart, m.valueEnd), String(fb.minTime));
    assert.equal(text.slice(m.start, m.start + 9), '"minTime"');
  }
});

test('meta.json errors carry the text Prometheus logs', () => {
  const f = facts('meta-bad');
  const inv = (f.damage as { invalid: { file: string } }).invalid;
  const r = parseMetaJson(bytesOf(path.join(dataDir('meta-bad'), inv.file)));
  assert.deepEqual(r, { ok: false, error: 'unexpected end of JSON input' });
  const err = (s: string) => {
    const p = parseMetaJson(enc(s));
    return p.ok ? 'ok' : p.error;
  };
  assert.equal(err(''), 'unexpected end of JSON input');
  assert.equal(err('{"a":}'), "invalid character '}' looking for beginning of value");
  assert.equal(err('{"a" 1}'), "invalid character '1' after object key");
  assert.equal(err('{"a":1 "b"}'), `invalid character '"' after object key:value pair`);
  assert.equal(err('{}x'), "invalid character 'x' after top-level value");
  assert.equal(err('{}'), 'unexpected meta file version 0');
  assert.equal(err('{"version":3,"ulid":"01M83YYE6WQYE4QMR4K1K5QKNM"}'), 'unexpected meta file version 3');
  assert.equal(err('{"version":1,"minTime":"x"}'), 'json: cannot unmarshal string into Go struct field BlockMeta.minTime of type int64');
  assert.equal(err('{"version":1,"ulid":"abc"}'), 'ulid: bad data size when unmarshaling');
  assert.equal(err('{"version":2,"compaction":{"level":1}}'), 'ok');
});

test('tombstones: the empty file of every healthy block, entries, and each damage with its message and offset', () => {
  for (const b of blocks('healthy'))
    assert.deepEqual(parseTombstones(bytesOf(path.join(b.dir, 'tombstones'))), { intervals: [], problems: [] });
  // magic, version, {ref 5, mint -1, maxt 1000}, CRC over the entries.
  const entries = new Uint8Array([5, 1, 0xd0, 0x0f]);
  const file = new Uint8Array([0x01, 0x30, 0xba, 0x30, 1, ...entries, 0, 0, 0, 0]);
  new DataView(file.buffer).setUint32(file.length - 4, crc32c(entries));
  assert.deepEqual(parseTombstones(file), { intervals: [{ seriesId: 5, minTime: -1, maxTime: 1000 }], problems: [] });
  assert.deepEqual(parseTombstones(withByte(file, 1)).problems, [{ message: 'invalid magic number 1cfba30', offset: 0 }]);
  assert.deepEqual(parseTombstones(withByte(file, 6)).problems, [{ message: 'checksum did not match', offset: 9 }]);
  assert.deepEqual(parseTombstones(withByte(file, 10)).problems, [{ message: 'checksum did not match', offset: 9 }]);
  assert.deepEqual(parseTombstones(withByte(file, 4, 3)).problems, [{ message: 'invalid tombstone format 2', offset: 4 }]);
  // Short files, as promtool 2.42 reports them (verified; 8 bytes even crash it).
  assert.deepEqual(parseTombstones(file.subarray(0, 3)).problems, [{ message: 'tombstones header: invalid size', offset: 0 }]);
  assert.deepEqual(parseTombstones(file.subarray(0, 7)).problems, [{ message: 'invalid magic number 0', offset: 0 }]);
  assert.deepEqual(parseTombstones(file.subarray(0, 8)).problems, [
    { message: 'panic: runtime error: slice bounds out of range [1:0]', offset: 4 },
  ]);
  // A truncated entry with a matching CRC still fails to decode.
  const cut = new Uint8Array([0x01, 0x30, 0xba, 0x30, 1, 5, 1, 0x80, 0, 0, 0, 0]);
  new DataView(cut.buffer).setUint32(8, crc32c(cut.subarray(5, 8)));
  assert.deepEqual(parseTombstones(cut).problems, [{ message: 'invalid size', offset: 5 }]);
});
