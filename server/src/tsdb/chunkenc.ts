/**
 * Chunk payload decoding (docs/tsdb-format.md §5). Bad data throws FormatError (offset = byte in the
 * payload); callers turn it into a problem.
 */
import { FormatError } from './cursor';

export interface XorSample { t: number; v: number }

/** MSB-first bit reader, as Prometheus's bstreamReader. */
class BitReader {
  private bit = 0;
  private readonly bitLen: number;
  constructor(private readonly data: Uint8Array, startByte: number) {
    this.bit = startByte * 8;
    this.bitLen = data.length * 8;
  }
  /** n ≤ 32 bits as an unsigned number. */
  bits(n: number): number {
    if (this.bit + n > this.bitLen) throw new FormatError('EOF', this.bit >>> 3);
    let v = 0;
    while (n > 0) {
      const used = this.bit & 7;
      const avail = 8 - used;
      const take = avail < n ? avail : n;
      const b = (this.data[this.bit >>> 3] >>> (avail - take)) & ((1 << take) - 1);
      v = v * (1 << take) + b;
      n -= take;
      this.bit += take;
    }
    return v;
  }
  bit1(): number {
    if (this.bit >= this.bitLen) throw new FormatError('EOF', this.bit >>> 3);
    const b = (this.data[this.bit >>> 3] >>> (7 - (this.bit & 7))) & 1;
    this.bit++;
    return b;
  }
  /** n ≤ 64 bits as a bigint. */
  bitsBig(n: number): bigint {
    if (n <= 32) return BigInt(this.bits(n));
    const hi = this.bits(n - 32);
    return (BigInt(hi) << 32n) | BigInt(this.bits(32));
  }
  skip(n: number): void {
    if (this.bit + n > this.bitLen) throw new FormatError('EOF', this.bit >>> 3);
    this.bit += n;
  }
  uvarint(): number {
    let x = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.bits(8);
      if (b < 0x80) return x + b * mul;
      x += (b & 0x7f) * mul;
      mul *= 128;
    }
    throw new FormatError('varint overflow', this.bit >>> 3);
  }
  varint(): number {
    const ux = this.uvarint();
    return ux % 2 === 0 ? ux / 2 : -(ux + 1) / 2;
  }
  /** Length of a run of 1 bits (at most `max`), consuming the terminating 0 when there is one. */
  ones(max: number): number {
    let n = 0;
    while (n < max && this.bit1() === 1) n++;
    return n;
  }
  /** putVarbitInt of tsdb/chunkenc/varbit.go: a 0–8 bit prefix of ones selects 0/3/6/9/12/18/25/56/64 value bits. */
  varbitInt(): number {
    const sz = VARBIT_SIZES[this.ones(8)];
    if (sz === 0) return 0;
    if (sz === 64) return Number(BigInt.asIntN(64, this.bitsBig(64)));
    const b = sz <= 32 ? this.bits(sz) : Number(this.bitsBig(sz));
    return b > 2 ** (sz - 1) ? b - 2 ** sz : b;
  }
  varbitUint(): number {
    const sz = VARBIT_SIZES[this.ones(8)];
    if (sz === 0) return 0;
    return sz <= 32 ? this.bits(sz) : Number(this.bitsBig(sz));
  }
  f64(): number {
    f64.setBigUint64(0, this.bitsBig(64));
    return f64.getFloat64(0);
  }
}

const VARBIT_SIZES = [0, 3, 6, 9, 12, 18, 25, 56, 64];

const f64 = new DataView(new ArrayBuffer(8));

/**
 * Walks an XOR chunk. With `values` unset the value fields are skipped without decoding (fast
 * path for time ranges); otherwise each sample is passed to it.
 */
function walkXor(data: Uint8Array, onSample?: (t: number, v: number) => void): { count: number; first: number; last: number } {
  if (data.length < 2) throw new FormatError('XOR chunk shorter than its sample count', 0);
  const count = (data[0] << 8) | data[1];
  if (count === 0) return { count: 0, first: 0, last: 0 };
  const r = new BitReader(data, 2);
  let t = r.varint();
  const first = t;
  let vbits = 0n;
  if (onSample) {
    vbits = r.bitsBig(64);
    f64.setBigUint64(0, vbits);
    onSample(t, f64.getFloat64(0));
  } else {
    r.skip(64);
  }
  let leading = 0;
  let trailing = 0;
  let tDelta = 0;
  for (let i = 1; i < count; i++) {
    if (i === 1) {
      tDelta = r.uvarint();
    } else {
      let d = 0;
      for (let k = 0; k < 4; k++) {
        d <<= 1;
        if (r.bit1() === 0) break;
        d |= 1;
      }
      let dod = 0;
      const sz = d === 0b10 ? 14 : d === 0b110 ? 17 : d === 0b1110 ? 20 : 0;
      if (sz) {
        let b = r.bits(sz);
        if (b > 2 ** (sz - 1)) b -= 2 ** sz;
        dod = b;
      } else if (d === 0b1111) {
        dod = Number(BigInt.asIntN(64, r.bitsBig(64)));
      }
      tDelta += dod;
    }
    t += tDelta;
    // Value field.
    if (r.bit1() === 1) {
      if (r.bit1() === 1) {
        leading = r.bits(5);
        let mbits = r.bits(6);
        if (mbits === 0) mbits = 64;
        trailing = 64 - leading - mbits;
        if (trailing < 0) throw new FormatError('invalid XOR window', 0);
      }
      const mbits = 64 - leading - trailing;
      if (onSample) vbits ^= r.bitsBig(mbits) << BigInt(trailing);
      else r.skip(mbits);
    }
    if (onSample) {
      f64.setBigUint64(0, vbits);
      onSample(t, f64.getFloat64(0));
    }
  }
  return { count, first, last: t };
}

/** Count, first and last timestamp of an XOR chunk (walks every sample for the last one). count 0 gives 0s. */
export function xorTimeRange(data: Uint8Array): { count: number; first: number; last: number } {
  return walkXor(data);
}

/** All samples of an XOR chunk. */
export function decodeXor(data: Uint8Array): XorSample[] {
  const out: XorSample[] = [];
  walkXor(data, (t, v) => out.push({ t, v }));
  return out;
}

/** Sample count of any chunk encoding (u16 at the start; 14 bits for encodings 5 and 6). The OOO bit 0x80 is ignored. */
export function chunkSampleCount(encoding: number, data: Uint8Array): number {
  if (data.length < 2) throw new FormatError('chunk shorter than its sample count', 0);
  const n = (data[0] << 8) | data[1];
  const enc = encoding & 0x7f;
  return enc === 5 || enc === 6 ? n & 0x3fff : n;
}

// ---- every encoding of tsdb/chunkenc/chunk.go (Prometheus 3.16) ------------------------------------

export const ENC_XOR = 1;
export const ENC_HISTOGRAM = 2;
export const ENC_FLOAT_HISTOGRAM = 3;
/** 3.11+ (`storage.tsdb.chunk_encoding.floats: xor2`, or the st-storage feature). */
export const ENC_XOR2 = 4;
/** 3.14+: histogram chunks with a start timestamp per sample. */
export const ENC_HISTOGRAM_ST = 5;
export const ENC_FLOAT_HISTOGRAM_ST = 6;
/** Bit set on the encoding byte of out-of-order chunks in chunks_head/ (never in blocks). */
export const OOO_BIT = 0x80;
/** Schema of native histograms with custom buckets (NHCB): bounds in customValues. */
export const CUSTOM_BUCKETS_SCHEMA = -53;

export function isKnownEncoding(encoding: number): boolean {
  const e = encoding & 0x7f;
  return e >= ENC_XOR && e <= ENC_FLOAT_HISTOGRAM_ST;
}
export function isHistogramEncoding(encoding: number): boolean {
  const e = encoding & 0x7f;
  return e === ENC_HISTOGRAM || e === ENC_FLOAT_HISTOGRAM || e === ENC_HISTOGRAM_ST || e === ENC_FLOAT_HISTOGRAM_ST;
}

/** Data bytes of a histogram chunk that always hold its schema: 3 header bytes, the zero threshold (≤ 9), a varbit int (≤ 9). */
export const SCHEMA_PREFIX_BYTES = 24;

/**
 * The schema of a histogram chunk (encodings 2, 3, 5, 6; the OOO bit ignored) from the first bytes
 * of its data: the layout opens the bit stream (tsdb/chunkenc/histogram_meta.go
 * writeHistogramChunkLayout), and one chunk holds one schema. Undefined for other encodings, an
 * empty chunk or too few bytes. CUSTOM_BUCKETS_SCHEMA (−53) means the layout also carries custom bounds.
 */
export function histogramChunkSchema(encoding: number, data: Uint8Array): number | undefined {
  if (!isHistogramEncoding(encoding) || data.length < 4) return undefined;
  const e = encoding & 0x7f;
  const raw = (data[0] << 8) | data[1];
  if ((e === ENC_HISTOGRAM_ST || e === ENC_FLOAT_HISTOGRAM_ST ? raw & 0x3fff : raw) === 0) return undefined;
  try {
    const r = new BitReader(data, 3);
    if (r.bits(8) === 255) r.f64();
    return r.varbitInt();
  } catch {
    return undefined;
  }
}

/** An encoding this reader does not know (a newer Prometheus): not damage, reported with its number. */
export class UnknownEncodingError extends Error {
  constructor(readonly encoding: number) {
    super(`unknown chunk encoding ${encoding}`);
  }
}

export interface Span { offset: number; length: number }
export interface HistogramValue {
  /** Counter reset header of the chunk: 0 unknown, 1 reset, 2 not reset, 3 gauge. */
  counterReset: number;
  schema: number;
  zeroThreshold: number;
  count: number;
  zeroCount: number;
  sum: number;
  positiveSpans: Span[];
  negativeSpans: Span[];
  /** Absolute bucket counts (integer histograms hold them as deltas; here they are summed up). */
  positiveBuckets: number[];
  negativeBuckets: number[];
  /** Upper bounds of the custom buckets (schema −53 only). */
  customValues?: number[];
}
export interface ChunkSample {
  t: number;
  /** Start timestamp (encodings 4–6) when the chunk stores one. */
  st?: number;
  /** Float value (encodings 1 and 4). */
  v?: number;
  /** Histogram value (encodings 2, 3, 5, 6). */
  h?: HistogramValue;
}
export interface ChunkFacts {
  encoding: number;
  count: number;
  /** First and last sample timestamp (0 for an empty chunk). */
  minTime: number;
  maxTime: number;
  histogram: boolean;
}

/**
 * Decodes a chunk payload of any encoding 1–6 (the OOO bit ignored). Each sample is passed to
 * `onSample` when given (values decoded); without it only timestamps and counts are computed.
 * Throws FormatError for damage and UnknownEncodingError for encodings above 6.
 */
export function decodeChunk(encoding: number, data: Uint8Array, onSample?: (s: ChunkSample) => void): ChunkFacts {
  const enc = encoding & 0x7f;
  let r: { count: number; first: number; last: number };
  switch (enc) {
    case ENC_XOR:
      r = onSample ? walkXor(data, (t, v) => onSample({ t, v })) : walkXor(data);
      break;
    case ENC_XOR2:
      r = walkXor2(data, onSample);
      break;
    case ENC_HISTOGRAM:
    case ENC_HISTOGRAM_ST:
    case ENC_FLOAT_HISTOGRAM:
    case ENC_FLOAT_HISTOGRAM_ST:
      r = walkHistogram(
        data,
        enc === ENC_FLOAT_HISTOGRAM || enc === ENC_FLOAT_HISTOGRAM_ST,
        enc === ENC_HISTOGRAM_ST || enc === ENC_FLOAT_HISTOGRAM_ST,
        onSample,
      );
      break;
    default:
      throw new UnknownEncodingError(enc);
  }
  return { encoding: enc, count: r.count, minTime: r.first, maxTime: r.last, histogram: isHistogramEncoding(enc) };
}

/** All samples of a chunk of any known encoding. */
export function decodeChunkSamples(encoding: number, data: Uint8Array): ChunkSample[] {
  const out: ChunkSample[] = [];
  decodeChunk(encoding, data, (s) => out.push(s));
  return out;
}

const STALE_NAN_BITS = 0x7ff0000000000002n;

/** stDecoder of tsdb/chunkenc/st.go: start timestamps after each sample, from the 1-byte ST header. */
class StDecoder {
  st = 0;
  private stDiff = 0;
  readonly firstKnown: boolean;
  readonly firstChangeOn: number;
  constructor(header: number) {
    this.firstKnown = (header & 0x80) !== 0;
    this.firstChangeOn = header & 0x7f;
  }
  get present(): boolean {
    return this.firstKnown || this.firstChangeOn > 0;
  }
  /** After sample `index` (0-based) at time t; prevT is the previous sample's time. */
  decode(r: BitReader, index: number, t: number, prevT: number): void {
    if (index === 0) {
      if (this.firstKnown) {
        this.stDiff = r.varint();
        this.st = t - this.stDiff;
      }
    } else if (this.firstChangeOn > 0 && index >= this.firstChangeOn) {
      const sdod = r.varbitInt();
      this.stDiff = index === this.firstChangeOn ? sdod : this.stDiff + sdod;
      this.st = prevT - this.stDiff;
    }
  }
}

/**
 * XOR2 (tsdb/chunkenc/xor2.go): u16 count, 1-byte ST header, then joint timestamp/value control
 * prefixes from the third sample on: 0 same dod and value, 10 value changed, 110/1110/11110 a 13/20/64-bit
 * dod then a value field, 11111 stale NaN.
 */
function walkXor2(data: Uint8Array, onSample?: (s: ChunkSample) => void): { count: number; first: number; last: number } {
  if (data.length < 3) throw new FormatError('XOR2 chunk shorter than its header', 0);
  const count = (data[0] << 8) | data[1];
  if (count === 0) return { count: 0, first: 0, last: 0 };
  const st = new StDecoder(data[2]);
  const r = new BitReader(data, 3);
  let t = r.varint();
  const first = t;
  let vbits = r.bitsBig(64);
  let baseline = vbits === STALE_NAN_BITS ? 0n : vbits;
  st.decode(r, 0, t, t);
  const emit = (bitsOfValue: bigint): void => {
    if (!onSample) return;
    f64.setBigUint64(0, bitsOfValue);
    onSample(st.present ? { t, st: st.st, v: f64.getFloat64(0) } : { t, v: f64.getFloat64(0) });
  };
  emit(vbits);
  let leading = 0;
  let trailing = 0;
  let tDelta = 0;
  const windowed = (newWindow: boolean): bigint => {
    if (newWindow) {
      leading = r.bits(5);
      let sig = r.bits(6);
      if (sig === 0) sig = 64;
      trailing = 64 - leading - sig;
      if (trailing < 0) throw new FormatError('invalid XOR2 window', 0);
    }
    const sz = 64 - leading - trailing;
    baseline ^= r.bitsBig(sz) << BigInt(trailing);
    return baseline;
  };
  // <varbit_xor2>: 0 unchanged, 10 reuse window, 110 new window, 111 stale NaN.
  const value = (): bigint => {
    if (r.bit1() === 0) return baseline;
    if (r.bit1() === 0) return windowed(false);
    if (r.bit1() === 0) return windowed(true);
    return STALE_NAN_BITS;
  };
  for (let i = 1; i < count; i++) {
    const prevT = t;
    if (i === 1) {
      tDelta = r.uvarint();
      t += tDelta;
      vbits = value();
    } else {
      const ctrl = r.ones(5);
      if (ctrl === 0) {
        t += tDelta;
        vbits = baseline;
      } else if (ctrl === 1) {
        t += tDelta;
        vbits = windowed(r.bit1() === 1); // <varbit_xor2_nn>: 0 reuse, 1 new window
      } else if (ctrl <= 4) {
        const w = ctrl === 2 ? 13 : ctrl === 3 ? 20 : 64;
        let dod: number;
        if (w === 64) dod = Number(BigInt.asIntN(64, r.bitsBig(64)));
        else {
          dod = r.bits(w);
          if (dod >= 2 ** (w - 1)) dod -= 2 ** w;
        }
        tDelta += dod;
        t += tDelta;
        vbits = value();
      } else {
        t += tDelta;
        vbits = STALE_NAN_BITS;
      }
    }
    st.decode(r, i, t, prevT);
    emit(vbits);
  }
  return { count, first, last: t };
}

/** xorRead of tsdb/chunkenc/xor.go over one float field with its own window. */
class XorField {
  bits = 0n;
  private leading = 0;
  private trailing = 0;
  read(r: BitReader): void {
    if (r.bit1() === 0) return;
    if (r.bit1() === 1) {
      this.leading = r.bits(5);
      let mbits = r.bits(6);
      if (mbits === 0) mbits = 64;
      this.trailing = 64 - this.leading - mbits;
      if (this.trailing < 0) throw new FormatError('invalid XOR window', 0);
    }
    this.bits ^= r.bitsBig(64 - this.leading - this.trailing) << BigInt(this.trailing);
  }
  get value(): number {
    f64.setBigUint64(0, this.bits);
    return f64.getFloat64(0);
  }
}

/** Largest bucket count one chunk layout may declare: more cannot fit in a chunk (16-bit count, ≤ 1 bit per bucket and sample). */
const MAX_LAYOUT_BUCKETS = 1 << 20;

function readSpans(r: BitReader): Span[] {
  const n = r.varbitUint();
  if (n > MAX_LAYOUT_BUCKETS) throw new FormatError(`histogram layout with ${n} spans`, 0);
  const spans: Span[] = [];
  for (let i = 0; i < n; i++) {
    const length = r.varbitUint();
    const offset = r.varbitInt();
    spans.push({ offset, length });
  }
  return spans;
}

/**
 * Integer and float histogram chunks, with or without start timestamps (tsdb/chunkenc/histogram.go,
 * float_histogram.go, histogram_st.go, float_histogram_st.go, histogram_meta.go). Header: u16 count
 * (14 bits + counter reset header in the top 2 bits for the ST encodings), then the counter reset
 * byte (or the ST header); the layout (zero threshold, schema, spans, custom bounds) opens the bit stream.
 */
function walkHistogram(
  data: Uint8Array,
  float: boolean,
  withSt: boolean,
  onSample?: (s: ChunkSample) => void,
): { count: number; first: number; last: number } {
  if (data.length < 3) throw new FormatError('histogram chunk shorter than its header', 0);
  const raw = (data[0] << 8) | data[1];
  const count = withSt ? raw & 0x3fff : raw;
  const counterReset = (withSt ? data[0] : data[2]) >>> 6;
  if (count === 0) return { count: 0, first: 0, last: 0 };
  const st = withSt ? new StDecoder(data[2]) : undefined;
  const r = new BitReader(data, 3);
  // Layout.
  const zt = r.bits(8);
  const zeroThreshold = zt === 0 ? 0 : zt === 255 ? r.f64() : 0.5 * 2 ** (zt - 243);
  const schema = r.varbitInt();
  if (!((schema >= -4 && schema <= 8) || schema === CUSTOM_BUCKETS_SCHEMA)) throw new FormatError(`unknown histogram schema ${schema}`, 0);
  const positiveSpans = readSpans(r);
  const negativeSpans = readSpans(r);
  let customValues: number[] | undefined;
  if (schema === CUSTOM_BUCKETS_SCHEMA) {
    const n = r.varbitUint();
    if (n > MAX_LAYOUT_BUCKETS) throw new FormatError(`histogram layout with ${n} custom bounds`, 0);
    customValues = [];
    for (let i = 0; i < n; i++) {
      const b = r.varbitUint();
      customValues.push(b === 0 ? r.f64() : (b - 1) / 1000);
    }
  }
  const nPos = positiveSpans.reduce((a, x) => a + x.length, 0);
  const nNeg = negativeSpans.reduce((a, x) => a + x.length, 0);
  if (nPos + nNeg > MAX_LAYOUT_BUCKETS || nPos + nNeg > data.length * 8)
    throw new FormatError(`histogram layout with ${nPos + nNeg} buckets`, 0);
  const emit = (t: number, cnt: number, zcnt: number, sum: number, pos: ArrayLike<number>, neg: ArrayLike<number>): void => {
    if (!onSample) return;
    const h: HistogramValue = {
      counterReset,
      schema,
      zeroThreshold,
      count: cnt,
      zeroCount: zcnt,
      sum,
      positiveSpans,
      negativeSpans,
      positiveBuckets: Array.from(pos),
      negativeBuckets: Array.from(neg),
    };
    if (customValues) h.customValues = customValues;
    onSample(st?.present ? { t, st: st.st, h } : { t, h });
  };
  let t = r.varbitInt();
  const first = t;
  let tDelta = 0;
  if (float) {
    const cnt = new XorField();
    const zcnt = new XorField();
    const sum = new XorField();
    const pos = Array.from({ length: nPos }, () => new XorField());
    const neg = Array.from({ length: nNeg }, () => new XorField());
    cnt.bits = r.bitsBig(64);
    zcnt.bits = r.bitsBig(64);
    sum.bits = r.bitsBig(64);
    for (const b of pos) b.bits = r.bitsBig(64);
    for (const b of neg) b.bits = r.bitsBig(64);
    st?.decode(r, 0, t, t);
    const values = (xs: XorField[]): number[] => xs.map((x) => x.value);
    emit(t, cnt.value, zcnt.value, sum.value, values(pos), values(neg));
    for (let i = 1; i < count; i++) {
      const prevT = t;
      tDelta += r.varbitInt();
      t += tDelta;
      cnt.read(r);
      zcnt.read(r);
      sum.read(r);
      if (sum.bits !== STALE_NAN_BITS) {
        for (const b of pos) b.read(r);
        for (const b of neg) b.read(r);
      }
      st?.decode(r, i, t, prevT);
      emit(t, cnt.value, zcnt.value, sum.value, values(pos), values(neg));
    }
    return { count, first, last: t };
  }
  let cnt = r.varbitUint();
  let zcnt = r.varbitUint();
  const sum = new XorField();
  sum.bits = r.bitsBig(64);
  // Buckets are stored as deltas from the previous bucket; samples after the first as delta-of-delta.
  const pDelta = new Float64Array(nPos);
  const nDelta = new Float64Array(nNeg);
  const pDd = new Float64Array(nPos);
  const nDd = new Float64Array(nNeg);
  const absolute = (deltas: Float64Array): number[] => {
    const out: number[] = new Array(deltas.length);
    let cur = 0;
    for (let i = 0; i < deltas.length; i++) out[i] = cur += deltas[i];
    return out;
  };
  for (let i = 0; i < nPos; i++) pDelta[i] = r.varbitInt();
  for (let i = 0; i < nNeg; i++) nDelta[i] = r.varbitInt();
  st?.decode(r, 0, t, t);
  if (onSample) emit(t, cnt, zcnt, sum.value, absolute(pDelta), absolute(nDelta));
  let cntDelta = 0;
  let zcntDelta = 0;
  for (let i = 1; i < count; i++) {
    const prevT = t;
    tDelta += r.varbitInt();
    t += tDelta;
    cntDelta += r.varbitInt();
    cnt += cntDelta;
    zcntDelta += r.varbitInt();
    zcnt += zcntDelta;
    sum.read(r);
    if (sum.bits !== STALE_NAN_BITS) {
      for (let j = 0; j < nPos; j++) pDelta[j] += pDd[j] += r.varbitInt();
      for (let j = 0; j < nNeg; j++) nDelta[j] += nDd[j] += r.varbitInt();
    }
    st?.decode(r, i, t, prevT);
    if (onSample) emit(t, cnt, zcnt, sum.value, absolute(pDelta), absolute(nDelta));
  }
  return { count, first, last: t };
}
