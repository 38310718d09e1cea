/** meta.json of a block (docs/tsdb-format.md §2). */
export interface BlockMeta {
  ulid: string;
  minTime: number;
  maxTime: number;
  stats?: {
    numSamples?: number;
    numSeries?: number;
    numChunks?: number;
    numTombstones?: number;
    numFloatSamples?: number;
    numHistogramSamples?: number;
  };
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

/** A field's text range: start/end cover `"key": value`; valueStart/valueEnd the value alone. */
export interface FieldRange { start: number; end: number; valueStart: number; valueEnd: number }

/** Text ranges (character offsets into the JSON) of top-level fields, for editor diagnostics and hovers. */
export type MetaFieldRanges = Partial<Record<'ulid' | 'minTime' | 'maxTime' | 'stats' | 'compaction' | 'version', FieldRange>>;

export type MetaParse =
  | { ok: true; meta: BlockMeta; ranges: MetaFieldRanges }
  /** error is the text Prometheus logs as `err=`, e.g. `unexpected end of JSON input`. */
  | { ok: false; error: string };

/**
 * Parses like Prometheus's readMetaFile: Go's json.Unmarshal (same error texts for the common
 * cases), then the version check. Version 2 parses (Prometheus repairs it at startup, docs/tsdb-format.md §2); any
 * version but 1 and 2 fails with `unexpected meta file version %d`.
 */
export function parseMetaJson(bytes: Uint8Array): MetaParse {
  const text = new TextDecoder('utf-8').decode(bytes);
  const scan = scanJson(text);
  if (typeof scan === 'string') return { ok: false, error: scan };
  const raw = JSON.parse(text) as unknown;
  if (raw === null) return { ok: false, error: 'unexpected meta file version 0' };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, error: `json: cannot unmarshal ${goKind(raw)} into Go value of type tsdb.BlockMeta` };
  }
  try {
    const meta = toBlockMeta(raw as Record<string, unknown>);
    if (meta.version !== 1 && meta.version !== 2) return { ok: false, error: `unexpected meta file version ${meta.version}` };
    return { ok: true, meta, ranges: scan };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

/** Serialises like Prometheus does (json.MarshalIndent with a tab, Go field order, omitempty, no trailing newline). */
export function serializeMetaJson(meta: BlockMeta): Uint8Array {
  const stats: Record<string, number> = {};
  for (const k of ['numSamples', 'numFloatSamples', 'numHistogramSamples', 'numSeries', 'numChunks', 'numTombstones'] as const) {
    const v = meta.stats?.[k];
    if (v) stats[k] = v;
  }
  const c = meta.compaction;
  const compaction: Record<string, unknown> = { level: c.level };
  if (c.sources?.length) compaction.sources = c.sources;
  if (c.deletable) compaction.deletable = true;
  if (c.parents?.length) compaction.parents = c.parents.map((p) => ({ ulid: p.ulid, minTime: p.minTime, maxTime: p.maxTime }));
  if (c.failed) compaction.failed = true;
  if (c.hints?.length) compaction.hints = c.hints;
  const ordered = { ulid: meta.ulid, minTime: meta.minTime, maxTime: meta.maxTime, stats, compaction, version: meta.version };
  // Go writes `{}` for an empty struct, JSON.stringify with indent writes `{}` too.
  return new TextEncoder().encode(JSON.stringify(ordered, null, '\t'));
}

// ---- Go-compatible decoding of the known fields ----

function goKind(v: unknown): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'array';
  return 'object';
}

function typeError(v: unknown, field: string, goType: string): Error {
  const what = typeof v === 'number' ? `number ${v}` : goKind(v);
  return new Error(`json: cannot unmarshal ${what} into Go struct field ${field} of type ${goType}`);
}

function int(v: unknown, field: string, goType = 'int64'): number {
  if (v === null || v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw typeError(v, field, goType);
  return v;
}

function optInt(v: unknown, field: string, goType = 'uint64'): number | undefined {
  return v === null || v === undefined ? undefined : int(v, field, goType);
}

function bool(v: unknown, field: string): boolean | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'boolean') throw typeError(v, field, 'bool');
  return v;
}

/** oklog/ulid UnmarshalText (non-strict): only the size and the 48-bit overflow are checked. */
function ulidText(v: unknown, field: string): string {
  if (v === null || v === undefined) return '00000000000000000000000000';
  if (typeof v !== 'string') throw typeError(v, field, 'ulid.ULID');
  if (v.length !== 26) throw new Error('ulid: bad data size when unmarshaling');
  if (v[0] > '7') throw new Error('ulid: overflow when unmarshaling');
  return v;
}

function obj(v: unknown, field: string, goType: string): Record<string, unknown> {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw typeError(v, field, goType);
  return v as Record<string, unknown>;
}

function arr(v: unknown, field: string, goType: string): unknown[] | undefined {
  if (v === null || v === undefined) return undefined;
  if (!Array.isArray(v)) throw typeError(v, field, goType);
  return v;
}

/** Go matches JSON keys to struct tags case-insensitively; the exact spelling wins. */
function pick(o: Record<string, unknown>, key: string): unknown {
  if (key in o) return o[key];
  const lower = key.toLowerCase();
  for (const k of Object.keys(o)) if (k.toLowerCase() === lower) return o[k];
  return undefined;
}

function toBlockMeta(o: Record<string, unknown>): BlockMeta {
  const statsRaw = obj(pick(o, 'stats'), 'BlockMeta.stats', 'tsdb.BlockStats');
  const stats: NonNullable<BlockMeta['stats']> = {};
  for (const k of ['numSamples', 'numSeries', 'numChunks', 'numTombstones', 'numFloatSamples', 'numHistogramSamples'] as const) {
    const v = optInt(pick(statsRaw, k), `BlockMeta.stats.${k}`);
    if (v !== undefined) stats[k] = v;
  }
  const c = obj(pick(o, 'compaction'), 'BlockMeta.compaction', 'tsdb.BlockMetaCompaction');
  const compaction: BlockMeta['compaction'] = { level: int(pick(c, 'level'), 'BlockMeta.compaction.level', 'int') };
  const sources = arr(pick(c, 'sources'), 'BlockMeta.compaction.sources', '[]ulid.ULID');
  if (sources) compaction.sources = sources.map((s) => ulidText(s, 'BlockMeta.compaction.sources'));
  const parents = arr(pick(c, 'parents'), 'BlockMeta.compaction.parents', '[]tsdb.BlockDesc');
  if (parents) {
    compaction.parents = parents.map((p) => {
      const d = obj(p, 'BlockMeta.compaction.parents', 'tsdb.BlockDesc');
      return {
        ulid: ulidText(pick(d, 'ulid'), 'BlockMeta.compaction.parents.ulid'),
        minTime: int(pick(d, 'minTime'), 'BlockMeta.compaction.parents.minTime'),
        maxTime: int(pick(d, 'maxTime'), 'BlockMeta.compaction.parents.maxTime'),
      };
    });
  }
  const deletable = bool(pick(c, 'deletable'), 'BlockMeta.compaction.deletable');
  if (deletable !== undefined) compaction.deletable = deletable;
  const failed = bool(pick(c, 'failed'), 'BlockMeta.compaction.failed');
  if (failed !== undefined) compaction.failed = failed;
  const hints = arr(pick(c, 'hints'), 'BlockMeta.compaction.hints', '[]string');
  if (hints) {
    compaction.hints = hints.map((h) => {
      if (typeof h !== 'string') throw typeError(h, 'BlockMeta.compaction.hints', 'string');
      return h;
    });
  }
  return {
    ulid: ulidText(pick(o, 'ulid'), 'BlockMeta.ulid'),
    minTime: int(pick(o, 'minTime'), 'BlockMeta.minTime'),
    maxTime: int(pick(o, 'maxTime'), 'BlockMeta.maxTime'),
    stats,
    compaction,
    version: int(pick(o, 'version'), 'BlockMeta.version', 'int'),
  };
}

// ---- A JSON syntax check with Go's error texts, recording top-level field ranges ----

const TOP_FIELDS = new Set(['ulid', 'minTime', 'maxTime', 'stats', 'compaction', 'version']);

function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return "'\"'";
  const q = JSON.stringify(c);
  return `'${q.slice(1, -1)}'`;
}

/** Returns the ranges, or Go's error text (`unexpected end of JSON input`, `invalid character …`). */
function scanJson(s: string): MetaFieldRanges | string {
  let i = 0;
  const ranges: MetaFieldRanges = {};
  class Stop {
    constructor(readonly msg: string) {}
  }
  const eof = (): never => {
    throw new Stop('unexpected end of JSON input');
  };
  const bad = (context: string): never => {
    throw new Stop(`invalid character ${quoteChar(s[i])} ${context}`);
  };
  const ws = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === '\n' || s[i] === '\r')) i++;
  };
  const str = (): string => {
    const start = ++i;
    for (;;) {
      if (i >= s.length) eof();
      const c = s[i];
      if (c === '"') return JSON.parse(s.slice(start - 1, ++i)) as string;
      if (c < ' ') bad('in string literal');
      if (c === '\\') {
        i++;
        if (i >= s.length) eof();
        if (s[i] === 'u') {
          for (let k = 1; k <= 4; k++) {
            if (i + k >= s.length) eof();
            if (!/[0-9a-fA-F]/.test(s[i + k])) {
              i += k;
              bad('in \\u hexadecimal character escape');
            }
          }
          i += 5;
          continue;
        }
        if (!'"\\/bfnrt'.includes(s[i])) bad('in string escape code');
      }
      i++;
    }
  };
  const literal = (word: string) => {
    for (let k = 0; k < word.length; k++, i++) {
      if (i >= s.length) eof();
      if (s[i] !== word[k]) bad(`in literal ${word} (expecting ${quoteChar(word[k])})`);
    }
  };
  const digits = (): number => {
    const st = i;
    while (i < s.length && s[i] >= '0' && s[i] <= '9') i++;
    return i - st;
  };
  const num = () => {
    if (s[i] === '-') {
      i++;
      if (i >= s.length) eof();
      if (!(s[i] >= '0' && s[i] <= '9')) bad('in numeric literal');
    }
    if (s[i] === '0') i++;
    else digits();
    if (s[i] === '.') {
      i++;
      if (i >= s.length) eof();
      if (digits() === 0) bad('after decimal point in numeric literal');
    }
    if (s[i] === 'e' || s[i] === 'E') {
      i++;
      if (s[i] === '+' || s[i] === '-') i++;
      if (i >= s.length) eof();
      if (digits() === 0) bad('in exponent of numeric literal');
    }
  };
  const value = (depth: number) => {
    ws();
    if (i >= s.length) eof();
    const c = s[i];
    if (c === '{') {
      i++;
      ws();
      if (i >= s.length) eof();
      if (s[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (i >= s.length) eof();
        if (s[i] !== '"') bad('looking for beginning of object key string');
        const keyStart = i;
        const key = str();
        ws();
        if (i >= s.length) eof();
        if (s[i] !== ':') bad('after object key');
        i++;
        ws();
        const valueStart = i;
        value(depth + 1);
        if (depth === 0 && TOP_FIELDS.has(key)) {
          ranges[key as keyof MetaFieldRanges] = { start: keyStart, end: i, valueStart, valueEnd: i };
        }
        ws();
        if (i >= s.length) eof();
        if (s[i] === ',') {
          i++;
          continue;
        }
        if (s[i] === '}') {
          i++;
          return;
        }
        bad('after object key:value pair');
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (i >= s.length) eof();
      if (s[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (i >= s.length) eof();
        if (s[i] === ',') {
          i++;
          continue;
        }
        if (s[i] === ']') {
          i++;
          return;
        }
        bad('after array element');
      }
    }
    if (c === '"') return void str();
    if (c === '-' || (c >= '0' && c <= '9')) return num();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    bad('looking for beginning of value');
  };
  try {
    value(0);
    ws();
    if (i < s.length) bad('after top-level value');
    return ranges;
  } catch (e) {
    if (e instanceof Stop) return e.msg;
    throw e;
  }
}
