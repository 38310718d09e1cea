/**
 * Names inside a Prometheus data directory (docs/tsdb-format.md §1): which paths are blocks, segments,
 * leftovers of interrupted work, or something TSDB does not know.
 */
import { decodeTime } from 'ulid';

// Crockford base32 without I, L, O, U. Go's oklog/ulid (what Prometheus uses) also accepts lower case.
const ULID_RE = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/i;

/** True when Prometheus would treat a directory of this name as a block (ulid.ParseStrict). */
export function isUlid(name: string): boolean {
  return ULID_RE.test(name);
}

/** Creation time (ms) encoded in the first 10 characters, or undefined for a non-ULID. */
export function ulidTime(name: string): number | undefined {
  if (!isUlid(name)) return undefined;
  try {
    return decodeTime(name.toUpperCase());
  } catch {
    return undefined;
  }
}

/** Decimal file number as Go's strconv.ParseUint accepts it (Prometheus lists segments that way). */
export function parseDecimalName(name: string): number | undefined {
  if (!/^[0-9]{1,15}$/.test(name)) return undefined;
  return Number(name);
}

/** `checkpoint.00000011` → 11 (not `.tmp`). */
export function parseCheckpointDirName(name: string): number | undefined {
  const m = /^checkpoint\.([0-9]{1,15})$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

export type TmpKind =
  | 'tmp-for-creation'
  | 'tmp-for-deletion'
  | 'block-tmp'
  | 'checkpoint-tmp'
  | 'meta-tmp'
  | 'tombstones-tmp'
  | 'index-repaired';

export type PathKind =
  | { kind: 'block-dir'; ulid: string }
  | { kind: 'block-meta'; ulid: string }
  | { kind: 'block-index'; ulid: string }
  | { kind: 'block-tombstones'; ulid: string }
  | { kind: 'block-chunks-dir'; ulid: string }
  /** segment = the number in the file name (`000001` → 1); the chunk ref uses its 0-based position. */
  | { kind: 'block-chunk-segment'; ulid: string; segment: number }
  | { kind: 'block-other'; ulid: string; rest: string }
  | { kind: 'head-chunks-dir' }
  | { kind: 'head-chunk-file'; number: number }
  | { kind: 'wal-dir' }
  | { kind: 'wal-segment'; number: number }
  | { kind: 'checkpoint-dir'; checkpoint: number }
  | { kind: 'checkpoint-segment'; checkpoint: number; number: number }
  | { kind: 'wbl-dir' }
  | { kind: 'wbl-segment'; number: number }
  | { kind: 'chunk-snapshot'; root: string }
  | { kind: 'lock' }
  | { kind: 'queries-active' }
  /** A leftover of interrupted work; root is the leftover's own path (a directory or a file), to group its entries. */
  | { kind: 'tmp'; tmpKind: TmpKind; root: string }
  | { kind: 'other' };

/** Strips `/`, `./` and trailing slashes so tar entry names and relative paths compare alike. */
export function normalizeRelPath(relPath: string): string {
  let p = relPath.replace(/\\/g, '/');
  for (;;) {
    const before = p;
    p = p.replace(/^\/+/, '').replace(/^\.\//, '');
    if (p === before) break;
  }
  p = p.replace(/\/+$/, '').replace(/\/{2,}/g, '/');
  return p === '.' ? '' : p;
}

/** Classifies a path relative to the data dir (files or directories, with or without a trailing slash). */
export function classifyPath(relPath: string): PathKind {
  const parts = normalizeRelPath(relPath).split('/');
  const [top, ...rest] = parts;
  if (!top) return { kind: 'other' };

  const topTmp = tmpKindOfTopName(top);
  if (topTmp) return { kind: 'tmp', tmpKind: topTmp, root: top };

  if (isUlid(top)) return classifyInBlock(top, rest);

  switch (top) {
    case 'lock':
      return rest.length === 0 ? { kind: 'lock' } : { kind: 'other' };
    case 'queries.active':
      return rest.length === 0 ? { kind: 'queries-active' } : { kind: 'other' };
    case 'chunks_head': {
      if (rest.length === 0) return { kind: 'head-chunks-dir' };
      const n = rest.length === 1 ? parseDecimalName(rest[0]) : undefined;
      return n === undefined ? { kind: 'other' } : { kind: 'head-chunk-file', number: n };
    }
    case 'wbl': {
      if (rest.length === 0) return { kind: 'wbl-dir' };
      const n = rest.length === 1 ? parseDecimalName(rest[0]) : undefined;
      return n === undefined ? { kind: 'other' } : { kind: 'wbl-segment', number: n };
    }
    case 'wal':
      return classifyInWal(rest);
  }
  if (/^chunk_snapshot\.[0-9]+\.[0-9]+$/.test(top)) return { kind: 'chunk-snapshot', root: top };
  return { kind: 'other' };
}

function tmpKindOfTopName(name: string): TmpKind | undefined {
  if (name.endsWith('.tmp-for-creation')) return 'tmp-for-creation';
  if (name.endsWith('.tmp-for-deletion')) return 'tmp-for-deletion';
  if (name.endsWith('.tmp') && isUlid(name.slice(0, -4))) return 'block-tmp';
  return undefined;
}

function classifyInBlock(ulid: string, rest: string[]): PathKind {
  if (rest.length === 0) return { kind: 'block-dir', ulid };
  const [name, ...deeper] = rest;
  if (deeper.length === 0) {
    switch (name) {
      case 'meta.json':
        return { kind: 'block-meta', ulid };
      case 'index':
        return { kind: 'block-index', ulid };
      case 'tombstones':
        return { kind: 'block-tombstones', ulid };
      case 'chunks':
        return { kind: 'block-chunks-dir', ulid };
      case 'meta.json.tmp':
        return { kind: 'tmp', tmpKind: 'meta-tmp', root: `${ulid}/${name}` };
      case 'tombstones.tmp':
        return { kind: 'tmp', tmpKind: 'tombstones-tmp', root: `${ulid}/${name}` };
      case 'index.repaired':
        return { kind: 'tmp', tmpKind: 'index-repaired', root: `${ulid}/${name}` };
    }
  }
  if (name === 'chunks' && deeper.length === 1) {
    const n = parseDecimalName(deeper[0]);
    if (n !== undefined) return { kind: 'block-chunk-segment', ulid, segment: n };
  }
  return { kind: 'block-other', ulid, rest: rest.join('/') };
}

function classifyInWal(rest: string[]): PathKind {
  if (rest.length === 0) return { kind: 'wal-dir' };
  const [name, ...deeper] = rest;
  if (/^checkpoint\.[0-9]+\.tmp$/.test(name)) return { kind: 'tmp', tmpKind: 'checkpoint-tmp', root: `wal/${name}` };
  const checkpoint = parseCheckpointDirName(name);
  if (checkpoint !== undefined) {
    if (deeper.length === 0) return { kind: 'checkpoint-dir', checkpoint };
    const n = deeper.length === 1 ? parseDecimalName(deeper[0]) : undefined;
    return n === undefined ? { kind: 'other' } : { kind: 'checkpoint-segment', checkpoint, number: n };
  }
  const n = deeper.length === 0 ? parseDecimalName(name) : undefined;
  return n === undefined ? { kind: 'other' } : { kind: 'wal-segment', number: n };
}

/** Neighbours whose numbers are not consecutive: Prometheus refuses to start on such a gap (head chunks, WAL, WBL alike). */
export function numberingGaps<T extends { number: number }>(sorted: T[]): [prev: T, cur: T][] {
  const gaps: [T, T][] = [];
  for (let i = 1; i < sorted.length; i++) if (sorted[i].number !== sorted[i - 1].number + 1) gaps.push([sorted[i - 1], sorted[i]]);
  return gaps;
}
