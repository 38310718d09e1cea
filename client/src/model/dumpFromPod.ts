/**
 * Dump from Pod's texts: the range presets, the confirmation from the worker's dry run (what
 * planDump decided, server/src/kube/dump.ts), and the message when the dump is done.
 */
import * as path from 'node:path';
import type { DumpPreview, DumpResult } from '../../../server/src/protocol';
import { formatBytes, formatRange, formatRequestedRange, listOf } from './format';

/**
 * Time range presets offered by Dump from Pod before a custom range, as the texts a user could
 * type: the worker's parser turns them into instants like any custom range.
 */
export const DUMP_RANGE_PRESETS: { label: string; from?: string; to?: string }[] = [
  { label: 'Last 1 hour', from: 'now-1h', to: 'now' },
  { label: 'Last 6 hours', from: 'now-6h', to: 'now' },
  { label: 'Last 24 hours', from: 'now-24h', to: 'now' },
  { label: 'Last 7 days', from: 'now-7d', to: 'now' },
  { label: 'Everything' },
];

export interface DumpConfirmation {
  message: string;
  detail: string;
  /** `Dump` (a live copy), and `Dump Snapshot` when the pod's Prometheus has the admin API on. */
  buttons: string[];
}

export const LIVE_DUMP = 'Dump';
export const SNAPSHOT_DUMP = 'Dump Snapshot';

/** The modal before a dump, from the worker's dry run: blocks included whole, the head, the size. */
export function dumpConfirmation(p: DumpPreview): DumpConfirmation {
  const message =
    `Dump ${p.blocks.length} of ${p.totalBlocks} block(s) plus the head of ${p.pod.namespace}/${p.pod.name}, ` +
    `about ${formatBytes(p.estimatedBytes)}?`;
  const detail = [
    `Requested: ${formatRequestedRange(p.requested.from, p.requested.to)}`,
    `Effective: ${p.effectiveRange ? formatRange(p.effectiveRange.from, p.effectiveRange.to) : 'nothing'}`,
    'Dumps are block-granular: every block overlapping the range is included whole, and the head (chunks_head, WAL) is always included.',
    p.adminApi
      ? `${SNAPSHOT_DUMP}: Prometheus's admin API writes a consistent snapshot (the head persisted as a block) and the dump copies it; ` +
        `${LIVE_DUMP}: a live copy, where files that change meanwhile are reported.`
      : 'A live copy: files that change meanwhile (compaction, WAL appends) are reported. ' +
        'A consistent snapshot needs --web.enable-admin-api.',
  ].join('\n');
  return { message, detail, buttons: p.adminApi ? [LIVE_DUMP, SNAPSHOT_DUMP] : [LIVE_DUMP] };
}

/** The notification after a dump from a pod; files that changed while they were read are named. */
export function dumpDoneMessage(
  result: Pick<DumpResult, 'blocks' | 'bytes' | 'output' | 'changedDuringDump' | 'warnings' | 'cleanedUp'>,
): string {
  const parts = [`Dumped ${result.blocks.length} block(s), ${formatBytes(result.bytes)} to ${path.basename(result.output)}.`];
  const changed = result.changedDuringDump;
  if (changed.length) {
    parts.push(
      `${changed.length} file(s) changed while they were read ` +
        `(Prometheus kept writing; the manifest has the hashes of what was read): ${listOf(changed, 3)}.`,
    );
  }
  if (result.cleanedUp.length) parts.push(`Removed what an interrupted tsdbdump run had left in the pod: ${listOf(result.cleanedUp, 3)}.`);
  parts.push(...result.warnings.map((w) => `Warning: ${w}.`));
  return parts.join(' ');
}
