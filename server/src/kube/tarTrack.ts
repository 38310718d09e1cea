/**
 * A synchronous tar parser that knows where every entry is: the offset of its first header block
 * (GNU long-name `L` and pax `x` blocks count as part of the entry they describe), of its data,
 * and of the next header. It hashes file data as it passes. A dump resumes from these offsets
 * (kube/dumpResume.ts), and ParallelGzip cuts a gzip member at every header start so that each
 * entry is a run of whole members in the archive.
 *
 * Formats: ustar/GNU headers as written by GNU tar, busybox tar and tar-stream (POSIX.1-1988
 * ustar, GNU base-256 sizes for files ≥ 8 GiB, `L` long names, pax `path` and `size` records).
 */
import { createHash, type Hash } from 'node:crypto';

export interface TrackedEntry {
  path: string;
  /** 'file', 'directory', 'symlink', … (tar-stream's names). */
  type: string;
  size: number;
  /** Tar offset of the entry's first header block (its `L`/`x` block when it has one). */
  headerStart: number;
  dataStart: number;
  /** Tar offset of the next header: dataStart + size rounded up to 512. */
  end: number;
  /** SHA-256 of the data, once all of it passed (files only). */
  sha256?: string;
}

const TYPES: Record<string, string> = {
  '0': 'file', '\0': 'file', '7': 'contiguous-file', '5': 'directory', '1': 'link', '2': 'symlink',
  '3': 'character-device', '4': 'block-device', '6': 'fifo',
};

function cstring(b: Uint8Array, off: number, len: number): string {
  let n = 0;
  while (n < len && b[off + n] !== 0) n++;
  return Buffer.from(b.buffer, b.byteOffset + off, n).toString('utf8');
}

/** A numeric header field: octal text, or GNU base-256 (high bit of the first byte set). */
function numeric(b: Uint8Array, off: number, len: number): number {
  if (b[off] & 0x80) {
    let v = b[off] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[off + i];
    return v;
  }
  const s = cstring(b, off, len).trim();
  return s ? parseInt(s, 8) : 0;
}

function paxRecords(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(data.subarray(i, sp).toString('ascii'), 10);
    if (!(len > 0)) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    i += len;
  }
  return out;
}

const round512 = (n: number) => Math.ceil(n / 512) * 512;

export interface InFlightState {
  entry: TrackedEntry;
  /** Data bytes of the entry already seen (0 ≤ done ≤ size). */
  done: number;
  hash: Hash;
}

export class TarTracker {
  /** Every entry whose header was read, in order; the last one may still be in flight. */
  readonly entries: TrackedEntry[] = [];
  /** Tar bytes fed so far (absolute, starting at the base offset). */
  offset: number;
  /** Offset of the end-of-archive block, once seen. */
  eoa?: number;
  private header = Buffer.alloc(512);
  private headerFill = 0;
  /** Start of the current entry's first header block (for L/x blocks before the real header). */
  private pendingStart?: number;
  private longName?: string;
  private pax?: Map<string, string>;
  /** The meta entry (L/x) whose data is being collected. */
  private meta?: { kind: 'L' | 'x' | 'skip'; left: number; parts: Buffer[]; padLeft: number };
  private current?: { entry: TrackedEntry; left: number; padLeft: number; hash?: Hash };

  /**
   * @param onHeaderStart called with the tar offset of each header start (and of the end-of-archive
   *   block) before the bytes of that position are passed on: the gzip writer ends a member there.
   */
  constructor(
    private readonly onHeaderStart: (offset: number) => void = () => undefined,
    base = 0,
    resumeFrom?: InFlightState,
  ) {
    this.offset = base;
    if (resumeFrom) {
      const { entry, done, hash } = resumeFrom;
      this.entries.push(entry);
      const pad = entry.end - entry.dataStart - entry.size;
      const dataLeft = entry.size - done;
      const padDone = Math.max(0, base - (entry.dataStart + entry.size));
      this.current = { entry, left: dataLeft, padLeft: pad - padDone, hash };
      if (dataLeft === 0 && pad - padDone === 0) this.finish();
    }
  }

  /** The entry in flight at the current offset and how far it got, if the offset is inside a file's data or padding. */
  inFlight(): InFlightState | undefined {
    const c = this.current;
    if (!c?.hash) return undefined;
    return { entry: c.entry, done: c.entry.size - c.left, hash: c.hash };
  }

  feed(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.eoa !== undefined) {
        this.offset += chunk.length - i;
        return;
      }
      if (this.current) {
        const c = this.current;
        if (c.left > 0) {
          const take = Math.min(c.left, chunk.length - i);
          c.hash?.update(chunk.subarray(i, i + take));
          c.left -= take;
          i += take;
          this.offset += take;
          // a size that is a multiple of 512 has no padding: the entry is complete with its last data byte
          if (c.left === 0 && c.padLeft === 0) this.finish();
          continue;
        }
        const take = Math.min(c.padLeft, chunk.length - i);
        c.padLeft -= take;
        i += take;
        this.offset += take;
        if (c.padLeft === 0) this.finish();
        continue;
      }
      if (this.meta) {
        const m = this.meta;
        if (m.left > 0) {
          const take = Math.min(m.left, chunk.length - i);
          m.parts.push(Buffer.from(chunk.subarray(i, i + take)));
          m.left -= take;
          i += take;
          this.offset += take;
          if (m.left > 0 || m.padLeft > 0) continue;
        }
        const take = Math.min(m.padLeft, chunk.length - i);
        m.padLeft -= take;
        i += take;
        this.offset += take;
        if (m.padLeft === 0) {
          const data = Buffer.concat(m.parts);
          if (m.kind === 'L') this.longName = cstring(data, 0, data.length);
          else if (m.kind === 'x') this.pax = paxRecords(data);
          this.meta = undefined;
        }
        continue;
      }
      // A header block.
      if (this.headerFill === 0 && this.pendingStart === undefined) this.onHeaderStart(this.offset);
      const take = Math.min(512 - this.headerFill, chunk.length - i);
      this.header.set(chunk.subarray(i, i + take), this.headerFill);
      this.headerFill += take;
      i += take;
      this.offset += take;
      if (this.headerFill === 512) {
        this.headerFill = 0;
        this.parseHeader();
      }
    }
  }

  private parseHeader(): void {
    const h = this.header;
    const start = this.pendingStart ?? this.offset - 512;
    if (h.every((b) => b === 0)) {
      this.eoa = start;
      return;
    }
    const flag = String.fromCharCode(h[156]);
    const size = numeric(h, 124, 12);
    if (flag === 'L' || flag === 'K' || flag === 'x' || flag === 'g') {
      // Meta blocks belong to the entry they precede: it starts at the first of them.
      this.pendingStart ??= start;
      const kind = flag === 'L' ? 'L' : flag === 'x' ? 'x' : 'skip';
      if (size > 0) this.meta = { kind, left: size, parts: [], padLeft: round512(size) - size };
      return;
    }
    const prefix = h.subarray(257, 263).toString('latin1').startsWith('ustar') ? cstring(h, 345, 155) : '';
    let name = cstring(h, 0, 100);
    if (prefix) name = `${prefix}/${name}`;
    if (this.longName !== undefined) name = this.longName;
    const paxPath = this.pax?.get('path');
    if (paxPath !== undefined) name = paxPath;
    const paxSize = this.pax?.get('size');
    const realSize = paxSize !== undefined ? Number(paxSize) : size;
    this.longName = undefined;
    this.pax = undefined;
    this.pendingStart = undefined;
    const type = TYPES[flag] ?? 'file';
    const isData = type === 'file' || type === 'contiguous-file';
    const dataSize = isData || type === 'directory' ? (type === 'directory' ? 0 : realSize) : 0;
    const entry: TrackedEntry = {
      path: name.replace(/^\.\//, '').replace(/\/+$/, ''),
      type: type === 'contiguous-file' ? 'file' : type,
      size: dataSize,
      headerStart: start,
      dataStart: this.offset,
      end: this.offset + round512(dataSize),
    };
    this.entries.push(entry);
    this.current = { entry, left: dataSize, padLeft: round512(dataSize) - dataSize, hash: isData ? createHash('sha256') : undefined };
    if (dataSize === 0) this.finish();
  }

  private finish(): void {
    const c = this.current!;
    if (c.hash) c.entry.sha256 = c.hash.digest('hex');
    this.current = undefined;
  }
}

/** Two zero blocks: the end of a tar archive. */
export const END_OF_ARCHIVE = Buffer.alloc(1024);
