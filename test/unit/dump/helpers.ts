/** Helpers for the dump reader tests: build small tars with tar-stream, read sources fully. */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import * as tarStream from 'tar-stream';
import { openSource, type OpenedSource } from '../../../server/src/dump/source';

export interface TarItem {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device';
  body?: string | Uint8Array;
  linkname?: string;
}

/** A tar (optionally gzipped) of the given entries, as bytes. */
export async function makeTar(items: TarItem[], gzip = false): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c) => chunks.push(c as Buffer));
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const it of items) {
    const type = it.type ?? 'file';
    const body = typeof it.body === 'string' ? Buffer.from(it.body) : (it.body ?? Buffer.alloc(0));
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (type === 'file') pack.entry({ name: it.name, type, size: body.length }, body, cb);
      else pack.entry({ name: it.name, type, linkname: it.linkname, size: 0 }, cb);
    });
  }
  pack.finalize();
  await done;
  const tar = Buffer.concat(chunks);
  return gzip ? zlib.gzipSync(tar) : tar;
}

const created: string[] = [];
process.on('exit', () => {
  for (const d of created) rmSync(d, { recursive: true, force: true });
});

/** A temp dir removed when the test process exits. */
export function tmpDir(prefix = 'tsdbdump-test-'): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(d);
  return d;
}

export function writeTmp(name: string, bytes: Uint8Array | string): string {
  const p = path.join(tmpDir(), name);
  writeFileSync(p, bytes);
  return p;
}

export interface ReadEntry {
  path: string;
  type: string;
  size: number;
  sha: string;
  read: number;
}

/** Reads every entry of a source (bodies hashed). */
export async function readAllEntries(
  source: string,
  opts: { signal?: AbortSignal } = {},
): Promise<{ opened: OpenedSource; entries: ReadEntry[] }> {
  const opened = await openSource(source, opts);
  const entries: ReadEntry[] = [];
  for await (const e of opened.entries) {
    const h = createHash('sha256');
    let read = 0;
    for await (const c of e.stream) {
      h.update(c);
      read += c.length;
    }
    entries.push({ path: e.path, type: e.type, size: e.size, sha: h.digest('hex'), read });
  }
  return { opened, entries };
}
