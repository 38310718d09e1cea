/** What the collector (./collect.ts) gathers about a dump for the planner: the holdings model and per-block facts. */
import type { BlockMeta } from '../tsdb/metaJson';
import type { DumpModel } from './model';

export interface BadChunk {
  /** `<dir>/chunks/NNNNNN` */
  path: string;
  /** Offset of the chunk's len field (the ref's lower 32 bits). */
  offset: number;
  /** Offset of the encoding byte; data follows it. */
  encodingOffset: number;
  dataLength: number;
  /** `<file position>:<offset>`, as in IntervalPiece.chunkId. */
  chunkId: string;
  message: string;
}

export interface BlockFacts {
  dir: string;
  metaPresent: boolean;
  meta?: BlockMeta;
  metaError?: string;
  indexReadable: boolean;
  badChunks: BadChunk[];
  /** Index chunk refs that land on no chunk. */
  unresolvedRefs: number;
  /** Chunk files whose framing breaks after every chunk the index uses: cut there. */
  chunkTails?: { path: string; offset: number; message: string }[];
  tombstonesBad: boolean;
  hasTombstonesFile: boolean;
  /** Computed from the index and the chunk files. maxTime = last sample + 1. */
  computed?: { minTime: number; maxTime: number; numSamples: number; numSeries: number; numChunks: number };
  numTombstones?: number;
}

export interface RepairFacts {
  model: DumpModel;
  blocks: BlockFacts[];
  lockPaths: string[];
  tmpRoots: string[];
  unsafe: { path: string; message: string }[];
  truncated?: { path: string; message: string };
}
