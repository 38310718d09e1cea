/**
 * The timeline webview: blocks, head and WAL ranges of one analysed dump on a time axis, with
 * overlaps and gaps marked. Scripts and styles come from media/ only (strict CSP with a nonce);
 * clicking a block (or Enter on it) reveals it in the Dump Files tree; clicking a head chunk file or WAL
 * segment mark with a problem opens its diagnostic in the report.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { AnalysisResult } from '../../../server/src/protocol';
import { timelineData, type TimelineData } from '../model/timeline';

export class TimelinePanels implements vscode.Disposable {
  private readonly panels = new Map<string, vscode.WebviewPanel>();
  private readonly mediaRoot: vscode.Uri;

  constructor(
    extensionUri: vscode.Uri,
    private readonly reveal: (source: string, ulid: string) => Promise<boolean>,
    /** Opens the report where the diagnostic about a dump path is (the Problems panel's target). */
    private readonly openDiagnostic: (source: string, dumpPath: string) => Promise<unknown>,
  ) {
    this.mediaRoot = vscode.Uri.joinPath(extensionUri, 'media');
  }

  /** Shows (or updates) the timeline of a source. Returns the data rendered, for tests. */
  show(source: string, result: AnalysisResult): TimelineData {
    const data = timelineData(source, path.basename(source), result);
    let panel = this.panels.get(source);
    if (!panel) {
      panel = vscode.window.createWebviewPanel('tsdbdump.timeline', `Timeline: ${data.title}`, vscode.ViewColumn.Active, {
        enableScripts: true,
        localResourceRoots: [this.mediaRoot],
        retainContextWhenHidden: false,
      });
      this.panels.set(source, panel);
      panel.onDidDispose(() => this.panels.delete(source));
      panel.webview.onDidReceiveMessage(async (msg: { type?: string; ulid?: string; path?: string }) => {
        if (msg.type === 'diagnostic' && typeof msg.path === 'string') await this.openDiagnostic(source, msg.path);
        if (msg.type === 'reveal' && typeof msg.ulid === 'string') {
          const ok = await this.reveal(source, msg.ulid);
          if (!ok) void vscode.window.showWarningMessage(`Block ${msg.ulid} is not in the Dump Files view.`);
        }
      });
    } else {
      panel.reveal();
    }
    panel.webview.html = this.html(panel.webview, data);
    return data;
  }

  private html(webview: vscode.Webview, data: TimelineData): string {
    const nonce = randomBytes(16).toString('base64');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(this.mediaRoot, 'timeline.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(this.mediaRoot, 'timeline.css'));
    // JSON inside <script type="application/json"> is data, not code; `<` is escaped so it cannot close the tag.
    const json = JSON.stringify(data).replace(/</g, '\\u003c');
    const csp = [
      "default-src 'none'",
      `style-src ${webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
      `img-src ${webview.cspSource} data:`,
      `font-src ${webview.cspSource}`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="${style.toString()}">
<title>Timeline</title>
</head>
<body>
<h1 id="title"></h1>
<p id="summary" class="summary"></p>
<div id="timeline" class="timeline" role="group" aria-label="Time line of blocks, head and WAL"></div>
<ul id="legend" class="legend"></ul>
<script id="timeline-data" type="application/json" nonce="${nonce}">${json}</script>
<script nonce="${nonce}" src="${script.toString()}"></script>
</body>
</html>`;
  }

  dispose(): void {
    for (const p of this.panels.values()) p.dispose();
  }
}
