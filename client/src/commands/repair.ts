/** Repair Dump: the worker's dry run, a save dialog, one confirmation, then the repair into a new file. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Requests, type RepairResult } from '../../../server/src/protocol';
import { DUMP_SAVE_FILTERS, showFailure, sourceOf, withProgress, type Services } from './services';

/** Second argument for automation (tests, other extensions): skip the save dialog and/or the confirmation. */
interface RepairCommandOptions {
  output?: string;
  confirm?: boolean;
}

export async function repair(s: Services, arg?: unknown, opts?: unknown): Promise<RepairResult | undefined> {
  const options = (opts ?? {}) as RepairCommandOptions;
  const source = await sourceOf(s, arg, 'Repair Dump');
  if (!source) return undefined;
  try {
    const plan = await withProgress(`Planning the repair of ${path.basename(source)}`, (progress, token) =>
      s.worker.request(Requests.repair, { source, dryRun: true }, { progress, token }),
    );
    if (plan.nothingToRepair || plan.actions.length === 0) {
      const unfixable = plan.unfixable.length ? ` (${plan.unfixable.length} problem(s) cannot be repaired)` : '';
      void vscode.window.showInformationMessage(`${path.basename(source)}: nothing to repair${unfixable}.`);
      return plan;
    }
    const base = path.basename(source).replace(/\.(tar\.gz|tgz|tar)$/, '');
    const out = options.output
      ? vscode.Uri.file(options.output)
      : await vscode.window.showSaveDialog({
          title: 'Write the repaired dump to',
          defaultUri: vscode.Uri.file(path.join(path.dirname(source), `${base}-repaired.tar.gz`)),
          filters: DUMP_SAVE_FILTERS,
        });
    if (!out) return undefined;
    const samples = plan.actions.reduce((n, a) => n + a.loss.samples, 0);
    const detail = plan.actions.map((a) => `• ${a.kind} ${a.path}${a.to ? ` → ${a.to}` : ''}: ${a.reason}`).join('\n');
    const ok =
      options.confirm === false
        ? 'Repair'
        : await vscode.window.showWarningMessage(
            `Repair ${path.basename(source)} into ${path.basename(out.fsPath)}: ` +
              `${plan.actions.length} change(s), ${samples} sample(s) lost. The original is not modified.`,
            { modal: true, detail },
            'Repair',
          );
    if (ok !== 'Repair') return undefined;
    const result = await withProgress(`Repairing ${path.basename(source)}`, (progress, token) =>
      s.worker.request(Requests.repair, { source, output: out.fsPath, dryRun: false }, { progress, token }),
    );
    const remaining = result.after?.diagnostics.filter((d) => d.severity === 'error').length ?? 0;
    // The repaired dump joins the Dump Files tree at once, analysed like any other.
    await s.dumps.open(out.fsPath);
    void s.dumps.enqueue(out.fsPath);
    void vscode.window.showInformationMessage(`Wrote ${path.basename(out.fsPath)}${remaining ? ` (${remaining} error(s) remain)` : ''}.`);
    return result;
  } catch (e) {
    showFailure(s, 'Repair', e);
    return undefined;
  }
}
