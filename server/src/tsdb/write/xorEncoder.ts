/**
 * XOR chunk encoder (docs/tsdb-format.md §5), bit for bit as Prometheus's xorAppender
 * (tsdb/chunkenc/xor.go): u16 sample count, first timestamp as varint and value as 64 bits, the
 * second timestamp as a uvarint delta, then delta-of-delta timestamps in 1/14/17/20/64-bit
 * buckets and Gorilla XOR values (leading zeros clamped to 31, window reused when it fits).
 */
import type { XorSample } from '../chunkenc';

/** Prometheus cuts chunks at 120 samples; a chunk holds at most 65535 (the u16 count). */
export const MAX_XOR_SAMPLES = 0xffff;

/**
 * Prometheus's bstream (tsdb/chunkenc/bstream.go), state for state: `count` is the free bits of
 * the last byte, and writeByte always appends a byte, so a byte written on a byte boundary leaves
 * an empty byte at the end; Prometheus keeps it in the chunk, and so must we to give its bytes.
 */
class BitWriter {
  private buf = new Uint8Array(128);
  /** Bytes in the stream; starts with the 2-byte sample count. */
  private len = 2;
  /** Free bits in the last byte. */
  private count = 0;

  private append(b: number): void {
    if (this.len === this.buf.length) {
      const bigger = new Uint8Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.len++] = b;
  }

  bit(b: number): void {
    if (this.count === 0) {
      this.append(0);
      this.count = 8;
    }
    if (b) this.buf[this.len - 1] |= 1 << (this.count - 1);
    this.count--;
  }

  byte(byt: number): void {
    if (this.count === 0) {
      this.append(0);
      this.count = 8;
    }
    this.buf[this.len - 1] |= byt >>> (8 - this.count);
    this.append((byt << this.count) & 0xff);
  }

  /** The low `count` (≤ 32) bits of v (v ≥ 0), most significant first: whole bytes, then bits. */
  bits(v: number, nbits: number): void {
    while (nbits >= 8) {
      this.byte(Math.floor(v / 2 ** (nbits - 8)) & 0xff);
      nbits -= 8;
    }
    for (let i = nbits - 1; i >= 0; i--) this.bit(Math.floor(v / 2 ** i) & 1);
  }

  /** The low `nbits` (≤ 64) bits of v. */
  bitsBig(v: bigint, nbits: number): void {
    v &= (1n << BigInt(nbits)) - 1n;
    while (nbits >= 8) {
      this.byte(Number((v >> BigInt(nbits - 8)) & 0xffn));
      nbits -= 8;
    }
    for (let i = nbits - 1; i >= 0; i--) this.bit(Number((v >> BigInt(i)) & 1n));
  }

  /** The stream with the sample count in its first two bytes. */
  finish(samples: number): Uint8Array {
    this.buf[0] = samples >>> 8;
    this.buf[1] = samples & 0xff;
    return this.buf.slice(0, this.len);
  }
}

const f64 = new DataView(new ArrayBuffer(8));
function floatBits(v: number): bigint {
  f64.setFloat64(0, v);
  return f64.getBigUint64(0);
}

function clz64(x: bigint): number {
  const hi = Number(x >> 32n);
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(Number(x & 0xffffffffn));
}

function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

function ctz64(x: bigint): number {
  const lo = Number(x & 0xffffffffn);
  return lo !== 0 ? ctz32(lo) : 32 + ctz32(Number(x >> 32n));
}

function putUvarint(w: BitWriter, v: number): void {
  while (v >= 0x80) {
    w.byte((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  w.byte(v);
}

/** -(2^(n-1) - 1) ≤ x ≤ 2^(n-1) (bitRange in xor.go). */
function bitRange(x: number, n: number): boolean {
  return -(2 ** (n - 1) - 1) <= x && x <= 2 ** (n - 1);
}

/** Encodes samples (timestamps strictly increasing) as an XOR chunk's data. */
export function encodeXor(samples: readonly XorSample[]): Uint8Array {
  if (samples.length > MAX_XOR_SAMPLES) throw new RangeError(`${samples.length} samples do not fit in one XOR chunk`);
  const w = new BitWriter();
  let prevT = 0;
  let prevDelta = 0;
  let prevBits = 0n;
  let leading = 0xff;
  let trailing = 0;
  samples.forEach(({ t, v }, i) => {
    if (!Number.isSafeInteger(t)) throw new RangeError(`timestamp ${t} is not a safe integer`);
    if (i > 0 && t <= prevT) throw new RangeError(`timestamps not increasing: ${t} after ${prevT}`);
    const vb = floatBits(v);
    if (i === 0) {
      putUvarint(w, t >= 0 ? t * 2 : -t * 2 - 1);
      w.bitsBig(vb, 64);
    } else {
      const delta = t - prevT;
      if (i === 1) {
        putUvarint(w, delta);
      } else {
        const dod = delta - prevDelta;
        if (dod === 0) w.bit(0);
        else if (bitRange(dod, 14)) {
          w.bits(0b10, 2);
          w.bits(dod < 0 ? dod + 2 ** 14 : dod, 14);
        } else if (bitRange(dod, 17)) {
          w.bits(0b110, 3);
          w.bits(dod < 0 ? dod + 2 ** 17 : dod, 17);
        } else if (bitRange(dod, 20)) {
          w.bits(0b1110, 4);
          w.bits(dod < 0 ? dod + 2 ** 20 : dod, 20);
        } else {
          w.bits(0b1111, 4);
          w.bitsBig(BigInt.asUintN(64, BigInt(dod)), 64);
        }
      }
      // xorWrite
      const x = vb ^ prevBits;
      if (x === 0n) {
        w.bit(0);
      } else {
        w.bit(1);
        let newLeading = clz64(x);
        const newTrailing = ctz64(x);
        if (newLeading >= 32) newLeading = 31;
        if (leading !== 0xff && newLeading >= leading && newTrailing >= trailing) {
          w.bit(0);
          w.bitsBig(x >> BigInt(trailing), 64 - leading - trailing);
        } else {
          leading = newLeading;
          trailing = newTrailing;
          w.bit(1);
          w.bits(newLeading, 5);
          const sig = 64 - newLeading - newTrailing;
          w.bits(sig & 0x3f, 6);
          w.bitsBig(x >> BigInt(newTrailing), sig);
        }
      }
      prevDelta = delta;
    }
    prevT = t;
    prevBits = vb;
  });
  return w.finish(samples.length);
}
