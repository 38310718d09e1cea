/** Block index, format v2 (docs/tsdb-format.md §3). Random access: the TOC is at the end. */
import { Cursor, FormatError } from './cursor';
import { crc32c, readCrc, hex } from './crc32c';
import { compareLabelSets, compareStrings } from './order';
import type { ByteSource, FormatProblem, Verify } from './types';

export const INDEX_MAGIC = 0xbaaad700;
const HEADER_LEN = 5;
const TOC_LEN = 52;
/** Bound on problems per section, so a garbage file cannot grow memory without limit. */
const MAX_PROBLEMS_PER_SECTION = 100;

export interface IndexToc {
  symbols: number;
  series: number;
  labelIndices: number;
  labelIndicesTable: number;
  postings: number;
  postingsTable: number;
}

export interface ChunkMeta {
  minTime: number;
  maxTime: number;
  /** Upper 32 bits: 0-based chunk segment position; lower 32 bits: offset of the chunk's len field. */
  readonly ref: bigint;
  /** The same ref split into numbers (cheaper than bigint operations in hot loops). */
  readonly segment: number;
  readonly offset: number;
}

const TWO_32 = 2 ** 32;

/** Chunk metas are the most numerous objects of an index: the bigint ref is made only when asked for. */
class IndexChunkMeta implements ChunkMeta {
  readonly segment: number;
  readonly offset: number;
  constructor(
    public minTime: number,
    public maxTime: number,
    ref: number,
  ) {
    this.segment = Math.floor(ref / TWO_32);
    this.offset = ref % TWO_32;
  }
  get ref(): bigint {
    return (BigInt(this.segment) << 32n) | BigInt(this.offset);
  }
}

export interface IndexSeries {
  /** Series ID = offset / 16 (v2). */
  id: number;
  labels: [string, string][];
  chunks: ChunkMeta[];
  /** False when the entry's CRC did not match (full mode); the decoded content is then suspect. */
  crcOk?: boolean;
}

export interface IndexProblem extends FormatProblem {
  section: 'header' | 'toc' | 'symbols' | 'series' | 'labelIndices' | 'postings' | 'labelOffsetTable' | 'postingsTable';
  /** True when Prometheus fails to open the block because of it (header, TOC, symbols, postings table). */
  fatalAtStartup: boolean;
}

export interface IndexSummary {
  version: number;
  toc?: IndexToc;
  symbolCount: number;
  seriesCount: number;
  chunkCount: number;
  /** Over all chunk metas (inclusive sample times). */
  minTime?: number;
  maxTime?: number;
  /** Entries of the postings offset table (label name/value pairs, plus the all-series key). */
  postingsCount?: number;
  problems: IndexProblem[];
}

type Section = IndexProblem['section'];
const FATAL: ReadonlySet<Section> = new Set<Section>(['header', 'toc', 'symbols', 'postingsTable']);

/** Wraps what the caller's onSeries or ByteSource threw, so it propagates instead of becoming a problem. */
class CallbackFailure {
  constructor(readonly error: unknown) {}
}

/** Reads a file through a sliding window so big indexes are not loaded whole. */
class Window {
  private buf: Uint8Array = new Uint8Array(0);
  private base = 0;
  constructor(
    private readonly src: ByteSource,
    private readonly chunk = 1 << 20,
  ) {}
  /** A cursor positioned at `offset`, valid for at least `n` bytes (fewer at EOF). */
  at(offset: number, n: number): Cursor {
    const end = Math.min(this.src.size, offset + n);
    if (offset < this.base || end > this.base + this.buf.length) {
      const len = Math.min(this.src.size - offset, Math.max(n, this.chunk));
      try {
        this.buf = len > 0 ? this.src.read(offset, len) : new Uint8Array(0);
      } catch (e) {
        throw new CallbackFailure(e); // an I/O error is the caller's, not a problem of the index
      }
      this.base = offset;
    }
    return new Cursor(this.buf, this.base, offset - this.base, this.buf.length);
  }
}

class IndexReader {
  readonly problems: IndexProblem[] = [];
  private readonly perSection = new Map<Section, number>();
  readonly full: boolean;
  readonly size: number;
  readonly win: Window;
  symbols: string[] = [];
  /** False when the symbol table is unreadable: series are then counted but not resolved nor passed on. */
  symbolsOk = false;
  summary: IndexSummary = { version: 0, symbolCount: 0, seriesCount: 0, chunkCount: 0, problems: this.problems };
  /** Offsets of every series entry (= id * 16), ascending: postings must point at them. */
  seriesIds: number[] = [];
  private prevRef = -1;

  constructor(
    readonly src: ByteSource,
    readonly verify: Verify,
    readonly onSeries?: (s: IndexSeries) => void,
    readonly onSymbols?: (symbols: readonly string[]) => void,
    readonly salvage = false,
  ) {
    this.full = verify === 'full';
    this.size = src.size;
    this.win = new Window(src);
  }

  problem(section: Section, message: string, offset?: number): void {
    const n = (this.perSection.get(section) ?? 0) + 1;
    this.perSection.set(section, n);
    if (n <= MAX_PROBLEMS_PER_SECTION) this.problems.push({ section, message, offset, fatalAtStartup: FATAL.has(section) });
  }

  /** A table frame `len u32 | payload | CRC32C(payload)` (Decbuf NewDecbufAt); undefined after reporting a problem. */
  frame(section: Section, offset: number, prefix: string, checkCrc: boolean): Cursor | undefined {
    const p = prefix ? `${prefix}: ` : '';
    if (offset + 4 > this.size) {
      this.problem(section, `${p}invalid size`, offset);
      return undefined;
    }
    const len = this.win.at(offset, 4).u32();
    if (offset + 4 + len + 4 > this.size) {
      this.problem(section, `${p}invalid size`, offset);
      return undefined;
    }
    const c = this.win.at(offset, 4 + len + 4);
    const payload = c.buf.subarray(c.position + 4, c.position + 4 + len);
    if (checkCrc) {
      const stored = readCrc(c.buf, c.position + 4 + len);
      if (crc32c(payload) !== stored) {
        this.problem(section, `${p}invalid checksum`, offset);
        return undefined;
      }
    }
    return new Cursor(c.buf, c.base, c.position + 4, c.position + 4 + len);
  }

  read(): IndexSummary {
    if (!this.header()) return this.summary;
    if (this.salvage) return this.salvageRead();
    const toc = this.toc();
    if (!toc) return this.summary;
    this.summary.toc = toc;
    if (this.summary.version === 1) {
      this.problem('header', 'index format v1 (Prometheus 2.0) is not analysed beyond its TOC', 4);
      return this.summary;
    }
    this.readSymbols(toc);
    const postingsTable = this.readPostingsTable(toc);
    this.readSeries(toc);
    if (this.full) {
      if (postingsTable) this.checkPostings(postingsTable);
      this.checkLabelIndices(toc);
    }
    return this.summary;
  }

  /**
   * Salvage (for repair): the TOC is not trusted. Prometheus's writer puts the symbols right after
   * the header and the series, 16-byte aligned, right after the symbols (tsdb/index/index.go), so
   * both are found without it; the symbols' CRC is not required, each series entry's CRC is
   * checked (crcOk), and the series region ends at the first aligned position that starts no entry.
   */
  private salvageRead(): IndexSummary {
    if (this.summary.version === 1) {
      this.problem('header', 'index format v1 (Prometheus 2.0) cannot be salvaged', 4);
      return this.summary;
    }
    const symbols = this.frame('symbols', HEADER_LEN, 'read symbols', false);
    if (!symbols) return this.summary;
    const symbolsEnd = HEADER_LEN + 4 + (symbols.end - symbols.position) + 4;
    const toc: IndexToc = { symbols: HEADER_LEN, series: symbolsEnd, labelIndices: 0, labelIndicesTable: 0, postings: 0, postingsTable: 0 };
    this.readSymbols(toc);
    if (!this.symbolsOk) return this.summary;
    this.readSeries(toc, this.plausibleSeriesEnd(symbolsEnd));
    return this.summary;
  }

  /**
   * Where the series region ends per the TOC, used only when its offsets are in the writer's order
   * (a TOC whose CRC alone is damaged); else the series are walked up to the TOC.
   */
  private plausibleSeriesEnd(seriesStart: number): number {
    const at = this.size - TOC_LEN;
    const c = this.win.at(at, TOC_LEN);
    const [symbols, series, labelIndices, labelIndicesTable, postings, postingsTable] = [0, 1, 2, 3, 4, 5].map(() => c.u64n());
    const ordered =
      symbols === HEADER_LEN &&
      series >= seriesStart - 16 &&
      series <= labelIndices &&
      labelIndices <= postings &&
      postings <= labelIndicesTable &&
      labelIndicesTable <= postingsTable &&
      postingsTable < at;
    if (!ordered) return at;
    return this.seriesEnd({ symbols, series, labelIndices, labelIndicesTable, postings, postingsTable });
  }

  private header(): boolean {
    if (this.size < HEADER_LEN) {
      this.problem('header', 'index header: invalid size', 0);
      return false;
    }
    const c = this.win.at(0, HEADER_LEN);
    const magic = c.u32();
    if (magic !== INDEX_MAGIC) {
      this.problem('header', `invalid magic number ${hex(magic)}`, 0);
      return false;
    }
    const version = c.u8();
    this.summary.version = version;
    if (version !== 1 && version !== 2 && version !== 3) {
      this.problem('header', `unknown index file version ${version}`, 4);
      return false;
    }
    return true;
  }

  private toc(): IndexToc | undefined {
    if (this.size < TOC_LEN) {
      this.problem('toc', 'read TOC: invalid size', 0);
      return undefined;
    }
    const at = this.size - TOC_LEN;
    const c = this.win.at(at, TOC_LEN);
    const body = c.buf.subarray(c.position, c.position + 48);
    if (crc32c(body) !== readCrc(c.buf, c.position + 48)) {
      // NewReader and NewTOCFromByteSlice both wrap with "read TOC" (verified in the startup log).
      this.problem('toc', 'read TOC: read TOC: invalid checksum', at);
      return undefined;
    }
    const toc: IndexToc = {
      symbols: c.u64n(),
      series: c.u64n(),
      labelIndices: c.u64n(),
      labelIndicesTable: c.u64n(),
      postings: c.u64n(),
      postingsTable: c.u64n(),
    };
    for (const [k, v] of Object.entries(toc)) {
      if (v > at) {
        this.problem('toc', `TOC offset ${k} ${v} beyond the index size ${this.size}`, this.size - TOC_LEN);
        return undefined;
      }
    }
    return toc;
  }

  private readSymbols(toc: IndexToc): void {
    const d = this.frame('symbols', toc.symbols, 'read symbols', true);
    if (!d) return;
    try {
      const count = d.u32();
      const symbols: string[] = [];
      for (let i = 0; i < count; i++) {
        if (d.remaining === 0) throw new FormatError('invalid size', d.offset);
        symbols.push(d.string());
      }
      this.symbols = symbols;
      this.symbolsOk = true;
      this.summary.symbolCount = count;
      if (this.onSymbols) {
        try {
          this.onSymbols(symbols);
        } catch (e) {
          throw new CallbackFailure(e);
        }
      }
      for (let i = 1; i < symbols.length; i++) {
        if (compareStrings(symbols[i - 1], symbols[i]) >= 0) {
          this.problem(
            'symbols',
            `symbols not sorted and unique: ${JSON.stringify(symbols[i - 1])} before ${JSON.stringify(symbols[i])}`,
            toc.symbols,
          );
          break;
        }
      }
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      this.problem('symbols', 'read symbols: invalid size', e.offset);
    }
  }

  /** Postings offset table: [name, value, offset][]; checked at block open (fatal). */
  private readPostingsTable(toc: IndexToc): [string, string, number][] | undefined {
    const d = this.frame('postingsTable', toc.postingsTable, 'read postings table', true);
    if (!d) return undefined;
    const entries: [string, string, number][] = [];
    try {
      const count = d.u32();
      for (let i = 0; i < count && d.remaining > 0; i++) {
        const at = d.offset;
        const keyCount = d.uvarint();
        if (keyCount !== 2) {
          this.problem('postingsTable', `read postings table: unexpected key length for posting table ${keyCount}`, at);
          return undefined;
        }
        entries.push([d.string(), d.string(), d.uvarint()]);
      }
      if (entries.length !== count)
        this.problem('postingsTable', `read postings table: ${count} entries announced, ${entries.length} present`, toc.postingsTable);
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      this.problem('postingsTable', 'read postings table: invalid size', e.offset);
      return undefined;
    }
    this.summary.postingsCount = entries.length;
    // Prometheus looks every label name up in the symbols when it opens the block.
    if (this.symbols.length > 0) {
      const known = new Set(this.symbols);
      for (const [name, value] of entries) {
        if (name !== '' && !known.has(name)) {
          this.problem('postingsTable', `reverse symbol lookup: unknown symbol ${JSON.stringify(name)}`, toc.postingsTable);
          break;
        }
        if (this.full && name !== '' && !known.has(value))
          this.problem('postingsTable', `unknown symbol ${JSON.stringify(value)}`, toc.postingsTable);
      }
    }
    for (let i = 1; i < entries.length; i++) {
      const [a, b] = [entries[i - 1], entries[i]];
      if (compareStrings(a[0], b[0]) > 0 || (a[0] === b[0] && compareStrings(a[1], b[1]) >= 0)) {
        this.problem(
          'postingsTable',
          `postings offset table not sorted at ${JSON.stringify(b[0])}=${JSON.stringify(b[1])}`,
          toc.postingsTable,
        );
        break;
      }
    }
    return entries;
  }

  /** End of the series region: the next section present after it. */
  private seriesEnd(toc: IndexToc): number {
    const after = [toc.labelIndices, toc.postings, toc.labelIndicesTable, toc.postingsTable].filter((o) => o > toc.series);
    return after.length ? Math.min(...after) : this.size - TOC_LEN;
  }

  /** @param salvageEnd set in salvage mode: the end of the series region found without trusting the TOC. */
  private readSeries(toc: IndexToc, salvageEnd?: number): void {
    if (toc.series === 0) return;
    const salvage = salvageEnd !== undefined;
    const end = salvageEnd ?? this.seriesEnd(toc);
    let pos = align(toc.series, 16);
    let prevLabels: [string, string][] | undefined;
    while (pos < end) {
      // Zero padding between entries is normal; a zero where an entry should start ends the region.
      const head = this.win.at(pos, 5);
      if (head.remaining === 0) break;
      let len: number;
      let n: number;
      try {
        len = head.uvarint();
        n = head.position - (pos - head.base);
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        this.problem('series', `series at ${pos}: invalid uvarint`, pos);
        return;
      }
      if (len === 0) {
        if (!salvage) this.problem('series', `series at ${pos}: empty entry`, pos);
        return;
      }
      if (pos + n + len + 4 > end) {
        if (salvage) return;
        this.problem('series', `series at ${pos}: invalid size (entry of ${len} bytes runs past the series section end ${end})`, pos);
        return;
      }
      const id = pos / 16;
      const c = this.win.at(pos, n + len + 4);
      const bodyStart = c.position + n;
      let crcOk: boolean | undefined;
      if (this.full || salvage) {
        crcOk = crc32c(c.buf.subarray(bodyStart, bodyStart + len)) === readCrc(c.buf, bodyStart + len);
        if (!crcOk) this.problem('series', `series ${id}: invalid checksum`, pos);
      }
      const s = this.decodeSeries(new Cursor(c.buf, c.base, bodyStart, bodyStart + len), id, pos);
      this.summary.seriesCount++;
      this.seriesIds.push(id);
      if (s) {
        if (crcOk !== undefined) s.crcOk = crcOk;
        if (prevLabels && this.symbolsOk && compareLabelSets(prevLabels, s.labels) >= 0) {
          this.problem('series', `out-of-order series added with label set ${formatLabels(s.labels)}`, pos);
        }
        prevLabels = s.labels;
        if (this.onSeries && this.symbolsOk) {
          try {
            this.onSeries(s);
          } catch (e) {
            throw new CallbackFailure(e);
          }
        }
      }
      pos = align(pos + n + len + 4, 16);
    }
  }

  private decodeSeries(d: Cursor, id: number, pos: number): IndexSeries | undefined {
    const sym = this.symbols;
    try {
      const nLabels = d.uvarint();
      const labels: [string, string][] = [];
      for (let i = 0; i < nLabels; i++) {
        const nameRef = d.uvarint();
        const valueRef = d.uvarint();
        if (!this.symbolsOk) continue;
        if (nameRef >= sym.length || valueRef >= sym.length) {
          this.problem('series', `series ${id}: unknown symbol offset ${nameRef >= sym.length ? nameRef : valueRef}`, pos);
          return undefined;
        }
        labels.push([sym[nameRef], sym[valueRef]]);
      }
      const nChunks = d.uvarint();
      const chunks: ChunkMeta[] = [];
      let t0 = 0;
      let maxt = 0;
      let ref = 0;
      for (let i = 0; i < nChunks; i++) {
        if (i === 0) {
          t0 = d.varint();
          maxt = t0 + d.uvarint();
          ref = d.uvarint();
        } else {
          const mint = maxt + d.uvarint();
          if (mint <= maxt) this.problem('series', `series ${id}: chunk minT ${mint} is not higher than previous chunk maxT ${maxt}`, pos);
          t0 = mint;
          maxt = t0 + d.uvarint();
          ref += d.varint();
        }
        // Refs strictly increase within and across series (the writer enforces it).
        if (ref <= this.prevRef)
          this.problem('series', `series ${id}: chunk ref ${ref} is not above the previous ref ${this.prevRef}`, pos);
        this.prevRef = ref;
        chunks.push(new IndexChunkMeta(t0, maxt, ref));
      }
      if (d.remaining !== 0) this.problem('series', `series ${id}: ${d.remaining} unexpected bytes after the chunk metas`, pos);
      const sm = this.summary;
      sm.chunkCount += nChunks;
      if (nChunks > 0) {
        const first = chunks[0].minTime;
        if (sm.minTime === undefined || first < sm.minTime) sm.minTime = first;
        if (sm.maxTime === undefined || maxt > sm.maxTime) sm.maxTime = maxt;
      }
      return { id, labels, chunks };
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      this.problem('series', `read series ${id}: invalid size`, pos);
      return undefined;
    }
  }

  /** Every postings list: CRC, length, ascending IDs that name real series (full mode only). */
  private checkPostings(entries: [string, string, number][]): void {
    const ids = new Set(this.seriesIds);
    for (const [name, value, offset] of entries) {
      const key = name === '' ? 'all postings' : `postings ${name}=${JSON.stringify(value)}`;
      const d = this.frame('postings', offset, key, true);
      if (!d) continue;
      try {
        const count = d.u32();
        if (d.remaining !== count * 4) {
          this.problem('postings', `${key}: ${count} series announced in ${d.remaining} bytes`, offset);
          continue;
        }
        let prev = -1;
        for (let i = 0; i < count; i++) {
          const id = d.u32();
          if (id <= prev || !ids.has(id)) {
            this.problem('postings', `${key}: ${id <= prev ? 'series IDs not ascending' : `unknown series ID ${id}`}`, offset);
            break;
          }
          prev = id;
        }
        if (name === '' && count !== this.summary.seriesCount) {
          this.problem('postings', `all postings: ${count} series listed, ${this.summary.seriesCount} in the series section`, offset);
        }
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        this.problem('postings', `${key}: invalid size`, offset);
      }
    }
  }

  /** Deprecated label indices and their offset table (absent in 3.7+): CRCs only. */
  private checkLabelIndices(toc: IndexToc): void {
    if (toc.labelIndicesTable === 0 || toc.labelIndicesTable === toc.postingsTable) return;
    const d = this.frame('labelOffsetTable', toc.labelIndicesTable, 'read label offset table', true);
    if (!d) return;
    try {
      const count = d.u32();
      for (let i = 0; i < count && d.remaining > 0; i++) {
        const keyCount = d.uvarint();
        const names: string[] = [];
        for (let k = 0; k < keyCount; k++) names.push(d.string());
        const offset = d.uvarint();
        this.frame('labelIndices', offset, `label index ${names.join(',')}`, true);
      }
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      this.problem('labelOffsetTable', 'read label offset table: invalid size', e.offset);
    }
  }
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function formatLabels(labels: [string, string][]): string {
  return `{${labels.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}}`;
}

/**
 * Reads header, TOC, symbols, every series (calling onSeries for each) and the postings offset table.
 * quick: CRCs of the TOC, symbols and postings offset table (what Prometheus checks at open);
 * full: also every series entry and postings list CRC. Never throws on bad input: it reports problems.
 */
export function readIndex(
  src: ByteSource,
  opts: {
    verify: Verify;
    onSeries?: (s: IndexSeries) => void;
    onSymbols?: (symbols: readonly string[]) => void;
    /** Read symbols and series without the TOC (see salvageRead): what a rewritten index can keep. */
    salvage?: boolean;
  },
): IndexSummary {
  const r = new IndexReader(src, opts.verify, opts.onSeries, opts.onSymbols, opts.salvage);
  try {
    return r.read();
  } catch (e) {
    if (e instanceof CallbackFailure) throw e.error;
    // A reader bug must not take the analysis down; report it as a problem of the index.
    r.problem('series', `index could not be read: ${e instanceof Error ? e.message : String(e)}`);
    return r.summary;
  }
}

