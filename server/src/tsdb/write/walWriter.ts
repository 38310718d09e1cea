/**
 * WAL segment writer (docs/tsdb-format.md §7), as tsdb/wlog/wlog.go log(): 32 KiB pages, each record
 * split into full/first/middle/last fragments of `type u8 | len u16 | CRC32C(fragment) u32 | data`,
 * the type carrying the compression flag (snappy 0x08) when the compressed record is smaller, the
 * rest of a page zero-filled when not even a fragment header fits, and the last page padded out
 * (flushPage with clear, as a closed segment is). Pure: bytes go to a sink.
 */
import { compress } from 'snappyjs';
import { crc32c } from '../crc32c';
import {
  HEADER_SIZE as HEADER,
  REC_FIRST as FIRST,
  REC_FULL as FULL,
  REC_LAST as LAST,
  REC_MIDDLE as MIDDLE,
  SNAPPY,
  WAL_PAGE_SIZE,
} from '../wal';
import type { ByteSink } from './indexWriter';


export class WalSegmentWriter {
  private readonly page = new Uint8Array(WAL_PAGE_SIZE);
  private alloc = 0;
  size = 0;

  constructor(
    private readonly sink: ByteSink,
    private readonly snappy = true,
  ) {}

  /** Appends one record (its uncompressed bytes). */
  log(record: Uint8Array): void {
    let rec = record;
    let flag = 0;
    if (this.snappy && rec.length > 0) {
      const c = compress(rec);
      if (c.length < rec.length) {
        rec = c;
        flag = SNAPPY;
      }
    }
    for (let i = 0; i === 0 || rec.length > 0; i++) {
      const left = WAL_PAGE_SIZE - this.alloc - HEADER;
      const part = rec.subarray(0, Math.min(left, rec.length));
      const typ = i === 0 && part.length === rec.length ? FULL : part.length === rec.length ? LAST : i === 0 ? FIRST : MIDDLE;
      const p = this.page;
      const at = this.alloc;
      p[at] = typ | flag;
      p[at + 1] = part.length >>> 8;
      p[at + 2] = part.length & 0xff;
      const crc = crc32c(part);
      p[at + 3] = crc >>> 24;
      p[at + 4] = (crc >>> 16) & 0xff;
      p[at + 5] = (crc >>> 8) & 0xff;
      p[at + 6] = crc & 0xff;
      p.set(part, at + HEADER);
      this.alloc += HEADER + part.length;
      if (WAL_PAGE_SIZE - this.alloc < HEADER) this.flush();
      rec = rec.subarray(part.length);
    }
  }

  /** Pads and writes the last page (a segment ends on a page boundary). */
  finish(): number {
    if (this.alloc > 0) this.flush();
    return this.size;
  }

  private flush(): void {
    this.page.fill(0, this.alloc);
    this.sink.write(this.page);
    this.size += WAL_PAGE_SIZE;
    this.alloc = 0;
  }
}
