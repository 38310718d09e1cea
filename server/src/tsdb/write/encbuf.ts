/**
 * Growable big-endian byte buffer with Go varints, the writing side of cursor.ts (Prometheus's
 * encoding.Encbuf, tsdb/encoding/encoding.go). Numbers stay exact up to 2^53 (timestamps, refs and
 * offsets of real blocks are far below).
 */
import { crc32c } from '../crc32c';

const utf8 = new TextEncoder();

export class Encbuf {
  private buf: Uint8Array;
  private len = 0;

  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
  }

  get length(): number {
    return this.len;
  }

  reset(): void {
    this.len = 0;
  }

  /** A view of the bytes written so far (valid until the next write). */
  get(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.buf.subarray(0, this.len));
    this.buf = bigger;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.len++] = b;
  }

  be32(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`value ${v} does not fit in 4 bytes`);
    this.room(4);
    const b = this.buf;
    b[this.len] = v >>> 24;
    b[this.len + 1] = (v >>> 16) & 0xff;
    b[this.len + 2] = (v >>> 8) & 0xff;
    b[this.len + 3] = v & 0xff;
    this.len += 4;
  }

  be64(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`value ${v} is not a safe unsigned integer`);
    this.be32(Math.floor(v / 2 ** 32));
    this.be32(v % 2 ** 32);
  }

  uvarint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`uvarint ${v} is not a safe unsigned integer`);
    this.room(10);
    const b = this.buf;
    while (v >= 0x80) {
      b[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    b[this.len++] = v;
  }

  /** Zigzag, as Go's binary.PutVarint. */
  varint(v: number): void {
    if (!Number.isSafeInteger(v)) throw new RangeError(`varint ${v} is not a safe integer`);
    this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  bytes(src: Uint8Array): void {
    this.room(src.length);
    this.buf.set(src, this.len);
    this.len += src.length;
  }

  /** uvarint length + UTF-8 bytes (PutUvarintStr). */
  uvarintStr(s: string): void {
    const bytes = utf8.encode(s);
    this.uvarint(bytes.length);
    this.bytes(bytes);
  }

  /** Appends the CRC32C of bytes [from, length) big-endian (PutHash over a section). */
  crcFrom(from: number): void {
    const crc = crc32c(this.buf.subarray(from, this.len));
    this.be32(crc);
  }

  /** Overwrites 4 bytes at `at` (a length field written before its section was known). */
  setBe32(at: number, v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`value ${v} does not fit in 4 bytes`);
    this.buf[at] = v >>> 24;
    this.buf[at + 1] = (v >>> 16) & 0xff;
    this.buf[at + 2] = (v >>> 8) & 0xff;
    this.buf[at + 3] = v & 0xff;
  }
}

/** Uvarint bytes of v, for small framing fields. */
export function uvarintBytes(v: number): Uint8Array {
  const e = new Encbuf(10);
  e.uvarint(v);
  return e.get();
}
