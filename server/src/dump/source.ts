/**
 * Opens a dump source (a `.tar.gz`/`.tgz`/`.tar` file or a data directory) as an async stream of
 * entries in archive order, with paths relative to the data dir root (docs/tsdb-format.md §1 "Dump
 * tarball"). The consumer reads each entry's body before asking for the next one (back-pressure:
 * nothing is read ahead beyond the stream buffers); a body left unread is skipped.
 *
 * The kind of a file is sniffed from its bytes (gzip magic 1f8b, `ustar` at offset 257), never
 * from its name. Unsafe tar entries (`..`, links, devices, absolute paths outside the data dir)
 * are reported as problems and never handed on. A truncated or damaged archive ends the stream
 * with a `dump-truncated` problem after everything read so far; something that is not a dump at
 * all throws ToolError('not-a-dump').
 */
import { createReadStream, promises as fsp, type Dirent } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { ToolError } from '../errors';
import { classifyPath, isUlid, normalizeRelPath, parseCheckpointDirName, parseDecimalName } from '../tsdb/blockDir';

export type EntryType = 'file' | 'directory' | 'symlink' | 'link' | 'device' | 'other';

export interface DumpEntry {
  /** Relative to the data dir root, without `./`, leading or trailing slashes. */
  path: string;
  type: EntryType;
  size: number;
  /** The entry's bytes; read it to the end (or not at all: the reader then skips it). */
  stream: AsyncIterable<Uint8Array>;
}

export interface SourceProblem {
  code: 'tar-unsafe-path' | 'dump-truncated';
  /** The entry name as found in the archive (or the path read last, for a truncation). */
  path: string;
  message: string;
}

export interface SourceProgress {
  /** Bytes read from the source (compressed bytes for a .tar.gz). */
  bytes: number;
  totalBytes?: number;
  entry?: string;
}

export interface SourceOptions {
  signal?: AbortSignal;
  onProgress?: (p: SourceProgress) => void;
}

export type SourceKind = 'tar.gz' | 'tar' | 'directory';

export interface OpenedSource {
  kind: SourceKind;
  /** Absolute path of the source. */
  source: string;
  /** Size of the source on disk (the compressed size for a .tar.gz, the sum of file sizes for a directory). */
  totalBytes: number;
  /** Entries in order. Iterate once. */
  entries: AsyncIterable<DumpEntry>;
  /** Filled while iterating: unsafe entries skipped, truncation. */
  problems: SourceProblem[];
  /** Names of the entries read, in order (what a truncation diagnostic lists). */
  readEntries: string[];
}

const GZIP_MAGIC = [0x1f, 0x8b];
const PROGRESS_STEP = 4 * 1024 * 1024;
const READ_CHUNK = 1024 * 1024;
const GUNZIP_AHEAD = 4 * 1024 * 1024;
// Big inflate chunks: fewer callbacks and stream events per byte on the main thread.
const GUNZIP_CHUNK = 1024 * 1024;

/** Opens a source. Throws ToolError('io-error') when it cannot be read, ToolError('not-a-dump') when it is not a dump. */
export async function openSource(source: string, opts: SourceOptions = {}): Promise<OpenedSource> {
  const abs = path.resolve(source);
  let st;
  try {
    st = await fsp.stat(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ToolError(
      'io-error',
      code === 'ENOENT' ? `${source}: no such file or directory` : `${source}: cannot read (${code ?? String(e)})`,
    );
  }
  if (st.isDirectory()) return openDirectory(abs, opts);
  if (!st.isFile()) throw new ToolError('not-a-dump', `${source} is neither a file nor a directory`);
  const head = await readHead(abs, 512);
  if (head.length === 0)
    throw new ToolError('not-a-dump', `${source} is empty: not a Prometheus dump (expected a .tar.gz, .tar or data directory)`);
  if (head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1]) return openTar(abs, 'tar.gz', st.size, opts);
  if (hasUstarMagic(head)) return openTar(abs, 'tar', st.size, opts);
  throw new ToolError('not-a-dump', notADumpMessage(source, head));
}

/** The first n bytes of a file (fewer when it is shorter): enough to sniff its format. */
export async function readHead(file: string, n: number): Promise<Buffer> {
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

function hasUstarMagic(block: Uint8Array): boolean {
  return block.length >= 262 && Buffer.from(block.subarray(257, 262)).toString('latin1') === 'ustar';
}

function notADumpMessage(source: string, head: Uint8Array): string {
  const text = Buffer.from(head).toString('utf8');
  if (/No persistent blocks found/i.test(text)) {
    return `${source} is not a dump: it holds promdump's message "No persistent blocks found" ` +
      `(the server had no blocks, so promdump wrote text instead of a tar). Dump the head and WAL another way, e.g. \`tsdbdump dump\`.`;
  }
  const printable = /^[\t\n\r\x20-\x7e]*$/.test(text.slice(0, 200));
  const what = printable ? `text ("${text.slice(0, 60).replace(/\s+/g, ' ').trim()}…")` : 'neither gzip nor tar data';
  return `${source} is not a Prometheus dump: it is ${what}; expected a .tar.gz, .tar or data directory`;
}

// ---- Tar and tar.gz ------------------------------------------------------------------------------

/** An entry body over an async iterator; unread rest can be drained, and an early `break` does not kill the archive. */
/**
 * An entry body over an async iterator. An early `break` by the consumer does not kill the archive
 * (the rest is drained), and a read error ends the body early and is kept for the reader to report
 * (so the consumer analyses what it got, and the reader turns the error into `dump-truncated`).
 */
class EntryBody implements AsyncIterable<Uint8Array> {
  private finished = false;
  error: unknown;
  constructor(private readonly it: AsyncIterator<Uint8Array>) {}
  private async step(): Promise<IteratorResult<Uint8Array>> {
    if (this.finished) return { done: true, value: undefined };
    try {
      const r = await this.it.next();
      if (r.done) this.finished = true;
      return r;
    } catch (e) {
      this.finished = true;
      this.error = e;
      return { done: true, value: undefined };
    }
  }
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return { next: () => this.step(), return: async () => ({ done: true, value: undefined }) };
  }
  /** Reads the rest; rethrows a read error met at any point. */
  async drain(): Promise<void> {
    while (!this.finished) await this.step();
    if (this.error !== undefined) throw this.error;
  }
}

const EMPTY_BODY: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true, value: undefined }) }) };

function bodyOf(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]: () => {
      let sent = false;
      return {
        next: async () => {
          if (sent || bytes.length === 0) return { done: true, value: undefined };
          sent = true;
          return { done: false, value: bytes };
        },
      };
    },
  };
}

function entryTypeOf(t: tarStream.Header['type'] | undefined | null): EntryType {
  switch (t) {
    case 'file':
    case 'contiguous-file':
    case undefined:
    case null:
      return 'file';
    case 'directory':
      return 'directory';
    case 'symlink':
      return 'symlink';
    case 'link':
      return 'link';
    case 'character-device':
    case 'block-device':
    case 'fifo':
      return 'device';
    default:
      return 'other';
  }
}

/** Components of a tar name after stripping `/` and `./`; `..` anywhere makes it unsafe. */
function splitName(name: string): { parts: string[]; absolute: boolean; dotdot: boolean } {
  const absolute = /^[/\\]/.test(name) || /^[A-Za-z]:[/\\]/.test(name);
  const norm = normalizeRelPath(name);
  const parts = norm === '' ? [] : norm.split('/').filter((p) => p !== '.');
  return { parts, absolute, dotdot: parts.includes('..') };
}

/** Index of the first component that starts the data dir (a ULID dir, `wal`, `chunks_head`), if any. */
function rootIndex(parts: string[], isDir: boolean): number | undefined {
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    const hasChild = i < parts.length - 1 || isDir;
    if (!hasChild) continue;
    if (p === 'wal' || p === 'chunks_head' || isUlid(p)) return i;
  }
  return undefined;
}

interface PendingEntry {
  name: string;
  parts: string[];
  absolute: boolean;
  type: EntryType;
  size: number;
  bytes?: Uint8Array;
}

/** Files seen before the data dir root is known are held (they are small: `lock`, `queries.active`). */
const PENDING_LIMIT = 4 * 1024 * 1024;

async function openTar(file: string, kind: 'tar' | 'tar.gz', totalBytes: number, opts: SourceOptions): Promise<OpenedSource> {
  return tarSource(() => createReadStream(file, { highWaterMark: READ_CHUNK }), file, kind, totalBytes, opts);
}

/**
 * Entries of a tar or tar.gz coming as a stream (e.g. `tar cf -` run in a pod), with the same
 * root detection, unsafe-entry and truncation handling as a file. `label` names it in messages.
 * The stream is consumed when the entries are iterated.
 */
export function openTarStream(
  input: Readable,
  opts: SourceOptions & { gzip?: boolean; label?: string; totalBytes?: number } = {},
): OpenedSource {
  return tarSource(() => input, opts.label ?? 'stream', opts.gzip ? 'tar.gz' : 'tar', opts.totalBytes ?? 0, opts);
}

function tarSource(makeInput: () => Readable, file: string, kind: 'tar' | 'tar.gz', totalBytes: number, opts: SourceOptions): OpenedSource {
  const problems: SourceProblem[] = [];
  const readEntries: string[] = [];
  const opened: OpenedSource = { kind, source: file, totalBytes, entries: tarEntries(), problems, readEntries };
  return opened;

  async function* tarEntries(): AsyncGenerator<DumpEntry> {
    const input = makeInput();
    let bytesRead = 0;
    let lastReport = 0;
    let currentName: string | undefined;
    input.on('data', (chunk) => {
      bytesRead += chunk.length;
      if (opts.onProgress && bytesRead - lastReport >= PROGRESS_STEP) {
        lastReport = bytesRead;
        opts.onProgress({ bytes: bytesRead, totalBytes: totalBytes || undefined, entry: currentName });
      }
    });
    const extract = tarStream.extract();
    const { decoded, gunzip } = tarBytesOf(input, kind);
    const sniff = firstChunks(decoded, 512);
    decoded.pipe(extract as unknown as NodeJS.WritableStream);
    // A gzip error (cut or damaged data) ends the extractor's input instead of destroying it, so
    // the entries decoded before it are still handed on, however slowly they are consumed; the
    // error is reported after the last complete entry.
    let decodeError: unknown;
    decoded.on('error', (e) => {
      if (input === decoded) {
        extract.destroy(e);
        return;
      }
      decodeError = e;
      (extract as unknown as NodeJS.WritableStream).end();
    });
    const onAbort = () => extract.destroy(abortError());
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    let rootParts: string[] | undefined;
    const pending: PendingEntry[] = [];
    let pendingBytes = 0;
    let sawAnything = false;

    const toEntry = (e: PendingEntry, body: AsyncIterable<Uint8Array>): DumpEntry | undefined => {
      const placed = placeUnderRoot(e, rootParts ?? []);
      if (placed.unsafe) problems.push({ code: 'tar-unsafe-path', path: e.name, message: placed.unsafe });
      return placed.path === undefined ? undefined : { path: placed.path, type: e.type, size: e.size, stream: body };
    };

    try {
      opts.signal?.throwIfAborted();
      for await (const raw of extract) {
        const header = raw.header;
        const name = header.name;
        currentName = name;
        sawAnything = true;
        const type = entryTypeOf(header.type);
        const body = new EntryBody((raw as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]());
        const { parts, absolute, dotdot } = splitName(name);
        const unsafe = unsafeEntryReason(name, type, dotdot, header.linkname);
        if (unsafe) {
          problems.push({ code: 'tar-unsafe-path', path: name, message: `${unsafe}; skipped, never followed or written` });
          await body.drain();
          continue;
        }
        if (type === 'other') {
          await body.drain();
          continue;
        }
        readEntries.push(name);
        if (rootParts === undefined) {
          const idx = rootIndex(parts, type === 'directory');
          if (idx !== undefined) {
            rootParts = parts.slice(0, idx);
            for (const p of pending) {
              const e = toEntry(p, p.bytes ? bodyOf(p.bytes) : EMPTY_BODY);
              if (e) yield e;
            }
            pending.length = 0;
          } else {
            const p: PendingEntry = { name, parts, absolute, type, size: header.size ?? 0 };
            if (type === 'file' && pendingBytes + p.size <= PENDING_LIMIT) {
              const chunks: Uint8Array[] = [];
              for await (const c of body) chunks.push(c);
              p.bytes = Buffer.concat(chunks);
              pendingBytes += p.size;
            }
            await body.drain();
            pending.push(p);
            continue;
          }
        }
        const e = toEntry({ name, parts, absolute, type, size: header.size ?? 0 }, body);
        if (e) currentName = e.path;
        if (e) yield e;
        await body.drain();
        opts.signal?.throwIfAborted();
      }
      if (decodeError !== undefined) throw decodeError;
    } catch (err) {
      if (opts.signal?.aborted) throw new ToolError('cancelled', 'cancelled');
      const reason = describeReadError(decodeError ?? err);
      if (!sawAnything) throw nothingReadError(file, kind, Buffer.concat(sniff), reason);
      problems.push({
        code: 'dump-truncated',
        path: currentName ?? '',
        message: `the archive ends early or is damaged after ${bytesRead}${totalBytes ? ` of ${totalBytes}` : ''} ` +
          `bytes (${reason}); ${readEntries.length} entries were read (the last: ${currentName ?? 'none'}), everything after is missing`,
      });
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      input.destroy();
      gunzip?.destroy();
      extract.destroy();
    }
    if (!sawAnything) throw nothingReadError(file, kind, Buffer.concat(sniff));
    if (rootParts === undefined) {
      const truncated = problems.some((p) => p.code === 'dump-truncated');
      if (!truncated) {
        throw new ToolError(
          'not-a-dump',
          `${file} is a tar archive without Prometheus TSDB data (no block directory, wal/ or chunks_head/): not a Prometheus dump`,
        );
      }
      for (const p of pending) {
        const e = toEntry(p, p.bytes ? bodyOf(p.bytes) : EMPTY_BODY);
        if (e) yield e;
      }
    }
    opts.onProgress?.({ bytes: bytesRead, totalBytes: totalBytes || undefined });
  }
}

/** The tar bytes of an archive's input: the input itself, or what a gunzip decodes from it. */
function tarBytesOf(input: Readable, kind: 'tar' | 'tar.gz'): { decoded: Readable; gunzip?: zlib.Gunzip } {
  if (kind === 'tar') return { decoded: input };
  // A deep output buffer lets inflation (on the libuv pool) run ahead while the main thread parses.
  const gunzip = zlib.createGunzip({ chunkSize: GUNZIP_CHUNK, readableHighWaterMark: GUNZIP_AHEAD } as zlib.ZlibOptions);
  // gzip reports a cut stream when it is ended, and its error destroys it, dropping output it
  // still buffers. So it is ended only once everything decoded so far went on to the extractor.
  input.pipe(gunzip, { end: false });
  input.on('error', (e) => gunzip.destroy(e));
  input.on('end', () => endWhenDrained(gunzip));
  return { decoded: gunzip, gunzip };
}

/** The first chunks of a stream, at least `bytes` of them (to tell what the data is when nothing parses). */
function firstChunks(stream: Readable, bytes: number): Buffer[] {
  const out: Buffer[] = [];
  let length = 0;
  const onData = (chunk: Buffer): void => {
    out.push(chunk);
    length += chunk.length;
    if (length >= bytes) stream.off('data', onData);
  };
  stream.on('data', onData);
  return out;
}

/** Why an entry must be skipped whatever its path: `..`, a link, a device (undefined: it is safe). */
export function unsafeEntryReason(name: string, type: EntryType, dotdot: boolean, linkname?: string | null): string | undefined {
  if (dotdot) return `entry "${name}" contains ".." and could write outside the data directory`;
  if (type === 'symlink' || type === 'link')
    return `entry "${name}" is a ${type === 'symlink' ? 'symbolic' : 'hard'} link (to "${linkname ?? ''}")`;
  if (type === 'device') return `entry "${name}" is a device or FIFO`;
  return undefined;
}

/**
 * An entry's path relative to the data dir root (the archive's leading directories above it
 * removed); no path for the root itself or for an absolute name that is not TSDB data inside it.
 * Old promdump builds wrote `/prometheus/01H…/index`: an absolute name is fine inside the data dir,
 * but one that is not TSDB data (`/etc/passwd`) could overwrite a system file on extraction.
 */
export function placeUnderRoot(
  e: { name: string; parts: string[]; absolute: boolean },
  root: string[],
): { path?: string; unsafe?: string } {
  const under = root.every((r, i) => e.parts[i] === r) && e.parts.length >= root.length;
  const rel = under ? e.parts.slice(root.length).join('/') : e.parts.join('/');
  if (rel === '') return {};
  if (e.absolute && (!under || classifyPath(rel).kind === 'other')) {
    return { unsafe: `entry "${e.name}" has an absolute path outside the data directory; skipped, never written` };
  }
  return { path: rel };
}

/**
 * The error when an archive yields no entry at all: gzip around something that is not tar, an empty
 * archive, or (with the read error's reason) data damaged or cut before the first entry.
 */
export function nothingReadError(file: string, kind: 'tar' | 'tar.gz', head: Uint8Array, reason?: string): ToolError {
  if (kind === 'tar.gz' && head.length > 0 && !hasUstarMagic(head)) {
    return new ToolError('not-a-dump', `${file} is gzip-compressed but not a tar archive: not a Prometheus dump`);
  }
  if (reason !== undefined)
    return new ToolError('dump-truncated', `${file} is damaged or cut short before its first entry (${reason}): nothing could be read`);
  return new ToolError('not-a-dump', `${file} is an empty archive: not a Prometheus dump`);
}

/** Ends a gunzip once its input is all written and its output all taken (polled: streams have no event for both). */
function endWhenDrained(gunzip: zlib.Gunzip): void {
  const check = () => {
    if (gunzip.destroyed || gunzip.writableEnded) return;
    if (gunzip.writableLength === 0 && gunzip.readableLength === 0) gunzip.end();
    else setTimeout(check, 2);
  };
  check();
}

function describeReadError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const msg = e?.message ?? String(err);
  if (e?.code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(msg)) return 'gzip stream cut short';
  if (/Unexpected end of data/i.test(msg)) return 'tar stream cut short';
  if (e?.code?.startsWith?.('Z_')) return `gzip data damaged: ${msg}`;
  if (/Invalid tar header/i.test(msg)) return 'damaged tar header';
  return msg;
}

function abortError(): Error {
  const e = new Error('cancelled');
  e.name = 'AbortError';
  return e;
}

// ---- Directories -----------------------------------------------------------------------------

interface DirFile {
  rel: string;
  abs: string;
  type: EntryType;
  size: number;
}

/** Sorts names numerically where they are numbers (segment files), by name otherwise. */
function byNumberThenName(a: string, b: string): number {
  const na = parseDecimalName(a);
  const nb = parseDecimalName(b);
  if (na !== undefined && nb !== undefined) return na - nb;
  if (na !== undefined) return -1;
  if (nb !== undefined) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

async function listDir(abs: string): Promise<Dirent[]> {
  const entries = await fsp.readdir(abs, { withFileTypes: true });
  return entries;
}

function direntType(d: Dirent): EntryType {
  if (d.isFile()) return 'file';
  if (d.isDirectory()) return 'directory';
  if (d.isSymbolicLink()) return 'symlink';
  return 'device';
}

/** A directory looks like a data dir when it holds a block dir, wal/ or chunks_head/. */
async function looksLikeDataDir(abs: string): Promise<boolean> {
  try {
    return (await listDir(abs)).some((d) => d.isDirectory() && (d.name === 'wal' || d.name === 'chunks_head' || isUlid(d.name)));
  } catch {
    return false;
  }
}

/** Walks a data dir in promdump's order: chunks_head, wal (segments then checkpoints), blocks by name, the rest by name. */
async function walk(root: string): Promise<DirFile[]> {
  const out: DirFile[] = [];
  const visit = async (rel: string, order: (names: Dirent[]) => Dirent[]) => {
    const abs = path.join(root, rel);
    const list = order(await listDir(abs));
    for (const d of list) {
      const childRel = rel ? `${rel}/${d.name}` : d.name;
      const childAbs = path.join(root, childRel);
      const type = direntType(d);
      if (type === 'directory') {
        out.push({ rel: childRel, abs: childAbs, type, size: 0 });
        await visit(childRel, orderInside(childRel));
      } else {
        const size = type === 'file' ? (await fsp.stat(childAbs)).size : 0;
        out.push({ rel: childRel, abs: childAbs, type, size });
      }
    }
  };
  await visit('', orderTop);
  return out;
}

function orderTop(list: Dirent[]): Dirent[] {
  const rank = (d: Dirent) =>
    d.name === 'chunks_head' ? 0 : d.name === 'wal' ? 1 : d.name === 'wbl' ? 2 : d.isDirectory() && isUlid(d.name) ? 3 : 4;
  return [...list].sort((a, b) => rank(a) - rank(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function orderInside(rel: string): (list: Dirent[]) => Dirent[] {
  const kind = classifyPath(rel).kind;
  if (kind === 'block-dir') {
    const rank = (d: Dirent) => ({ chunks: 0, index: 1, 'meta.json': 2, tombstones: 3 })[d.name] ?? 4;
    return (list) => [...list].sort((a, b) => rank(a) - rank(b) || (a.name < b.name ? -1 : 1));
  }
  if (kind === 'wal-dir') {
    // Segments first (numerically), then checkpoints (by number), then the rest.
    const rank = (d: Dirent) => (parseDecimalName(d.name) !== undefined ? 0 : parseCheckpointDirName(d.name) !== undefined ? 1 : 2);
    const num = (d: Dirent) => parseDecimalName(d.name) ?? parseCheckpointDirName(d.name) ?? 0;
    return (list) => [...list].sort((a, b) => rank(a) - rank(b) || num(a) - num(b) || (a.name < b.name ? -1 : 1));
  }
  return (list) => [...list].sort((a, b) => byNumberThenName(a.name, b.name));
}

async function openDirectory(abs: string, opts: SourceOptions): Promise<OpenedSource> {
  let root = abs;
  if (!(await looksLikeDataDir(abs))) {
    // Accept the folder that holds an extracted data dir (e.g. `<dump>/data` or `<dump>/prometheus`).
    const children = (await listDir(abs)).filter((d) => d.isDirectory());
    let found: string | undefined;
    for (const c of children) {
      if (await looksLikeDataDir(path.join(abs, c.name))) {
        if (found) {
          found = undefined;
          break;
        }
        found = path.join(abs, c.name);
      }
    }
    if (!found)
      throw new ToolError('not-a-dump', `${abs} is a directory without Prometheus TSDB data (no block directory, wal/ or chunks_head/)`);
    root = found;
  }
  let files: DirFile[];
  try {
    files = await walk(root);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ToolError('io-error', `cannot list ${err.path ?? root}: ${err.code ?? err.message}`);
  }
  const totalBytes = files.reduce((s, f) => s + f.size, 0);
  const problems: SourceProblem[] = [];
  const readEntries: string[] = [];

  async function* dirEntries(): AsyncGenerator<DumpEntry> {
    let bytes = 0;
    let lastReport = 0;
    for (const f of files) {
      if (opts.signal?.aborted) throw new ToolError('cancelled', 'cancelled');
      if (f.type === 'symlink' || f.type === 'device') {
        problems.push({
          code: 'tar-unsafe-path',
          path: f.rel,
          message: `"${f.rel}" is a ${f.type === 'symlink' ? 'symbolic link' : 'device, socket or FIFO'}; skipped, never followed`,
        });
        continue;
      }
      readEntries.push(f.rel);
      if (f.type !== 'file') {
        yield { path: f.rel, type: f.type, size: 0, stream: EMPTY_BODY };
        continue;
      }
      const stream = createReadStream(f.abs, { highWaterMark: READ_CHUNK, signal: opts.signal });
      const counted = countBytes(stream, (n) => {
        bytes += n;
        if (opts.onProgress && bytes - lastReport >= PROGRESS_STEP) {
          lastReport = bytes;
          opts.onProgress({ bytes, totalBytes, entry: f.rel });
        }
      });
      const body = new EntryBody(counted[Symbol.asyncIterator]());
      try {
        yield { path: f.rel, type: 'file', size: f.size, stream: body };
        await body.drain();
      } catch (e) {
        if (opts.signal?.aborted) throw new ToolError('cancelled', 'cancelled');
        const err = e as NodeJS.ErrnoException;
        throw new ToolError('io-error', `cannot read ${f.abs}: ${err.code ?? err.message}`);
      } finally {
        stream.destroy();
      }
    }
    opts.onProgress?.({ bytes, totalBytes });
  }

  return { kind: 'directory', source: root, totalBytes, entries: dirEntries(), problems, readEntries };
}

async function* countBytes(stream: AsyncIterable<Uint8Array>, onBytes: (n: number) => void): AsyncGenerator<Uint8Array> {
  for await (const c of stream) {
    onBytes(c.length);
    yield c;
  }
}
