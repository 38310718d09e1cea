/**
 * Transcoding for an older target (XOR2 → XOR) on blocks written by real Prometheus 3.16 (the
 * native scenario, `st-storage`): the converted blocks hold no XOR2 chunk, and real Prometheus
 * 3.5 (which cannot read XOR2, 3.11+) serves exactly the float samples 3.16 serves from the
 * originals, value for value. Histogram chunks with start timestamps (5, 6) are reported as not
 * converted. WAL segments written with zstd (2.46+) are written again with snappy: 2.42 then
 * replays the same float samples 3.5 replays from the originals.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dataDir3, facts3, prometheus3Bin } from '../helpers/fixtures';
import { startPrometheus } from '../helpers/prometheus';
import { openBlock } from '../../server/src/block/readBlock';
import { transcodeBlock, type TranscodeResult } from '../../server/src/block/transcodeBlock';
import { transcodeWalSegment } from '../../server/src/block/transcodeWal';
import { createWalSegmentScanner } from '../../server/src/tsdb/wal';

const A = 1735862400000;
const H = 3600_000;
let work: string;

before(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-transcode-'));
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Float samples by series over the native scenario's range, for the metric names given (float series). */
async function floats(data: string, prometheus: string, names: string[]): Promise<Map<string, [number, string][]>> {
  const prom = await startPrometheus(data, prometheus);
  try {
    const re = names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
    const q = encodeURIComponent(`{__name__=~${JSON.stringify(re)}}[${140 * 3600 + 1}s]`);
    const res = await fetch(`http://127.0.0.1:${prom.port}/api/v1/query?query=${q}&time=${(A + 40 * H) / 1000}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data?: { result: { metric: Record<string, string>; values?: [number, string][] }[] };
    };
    assert.equal(body.status, 'success', `query failed: ${body.error}\n${prom.log()}`);
    const out = new Map<string, [number, string][]>();
    for (const r of body.data!.result) if (r.values) out.set(JSON.stringify(Object.entries(r.metric).sort()), r.values);
    return out;
  } finally {
    await prom.stop();
  }
}

describe('transcodeBlock (XOR2 → XOR)', () => {
  test('3.16 native blocks: no XOR2 left, 3.5 serves the same float samples 3.16 does', async () => {
    const src = dataDir3('3.16.0', 'native');
    const blocks = facts3('3.16.0', 'native').blocks.map((b) => b.dir);
    const floatsOnly = path.join(work, 'floats-3.16');
    const converted = path.join(work, 'converted');
    mkdirSync(floatsOnly);
    mkdirSync(converted);
    const results: TranscodeResult[] = [];
    // Metric names of the series whose chunks are all floats (XOR, XOR2): 3.5 reads no 5/6 chunk.
    const floatNames = new Set<string>();
    const histNames = new Set<string>();
    for (const dir of blocks) {
      cpSync(path.join(src, dir), path.join(floatsOnly, dir), { recursive: true });
      const b = openBlock(path.join(src, dir));
      try {
        for (const s of b.series) {
          const name = s.labels.find(([n]) => n === '__name__')![1];
          const encs = s.chunks.map((c) => b.chunk(c).encoding);
          (encs.every((e) => e === 1 || e === 4) ? floatNames : histNames).add(name);
        }
        results.push(transcodeBlock(b, { parentDir: converted, sync: false }));
      } finally {
        b.close();
      }
    }
    assert.ok(results.reduce((n, r) => n + r.xor2Converted, 0) > 0, 'the fixture has XOR2 chunks');
    for (const dir of blocks) {
      const b = openBlock(path.join(converted, dir));
      try {
        for (const s of b.series) for (const c of s.chunks) assert.notEqual(b.chunk(c).encoding, 4);
      } finally {
        b.close();
      }
    }
    // Encodings 5 and 6 are reported, not dropped.
    assert.ok(results.some((r) => r.notConverted.some((n) => n.encoding === 5 && n.chunks > 0)));
    const names = [...floatNames].filter((n) => !histNames.has(n));
    assert.ok(names.length > 0);
    const want = await floats(floatsOnly, path.join(prometheus3Bin('3.16.0'), 'prometheus'), names);
    const got = await floats(converted, path.join(prometheus3Bin('3.5.3'), 'prometheus'), names);
    // Without the conversion 3.5 cannot answer the same query (XOR2 is 3.11+).
    await assert.rejects(floats(floatsOnly, path.join(prometheus3Bin('3.5.3'), 'prometheus'), names), /invalid chunk encoding/);
    assert.ok(want.size > 0);
    assert.deepEqual(got, want);
  });
});

/** Float series names of a WAL-only data dir (from its series records), histograms left out. */
function walFloatNames(walDir: string): string[] {
  const names = new Map<number, string>();
  const hist = new Set<number>();
  const segs = [
    ...readdirSync(walDir)
      .filter((n) => n.startsWith('checkpoint.'))
      .flatMap((c) => readdirSync(path.join(walDir, c)).map((s) => path.join(walDir, c, s))),
    ...readdirSync(walDir)
      .filter((n) => /^\d+$/.test(n))
      .map((s) => path.join(walDir, s)),
  ];
  for (const f of segs) {
    const sc = createWalSegmentScanner({
      onRecord: (r) => {
        if (r.type === 'series') for (const s of r.series) names.set(s.ref, s.labels.find(([n]) => n === '__name__')![1]);
        if (r.type === 'histograms') for (const s of r.samples) hist.add(s.ref);
      },
    });
    sc.push(readFileSync(f));
    sc.end();
  }
  const histNames = new Set([...hist].map((r) => names.get(r)));
  return [...new Set(names.values())].filter((n) => !histNames.has(n));
}

describe('transcodeWalSegment (zstd → snappy)', () => {
  test('3.5 native WAL (zstd): converted, 2.42 replays the same float samples 3.5 does', async () => {
    const src = path.join(dataDir3('3.5.3', 'native'), 'wal');
    const original = path.join(work, 'wal-original');
    const converted = path.join(work, 'wal-converted');
    cpSync(src, path.join(original, 'wal'), { recursive: true });
    cpSync(src, path.join(converted, 'wal'), { recursive: true });
    let zstd = 0;
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(path.join(dir, e.name)) : /^\d+$/.test(e.name) ? [path.join(dir, e.name)] : [],
      );
    for (const f of walk(path.join(converted, 'wal'))) {
      const before = readFileSync(f);
      const r = transcodeWalSegment(before, f);
      zstd += r.zstdRecords;
      writeFileSync(f, r.bytes);
      // The same records, in the same order, all snappy or uncompressed now.
      const rec = (b: Uint8Array) => {
        const out: string[] = [];
        const sc = createWalSegmentScanner({ onRawRecord: (x) => out.push(Buffer.from(x).toString('base64')) });
        sc.push(b);
        return { out, summary: sc.end() };
      };
      const a = rec(before);
      const b = rec(r.bytes);
      assert.deepEqual(b.out, a.out);
      assert.equal(b.summary.compression.zstd, 0);
      assert.deepEqual(b.summary.problems.filter((p) => !p.unsupported), []);
    }
    assert.ok(zstd > 0, 'the fixture WAL is zstd-compressed');
    const names = walFloatNames(path.join(original, 'wal'));
    assert.ok(names.length > 0);
    const want = await floats(original, path.join(prometheus3Bin('3.5.3'), 'prometheus'), names);
    const got = await floats(converted, 'prometheus', names);
    assert.ok([...want.values()].reduce((n, v) => n + v.length, 0) > 0);
    assert.deepEqual(got, want);
    // 2.42 on the zstd original: it cannot read the records (zstd is 2.46+), so it serves less.
    const zstdIn242 = path.join(work, 'wal-original-2.42');
    cpSync(original, zstdIn242, { recursive: true });
    const unread = await floats(zstdIn242, 'prometheus', names);
    assert.ok([...unread.values()].reduce((n, v) => n + v.length, 0) < [...want.values()].reduce((n, v) => n + v.length, 0));
  });
});
