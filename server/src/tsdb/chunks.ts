/** Block chunk segment files `chunks/NNNNNN` (tsdb-format.md §4). */
import type { FormatProblem, PushScanner, Verify } from './types';

export const CHUNK_SEGMENT_MAGIC = 0x85bd40dd;

export interface ChunkProblem extends FormatProblem {
  kind: 'header' | 'crc' | 'framing';
}

export interface ChunkSegmentSummary {
  sizeBytes: number;
  headerOk: boolean;
  chunks: number;
  /** Start offsets (of the len field) of every chunk, ascending: index refs must land on one. */
  chunkOffsets: Uint32Array;
  /** Chunks per encoding byte. */
  encodings: Record<number, number>;
  problems: ChunkProblem[];
}

export interface ChunkSegmentScanOptions {
  /** quick: framing only; full: also each chunk's CRC32C. */
  verify: Verify;
}

/** Streams a chunk segment; memory is bounded by one chunk. */
export declare function createChunkSegmentScanner(opts: ChunkSegmentScanOptions): PushScanner<ChunkSegmentSummary>;
/** `000001` → 1; undefined for other names. */
export declare function parseChunkSegmentName(name: string): number | undefined;
