/**
 * The report document: a read-only virtual document per source (`tsdbdump-report:` URIs), whose
 * text is the worker's human report. Diagnostics the worker publishes on the same URI point at its
 * lines, so clicking a Problems entry opens the report where the block or file is described.
 */
import * as vscode from 'vscode';
import { REPORT_SCHEME, Requests, sourceOfReportPath, type ReportResult } from '../../../server/src/protocol';
import type { Worker } from '../worker';
import { reportDocUri, toWorkerError } from '../worker';

export class ReportProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly cache = new Map<string, ReportResult>();
  private readonly sub: vscode.Disposable;

  constructor(private readonly worker: Worker) {
    // A new analysis of an open report's source changes its text.
    this.sub = worker.onDidAnalyze((n) => {
      if (!n.result) return;
      this.cache.delete(n.source);
      const uri = reportDocUri(n.source);
      if (vscode.workspace.textDocuments.some((d) => d.uri.toString() === uri.toString())) this.changed.fire(uri);
    });
  }

  static sourceOf(uri: vscode.Uri): string {
    return sourceOfReportPath(uri.path);
  }

  async report(source: string): Promise<ReportResult> {
    const cached = this.cache.get(source);
    if (cached) return cached;
    const r = await this.worker.request(Requests.report, { source });
    this.cache.set(source, r);
    return r;
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    if (uri.scheme !== REPORT_SCHEME) return '';
    const source = ReportProvider.sourceOf(uri);
    try {
      return (await this.report(source)).text;
    } catch (e) {
      const err = toWorkerError(e);
      return `tsdbdump: no report for ${source}\n${err.code}: ${err.message}\n`;
    }
  }

  /** Opens the report of a source, at the line of a dump path when given. */
  async show(source: string, dumpPath?: string): Promise<vscode.TextEditor> {
    const uri = reportDocUri(source);
    let doc = await vscode.workspace.openTextDocument(uri);
    if (doc.languageId !== 'tsdbdump-report') doc = await vscode.languages.setTextDocumentLanguage(doc, 'tsdbdump-report');
    let line = 0;
    if (dumpPath !== undefined) {
      const { lines } = await this.report(source);
      const parts = dumpPath.split('/');
      for (let n = parts.length; n > 0; n--) {
        const l = lines[parts.slice(0, n).join('/')];
        if (l !== undefined) {
          line = l;
          break;
        }
      }
    }
    const pos = new vscode.Position(Math.min(line, doc.lineCount - 1), 0);
    return vscode.window.showTextDocument(doc, { selection: new vscode.Range(pos, pos), preview: true });
  }

  dispose(): void {
    this.sub.dispose();
    this.changed.dispose();
  }
}
