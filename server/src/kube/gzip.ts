/**
 * Parallel gzip (pigz-style): the input is cut into fixed blocks, each compressed as its own gzip
 * member on libuv's thread pool, and the members are written in order. A concatenation of gzip
 * members is one valid gzip file (RFC 1952 §2.2): `gzip -d`, `tar xzf`, Node's gunzip and Go's
 * gzip.Reader (promdump) all read it. This keeps compression off the event loop and lets it run
 * beside the network and the hashing; memory is bounded by blockSize × (maxInFlight + 1).
 */
import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';

export interface ParallelGzipOptions {
  level?: number;
  blockSize?: number;
  maxInFlight?: number;
}

export class ParallelGzip extends Transform {
  private readonly level: number;
  private readonly blockSize: number;
  private readonly maxInFlight: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly inFlight: Promise<Buffer>[] = [];
  /** Compressed bytes pushed so far. */
  bytesOut = 0;

  constructor(o: ParallelGzipOptions = {}) {
    super({ highWaterMark: 4 * 1024 * 1024 });
    this.level = o.level ?? 1;
    this.blockSize = o.blockSize ?? 1024 * 1024;
    this.maxInFlight = o.maxInFlight ?? 4;
  }

  private compress(block: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => zlib.gzip(block, { level: this.level, memLevel: 9 }, (err, out) => (err ? reject(err) : resolve(out))));
  }

  private cutBlocks(final: boolean): void {
    while (this.pendingBytes >= this.blockSize || (final && this.pendingBytes > 0)) {
      const all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
      const take = Math.min(this.blockSize, all.length);
      const block = all.subarray(0, take);
      const rest = all.subarray(take);
      this.pending = rest.length ? [rest] : [];
      this.pendingBytes = rest.length;
      const p = this.compress(block);
      p.catch(() => undefined);
      this.inFlight.push(p);
    }
  }

  private async drainTo(limit: number): Promise<void> {
    while (this.inFlight.length > limit) {
      const out = await this.inFlight.shift()!;
      this.bytesOut += out.length;
      this.push(out);
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.cutBlocks(false);
    this.drainTo(this.maxInFlight - 1).then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    this.cutBlocks(true);
    this.drainTo(0).then(async () => {
      // An empty input still has to be a valid gzip file.
      if (this.bytesOut === 0) {
        const empty = await this.compress(Buffer.alloc(0));
        this.bytesOut += empty.length;
        this.push(empty);
      }
      cb();
    }, cb);
  }
}
