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
  /** Chunk files whose framing breaks: cut there (after the last whole chunk). */
  chunkTails?: { path: string; offset: number; message: string }[];
  /** What a strict read of the index found wrong (empty: nothing); its series then come from a salvage read. */
  indexProblems: string[];
  /** Index series entries with a bad CRC (a rewritten index leaves them out). */
  badSeries: number;
  /** The chunks of each chunk file (by ref position) that read whole: a rewritten index keeps only refs to these. */
  chunkFiles: { path: string; offsets: number[]; samples: number[]; histogram: boolean[] }[];
  /** Samples meta.json counts that no chunk read here holds (refs into nothing, bad series entries). */
  unreadableSamples: number;
  /** The series and time range of those samples (from the chunk metas that point at nothing). */
  unreadableSeries?: number;
  unreadableRange?: { from: number; to: number };
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
