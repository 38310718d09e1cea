/**
 * Random access to one file of a dump (an index has its TOC at the end, so it cannot be parsed as a
 * stream). Small files stay in memory; beyond the limit they spill to a temp file, so memory stays
 * bounded whatever the dump size. Call dispose() to remove the temp file.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ByteSource } from '../tsdb/types';

export const DEFAULT_MEMORY_LIMIT = 32 * 1024 * 1024;

export interface DisposableByteSource extends ByteSource {
  dispose(): void;
}

class MemoryByteSource implements DisposableByteSource {
  constructor(private readonly bytes: Uint8Array) {}
  get size(): number {
    return this.bytes.length;
  }
  read(offset: number, length: number): Uint8Array {
    const start = Math.max(0, Math.min(offset, this.bytes.length));
    return this.bytes.subarray(start, Math.min(this.bytes.length, start + Math.max(0, length)));
  }
  dispose(): void {}
}

class FileByteSource implements DisposableByteSource {
  private fd: number | undefined;
  constructor(
    private readonly dir: string,
    fd: number,
    readonly size: number,
  ) {
    this.fd = fd;
  }
  read(offset: number, length: number): Uint8Array {
    if (this.fd === undefined) throw new Error('byte source already disposed');
    const start = Math.max(0, Math.min(offset, this.size));
    const len = Math.max(0, Math.min(length, this.size - start));
    const out = Buffer.allocUnsafe(len);
    let done = 0;
    while (done < len) {
      const n = readSync(this.fd, out, done, len - done, start + done);
      if (n === 0) break;
      done += n;
    }
    return done === len ? out : out.subarray(0, done);
  }
  dispose(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Wraps bytes already in memory. */
export function memoryByteSource(bytes: Uint8Array): DisposableByteSource {
  return new MemoryByteSource(bytes);
}

/**
 * Collects a stream into a ByteSource: in memory up to memoryLimit bytes, otherwise in a temp file
 * (created in tmpDir or the OS temp dir, removed by dispose()).
 */
export async function collectByteSource(
  body: AsyncIterable<Uint8Array>,
  opts: { memoryLimit?: number; tmpDir?: string; expectedSize?: number } = {},
): Promise<DisposableByteSource> {
  const limit = opts.memoryLimit ?? DEFAULT_MEMORY_LIMIT;
  const parts: Uint8Array[] = [];
  let size = 0;
  let spill: { dir: string; fd: number } | undefined;
  try {
    for await (const chunk of body) {
      if (!spill && size + chunk.length > limit) {
        const dir = mkdtempSync(path.join(opts.tmpDir ?? os.tmpdir(), 'tsdbdump-'));
        spill = { dir, fd: openSync(path.join(dir, 'spill'), 'w+') };
        for (const p of parts) writeAll(spill.fd, p);
        parts.length = 0;
      }
      if (spill) writeAll(spill.fd, chunk);
      else parts.push(chunk);
      size += chunk.length;
    }
  } catch (e) {
    if (spill) {
      closeSync(spill.fd);
      rmSync(spill.dir, { recursive: true, force: true });
    }
    throw e;
  }
  if (spill) return new FileByteSource(spill.dir, spill.fd, size);
  return new MemoryByteSource(parts.length === 1 ? parts[0] : Buffer.concat(parts, size));
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}
