/**
 * Resuming an interrupted dump. While a dump streams, `<out>.partial` grows by whole gzip members
 * (kube/gzip.ts; every tar header starts a new member, kube/tarTrack.ts), and about once a second
 * the progress record `<out>.partial.resume.json` says, after an fsync of the partial, how far it
 * is durable: the complete entries (tar and archive offsets, SHA-256 of what arrived) and the file
 * in flight with its byte count. A gzip file of several members is one valid gzip (RFC 1952 §2.2),
 * so a run that continues truncates the partial to the recorded end and appends.
 *
 * What the next run keeps is decided on data, as a fresh dump would decide it:
 *   1. locally, every recorded entry is decoded again from its own range of members and hashed;
 *      from the first entry that does not match, nothing is kept (a damaged or foreign partial);
 *   2. in the pod, the kept files are hashed again (`sha256sum`); a file that is no longer part of
 *      the dump (outside the range now, compacted away) or whose SHA-256 changed (the WAL segment
 *      being written) is dropped from the partial and, when still in the plan, read again whole;
 *   3. the file in flight continues from its last durable byte (`tail -c +N` in the pod) when its
 *      size is still the one its tar header promised; otherwise it is read again whole.
 * Dropped entries are cut out of the partial by moving the following members down (byte copies,
 * no recompression); the record is first shortened to the entries before the first cut, so a
 * crash during the move only loses what follows it.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import zlib from 'node:zlib';
import { TarTracker, type InFlightState, type TrackedEntry } from './tarTrack';

export interface ResumeEntry extends TrackedEntry {
  /** Archive (compressed) offset of the entry's first member. */
  archiveStart: number;
  /** Archive offset of the member after the entry (the next entry's archiveStart). */
  archiveEnd: number;
}

export interface ResumeRecord {
  tool: 'tsdbdump';
  kind: 'dump-progress';
  formatVersion: 1;
  updatedAt: string;
  pod: { context: string; namespace: string; name: string; container: string };
  dataDir: string;
  snapshot: boolean;
  /** Durable length of the partial. */
  archiveBytes: number;
  /** Tar bytes the durable part decodes to. */
  tarBytes: number;
  /** Complete entries, in archive order. */
  entries: ResumeEntry[];
  /** The file whose data was being received: archiveEnd = archiveBytes, `done` data bytes of it. */
  inFlight?: ResumeEntry & { done: number };
}

export type ResumeKey = Pick<ResumeRecord, 'pod' | 'dataDir' | 'snapshot'>;

export const resumeRecordPath = (out: string): string => `${out}.partial.resume.json`;

/** Writes the record durably: temp file, fsync, rename, fsync of the directory. */
export async function writeResumeRecord(out: string, rec: ResumeRecord): Promise<void> {
  const file = resumeRecordPath(out);
  const tmp = `${file}.tmp`;
  const fh = await fsp.open(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify(rec));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, file);
  const dir = await fsp.open(path.dirname(file), 'r').catch(() => undefined);
  await dir?.sync().catch(() => undefined);
  await dir?.close();
}

export async function readResumeRecord(out: string): Promise<ResumeRecord | undefined> {
  try {
    const rec = JSON.parse(await fsp.readFile(resumeRecordPath(out), 'utf8')) as ResumeRecord;
    return rec.tool === 'tsdbdump' && rec.kind === 'dump-progress' && rec.formatVersion === 1 && Array.isArray(rec.entries)
      ? rec
      : undefined;
  } catch {
    return undefined;
  }
}

export async function removeResumeState(out: string): Promise<void> {
  await fsp.rm(resumeRecordPath(out), { force: true });
  await fsp.rm(`${resumeRecordPath(out)}.tmp`, { force: true });
}

export function sameKey(a: ResumeKey, b: ResumeKey): boolean {
  return (
    a.pod.context === b.pod.context &&
    a.pod.namespace === b.pod.namespace &&
    a.pod.name === b.pod.name &&
    a.pod.container === b.pod.container &&
    a.dataDir === b.dataDir &&
    a.snapshot === b.snapshot
  );
}

/** Decodes archive bytes [start, end) of `file` (whole members) into a tracker starting at tar offset `base`. */
async function decodeRange(file: string, start: number, end: number, base: number, signal?: AbortSignal): Promise<TarTracker> {
  const tracker = new TarTracker(undefined, base);
  if (end <= start) return tracker;
  await pipeline(
    createReadStream(file, { start, end: end - 1, highWaterMark: 1024 * 1024 }),
    zlib.createGunzip(),
    new Writable({
      write(chunk: Buffer, _e, cb) {
        tracker.feed(chunk);
        cb();
      },
    }),
    { signal },
  );
  return tracker;
}

export interface VerifiedPartial {
  /** Recorded entries that decoded to exactly what the record says. */
  entries: ResumeEntry[];
  inFlight?: { entry: ResumeEntry; done: number; hash: Hash };
  /** Why the rest of the record was not kept, if it was not. */
  problem?: string;
}

/** Step 1 (see the top): the longest prefix of the record that the partial really holds. */
export async function verifyPartial(partial: string, rec: ResumeRecord, signal?: AbortSignal): Promise<VerifiedPartial> {
  const size = (await fsp.stat(partial).catch(() => undefined))?.size ?? -1;
  if (size < rec.archiveBytes) return { entries: [], problem: `${path.basename(partial)} is shorter than its progress record says` };
  const entries: ResumeEntry[] = [];
  let expectStart = 0;
  for (const e of rec.entries) {
    const bad = (why: string): VerifiedPartial => ({ entries, problem: `${e.path}: ${why}` });
    if (e.archiveStart !== expectStart || e.archiveEnd < e.archiveStart) return bad('not where the record says');
    try {
      const t = await decodeRange(partial, e.archiveStart, e.archiveEnd, e.headerStart, signal);
      const got = t.entries[0];
      if (t.entries.length !== 1 || t.offset !== e.end || got.path !== e.path || got.size !== e.size || got.sha256 !== e.sha256)
        return bad('the partial file does not hold it as recorded');
    } catch (err) {
      signal?.throwIfAborted();
      return bad(`cannot be decoded again (${(err as Error).message})`);
    }
    entries.push(e);
    expectStart = e.archiveEnd;
  }
  const f = rec.inFlight;
  if (!f) return { entries };
  try {
    if (f.archiveStart !== expectStart) throw new Error('not where the record says');
    const t = await decodeRange(partial, f.archiveStart, rec.archiveBytes, f.headerStart, signal);
    const state = t.inFlight();
    if (t.entries.length !== 1 || !state || state.entry.path !== f.path || state.done !== f.done || t.offset !== rec.tarBytes)
      throw new Error('the partial file does not hold it as recorded');
    return { entries, inFlight: { entry: { ...f }, done: f.done, hash: state.hash } };
  } catch (err) {
    signal?.throwIfAborted();
    return { entries, problem: `${f.path} (in flight): ${(err as Error).message}` };
  }
}

/**
 * Cuts out what is not kept: moves the kept entries (and the one in flight, last) down over the
 * dropped ones. Returns them with their new offsets. Byte copies of whole members.
 */
export async function compactPartial(
  partial: string,
  keep: ResumeEntry[],
  inFlight: (ResumeEntry & { tarEnd: number }) | undefined,
  signal?: AbortSignal,
): Promise<{ entries: ResumeEntry[]; inFlight?: ResumeEntry; archiveBytes: number; tarBytes: number }> {
  const fh = await fsp.open(partial, 'r+');
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  let archivePos = 0;
  let tarPos = 0;
  const move = async (e: ResumeEntry): Promise<ResumeEntry> => {
    const len = e.archiveEnd - e.archiveStart;
    if (e.archiveStart !== archivePos) {
      for (let done = 0; done < len; ) {
        signal?.throwIfAborted();
        const n = Math.min(buf.length, len - done);
        const { bytesRead } = await fh.read(buf, 0, n, e.archiveStart + done);
        if (bytesRead !== n) throw new Error(`short read in ${path.basename(partial)}`);
        await writeAll(fh, buf.subarray(0, n), archivePos + done);
        done += n;
      }
    }
    const dTar = tarPos - e.headerStart;
    const moved: ResumeEntry = {
      ...e,
      headerStart: e.headerStart + dTar,
      dataStart: e.dataStart + dTar,
      end: e.end + dTar,
      archiveStart: archivePos,
      archiveEnd: archivePos + len,
    };
    archivePos += len;
    tarPos = moved.end;
    return moved;
  };
  try {
    const entries: ResumeEntry[] = [];
    for (const e of keep) entries.push(await move(e));
    let moved: ResumeEntry | undefined;
    let tarBytes = tarPos;
    if (inFlight) {
      moved = await move(inFlight);
      // in flight: its tar bytes end where its recorded progress ends, not at `end`
      tarBytes = moved.headerStart + (inFlight.tarEnd - inFlight.headerStart);
    }
    await fh.truncate(archivePos);
    await fh.sync();
    return { entries, inFlight: moved, archiveBytes: archivePos, tarBytes };
  } finally {
    await fh.close();
  }
}

export async function writeAll(fh: fsp.FileHandle, chunk: Buffer, position: number): Promise<void> {
  for (let off = 0; off < chunk.length; ) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.length - off, position + off);
    off += bytesWritten;
  }
}

/** SHA-256 state of the first `bytes` of a file (the kept part of the archive), to go on hashing what is appended. */
export async function hashPrefix(file: string, bytes: number, signal?: AbortSignal): Promise<Hash> {
  const h = createHash('sha256');
  if (bytes === 0) return h;
  for await (const c of createReadStream(file, { start: 0, end: bytes - 1, highWaterMark: 1024 * 1024, signal }))
    h.update(c as Buffer);
  return h;
}

export type { InFlightState };
