/**
 * A dump opened for reading its series and samples: the blocks Prometheus would load and the head
 * as its WAL replay rebuilds it. An archive is staged into a temporary directory (block indexes
 * need random access and promdump puts chunks before the index, as block/exactDump.ts does); a data
 * dir is read in place. Nothing of the source is modified; the staging is removed on close.
 *
 * Which blocks load: those with a readable meta.json, not marked deletable and not a parent of
 * another block (Prometheus deletes compacted parents at startup, tsdb/db.go deletableBlocks).
 * The head: the newest checkpoint then the segments after it (analysis/walReplay.ts), samples
 * below the newest block's maxTime dropped (the head's minValidTime, as block/headToBlocks.ts
 * counts them), then the out-of-order WBL. chunks_head/ is not read: the WAL after the checkpoint holds the same samples.
 */
import { existsSync, promises as fsp, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ToolError } from '../errors';
import { openSource } from '../dump/source';
import { stageEntries } from '../dump/stage';
import { isUlid } from '../tsdb/blockDir';
import { parseMetaJson, type BlockMeta } from '../tsdb/metaJson';
import { openBlock, type OpenedBlock } from '../block/readBlock';
import { createWalSegmentScanner, parseCheckpointName, parseWalSegmentName, type WalHistogram } from '../tsdb/wal';
import { newestCheckpoint, replayedSegments } from '../analysis/walReplay';
import { compareStrings } from '../tsdb/order';

export interface Skipped {
  path: string;
  reason: string;
}

export interface HeadSeries {
  labels: [string, string][];
  floats: { t: number; v: number }[];
  histograms: { t: number; h: WalHistogram; float: boolean }[];
  /** Samples replayed (also when headCountsOnly keeps none), and of them histogram samples. */
  count: number;
  histogramCount: number;
  minTime: number;
  maxTime: number;
}

export interface HeadData {
  /** By WAL ref; only series passing the filter given to openDumpData. */
  series: Map<number, HeadSeries>;
  tombstones: Map<number, [number, number][]>;
  /** The head's minValidTime: samples below it were dropped. */
  minValid: number;
}

export interface DumpData {
  blocks: { ulid: string; meta: BlockMeta; block: OpenedBlock }[];
  head?: HeadData;
  skipped: Skipped[];
  close(): Promise<void>;
}

export interface OpenDumpOptions {
  signal?: AbortSignal;
  /** Which head series to keep samples of (all when absent); labels sorted by name. */
  headFilter?: (labels: [string, string][]) => boolean;
  /** Keep no head samples, only series and counts (the `series` listing). */
  headCountsOnly?: boolean;
  onProgress?: (message: string) => void;
}

/** Opens a source (.tar.gz/.tar/data dir) for the series and samples readers. */
export async function openDumpData(source: string, opts: OpenDumpOptions = {}): Promise<DumpData> {
  const src = await openSource(source, { signal: opts.signal });
  let root = src.source;
  let staging: string | undefined;
  const skipped: Skipped[] = [];
  if (src.kind !== 'directory') {
    staging = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsdbdump-data-'));
    root = staging;
    opts.onProgress?.('staging the dump');
    try {
      await stageEntries(src.entries, root, (top) => top === 'wal' || top === 'wbl' || isUlid(top));
    } catch (e) {
      await fsp.rm(staging, { recursive: true, force: true });
      throw e;
    }
    for (const p of src.problems) skipped.push({ path: p.path, reason: p.message });
  }

  const blocks: DumpData['blocks'] = [];
  const close = async () => {
    for (const b of blocks) b.block.close();
    if (staging) await fsp.rm(staging, { recursive: true, force: true });
  };
  try {
    const metas: { ulid: string; meta: BlockMeta }[] = [];
    for (const name of readdirSync(root).filter(isUlid).sort()) {
      const metaFile = path.join(root, name, 'meta.json');
      if (!existsSync(metaFile)) {
        skipped.push({ path: name, reason: 'no meta.json: Prometheus does not load the block' });
        continue;
      }
      const m = parseMetaJson(readFileSync(metaFile));
      if (!m.ok) skipped.push({ path: name, reason: `meta.json: ${m.error}` });
      else if (m.meta.compaction.deletable) skipped.push({ path: name, reason: 'marked deletable: Prometheus deletes it at startup' });
      else metas.push({ ulid: name, meta: m.meta });
    }
    const parents = new Set(metas.flatMap((m) => (m.meta.compaction.parents ?? []).map((p) => p.ulid)));
    for (const m of metas) {
      if (parents.has(m.ulid)) {
        skipped.push({ path: m.ulid, reason: 'compacted into another block: Prometheus deletes it at startup' });
        continue;
      }
      opts.signal?.throwIfAborted();
      opts.onProgress?.(`reading block ${m.ulid}`);
      try {
        blocks.push({ ulid: m.ulid, meta: m.meta, block: openBlock(path.join(root, m.ulid)) });
      } catch (e) {
        if (!(e instanceof ToolError)) throw e;
        skipped.push({ path: m.ulid, reason: e.message });
      }
    }
    const minValid = blocks.reduce((x, b) => Math.max(x, b.meta.maxTime), -Infinity);
    const head = readHead(root, minValid, opts, skipped);
    return { blocks, head, skipped, close };
  } catch (e) {
    await close();
    throw e;
  }
}

function readHead(root: string, minValid: number, opts: OpenDumpOptions, skipped: Skipped[]): HeadData | undefined {
  const walDir = path.join(root, 'wal');
  if (!existsSync(walDir)) return undefined;
  const names = readdirSync(walDir);
  const cp = newestCheckpoint(names.flatMap((n) => {
    const number = parseCheckpointName(n);
    return number === undefined ? [] : [{ name: n, number }];
  }));
  const files: string[] = [];
  if (cp) {
    for (const n of readdirSync(path.join(walDir, cp.name)).filter((x) => parseWalSegmentName(x) !== undefined).sort())
      files.push(path.join(cp.name, n));
  }
  const segs = replayedSegments(names.flatMap((n) => {
    const number = parseWalSegmentName(n);
    return number === undefined ? [] : [{ name: n, number }];
  }), cp?.number);
  for (const s of segs) files.push(s.name);
  // The out-of-order WBL replays after the WAL into the OOO head, with the WAL's series refs and no
  // minimum valid time (tsdb/head.go loadWBL; docs/architecture.md "3.x data in the model").
  const wblDir = path.join(root, 'wbl');
  const wbl = existsSync(wblDir)
    ? readdirSync(wblDir).flatMap((n) => {
        const number = parseWalSegmentName(n);
        return number === undefined ? [] : [{ name: n, number }];
      }).sort((a, b) => a.number - b.number)
    : [];

  const head: HeadData = { series: new Map(), tombstones: new Map(), minValid };
  const ignored = new Set<number>();
  const keep = opts.headFilter;
  const all = [...files.map((f) => ({ dir: 'wal', f, ooo: false })), ...wbl.map((w) => ({ dir: 'wbl', f: w.name, ooo: true }))];
  for (const { dir, f, ooo } of all) {
    opts.signal?.throwIfAborted();
    const floor = ooo ? -Infinity : minValid;
    const scanner = createWalSegmentScanner({
      onRecord: (r) => {
        if (r.type === 'series' && !ooo) {
          for (const s of r.series) {
            if (head.series.has(s.ref)) continue;
            const labels = [...s.labels].sort((a, b) => compareStrings(a[0], b[0]));
            if (keep && !keep(labels)) ignored.add(s.ref);
            else head.series.set(s.ref, newHeadSeries(labels));
          }
        } else if (r.type === 'samples') {
          for (const s of r.samples) {
            if (s.t < floor) continue;
            const hs = head.series.get(s.ref);
            if (!hs) continue;
            count(hs, s.t, false);
            if (!opts.headCountsOnly) hs.floats.push({ t: s.t, v: s.v });
          }
        } else if (r.type === 'histograms') {
          for (const s of r.samples) {
            if (s.t < floor) continue;
            const hs = head.series.get(s.ref);
            if (!hs) continue;
            count(hs, s.t, true);
            if (!opts.headCountsOnly) hs.histograms.push({ t: s.t, h: s.h, float: r.float });
          }
        } else if (r.type === 'tombstones' && !ooo) {
          for (const t of r.tombstones) head.tombstones.set(t.ref, [...(head.tombstones.get(t.ref) ?? []), [t.minTime, t.maxTime]]);
        }
      },
    });
    scanner.push(readFileSync(path.join(root, dir, f)));
    const summary = scanner.end();
    for (const p of summary.problems) if (!p.torn) skipped.push({ path: `${dir}/${f}`, reason: `${p.message}; replay stops there` });
  }
  return head;
}

function count(hs: HeadSeries, t: number, histogram: boolean): void {
  hs.count++;
  if (histogram) hs.histogramCount++;
  if (t < hs.minTime) hs.minTime = t;
  if (t > hs.maxTime) hs.maxTime = t;
}

function newHeadSeries(labels: [string, string][]): HeadSeries {
  return { labels, floats: [], histograms: [], count: 0, histogramCount: 0, minTime: Infinity, maxTime: -Infinity };
}
