/** Filter Series…: the series selector of a dump's Series node in the Dump Files tree. */
import * as vscode from 'vscode';
import type { SeriesNode } from '../views/dumpsTree';
import { sourceOf, type Services } from './services';

/**
 * Asks for a selector (`up{job="api"}`, `{__name__=~"go_.+"}`; empty for all) unless automation
 * passes one, sets it on the dump's Series node and reveals the node. Returns the node's children
 * (metrics, or the message of a selector that does not parse).
 */
export async function filterSeries(s: Services, arg?: unknown, filter?: unknown): Promise<SeriesNode[] | undefined> {
  const source = await sourceOf(s, arg, 'Filter Series');
  if (!source) return undefined;
  const d = s.dumps.get(source) ?? (await s.dumps.open(source));
  let text = typeof filter === 'string' ? filter : undefined;
  if (text === undefined) {
    text = await vscode.window.showInputBox({
      title: 'Filter Series',
      prompt: 'A series selector, as in PromQL: up{job="api"}, {__name__=~"go_.+"}, {"my.metric"}; empty shows all series',
      value: d.seriesFilter ?? '',
      placeHolder: '{__name__=~".+"}',
    });
    if (text === undefined) return undefined;
  }
  const children = await s.dumps.setSeriesFilter(source, text);
  const failed = s.dumps.get(source)?.series?.failure;
  if (failed) void vscode.window.showErrorMessage(`Filter Series: ${failed.message}`);
  const root = s.dumps.get(source)?.series?.root;
  if (root && s.dumps.treeView?.visible) {
    await s.dumps.treeView.reveal(root, { select: true, focus: false, expand: true }).then(undefined, () => undefined);
  }
  return children;
}
