/** meta.json of a block (tsdb-format.md §2). */
export interface BlockMeta {
  ulid: string;
  minTime: number;
  maxTime: number;
  stats?: { numSamples?: number; numSeries?: number; numChunks?: number; numTombstones?: number; numFloatSamples?: number; numHistogramSamples?: number };
  compaction: {
    level: number;
    sources?: string[];
    parents?: { ulid: string; minTime: number; maxTime: number }[];
    deletable?: boolean;
    failed?: boolean;
    hints?: string[];
  };
  version: number;
}

/** Text ranges (character offsets into the JSON) of top-level fields, for editor diagnostics and hovers. */
export type MetaFieldRanges = Partial<Record<'ulid' | 'minTime' | 'maxTime' | 'stats' | 'compaction' | 'version', { start: number; end: number }>>;

export type MetaParse =
  | { ok: true; meta: BlockMeta; ranges: MetaFieldRanges }
  /** error is the text Prometheus logs as `err=`, e.g. `unexpected end of JSON input`. */
  | { ok: false; error: string };

export declare function parseMetaJson(bytes: Uint8Array): MetaParse;
/** Serialises like Prometheus does (json.MarshalIndent with a tab). */
export declare function serializeMetaJson(meta: BlockMeta): Uint8Array;
