/**
 * Repair of a dump: analyse, gather the sample holdings, plan the least lossy repair (plan.ts), then
 * stream the source into a new tar.gz applying the plan (entries left out, renamed, cut, rebuilt
 * meta.json, blanked chunks), in promdump's layout: chunks_head/, wal/, block dirs by minTime with
 * meta.json after the chunks and index, then the rest. The source is only read. The output is
 * written as `<output>.partial` and renamed at the end, and is analysed again (`after`).
 *
 * A healthy dump is a no-op: the plan says nothing to repair and no file is written.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { analyzeSource } from '../analysis/analyze';
import { openSource, type DumpEntry } from '../dump/source';
import { writeDump, type DumpWriteEntry } from '../dump/tarWriter';
import { ToolError } from '../errors';
import type { AnalysisResult, RepairResult } from '../protocol';
import { classifyPath, isUlid } from '../tsdb/blockDir';
import { crc32c } from '../tsdb/crc32c';
import { serializeMetaJson, type BlockMeta } from '../tsdb/metaJson';
import { collectByteSource } from '../dump/byteSource';
import { rewriteIndex, type RewrittenIndex } from '../block/rewriteIndex';
import { parseTombstones } from '../tsdb/tombstones';
import { encodeTombstones } from '../tsdb/write/tombstonesWriter';
import { metaStats } from './candidates';
import { collectFacts, sortedIndexOf, type EntryInfo } from './collect';
import { emptyEdits } from './edits';
import type { BadChunk, RepairFacts } from './facts';
import { planFromFacts, type PlannedRepair } from './plan';

export type RepairPhase = 'analyse' | 'collect' | 'plan' | 'write' | 'verify';

export interface RepairOptions {
  dryRun?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: { phase: RepairPhase; bytes?: number; totalBytes?: number; entry?: string }) => void;
}

export interface PlanOutcome {
  plan: PlannedRepair;
  before: AnalysisResult;
  facts?: RepairFacts;
  entries?: EntryInfo[];
  /** Temp dir holding blocks to be moved (remove it when done). */
  spoolDir?: string;
  /** Everything was copied to spoolDir (a damaged archive is not read twice). */
  spoolAll?: boolean;
}

/** Something to repair: errors or warnings, or entries the source reader refused. */
const CLEANUP_CODES = new Set([
  'lock-file-present',
  'leftover-tmp',
  'tar-unsafe-path',
  'dump-truncated',
  'block-deletable',
  'block-superseded',
]);
function needsWork(a: AnalysisResult): boolean {
  return a.diagnostics.some((d) => d.severity === 'error' || d.severity === 'warning' || CLEANUP_CODES.has(d.code));
}

/** Analyses and plans; no file is written (except a temp spool when `spoolNear` is given). */
export async function planRepair(source: string, opts: RepairOptions & { spoolNear?: string } = {}): Promise<PlanOutcome> {
  opts.onProgress?.({ phase: 'analyse' });
  const before = await analyzeSource(source, {
    verify: 'full',
    signal: opts.signal,
    onProgress: (p) => opts.onProgress?.({ phase: 'analyse', bytes: p.bytes, totalBytes: p.totalBytes, entry: p.entry }),
  });
  if (!needsWork(before)) {
    return { plan: { source, actions: [], unfixable: [], nothingToRepair: true, edits: emptyEdits() }, before };
  }
  // Blocks Prometheus cannot read the meta.json of come last in a promdump tar; once rebuilt they
  // must move to their place by minTime, so they are copied aside during the single collect pass.
  const spool = new Set(before.blocks.filter((b) => !b.metaReadable).map((b) => b.dir));
  // A damaged archive is read once more only from a copy: how far a damaged gzip stream gets
  // depends on timing, so a second read could end earlier than the one the plan is based on.
  const spoolAll = before.diagnostics.some((d) => d.code === 'dump-truncated');
  let spoolDir: string | undefined;
  if (opts.spoolNear && (spool.size > 0 || spoolAll))
    spoolDir = await fsp.mkdtemp(path.join(path.dirname(path.resolve(opts.spoolNear)), '.tsdbdump-repair-'));
  try {
    opts.onProgress?.({ phase: 'collect' });
    const { facts, entries } = await collectFacts(source, {
      signal: opts.signal,
      spool,
      spoolAll,
      spoolDir,
      onProgress: (p) => opts.onProgress?.({ phase: 'collect', bytes: p.bytes, totalBytes: p.totalBytes, entry: p.entry }),
    });
    opts.onProgress?.({ phase: 'plan' });
    const plan = planFromFacts(source, facts, before.diagnostics);
    return { plan, before, facts, entries, spoolDir, spoolAll: spoolAll && spoolDir !== undefined };
  } catch (e) {
    if (spoolDir) await fsp.rm(spoolDir, { recursive: true, force: true });
    throw e;
  }
}

/** Plans and (unless dryRun or nothing to do) writes the repaired dump to `output`. */
export async function repairDump(source: string, output: string, opts: RepairOptions = {}): Promise<RepairResult> {
  const srcAbs = path.resolve(source);
  const outAbs = path.resolve(output);
  if (srcAbs === outAbs) throw new ToolError('usage', 'the output must differ from the source (the source is never modified)');
  // A directory can be read in any order, so only archives need blocks copied aside.
  const isDir = (await fsp.stat(srcAbs).catch(() => undefined))?.isDirectory() ?? false;
  const outcome = await planRepair(source, { ...opts, spoolNear: opts.dryRun || isDir ? undefined : outAbs });
  const { plan } = outcome;
  const { edits: _edits, ...publicPlan } = plan;
  void _edits;
  try {
    if (opts.dryRun || plan.nothingToRepair) return { ...publicPlan, dryRun: !!opts.dryRun };
    opts.onProgress?.({ phase: 'write' });
    await writeRepaired(source, outAbs, outcome, opts);
    opts.onProgress?.({ phase: 'verify' });
    const after = await analyzeSource(outAbs, { verify: 'full', signal: opts.signal });
    return { ...publicPlan, dryRun: false, output: outAbs, after };
  } finally {
    if (outcome.spoolDir) await fsp.rm(outcome.spoolDir, { recursive: true, force: true });
  }
}

// ---- Writing -----------------------------------------------------------------------------------

function under(p: string, root: string): boolean {
  const r = root.replace(/\/$/, '');
  return p === r || p.startsWith(`${r}/`);
}

function renamed(p: string, renames: Map<string, string>): string {
  const direct = renames.get(p);
  if (direct) return direct;
  for (const [from, to] of renames) if (p.startsWith(`${from}/`)) return to + p.slice(from.length);
  return p;
}

/** Order of a block's own entries, as promdump writes them: chunks before index before meta.json. */
function blockEntryRank(rel: string): number {
  const rest = rel.split('/').slice(1);
  if (rest.length === 0) return 0;
  if (rest[0] === 'chunks') return rest.length === 1 ? 1 : 2;
  return ({ index: 3, 'meta.json': 4, tombstones: 5 } as Record<string, number>)[rest[0]] ?? 6;
}

async function writeRepaired(source: string, output: string, outcome: PlanOutcome, opts: RepairOptions): Promise<void> {
  const { plan, facts, entries } = outcome;
  if (!facts || !entries) throw new ToolError('internal', 'repair plan without collected facts');
  const e = plan.edits;
  const metaBytes = new Map<string, Uint8Array>([...e.metas].map(([dir, m]) => [dir, serializeMetaJson(m)]));
  const factsOf = new Map(facts.blocks.map((b) => [b.dir, b]));
  /** Rewritten indexes (block dir → what the writer wrote): meta.json stats and tombstones follow them. */
  const rewritten = new Map<string, RewrittenIndex>();
  const metaFor = (dir: string): Uint8Array | undefined => {
    const w = rewritten.get(dir);
    const m = e.metas.get(dir);
    if (!w || !m) return metaBytes.get(dir);
    // Stats from what the writer wrote (meta.json comes after the index in every order used here).
    const counted = {
      numSamples: w.samples,
      numSeries: w.series,
      numChunks: w.chunks,
      numFloatSamples: w.samples - w.histogramSamples,
      numHistogramSamples: w.histogramSamples,
    };
    return serializeMetaJson({ ...m, stats: metaStats(m.stats, counted, m.stats?.numTombstones) });
  };
  const rewriteBlockIndex = async (dir: string, body: AsyncIterable<Uint8Array>): Promise<Uint8Array> => {
    const bf = factsOf.get(dir);
    if (!bf) throw new ToolError('internal', `no facts for block ${dir}`);
    const blankedIds = e.blanked.get(dir);
    const at = (segment: number, offset: number): number => {
      const f = bf.chunkFiles[segment];
      return f ? sortedIndexOf(f.offsets, offset) : -1;
    };
    const src = await collectByteSource(body);
    try {
      const out = rewriteIndex(src, (segment, offset) => at(segment, offset) >= 0, {
        weigh: (segment, offset) => {
          const i = at(segment, offset);
          const f = bf.chunkFiles[segment];
          return {
            samples: blankedIds?.has(`${segment}:${offset}`) ? 0 : f.samples[i],
            histogram: f.histogram[i],
          };
        },
      });
      if (!out) throw new ToolError('repair-failed', `the index of block ${dir} no longer reads as it did when the repair was planned`);
      rewritten.set(dir, out);
      return out.bytes;
    } finally {
      src.dispose();
    }
  };
  const blanks = new Map<string, BadChunk[]>();
  for (const b of facts.blocks) {
    const ids = e.blanked.get(b.dir);
    if (!ids) continue;
    for (const c of b.badChunks) if (ids.has(c.chunkId)) blanks.set(c.path, [...(blanks.get(c.path) ?? []), c]);
  }
  const blockMin = new Map<string, number>();
  for (const b of facts.blocks) {
    const m: BlockMeta | undefined = e.metas.get(b.dir) ?? b.meta;
    blockMin.set(b.dir, m?.minTime ?? b.computed?.minTime ?? Number.MAX_SAFE_INTEGER);
  }
  const dropped = (p: string): boolean => {
    const top = p.split('/')[0];
    if (e.dropBlocks.has(top)) return true;
    for (const d of e.dropPaths) if (under(p, d)) return true;
    if (facts.truncated && (p === facts.truncated.path || facts.truncated.path.endsWith(`/${p}`))) return true;
    return false;
  };
  const spooled = new Set<string>();
  if (outcome.spoolDir) for (const b of outcome.before.blocks) if (!b.metaReadable && !e.dropBlocks.has(b.dir)) spooled.add(b.dir);
  // Spooled blocks, in minTime order, each with its entries in promdump order (meta.json added if it was missing).
  const pendingSpool = [...spooled].sort((x, y) => blockMin.get(x)! - blockMin.get(y)!);
  const spoolEntries = (dir: string): EntryInfo[] => {
    const list = entries.filter((x) => x.path.split('/')[0] === dir && !dropped(x.path));
    if (metaBytes.has(dir) && !list.some((x) => x.path === `${dir}/meta.json`))
      list.push({ path: `${dir}/meta.json`, type: 'file', size: 0 });
    return list.sort((a, b) => blockEntryRank(a.path) - blockEntryRank(b.path) || (a.path < b.path ? -1 : 1));
  };

  async function* fromSpool(dir: string): AsyncGenerator<DumpWriteEntry> {
    for (const x of spoolEntries(dir)) {
      if (x.type === 'directory') {
        yield { path: x.path, size: 0, type: 'directory' };
        continue;
      }
      if (x.type !== 'file') continue;
      const meta = x.path === `${dir}/meta.json` ? metaFor(dir) : undefined;
      if (meta) {
        yield { path: x.path, size: meta.length, body: meta };
        continue;
      }
      const abs = path.join(outcome.spoolDir!, x.path);
      yield* transformed(x.path, x.size, createReadStream(abs));
    }
  }

  async function* transformed(p: string, size: number, body: AsyncIterable<Uint8Array>): AsyncGenerator<DumpWriteEntry> {
    const to = renamed(p, e.renames);
    const kind = classifyPath(p);
    if (kind.kind === 'block-meta' && metaBytes.has(kind.ulid)) {
      for await (const _ of body) void _;
      const bytes = metaFor(kind.ulid)!;
      yield { path: to, size: bytes.length, body: bytes };
      return;
    }
    if (kind.kind === 'block-index' && e.rewriteIndex.has(kind.ulid)) {
      const bytes = await rewriteBlockIndex(kind.ulid, body);
      yield { path: to, size: bytes.length, body: bytes };
      return;
    }
    const moved = kind.kind === 'block-tombstones' ? rewritten.get(kind.ulid) : undefined;
    if (moved) {
      // Tombstones name series by ID (= offset / 16): follow the series to their new offsets.
      const parsed = parseTombstones(Buffer.concat(await arrayOf(body)));
      const intervals = parsed.intervals.flatMap((t) => {
        const id = moved.ids.get(t.seriesId);
        return id === undefined ? [] : [{ ...t, seriesId: id }];
      });
      const bytes = encodeTombstones(intervals);
      yield { path: to, size: bytes.length, body: bytes };
      return;
    }
    const cut = e.cuts.get(p);
    if (cut !== undefined && kind.kind === 'head-chunk-file') {
      yield { path: to, size, body: zeroFrom(body, cut) };
      return;
    }
    if (cut !== undefined) {
      yield { path: to, size: Math.min(cut, size), body: takeBytes(body, cut) };
      return;
    }
    const bad = blanks.get(p);
    if (bad) {
      yield { path: to, size, body: blankChunks(body, bad) };
      return;
    }
    yield { path: to, size, body };
  }

  const expectedLast = entries.length ? entries[entries.length - 1].path : undefined;
  let sawAll = expectedLast === undefined;

  async function* output_(): AsyncGenerator<DumpWriteEntry> {
    const opened = await openSource(source, {
      signal: opts.signal,
      onProgress: (pr) => opts.onProgress?.({ phase: 'write', bytes: pr.bytes, totalBytes: pr.totalBytes, entry: pr.entry }),
    });
    let inBlocks = false;
    let afterBlocks = false;
    const flushSpool = async function* (beforeMin: number): AsyncGenerator<DumpWriteEntry> {
      while (pendingSpool.length && blockMin.get(pendingSpool[0])! <= beforeMin) yield* fromSpool(pendingSpool.shift()!);
    };
    const missingMetaDone = new Set<string>();
    let currentBlock: string | undefined;
    let lastBlockTop: string | undefined;
    for await (const entry of opened.entries as AsyncIterable<DumpEntry>) {
      const p = entry.path;
      if (p === expectedLast) sawAll = true;
      const top = p.split('/')[0];
      const isBlock = isUlid(top) && (p !== top || entry.type === 'directory');
      // A block whose meta.json was missing (not spooled): add the rebuilt one where it belongs.
      if (currentBlock && currentBlock !== top) {
        yield* missingMeta(currentBlock);
        currentBlock = undefined;
      }
      if (isBlock && !spooled.has(top)) {
        if (!inBlocks) inBlocks = true;
        if (top !== lastBlockTop) {
          lastBlockTop = top;
          if (!dropped(p)) yield* flushSpool(blockMin.get(top) ?? Number.MAX_SAFE_INTEGER);
        }
      } else if (!isBlock && inBlocks && !afterBlocks) {
        afterBlocks = true;
        yield* flushSpool(Number.MAX_SAFE_INTEGER);
      }
      if (spooled.has(top) || dropped(p)) {
        for await (const _ of entry.stream) void _;
        continue;
      }
      if (isBlock) currentBlock = top;
      if (entry.type === 'directory') {
        yield { path: renamed(p, e.renames), size: 0, type: 'directory' };
        continue;
      }
      if (entry.type !== 'file') continue;
      if (isBlock && metaBytes.has(top) && (p === `${top}/tombstones`) && !missingMetaDone.has(top)) {
        // meta.json comes before tombstones in promdump's order.
        yield* missingMeta(top);
      }
      if (p === `${top}/meta.json`) missingMetaDone.add(top);
      yield* transformed(p, entry.size, entry.stream);
    }
    if (currentBlock) yield* missingMeta(currentBlock);
    yield* flushSpool(Number.MAX_SAFE_INTEGER);

    async function* missingMeta(dir: string): AsyncGenerator<DumpWriteEntry> {
      if (missingMetaDone.has(dir)) return;
      missingMetaDone.add(dir);
      const bytes = metaFor(dir);
      const had = entries!.some((x) => x.path === `${dir}/meta.json`);
      if (bytes && !had) yield { path: `${dir}/meta.json`, size: bytes.length, body: bytes };
    }
  }

  /** A data directory: every entry in promdump's order, read straight from disk. */
  async function* fromDirectory(root: string): AsyncGenerator<DumpWriteEntry> {
    const section = (x: EntryInfo) => {
      const top = x.path.split('/')[0];
      return top === 'chunks_head' ? 0 : top === 'wal' ? 1 : isUlid(top) && (x.path !== top || x.type === 'directory') ? 2 : 3;
    };
    const list = entries!.filter((x) => !dropped(x.path) && (x.type === 'file' || x.type === 'directory'));
    for (const dir of metaBytes.keys()) {
      if (!e.dropBlocks.has(dir) && !list.some((x) => x.path === `${dir}/meta.json`))
        list.push({ path: `${dir}/meta.json`, type: 'file', size: 0 });
    }
    const order = new Map(list.map((x, i) => [x, i]));
    list.sort((a, b) => {
      const sa = section(a);
      const sb = section(b);
      if (sa !== sb) return sa - sb;
      if (sa !== 2) return order.get(a)! - order.get(b)!;
      const ta = a.path.split('/')[0];
      const tb = b.path.split('/')[0];
      if (ta !== tb) return blockMin.get(ta)! - blockMin.get(tb)! || (ta < tb ? -1 : 1);
      return blockEntryRank(a.path) - blockEntryRank(b.path) || (a.path < b.path ? -1 : 1);
    });
    for (const x of list) {
      opts.signal?.throwIfAborted();
      if (x.type === 'directory') {
        yield { path: renamed(x.path, e.renames), size: 0, type: 'directory' };
        continue;
      }
      const kind = classifyPath(x.path);
      if (kind.kind === 'block-meta' && metaBytes.has(kind.ulid)) {
        const bytes = metaFor(kind.ulid)!;
        yield { path: x.path, size: bytes.length, body: bytes };
        continue;
      }
      yield* transformed(x.path, x.size, createReadStream(path.join(root, x.path), { signal: opts.signal }));
    }
  }

  let body: AsyncGenerator<DumpWriteEntry>;
  if (outcome.spoolAll) body = fromDirectory(outcome.spoolDir!);
  else {
    const opened = await openSource(source, { signal: opts.signal });
    body = opened.kind === 'directory' ? fromDirectory(opened.source) : checked(output_());
  }
  /** Fails the write when the source ends before every entry the plan is based on came by. */
  async function* checked(gen: AsyncGenerator<DumpWriteEntry>): AsyncGenerator<DumpWriteEntry> {
    yield* gen;
    if (!sawAll) {
      throw new ToolError(
        'repair-failed',
        `the source ended early while it was copied (last entry expected: ${expectedLast ?? '?'}); nothing was written`,
      );
    }
  }

  await writeDump(output, body, {
    signal: opts.signal,
    onProgress: (p) => opts.onProgress?.({ phase: 'write', bytes: p.bytes, entry: p.entry }),
  });
}

async function arrayOf(body: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const parts: Uint8Array[] = [];
  for await (const c of body) parts.push(Uint8Array.from(c));
  return parts;
}


export async function* takeBytes(body: AsyncIterable<Uint8Array>, n: number): AsyncGenerator<Uint8Array> {
  let left = n;
  for await (const c of body) {
    if (left <= 0) continue;
    const part = c.length <= left ? c : c.subarray(0, left);
    left -= part.length;
    yield part;
  }
}

export async function* zeroFrom(body: AsyncIterable<Uint8Array>, from: number): AsyncGenerator<Uint8Array> {
  let pos = 0;
  for await (const c of body) {
    const start = pos;
    pos += c.length;
    if (pos <= from) {
      yield c;
      continue;
    }
    const out = new Uint8Array(c.length);
    if (from > start) out.set(c.subarray(0, from - start));
    yield out;
  }
}

/** Replaces each damaged chunk by an empty chunk of the same size: data zeroed (sample count 0), CRC recomputed. */
export async function* blankChunks(body: AsyncIterable<Uint8Array>, bad: BadChunk[]): AsyncGenerator<Uint8Array> {
  // Patches: byte ranges with their new content.
  const patches = bad.map((c) => {
    const bytes = new Uint8Array(1 + c.dataLength + 4);
    bytes[0] = -1; // placeholder, the encoding byte is copied from the source
    return { start: c.encodingOffset, bytes, encKnown: false };
  });
  let pos = 0;
  for await (const chunk of body) {
    const start = pos;
    pos += chunk.length;
    let out: Uint8Array | undefined;
    for (const pt of patches) {
      const end = pt.start + pt.bytes.length;
      if (end <= start || pt.start >= pos) continue;
      out ??= Uint8Array.from(chunk);
      if (!pt.encKnown && pt.start >= start && pt.start < pos) {
        pt.bytes[0] = chunk[pt.start - start];
        pt.encKnown = true;
        const crc = crc32c(pt.bytes.subarray(0, pt.bytes.length - 4));
        const at = pt.bytes.length - 4;
        pt.bytes[at] = crc >>> 24;
        pt.bytes[at + 1] = (crc >>> 16) & 0xff;
        pt.bytes[at + 2] = (crc >>> 8) & 0xff;
        pt.bytes[at + 3] = crc & 0xff;
      }
      const from = Math.max(pt.start, start);
      const to = Math.min(end, pos);
      // The encoding byte stays as it is.
      for (let i = Math.max(from, pt.start + 1); i < to; i++) out[i - start] = pt.bytes[i - pt.start];
    }
    yield out ?? chunk;
  }
}
