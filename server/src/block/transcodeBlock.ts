/**
 * Transcoding a block for an older Prometheus (issue 16 point 5, first part): XOR2 chunks
 * (encoding 4, Prometheus 3.11+) are decoded and written again as XOR (encoding 1, every
 * version), with their start timestamps dropped (XOR has none); every other chunk is copied as it
 * is. Histogram chunks with start timestamps (encodings 5 and 6, 3.14+) cannot be converted yet:
 * they are copied and counted, never dropped silently, so the caller can say what an older target
 * would still not read. The block keeps its ULID, time range and compaction history; its stats
 * are recomputed from what is written.
 */
import { decodeChunk, ENC_XOR, ENC_XOR2, ENC_HISTOGRAM_ST, ENC_FLOAT_HISTOGRAM_ST, type XorSample } from '../tsdb/chunkenc';
import { FormatError } from '../tsdb/cursor';
import { encodeXor, MAX_XOR_SAMPLES } from '../tsdb/write/xorEncoder';
import { ToolError } from '../errors';
import type { OpenedBlock } from './readBlock';
import { writeBlock, type WriteChunk, type WriteSeries, type WrittenBlock } from './writeBlock';

export interface TranscodeResult {
  block: WrittenBlock;
  /** XOR2 chunks written as XOR. */
  xor2Converted: number;
  /** Samples of those chunks that carried a start timestamp (dropped: XOR has none). */
  startTimestampsDropped: number;
  /** Chunks of encodings 5 and 6 copied as they are (an older target cannot read them). */
  notConverted: { encoding: number; chunks: number; samples: number }[];
}

export interface TranscodeOptions {
  parentDir: string;
  segmentSize?: number;
  sync?: boolean;
}

export function transcodeBlock(src: OpenedBlock, opts: TranscodeOptions): TranscodeResult {
  // Tombstones name series by their offset in the index, which re-encoded chunk refs can move.
  if (src.tombstones.length > 0) {
    throw new ToolError('usage', `block ${src.meta.ulid} has tombstones: transcoding such a block is not supported yet`);
  }
  let xor2Converted = 0;
  let startTimestampsDropped = 0;
  const kept = new Map<number, { chunks: number; samples: number }>();

  const convert = function* (): Generator<WriteSeries> {
    for (const s of src.series) {
      const chunks: WriteChunk[] = [];
      for (const c of src.seriesChunks(s)) {
        const enc = c.encoding & 0x7f;
        if (enc !== ENC_XOR2) {
          if (enc === ENC_HISTOGRAM_ST || enc === ENC_FLOAT_HISTOGRAM_ST) {
            const k = kept.get(enc) ?? { chunks: 0, samples: 0 };
            k.chunks++;
            k.samples += decodeChunk(enc, c.data).count;
            kept.set(enc, k);
          }
          chunks.push(c);
          continue;
        }
        const samples: XorSample[] = [];
        try {
          decodeChunk(enc, c.data, (x) => {
            if (x.st !== undefined && x.st !== 0) startTimestampsDropped++;
            samples.push({ t: x.t, v: x.v ?? NaN });
          });
        } catch (e) {
          if (!(e instanceof FormatError)) throw e;
          throw new ToolError(
            'block-unreadable',
            `block ${src.meta.ulid}: XOR2 chunk ${c.minTime}–${c.maxTime} does not decode: ${e.message}`,
          );
        }
        xor2Converted++;
        for (let i = 0; i < samples.length; i += MAX_XOR_SAMPLES) {
          const part = samples.slice(i, i + MAX_XOR_SAMPLES);
          chunks.push({ minTime: part[0].t, maxTime: part[part.length - 1].t, encoding: ENC_XOR, data: encodeXor(part) });
        }
      }
      yield { labels: s.labels, chunks };
    }
  };

  const block = writeBlock({
    parentDir: opts.parentDir,
    ulid: src.meta.ulid,
    minTime: src.meta.minTime,
    maxTime: src.meta.maxTime,
    compaction: src.meta.compaction,
    symbols: src.symbols,
    series: convert(),
    segmentSize: opts.segmentSize,
    sync: opts.sync,
  });
  return {
    block,
    xor2Converted,
    startTimestampsDropped,
    notConverted: [...kept].map(([encoding, k]) => ({ encoding, ...k })),
  };
}
