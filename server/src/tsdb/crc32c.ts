/**
 * CRC32C (Castagnoli), as Prometheus stores it (init and final xor 0xFFFFFFFF; written BE).
 * Uses @node-rs/crc32 (SIMD, native) and falls back to a slice-by-8 table when the native module
 * cannot load (another platform, a bundle without node_modules).
 */
import { createRequire } from 'node:module';

type Crc32cFn = (input: Uint8Array, initialState?: number) => number;

const TABLES = buildTables();

function buildTables(): Uint32Array[] {
  const t: Uint32Array[] = [];
  for (let k = 0; k < 8; k++) t.push(new Uint32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let j = 0; j < 8; j++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[0][i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    for (let k = 1; k < 8; k++) t[k][i] = (t[k - 1][i] >>> 8) ^ t[0][t[k - 1][i] & 0xff];
  }
  return t;
}

/** Pure-JS CRC32C; `initial` continues a previous result (same convention as the native one). */
export function crc32cJs(bytes: Uint8Array, initial = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
  let crc = ~initial >>> 0;
  let i = 0;
  const n = bytes.length;
  for (; i + 8 <= n; i += 8) {
    const a = (crc ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24))) >>> 0;
    crc =
      t7[a & 0xff] ^ t6[(a >>> 8) & 0xff] ^ t5[(a >>> 16) & 0xff] ^ t4[a >>> 24] ^
      t3[bytes[i + 4]] ^ t2[bytes[i + 5]] ^ t1[bytes[i + 6]] ^ t0[bytes[i + 7]];
  }
  for (; i < n; i++) crc = t0[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

function loadNative(): Crc32cFn | undefined {
  if (process.env.TSDBDUMP_CRC32C === 'js') return undefined;
  try {
    const load = createRequire(__filename);
    const mod = load('@node-rs/crc32') as { crc32c?: Crc32cFn };
    const fn = mod.crc32c;
    // Guard against a broken build: the check value must match.
    if (typeof fn === 'function' && fn(new TextEncoder().encode('123456789')) >>> 0 === 0xe3069283) return fn;
  } catch {
    // fall through to the JS table
  }
  return undefined;
}

const native = loadNative();
/** Which implementation is in use (for benchmarks and diagnostics). */
export const crc32cImplementation: 'native' | 'js' = native ? 'native' : 'js';

// A native call costs about 0.5 µs; below ~160 bytes the JS table is faster (measured on Node 20).
const NATIVE_MIN_BYTES = 160;

export function crc32c(bytes: Uint8Array, initial = 0): number {
  if (native && bytes.length >= NATIVE_MIN_BYTES) return native(bytes, initial) >>> 0;
  return crc32cJs(bytes, initial);
}

/** CRC32C stored big-endian at bytes[offset..offset+4]. */
export function readCrc(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}

/** Go's %x of a uint32 (no padding), as in Prometheus messages. */
export function hex(n: number): string {
  return (n >>> 0).toString(16);
}
