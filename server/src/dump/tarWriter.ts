/**
 * Streaming tar / tar.gz writer for dumps (repair output, dumps from pods). Writes
 * `<out>.partial` and renames it to `<out>` only on success; on failure or cancellation the partial
 * file is removed. Memory is bounded by the stream buffers: entry bodies are streamed through.
 */
import { createWriteStream, promises as fsp } from 'node:fs';
import zlib from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import { ToolError, toToolError } from '../errors';

export interface DumpWriteEntry {
  /** Relative path inside the dump; a trailing `/` (or size 0 with type directory) makes a directory entry. */
  path: string;
  size: number;
  type?: 'file' | 'directory';
  mode?: number;
  mtime?: Date;
  body?: AsyncIterable<Uint8Array> | Uint8Array;
}

export interface WriteDumpOptions {
  /** Default: gzip when the name ends in .gz/.tgz. */
  gzip?: boolean;
  /** gzip level; 6 like promdump. */
  level?: number;
  signal?: AbortSignal;
  /** Bytes written to the output (before rename). */
  onProgress?: (p: { bytes: number; entry?: string }) => void;
}

export interface WriteDumpResult {
  output: string;
  files: number;
  /** Uncompressed bytes of entry bodies. */
  bytes: number;
}

/** Writes entries to outPath atomically (through `<outPath>.partial`). */
export async function writeDump(
  outPath: string,
  entries: AsyncIterable<DumpWriteEntry> | Iterable<DumpWriteEntry>,
  opts: WriteDumpOptions = {},
): Promise<WriteDumpResult> {
  const partial = `${outPath}.partial`;
  const gzip = opts.gzip ?? /\.(t?gz)$/i.test(outPath);
  const pack = tarStream.pack();
  const out = createWriteStream(partial);
  let written = 0;
  const stages: (NodeJS.ReadableStream | NodeJS.WritableStream)[] = [pack as unknown as NodeJS.ReadableStream];
  if (gzip) stages.push(zlib.createGzip({ level: opts.level ?? 6 }));
  const piping = pipeline([...stages, out] as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream], { signal: opts.signal });
  let files = 0;
  let bytes = 0;
  let current: string | undefined;
  const reportTimer = opts.onProgress ? setInterval(() => opts.onProgress!({ bytes: out.bytesWritten, entry: current }), 500) : undefined;
  try {
    const producing = (async () => {
      for await (const e of entries as AsyncIterable<DumpWriteEntry>) {
        opts.signal?.throwIfAborted();
        const name = e.path.replace(/^\/+/, '');
        if (name.split('/').includes('..')) throw new ToolError('tar-unsafe-path', `refusing to write entry "${e.path}" (contains "..")`);
        current = name;
        const isDir = e.type === 'directory' || name.endsWith('/');
        if (isDir) {
          await entryDone(pack, {
            name: name.endsWith('/') ? name : `${name}/`,
            type: 'directory',
            mode: e.mode ?? 0o755,
            mtime: e.mtime ?? new Date(),
          });
          continue;
        }
        const header = { name, type: 'file' as const, size: e.size, mode: e.mode ?? 0o644, mtime: e.mtime ?? new Date() };
        if (e.body === undefined || e.body instanceof Uint8Array) {
          const data = e.body ?? new Uint8Array(0);
          if (data.length !== e.size) throw new ToolError('internal', `entry ${name}: size ${e.size} but ${data.length} bytes given`);
          await entryDone(pack, header, data);
        } else {
          const sink = pack.entry(header);
          const done = new Promise<void>((resolve, reject) => {
            sink.on('error', reject);
            sink.on('finish', resolve);
          });
          let n = 0;
          for await (const chunk of e.body) {
            n += chunk.length;
            if (n > e.size) throw new ToolError('internal', `entry ${name}: more than its declared ${e.size} bytes`);
            if (!sink.write(chunk)) await new Promise<void>((resolve) => sink.once('drain', resolve));
            opts.signal?.throwIfAborted();
          }
          if (n !== e.size) throw new ToolError('internal', `entry ${name}: declared ${e.size} bytes, got ${n}`);
          sink.end(null);
          await done;
        }
        files++;
        bytes += e.size;
      }
      pack.finalize();
    })();
    producing.catch(() => pack.destroy());
    await Promise.all([producing, piping]);
    written = out.bytesWritten;
    await fsp.rename(partial, outPath);
  } catch (e) {
    pack.destroy();
    out.destroy();
    // The file may still be opening: wait until it is closed, or it would reappear after the rm.
    await piping.catch(() => undefined);
    if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
    await fsp.rm(partial, { force: true });
    if (opts.signal?.aborted) throw new ToolError('cancelled', 'cancelled');
    throw toToolError(e, 'io-error');
  } finally {
    if (reportTimer) clearInterval(reportTimer);
  }
  opts.onProgress?.({ bytes: written });
  return { output: outPath, files, bytes };
}

function entryDone(pack: tarStream.Pack, header: Partial<tarStream.Header> & { name: string }, data?: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const cb = (err?: Error | null) => (err ? reject(err) : resolve());
    if (data) pack.entry(header, data, cb);
    else pack.entry(header, cb);
  });
}
