/**
 * Block chunk segment writer (docs/tsdb-format.md §4), as Prometheus's tsdb/chunks/chunks.go Writer:
 * segments of at most `segmentSize` bytes (512 MiB by default) with the 8-byte header
 * (magic 0x85BD40DD, version 1, 3 zero bytes), each chunk framed as
 * `len uvarint | encoding | data | CRC32C(encoding | data)`. The chunks of one series go in one
 * call and are split across segments with Prometheus's batching rule, so the refs are the ones
 * Prometheus would give. Pure: bytes go to a sink; memory holds nothing beyond the call.
 */
import { crc32c } from '../crc32c';
import { CHUNK_SEGMENT_MAGIC } from '../chunks';

export const DEFAULT_CHUNK_SEGMENT_SIZE = 512 * 1024 * 1024;
export const CHUNK_SEGMENT_HEADER_SIZE = 8;
/** binary.MaxVarintLen32: Prometheus sizes every chunk with the longest possible len field. */
const MAX_LEN_FIELD = 5;
/** Chunk data length Prometheus can read back (the len field is read from 5 bytes). */
const MAX_CHUNK_DATA = 2 ** 32 - 1;

export interface SegmentSink {
  /** Starts segment `seq` (0-based position; Prometheus names it seq + 1, `000001`). */
  open(seq: number): void;
  /** Bytes of the open segment, in order; only valid during the call. */
  write(bytes: Uint8Array): void;
  /** Ends the open segment. */
  close(): void;
}

export interface ChunkToWrite {
  /** Encoding byte (1 XOR, 2 histogram, 3 float histogram, 4–6 in 3.x). */
  encoding: number;
  data: Uint8Array;
  /**
   * The chunk already framed (`len | encoding | data | CRC32C`), as read from a segment: written as
   * it is, without computing the CRC again (a copy keeps the source's bytes, as a file copy would).
   */
  frame?: Uint8Array;
}

export interface ChunkWriteResult {
  segments: number;
  chunks: number;
  /** Bytes of every segment, headers included. */
  bytes: number;
}

const HEADER = (() => {
  const h = new Uint8Array(CHUNK_SEGMENT_HEADER_SIZE);
  new DataView(h.buffer).setUint32(0, CHUNK_SEGMENT_MAGIC);
  h[4] = 1;
  return h;
})();

export class ChunkWriter {
  private seq = -1;
  /** Bytes in the open segment (0 before the first one: Prometheus's w.n). */
  private n = 0;
  private total = 0;
  private chunks = 0;
  private readonly segmentSize: number;
  private readonly frame = new Uint8Array(MAX_LEN_FIELD + 1);
  private readonly crcBuf = new Uint8Array(4);

  constructor(
    private readonly sink: SegmentSink,
    opts: { segmentSize?: number } = {},
  ) {
    this.segmentSize = opts.segmentSize && opts.segmentSize > 0 ? opts.segmentSize : DEFAULT_CHUNK_SEGMENT_SIZE;
  }

  private cut(): void {
    if (this.seq >= 0) this.sink.close();
    this.seq++;
    this.sink.open(this.seq);
    this.sink.write(HEADER);
    this.n = CHUNK_SEGMENT_HEADER_SIZE;
    this.total += CHUNK_SEGMENT_HEADER_SIZE;
  }

  /** Writes the chunks of one series (WriteChunks); returns their refs (segment << 32 | offset). */
  writeSeriesChunks(chks: readonly ChunkToWrite[]): number[] {
    for (const c of chks) {
      if (c.data.length > MAX_CHUNK_DATA) throw new Error(`chunk of ${c.data.length} bytes is too large for a segment`);
    }
    // Batching exactly as chunks.Writer.WriteChunks, so segment boundaries and refs match Prometheus's.
    const batches: [number, number][] = [[0, 0]];
    let batchSize = 0;
    let batchStart = 0;
    let firstBatch = true;
    for (let i = 0; i < chks.length; i++) {
      const chkSize = MAX_LEN_FIELD + 1 + chks[i].data.length + 4;
      batchSize += chkSize;
      let cutNewBatch = i !== 0 && batchSize + CHUNK_SEGMENT_HEADER_SIZE > this.segmentSize;
      if (firstBatch && this.n > CHUNK_SEGMENT_HEADER_SIZE) {
        cutNewBatch = batchSize + this.n > this.segmentSize;
        if (cutNewBatch) firstBatch = false;
      }
      if (cutNewBatch) {
        batchStart = i;
        batches.push([i, i]);
        batchSize = chkSize;
      }
      batches[batches.length - 1] = [batchStart, i + 1];
    }
    if (this.n === 0) this.cut();
    const refs: number[] = [];
    batches.forEach(([from, to], b) => {
      for (let i = from; i < to; i++) refs.push(this.writeOne(chks[i]));
      this.flushRun();
      if (b < batches.length - 1) this.cut();
    });
    return refs;
  }

  // Framed chunks adjacent in memory (a series' chunks as read from one segment) go out in one write.
  private run: Uint8Array | undefined;
  private runStart = 0;
  private runEnd = 0;

  private writeFrame(frame: Uint8Array): void {
    const run = this.run;
    if (run && frame.buffer === run.buffer && frame.byteOffset === this.runEnd) {
      this.runEnd += frame.length;
      return;
    }
    this.flushRun();
    this.run = frame;
    this.runStart = frame.byteOffset;
    this.runEnd = frame.byteOffset + frame.length;
  }

  private flushRun(): void {
    const run = this.run;
    if (!run) return;
    this.sink.write(new Uint8Array(run.buffer, this.runStart, this.runEnd - this.runStart));
    this.run = undefined;
  }

  private writeOne(c: ChunkToWrite): number {
    const ref = this.seq * 2 ** 32 + this.n;
    if (this.n > 0xffffffff) throw new Error(`chunk offset ${this.n} beyond 4 GiB in segment ${this.seq + 1}`);
    if (c.frame) {
      this.writeFrame(c.frame);
      this.n += c.frame.length;
      this.total += c.frame.length;
      this.chunks++;
      return ref;
    }
    const f = this.frame;
    let len = c.data.length;
    let k = 0;
    while (len >= 0x80) {
      f[k++] = (len & 0x7f) | 0x80;
      len = Math.floor(len / 0x80);
    }
    f[k++] = len;
    f[k] = c.encoding;
    this.flushRun();
    const crc = crc32c(c.data, crc32c(f.subarray(k, k + 1)));
    this.sink.write(f.subarray(0, k + 1));
    this.sink.write(c.data);
    const cb = this.crcBuf;
    cb[0] = crc >>> 24;
    cb[1] = (crc >>> 16) & 0xff;
    cb[2] = (crc >>> 8) & 0xff;
    cb[3] = crc & 0xff;
    this.sink.write(cb);
    const size = k + 1 + c.data.length + 4;
    this.n += size;
    this.total += size;
    this.chunks++;
    return ref;
  }

  /** Closes the last segment. A writer that got no chunks wrote no segment (as Prometheus). */
  finish(): ChunkWriteResult {
    this.flushRun();
    if (this.seq >= 0) this.sink.close();
    return { segments: this.seq + 1, chunks: this.chunks, bytes: this.total };
  }
}

/** Segment file name of a 0-based position: `000001` for 0. */
export function chunkSegmentName(seq: number): string {
  return String(seq + 1).padStart(6, '0');
}
