/**
 * Targeted corruptions of real Prometheus files (a copy of the healthy data dir): each must be
 * detected with the right code, severity and path.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AnalysisResult, TsdbDiagnostic } from '../../server/src/protocol';
import { dataDir, facts } from '../helpers/fixtures';
import { flipByte } from '../helpers/damage';
import { analyzeJson, hasStackTrace } from './cliHelpers';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-corrupt-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const F = facts('healthy');
const [L3, L2, L1b, L1h] = F.blocks.map((b) => b.dir);

function copyHealthy(name: string): string {
  const dir = path.join(tmp, name);
  cpSync(dataDir('healthy'), dir, { recursive: true });
  return dir;
}

function toc(indexFile: string): { symbols: number; series: number; postingsTable: number } {
  const b = readFileSync(indexFile);
  const at = (i: number) => Number(b.readBigUInt64BE(b.length - 52 + i * 8));
  return { symbols: at(0), series: at(1), postingsTable: at(5) };
}

async function analyzeCorrupted(
  name: string,
  mutate: (dir: string) => void,
  verify: 'quick' | 'full' = 'full',
): Promise<{ code: number; result: AnalysisResult }> {
  const dir = copyHealthy(name);
  mutate(dir);
  const { run, result } = await analyzeJson(dir, ['--verify', verify]);
  assert.equal(hasStackTrace(run.stderr), false, run.stderr);
  return { code: run.code, result };
}

function find(r: AnalysisResult, code: string, p: string): TsdbDiagnostic {
  const d = r.diagnostics.find((x) => x.code === code && x.path === p);
  assert.ok(d, `no ${code} on ${p}; got ${JSON.stringify(r.diagnostics.map((x) => [x.severity, x.code, x.path]))}`);
  return d;
}

test('index: a flipped TOC byte is fatal at startup (corrupted block)', async () => {
  const { code, result } = await analyzeCorrupted('toc', (d) => {
    const f = path.join(d, L1b, 'index');
    flipByte(f, statSync(f).size - 20);
  });
  assert.equal(code, 1);
  const e = find(result, 'index-corrupt', `${L1b}/index`);
  assert.equal(e.severity, 'error');
  assert.match(e.prometheusMessage!, new RegExp(`^opening storage failed: reloadBlocks: corrupted block ${L1b}: .*TOC`));
});

test('index: a flipped symbol table byte is fatal at startup', async () => {
  const { code, result } = await analyzeCorrupted('symbols', (d) => {
    const f = path.join(d, L1h, 'index');
    flipByte(f, toc(f).symbols + 12);
  });
  assert.equal(code, 1);
  const e = find(result, 'index-corrupt', `${L1h}/index`);
  assert.equal(e.severity, 'error');
  assert.match(e.prometheusMessage!, new RegExp(`corrupted block ${L1h}`));
});

test('index: a flipped series byte is found by --verify full (series CRC)', async () => {
  const { code, result } = await analyzeCorrupted('series', (d) => {
    const f = path.join(d, L2, 'index');
    const t = toc(f);
    flipByte(f, Math.ceil(t.series / 16) * 16 + 3);
  });
  assert.equal(code, 1);
  assert.equal(find(result, 'index-corrupt', `${L2}/index`).severity, 'error');
});

test('chunks: a flipped data byte is a chunk-crc-mismatch at the chunk offset (full)', async () => {
  const { code, result } = await analyzeCorrupted('chunk', (d) => flipByte(path.join(d, L1h, 'chunks/000001'), 8 + 30));
  assert.equal(code, 1);
  const e = find(result, 'chunk-crc-mismatch', `${L1h}/chunks/000001`);
  assert.equal(e.offset, 8);
  assert.match(e.message, /series \w+\{/);
});

test('chunks: a cut chunk file is reported (framing) and so are the index refs past its end', async () => {
  const { code, result } = await analyzeCorrupted('chunkcut', (d) => {
    const f = path.join(d, L3, 'chunks/000001');
    truncateSync(f, Math.floor(statSync(f).size / 2) + 5);
  });
  assert.equal(code, 1);
  find(result, 'chunk-corrupt', `${L3}/chunks/000001`);
  assert.equal(find(result, 'chunk-ref-out-of-range', `${L3}/index`).severity, 'error');
});

test('head chunks: a flipped record byte is head-chunk-corrupt (warning: the WAL still holds the samples)', async () => {
  const { code, result } = await analyzeCorrupted('headrec', (d) => flipByte(path.join(d, 'chunks_head/000005'), 8 + 30));
  const e = find(result, 'head-chunk-corrupt', 'chunks_head/000005');
  assert.equal(e.severity, 'warning');
  assert.match(e.prometheusMessage!, /Loading on-disk chunks failed/);
  assert.equal(code, 0);
});

test('head chunks: a numbering gap made by renaming is fatal', async () => {
  const { code, result } = await analyzeCorrupted('headren', (d) =>
    renameSync(path.join(d, 'chunks_head/000006'), path.join(d, 'chunks_head/000008')),
  );
  assert.equal(code, 1);
  const e = find(result, 'head-chunks-out-of-sequence', 'chunks_head/000008');
  assert.equal(
    e.prometheusMessage,
    'opening storage failed: found unsequential head chunk files ' +
      '<data>/chunks_head/000005 (index: 5) and <data>/chunks_head/000008 (index: 8)',
  );
});

test('WAL: a flipped fragment byte in a middle segment is wal-record-corrupt naming what the repair deletes', async () => {
  const { code, result } = await analyzeCorrupted('walrec', (d) => flipByte(path.join(d, 'wal/00000003'), 7 + 20));
  assert.equal(code, 1);
  const e = find(result, 'wal-record-corrupt', 'wal/00000003');
  assert.equal(e.severity, 'error');
  assert.match(e.message, /00000005, 00000006/);
  assert.match(e.prometheusMessage!, /Encountered WAL read error, attempting repair/);
});

test('WAL: renaming a segment leaves a gap: wal-segments-not-sequential', async () => {
  const { code, result } = await analyzeCorrupted('walren', (d) => renameSync(path.join(d, 'wal/00000006'), path.join(d, 'wal/00000009')));
  assert.equal(code, 1);
  find(result, 'wal-segments-not-sequential', 'wal/00000009');
});

test('WAL: the segment after the checkpoint missing is fatal with the exact Prometheus text', async () => {
  const { code, result } = await analyzeCorrupted('walcp', (d) => rmSync(path.join(d, 'wal/00000002')));
  assert.equal(code, 1);
  const e = find(result, 'wal-checkpoint-stale', 'wal/checkpoint.00000001');
  assert.equal(
    e.prometheusMessage,
    'opening storage failed: repair corrupted WAL: cannot handle error: open ' +
      'WAL segment: 2: open <data>/wal/00000002: no such file or directory',
  );
});

test('WAL: the last segment cut inside a record is a torn tail, not an error', async () => {
  const { code, result } = await analyzeCorrupted('waltorn', (d) => truncateSync(path.join(d, 'wal/00000006'), 1000));
  assert.equal(code, 0, JSON.stringify(result.diagnostics.map((x) => [x.severity, x.code, x.path])));
  assert.equal(find(result, 'wal-torn-tail', 'wal/00000006').severity, 'warning');
});

test('tombstones: a flipped byte marks the block corrupted', async () => {
  const { code, result } = await analyzeCorrupted('tomb', (d) => flipByte(path.join(d, L1h, 'tombstones'), 0));
  assert.equal(code, 1);
  const e = find(result, 'tombstones-corrupt', `${L1h}/tombstones`);
  assert.equal(e.severity, 'error');
  assert.match(e.prometheusMessage!, new RegExp(`corrupted block ${L1h}`));
});

test('meta.json: ULID differing from the directory, stats differing from the index, deletable', async () => {
  const other = '01M83YYJ1EY5E9M2P5MWQKA0D9';
  const { result } = await analyzeCorrupted(
    'meta',
    (d) => {
      renameSync(path.join(d, L1h), path.join(d, other));
      const m2 = path.join(d, L2, 'meta.json');
      const meta = JSON.parse(readFileSync(m2, 'utf8'));
      meta.stats.numSeries = 49;
      writeFileSync(m2, JSON.stringify(meta, null, '\t'));
      const m1 = path.join(d, L1b, 'meta.json');
      const meta1 = JSON.parse(readFileSync(m1, 'utf8'));
      meta1.compaction.deletable = true;
      writeFileSync(m1, JSON.stringify(meta1, null, '\t'));
    },
    'quick',
  );
  assert.equal(find(result, 'block-ulid-mismatch', `${other}/meta.json`).severity, 'warning');
  assert.equal(find(result, 'meta-inconsistent', `${L2}/meta.json`).severity, 'warning');
  assert.equal(find(result, 'block-deletable', `${L1b}/meta.json`).severity, 'information');
});

test('a block without index is a corrupted block; lock and tmp leftovers are information', async () => {
  const { code, result } = await analyzeCorrupted('noindex', (d) => {
    rmSync(path.join(d, L1b, 'index'));
    writeFileSync(path.join(d, 'lock'), '');
    mkdirSync(path.join(d, `${L1h}.tmp-for-deletion`));
    writeFileSync(path.join(d, `${L1h}.tmp-for-deletion`, 'meta.json'), '{}');
  });
  assert.equal(code, 1);
  assert.equal(find(result, 'index-corrupt', `${L1b}/`).severity, 'error');
  assert.equal(find(result, 'lock-file-present', 'lock').severity, 'information');
  assert.equal(find(result, 'leftover-tmp', `${L1h}.tmp-for-deletion`).severity, 'information');
});
