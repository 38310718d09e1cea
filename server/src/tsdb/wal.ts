/** WAL, WBL and checkpoint segments (tsdb-format.md §7). */
import type { FormatProblem, PushScanner } from './types';

export const WAL_PAGE_SIZE = 32 * 1024;

export type WalRecord =
  | { type: 'series'; series: { ref: number; labels: [string, string][] }[] }
  | { type: 'samples'; samples: { ref: number; t: number; v: number }[] }
  | { type: 'tombstones'; tombstones: { ref: number; minTime: number; maxTime: number }[] }
  | { type: 'exemplars'; count: number }
  | { type: 'mmap-markers'; count: number }
  | { type: 'metadata'; count: number }
  | { type: 'histograms'; samples: { ref: number; t: number }[] }
  | { type: 'unknown'; recordType: number };

export interface WalProblem extends FormatProblem {
  /** `last record is torn`: the segment ends inside a record (normal only for a crash's last write). */
  torn: boolean;
}

export interface WalSegmentSummary {
  sizeBytes: number;
  records: number;
  samples: number;
  series: number;
  minTime?: number;
  maxTime?: number;
  /** The segment ends before a page boundary (active or crashed segment: normal). */
  endsMidPage: boolean;
  /** Offset after the last good record: what Prometheus's repair keeps. */
  goodUntil: number;
  problems: WalProblem[];
}

export interface WalScanOptions {
  /** Called for each decoded record, with the offset of its first fragment. */
  onRecord?: (r: WalRecord, offset: number) => void;
}

export declare function createWalSegmentScanner(opts?: WalScanOptions): PushScanner<WalSegmentSummary>;
/** `00000012` → 12; undefined for other names. */
export declare function parseWalSegmentName(name: string): number | undefined;
/** `checkpoint.00000011` → 11; undefined for others (including `.tmp`). */
export declare function parseCheckpointName(name: string): number | undefined;
