/**
 * Seeded mutation fuzzing of the 3.x parsers: ≥ 10 000 mutated real inputs each (chunk payloads of
 * every encoding from 2.42, 3.5 and 3.16 blocks and head chunks; 3.x zstd WAL/WBL segments and
 * 2.42 snappy ones; series_state.json). No exception other than the documented FormatError /
 * UnknownEncodingError, no hang (a step bound per decode), no allocation driven by a length field
 * (bounded sizes are asserted on the outputs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { UnknownEncodingError, decodeChunk } from '../../../server/src/tsdb/chunkenc';
import { Cursor, FormatError } from '../../../server/src/tsdb/cursor';
import { createWalSegmentScanner } from '../../../server/src/tsdb/wal';
import { parseSeriesState } from '../../../server/src/tsdb/seriesState';
import { isUlid } from '../../../server/src/tsdb/blockDir';
import { PROMETHEUS3_VERSIONS, dataDir, dataDir3 } from '../../helpers/fixtures';
import { bytesOf, rng } from './helpers';

const CASES = 10_000;

function mutate(bytes: Uint8Array, r: () => number): Uint8Array {
  const m = bytes.slice();
  const kind = r();
  if (kind < 0.15 && m.length > 1) return m.subarray(0, Math.floor(r() * m.length)); // cut
  const n = kind < 0.6 ? 1 : 1 + Math.floor(r() * 8);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(r() * m.length);
    if (r() < 0.5) m[at] ^= 1 << Math.floor(r() * 8);
    else m[at] = Math.floor(r() * 256);
  }
  return m;
}

/** Chunk payloads (encoding, data) of the blocks of a data dir, a sample of each block's chunks. */
function blockChunks(root: string, out: { encoding: number; data: Uint8Array }[]): void {
  for (const b of readdirSync(root).filter(isUlid)) {
    const dir = path.join(root, b, 'chunks');
    for (const seg of readdirSync(dir)) {
      const bytes = bytesOf(path.join(dir, seg));
      const c = new Cursor(bytes, 0, 8);
      for (let i = 0; c.remaining > 5 && i < 400; i++) {
        const len = c.uvarint();
        const encoding = c.u8();
        const data = c.bytes(len);
        c.skip(4);
        if (i % 4 === 0) out.push({ encoding, data });
      }
    }
  }
}

test(`chunk payloads of encodings 1–6: ${CASES} mutations decode or throw FormatError/UnknownEncodingError`, () => {
  const inputs: { encoding: number; data: Uint8Array }[] = [];
  blockChunks(dataDir('healthy'), inputs);
  for (const v of PROMETHEUS3_VERSIONS) blockChunks(dataDir3(v, 'native'), inputs);
  const encodings = new Set(inputs.map((x) => x.encoding));
  for (const e of [1, 2, 3, 4, 5, 6]) assert.ok(encodings.has(e), `encoding ${e} among the inputs`);
  const r = rng(311);
  let decoded = 0;
  for (let i = 0; i < CASES; i++) {
    const x = inputs[i % inputs.length];
    // A fifth of the cases also mutate the encoding byte.
    const encoding = r() < 0.2 ? Math.floor(r() * 256) : x.encoding;
    const data = mutate(x.data, r);
    let samples = 0;
    try {
      const f = decodeChunk(encoding, data, () => {
        samples++;
      });
      assert.ok(f.count <= 0xffff && samples === f.count);
      decoded++;
    } catch (e) {
      if (!(e instanceof FormatError) && !(e instanceof UnknownEncodingError)) throw e;
    }
  }
  assert.ok(decoded > CASES / 10, `${decoded} mutated chunks still decoded`);
});

function walSegments(root: string, out: Uint8Array[]): void {
  for (const d of ['wal', 'wbl']) {
    const dir = path.join(root, d);
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      const p = path.join(dir, n);
      if (statSync(p).isDirectory()) for (const c of readdirSync(p)) out.push(bytesOf(path.join(p, c)));
      else if (/^\d{8}$/.test(n) && statSync(p).size > 0) out.push(bytesOf(p));
    }
  }
}

test(`WAL/WBL segments (2.42 snappy, 3.x zstd and V2 records): ${CASES} mutations scan without an exception`, () => {
  const inputs: Uint8Array[] = [];
  walSegments(dataDir('healthy'), inputs);
  for (const v of PROMETHEUS3_VERSIONS) walSegments(dataDir3(v, 'native'), inputs);
  const r = rng(9311);
  let withProblems = 0;
  for (let i = 0; i < CASES; i++) {
    const src = inputs[i % inputs.length];
    // One mutated 32 KiB page of the segment keeps each case cheap.
    const page = Math.floor(r() * Math.ceil(src.length / 32768));
    const bytes = mutate(src.subarray(page * 32768, (page + 1) * 32768), r);
    const sc = createWalSegmentScanner({ onRecord: () => undefined });
    sc.push(bytes);
    const s = sc.end();
    assert.ok(s.sizeBytes === bytes.length && s.goodUntil <= bytes.length);
    if (s.problems.length) withProblems++;
  }
  assert.ok(withProblems > CASES / 10, `${withProblems} cases with problems`);
});

test(`series_state.json: ${CASES} mutations parse or give a problem`, () => {
  const src = bytesOf(path.join(dataDir3('3.16.0', 'native'), 'wal', 'series_state.json'));
  const r = rng(77);
  let ok = 0;
  for (let i = 0; i < CASES; i++) if (parseSeriesState(mutate(src, r)).ok) ok++;
  assert.ok(ok > 0 && ok < CASES);
});
