/**
 * Dump from Pod: a range (presets or typed times, parsed by the worker's parser, the CLI's), the
 * worker's dry run of the dump (what planDump decides) in one confirmation, a save dialog, the dump.
 */
import * as vscode from 'vscode';
import { Requests, type DumpParams, type DumpResult, type KubeTarget, type PodInfo } from '../../../server/src/protocol';
import { toWorkerError } from '../worker';
import { DUMP_RANGE_PRESETS, LIVE_DUMP, SNAPSHOT_DUMP, dumpConfirmation, dumpDoneMessage } from '../model/dumpFromPod';
import { targetOf } from '../views/podsTree';
import { DUMP_SAVE_FILTERS, pickPod, podOf, requireTrust, showFailure, withProgress, type Services } from './services';

/**
 * Second argument for automation (tests, other extensions): `confirm: false` skips the range pick
 * (from/to given, or everything) and the confirmation (`snapshot: true` then asks for the admin
 * API snapshot); `output` skips the save dialog.
 */
interface DumpCommandOptions {
  from?: number;
  to?: number;
  output?: string;
  confirm?: boolean;
  snapshot?: boolean;
}

export async function dumpFromPod(s: Services, arg?: unknown, opts?: unknown): Promise<DumpResult | undefined> {
  if (!requireTrust('Dump from Pod')) return undefined;
  const options = (opts ?? {}) as DumpCommandOptions;
  try {
    const given = podOf(arg);
    const pod = given?.pod ?? (await pickPod(s, 'Dump from Pod'));
    if (!pod) return undefined;
    const range = options.confirm === false ? { from: options.from, to: options.to } : await pickDumpRange(s, pod.name);
    if (!range) return undefined;
    const target = targetOf(s.config, pod, given?.container);
    const how = options.confirm === false ? { snapshot: !!options.snapshot } : await confirmDump(s, pod, target, range);
    if (!how) return undefined;
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const out = options.output
      ? vscode.Uri.file(options.output)
      : await vscode.window.showSaveDialog({
          title: 'Save the dump as',
          defaultUri: folder ? vscode.Uri.joinPath(folder, `${pod.name}.tar.gz`) : undefined,
          filters: DUMP_SAVE_FILTERS,
        });
    if (!out) return undefined;
    const request = { target, from: range.from, to: range.to, output: out.fsPath, snapshot: how.snapshot };
    const result = await dumpResuming(s, pod.name, request);
    if (!result) return undefined;
    void vscode.window.showInformationMessage(dumpDoneMessage(result));
    await s.dumps.open(result.output);
    void s.dumps.enqueue(result.output);
    return result;
  } catch (e) {
    showFailure(s, 'Dump from pod', e);
    return undefined;
  }
}

/**
 * Runs the dump; when it is interrupted and the worker says the same request continues it
 * (FailureInfo.resumable: the partial and its progress record are kept), offers "Resume".
 */
async function dumpResuming(s: Services, podName: string, request: DumpParams): Promise<DumpResult | undefined> {
  for (;;) {
    try {
      return await withProgress(`Dumping ${podName}`, (progress, token) => s.worker.request(Requests.dump, request, { progress, token }));
    } catch (e) {
      const err = toWorkerError(e);
      if (!err.resumable) throw e;
      s.log.error(`Dump from pod interrupted: ${err.code}: ${err.message}`);
      const go = await vscode.window.showWarningMessage(`Dump of ${podName} interrupted: ${err.message}`, RESUME);
      if (go !== RESUME) return undefined;
    }
  }
}

const RESUME = 'Resume';

/** The worker's reading of typed times (one `now` for all), or the first one's error. */
async function parseTimes(s: Services, texts: string[]): Promise<{ ms: (number | undefined)[]; error?: string }> {
  const parsed = await s.worker.request(Requests.parseTimes, { texts });
  return { ms: parsed.map((p) => p.ms), error: parsed.find((p) => p.error)?.error };
}

/** Relative presets first, then a custom range typed as RFC 3339 / epoch ms / now-6h (never local time). */
async function pickDumpRange(s: Services, podName: string): Promise<{ from?: number; to?: number } | undefined> {
  const custom = { label: 'Custom range…' };
  const pick = await vscode.window.showQuickPick([...DUMP_RANGE_PRESETS, custom], { title: `Dump ${podName}: time range (UTC)` });
  if (!pick) return undefined;
  let texts: string[];
  if (pick !== custom) {
    const preset = pick as (typeof DUMP_RANGE_PRESETS)[number];
    texts = [preset.from ?? '', preset.to ?? ''];
  } else {
    const ask = (which: string, prompt: string) =>
      vscode.window.showInputBox({
        title: `Dump ${podName}: ${which}`,
        prompt,
        // The worker's parser answers, with the CLI's error text.
        validateInput: async (v) => (await parseTimes(s, [v])).error,
      });
    const fromText = await ask('from', 'Start time: RFC 3339 with zone (2025-01-03T00:00:00Z), epoch ms, or now-6h. Empty: everything.');
    if (fromText === undefined) return undefined;
    const toText = await ask('to', 'End time (same forms). Empty: now.');
    if (toText === undefined) return undefined;
    texts = [fromText, toText];
  }
  const { ms, error } = await parseTimes(s, texts);
  if (error) throw new Error(error);
  return { from: ms[0], to: ms[1] };
}

/**
 * Shows what will be dumped before anything moves, from the worker's dry run of the dump (blocks
 * are included whole). When the pod's Prometheus has the admin API on, a consistent snapshot is
 * offered beside the live copy. Undefined when the user backs out.
 */
async function confirmDump(
  s: Services,
  pod: PodInfo,
  target: KubeTarget,
  range: { from?: number; to?: number },
): Promise<{ snapshot: boolean } | undefined> {
  const plan = await withProgress(`Reading the TSDB of ${pod.name}`, (progress, token) =>
    s.worker.request(Requests.dump, { target, from: range.from, to: range.to, dryRun: true }, { progress, token }),
  );
  if (!plan.preview) throw new Error('the worker answered the dry run without a preview');
  const { message, detail, buttons } = dumpConfirmation(plan.preview);
  const go = await vscode.window.showInformationMessage(message, { modal: true, detail }, ...buttons);
  return go === LIVE_DUMP ? { snapshot: false } : go === SNAPSHOT_DUMP ? { snapshot: true } : undefined;
}
