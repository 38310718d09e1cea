/** Block tombstones (tsdb-format.md §8). */
import type { FormatProblem } from './types';

export interface TombstoneInterval { seriesId: number; minTime: number; maxTime: number }
export interface TombstonesParse { intervals: TombstoneInterval[]; problems: FormatProblem[] }
export declare function parseTombstones(bytes: Uint8Array): TombstonesParse;
