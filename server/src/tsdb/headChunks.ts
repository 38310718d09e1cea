/** Head chunk files `chunks_head/NNNNNN` (docs/tsdb-format.md §6), following 2.42's IterateAllChunks. */
import { crc32c, hex, readCrc } from './crc32c';
import { chunkSampleCount, CUSTOM_BUCKETS_SCHEMA, histogramChunkSchema, SCHEMA_PREFIX_BYTES } from './chunkenc';
import { parseDecimalName } from './blockDir';
import type { FormatProblem, PushScanner, Verify } from './types';

export const HEAD_CHUNK_MAGIC = 0x0130bc91;
const HEADER_SIZE = 8;
/** seriesRef 8 + mint 8 + maxt 8 + encoding 1 + len ≤5 + CRC 4 (MaxHeadChunkMetaSize). */
const MAX_META_SIZE = 34;
const FIXED_META = 25;
/** Larger data lengths are treated as damage without buffering (real head chunks are far smaller). */
const MAX_PLAUSIBLE_DATA = 16 << 20;

export interface HeadChunkRecord {
  offset: number;
  seriesRef: number;
  minTime: number;
  maxTime: number;
  /** Low 7 bits: chunk encoding; bit 0x80: out-of-order chunk. */
  encoding: number;
  samples: number;
  /** Set with verify full. */
  crcOk?: boolean;
}

export interface HeadChunkFileSummary {
  sizeBytes: number;
  headerOk: boolean;
  records: number;
  /** Records per encoding byte (with the 0x80 OOO bit). */
  encodings: Record<number, number>;
  /** Histogram chunks of schema −53 (custom buckets, NHCB). */
  customBucketChunks: number;
  samples: number;
  minTime?: number;
  maxTime?: number;
  /** Offset where data ends (zero tail starts). */
  dataEnd: number;
  /** Record damage: Prometheus then deletes this file and all later ones and rebuilds from the WAL. */
  problems: FormatProblem[];
  /** Shorter than 4 bytes or magic 0: Prometheus silently deletes such a file when it is the last one. */
  removableIfLast: boolean;
  /** First non-zero byte after the end of data, if any (zeros where buffered chunks were never flushed, or leftover bytes). */
  nonZeroAfterEnd?: number;
}

export interface HeadChunkScanOptions {
  verify: Verify;
  onRecord?: (r: HeadChunkRecord) => void;
  /** The file's number (`000007` → 7), for messages (`file:%d`). */
  fileNumber?: number;
}

type Parse =
  | { kind: 'record'; size: number }
  | { kind: 'need'; bytes: number }
  | { kind: 'end' }
  | { kind: 'lost' };

const TWO_32 = 2 ** 32;

class HeadChunkScanner implements PushScanner<HeadChunkFileSummary> {
  private readonly full: boolean;
  private readonly fileNumber: number;
  private fileOffset = 0;
  private readonly header = new Uint8Array(HEADER_SIZE);
  private headerFill = 0;
  /** Bytes of an unfinished record and the file offset of its first byte. */
  private carry: Uint8Array | undefined;
  private carryAt = 0;
  private ended = false;
  private readonly s: HeadChunkFileSummary = {
    sizeBytes: 0, headerOk: false, records: 0, encodings: {}, customBucketChunks: 0, samples: 0, dataEnd: -1, problems: [],
    removableIfLast: false,
  };

  constructor(private readonly opts: HeadChunkScanOptions) {
    this.full = opts.verify === 'full';
    this.fileNumber = opts.fileNumber ?? 0;
  }

  push(buf: Uint8Array): void {
    const base = this.fileOffset;
    this.fileOffset += buf.length;
    let pos = 0;
    if (this.headerFill < HEADER_SIZE) {
      const n = Math.min(HEADER_SIZE - this.headerFill, buf.length);
      this.header.set(buf.subarray(0, n), this.headerFill);
      this.headerFill += n;
      pos = n;
      if (this.headerFill < HEADER_SIZE) return;
      this.checkHeader();
    }
    if (this.ended) return this.scanTail(buf, pos, base);
    if (this.carry) {
      pos = this.finishCarry(buf, pos, false);
      if (this.carry || pos < 0) return;
      if (this.ended) return this.scanTail(buf, pos, base);
    }
    while (pos < buf.length) {
      const r = this.parse(buf, pos, buf.length, base, false);
      if (r.kind === 'record') {
        pos += r.size;
      } else if (r.kind === 'need') {
        this.carry = buf.slice(pos);
        this.carryAt = base + pos;
        return;
      } else {
        return this.scanTail(buf, pos, base);
      }
    }
  }

  /** Grows the carried record with bytes of buf until it parses; returns the new position in buf (-1: all used). */
  private finishCarry(buf: Uint8Array, pos: number, final: boolean): number {
    for (;;) {
      const carry = this.carry!;
      const r = this.parse(carry, 0, carry.length, this.carryAt, final);
      if (r.kind === 'need') {
        // (A final parse never asks for more: it reports the shortfall as a problem.)
        const take = Math.min(r.bytes - carry.length, buf.length - pos);
        const grown = new Uint8Array(carry.length + take);
        grown.set(carry);
        grown.set(buf.subarray(pos, pos + take), carry.length);
        this.carry = grown;
        pos += take;
        if (pos >= buf.length && grown.length < r.bytes) return -1;
        continue;
      }
      const used = r.kind === 'record' ? r.size : 0;
      const leftover = carry.length - used;
      this.carry = undefined;
      if (r.kind !== 'record') {
        // Data ended inside the carried bytes: the rest of them is tail.
        this.scanTail(carry, used, this.carryAt);
        return pos;
      }
      if (leftover <= pos) return pos - leftover; // the extra bytes came from buf: re-read them there
      this.carry = carry.slice(used);
      this.carryAt += used;
    }
  }

  private checkHeader(): void {
    const h = this.header;
    const magic = readCrc(h, 0);
    this.s.removableIfLast = magic === 0;
    if (magic !== HEAD_CHUNK_MAGIC) this.problem(`invalid magic number ${hex(magic)}`, 0);
    else if (h[4] !== 1) this.problem(`invalid chunk format version ${h[4]}`, 4);
    else this.s.headerOk = true;
  }

  private problem(message: string, offset: number): void {
    this.s.problems.push({ message, offset });
  }

  /** One record at b[p..] (file offset base + p), or why not. */
  private parse(b: Uint8Array, p: number, end: number, base: number, final: boolean): Parse {
    const avail = end - p;
    const at = base + p;
    if (avail < MAX_META_SIZE) {
      if (!final) return { kind: 'need', bytes: MAX_META_SIZE };
      for (let i = p; i < end; i++) {
        if (b[i] !== 0) {
          this.problem(
            `head chunk file has some unread data, but doesn't include enough ` +
              `bytes to read the chunk header - required:${at + MAX_META_SIZE}, available:${this.fileOffset}, file:${this.fileNumber}`,
            at,
          );
          this.s.dataEnd = at;
          this.ended = true;
          return { kind: 'lost' };
        }
      }
      return this.endOfData(at);
    }
    let zero = true;
    for (let i = p; i < p + 24; i++) {
      if (b[i] !== 0) {
        zero = false;
        break;
      }
    }
    // Series refs start at 1: an all-zero ref, mint and maxt marks the end of the data.
    if (zero) return this.endOfData(at);
    const encoding = b[p + 24];
    let len = 0;
    let mul = 1;
    let n = 0;
    for (; n < 5; n++) {
      const x = b[p + FIXED_META + n];
      len += (x & 0x7f) * mul;
      mul *= 128;
      if (x < 0x80) break;
    }
    if (n === 5) {
      this.problem('head chunk record: invalid chunk data length field', at + FIXED_META);
      return this.lose(at);
    }
    n++;
    const size = FIXED_META + n + len + 4;
    if (len > MAX_PLAUSIBLE_DATA) {
      this.problem(`head chunk record: implausible chunk data length ${len}`, at + FIXED_META);
      return this.lose(at);
    }
    if (avail < size) {
      if (!final) return { kind: 'need', bytes: size };
      this.problem(
        `head chunk file doesn't include enough bytes to read the chunk ` +
          `header - required:${at + size}, available:${this.fileOffset}, file:${this.fileNumber}`,
        at,
      );
      return this.lose(at);
    }
    const seriesRef = readCrc(b, p) * TWO_32 + readCrc(b, p + 4);
    const view = new DataView(b.buffer, b.byteOffset + p + 8, 16);
    const minTime = Number(view.getBigInt64(0));
    const maxTime = Number(view.getBigInt64(8));
    const dataAt = p + FIXED_META + n;
    const samples = len >= 2 ? chunkSampleCount(encoding, b.subarray(dataAt, dataAt + 2)) : 0;
    const rec: HeadChunkRecord = { offset: at, seriesRef, minTime, maxTime, encoding, samples };
    if (this.full) {
      const stored = readCrc(b, dataAt + len);
      const actual = crc32c(b.subarray(p, dataAt + len));
      rec.crcOk = stored === actual;
      // Go prints the byte slices with %x: always 8 hex digits.
      if (!rec.crcOk) this.problem(`checksum mismatch expected:${pad8(stored)}, actual:${pad8(actual)}`, at);
    }
    const s = this.s;
    s.records++;
    s.encodings[encoding] = (s.encodings[encoding] ?? 0) + 1;
    if (histogramChunkSchema(encoding, b.subarray(dataAt, dataAt + Math.min(len, SCHEMA_PREFIX_BYTES))) === CUSTOM_BUCKETS_SCHEMA)
      s.customBucketChunks++;
    s.samples += samples;
    if (s.minTime === undefined || minTime < s.minTime) s.minTime = minTime;
    if (s.maxTime === undefined || maxTime > s.maxTime) s.maxTime = maxTime;
    this.opts.onRecord?.(rec);
    return { kind: 'record', size };
  }

  private endOfData(at: number): Parse {
    this.s.dataEnd = at;
    this.ended = true;
    return { kind: 'end' };
  }

  private lose(at: number): Parse {
    this.s.dataEnd = at;
    this.ended = true;
    return { kind: 'lost' };
  }

  /** After the data: notes the first non-zero byte (only after a clean end). */
  private scanTail(b: Uint8Array, p: number, base: number): void {
    const s = this.s;
    if (s.nonZeroAfterEnd !== undefined || s.problems.length > 0) return;
    for (let i = p; i < b.length; i++) {
      if (b[i] !== 0) {
        s.nonZeroAfterEnd = base + i;
        return;
      }
    }
  }

  end(): HeadChunkFileSummary {
    const s = this.s;
    s.sizeBytes = this.fileOffset;
    if (this.headerFill < HEADER_SIZE) {
      s.removableIfLast = this.headerFill < 4 || readCrc(this.header, 0) === 0;
      this.problem('invalid head chunk file header: invalid size', 0);
      s.dataEnd = this.headerFill;
      return s;
    }
    if (this.carry && !this.ended) this.finishCarry(new Uint8Array(0), 0, true);
    if (!this.ended) s.dataEnd = this.fileOffset;
    return s;
  }
}

function pad8(n: number): string {
  return hex(n).padStart(8, '0');
}

export function createHeadChunkScanner(opts: HeadChunkScanOptions): PushScanner<HeadChunkFileSummary> {
  return new HeadChunkScanner(opts);
}

export function parseHeadChunkFileName(name: string): number | undefined {
  return parseDecimalName(name);
}

/**
 * Prometheus's m-map sequence check (tsdb/head.go loadMmappedChunks): files in number order, each
 * given as its in-order chunks (OOO ones are loaded apart) as flat `seriesRef, minTime, maxTime`
 * triples; a chunk ending before `minValid` is skipped, and one that starts at or before the end
 * of its series' previous chunk is "out of sequence". Returns the first such chunk.
 */
export function mmapSequenceBreak(
  files: readonly (readonly number[])[],
  minValid = -Infinity,
): { file: number; ref: number; prevMaxTime: number; minTime: number; maxTime: number } | undefined {
  const last = new Map<number, number>();
  for (let f = 0; f < files.length; f++) {
    const r = files[f];
    for (let i = 0; i + 2 < r.length; i += 3) {
      const [ref, minTime, maxTime] = [r[i], r[i + 1], r[i + 2]];
      if (maxTime < minValid) continue;
      const prev = last.get(ref);
      if (prev !== undefined && prev >= minTime) return { file: f, ref, prevMaxTime: prev, minTime, maxTime };
      last.set(ref, maxTime);
    }
  }
  return undefined;
}
