/**
 * Sequential big-endian reader over bytes, as Prometheus's encoding.Decbuf. Every read past the
 * end throws FormatError with the file offset, so parsers can turn it into a problem.
 */

export class FormatError extends Error {
  constructor(
    message: string,
    /** File offset where the read failed. */
    readonly offset: number,
  ) {
    super(message);
    this.name = 'FormatError';
  }
}

const TWO_32 = 2 ** 32;

export class Cursor {
  private dv: DataView | undefined;
  private pos: number;

  /**
   * @param buf the buffer
   * @param base file offset of buf[0], for reporting
   * @param start first byte to read; @param end one past the last readable byte
   */
  constructor(
    readonly buf: Uint8Array,
    readonly base = 0,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  /** Created on first use: most cursors only read varints. */
  private get view(): DataView {
    return (this.dv ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength));
  }

  /** Current file offset. */
  get offset(): number {
    return this.base + this.pos;
  }
  /** Current position inside `buf`. */
  get position(): number {
    return this.pos;
  }
  get remaining(): number {
    return this.end - this.pos;
  }

  seek(position: number): void {
    if (position < 0 || position > this.end) throw new FormatError('seek out of range', this.base + position);
    this.pos = position;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new FormatError(`unexpected end of data: need ${n} bytes, have ${this.end - this.pos}`, this.offset);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }
  /** u64 as a number: exact below 2^53 (refs and offsets are). */
  u64n(): number {
    this.need(8);
    const v = this.view.getUint32(this.pos) * TWO_32 + this.view.getUint32(this.pos + 4);
    this.pos += 8;
    return v;
  }
  /** i64 as a number (ms timestamps fit in 2^53). */
  i64(): number {
    this.need(8);
    const v = Number(this.view.getBigInt64(this.pos));
    this.pos += 8;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos);
    this.pos += 8;
    return v;
  }

  /** Go's binary.Uvarint as bigint: at most 10 bytes, the 10th at most 1. */
  uvarintBig(): bigint {
    const start = this.pos;
    let x = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new FormatError('unexpected end of data in varint', this.base + start);
      const b = this.buf[this.pos++];
      if (b < 0x80) {
        if (i === 9 && b > 1) throw new FormatError('varint overflow', this.base + start);
        return x | (BigInt(b) << shift);
      }
      x |= BigInt(b & 0x7f) << shift;
      shift += 7n;
    }
    throw new FormatError('varint overflow', this.base + start);
  }

  /** Go's binary.Uvarint as a number; exact up to 2^53, values above lose precision (use uvarintBig). */
  uvarint(): number {
    // Fast path: one byte.
    let b = this.pos < this.end ? this.buf[this.pos] : -1;
    if (b >= 0 && b < 0x80) {
      this.pos++;
      return b;
    }
    const start = this.pos;
    let x = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new FormatError('unexpected end of data in varint', this.base + start);
      b = this.buf[this.pos++];
      if (b < 0x80) {
        if (i === 9 && b > 1) throw new FormatError('varint overflow', this.base + start);
        return x + b * mul;
      }
      x += (b & 0x7f) * mul;
      mul *= 128;
    }
    throw new FormatError('varint overflow', this.base + start);
  }

  /** Go's binary.Varint (zigzag). */
  varint(): number {
    const ux = this.uvarint();
    // (ux >> 1) ^ -(ux & 1) without 32-bit truncation.
    return ux % 2 === 0 ? ux / 2 : -(ux + 1) / 2;
  }

  /** A view (no copy) of the next n bytes. */
  bytes(n: number): Uint8Array {
    if (n < 0) throw new FormatError(`invalid length ${n}`, this.offset);
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /** uvarint length + UTF-8 bytes. */
  string(): string {
    const n = this.uvarint();
    return decodeUtf8(this.bytes(n));
  }
}

const utf8 = new TextDecoder('utf-8');

/** UTF-8 to string; short ASCII strings (label names and values) skip TextDecoder, which costs more per call. */
export function decodeUtf8(bytes: Uint8Array): string {
  const n = bytes.length;
  if (n > 32) return utf8.decode(bytes);
  let s = '';
  for (let i = 0; i < n; i++) {
    const c = bytes[i];
    if (c >= 0x80) return utf8.decode(bytes);
    s += String.fromCharCode(c);
  }
  return s;
}
