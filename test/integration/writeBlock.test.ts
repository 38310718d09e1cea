/**
 * Written and cut blocks against REAL Prometheus: promtool (2.42 and every 3.x from
 * ensure-prometheus.sh) lists and analyses every written block exactly as it does Prometheus's own,
 * and real Prometheus of each version started on a data dir of written blocks serves exactly the
 * samples written: all of the healthy blocks for copies, exactly the window's for a cut.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { blocks } from '../unit/tsdb/helpers';
import { isUlid } from '../../server/src/tsdb/blockDir';
import { ensureFixtures } from '../helpers/fixtures';
import { prometheusBuilds, servedRange, startPrometheus, type PrometheusBuild } from '../helpers/prometheus';
import { openBlock, type OpenedBlock } from '../../server/src/block/readBlock';
import { writeBlock, type WriteSeries } from '../../server/src/block/writeBlock';
import { cutBlock, type CutResult } from '../../server/src/block/cutBlock';

const A = 1735862400000;
const H = 3600_000;
const MIN = 60_000;
// 12 ms past the 15 s grid: scrape jitter is 0–10 ms, so no sample sits at from, to - 1 or beside them.
const FROM = A + 5 * H + 7 * MIN + 12;
const TO = A + 11 * H + MIN + 12;

let work: string;
let builds: PrometheusBuild[];
/** Data dirs: Prometheus's own blocks, our copies of them, Prometheus's level-3 block alone, our cut of it. */
const dirs = { original: '', copies: '', originalL3: '', cut: '', segmented: '', tombstoned: '' };
const copyOf = new Map<string, string>();
let cut: CutResult;
let tombstonedSeries: { labels: [string, string][]; from: number; to: number } | undefined;

function* seriesOf(b: OpenedBlock): Generator<WriteSeries> {
  for (const s of b.series) yield { labels: s.labels, chunks: b.seriesChunks(s) };
}

before(() => {
  ensureFixtures();
  builds = prometheusBuilds();
  work = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-write-int-'));
  for (const k of Object.keys(dirs) as (keyof typeof dirs)[]) mkdirSync((dirs[k] = path.join(work, k)));
  for (const fb of blocks('healthy')) {
    cpSync(fb.dir, path.join(dirs.original, fb.ulid), { recursive: true });
    const src = openBlock(fb.dir);
    try {
      // A new block of the same content: new ULID, level 1, stats computed by the writer.
      const w = writeBlock({
        parentDir: dirs.copies,
        minTime: src.meta.minTime,
        maxTime: src.meta.maxTime,
        symbols: src.symbols,
        series: seriesOf(src),
      });
      copyOf.set(fb.ulid, w.ulid);
      if (fb.meta.compaction.level === 1 && !tombstonedSeries) {
        // The same block with a tombstone over half an hour of one series.
        const victim = src.series[7];
        tombstonedSeries = { labels: victim.labels, from: src.meta.minTime + 30 * MIN, to: src.meta.minTime + 60 * MIN };
        writeBlock({
          parentDir: dirs.tombstoned,
          minTime: src.meta.minTime,
          maxTime: src.meta.maxTime,
          symbols: src.symbols,
          series: seriesOf(src),
          tombstones: [{ seriesId: victim.id, minTime: tombstonedSeries.from, maxTime: tombstonedSeries.to }],
        });
      }
      if (fb.meta.compaction.level === 3) {
        // 64 KiB segments: the 1800 chunks spread over several files, split as Prometheus splits them.
        const seg = writeBlock({
          parentDir: dirs.segmented,
          minTime: src.meta.minTime,
          maxTime: src.meta.maxTime,
          symbols: src.symbols,
          series: seriesOf(src),
          segmentSize: 64 << 10,
        });
        assert.ok(seg.segments >= 5, `${seg.segments} segments`);
        cpSync(fb.dir, path.join(dirs.originalL3, fb.ulid), { recursive: true });
        cut = cutBlock(src, { from: FROM, to: TO }, { parentDir: dirs.cut });
      }
    } finally {
      src.close();
    }
  }
  assert.equal(copyOf.size, 4);
  assert.ok(cut.block);
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function promtool(b: PrometheusBuild, args: string[]): string {
  const r = spawnSync(b.promtool, args, { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.error, undefined, `${b.promtool}: ${r.error?.message}`);
  assert.equal(r.status, 0, `promtool ${b.name} ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** `promtool tsdb list` rows by ULID: every column but the ULID and the size (meta.json differs in level and sources). */
function listRows(b: PrometheusBuild, dir: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of promtool(b, ['tsdb', 'list', dir]).split('\n').slice(1)) {
    const cols = line.trim().split(/\s{2,}|\t+/);
    if (cols.length < 7) continue;
    rows.set(cols[0], cols.slice(1, 7).join(' | '));
  }
  return rows;
}

/** A fresh copy of a data dir for one run (Prometheus writes a WAL and may compact). */
function runDir(dir: string, name: string): string {
  const d = path.join(work, `run-${name}`);
  rmSync(d, { recursive: true, force: true });
  cpSync(dir, d, { recursive: true });
  return d;
}

async function served(b: PrometheusBuild, dir: string, name: string, toMs: number, rangeMs: number) {
  const prom = await startPrometheus(runDir(dir, `${name}-${b.name}`), b.prometheus);
  try {
    return await servedRange(prom.port, toMs, rangeMs);
  } finally {
    await prom.stop();
  }
}

const count = (m: Map<string, unknown[]>) => [...m.values()].reduce((n, v) => n + v.length, 0);

/**
 * analyze's facts. Its ranked sections ("most involved in churning", "most common label pairs", …)
 * are top-N lists sorted by count, with ties broken in Go map order, so which of several equal
 * entries appear at the cut-off, and their order, vary between two runs on the same block. So:
 * the header exactly, and per section the counts in order plus the set of entries ranked above the
 * section's lowest count.
 */
function analyzeFacts(
  b: PrometheusBuild,
  dir: string,
  ulid: string,
): { header: string; sections: Record<string, { counts: number[]; above: string[] }> } {
  const [header, ...rest] = promtool(b, ['tsdb', 'analyze', dir, ulid]).replace(ulid, 'ULID').split('\n\n');
  const sections: Record<string, { counts: number[]; above: string[] }> = {};
  for (const block of rest) {
    const [title, ...lines] = block.trim().split('\n');
    if (!title) continue;
    const entries = lines
      .map((l) => /^(\d+) (.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ n: Number(m[1]), what: m[2] }));
    const low = Math.min(...entries.map((e) => e.n));
    sections[title] = {
      counts: entries.map((e) => e.n),
      above: entries
        .filter((e) => e.n > low)
        .map((e) => e.what)
        .sort(),
    };
  }
  return { header, sections };
}

describe('promtool accepts written blocks', () => {
  test('tsdb list prints the same rows for the copies as for Prometheus\'s blocks, and the cut', () => {
    for (const b of builds) {
      const orig = listRows(b, dirs.original);
      const copies = listRows(b, dirs.copies);
      assert.equal(orig.size, 4, b.name);
      for (const [ulid, row] of orig) assert.equal(copies.get(copyOf.get(ulid)!), row, `${b.name} ${ulid}`);
      const cutRow = listRows(b, dirs.cut).get(cut.block!.ulid);
      assert.ok(cutRow, `${b.name} lists the cut block`);
      assert.match(
        cutRow,
        new RegExp(`\\b${cut.samplesWritten}\\b.*\\b${cut.chunksKept + cut.chunksReencoded}\\b.*\\b50\\b`),
        `${b.name}: ${cutRow}`,
      );
    }
  });

  test('tsdb analyze prints the same facts for each copy as for the original, and accepts the cut', () => {
    for (const b of builds) {
      for (const [ulid, copy] of copyOf) {
        const o = analyzeFacts(b, dirs.original, ulid);
        assert.deepEqual(analyzeFacts(b, dirs.copies, copy), o, `${b.name} ${ulid}`);
        assert.match(o.header, /Series: 50/);
        assert.ok(Object.keys(o.sections).length >= 5, `${b.name}: ${Object.keys(o.sections).join(', ')}`);
      }
      const out = promtool(b, ['tsdb', 'analyze', dirs.cut, cut.block!.ulid]);
      assert.match(out, new RegExp(`Block ID: ${cut.block!.ulid}`));
      assert.match(out, /Series: 50/);
    }
  });
});

describe('real Prometheus serves exactly what was written', () => {
  test('copies of the four healthy blocks: every sample of Prometheus\'s own blocks, in every version', async () => {
    const range = 28 * H + 1;
    const expected = await served(builds[0], dirs.original, 'original', A + 28 * H, range);
    assert.equal(count(expected), 336000);
    for (const b of builds) {
      const got = await served(b, dirs.copies, 'copies', A + 28 * H, range);
      assert.deepEqual(got, expected, b.name);
    }
  });

  test('a block in 64 KiB chunk segments serves the same as Prometheus\'s single segment', async () => {
    const expected = await served(builds[0], dirs.originalL3, 'l3-full', A + 18 * H, 18 * H + 1);
    assert.equal(count(expected), 216000);
    for (const b of builds) assert.deepEqual(await served(b, dirs.segmented, 'segmented', A + 18 * H, 18 * H + 1), expected, b.name);
  });

  test('a written tombstone deletes exactly its interval of its series', async () => {
    const t = tombstonedSeries!;
    const all = await served(builds[0], dirs.original, 'original-again', A + 28 * H, 28 * H + 1);
    const key = JSON.stringify([...t.labels].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const block = blocks('healthy').find((b) => b.meta.compaction.level === 1)!.meta;
    const expected = new Map<string, [number, string][]>();
    for (const [k, v] of all) {
      const inBlock = v.filter(([ts]) => ts >= block.minTime && ts < block.maxTime && (k !== key || ts < t.from || ts > t.to));
      if (inBlock.length) expected.set(k, inBlock);
    }
    const removed = all.get(key)!.filter(([ts]) => ts >= t.from && ts <= t.to).length;
    assert.ok(removed >= 120 && removed <= 121, `${removed} samples in the 30 min interval`);
    for (const b of builds) assert.deepEqual(await served(b, dirs.tombstoned, 'tombstoned', A + 28 * H, 28 * H + 1), expected, b.name);
  });

  test(`a cut of the level-3 block: exactly the window's samples, none outside, in every version`, async () => {
    const expected = await served(builds[0], dirs.originalL3, 'l3', TO - 1, TO - FROM - 1);
    assert.equal(count(expected), cut.samplesWritten);
    assert.ok(cut.chunksReencoded > 0 && cut.chunksKept > 0);
    for (const b of builds) {
      // The block's whole range: the cut must hold nothing before FROM or after TO.
      const got = await served(b, dirs.cut, 'cut', A + 18 * H, 18 * H + 1);
      assert.deepEqual(got, expected, b.name);
    }
  });
});

describe('byte-identical to Prometheus 3.x blocks', () => {
  /** 30 series over 3 h in OpenMetrics, with non-ASCII values to exercise the byte order of symbols. */
  function openMetrics(file: string): void {
    const lines: string[] = [];
    for (let k = 0; k < 720; k++) {
      for (let s = 0; s < 30; s++) {
        const t = A + k * 15_000 + ((k * 7 + s) % 11);
        const value = s % 3 === 0 ? String(k * (s + 1)) : (Math.sin(k / 10 + s) * 1e3).toFixed(3);
        lines.push(`om_test{shard="${s}",zone="${['é', 'z', '\u{1F600}', '\uFFFD'][s % 4]}"} ${value} ${(t / 1000).toFixed(3)}`);
      }
    }
    writeFileSync(file, lines.join('\n') + '\n# EOF\n');
  }

  test('a copy of each block promtool 3.x writes has its index, chunks and meta.json bytes', () => {
    const om = path.join(work, 'input.om');
    openMetrics(om);
    const three = builds.filter((b) => b.name.startsWith('3.'));
    assert.ok(three.length >= 2, 'Prometheus 3.x builds');
    for (const b of three) {
      const out = path.join(work, `promtool-${b.name}`);
      promtool(b, ['tsdb', 'create-blocks-from', 'openmetrics', om, out]);
      const made = readdirSync(out).filter(isUlid);
      assert.ok(made.length >= 2, `${b.name} wrote ${made.length} blocks`);
      // 3.7 stopped writing the deprecated label indices.
      const minor = Number(b.name.split('.')[1]);
      for (const ulid of made) {
        const src = openBlock(path.join(out, ulid));
        const parent = path.join(work, `rewrite-${b.name}-${ulid}`);
        mkdirSync(parent);
        try {
          const w = writeBlock({
            parentDir: parent,
            ulid,
            minTime: src.meta.minTime,
            maxTime: src.meta.maxTime,
            compaction: src.meta.compaction,
            stats: src.meta.stats,
            symbols: src.symbols,
            series: seriesOf(src),
            labelIndices: minor < 7,
            sync: false,
          });
          for (const f of ['index', 'meta.json', 'tombstones', ...readdirSync(path.join(out, ulid, 'chunks')).map((c) => `chunks/${c}`)]) {
            assert.ok(readFileSync(path.join(w.dir, f)).equals(readFileSync(path.join(out, ulid, f))), `${b.name} ${ulid} ${f} differs`);
          }
        } finally {
          src.close();
        }
      }
    }
  });
});
