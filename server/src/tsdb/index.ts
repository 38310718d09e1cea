/** Block index, format v2 (tsdb-format.md §3). Random access: the TOC is at the end. */
import type { ByteSource, FormatProblem, Verify } from './types';

export interface IndexToc {
  symbols: number;
  series: number;
  labelIndices: number;
  labelIndicesTable: number;
  postings: number;
  postingsTable: number;
}

export interface ChunkMeta {
  minTime: number;
  maxTime: number;
  /** Upper 32 bits: 0-based chunk segment position; lower 32 bits: offset of the chunk's len field. */
  ref: bigint;
}

export interface IndexSeries {
  /** Series ID = offset / 16 (v2). */
  id: number;
  labels: [string, string][];
  chunks: ChunkMeta[];
}

export interface IndexProblem extends FormatProblem {
  section: 'header' | 'toc' | 'symbols' | 'series' | 'labelIndices' | 'postings' | 'labelOffsetTable' | 'postingsTable';
  /** True when Prometheus fails to open the block because of it (header, TOC, symbols, postings table). */
  fatalAtStartup: boolean;
}

export interface IndexSummary {
  version: number;
  toc?: IndexToc;
  symbolCount: number;
  seriesCount: number;
  chunkCount: number;
  /** Over all chunk metas (inclusive sample times). */
  minTime?: number;
  maxTime?: number;
  problems: IndexProblem[];
}

/**
 * Reads header, TOC, symbols, every series (calling onSeries for each) and the postings offset table.
 * quick: CRCs of the TOC, symbols and postings offset table (what Prometheus checks at open);
 * full: also every series entry and postings list CRC.
 */
export declare function readIndex(src: ByteSource, opts: { verify: Verify; onSeries?: (s: IndexSeries) => void }): IndexSummary;
