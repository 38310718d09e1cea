/**
 * Chunk payload decoding (tsdb-format.md §5). Bad data throws FormatError (offset = byte in the
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
}

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
