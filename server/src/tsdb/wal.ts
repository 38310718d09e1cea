/** WAL, WBL and checkpoint segments (docs/tsdb-format.md §7), following 2.42's wlog.Reader and record.Decoder. */
import { uncompress } from 'snappyjs';
import { Decompress as ZstdStream, decompress as zstdDecompress } from 'fzstd';
import { Cursor, FormatError, decodeUtf8 } from './cursor';
import { crc32c, hex, readCrc } from './crc32c';
import { parseCheckpointDirName, parseDecimalName } from './blockDir';
import type { FormatProblem, PushScanner } from './types';

export const WAL_PAGE_SIZE = 32 * 1024;
/** A fragment header: type byte, 2-byte length, 4-byte CRC32C (tsdb/wlog/wlog.go recordHeaderSize). */
export const HEADER_SIZE = 7;
/** Records larger than this after decompression are treated as damage (real ones are far smaller). */
const MAX_RECORD_BYTES = 256 << 20;

/** A histogram of a WAL record (EncodeHistogram / EncodeFloatHistogram of tsdb/record/record.go). */
export interface WalHistogram {
  counterResetHint: number;
  schema: number;
  zeroThreshold: number;
  zeroCount: number;
  count: number;
  sum: number;
  positiveSpans: { offset: number; length: number }[];
  negativeSpans: { offset: number; length: number }[];
  /** As stored: deltas between consecutive buckets for integer histograms, absolute counts for float ones. */
  positiveBuckets: number[];
  negativeBuckets: number[];
  customValues?: number[];
}

export type WalRecord =
  | { type: 'series'; series: { ref: number; labels: [string, string][] }[] }
  /** Record type 2, or 11 (SamplesV2, 3.11+, with a start timestamp `st` per sample; 0 = none). */
  | { type: 'samples'; recordType: number; samples: { ref: number; t: number; v: number; st?: number }[] }
  | { type: 'tombstones'; tombstones: { ref: number; minTime: number; maxTime: number }[] }
  | { type: 'exemplars'; count: number }
  | { type: 'mmap-markers'; count: number }
  | { type: 'metadata'; count: number }
  /** Record types 7–10 and the V2 types 12–13 (start timestamp per sample); `h` only when decoded. */
  | { type: 'histograms'; recordType: number; float: boolean; samples: { ref: number; t: number; st?: number; h: WalHistogram }[] }
  /** Type 14 (3.16): the mint of the WAL truncation, written only into checkpoints. */
  | { type: 'min-valid-time'; minTime: number }
  | { type: 'unknown'; recordType: number };

export interface WalProblem extends FormatProblem {
  /** `last record is torn`: the segment ends inside a record (normal only for a crash's last write). */
  torn: boolean;
  /** Not damage: a record type this reader does not know (a newer Prometheus); `recordType` names it. */
  unsupported?: boolean;
  recordType?: number;
  /**
   * The reader's position when it failed: what Prometheus prints as `corruption in segment … at N`
   * (verified: a CRC failure in the second fragment of a record is reported at that fragment's end).
   */
  readerOffset?: number;
}

export interface WalSegmentSummary {
  sizeBytes: number;
  records: number;
  /** Float and histogram samples. */
  samples: number;
  /** Of which histogram samples (record types 7–10, 12, 13). */
  histogramSamples: number;
  /** Records per record type (1–14, and unknown ones by their number). */
  recordTypes: Record<number, number>;
  /** Records per compression: none, snappy (flag 0x08), zstd (flag 0x10, 2.46+). */
  compression: { none: number; snappy: number; zstd: number };
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
  /** Called for each record's bytes after decompression (valid only during the call), before it is decoded. */
  onRawRecord?: (body: Uint8Array, offset: number) => void;
}

// Fragment types (low 3 bits of the type byte) and compression flags (tsdb/wlog/wlog.go); the
// writer (write/walWriter.ts) uses the same.
export const REC_PAGE_TERM = 0;
export const REC_FULL = 1;
export const REC_FIRST = 2;
export const REC_MIDDLE = 3;
export const REC_LAST = 4;
export const SNAPPY = 0x08;
export const ZSTD = 0x10;

class WalSegmentScanner implements PushScanner<WalSegmentSummary> {
  private fileOffset = 0;
  private readonly page = new Uint8Array(WAL_PAGE_SIZE);
  private pageFill = 0;
  /** Set at the first damage: like Prometheus, nothing after it is read. */
  private stopped = false;
  // The record being assembled from fragments.
  private rec = new Uint8Array(4096);
  private recLen = 0;
  private fragmentsInRecord = 0;
  private recStart = 0;
  private lastType = REC_FULL;
  private readonly unknownReported = new Set<number>();
  private readonly s: WalSegmentSummary = {
    sizeBytes: 0, records: 0, samples: 0, histogramSamples: 0, series: 0, recordTypes: {}, compression: { none: 0, snappy: 0, zstd: 0 },
    endsMidPage: false, goodUntil: 0, problems: [],
  };

  constructor(private readonly opts: WalScanOptions) {}

  push(buf: Uint8Array): void {
    let pos = 0;
    while (pos < buf.length) {
      const pageStart = this.fileOffset - this.pageFill;
      // Whole pages straight from the pushed buffer, without copying.
      if (this.pageFill === 0 && buf.length - pos >= WAL_PAGE_SIZE) {
        this.fileOffset += WAL_PAGE_SIZE;
        if (!this.stopped) this.readPage(buf.subarray(pos, pos + WAL_PAGE_SIZE), pageStart, WAL_PAGE_SIZE);
        pos += WAL_PAGE_SIZE;
        continue;
      }
      const n = Math.min(WAL_PAGE_SIZE - this.pageFill, buf.length - pos);
      this.page.set(buf.subarray(pos, pos + n), this.pageFill);
      this.pageFill += n;
      this.fileOffset += n;
      pos += n;
      if (this.pageFill === WAL_PAGE_SIZE) {
        if (!this.stopped) this.readPage(this.page, pageStart, WAL_PAGE_SIZE);
        this.pageFill = 0;
      }
    }
  }

  end(): WalSegmentSummary {
    const s = this.s;
    s.sizeBytes = this.fileOffset;
    s.endsMidPage = this.fileOffset % WAL_PAGE_SIZE !== 0;
    if (this.pageFill > 0 && !this.stopped) {
      // Prometheus reads a short segment as if zero-padded to the page end.
      this.page.fill(0, this.pageFill);
      this.readPage(this.page, this.fileOffset - this.pageFill, this.pageFill);
      this.pageFill = 0;
    }
    if (!this.stopped && this.fragmentsInRecord > 0) {
      // At EOF the reader has consumed the zeros it pretends are there up to the page end.
      const pageEnd = Math.ceil(this.fileOffset / WAL_PAGE_SIZE) * WAL_PAGE_SIZE;
      this.problem('last record is torn', this.recStart, true, pageEnd);
    }
    // A record may end in the zeros read past EOF; what can be kept ends at the file's end.
    s.goodUntil = Math.min(s.goodUntil, s.sizeBytes);
    return s;
  }

  private problem(message: string, offset: number, torn: boolean, readerOffset: number): void {
    this.s.problems.push({ message, offset, torn, readerOffset });
    this.stopped = true;
  }

  /** One page; `real` bytes of it are in the file (the rest reads as zeros). */
  private readPage(page: Uint8Array, pageStart: number, real: number): void {
    let p = 0;
    while (p < WAL_PAGE_SIZE && !this.stopped) {
      const typeByte = page[p];
      const typ = typeByte & 0x07;
      if (typ === REC_PAGE_TERM) {
        for (let i = p + 1; i < WAL_PAGE_SIZE; i++) {
          if (page[i] !== 0)
            return this.problem('unexpected non-zero byte in padded page', pageStart + i, false, pageStart + WAL_PAGE_SIZE);
        }
        return;
      }
      if (p + HEADER_SIZE > WAL_PAGE_SIZE) {
        return this.problem(
          `fragment header crosses the page boundary at ${pageStart + WAL_PAGE_SIZE}`,
          pageStart + p,
          false,
          pageStart + WAL_PAGE_SIZE,
        );
      }
      const len = (page[p + 1] << 8) | page[p + 2];
      const stored = readCrc(page, p + 3);
      const at = pageStart + p;
      if (len > WAL_PAGE_SIZE - HEADER_SIZE) return this.problem(`invalid record size ${len}`, at, false, at + HEADER_SIZE);
      const dataAt = p + HEADER_SIZE;
      if (dataAt + len > WAL_PAGE_SIZE) {
        return this.problem(
          `fragment of ${len} bytes crosses the page boundary at ${pageStart + WAL_PAGE_SIZE}`,
          at,
          false,
          at + HEADER_SIZE + len,
        );
      }
      const data = page.subarray(dataAt, dataAt + len);
      const actual = crc32c(data);
      // A fragment cut by the end of the file is a torn write: its missing bytes read as zeros.
      const fragmentEnd = pageStart + dataAt + len;
      if (actual !== stored)
        return this.problem(
          `unexpected checksum ${hex(actual)}, expected ${hex(stored)}`,
          at,
          dataAt + len > real || p + HEADER_SIZE > real,
          fragmentEnd,
        );
      const orderError = this.validateOrder(typ);
      if (orderError) return this.problem(orderError, at, false, fragmentEnd);
      if (this.fragmentsInRecord === 0) this.recStart = at;
      this.append(data);
      this.lastType = typ;
      p = dataAt + len;
      if (typ === REC_FULL || typ === REC_LAST) {
        this.fragmentsInRecord = 0;
        const ok = this.completeRecord(typeByte, pageStart + p);
        this.recLen = 0;
        if (!ok) return;
      } else {
        this.fragmentsInRecord++;
      }
    }
  }

  private validateOrder(typ: number): string | undefined {
    const i = this.fragmentsInRecord;
    switch (typ) {
      case REC_FULL:
        return i !== 0 ? 'unexpected full record' : undefined;
      case REC_FIRST:
        return i !== 0 ? 'unexpected first record, dropping buffer' : undefined;
      case REC_MIDDLE:
        return i === 0 ? 'unexpected middle record, dropping buffer' : undefined;
      case REC_LAST:
        return i === 0 ? 'unexpected last record, dropping buffer' : undefined;
      default:
        return `unexpected record type ${typ}`;
    }
  }

  private append(data: Uint8Array): void {
    if (this.recLen + data.length > this.rec.length) {
      const bigger = new Uint8Array(Math.max(this.rec.length * 2, this.recLen + data.length));
      bigger.set(this.rec.subarray(0, this.recLen));
      this.rec = bigger;
    }
    this.rec.set(data, this.recLen);
    this.recLen += data.length;
  }

  /** Decompresses and decodes the assembled record; false when that failed (and stopped the scan). */
  private completeRecord(typeByte: number, endOffset: number): boolean {
    let body: Uint8Array = this.rec.subarray(0, this.recLen);
    const c = this.s.compression;
    if (typeByte & ZSTD && body.length > 0) {
      // Prometheus 2.46+ with --storage.tsdb.wal-compression-type=zstd (tsdb/wlog/wlog.go).
      c.zstd++;
      const out = decompressZstd(body);
      if (typeof out === 'string') {
        this.problem(out, this.recStart, false, endOffset);
        return false;
      }
      body = out;
    } else if (typeByte & SNAPPY && body.length > 0) {
      c.snappy++;
      try {
        body = uncompress(body, MAX_RECORD_BYTES);
      } catch {
        this.problem('snappy: corrupt input', this.recStart, false, endOffset);
        return false;
      }
    } else c.none++;
    this.opts.onRawRecord?.(body, this.recStart);
    const err = this.decodeRecord(body);
    if (err) {
      this.problem(err, this.recStart, false, endOffset);
      return false;
    }
    this.s.records++;
    this.s.goodUntil = endOffset;
    return true;
  }

  private time(t: number): void {
    const s = this.s;
    if (s.minTime === undefined || t < s.minTime) s.minTime = t;
    if (s.maxTime === undefined || t > s.maxTime) s.maxTime = t;
  }

  /** Decodes like record.Decoder; returns Prometheus's error text (as wrapped in head_wal.go) or undefined. */
  private decodeRecord(body: Uint8Array): string | undefined {
    if (body.length === 0) return 'decode: empty record';
    const recordType = body[0];
    this.s.recordTypes[recordType] = (this.s.recordTypes[recordType] ?? 0) + 1;
    const d = new Cursor(body, 0, 1);
    const emit = this.opts.onRecord;
    const s = this.s;
    let what = 'decode';
    try {
      switch (recordType) {
        case 1: {
          what = 'decode series';
          const series: { ref: number; labels: [string, string][] }[] = [];
          let n = 0;
          while (d.remaining > 0) {
            const ref = d.u64n();
            const labels = readLabels(d);
            n++;
            if (emit) series.push({ ref, labels });
          }
          s.series += n;
          emit?.({ type: 'series', series }, this.recStart);
          return undefined;
        }
        case 2: {
          what = 'decode samples';
          const samples: { ref: number; t: number; v: number }[] = [];
          if (d.remaining === 0) {
            emit?.({ type: 'samples', recordType, samples }, this.recStart);
            return undefined;
          }
          const baseRef = d.u64n();
          const baseT = d.i64();
          let n = 0;
          try {
            while (d.remaining > 0) {
              const ref = baseRef + d.varint();
              const t = baseT + d.varint();
              const v = d.f64();
              n++;
              this.time(t);
              if (emit) samples.push({ ref, t, v });
            }
          } catch (e) {
            if (e instanceof FormatError) return `decode samples: decode error after ${n} samples: invalid size`;
            throw e;
          }
          s.samples += n;
          emit?.({ type: 'samples', recordType, samples }, this.recStart);
          return undefined;
        }
        case 11: {
          // SamplesV2 (3.11+): varint ref/t/st of the first sample, then ref delta to the previous
          // sample, t delta to the first, an ST marker (0 none, 1 same as previous, 2 explicit delta to the first).
          what = 'decode samples';
          const samples: { ref: number; t: number; v: number; st: number }[] = [];
          const n = readV2Samples(d, () => d.f64(), (ref, t, st, v) => {
            this.time(t);
            if (emit) samples.push({ ref, t, v, st });
          });
          s.samples += n;
          emit?.({ type: 'samples', recordType, samples }, this.recStart);
          return undefined;
        }
        case 12:
        case 13: {
          what = 'decode histograms';
          const float = recordType === 13;
          const samples: { ref: number; t: number; st: number; h: WalHistogram }[] = [];
          const n = readV2Samples(d, () => readHistogram(d, float, true), (ref, t, st, h) => {
            this.time(t);
            if (emit) samples.push({ ref, t, st, h });
          });
          s.samples += n;
          s.histogramSamples += n;
          emit?.({ type: 'histograms', recordType, float, samples }, this.recStart);
          return undefined;
        }
        case 14: {
          what = 'decode min valid time';
          const minTime = d.i64();
          emit?.({ type: 'min-valid-time', minTime }, this.recStart);
          return undefined;
        }
        case 3: {
          what = 'decode tombstones';
          const tombstones: { ref: number; minTime: number; maxTime: number }[] = [];
          while (d.remaining > 0) {
            const t = { ref: d.u64n(), minTime: d.varint(), maxTime: d.varint() };
            if (emit) tombstones.push(t);
          }
          emit?.({ type: 'tombstones', tombstones }, this.recStart);
          return undefined;
        }
        case 4: {
          what = 'decode exemplars';
          let count = 0;
          if (d.remaining > 0) {
            d.u64n();
            d.i64();
            while (d.remaining > 0) {
              d.varint();
              d.varint();
              d.f64();
              readLabels(d);
              count++;
            }
          }
          emit?.({ type: 'exemplars', count }, this.recStart);
          return undefined;
        }
        case 5: {
          what = 'decode mmap markers';
          let count = 0;
          while (d.remaining > 0) {
            d.u64n();
            d.u64n();
            count++;
          }
          emit?.({ type: 'mmap-markers', count }, this.recStart);
          return undefined;
        }
        case 6: {
          what = 'decode metadata';
          let count = 0;
          while (d.remaining > 0) {
            d.uvarint();
            d.u8();
            const fields = d.uvarint();
            for (let i = 0; i < fields; i++) {
              d.string();
              d.string();
            }
            count++;
          }
          emit?.({ type: 'metadata', count }, this.recStart);
          return undefined;
        }
        case 7:
        case 8:
        case 9:
        case 10: {
          what = 'decode histograms';
          const float = recordType === 8 || recordType === 10;
          const samples: { ref: number; t: number; h: WalHistogram }[] = [];
          let n = 0;
          if (d.remaining > 0) {
            const baseRef = d.u64n();
            const baseT = d.i64();
            const custom = recordType >= 9;
            while (d.remaining > 0) {
              const ref = baseRef + d.varint();
              const t = baseT + d.varint();
              const h = readHistogram(d, float, custom);
              n++;
              this.time(t);
              if (emit) samples.push({ ref, t, h });
            }
          }
          s.samples += n;
          s.histogramSamples += n;
          emit?.({ type: 'histograms', recordType, float, samples }, this.recStart);
          return undefined;
        }
        default:
          // Prometheus's decoder skips record types it does not know (tsdb/head_wal.go), so a newer
          // Prometheus's records are read as nothing: reported once per type as unknown, not damage.
          if (!this.unknownReported.has(recordType)) {
            this.unknownReported.add(recordType);
            s.problems.push({
              message: `unknown WAL record type ${recordType}`,
              offset: this.recStart,
              torn: false,
              unsupported: true,
              recordType,
            });
          }
          emit?.({ type: 'unknown', recordType }, this.recStart);
          return undefined;
      }
    } catch (e) {
      if (e instanceof FormatError) return `${what}: invalid size`;
      throw e;
    }
  }
}

function readLabels(d: Cursor): [string, string][] {
  const n = d.uvarint();
  const labels: [string, string][] = [];
  for (let i = 0; i < n; i++) {
    const name = decodeUtf8(d.bytes(d.uvarint()));
    const value = decodeUtf8(d.bytes(d.uvarint()));
    labels.push([name, value]);
  }
  return labels;
}

/**
 * The body of a V2 sample record (types 11-13, tsdb/record/record.go): varint ref, t and st of the
 * first sample, then per sample its value, and before each next one its ref delta to the previous
 * sample, its t delta to the first and an ST marker. Returns the number of samples.
 */
function readV2Samples<V>(d: Cursor, readValue: () => V, onSample: (ref: number, t: number, st: number, value: V) => void): number {
  if (d.remaining === 0) return 0;
  let ref = d.varint();
  const firstT = d.varint();
  const firstSt = d.varint();
  let st = firstSt;
  let t = firstT;
  for (let n = 1; ; n++) {
    onSample(ref, t, st, readValue());
    if (d.remaining === 0) return n;
    ref += d.varint();
    t = firstT + d.varint();
    st = readStMarker(d, firstSt, st);
  }
}

/** Start timestamp marker of the V2 records (writeSTMarker, tsdb/record/record.go). */
function readStMarker(d: Cursor, firstSt: number, prevSt: number): number {
  const m = d.u8();
  if (m === 0) return 0;
  if (m === 1) return prevSt;
  if (m === 2) return firstSt + d.varint();
  throw new FormatError(`invalid start timestamp marker ${m}`, d.offset);
}

/** One encoded histogram (EncodeHistogram / EncodeFloatHistogram, tsdb/record/record.go); lengths are checked against what remains. */
function readHistogram(d: Cursor, float: boolean, customCapable: boolean): WalHistogram {
  const counterResetHint = d.u8();
  const schema = d.varint();
  const zeroThreshold = d.f64();
  const zeroCount = float ? d.f64() : d.uvarint();
  const count = float ? d.f64() : d.uvarint();
  const sum = d.f64();
  const spans = (): { offset: number; length: number }[] => {
    const n = d.uvarint();
    if (n * 2 > d.remaining) throw new FormatError('invalid size', d.offset);
    const out: { offset: number; length: number }[] = [];
    for (let i = 0; i < n; i++) out.push({ offset: d.varint(), length: d.uvarint() });
    return out;
  };
  const positiveSpans = spans();
  const negativeSpans = spans();
  const buckets = (): number[] => {
    const n = d.uvarint();
    if (n * (float ? 8 : 1) > d.remaining) throw new FormatError('invalid size', d.offset);
    const out: number[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = float ? d.f64() : d.varint();
    return out;
  };
  const positiveBuckets = buckets();
  const negativeBuckets = buckets();
  const h: WalHistogram = {
    counterResetHint,
    schema,
    zeroThreshold,
    zeroCount,
    count,
    sum,
    positiveSpans,
    negativeSpans,
    positiveBuckets,
    negativeBuckets,
  };
  if (customCapable && schema === -53) {
    const n = d.uvarint();
    if (n * 8 > d.remaining) throw new FormatError('invalid size', d.offset);
    h.customValues = [];
    for (let i = 0; i < n; i++) h.customValues.push(d.f64());
  }
  return h;
}

/** Largest decompressed-to-compressed ratio accepted from a zstd frame header before allocating (real WAL records are < 20×). */
const MAX_ZSTD_RATIO = 1024;

/**
 * Decompresses one zstd record (one frame, tsdb/wlog/wlog.go). With a content size in the frame
 * header (Go's EncodeAll writes it for most records) the output is allocated once after bounding
 * that size; without one (observed in 3.x wbl/ segments) the frame is streamed and stopped as soon
 * as it grows past the bound. A damaged frame gives a message instead of an exception.
 */
function decompressZstd(body: Uint8Array): Uint8Array | string {
  if (body.length < 6 || body[0] !== 0x28 || body[1] !== 0xb5 || body[2] !== 0x2f || body[3] !== 0xfd)
    return 'zstd: invalid input: magic number mismatch';
  const flags = body[4];
  const singleSegment = (flags >> 5) & 1;
  const fcsFlag = flags >> 6;
  const dictBytes = [0, 1, 2, 4][flags & 3];
  const fcsBytes = fcsFlag ? 1 << fcsFlag : singleSegment;
  let at = 5 + (singleSegment ? 0 : 1) + dictBytes;
  const limit = Math.min(MAX_RECORD_BYTES, Math.max(1 << 20, body.length * MAX_ZSTD_RATIO));
  try {
    if (fcsBytes === 0) {
      // Window descriptor (RFC 8878 §3.1.1.1.2): fzstd allocates the window, so bound it first.
      const wb = 2 ** (10 + (body[5] >> 3));
      const window = wb + (wb / 8) * (body[5] & 7);
      if (window > limit) return `zstd: window size ${window} is implausible for a ${body.length}-byte record`;
      const parts: Uint8Array[] = [];
      let total = 0;
      const stream = new ZstdStream((chunk) => {
        total += chunk.length;
        if (total > limit) throw new FormatError(`zstd: record decompresses to more than ${limit} bytes`, 0);
        parts.push(chunk.slice());
      });
      stream.push(body, true);
      const out = new Uint8Array(total);
      let p = 0;
      for (const c of parts) {
        out.set(c, p);
        p += c.length;
      }
      return out;
    }
    if (at + fcsBytes > body.length) return 'zstd: unexpected EOF in frame header';
    let size = 0;
    for (let i = 0; i < fcsBytes; i++) size += body[at++] * 2 ** (8 * i);
    if (fcsBytes === 2) size += 256;
    if (size > limit) return `zstd: frame content size ${size} is implausible for a ${body.length}-byte record`;
    const out = zstdDecompress(body, new Uint8Array(size));
    return out.length === size ? out : out.subarray(0, size);
  } catch (e) {
    if (e instanceof FormatError) return e.message;
    return `zstd: corrupt input: ${e instanceof Error ? e.message : String(e)}`;
  }
}

export function createWalSegmentScanner(opts: WalScanOptions = {}): PushScanner<WalSegmentSummary> {
  return new WalSegmentScanner(opts);
}

/** `00000012` → 12; undefined for other names. */
export function parseWalSegmentName(name: string): number | undefined {
  return parseDecimalName(name);
}

/** `checkpoint.00000011` → 11; undefined for others (including `.tmp`). */
export function parseCheckpointName(name: string): number | undefined {
  return parseCheckpointDirName(name);
}
