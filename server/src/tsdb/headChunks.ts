/** Head chunk files `chunks_head/NNNNNN` (tsdb-format.md §6). */
import type { FormatProblem, PushScanner, Verify } from './types';

export const HEAD_CHUNK_MAGIC = 0x0130bc91;

export interface HeadChunkRecord {
  offset: number;
  seriesRef: number;
  minTime: number;
  maxTime: number;
  /** Low 7 bits: chunk encoding; bit 0x80: out-of-order chunk. */
  encoding: number;
  samples: number;
  /** Set with verify full. */
  crcOk?: boolean;
}

export interface HeadChunkFileSummary {
  sizeBytes: number;
  headerOk: boolean;
  records: number;
  samples: number;
  minTime?: number;
  maxTime?: number;
  /** Offset where data ends (zero tail starts). */
  dataEnd: number;
  /** Record damage: Prometheus then deletes this file and all later ones and rebuilds from the WAL. */
  problems: FormatProblem[];
}

export interface HeadChunkScanOptions {
  verify: Verify;
  onRecord?: (r: HeadChunkRecord) => void;
}

export declare function createHeadChunkScanner(opts: HeadChunkScanOptions): PushScanner<HeadChunkFileSummary>;
export declare function parseHeadChunkFileName(name: string): number | undefined;
