/**
 * Transcoding a WAL (or checkpoint) segment for an older Prometheus: every record is read
 * (decompressed whatever its compression) and written again with snappy (every 2.x reads it;
 * zstd needs 2.46+), record for record in the same order, so replay sees the same records.
 * Undecodable records are not guessed at: the segment is refused with its first problem.
 */
import { ToolError } from '../errors';
import { createWalSegmentScanner } from '../tsdb/wal';
import { WalSegmentWriter } from '../tsdb/write/walWriter';

export interface WalTranscodeResult {
  bytes: Uint8Array;
  records: number;
  /** Records that were zstd-compressed in the source. */
  zstdRecords: number;
}

export function transcodeWalSegment(source: Uint8Array, name = 'segment'): WalTranscodeResult {
  const parts: Uint8Array[] = [];
  const writer = new WalSegmentWriter({ write: (b) => parts.push(Uint8Array.from(b)) });
  let records = 0;
  const scanner = createWalSegmentScanner({
    onRawRecord: (body) => {
      writer.log(body);
      records++;
    },
  });
  scanner.push(source);
  const summary = scanner.end();
  const damage = summary.problems.find((p) => !p.unsupported);
  if (damage) {
    throw new ToolError('usage', `${name}: ${damage.message} at byte ${damage.offset ?? '?'}; repair the dump before converting it`);
  }
  writer.finish();
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return { bytes, records, zstdRecords: summary.compression.zstd };
}
