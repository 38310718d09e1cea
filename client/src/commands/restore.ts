/**
 * Restore Dump to Pod: the worker's dry run finds out what the restore would do, one modal shows
 * it, then the worker restores.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  Requests,
  type PodInfo,
  type RestoreMode,
  type RestorePreview,
  type RestoreRequest,
  type RestoreResult,
} from '../../../server/src/protocol';
import { formatRange } from '../model/format';
import { restoreConfirmation } from '../model/restore';
import { targetOf } from '../views/podsTree';
import { toWorkerError } from '../worker';
import { pickPod, podOf, requireTrust, showFailure, sourceOf, withProgress, type Services } from './services';

/**
 * Second argument: `source` preselects the dump (a drop on a pod passes it); for automation (tests,
 * other extensions) `mode` skips the mode pick, `confirm: false` the dry run and its confirmation,
 * `force: true` restores a dump with error diagnostics.
 */
interface RestoreCommandOptions {
  source?: string;
  mode?: RestoreMode;
  confirm?: boolean;
  force?: boolean;
}

export async function restore(s: Services, arg?: unknown, opts?: unknown): Promise<RestoreResult | undefined> {
  if (!requireTrust('Restore Dump to Pod')) return undefined;
  const options = (opts ?? {}) as RestoreCommandOptions;
  try {
    const given = podOf(arg);
    // A pod node as argument: the dump is asked for (or given in options); else the argument is the dump.
    const source = options.source ?? (await sourceOf(s, given ? undefined : arg, 'Restore Dump to Pod'));
    if (!source) return undefined;
    const pod = given?.pod ?? (await pickPod(s, `Restore ${path.basename(source)} to`));
    if (!pod) return undefined;
    const mode = options.mode ?? (await pickRestoreMode(pod));
    if (!mode) return undefined;
    const request: RestoreRequest = { source, target: targetOf(s.config, pod, given?.container), mode, force: options.force === true };
    if (options.confirm !== false) {
      const confirmed = await confirmRestore(s, request, pod);
      if (!confirmed) return undefined;
      // What the modal named: its backup path, and force when the user pressed "Restore Anyway".
      request.backup = confirmed.backup;
      request.force ||= confirmed.needsForce;
    }
    const result = await withProgress(`Restoring to ${pod.name}`, (progress, token) =>
      s.worker.request(Requests.restore, request, { progress, token }),
    );
    const served = result.verifiedRange ? `; Prometheus serves ${formatRange(result.verifiedRange.from, result.verifiedRange.to)}` : '';
    const backup = `Backup: ${result.backup}`;
    void vscode.window.showInformationMessage(`Restored ${result.restoredBlocks.length} block(s) to ${pod.name}${served}. ${backup}`);
    s.pods.restored(pod, result);
    return result;
  } catch (e) {
    const err = toWorkerError(e);
    // Only without the confirmation (automation): the dry run lets a user restore such a dump anyway.
    if (err.code === 'dump-has-errors') void vscode.window.showErrorMessage(`Restore refused: ${err.message}.`);
    else showFailure(s, 'Restore', e);
    return undefined;
  }
}

/**
 * Dry-runs the restore in the worker (nothing changes in the pod) and shows what it would do in
 * one modal; the preview when the user goes on, undefined when not.
 */
async function confirmRestore(s: Services, request: RestoreRequest, pod: PodInfo): Promise<RestorePreview | undefined> {
  const check = await withProgress(`Checking ${pod.name}…`, (progress, token) =>
    s.worker.request(Requests.restore, { ...request, dryRun: true }, { progress, token }),
  );
  if (!check.preview) throw new Error('the worker answered the dry run without a preview');
  const { message, detail, button } = restoreConfirmation(check.preview, request.source);
  const answer = await vscode.window.showWarningMessage(message, { modal: true, detail }, button);
  return answer === button ? check.preview : undefined;
}

async function pickRestoreMode(pod: PodInfo): Promise<RestoreMode | undefined> {
  return (
    await vscode.window.showQuickPick(
      [
        {
          label: 'replace',
          description: 'the pod’s data dir becomes the dump (the old one is backed up)',
          mode: 'replace' as RestoreMode,
        },
        { label: 'merge', description: 'add the dump’s blocks to the pod’s data', mode: 'merge' as RestoreMode },
      ],
      { title: `Restore into ${pod.name}`, placeHolder: 'How to restore' },
    )
  )?.mode;
}
