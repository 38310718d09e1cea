/**
 * Synchronous file access for block reading and writing: a ByteSource over a file descriptor
 * with a read-ahead window (chunks are read in file order, so most reads hit the window), and a
 * buffered sink that writes big pieces through without copying them.
 */
import { closeSync, fsyncSync, openSync, readSync, fstatSync, writeSync } from 'node:fs';
import type { ByteSource } from '../tsdb/types';
import type { ByteSink } from '../tsdb/write/indexWriter';

const READ_AHEAD = 4 << 20;
export const FILE_SOURCE_RING = 3;

export class FileSource implements ByteSource {
  private fd: number | undefined;
  readonly size: number;
  private win: Buffer = Buffer.alloc(0);
  private winStart = 0;
  /** Window loads so far: with a ring, a view stays valid until RING - 1 more loads. */
  loads = 0;
  private readonly ring: Buffer[] = [];

  /**
   * @param reuse read into a ring of FILE_SOURCE_RING window buffers instead of a fresh one per load
   *   (fresh 4 MiB buffers cost page faults: most of the system time of a big rewrite, measured);
   *   views then stay valid only until FILE_SOURCE_RING - 1 further loads (see `loads`).
   */
  constructor(
    readonly path: string,
    private readonly reuse = false,
  ) {
    this.fd = openSync(path, 'r');
    this.size = fstatSync(this.fd).size;
  }

  /**
   * The window buffer holding [offset, offset+length) (clipped to the file) and where it starts in
   * it: lets hot loops read fields without making a view per field.
   */
  view(offset: number, length: number): { buf: Buffer; at: number; available: number } {
    const start = Math.max(0, Math.min(offset, this.size));
    const end = Math.min(this.size, start + Math.max(0, length));
    if (!(start >= this.winStart && end <= this.winStart + this.win.length)) this.read(start, end - start);
    return { buf: this.win, at: start - this.winStart, available: Math.min(this.win.length - (start - this.winStart), end - start) };
  }

  /** Bytes [offset, offset+length) clipped to the file (a view; without reuse never overwritten later). */
  read(offset: number, length: number): Uint8Array {
    if (this.fd === undefined) throw new Error(`${this.path}: already closed`);
    const start = Math.max(0, Math.min(offset, this.size));
    const end = Math.min(this.size, start + Math.max(0, length));
    if (start >= this.winStart && end <= this.winStart + this.win.length) {
      return this.win.subarray(start - this.winStart, end - this.winStart);
    }
    const want = Math.min(this.size - start, Math.max(end - start, READ_AHEAD));
    // Without reuse, a fresh buffer on each miss: views handed out earlier stay valid.
    let buf: Buffer;
    if (this.reuse && want <= READ_AHEAD) {
      const slot = this.loads % FILE_SOURCE_RING;
      buf = this.ring[slot] ??= Buffer.allocUnsafe(READ_AHEAD);
    } else {
      buf = Buffer.allocUnsafe(want);
    }
    this.loads++;
    let done = 0;
    while (done < want) {
      const n = readSync(this.fd, buf, done, want - done, start + done);
      if (n === 0) break;
      done += n;
    }
    this.win = buf.subarray(0, done);
    this.winStart = start;
    return this.win.subarray(0, Math.min(done, end - start));
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

export class FileSink implements ByteSink {
  private fd: number | undefined;
  private readonly buf: Buffer;
  private fill = 0;
  written = 0;

  constructor(
    readonly path: string,
    private readonly sync: boolean,
    bufferSize = 4 << 20,
  ) {
    // 'wx': never overwrite; callers write into a fresh temporary directory.
    this.fd = openSync(path, 'wx');
    this.buf = Buffer.allocUnsafe(bufferSize);
  }

  write(bytes: Uint8Array): void {
    if (this.fd === undefined) throw new Error(`${this.path}: already closed`);
    this.written += bytes.length;
    if (this.fill + bytes.length <= this.buf.length) {
      this.buf.set(bytes, this.fill);
      this.fill += bytes.length;
      return;
    }
    this.flush();
    if (bytes.length >= this.buf.length / 2) writeAll(this.fd, bytes);
    else {
      this.buf.set(bytes, 0);
      this.fill = bytes.length;
    }
  }

  private flush(): void {
    if (this.fill > 0 && this.fd !== undefined) writeAll(this.fd, this.buf.subarray(0, this.fill));
    this.fill = 0;
  }

  close(): void {
    if (this.fd === undefined) return;
    this.flush();
    if (this.sync) fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = undefined;
  }

  /** Closes without flushing (after a failure; the temporary directory is removed anyway). */
  abandon(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}
