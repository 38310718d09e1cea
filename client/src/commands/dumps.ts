/** Commands on dumps and data dirs: refresh, open, analyse, report, reveal a block. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { analyzeWithProgress, showFailure, sourceOf, type Services } from './services';

export async function refresh(s: Services): Promise<void> {
  s.pods.refresh();
  await s.dumps.refresh();
}

export async function openDump(s: Services, arg?: unknown): Promise<string | undefined> {
  let source = arg instanceof vscode.Uri ? arg.fsPath : typeof arg === 'string' ? arg : undefined;
  if (!source) {
    const uris = await vscode.window.showOpenDialog({ title: 'Open a Prometheus TSDB dump', canSelectFiles: true, canSelectFolders: true });
    source = uris?.[0]?.fsPath;
  }
  if (!source) return undefined;
  try {
    await s.dumps.open(source);
    void s.dumps.enqueue(source);
    return source;
  } catch (e) {
    void vscode.window.showErrorMessage(e instanceof Error ? e.message : String(e));
    return undefined;
  }
}

export async function analyze(s: Services, arg?: unknown): Promise<unknown> {
  const source = await sourceOf(s, arg, 'Analyze Dump');
  if (!source) return undefined;
  try {
    const result = await analyzeWithProgress(s, source, s.config.settings.verify);
    const errors = result.diagnostics.filter((d) => d.severity === 'error').length;
    const warnings = result.diagnostics.filter((d) => d.severity === 'warning').length;
    const msg = `${path.basename(source)}: ${result.blocks.length} blocks, ${errors} error(s), ${warnings} warning(s).`;
    void (errors ? vscode.window.showWarningMessage(msg, 'Show Report') : vscode.window.showInformationMessage(msg, 'Show Report')).then(
      (a) => a && s.reports.show(source),
    );
    return result;
  } catch (e) {
    showFailure(s, `Analysis of ${path.basename(source)}`, e);
    return undefined;
  }
}

export async function showReport(s: Services, arg?: unknown, dumpPath?: unknown): Promise<unknown> {
  const source = await sourceOf(s, arg, 'Show Report');
  if (!source) return undefined;
  const at = typeof dumpPath === 'string' ? dumpPath : (arg as { model?: { path?: string } })?.model?.path;
  try {
    return await s.reports.show(source, at);
  } catch (e) {
    showFailure(s, 'Opening the report', e);
    return undefined;
  }
}

export function revealBlock(s: Services, source: unknown, ulid: unknown): Promise<boolean> | boolean {
  return typeof source === 'string' && typeof ulid === 'string' ? s.dumps.reveal(source, ulid) : false;
}
