/** Block tombstones (docs/tsdb-format.md §8). */
import { Cursor, FormatError } from './cursor';
import { crc32c, hex, readCrc } from './crc32c';
import type { FormatProblem } from './types';

export const TOMBSTONES_MAGIC = 0x0130ba30;

export interface TombstoneInterval { seriesId: number; minTime: number; maxTime: number }
export interface TombstonesParse { intervals: TombstoneInterval[]; problems: FormatProblem[] }

/** Follows Prometheus's ReadTombstones: the same checks in the same order, with its messages. */
export function parseTombstones(bytes: Uint8Array): TombstonesParse {
  const intervals: TombstoneInterval[] = [];
  const fail = (message: string, offset: number): TombstonesParse => ({ intervals, problems: [{ message, offset }] });
  if (bytes.length < 5) return fail('tombstones header: invalid size', 0);
  // Go reads the magic from the bytes before the CRC: with fewer than 4 of them it reads 0.
  if (bytes.length < 8) return fail('invalid magic number 0', 0);
  if (bytes.length === 8) {
    if (readCrc(bytes, 0) !== TOMBSTONES_MAGIC) return fail(`invalid magic number ${hex(readCrc(bytes, 0))}`, 0);
    // Verified with promtool 2.42: the CRC code slices an empty buffer and Prometheus crashes.
    return fail('panic: runtime error: slice bounds out of range [1:0]', 4);
  }
  const magic = readCrc(bytes, 0);
  if (magic !== TOMBSTONES_MAGIC) return fail(`invalid magic number ${hex(magic)}`, 0);
  const crcAt = bytes.length - 4;
  // The CRC covers the entries only, not the magic and version byte.
  if (crc32c(bytes.subarray(5, crcAt)) !== readCrc(bytes, crcAt)) return fail('checksum did not match', crcAt);
  if (bytes[4] !== 1) return fail(`invalid tombstone format ${hex(bytes[4])}`, 4);
  const cur = new Cursor(bytes, 0, 5, crcAt);
  while (cur.remaining > 0) {
    const at = cur.offset;
    try {
      intervals.push({ seriesId: cur.uvarint(), minTime: cur.varint(), maxTime: cur.varint() });
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      return fail('invalid size', at);
    }
  }
  return { intervals, problems: [] };
}
