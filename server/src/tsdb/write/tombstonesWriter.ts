/**
 * Block tombstones file (docs/tsdb-format.md §8), as tsdb/tombstones/tombstones.go WriteFile:
 * magic, format byte 1, `series uvarint | mint varint | maxt varint` per interval, CRC32C of the
 * entries (not the magic nor the format byte). Prometheus walks a map, so the order of series in
 * its files varies; this writes them by series ID, then interval.
 */
import { Encbuf } from './encbuf';
import { TOMBSTONES_MAGIC, type TombstoneInterval } from '../tombstones';

export function encodeTombstones(intervals: readonly TombstoneInterval[] = []): Uint8Array {
  const sorted = [...intervals].sort((a, b) => a.seriesId - b.seriesId || a.minTime - b.minTime || a.maxTime - b.maxTime);
  const b = new Encbuf(16 + sorted.length * 12);
  b.be32(TOMBSTONES_MAGIC);
  b.byte(1);
  for (const iv of sorted) {
    b.uvarint(iv.seriesId);
    b.varint(iv.minTime);
    b.varint(iv.maxTime);
  }
  b.crcFrom(5);
  return b.get().slice();
}
