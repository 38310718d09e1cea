/**
 * Opens a block directory for rewriting: meta.json, the index's symbols and series (with their
 * chunk metas) through the project's parsers, and chunk bytes by ref from the segment files.
 * Memory holds the series and chunk metas (the index's content), never the chunk data.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ToolError } from '../errors';
import { readCrc, crc32c, hex } from '../tsdb/crc32c';
import { parseChunkSegmentName } from '../tsdb/chunks';
import { readIndex, type ChunkMeta, type IndexSeries } from '../tsdb/index';
import { parseMetaJson, type BlockMeta } from '../tsdb/metaJson';
import { parseTombstones, type TombstoneInterval } from '../tsdb/tombstones';
import { FILE_SOURCE_RING, FileSource } from './files';

export interface BlockChunk {
  encoding: number;
  /** The chunk's data (after the encoding byte, before the CRC); a view that stays valid. */
  data: Uint8Array;
  /** The whole framed chunk as stored (`len | encoding | data | CRC`): a copy can write it as it is. */
  frame: Uint8Array;
}

export interface SeriesChunk extends BlockChunk {
  minTime: number;
  maxTime: number;
}

export interface OpenedBlock {
  dir: string;
  meta: BlockMeta;
  /** The index's symbol table, in order. */
  symbols: readonly string[];
  /** Series in index order (sorted label sets), with their chunk metas. */
  series: readonly IndexSeries[];
  tombstones: readonly TombstoneInterval[];
  /** Segment file names (`000001`, …) in the order refs number them. */
  segments: readonly string[];
  /**
   * Reads the chunk a meta points to; throws ToolError('block-unreadable') when it is not there.
   * The views stay valid while at most one more read-ahead window (4 MiB) is loaded: to hold many
   * chunks, use seriesChunks.
   */
  chunk(c: ChunkMeta): BlockChunk;
  /** Every chunk of a series with its times, valid together (copied when they span several windows). */
  seriesChunks(s: IndexSeries): SeriesChunk[];
  close(): void;
}

export interface OpenBlockOptions {
  /** Check each chunk's CRC32C when it is read (default true). */
  verifyChunks?: boolean;
}

function unreadable(dir: string, what: string): ToolError {
  return new ToolError('block-unreadable', `block ${path.basename(dir)}: ${what}`);
}

export function openBlock(dir: string, opts: OpenBlockOptions = {}): OpenedBlock {
  const verifyChunks = opts.verifyChunks ?? true;
  const metaFile = path.join(dir, 'meta.json');
  if (!existsSync(metaFile)) throw unreadable(dir, 'no meta.json');
  const parsed = parseMetaJson(readFileSync(metaFile));
  if (!parsed.ok) throw unreadable(dir, `meta.json: ${parsed.error}`);

  const series: IndexSeries[] = [];
  let symbols: readonly string[] = [];
  const indexFile = path.join(dir, 'index');
  if (!existsSync(indexFile)) throw unreadable(dir, 'no index');
  const indexSrc = new FileSource(indexFile);
  try {
    const summary = readIndex(indexSrc, { verify: 'quick', onSeries: (s) => series.push(s), onSymbols: (s) => (symbols = s) });
    const problem = summary.problems[0];
    if (problem) throw unreadable(dir, `index: ${problem.message}${problem.offset !== undefined ? ` (at byte ${problem.offset})` : ''}`);
  } finally {
    indexSrc.close();
  }

  let tombstones: TombstoneInterval[] = [];
  const tombFile = path.join(dir, 'tombstones');
  if (existsSync(tombFile)) {
    const t = parseTombstones(readFileSync(tombFile));
    if (t.problems.length > 0) throw unreadable(dir, `tombstones: ${t.problems[0].message}`);
    tombstones = t.intervals;
  }

  const chunksDir = path.join(dir, 'chunks');
  // Prometheus numbers refs by the position of a file among the numbered names, sorted.
  const segments = existsSync(chunksDir)
    ? readdirSync(chunksDir)
        .filter((n) => parseChunkSegmentName(n) !== undefined)
        .sort((a, b) => parseChunkSegmentName(a)! - parseChunkSegmentName(b)!)
    : [];
  const sources = new Map<number, FileSource>();
  const segmentSource = (i: number): FileSource => {
    let s = sources.get(i);
    if (!s) {
      if (i >= segments.length) throw unreadable(dir, `chunk segment ${i + 1} does not exist (${segments.length} segments)`);
      s = new FileSource(path.join(chunksDir, segments[i]), true);
      sources.set(i, s);
    }
    return s;
  };

  const chunk = (c: ChunkMeta): BlockChunk => {
    const src = segmentSource(c.segment);
    const at = c.offset;
    const where = () => `chunk ${c.segment + 1}:${at}`;
    if (at < 8 || at >= src.size) throw unreadable(dir, `${where()}: offset beyond segment size ${src.size}`);
    // len uvarint (at most 5 bytes, as Prometheus reads it), encoding byte, data, CRC.
    let v = src.view(at, 6);
    let len = 0;
    let mul = 1;
    let k = 0;
    for (;;) {
      if (k >= v.available || k >= 5) throw unreadable(dir, `${where()}: reading chunk length failed`);
      const b = v.buf[v.at + k++];
      len += (b & 0x7f) * mul;
      if (b < 0x80) break;
      mul *= 128;
    }
    const total = k + 1 + len + 4;
    if (at + total > src.size) {
      throw unreadable(
        dir,
        `${where()}: segment doesn't include enough bytes to read the chunk - required:${at + total}, available:${src.size}`,
      );
    }
    if (v.available < total) v = src.view(at, total);
    const p = v.at;
    const frame = v.buf.subarray(p, p + total);
    const encoding = frame[k];
    const data = frame.subarray(k + 1, k + 1 + len);
    if (verifyChunks) {
      const stored = readCrc(frame, k + 1 + len);
      const actual = crc32c(frame.subarray(k, k + 1 + len));
      if (stored !== actual) throw unreadable(dir, `${where()}: checksum mismatch expected:${hex(stored)}, actual:${hex(actual)}`);
    }
    return { encoding, data, frame };
  };

  const loads = () => {
    let n = 0;
    for (const s of sources.values()) n += s.loads;
    return n;
  };
  const seriesChunks = (s: IndexSeries): SeriesChunk[] => {
    const out: SeriesChunk[] = [];
    let base = loads();
    let copiedUpTo = 0;
    for (const c of s.chunks) {
      const { encoding, frame, data } = chunk(c);
      out.push({ minTime: c.minTime, maxTime: c.maxTime, encoding, frame, data });
      // Two loads since the last copy: the ring's third buffer is next, so detach what is held.
      if (loads() - base >= FILE_SOURCE_RING - 1) {
        for (let i = copiedUpTo; i < out.length; i++) {
          // A copy (Buffer#slice would be a view of the same memory).
          const f = new Uint8Array(out[i].frame);
          const at = out[i].data.byteOffset - out[i].frame.byteOffset;
          out[i] = { ...out[i], frame: f, data: f.subarray(at, at + out[i].data.length) };
        }
        copiedUpTo = out.length;
        base = loads();
      }
    }
    return out;
  };

  return {
    dir,
    meta: parsed.meta,
    seriesChunks,
    symbols,
    series,
    tombstones,
    segments,
    chunk,
    close: () => {
      for (const s of sources.values()) s.close();
      sources.clear();
    },
  };
}
