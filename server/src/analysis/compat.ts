/**
 * The compatibility gate: the oldest Prometheus that reads the whole dump without loss, feature by
 * feature. Versions are those of the format table in tsdb/chunkenc/chunk.go, tsdb/record/record.go
 * and tsdb/wlog (checked against the 3.5.3 and 3.16.0 sources: 3.5.3 knows chunk encodings 1–3 and
 * record types 1–10 only). What an older Prometheus does with each is from those sources, and for
 * 3.16 data in 3.5.3 observed (test/fixtures/EXPECTED.md): it starts without a word, skips the
 * unknown WAL records and fails every query touching an unknown chunk encoding.
 */
import type { CompatibilityInfo, CompatibilityRequirement } from '../protocol';
import type { Analysis, SegmentState } from './state';

interface Feature {
  feature: string;
  needs: string;
  olderDoes: string;
}

const ENCODINGS: Record<number, Feature> = {
  2: { feature: 'native histogram chunks', needs: '2.40.0', olderDoes: 'fails every query touching them (invalid chunk encoding)' },
  3: { feature: 'float histogram chunks', needs: '2.40.0', olderDoes: 'fails every query touching them (invalid chunk encoding)' },
  4: { feature: 'XOR2 chunks', needs: '3.11.0', olderDoes: 'fails every query touching them (invalid chunk encoding)' },
  5: {
    feature: 'histogram chunks with start timestamps',
    needs: '3.14.0',
    olderDoes: 'fails every query touching them (invalid chunk encoding)',
  },
  6: {
    feature: 'float histogram chunks with start timestamps',
    needs: '3.14.0',
    olderDoes: 'fails every query touching them (invalid chunk encoding)',
  },
};
const SKIPPED = 'skips the records without a word on WAL replay: their samples are lost';
const RECORDS: Record<number, Feature> = {
  7: { feature: 'histogram WAL records', needs: '2.40.0', olderDoes: SKIPPED },
  8: { feature: 'float histogram WAL records', needs: '2.40.0', olderDoes: SKIPPED },
  9: { feature: 'custom-bucket histogram WAL records', needs: '3.2.0', olderDoes: SKIPPED },
  10: { feature: 'custom-bucket float histogram WAL records', needs: '3.2.0', olderDoes: SKIPPED },
  11: { feature: 'SamplesV2 WAL records (start timestamps)', needs: '3.11.0', olderDoes: SKIPPED },
  12: { feature: 'HistogramSamplesV2 WAL records', needs: '3.12.0', olderDoes: SKIPPED },
  13: { feature: 'FloatHistogramSamplesV2 WAL records', needs: '3.12.0', olderDoes: SKIPPED },
};
const ZSTD: Feature = {
  feature: 'zstd-compressed WAL records',
  needs: '2.46.0',
  olderDoes: 'reads them as corruption and repairs the WAL by deleting from there on',
};
const OOO: Feature = {
  feature: 'out-of-order data (wbl/, OOO head chunks)',
  needs: '2.39.0',
  olderDoes: 'does not replay the WBL: the out-of-order samples are lost',
};
/**
 * Custom bounds in histogram chunks (schema −53): readHistogramChunkLayout reads them from
 * Prometheus 2.54.0 on (tsdb/chunkenc/histogram_meta.go readHistogramChunkLayoutCustomBounds: in the
 * v0.54.0 module, not in v0.53.1). Observed: 2.42 on 3.5.3's native blocks lists the NHCB series and
 * serves none of their samples, without an error (test/fixtures/EXPECTED.md).
 */
const NHCB_CHUNKS: Feature = {
  feature: 'custom-bucket histogram chunks (NHCB)',
  needs: '2.54.0',
  olderDoes: 'lists their series but serves none of their samples, without an error',
};
const INDEX_V3: Feature = { feature: 'index format version 3', needs: '2.55.0', olderDoes: 'refuses to open the block' };

function versionKey(v: string): number {
  const [a, b, c] = v.split('.').map(Number);
  return a * 1e6 + b * 1e3 + c;
}

export function compatibilityOf(a: Analysis): CompatibilityInfo {
  const found = new Map<string, CompatibilityRequirement>();
  const need = (f: Feature, where: string): void => {
    const r = found.get(f.feature) ?? { ...f, where: [] };
    if (r.where.length < 5 && !r.where.includes(where)) r.where.push(where);
    found.set(f.feature, r);
  };
  for (const [dir, b] of a.blocks) {
    for (const seg of b.chunkSegments) {
      for (const e of Object.keys(seg.summary?.encodings ?? {})) {
        const f = ENCODINGS[Number(e) & 0x7f];
        if (f) need(f, `${dir}/chunks/${seg.name}`);
      }
      if ((seg.summary?.customBucketChunks ?? 0) > 0) need(NHCB_CHUNKS, `${dir}/chunks/${seg.name}`);
    }
    if (b.indexSummary?.version === 3) need(INDEX_V3, `${dir}/index`);
  }
  for (const h of a.headFiles) {
    for (const e of Object.keys(h.summary?.encodings ?? {})) {
      const f = ENCODINGS[Number(e) & 0x7f];
      if (f) need(f, h.path);
      if (Number(e) & 0x80) need(OOO, h.path);
    }
    if ((h.summary?.customBucketChunks ?? 0) > 0) need(NHCB_CHUNKS, h.path);
  }
  const segs = (list: SegmentState[]): void => {
    for (const s of list) {
      const sum = s.summary;
      if (!sum) continue;
      if (sum.compression.zstd > 0) need(ZSTD, s.path);
      for (const t of Object.keys(sum.recordTypes)) {
        const f = RECORDS[Number(t)];
        if (f) need(f, s.path);
      }
    }
  };
  segs(a.walSegments);
  for (const cp of a.checkpoints.values()) segs(cp);
  segs(a.wblSegments);
  if (a.wblSegments.some((s) => (s.summary?.records ?? 0) > 0)) need(OOO, 'wbl/');
  const requirements = [...found.values()].sort((x, y) => versionKey(y.needs) - versionKey(x.needs) || (x.feature < y.feature ? -1 : 1));
  return { minVersion: requirements[0]?.needs ?? '2.0.0', requirements };
}

/** `3.14.0 (histogram chunks with start timestamps in <dir>/chunks/000001 need 3.14.0; …)` */
export function compatibilityLine(c: CompatibilityInfo): string {
  if (c.requirements.length === 0) return "compatibility: no feature newer than Prometheus 2.39 (XOR chunks, WAL record types 1–6)";
  const why = c.requirements.map(
    (r) => `${r.feature} in ${r.where[0]}${r.where.length > 1 ? ` (+${r.where.length - 1})` : ''} need ${r.needs}`,
  );
  return `compatibility: Prometheus >= ${c.minVersion} reads the whole dump without loss (${why.join('; ')})`;
}
