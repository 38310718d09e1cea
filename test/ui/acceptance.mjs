// Acceptance test of the PACKAGED extension (.vsix installed into a private code-server) in the
// real VS Code workbench, driven through Chromium like a user: tree, Problems panel, report,
// palette, timeline webview. A screenshot per step goes to the results folder. Every wait polls
// for a state (playwright's auto-waiting); nothing sleeps a fixed time.
import path from 'node:path';
import { launchBrowser, log, runCommand, startCommand } from './lib.mjs';

const ULID = '[0-7][0-9A-HJKMNP-TV-Z]{25}';

/** Returns [{ name, ok, ms, error? }]. */
export async function runAcceptance({ url, workspace, outDir }) {
  const results = [];
  const { page, close } = await launchBrowser();
  page.on('pageerror', (e) => log(`pageerror: ${e.message}`));
  const shot = (name) => page.screenshot({ path: path.join(outDir, `${name}.png`) });
  async function step(name, fn) {
    const s = Date.now();
    try {
      await fn();
      results.push({ name, ok: true, ms: Date.now() - s });
      log(`PASS ${name} (${Date.now() - s} ms)`);
    } catch (e) {
      const error = String(e?.message ?? e).split('\n')[0];
      results.push({ name, ok: false, ms: Date.now() - s, error });
      log(`FAIL ${name}: ${error}`);
      await shot(`fail-${name.replace(/\W+/g, '_')}`).catch(() => {});
    }
  }
  const view = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Dump Files' }) });
  const treeItem = (name) => view.getByRole('treeitem', { name });
  /** Runs a palette command that asks for a dump with a quick pick, and picks `label`. */
  async function commandWithPick(title, label) {
    const { widget, input } = await startCommand(page, title);
    const row = widget.locator('.monaco-list-row', { hasText: label }).first();
    await row.waitFor({ state: 'visible', timeout: 30_000 });
    await input.fill(label);
    await row.waitFor({ state: 'visible' });
    await input.press('Enter');
    await widget.waitFor({ state: 'hidden' });
  }

  try {
    await step('workbench loads with the Prometheus TSDB view container', async () => {
      await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`);
      await page.locator('.monaco-workbench .part.statusbar').waitFor({ timeout: 90_000 });
      await page.locator('.activitybar a[aria-label^="Prometheus TSDB"]').waitFor({ timeout: 60_000 });
    });

    await step('Dump Files tree shows the dumps and the blocks of healthy.tar.gz', async () => {
      await page.locator('.activitybar a[aria-label^="Prometheus TSDB"]').click();
      for (const name of [/^healthy\.tar\.gz/, /^overlap\.tar\.gz/, /^head-gap\.tar\.gz/, /^overlap\b.*extracted/]) {
        await treeItem(name).first().waitFor({ timeout: 60_000 });
      }
      if (await treeItem(/^notes\.tar\.gz/).count()) throw new Error('notes.tar.gz (not a dump) is listed');
      await treeItem(/^healthy\.tar\.gz.*4 blocks · no problems/).waitFor({ timeout: 60_000 });
      await treeItem(/^healthy\.tar\.gz/).click();
      const blocks = treeItem(new RegExp(`^block ${ULID}`));
      await blocks.nth(3).waitFor({ timeout: 30_000 });
      const names = await blocks.evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')));
      if (names.length !== 4) throw new Error(`expected 4 blocks, got ${names.length}: ${names.join(' | ')}`);
      if (!/L3$/.test(names[0]) || !/2025-01-03 00:00:00/.test(names[0])) throw new Error(`first block: ${names[0]}`);
      await treeItem(/^Head.*4 chunk files/).waitFor();
      await treeItem(/^WAL.*5 segments \+ checkpoint/).waitFor();
      await shot('01-dump-files-tree');
    });

    await step('Problems panel shows head-gap and overlap diagnostics, none for healthy', async () => {
      await runCommand(page, 'View: Focus Problems');
      const problems = page.locator('.markers-panel');
      await problems.getByText(/found unsequential head chunk files/).first().waitFor({ timeout: 60_000 });
      await problems.getByText(/head-chunks-out-of-sequence/).first().waitFor();
      await problems.getByText(/Overlapping blocks|overlap/i).first().waitFor({ timeout: 60_000 });
      await problems.getByText('head-gap.tar.gz.tsdb-report').first().waitFor();
      if (await problems.getByText('healthy.tar.gz.tsdb-report').count()) throw new Error('healthy.tar.gz has problems listed');
      await shot('02-problems-panel');
    });

    await step('clicking the head-gap problem opens the report document at the chunk file line', async () => {
      const row = page.locator('.markers-panel .monaco-list-row', { hasText: /head-chunks-out-of-sequence/ }).first();
      const line = /\[Ln (\d+), Col 1\]/.exec(await row.innerText())?.[1];
      if (!line) throw new Error(`no line in the problem row: ${await row.innerText()}`);
      await row.dblclick();
      await page.locator('.tabs-container .tab.active', { hasText: 'head-gap.tar.gz.tsdb-report' }).waitFor({ timeout: 30_000 });
      await page.locator('.monaco-editor .view-line', { hasText: /^head\s+chunks_head\/00000[35]/ }).first().waitFor();
      // The cursor is on the problem's line, which is the chunk file's entry in the report.
      await page.locator('.statusbar-item', { hasText: new RegExp(`^Ln ${line}, Col`) }).first().waitFor({ timeout: 10_000 });
      const lineText = await page.locator('.monaco-editor .view-line', { hasText: /^head\s+chunks_head\/000005/ }).first().innerText();
      if (!/000005/.test(lineText)) throw new Error(`unexpected line: ${lineText}`);
      await shot('03-report-document');
    });

    await step('palette: tsdbdump: Analyze Dump asks for a dump and reports the result', async () => {
      await commandWithPick('tsdbdump: Analyze Dump', 'overlap.tar.gz');
      await page.locator('.notifications-toasts').getByText(/overlap\.tar\.gz: 5 blocks, 0 error\(s\), 1 warning\(s\)/).waitFor({ timeout: 60_000 });
      await shot('04-palette-analyze');
    });

    const timeline = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
    await step('timeline of overlap.tar.gz highlights the overlap', async () => {
      await commandWithPick('tsdbdump: Show Timeline', 'overlap.tar.gz');
      await timeline.locator('body[data-ready="true"]').waitFor({ timeout: 30_000 });
      const overlapping = timeline.locator('.block.overlap[data-overlap="true"]');
      await overlapping.nth(1).waitFor();
      if ((await overlapping.count()) !== 2) throw new Error(`expected 2 overlapping blocks, got ${await overlapping.count()}`);
      await timeline.locator('.overlap-band[data-kind="overlap"]').first().waitFor();
      const csp = await timeline.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
      // Scripts only with our nonce; nothing inline or eval'd; other sources only VS Code's own (cspSource).
      if (!/(^|; )script-src 'nonce-[^']+'(;|$)/.test(csp) || /unsafe-inline|unsafe-eval|default-src (?!'none')/.test(csp)) throw new Error(`weak CSP: ${csp}`);
      if ((await timeline.locator('.block[data-ulid]').count()) !== 5) throw new Error('expected 5 blocks on the timeline');
      await shot('05-timeline-overlap');
    });

    await step('Enter on a timeline block reveals it in the Dump Files tree', async () => {
      const block = timeline.locator('.block.overlap').first();
      const ulid = await block.getAttribute('data-ulid');
      await block.focus();
      await block.press('Enter');
      await view.locator(`.monaco-list-row[aria-selected="true"][aria-label*="${ulid}"]`).waitFor({ timeout: 30_000 });
      await shot('06-reveal-block');
    });
  } finally {
    await close();
  }
  return results;
}
