/** Block facts and diagnostics: meta.json, chunk segments, index, tombstones, overlaps (what Prometheus 2.42 does with each). */
import type { BlockInfo } from '../protocol';
import type { BlockMeta } from '../tsdb/metaJson';
import type { IndexSummary } from '../tsdb/index';
import { msRangeUtc, msUtc, rangeOf, utc } from './goFormat';
import { type Analysis, type BlockState, MAX_PER_FILE, chunkStartAt } from './state';

export function blockInfos(a: Analysis): BlockInfo[] {
  const out: BlockInfo[] = [];
  for (const b of a.blocks.values()) {
    const m = b.meta;
    const idx = b.indexSummary;
    const metaReadable = !!m && (m.version === 1 || m.version === 2);
    const info: BlockInfo = {
      ulid: m?.ulid ?? b.dir,
      dir: b.dir,
      minTime: m?.minTime ?? idx?.minTime ?? 0,
      maxTime: m?.maxTime ?? (idx?.maxTime !== undefined ? idx.maxTime + 1 : 0),
      level: m?.compaction?.level ?? 0,
      numSamples: m?.stats?.numSamples ?? 0,
      numSeries: m?.stats?.numSeries ?? idx?.seriesCount ?? 0,
      numChunks: m?.stats?.numChunks ?? idx?.chunkCount ?? 0,
      sizeBytes: b.sizeBytes,
      path: b.dir,
      metaReadable,
      chunkFiles: [...b.chunkSegments].sort((x, y) => x.number - y.number).map((s) => s.name),
    };
    if (m?.stats?.numFloatSamples !== undefined) info.numFloatSamples = m.stats.numFloatSamples;
    if (m?.stats?.numHistogramSamples !== undefined) info.numHistogramSamples = m.stats.numHistogramSamples;
    if (m?.stats?.numTombstones !== undefined) info.numTombstones = m.stats.numTombstones;
    if (m?.compaction?.sources) info.sources = m.compaction.sources;
    if (m?.compaction?.parents) info.parents = m.compaction.parents.map((p) => p.ulid);
    if (m?.compaction?.deletable) info.deletable = true;
    out.push(info);
  }
  return out.sort((x, y) => x.minTime - y.minTime || x.maxTime - y.maxTime || (x.dir < y.dir ? -1 : 1));
}

export const PROM_CORRUPTED = (ulid: string, err: string) => `opening storage failed: reloadBlocks: corrupted block ${ulid}: ${err}`;

export function blockDiagnostics(a: Analysis, blocks: BlockInfo[]): void {
  const loadable = new Set(blocks.filter((b) => b.metaReadable).map((b) => b.dir));
  // Every ULID named as a parent by a loadable block: Prometheus deletes those at startup.
  const parentOf = new Map<string, string>();
  for (const b of blocks) if (b.metaReadable) for (const p of b.parents ?? []) if (p !== b.ulid) parentOf.set(p, b.ulid);

  for (const info of blocks) {
    const b = a.blocks.get(info.dir)!;
    if (b.incomplete && !b.metaSeen) continue; // cut off by the truncation, already reported
    const replacedBy = parentOf.get(info.ulid) ?? parentOf.get(info.dir);
    const m = metaDiagnostics(a, info, b, replacedBy !== undefined && loadable.has(info.dir) ? replacedBy : undefined);
    // What Prometheus trips over when it opens the block (fatal unless a compacted block replaces it).
    const corruptedAtOpen = [...chunkFileDiagnostics(a, info.dir, b)];
    chunkCountsVsMeta(a, info.dir, m, b);
    corruptedAtOpen.push(...indexDiagnostics(a, info.dir, b, m), ...tombstoneDiagnostics(a, info, b, replacedBy));
    openDiagnostic(a, info, b, replacedBy, corruptedAtOpen);
  }

  overlapDiagnostics(a, blocks, parentOf);
  duplicateSourceDiagnostics(a, blocks, parentOf);
}

/**
 * meta.json: missing, unreadable, its version, ULID, range, deletable mark; a block superseded by
 * a loaded compacted one (`supersededBy`). Returns the meta.json Prometheus would load, if any.
 */
function metaDiagnostics(a: Analysis, info: BlockInfo, b: BlockState, supersededBy: string | undefined): BlockMeta | undefined {
  const dir = info.dir;
  if (!b.metaSeen) {
    a.diag({
      code: 'meta-missing',
      severity: 'error',
      path: `${dir}/`,
      blocks: [dir],
      range: info.maxTime > info.minTime ? { from: info.minTime, to: info.maxTime } : undefined,
      prometheusMessage: `level=error component=tsdb msg="Failed to read meta.json ` +
        `for a block during reloadBlocks. Skipping" dir=<data>/${dir} err="open <data>/${dir}/meta.json: no such file or directory"`,
      message: `Block ${dir} has no meta.json. Prometheus skips the block (its data is not ` +
        `served${rangeText(info)}) and compaction fails every minute with "plan compaction: open ` +
        `…/meta.json: no such file or directory". Run \`tsdbdump repair\` to rebuild meta.json from the index, or remove the directory.`,
    });
  } else if (b.metaError !== undefined || !b.meta) {
    a.diag({
      code: 'meta-invalid',
      severity: 'error',
      path: `${dir}/meta.json`,
      blocks: [dir],
      range: info.maxTime > info.minTime ? { from: info.minTime, to: info.maxTime } : undefined,
      prometheusMessage: `level=error component=tsdb msg="Failed to read ` +
        `meta.json for a block during reloadBlocks. Skipping" dir=<data>/${dir} err="${b.metaError ?? 'invalid meta.json'}"`,
      message: `meta.json of block ${dir} cannot be read (${b.metaError ?? 'invalid'}). Prometheus ` +
        `skips the block: its data is not served${rangeText(info)}. Run \`tsdbdump repair\` to rebuild meta.json from the index.`,
    });
  } else if (b.meta.version !== 1) {
    if (b.meta.version === 2) {
      a.diag({
        code: 'meta-invalid',
        severity: 'information',
        path: `${dir}/meta.json`,
        blocks: [dir],
        prometheusMessage: `msg="Fixing broken block" ulid=${b.meta.ulid}`,
        message: `meta.json of block ${dir} has version 2 (written by ` +
          `Prometheus 2.1). Prometheus repairs it at startup (sets the index version byte and rewrites meta.json); nothing to do.`,
      });
    } else {
      a.diag({
        code: 'meta-invalid',
        severity: 'error',
        path: `${dir}/meta.json`,
        blocks: [dir],
        prometheusMessage: `level=error component=tsdb msg="Failed to read ` +
          `meta.json for a block during reloadBlocks. Skipping" dir=<data>/${dir} err="unexpected meta file version ${b.meta.version}"`,
        message: `meta.json of block ${dir} has version ${b.meta.version}; only ` +
          `1 is valid. Prometheus skips the block: its data is not served${rangeText(info)}. Run \`tsdbdump repair\` to rebuild meta.json.`,
      });
    }
  }
  const m = info.metaReadable ? b.meta : undefined;
  if (m && m.ulid !== dir && m.ulid.toUpperCase() !== dir.toUpperCase()) {
    a.diag({
      code: 'block-ulid-mismatch',
      severity: 'warning',
      path: `${dir}/meta.json`,
      blocks: [dir, m.ulid],
      message: `Directory ${dir} holds a meta.json whose ulid is ${m.ulid}. Prometheus ` +
        `loads it under the meta.json ULID, so compaction and retention later look for ` +
        `directory ${m.ulid} and fail or delete the wrong one. Rename the directory to ${m.ulid} (or run \`tsdbdump repair\`).`,
    });
  }
  if (m && m.minTime >= m.maxTime) {
    a.diag({
      code: 'meta-invalid',
      severity: 'warning',
      path: `${dir}/meta.json`,
      blocks: [dir],
      message: `meta.json of block ${dir} has minTime ${msUtc(m.minTime)} ≥ maxTime ${msUtc(m.maxTime)}: ` +
        `the block covers no time and queries never read it. Run \`tsdbdump repair\` to rebuild meta.json from the index.`,
    });
  }
  if (m?.compaction?.deletable) {
    a.diag({
      code: 'block-deletable',
      severity: 'information',
      path: `${dir}/meta.json`,
      blocks: [dir],
      prometheusMessage: `msg="Deleting obsolete block" block=${m.ulid}`,
      message: `Block ${dir} is marked deletable in meta.json (a compaction ` +
        `left it empty). Prometheus deletes it at startup; its data is not served. Nothing to do (tsdbdump repair leaves it out).`,
    });
  }
  if (supersededBy) {
    a.diag({
      code: 'block-superseded',
      severity: 'information',
      path: `${dir}/`,
      blocks: [dir, supersededBy],
      range: { from: info.minTime, to: info.maxTime },
      prometheusMessage: `msg="Deleting obsolete block" block=${info.ulid}`,
      message: `Block ${dir} was already compacted into ${supersededBy} (it is one of ` +
        `its parents; left by a crash after compaction). Prometheus deletes it at startup; no data is lost. tsdbdump repair leaves it out.`,
    });
  }
  return m;
}

/** The chunk files: damaged chunks and framing; returns the header problems that fail the block's opening. */
function chunkFileDiagnostics(a: Analysis, dir: string, b: BlockState): string[] {
  const corruptedAtOpen: string[] = [];
  for (const seg of b.chunkSegments) {
    const p = `${dir}/chunks/${seg.name}`;
    if (seg.error) {
      a.diag({
        code: 'chunk-corrupt',
        severity: 'error',
        path: p,
        blocks: [dir],
        message: `chunks/${seg.name} of block ${dir} could not be read ` +
          `(${seg.error}). Queries touching its chunks fail. Restore the block from another copy or drop it with \`tsdbdump repair\`.`,
      });
      continue;
    }
    const s = seg.summary!;
    if (!s.headerOk)
      corruptedAtOpen.push(s.problems.find((x) => x.kind === 'header')?.message ?? `invalid chunk segment header in chunks/${seg.name}`);
    let crc = 0;
    let framing = 0;
    for (const prob of s.problems) {
      if (prob.kind === 'crc') {
        if (++crc > MAX_PER_FILE) continue;
        const start = prob.offset !== undefined ? chunkStartAt(s.chunkOffsets, prob.offset) : undefined;
        const bad = [...b.badChunks.values()].find((x) => x.segment === seg.name && x.offset === start);
        const owners = bad?.owners ?? [];
        const ownerText = owners.length
          ? owners.map((o) => `series ${o.series} [${utc(o.minTime)}, ${utc(o.maxTime)}]`).join('; ')
          : 'a chunk no series of the index points at';
        const range = owners.length
          ? { from: Math.min(...owners.map((o) => o.minTime)), to: Math.max(...owners.map((o) => o.maxTime)) + 1 }
          : undefined;
        a.diag({
          code: 'chunk-crc-mismatch',
          severity: 'error',
          path: p,
          offset: start,
          blocks: [dir],
          range,
          prometheusMessage:
            start !== undefined ? `cannot populate chunk ${start} from block 00000000000000000000000000: ${prob.message}` : undefined,
          message: `Chunk at offset ${start ?? '?'} of chunks/${seg.name} in block ${dir} is damaged (${prob.message}). ` +
            `Prometheus starts, but every query touching it fails (or silently drops the block from the answer): data ` +
            `of ${ownerText} is lost. Restore the block from another copy, or run \`tsdbdump repair\` to drop the damaged chunk.`,
        });
      } else if (prob.kind === 'framing') {
        if (++framing > MAX_PER_FILE) continue;
        a.diag({
          code: 'chunk-corrupt',
          severity: 'error',
          path: p,
          offset: prob.offset,
          blocks: [dir],
          message: `chunks/${seg.name} of block ${dir} is damaged at byte ${prob.offset ?? '?'} (${prob.message}). ` +
            `Queries reading the chunks from there on fail. Restore the block from another copy or run \`tsdbdump repair\`.`,
        });
      }
    }
    if (crc > MAX_PER_FILE)
      a.diag({
        code: 'chunk-crc-mismatch',
        severity: 'error',
        path: p,
        blocks: [dir],
        message: `…and ${crc - MAX_PER_FILE} more damaged chunks in chunks/${seg.name} of block ${dir}.`,
      });
    if (framing > MAX_PER_FILE)
      a.diag({
        code: 'chunk-corrupt',
        severity: 'error',
        path: p,
        blocks: [dir],
        message: `…and ${framing - MAX_PER_FILE} more framing problems in chunks/${seg.name} of block ${dir}.`,
      });
  }
  return corruptedAtOpen;
}

/** The index: damage that fails queries, chunk refs out of range, meta.json vs index; returns what fails the opening. */
function indexDiagnostics(a: Analysis, dir: string, b: BlockState, m: BlockMeta | undefined): string[] {
  const corruptedAtOpen: string[] = [];
  if (!b.indexSeen && !b.incomplete) {
    corruptedAtOpen.push(`open index file: open <data>/${dir}/index: no such file or directory`);
  }
  if (b.indexError) {
    corruptedAtOpen.push(b.indexError);
  }
  const idx = b.indexSummary;
  if (idx) {
    let nonFatal = 0;
    for (const prob of idx.problems) {
      if (prob.fatalAtStartup) corruptedAtOpen.push(prob.message);
      else if (++nonFatal <= MAX_PER_FILE) {
        a.diag({
          code: 'index-corrupt',
          severity: 'error',
          path: `${dir}/index`,
          offset: prob.offset,
          blocks: [dir],
          message: `The index of block ${dir} is damaged in its ${prob.section} section at ` +
            `byte ${prob.offset ?? '?'} (${prob.message}). Prometheus starts, but queries ` +
            `reading the affected series or postings fail. Restore the block from another copy or drop it with \`tsdbdump repair\`.`,
        });
      }
    }
    if (nonFatal > MAX_PER_FILE)
      a.diag({
        code: 'index-corrupt',
        severity: 'error',
        path: `${dir}/index`,
        blocks: [dir],
        message: `…and ${nonFatal - MAX_PER_FILE} more index problems in block ${dir}.`,
      });
    if (b.refsOutOfRangeCount > 0) {
      for (const r of b.refsOutOfRange) {
        a.diag({
          code: 'chunk-ref-out-of-range',
          severity: 'error',
          path: `${dir}/index`,
          blocks: [dir],
          range: { from: r.minTime, to: r.maxTime + 1 },
          message: `The index of block ${dir} points series ${r.series} [${utc(r.minTime)}, ${utc(r.maxTime)}] at ` +
            `chunk ref ${r.ref} (segment ${Number(r.ref >> 32n)}, offset ${Number(r.ref & 0xffffffffn)}): ${r.reason}. ` +
            `Queries of that series over that range fail. Restore the block from another copy or run \`tsdbdump repair\`.`,
        });
      }
      if (b.refsOutOfRangeCount > b.refsOutOfRange.length) {
        a.diag({
          code: 'chunk-ref-out-of-range',
          severity: 'error',
          path: `${dir}/index`,
          blocks: [dir],
          message: `…and ${b.refsOutOfRangeCount - b.refsOutOfRange.length} more chunk refs out of range in block ${dir}.`,
        });
      }
    }
    if (m && idx.problems.length === 0) metaVsIndex(a, dir, m, idx);
  }
  return corruptedAtOpen;
}

/** The tombstones file: damaged tombstones fail the opening (returned) unless a compacted block replaces it. */
function tombstoneDiagnostics(a: Analysis, info: BlockInfo, b: BlockState, replacedBy: string | undefined): string[] {
  const dir = info.dir;
  if (b.tombstonesError) return [b.tombstonesError];
  if (b.tombstones && b.tombstones.problems.length > 0) {
    const prob = b.tombstones.problems[0];
    const replaced = replacedBy ? `; it is a parent of ${replacedBy}, so Prometheus just deletes it` : '';
    a.diag({
      code: 'tombstones-corrupt',
      severity: replacedBy ? 'information' : 'error',
      path: `${dir}/tombstones`,
      offset: prob.offset,
      blocks: [dir],
      prometheusMessage: replacedBy ? undefined : PROM_CORRUPTED(info.ulid, prob.message),
      message: `The tombstones file of block ${dir} is damaged (${prob.message}). Prometheus treats the block as corrupted and ` +
        `refuses to start${replaced}. Run \`tsdbdump repair\` (drops the tombstones file: deleted data reappears) or restore the block.`,
    });
  }
  return [];
}

/** One diagnostic for what fails the block's opening: fatal, unless a compacted block replaces it. */
function openDiagnostic(a: Analysis, info: BlockInfo, b: BlockState, replacedBy: string | undefined, corruptedAtOpen: string[]): void {
  const dir = info.dir;
  if (corruptedAtOpen.length > 0 && info.metaReadable) {
    const err = corruptedAtOpen[0];
    a.diag({
      code: 'index-corrupt',
      severity: replacedBy ? 'information' : 'error',
      path: b.indexSeen ? `${dir}/index` : `${dir}/`,
      blocks: [dir],
      prometheusMessage: replacedBy
        ? `msg="Found corrupted block, but replaced by compacted one so it's ` +
          `safe to delete. This should not happen with atomic deletes." block=${info.ulid}`
        : PROM_CORRUPTED(info.ulid, err),
      message: replacedBy
        ? `Block ${dir} is corrupted (${err}) but it is a parent of ${replacedBy}: Prometheus deletes it at startup; no data is lost.`
        : `Block ${dir} is corrupted (${err}): Prometheus refuses to start (\`opening storage failed: reloadBlocks: corrupted ` +
          `block …\`). Run \`tsdbdump repair\` to drop the block (its data${rangeText(info)} is lost) or restore it from another copy.`,
    });
  }
}

export function rangeText(b: { minTime: number; maxTime: number }): string {
  return b.maxTime > b.minTime ? `, [${utc(b.minTime)}, ${utc(b.maxTime)})` : '';
}

/**
 * Chunk encodings above 6 (unknown to this reader: a Prometheus newer than 3.16) by number, and
 * meta.json's numSamples / numFloatSamples / numHistogramSamples (3.6+) against the sample counts in
 * the chunks' own headers, when every chunk file of the block was read to its end.
 */
export function chunkCountsVsMeta(a: Analysis, dir: string, m: BlockMeta | undefined, b: BlockState): void {
  const unknown = new Map<number, number>();
  for (const seg of b.chunkSegments) {
    for (const [e, n] of Object.entries(seg.summary?.encodings ?? {})) {
      if ((Number(e) & 0x7f) > 6) unknown.set(Number(e) & 0x7f, (unknown.get(Number(e) & 0x7f) ?? 0) + n);
    }
  }
  for (const [e, n] of unknown) {
    a.diag({
      code: 'chunk-encoding-unknown',
      severity: 'warning',
      path: `${dir}/chunks/`,
      blocks: [dir],
      message: `Block ${dir} holds ${n} chunks of encoding ${e}, which this analyser ` +
        `does not know (Prometheus 3.16 knows 1–6: a newer Prometheus wrote them). ` +
        `Their samples are not counted or checked, and a Prometheus that does not know the encoding fails every query touching them.`,
    });
  }
  const st = m?.stats;
  const complete = b.chunkSegments.length > 0 && !b.incomplete &&
    b.chunkSegments.every((x) => x.summary && x.summary.headerOk && !x.summary.problems.some((p) => p.kind !== 'crc'));
  if (!st || !complete || unknown.size > 0) return;
  const floats = b.chunkSegments.reduce((n, x) => n + x.summary!.floatSamples, 0);
  const histograms = b.chunkSegments.reduce((n, x) => n + x.summary!.histogramSamples, 0);
  const issues: string[] = [];
  if (st.numSamples !== undefined && st.numSamples !== floats + histograms)
    issues.push(`meta.json says ${st.numSamples} samples, the chunks hold ${floats + histograms}`);
  if (st.numFloatSamples !== undefined && st.numFloatSamples !== floats)
    issues.push(`meta.json says ${st.numFloatSamples} float samples, the chunks hold ${floats}`);
  if (st.numHistogramSamples !== undefined && st.numHistogramSamples !== histograms)
    issues.push(`meta.json says ${st.numHistogramSamples} histogram samples, the chunks hold ${histograms}`);
  metaInconsistent(
    a,
    dir,
    'chunks',
    issues,
    'Prometheus trusts meta.json for its statistics (and compaction ' +
      'planning); the samples themselves are served from the chunks. Run `tsdbdump repair` to rebuild meta.json.',
  );
}

/** One meta-inconsistent warning for the disagreements of meta.json with its chunks or index. */
function metaInconsistent(a: Analysis, dir: string, with_: 'chunks' | 'index', issues: string[], consequence: string): void {
  if (issues.length === 0) return;
  a.diag({
    code: 'meta-inconsistent',
    severity: 'warning',
    path: `${dir}/meta.json`,
    blocks: [dir],
    message: `meta.json of block ${dir} disagrees with its ${with_}: ${issues.join('; ')}. ${consequence}`,
  });
}

export function metaVsIndex(a: Analysis, dir: string, m: BlockMeta, idx: IndexSummary): void {
  const issues: string[] = [];
  if (idx.minTime !== undefined && idx.minTime < m.minTime)
    issues.push(`the index has samples from ${msUtc(idx.minTime)}, before meta.json minTime ${msUtc(m.minTime)}`);
  if (idx.maxTime !== undefined && idx.maxTime >= m.maxTime)
    issues.push(`the index has samples up to ${msUtc(idx.maxTime)}, not before meta.json maxTime ${msUtc(m.maxTime)} (exclusive)`);
  if (m.stats?.numSeries !== undefined && m.stats.numSeries !== idx.seriesCount)
    issues.push(`meta.json says ${m.stats.numSeries} series, the index holds ${idx.seriesCount}`);
  if (m.stats?.numChunks !== undefined && m.stats.numChunks !== idx.chunkCount)
    issues.push(`meta.json says ${m.stats.numChunks} chunks, the index references ${idx.chunkCount}`);
  metaInconsistent(
    a,
    dir,
    'index',
    issues,
    'Prometheus trusts meta.json: samples outside its range are not returned ' +
      'by queries and statistics are wrong. Run `tsdbdump repair` to rebuild meta.json from the index.',
  );
}

/** Overlaps between blocks Prometheus keeps (readable, not deletable, not replaced). */
export function overlapDiagnostics(a: Analysis, blocks: BlockInfo[], parentOf: Map<string, string>): void {
  const served = blocks
    .filter((b) => b.metaReadable && !b.deletable && !parentOf.has(b.ulid) && b.maxTime > b.minTime)
    .sort((x, y) => x.minTime - y.minTime);
  for (let i = 0; i < served.length; i++) {
    for (let j = i + 1; j < served.length && served[j].minTime < served[i].maxTime; j++) {
      const x = served[i];
      const y = served[j];
      if (!(x.minTime < y.maxTime && y.minTime < x.maxTime)) continue;
      const from = Math.max(x.minTime, y.minTime);
      const to = Math.min(x.maxTime, y.maxTime);
      const detail = `[mint: ${from}, maxt: ${to}, range: ${rangeOf(from, to)}, blocks: 2]: ` +
        `<ulid: ${x.ulid}, mint: ${x.minTime}, maxt: ${x.maxTime}, range: ${rangeOf(x.minTime, x.maxTime)}>, ` +
        `<ulid: ${y.ulid}, mint: ${y.minTime}, maxt: ${y.maxTime}, range: ${rangeOf(y.minTime, y.maxTime)}>`;
      a.diag({
        code: 'block-overlap',
        severity: 'warning',
        path: `${y.dir}/`,
        blocks: [x.ulid, y.ulid],
        range: { from, to },
        prometheusMessage: `level=warn component=tsdb msg="Overlapping blocks found during reloadBlocks" detail="${detail}"`,
        message: `Blocks ${x.ulid} and ${y.ulid} overlap on ${msRangeUtc(from, to)}. Prometheus 2.39+ starts, merges the ` +
          `duplicates in queries and compacts the two blocks together; Prometheus 2.8–2.38 refuses to start: \`opening ` +
          `storage failed: reloadBlocks: invalid block sequence: block time ranges overlap: ${detail}\` (unless ` +
          `--storage.tsdb.allow-overlapping-blocks). To restore into an older Prometheus, run \`tsdbdump repair\` or drop one block.`,
      });
    }
  }
}

/** Two kept blocks whose compaction sources intersect hold the same data twice. */
export function duplicateSourceDiagnostics(a: Analysis, blocks: BlockInfo[], parentOf: Map<string, string>): void {
  const served = blocks.filter((b) => b.metaReadable && !b.deletable && !parentOf.has(b.ulid) && (b.sources?.length ?? 0) > 0);
  for (let i = 0; i < served.length; i++) {
    for (let j = i + 1; j < served.length; j++) {
      const x = served[i];
      const y = served[j];
      const ys = new Set(y.sources);
      const shared = x.sources!.filter((s) => ys.has(s));
      if (shared.length === 0) continue;
      const [small, big] = x.sources!.length <= y.sources!.length ? [x, y] : [y, x];
      const all = shared.length === small.sources!.length;
      a.diag({
        code: 'block-superseded',
        severity: 'warning',
        path: `${small.dir}/`,
        blocks: [small.ulid, big.ulid],
        range: { from: Math.max(x.minTime, y.minTime), to: Math.min(x.maxTime, y.maxTime) },
        message: all
          ? `Block ${small.ulid} holds data already in ${big.ulid} (all its compaction sources ` +
            `are among that block's). Prometheus serves both and merges duplicates; remove ${small.ulid} (or run \`tsdbdump repair\`).`
          : `Blocks ${x.ulid} and ${y.ulid} share ${shared.length} compaction ` +
            `source(s): the same data twice. Prometheus serves both and merges duplicates; run \`tsdbdump repair\` to keep one copy.`,
      });
    }
  }
}
