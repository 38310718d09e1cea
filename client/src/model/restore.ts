/** The one modal before a restore, from the worker's dry run (RestorePreview). */
import type { RestorePreview, UploadMethod } from '../../../server/src/protocol';
import { formatBytes, listOf, plural } from './format';

export interface RestoreConfirmation {
  /** The modal's first line: dump, pod, context, mode. */
  message: string;
  /** The modal's detail: what the dry run found. */
  detail: string;
  /** "Restore", or "Restore Anyway" when the worker says it needs force (errors, a target too old). */
  button: 'Restore' | 'Restore Anyway';
}

const UPLOAD_METHOD_TEXT: Record<UploadMethod, string> = {
  tar: 'one tar stream',
  cat: 'one `cat` per file (no tar in the pod)',
  head: 'one `head -c` per file (the API server has no v5 exec)',
};

/**
 * The one modal before a restore, from the worker's dry run: the target, what is replaced or
 * added, what is left out, sizes, the backup, warnings, and the dump's errors if any.
 */
export function restoreConfirmation(p: RestorePreview, source: string): RestoreConfirmation {
  const name = source.split(/[\\/]/).filter(Boolean).pop() ?? source;
  const hasErrors = p.errors.length > 0;
  const message = `Restore ${name} into ${p.pod.namespace}/${p.pod.name} ` +
    `(${p.pod.context}) with mode "${p.mode}"?${hasErrors ? ` The dump has ${plural(p.errors.length, 'error')}.` : ''}`;
  const lines = [`Data dir: ${p.dataDir} in container ${p.pod.container} (Prometheus ${p.prometheusVersion ?? 'version unknown'})`];
  if (p.mode === 'replace')
    lines.push(
      p.replaces.length ? `Replaces everything now in ${p.dataDir}: ${listOf(p.replaces)}` : `Replaces nothing: ${p.dataDir} is empty`,
    );
  else lines.push(`Keeps the pod's blocks and head`);
  lines.push(`Adds ${plural(p.adds.length, 'block')}: ${listOf(p.adds) || 'none'}`);
  for (const s of p.skipped) lines.push(`Skips ${s}`);
  const free = p.freeBytes === undefined ? 'free space unknown' : `${formatBytes(p.freeBytes)} free in the pod`;
  lines.push(`Uploads ${formatBytes(p.uploadBytes)} (${free}) as ${UPLOAD_METHOD_TEXT[p.uploadMethod]}`);
  lines.push(`Backs up the current data first to ${p.backup}`);
  lines.push(`Data volume: ${p.dataVolume.description}`);
  lines.push(`${p.dataVolume.restartDescription[0].toUpperCase()}${p.dataVolume.restartDescription.slice(1)}.`);
  if (p.warnings.length) lines.push('', 'Warnings:', ...p.warnings.map((w) => `• ${w}`));
  if (hasErrors) {
    lines.push(
      '',
      `Errors in the dump (restoring it could make Prometheus fail or lose data):`,
      ...p.errors.slice(0, 10).map((e) => `• ${e}`),
    );
    if (p.errors.length > 10) lines.push(`• … and ${p.errors.length - 10} more`);
  }
  if (p.tooNewForTarget.length) {
    lines.push('', `Too new for Prometheus ${p.prometheusVersion ?? ''} in the pod (it would fail or drop this data):`,
      ...p.tooNewForTarget.map((r) => `• ${r.feature} needs ${r.needs}: ${r.olderDoes}`));
  }
  return { message, detail: lines.join('\n'), button: p.needsForce ? 'Restore Anyway' : 'Restore' };
}
