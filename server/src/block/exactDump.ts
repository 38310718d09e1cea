/**
 * Exact time-range dump from a local source (a .tar.gz / .tar dump or a data dir): a dump whose
 * blocks hold only the samples in [from, to). Blocks wholly inside are kept byte for byte, blocks
 * across an edge are cut (cutBlock), blocks outside are left out. The head is turned into blocks
 * from its WAL (headToBlocks; chunks_head/ holds the same samples) which are then cut alike; what
 * that conversion cannot carry is counted in the result, never silently lost.
 *
 * A dump is staged block by block into a temporary directory beside the output (its index needs
 * random access, and promdump puts meta.json after the chunks); a data dir is read in place. The
 * output goes through `<out>.partial` (writeDump) and appears under its name only when complete.
 */
import { createReadStream, existsSync, mkdirSync, promises as fsp, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ToolError } from '../errors';
import { openSource } from '../dump/source';
import { stageEntries } from '../dump/stage';
import { writeDump, type DumpWriteEntry } from '../dump/tarWriter';
import { isUlid } from '../tsdb/blockDir';
import { parseMetaJson } from '../tsdb/metaJson';
import { openBlock } from './readBlock';
import { cutBlock, type DroppedChunk, type TimeWindow } from './cutBlock';
import { headToBlocks, type HeadToBlocksResult } from './headToBlocks';

export interface ExactDumpBlock {
  /** The source block. */
  ulid: string;
  minTime: number;
  maxTime: number;
  action: 'kept' | 'cut' | 'left-out';
  /** A block made from the head's WAL (its ULID is new, not in the source). */
  fromHead?: boolean;
  /** The block written for a cut (absent when no sample of it lay in the window). */
  cutUlid?: string;
  /** Samples of this block in the output. */
  samples: number;
}

export interface ExactDumpResult {
  output: string;
  window: TimeWindow;
  blocks: ExactDumpBlock[];
  samples: number;
  /** The head's conversion to blocks (absent when the source has no WAL). */
  head?: Omit<HeadToBlocksResult, 'blocks'>;
  /** Block directories without a readable meta.json, left out. */
  unreadableBlocks: string[];
  droppedEdgeChunks: DroppedChunk[];
  bytes: number;
}

export async function exactDump(
  source: string,
  output: string,
  window: TimeWindow,
  opts: { signal?: AbortSignal } = {},
): Promise<ExactDumpResult> {
  const { from, to } = window;
  if (!(Number.isSafeInteger(from) && Number.isSafeInteger(to) && from < to))
    throw new ToolError('usage', `invalid window: --from must be below --to`);
  const outAbs = path.resolve(output);
  if (existsSync(outAbs)) throw new ToolError('usage', `${output} already exists`);
  const work = await fsp.mkdtemp(path.join(path.dirname(outAbs), '.tsdbdump-exact-'));
  try {
    const src = await openSource(source, { signal: opts.signal });
    let blockRoot: string;
    if (src.kind === 'directory') {
      blockRoot = src.source;
    } else {
      blockRoot = path.join(work, 'in');
      mkdirSync(blockRoot);
      await stageEntries(src.entries, blockRoot, (top) => top === 'wal' || isUlid(top));
      const truncated = src.problems.find((p) => p.code === 'dump-truncated');
      if (truncated) throw new ToolError('dump-truncated', `${source}: ${truncated.message}`);
    }

    const cutRoot = path.join(work, 'out');
    mkdirSync(cutRoot);
    const result: ExactDumpResult = {
      output: outAbs,
      window: { from, to },
      blocks: [],
      samples: 0,
      unreadableBlocks: [],
      droppedEdgeChunks: [],
      bytes: 0,
    };
    const candidates = readdirSync(blockRoot)
      .filter(isUlid)
      .sort()
      .map((name) => ({ name, dir: path.join(blockRoot, name), fromHead: false }));
    if (existsSync(path.join(blockRoot, 'wal'))) {
      const headDir = path.join(work, 'head');
      mkdirSync(headDir);
      const { blocks: headBlocks, ...summary } = headToBlocks(blockRoot, { parentDir: headDir, sync: false });
      result.head = summary;
      for (const b of headBlocks) candidates.push({ name: b.ulid, dir: b.dir, fromHead: true });
    }
    const chosen: { dir: string; ulid: string; minTime: number }[] = [];
    for (const { name, dir, fromHead } of candidates) {
      const tag = fromHead ? { fromHead } : {};
      if (!statSync(dir).isDirectory()) continue;
      const metaFile = path.join(dir, 'meta.json');
      const meta = existsSync(metaFile) ? parseMetaJson(await fsp.readFile(metaFile)) : undefined;
      if (!meta?.ok) {
        result.unreadableBlocks.push(name);
        continue;
      }
      const m = meta.meta;
      // Prometheus skips blocks marked deletable, so they hold nothing to dump.
      if (m.compaction.deletable || m.maxTime <= from || m.minTime >= to) {
        result.blocks.push({ ulid: m.ulid, minTime: m.minTime, maxTime: m.maxTime, action: 'left-out', samples: 0, ...tag });
      } else if (m.minTime >= from && m.maxTime <= to) {
        const samples = m.stats?.numSamples ?? 0;
        result.blocks.push({ ulid: m.ulid, minTime: m.minTime, maxTime: m.maxTime, action: 'kept', samples, ...tag });
        result.samples += samples;
        chosen.push({ dir, ulid: name, minTime: m.minTime });
      } else {
        const block = openBlock(dir);
        try {
          const c = cutBlock(block, { from, to }, { parentDir: cutRoot });
          result.blocks.push({
            ulid: m.ulid,
            minTime: m.minTime,
            maxTime: m.maxTime,
            action: 'cut',
            cutUlid: c.block?.ulid,
            samples: c.samplesWritten,
            ...tag,
          });
          result.samples += c.samplesWritten;
          result.droppedEdgeChunks.push(...c.droppedEdgeChunks);
          if (c.block) chosen.push({ dir: c.block.dir, ulid: c.block.ulid, minTime: c.block.meta.minTime });
        } finally {
          block.close();
        }
      }
    }
    result.blocks.sort((a, b) => a.minTime - b.minTime || (a.ulid < b.ulid ? -1 : 1));
    chosen.sort((a, b) => a.minTime - b.minTime || (a.ulid < b.ulid ? -1 : 1));
    const written = await writeDump(outAbs, entriesOf(chosen), { signal: opts.signal });
    result.bytes = written.bytes;
    return result;
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}

/** promdump's layout per block: the dir, chunks/ and its segments, then index, meta.json, tombstones. */
function* entriesOf(blocks: { dir: string; ulid: string }[]): Generator<DumpWriteEntry> {
  for (const b of blocks) {
    yield { path: `${b.ulid}/`, size: 0, type: 'directory' };
    const chunksDir = path.join(b.dir, 'chunks');
    yield { path: `${b.ulid}/chunks/`, size: 0, type: 'directory' };
    const files = [
      ...(existsSync(chunksDir) ? readdirSync(chunksDir).sort().map((c) => `chunks/${c}`) : []),
      ...['index', 'meta.json', 'tombstones'].filter((f) => existsSync(path.join(b.dir, f))),
    ];
    for (const f of files) {
      const file = path.join(b.dir, f);
      yield { path: `${b.ulid}/${f}`, size: statSync(file).size, body: createReadStream(file, { highWaterMark: 1 << 20 }) };
    }
  }
}
