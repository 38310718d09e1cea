/**
 * Cheap test of whether a file or directory is a Prometheus TSDB dump, for the Dump Files tree:
 * reads only the first bytes of an archive (the first tar headers) or lists a directory once.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { ProbeResult } from '../protocol';
import { readHead } from '../dump/source';
import { classifyPath, isUlid } from '../tsdb/blockDir';

const HEAD_BYTES = 64 * 1024;
const TAR_BLOCK = 512;

export async function probeSource(source: string): Promise<ProbeResult> {
  let st;
  try {
    st = await fsp.stat(source);
  } catch (e) {
    return { source, kind: 'none', reason: `cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  if (st.isDirectory()) return probeDirectory(source);
  if (!st.isFile()) return { source, kind: 'none', reason: 'neither a file nor a directory' };
  const head = await readHead(source, HEAD_BYTES);
  return { source, ...classifyArchiveHead(head) };
}

/** Classifies the first bytes of a file: gzip or plain tar whose first entries are TSDB paths. */
export function classifyArchiveHead(head: Uint8Array): Omit<ProbeResult, 'source'> {
  let tar: Uint8Array = head;
  if (head[0] === 0x1f && head[1] === 0x8b) {
    try {
      // Z_SYNC_FLUSH lets gunzip return what it has from a cut-off stream.
      tar = zlib.gunzipSync(head, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } catch {
      return { kind: 'none', reason: 'damaged gzip data' };
    }
  }
  const names = tarEntryNames(tar, 8);
  if (names === undefined) return { kind: 'none', reason: 'not a tar archive' };
  const tsdbNames = names.filter((n) => classifyPath(n).kind !== 'other');
  if (tsdbNames.length === 0) return { kind: 'none', reason: `no TSDB entries at the start (first entry: ${names[0] ?? 'none'})` };
  return { kind: 'archive' };
}

/** Names of the first `max` entries of a tar stream, or undefined when the data is not tar. */
export function tarEntryNames(tar: Uint8Array, max: number): string[] | undefined {
  const names: string[] = [];
  let offset = 0;
  while (names.length < max && offset + TAR_BLOCK <= tar.length) {
    const header = tar.subarray(offset, offset + TAR_BLOCK);
    if (header.every((b) => b === 0)) break;
    if (latin1(header, 257, 5) !== 'ustar') return names.length ? names : undefined;
    const typeflag = String.fromCharCode(header[156]);
    const size = parseOctal(header.subarray(124, 136));
    const prefix = cString(header.subarray(345, 500));
    const name = cString(header.subarray(0, 100));
    // PAX ('x', 'g') and GNU long-name ('L') headers describe the next entry; skip them.
    if (!'xgLK'.includes(typeflag)) names.push(prefix ? `${prefix}/${name}` : name);
    offset += TAR_BLOCK + Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
  }
  return names;
}

async function probeDirectory(dir: string): Promise<ProbeResult> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (e) {
    return { source: dir, kind: 'none', reason: `cannot list (${(e as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  if (names.includes('wal') || names.includes('chunks_head')) return { source: dir, kind: 'dir' };
  for (const n of names.filter(isUlid)) {
    try {
      await fsp.access(path.join(dir, n, 'meta.json'));
      return { source: dir, kind: 'dir' };
    } catch {
      // a ULID-named dir without meta.json alone does not make a data dir
    }
  }
  return { source: dir, kind: 'none', reason: 'no block directories, wal/ or chunks_head/' };
}

function latin1(b: Uint8Array, start: number, len: number): string {
  return String.fromCharCode(...b.subarray(start, start + len));
}

function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return Buffer.from(end < 0 ? b : b.subarray(0, end)).toString('utf8');
}

function parseOctal(b: Uint8Array): number {
  const s = cString(b).trim();
  return s ? parseInt(s, 8) || 0 : 0;
}
