/**
 * Block index writer, format v2 (docs/tsdb-format.md §3), laid out byte for byte as Prometheus's
 * tsdb/index/index.go Writer: header, symbols, series (16-byte aligned), label indices (4-byte
 * aligned, written up to 3.6), postings (the all-series list first, then by name and value),
 * label offset table, postings offset table, TOC; every section with its CRC32C.
 *
 * Pure: bytes go to a sink in file order, nothing is read back. Memory holds the symbol table and
 * the postings (series IDs per label pair), so it is bounded by the index size, never by chunks.
 */
import { Encbuf } from './encbuf';
import { compareLabelSets, compareStrings } from '../order';
import { INDEX_MAGIC, type IndexToc } from '../index';
import { crc32c } from '../crc32c';

/** Receives the file's bytes in order. The array is only valid during the call (it is reused). */
export interface ByteSink {
  write(bytes: Uint8Array): void;
}

export interface IndexChunkRef {
  minTime: number;
  maxTime: number;
  /** Segment position << 32 | offset, as a number (exact below 2^53). */
  ref: number;
}

export interface IndexWriterOptions {
  /**
   * Write the deprecated label indices and their offset table, as Prometheus 2.x and 3.0–3.6 do
   * (default). 3.7+ writes neither (their TOC entries then point at the postings and the table).
   */
  labelIndices?: boolean;
}

export interface IndexWriteResult {
  size: number;
  toc: IndexToc;
  series: number;
  chunks: number;
}

const SERIES_ALIGN = 16;
const ZEROS = new Uint8Array(SERIES_ALIGN);

export class IndexWriter {
  private pos = 0;
  private readonly buf = new Encbuf(1 << 16);
  private readonly symbolIds = new Map<string, number>();
  private readonly symbols: readonly string[];
  /** Label name symbol → value symbol → series IDs (ascending, since series come in order). */
  private readonly postings = new Map<number, Map<number, number[]>>();
  private readonly allIds: number[] = [];
  private lastLabels: readonly (readonly [string, string])[] | undefined;
  private lastRef = 0;
  private chunkCount = 0;
  private readonly toc: IndexToc = { symbols: 0, series: 0, labelIndices: 0, labelIndicesTable: 0, postings: 0, postingsTable: 0 };
  private finished = false;

  /** @param symbols every string of the label sets to come, sorted (Go byte order) and unique; more are allowed. */
  constructor(
    private readonly sink: ByteSink,
    symbols: readonly string[],
    private readonly opts: IndexWriterOptions = {},
  ) {
    this.symbols = symbols;
    const b = this.buf;
    b.be32(INDEX_MAGIC);
    b.byte(2);
    this.emit();
    this.toc.symbols = this.pos;
    // len | #symbols | strings | CRC over #symbols and strings (finishSymbols).
    b.be32(0);
    b.be32(symbols.length);
    for (let i = 0; i < symbols.length; i++) {
      const s = symbols[i];
      if (i > 0 && compareStrings(symbols[i - 1], s) >= 0) {
        throw new Error(`symbols not sorted and unique: ${JSON.stringify(symbols[i - 1])} before ${JSON.stringify(s)}`);
      }
      this.symbolIds.set(s, i);
      b.uvarintStr(s);
    }
    const len = b.length - 4;
    if (len > 0xffffffff) throw new Error(`symbol table size exceeds 4294967295 bytes: ${len}`);
    b.setBe32(0, len);
    b.crcFrom(4);
    this.emit();
    this.toc.series = this.pos;
  }

  private emit(): void {
    const bytes = this.buf.get();
    if (bytes.length > 0) this.sink.write(bytes);
    this.pos += bytes.length;
    this.buf.reset();
  }

  private pad(align: number): void {
    const p = this.pos % align;
    if (p !== 0) {
      this.sink.write(ZEROS.subarray(0, align - p));
      this.pos += align - p;
    }
  }

  private symbol(s: string): number {
    const id = this.symbolIds.get(s);
    if (id === undefined) throw new Error(`symbol entry for ${JSON.stringify(s)} does not exist`);
    return id;
  }

  /** Adds one series (label sets strictly ascending, chunk refs ascending); returns its ID (offset / 16). */
  addSeries(labels: readonly (readonly [string, string])[], chunks: readonly IndexChunkRef[]): number {
    if (this.finished) throw new Error('index already finished');
    if (this.lastLabels && compareLabelSets(labels, this.lastLabels) <= 0) {
      throw new Error(`out-of-order series added with label set ${formatLabels(labels)}, last label set ${formatLabels(this.lastLabels)}`);
    }
    let lastRef = this.lastRef;
    let lastMaxT = 0;
    chunks.forEach((c, i) => {
      if (c.ref < lastRef) throw new Error(`unsorted chunk reference: ${c.ref}, previous: ${lastRef}`);
      lastRef = c.ref;
      if (i > 0 && c.minTime <= lastMaxT) throw new Error(`chunk minT ${c.minTime} is not higher than previous chunk maxT ${lastMaxT}`);
      if (c.maxTime < c.minTime) throw new Error(`chunk maxT ${c.maxTime} is less than minT ${c.minTime}`);
      lastMaxT = c.maxTime;
    });
    this.pad(SERIES_ALIGN);
    const id = this.pos / SERIES_ALIGN;
    if (id > 0xffffffff) throw new Error('series section beyond the 64 GiB a v2 index can address');

    const body = this.buf;
    body.uvarint(labels.length);
    for (let i = 0; i < labels.length; i++) {
      const [name, value] = labels[i];
      if (i > 0 && compareStrings(labels[i - 1][0], name) >= 0) throw new Error(`labels not sorted: ${formatLabels(labels)}`);
      const n = this.symbol(name);
      const v = this.symbol(value);
      body.uvarint(n);
      body.uvarint(v);
      let byValue = this.postings.get(n);
      if (!byValue) this.postings.set(n, (byValue = new Map()));
      const ids = byValue.get(v);
      if (ids) ids.push(id);
      else byValue.set(v, [id]);
    }
    body.uvarint(chunks.length);
    if (chunks.length > 0) {
      const c0 = chunks[0];
      body.varint(c0.minTime);
      body.uvarint(c0.maxTime - c0.minTime);
      body.uvarint(c0.ref);
      let t0 = c0.maxTime;
      let ref0 = c0.ref;
      for (let i = 1; i < chunks.length; i++) {
        const c = chunks[i];
        body.uvarint(c.minTime - t0);
        body.uvarint(c.maxTime - c.minTime);
        t0 = c.maxTime;
        body.varint(c.ref - ref0);
        ref0 = c.ref;
      }
    }
    // len uvarint | body | CRC32C(body): the body is already in buf, so frame it in a second buffer.
    const framed = new Encbuf(body.length + 16);
    framed.uvarint(body.length);
    framed.bytes(body.get());
    framed.bytes(crcBytes(body.get()));
    body.reset();
    this.sink.write(framed.get());
    this.pos += framed.length;

    this.allIds.push(id);
    this.lastLabels = labels.map(([n, v]) => [n, v] as const);
    this.lastRef = lastRef;
    this.chunkCount += chunks.length;
    return id;
  }

  /** Writes everything after the series and the TOC. */
  finish(): IndexWriteResult {
    if (this.finished) throw new Error('index already finished');
    this.finished = true;
    const toc = this.toc;
    toc.labelIndices = this.pos;
    const names = [...this.postings.keys()].sort((a, b) => a - b);
    const withLabelIndices = this.opts.labelIndices ?? true;
    const labelIndexOffsets: [string, number][] = [];
    if (withLabelIndices) {
      for (const n of names) {
        this.pad(4);
        labelIndexOffsets.push([this.symbols[n], this.pos]);
        const values = [...this.postings.get(n)!.keys()].sort((a, b) => a - b);
        const b = this.buf;
        b.be32(0);
        b.be32(1); // number of names
        b.be32(values.length);
        for (const v of values) b.be32(v);
        b.setBe32(0, b.length - 4);
        b.crcFrom(4);
        this.emit();
      }
    }

    toc.postings = this.pos;
    this.pad(4);
    const postingOffsets: [string, string, number][] = [];
    const writePosting = (name: string, value: string, ids: readonly number[]) => {
      // Each list starts 4-aligned (writePosting pads the postings file, which starts 4-aligned).
      this.pad(4);
      postingOffsets.push([name, value, this.pos]);
      const b = this.buf;
      b.be32(4 + ids.length * 4);
      b.be32(ids.length);
      for (const id of ids) b.be32(id);
      b.crcFrom(4);
      this.emit();
    };
    writePosting('', '', this.allIds);
    for (const n of names) {
      const byValue = this.postings.get(n)!;
      for (const v of [...byValue.keys()].sort((a, b) => a - b)) writePosting(this.symbols[n], this.symbols[v], byValue.get(v)!);
    }

    toc.labelIndicesTable = this.pos;
    if (withLabelIndices) {
      const b = this.buf;
      b.be32(0);
      b.be32(labelIndexOffsets.length);
      for (const [name, offset] of labelIndexOffsets) {
        b.uvarint(1);
        b.uvarintStr(name);
        b.uvarint(offset);
      }
      b.setBe32(0, b.length - 4);
      b.crcFrom(4);
      this.emit();
    }

    toc.postingsTable = this.pos;
    {
      const b = this.buf;
      b.be32(0);
      b.be32(postingOffsets.length);
      for (const [name, value, offset] of postingOffsets) {
        b.uvarint(2);
        b.uvarintStr(name);
        b.uvarintStr(value);
        b.uvarint(offset);
      }
      const len = b.length - 4;
      if (len > 0xffffffff) throw new Error(`postings offset table length/crc32 write error: length size exceeds 4 bytes: ${len}`);
      b.setBe32(0, len);
      b.crcFrom(4);
      this.emit();
    }

    const b = this.buf;
    b.be64(toc.symbols);
    b.be64(toc.series);
    b.be64(toc.labelIndices);
    b.be64(toc.labelIndicesTable);
    b.be64(toc.postings);
    b.be64(toc.postingsTable);
    b.crcFrom(0);
    this.emit();
    return { size: this.pos, toc: { ...toc }, series: this.allIds.length, chunks: this.chunkCount };
  }
}

function crcBytes(bytes: Uint8Array): Uint8Array {
  const e = new Encbuf(4);
  e.be32(crc32c(bytes));
  return e.get();
}

/** The unique sorted strings of label sets: the symbol table their index needs. */
export function symbolsOf(labelSets: Iterable<readonly (readonly [string, string])[]>): string[] {
  const set = new Set<string>();
  for (const labels of labelSets) {
    for (const [n, v] of labels) {
      set.add(n);
      set.add(v);
    }
  }
  return [...set].sort(compareStrings);
}

function formatLabels(labels: readonly (readonly [string, string])[]): string {
  return `{${labels.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}}`;
}
