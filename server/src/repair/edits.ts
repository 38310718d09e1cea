/** The edits a repair makes to a dump, and the layout Prometheus would find after them. */
import type { BlockMeta } from '../tsdb/metaJson';
import type { DumpModel, Layout } from './model';

export interface EditState {
  dropBlocks: Set<string>;
  /** Block dir → meta.json to write (rebuilt or with corrected stats). */
  metas: Map<string, BlockMeta>;
  /** Block dir → chunk ids replaced by empty chunks. */
  blanked: Map<string, Set<string>>;
  /** Files or directories (with everything under them) left out. */
  dropPaths: Set<string>;
  /** File or directory path → new path. */
  renames: Map<string, string>;
  /** File path → bytes kept (WAL: the file is cut; head chunks: zero-filled from there, size kept). */
  cuts: Map<string, number>;
  /** Block dirs whose index is written again (block/rewriteIndex.ts) from the series and chunks that read. */
  rewriteIndex: Set<string>;
}

export function emptyEdits(): EditState {
  return {
    dropBlocks: new Set(),
    metas: new Map(),
    blanked: new Map(),
    dropPaths: new Set(),
    renames: new Map(),
    cuts: new Map(),
    rewriteIndex: new Set(),
  };
}

export function cloneEdits(e: EditState): EditState {
  return {
    dropBlocks: new Set(e.dropBlocks),
    metas: new Map(e.metas),
    blanked: new Map([...e.blanked].map(([k, v]) => [k, new Set(v)])),
    dropPaths: new Set(e.dropPaths),
    renames: new Map(e.renames),
    cuts: new Map(e.cuts),
    rewriteIndex: new Set(e.rewriteIndex),
  };
}

function lastNumber(p: string, re: RegExp): number | undefined {
  const m = re.exec(p);
  return m ? Number(m[1]) : undefined;
}

/** The data as Prometheus would find it after the edits. */
export function layoutOf(model: DumpModel, e: EditState): Layout {
  const blocks = model.blocks
    .filter((b) => !e.dropBlocks.has(b.dir))
    .map((b) => {
      const meta = e.metas.get(b.dir);
      const deletable = meta ? meta.compaction.deletable === true : b.deletable === true;
      return {
        block: b,
        loadable: (b.metaReadable || meta !== undefined) && !deletable,
        maxTime: meta?.maxTime ?? b.maxTime,
        blanked: e.blanked.get(b.dir),
        indexRewritten: e.rewriteIndex.has(b.dir),
      };
    });
  const headFiles = model.headFiles
    .filter((f) => !e.dropPaths.has(f.path))
    .map((f) => {
      const to = e.renames.get(f.path);
      return { file: f, number: to ? (lastNumber(to, /(\d+)$/) ?? f.number) : f.number, cutAt: e.cuts.get(f.path) };
    });
  const wal = model.wal
    .filter((s) => !e.dropPaths.has(s.path))
    .map((s) => {
      const to = e.renames.get(s.path);
      return { seg: s, number: to ? (lastNumber(to, /(\d+)$/) ?? s.number) : s.number, cutAt: e.cuts.get(s.path) };
    });
  const checkpoints = model.checkpoints
    .filter((c) => !e.dropPaths.has(c.path))
    .map((c) => {
      const to = e.renames.get(c.path);
      const cuts = new Map(c.segments.filter((s) => e.cuts.has(s.path)).map((s) => [s.path, e.cuts.get(s.path)!]));
      return { cp: c, number: to ? (lastNumber(to, /checkpoint\.(\d+)$/) ?? c.number) : c.number, cuts };
    });
  return { blocks, headFiles, wal, checkpoints, wbl: model.wbl };
}
