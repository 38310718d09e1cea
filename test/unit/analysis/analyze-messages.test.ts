/** Messages of the analysis engine on small corruptions of the healthy fixture (analysed in-process). */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { analyzeSource } from '../../../server/src/analysis/analyze';
import { createWalSegmentScanner } from '../../../server/src/tsdb/wal';
import type { AnalysisResult, TsdbDiagnostic } from '../../../server/src/protocol';
import { PROMETHEUS3_VERSIONS, dataDir, dataDir3, facts } from '../../helpers/fixtures';
import { flipByte } from '../../helpers/damage';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-messages-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function analyzeChanged(name: string, mutate: (dir: string) => void, verify: 'quick' | 'full' = 'quick'): Promise<AnalysisResult> {
  const dir = path.join(tmp, name);
  cpSync(dataDir('healthy'), dir, { recursive: true });
  mutate(dir);
  return analyzeSource(dir, { verify });
}

function find(r: AnalysisResult, code: string, p: string): TsdbDiagnostic {
  const d = r.diagnostics.find((x) => x.code === code && x.path === p);
  assert.ok(d, `no ${code} on ${p}; got ${JSON.stringify(r.diagnostics.map((x) => [x.severity, x.code, x.path]))}`);
  return d;
}

test('WAL corruption: the Prometheus message names the reader offset, not the last good record', async () => {
  let file = '';
  const r = await analyzeChanged('walrec', (d) => {
    file = path.join(d, 'wal/00000003');
    flipByte(file, 7 + 20);
  });
  const sc = createWalSegmentScanner();
  sc.push(readFileSync(file));
  const prob = sc.end().problems[0];
  assert.ok(prob.readerOffset !== undefined && prob.readerOffset > 0);
  const e = find(r, 'wal-record-corrupt', 'wal/00000003');
  assert.match(e.prometheusMessage!, new RegExp(`corruption in segment <data>/wal/00000003 at ${prob.readerOffset}: `));
});

test('zstd WAL and WBL records of real Prometheus 3.16 and 3.5 are read: no WAL diagnostic on the healthy native data', async () => {
  for (const v of PROMETHEUS3_VERSIONS) {
    const r = await analyzeSource(dataDir3(v, 'native'), { verify: 'full' });
    const wal = r.diagnostics.filter((x) => x.code.startsWith('wal-'));
    assert.deepEqual(wal, [], v);
  }
});

test('snappy records flagged as zstd are damage (Prometheus cannot decode them either), not an unknown feature', async () => {
  const r = await analyzeChanged('walzstd', (d) => {
    const f = path.join(d, 'wal/00000003');
    // Set the zstd flag on every fragment (the CRC covers data only, so it stays valid).
    const b = readFileSync(f);
    for (let off = 0; off + 7 <= b.length; ) {
      const pageEnd = (Math.floor(off / 32768) + 1) * 32768;
      if (pageEnd - off < 7 || b[off] === 0) {
        off = pageEnd;
        continue;
      }
      b[off] |= 0x10;
      off += 7 + b.readUInt16BE(off + 1);
    }
    writeFileSync(f, b);
  });
  assert.equal(r.diagnostics.filter((x) => x.code === 'wal-record-unsupported').length, 0, JSON.stringify(r.diagnostics));
  const z = find(r, 'wal-record-corrupt', 'wal/00000003');
  assert.equal(z.severity, 'error');
});

test('head chunk messages name the file number; record CRCs are checked even by a quick analysis', async () => {
  const cut = await analyzeChanged('headcut', (d) => truncateSync(path.join(d, 'chunks_head/000005'), 8 + 40));
  const e = find(cut, 'head-chunk-corrupt', 'chunks_head/000005');
  assert.match(e.message, /file:5\b/);
  const flipped = await analyzeChanged('headcrc', (d) => flipByte(path.join(d, 'chunks_head/000005'), 8 + 30), 'quick');
  assert.equal(find(flipped, 'head-chunk-corrupt', 'chunks_head/000005').severity, 'warning');
});

test('block chunk segment messages name the segment by its position', async () => {
  const ulid = facts('healthy').blocks[0].dir;
  const r = await analyzeChanged('seg2', (d) => {
    const f = path.join(d, ulid, 'chunks/000002');
    copyFileSync(path.join(d, ulid, 'chunks/000001'), f);
    truncateSync(f, 0);
  });
  const e = r.diagnostics.find((x) => /invalid segment header/.test(`${x.message} ${x.prometheusMessage ?? ''}`));
  assert.ok(e, JSON.stringify(r.diagnostics));
  assert.match(`${e.message} ${e.prometheusMessage ?? ''}`, /invalid segment header in segment 1\b/);
});

const UTC = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3})?Z`;

test('diagnostics that give epoch milliseconds also give the UTC time; Prometheus texts stay as printed', async () => {
  const overlap = await analyzeSource(dataDir('overlap'), { verify: 'quick' });
  const o = overlap.diagnostics.find((d) => d.code === 'block-overlap');
  assert.ok(o, JSON.stringify(overlap.diagnostics.map((d) => d.code)));
  const m = new RegExp(String.raw`overlap on \[(\d+), (\d+)\) = (${UTC}) \.\. (${UTC})`).exec(o.message);
  assert.ok(m, o.message);
  assert.equal(m[3], new Date(Number(m[1])).toISOString().replace('.000Z', 'Z'));
  assert.equal(m[4], new Date(Number(m[2])).toISOString().replace('.000Z', 'Z'));
  assert.match(o.message, /block time ranges overlap: \[mint: \d+, maxt: \d+, range: /);

  const [first, second] = facts('healthy').blocks.map((b) => b.dir);
  const r = await analyzeChanged('metatimes', (d) => {
    const edit = (dir: string, change: (meta: { minTime: number; maxTime: number }) => void) => {
      const f = path.join(d, dir, 'meta.json');
      const meta = JSON.parse(readFileSync(f, 'utf8'));
      change(meta);
      writeFileSync(f, JSON.stringify(meta, null, '\t'));
    };
    edit(first, (meta) => {
      meta.minTime += 3_600_000;
    });
    edit(second, (meta) => {
      meta.maxTime = meta.minTime;
    });
  });
  const inconsistent = find(r, 'meta-inconsistent', `${first}/meta.json`);
  assert.match(inconsistent.message, new RegExp(String.raw`samples from \d+ \(${UTC}\), before meta.json minTime \d+ \(${UTC}\)`));
  const empty = r.diagnostics.find((d) => d.path === `${second}/meta.json` && /≥ maxTime/.test(d.message));
  assert.ok(empty, JSON.stringify(r.diagnostics));
  assert.match(empty.message, new RegExp(String.raw`minTime \d+ \(${UTC}\) ≥ maxTime \d+ \(${UTC}\)`));
});
