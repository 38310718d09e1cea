/**
 * WAL, WBL and checkpoint segments written by real Prometheus 3.16 (zstd, st-storage: SamplesV2 and
 * HistogramSamplesV2 records) and 3.5 (zstd, record types 1–10 with custom-bucket histograms) in
 * the `native` scenario, plus wal/series_state.json of 3.16's fast-startup.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { createWalSegmentScanner, WAL_PAGE_SIZE, type WalRecord, type WalSegmentSummary } from '../../../server/src/tsdb/wal';
import { parseSeriesState } from '../../../server/src/tsdb/seriesState';
import { crc32c } from '../../../server/src/tsdb/crc32c';
import { PROMETHEUS3_VERSIONS, dataDir3, type Prometheus3 } from '../../helpers/fixtures';
import { bytesOf, feed, pushPatterns } from './helpers';

const A = 1735862400000;
const STEP = 15000;
const HOUR = 3600000;

function scan(bytes: Uint8Array, records?: [WalRecord, number][], size = () => Number.MAX_SAFE_INTEGER): WalSegmentSummary {
  return feed(createWalSegmentScanner({ onRecord: records ? (r, o) => records.push([r, o]) : undefined }), bytes, size);
}

/** Every segment file of wal/ (with its checkpoint) or wbl/. */
function segments(v: Prometheus3, dir: 'wal' | 'wbl'): string[] {
  const root = path.join(dataDir3(v, 'native'), dir);
  const out: string[] = [];
  for (const n of readdirSync(root).sort()) {
    const p = path.join(root, n);
    if (statSync(p).isDirectory()) for (const c of readdirSync(p).sort()) out.push(path.join(p, c));
    else if (/^\d{8}$/.test(n)) out.push(p);
  }
  return out;
}

const V2: Record<Prometheus3, boolean> = { '3.16.0': true, '3.5.3': false };

for (const v of PROMETHEUS3_VERSIONS) {
  test(`${v} native wal/ and wbl/: zstd records decode, no problems, the record types of that version, pushed values`, () => {
    const types = new Set<number>();
    let zstd = 0;
    let histograms = 0;
    let nhcb = 0;
    for (const dir of ['wal', 'wbl'] as const) {
      for (const file of segments(v, dir)) {
        const records: [WalRecord, number][] = [];
        const s = scan(bytesOf(file), records);
        assert.deepEqual(s.problems, [], file);
        zstd += s.compression.zstd;
        assert.equal(s.compression.snappy, 0, file);
        for (const t of Object.keys(s.recordTypes)) types.add(Number(t));
        for (const [r] of records) {
          if (r.type === 'samples') {
            for (const x of r.samples) {
              assert.ok((x.t - A) % STEP === 0 || (x.t - A) % STEP === 7500, `${file} sample time ${x.t}`);
              if (r.recordType === 11) assert.equal(x.st, 0, 'remote write 1.0 carries no start timestamps');
            }
          } else if (r.type === 'histograms') {
            for (const x of r.samples) {
              histograms++;
              if (x.h.schema === -53) {
                nhcb++;
                assert.deepEqual(x.h.customValues, [0.1, 0.5, 1, 5]);
                const k = Math.floor((x.t - A) / STEP);
                assert.equal(x.h.count, 5 * k + 10);
                // Integer buckets are stored as deltas between neighbours: [k+1, 2k+1, k, 3, k+5].
                assert.deepEqual(x.h.positiveBuckets, [k + 1, k, -k - 1, 3 - k, k + 2]);
              }
            }
          }
        }
        if (dir === 'wbl') {
          // The OOO samples pushed last: [4h, 4h20m), 7.5 s off the grid.
          assert.ok(s.minTime! >= A + 4 * HOUR && s.maxTime! < A + 4 * HOUR + 20 * 60000, file);
        }
      }
    }
    assert.ok(zstd > 0);
    assert.ok(histograms > 0 && nhcb > 0);
    // 3.16 with st-storage writes SamplesV2 / HistogramSamplesV2 / FloatHistogramSamplesV2 (custom buckets in 12);
    // 3.5 writes types 2, 7, 8, 9 (custom buckets) — observed.
    if (V2[v]) {
      for (const t of [11, 12, 13]) assert.ok(types.has(t), `type ${t} in ${[...types]}`);
      for (const t of [2, 7, 8, 9, 10]) assert.ok(!types.has(t), `type ${t} in ${[...types]}`);
    } else {
      for (const t of [2, 7, 8, 9]) assert.ok(types.has(t), `type ${t} in ${[...types]}`);
      for (const t of [11, 12, 13]) assert.ok(!types.has(t), `type ${t} in ${[...types]}`);
    }
  });

  test(`${v} native zstd segments: identical summaries for any split of the bytes`, () => {
    const file = segments(v, 'wal').at(-1)!;
    const bytes = bytesOf(file);
    const whole = scan(bytes);
    for (const p of pushPatterns()) assert.deepEqual(scan(bytes, undefined, p.size), whole, p.name);
  });
}

test('3.16 wal/series_state.json (fast-startup) parses; damage is a problem, not an exception', () => {
  const bytes = bytesOf(path.join(dataDir3('3.16.0', 'native'), 'wal', 'series_state.json'));
  const r = parseSeriesState(bytes);
  assert.ok(r.ok);
  assert.deepEqual(r.state, { lastSeriesId: 11, lastWalSegment: 7, cleanShutdown: true });
  assert.equal(bytes.at(-1), 0x0a, "json.Encoder ends the value with a newline");
  for (let cut = 0; cut < bytes.length - 1; cut++) assert.equal(parseSeriesState(bytes.subarray(0, cut)).ok, false);
  assert.equal(parseSeriesState(new TextEncoder().encode('{"last_series_id":-1,"last_wal_segment":7,"clean_shutdown":true}')).ok, false);
});

/** One full-fragment page holding one record with the given compression flag. */
function onePage(rec: Uint8Array, flag: number): Uint8Array {
  const page = new Uint8Array(WAL_PAGE_SIZE);
  page[0] = 1 | flag;
  page[1] = rec.length >> 8;
  page[2] = rec.length & 0xff;
  const c = crc32c(rec);
  page.set([c >>> 24, (c >>> 16) & 0xff, (c >>> 8) & 0xff, c & 0xff], 3);
  page.set(rec, 7);
  return page;
}

test('an unknown record type is reported once with its number as unsupported, not as damage; records after it still count', () => {
  const unknown = onePage(new Uint8Array([42, 1, 2, 3]), 0);
  const s = scan(unknown);
  assert.deepEqual(s.problems, [{ message: 'unknown WAL record type 42', offset: 0, torn: false, unsupported: true, recordType: 42 }]);
  assert.equal(s.records, 1);
  assert.deepEqual(s.recordTypes, { 42: 1 });
});

test('zstd frames with a bad magic, an absurd declared size or damage give a problem, no exception, no big allocation', () => {
  const bad = scan(onePage(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), 0x10));
  assert.equal(bad.problems[0].message, 'zstd: invalid input: magic number mismatch');
  assert.ok(!bad.problems[0].unsupported);
  // Single segment, 8-byte content size of 2^40: refused before allocating.
  const huge = new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0]);
  assert.match(scan(onePage(huge, 0x10)).problems[0].message, /^zstd: frame content size 1099511627776 is implausible/);
  // The first zstd record of a real segment cut to half its frame (fragment length and CRC fixed
  // up); the records before it are small and stored uncompressed (type byte 0x01).
  const bytes = bytesOf(segments('3.16.0', 'wal').at(-1)!).slice();
  let p = 0;
  let before = 0;
  while (bytes[p] !== 0x11) {
    assert.equal(bytes[p], 0x01);
    p += 7 + ((bytes[p + 1] << 8) | bytes[p + 2]);
    before++;
  }
  const half = ((bytes[p + 1] << 8) | bytes[p + 2]) >> 1;
  bytes[p + 1] = half >> 8;
  bytes[p + 2] = half & 0xff;
  const c = crc32c(bytes.subarray(p + 7, p + 7 + half));
  bytes.set([c >>> 24, (c >>> 16) & 0xff, (c >>> 8) & 0xff, c & 0xff], p + 3);
  const s = scan(bytes);
  assert.match(s.problems[0].message, /^zstd: /);
  assert.equal(s.problems[0].offset, p);
  assert.ok(!s.problems[0].unsupported);
  assert.equal(s.records, before);
});
