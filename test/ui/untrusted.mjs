// Restricted Mode of the PACKAGED extension in the real workbench: a code-server with workspace
// trust on opens the folder untrusted. The dumps are still listed and analysed; the Pods view and
// the commands that talk to a cluster are not there. Granting trust (Manage Workspace Trust) then
// brings the Pods view in without a reload. The kubeconfig given has no contexts, so nothing here
// ever talks to a cluster. A screenshot per step; every wait polls for a state.
import { log, runCommand, startCommand, startSteps } from './lib.mjs';

const CLUSTER_COMMANDS = ['tsdbdump: Dump from Pod…', 'tsdbdump: Restore Dump to Pod…', 'tsdbdump: Analyze Pod'];
// All the others: when every one of them is among the palette's rows, no row was left unrendered.
const DUMP_COMMANDS = ['tsdbdump: Analyze Dump', 'tsdbdump: Show Timeline', 'tsdbdump: Show Report', 'tsdbdump: Repair Dump…',
  'tsdbdump: Refresh', 'tsdbdump: Open Dump…'];

/** Returns [{ name, ok, ms, error? }]. */
export async function runUntrusted({ url, workspace, outDir }) {
  const { page, close, results, shot, step } = await startSteps(outDir, 'fail-untrusted-');
  // VS Code's status bar entry for an untrusted workspace (gone once trusted).
  const restricted = page.locator('[id="status.workspaceTrust"]', { hasText: 'Restricted Mode' });
  const pane = (title) => page.locator('.pane', { has: page.locator('.pane-header', { hasText: title }) });
  const dumpsView = pane('Dump Files');
  const podsView = pane('Pods');

  try {
    await step('untrusted folder opens in Restricted Mode', async () => {
      await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`);
      await page.locator('.monaco-workbench .part.statusbar').waitFor({ timeout: 90_000 });
      await restricted.waitFor({ timeout: 60_000 });
      // Marks this page: were the workbench reloaded (e.g. on granting trust), the mark would be gone.
      await page.evaluate(() => { window.tsdbdumpSamePage = true; });
    });

    await step('Restricted Mode: Dump Files lists the dumps and analyses them', async () => {
      await page.locator('.activitybar a[aria-label^="Prometheus TSDB"]').waitFor({ timeout: 60_000 });
      await page.locator('.activitybar a[aria-label^="Prometheus TSDB"]').click();
      for (const name of [/^healthy\.tar\.gz/, /^overlap\.tar\.gz/, /^head-gap\.tar\.gz/]) {
        await dumpsView.getByRole('treeitem', { name }).first().waitFor({ timeout: 60_000 });
      }
      await dumpsView.getByRole('treeitem', { name: /^healthy\.tar\.gz.*4 blocks · no problems/ }).waitFor({ timeout: 60_000 });
      await shot('untrusted-01-dump-files');
    });

    await step('Restricted Mode: no Pods view', async () => {
      await dumpsView.waitFor();
      if (await podsView.count()) throw new Error('the Pods view is shown in an untrusted workspace');
    });

    await step('Restricted Mode: the palette offers Analyze Dump but no cluster command', async () => {
      const offered = await tsdbdumpCommands();
      for (const title of DUMP_COMMANDS) if (!offered.includes(title)) throw new Error(`${title} not offered: ${offered.join(' | ')}`);
      for (const title of CLUSTER_COMMANDS) if (offered.includes(title)) throw new Error(`${title} offered in Restricted Mode: ${offered.join(' | ')}`);
    });

    await step('Restricted Mode: Analyze Dump runs from the palette', async () => {
      const { widget, input } = await startCommand(page, 'tsdbdump: Analyze Dump');
      const row = widget.locator('.monaco-list-row', { hasText: 'healthy.tar.gz' }).first();
      await row.waitFor({ state: 'visible', timeout: 30_000 });
      await input.fill('healthy.tar.gz');
      await row.waitFor({ state: 'visible' });
      await input.press('Enter');
      await widget.waitFor({ state: 'hidden' });
      await page.locator('.notifications-toasts').getByText(/healthy\.tar\.gz: 4 blocks, 0 error\(s\)/).waitFor({ timeout: 60_000 });
      await shot('untrusted-02-analyze');
    });

    await step('granting trust shows the Pods view and the cluster commands without a reload', async () => {
      await runCommand(page, 'Workspaces: Manage Workspace Trust');
      const editor = page.locator('.workspace-trust-editor');
      await editor.waitFor({ timeout: 30_000 });
      await shot('untrusted-03-trust-editor');
      await editor.locator('.workspace-trust-buttons').getByRole('button', { name: 'Trust', exact: true }).click();
      await restricted.waitFor({ state: 'hidden', timeout: 30_000 });
      if (!(await page.evaluate(() => window.tsdbdumpSamePage === true))) throw new Error('the workbench reloaded');
      // The trust editor opens as a modal editor, which blocks the workbench until closed.
      const modal = page.locator('.monaco-modal-editor-block');
      await modal.getByRole('button', { name: /^Close Modal Editor/ }).click();
      await modal.waitFor({ state: 'hidden' });
      await podsView.first().waitFor({ timeout: 30_000 });
      // Our provider answers (the kubeconfig has no contexts), not VS Code's "no data provider".
      await podsView.getByRole('treeitem', { name: /No kubeconfig contexts/ }).waitFor({ timeout: 30_000 });
      const offered = await tsdbdumpCommands();
      for (const title of CLUSTER_COMMANDS) if (!offered.includes(title)) throw new Error(`${title} not offered once trusted: ${offered.join(' | ')}`);
      if (!(await page.evaluate(() => window.tsdbdumpSamePage === true))) throw new Error('the workbench reloaded');
      await shot('untrusted-04-trusted-pods');
    });
  } finally {
    await close();
  }
  return results;

  /** Labels of the palette's rows for "tsdbdump: " (a dozen at most: all rendered), then closes the palette. */
  async function tsdbdumpCommands() {
    const widget = page.locator('.quick-input-widget');
    await page.keyboard.press('F1');
    await widget.waitFor({ state: 'visible' });
    const input = widget.locator('input[type="text"]');
    await input.fill('>tsdbdump: ');
    await widget.locator('.monaco-list-row', { hasText: DUMP_COMMANDS[0] }).first().waitFor({ state: 'visible' });
    const labels = await widget.locator('.monaco-list-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('aria-label') ?? r.textContent));
    await input.press('Escape');
    await widget.waitFor({ state: 'hidden' });
    log(`palette: ${labels.join(' | ')}`);
    return labels.map((l) => l.replace(/, .*$/, '').trim());
  }
}
