/** Chunk payload decoding (tsdb-format.md §5). */
export interface XorSample { t: number; v: number }

/** Count, first and last timestamp of an XOR chunk (walks every sample for the last one). */
export declare function xorTimeRange(data: Uint8Array): { count: number; first: number; last: number };
/** All samples of an XOR chunk. */
export declare function decodeXor(data: Uint8Array): XorSample[];
/** Sample count of any chunk encoding (u16 at the start; 14 bits for encodings 5 and 6). */
export declare function chunkSampleCount(encoding: number, data: Uint8Array): number;
