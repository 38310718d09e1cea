/**
 * Parallel gzip (pigz-style): the input is cut into fixed blocks, each compressed as its own gzip
 * member on libuv's thread pool, and the members are written in order. A concatenation of gzip
 * members is one valid gzip file (RFC 1952 §2.2): `gzip -d`, `tar xzf`, Node's gunzip and Go's
 * gzip.Reader (promdump) all read it. This keeps compression off the event loop and lets it run
 * beside the network and the hashing; memory is bounded by blockSize × (maxInFlight + 1).
 *
 * Adaptive mode: TSDB chunk segments are already compressed (gzip saves about 6 % on them at a
 * high CPU cost), while WAL, index and meta files compress well. While the recently compressed
 * blocks save less than `minSaving`, most blocks are stored (deflate level 0, still a valid gzip)
 * and one block in `sampleEvery` is compressed to notice when the data becomes compressible again.
 */
import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';

export interface ParallelGzipOptions {
  level?: number;
  blockSize?: number;
  maxInFlight?: number;
  /** Store blocks that do not compress (see above). */
  adaptive?: boolean;
  /** Fraction of size a compressed block must save to keep compressing (default 0.08). */
  minSaving?: number;
  sampleEvery?: number;
  /**
   * Called as each member is pushed, with the input and output byte counts at its end: a reader
   * that truncates the output at `outEnd` gets a valid gzip of the first `inEnd` input bytes.
   */
  onMember?: (inEnd: number, outEnd: number) => void;
}

export class ParallelGzip extends Transform {
  private readonly level: number;
  private readonly blockSize: number;
  private readonly maxInFlight: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Blocks being compressed, in order; `out` once done (pushed as soon as all before it are). */
  private readonly inFlight: { p: Promise<Buffer>; out?: Buffer; inEnd: number }[] = [];
  private readonly adaptive: boolean;
  private readonly minSaving: number;
  private readonly sampleEvery: number;
  /** Output/input ratios of the last compressed (sampled) blocks. */
  private readonly recent: number[] = [];
  private blocks = 0;
  /** Compressed bytes pushed so far. */
  bytesOut = 0;
  /** Blocks stored without compression (adaptive mode). */
  storedBlocks = 0;
  /** Input bytes cut into blocks so far. */
  private inCut = 0;
  /** Input offsets where a member must end (ascending), see cutAt. */
  private readonly cuts: number[] = [];
  private readonly onMember?: (inEnd: number, outEnd: number) => void;

  constructor(o: ParallelGzipOptions = {}) {
    // 1 MiB: what waits here is not yet durable in a resumable dump (kube/dumpResume.ts)
    super({ highWaterMark: 1024 * 1024 });
    this.level = o.level ?? 1;
    this.blockSize = o.blockSize ?? 1024 * 1024;
    this.maxInFlight = o.maxInFlight ?? 4;
    this.adaptive = o.adaptive ?? false;
    this.minSaving = o.minSaving ?? 0.08;
    this.sampleEvery = o.sampleEvery ?? 16;
    this.onMember = o.onMember;
  }

  /**
   * Ends a member at input offset `offset` (counted from the first byte written), so that a resumed
   * dump can cut the archive there (kube/tarTrack.ts calls it at every tar header). Offsets must be
   * given in ascending order, before the bytes at them are written.
   */
  cutAt(offset: number): void {
    if (offset > this.inCut && (this.cuts.length === 0 || offset > this.cuts[this.cuts.length - 1])) this.cuts.push(offset);
  }

  private levelFor(index: number): number {
    if (!this.adaptive || this.level === 0 || this.recent.length < 2) return this.level;
    const ratio = this.recent.reduce((a, b) => a + b, 0) / this.recent.length;
    return ratio > 1 - this.minSaving && index % this.sampleEvery !== 0 ? 0 : this.level;
  }

  private compress(block: Buffer, level = this.level): Promise<Buffer> {
    if (level === 0) {
      this.storedBlocks++;
      return Promise.resolve(storedMember(block));
    }
    return new Promise((resolve, reject) =>
      zlib.gzip(block, { level, memLevel: 9 }, (err, out) => {
        if (err) return reject(err);
        // tiny members (a tar header alone) say nothing about how well the data compresses
        if (level > 0 && block.length >= 64 * 1024) {
          this.recent.push(out.length / block.length);
          if (this.recent.length > 4) this.recent.shift();
        }
        resolve(out);
      }),
    );
  }

  private cutBlocks(final: boolean): void {
    for (;;) {
      while (this.cuts.length && this.cuts[0] <= this.inCut) this.cuts.shift();
      const limit = this.cuts.length ? Math.min(this.blockSize, this.cuts[0] - this.inCut) : this.blockSize;
      if (!(this.pendingBytes >= limit || (final && this.pendingBytes > 0))) break;
      const all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
      const take = Math.min(limit, all.length);
      this.inCut += take;
      const block = all.subarray(0, take);
      const rest = all.subarray(take);
      this.pending = rest.length ? [rest] : [];
      this.pendingBytes = rest.length;
      const p = this.compress(block, this.levelFor(this.blocks++));
      const item: { p: Promise<Buffer>; out?: Buffer; inEnd: number } = { p, inEnd: this.inCut };
      p.then((out) => {
        item.out = out;
        this.pushReady();
      }, () => undefined);
      this.inFlight.push(item);
    }
  }

  /** Pushes the compressed blocks at the head of the queue: output follows input as closely as the order allows. */
  private pushReady(): void {
    while (this.inFlight.length && this.inFlight[0].out) {
      const { out, inEnd } = this.inFlight.shift()!;
      this.bytesOut += out!.length;
      this.push(out);
      this.onMember?.(inEnd, this.bytesOut);
    }
  }

  private async drainTo(limit: number): Promise<void> {
    while (this.inFlight.length > limit) {
      await this.inFlight[0].p;
      this.pushReady();
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

/**
 * A gzip member holding `block` in stored deflate blocks (RFC 1951 §3.2.4): no compression work,
 * just framing and the CRC-32, so incompressible data passes at memory speed.
 */
export function storedMember(block: Buffer): Buffer {
  const n = block.length;
  const parts = Math.max(1, Math.ceil(n / 65535));
  const out = Buffer.allocUnsafe(10 + parts * 5 + n + 8);
  // magic, deflate, no flags, mtime 0, no extra flags, OS unknown
  out.set([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255], 0);
  let o = 10;
  for (let i = 0; i < parts; i++) {
    const start = i * 65535;
    const len = Math.min(65535, n - start);
    out[o] = i === parts - 1 ? 1 : 0;
    out.writeUInt16LE(len, o + 1);
    out.writeUInt16LE(~len & 0xffff, o + 3);
    block.copy(out, o + 5, start, start + len);
    o += 5 + len;
  }
  out.writeUInt32LE(zlib.crc32(block) >>> 0, o);
  out.writeUInt32LE(n >>> 0, o + 4);
  return out;
}
