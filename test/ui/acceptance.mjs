// Acceptance test of the PACKAGED extension (.vsix installed into a private code-server) in the
// real VS Code workbench, driven through Chromium like a user: tree, Problems panel, report,
// palette, timeline webview, and against the loopback test cluster the Pods view, Dump from Pod
// (its real dialogs) and Restore by dragging a dump onto a pod. A screenshot per step goes to the
// results folder. Every wait polls for a state (playwright's auto-waiting); nothing sleeps a fixed time.
import fs from 'node:fs';
import path from 'node:path';
import { runCommand, startCommand, startSteps, waitFor } from './lib.mjs';

const ULID = '[0-7][0-9A-HJKMNP-TV-Z]{25}';

/** A regexp matching exactly `text`. */
const exactly = (text) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

/** The block directories (ULID names) of a TSDB data dir on disk. */
const blockDirs = (dataDir) => fs.readdirSync(dataDir).filter((n) => new RegExp(`^${ULID}$`).test(n) && fs.existsSync(path.join(dataDir, n, 'meta.json'))).sort();

/**
 * Returns [{ name, ok, ms, error? }]. `cluster` is the loopback test cluster (test/cluster) the
 * workbench's `tsdbdump.kubeconfig` points at.
 */
export async function runAcceptance({ url, workspace, outDir, cluster }) {
  const { page, close, results, shot, step } = await startSteps(outDir);
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

  const podsView = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Pods' }) });
  /** A row of a tree or quick pick whose label is `label` (a string: exactly). */
  const rowOf = (container, label) =>
    container.locator('.monaco-list-row').filter({ has: page.locator('.label-name', { hasText: typeof label === 'string' ? exactly(label) : label }) });
  const podRow = (label) => rowOf(podsView, label);
  const descriptionOf = async (row) => ((await row.locator('.label-description').first().textContent()) ?? '').trim();
  /** The rows a tree shows, for failure messages. */
  const rowsOf = async (pane) => (await pane.locator('.monaco-list-row').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')))).join(' | ');
  /** Expands (or collapses) a tree row by clicking it, and waits until it is. */
  async function setExpanded(row, expanded) {
    await row.waitFor({ timeout: 60_000 });
    if (((await row.getAttribute('aria-expanded')) === 'true') !== expanded) await row.click();
    await waitFor(async () => ((await row.getAttribute('aria-expanded')) === 'true') === expanded, { what: `a tree row to ${expanded ? 'expand' : 'collapse'}` });
  }
  /** Collapses every expanded top-level row of a tree (its rows are virtual: only what fits is in the page). */
  async function collapseTopLevel(pane) {
    const expanded = pane.locator('.monaco-list-row[aria-level="1"][aria-expanded="true"]');
    for (let n = await expanded.count(); n > 0; n--) {
      await expanded.first().click();
      await waitFor(async () => (await expanded.count()) < n, { what: 'a tree row to collapse' });
    }
  }
  /** Picks the row labelled `label` in the open quick pick. */
  async function pickRow(label) {
    const row = rowOf(page.locator('.quick-input-widget'), label).first();
    await row.waitFor({ state: 'visible', timeout: 60_000 });
    await row.click();
  }
  /** Passes the modal dialog's message (then its detail, if any) to `check`, then presses `button`. */
  async function answerModal(button, check) {
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 60_000 });
    const message = (await dialog.locator('.dialog-message-container').innerText()).trim();
    await check?.(message);
    await dialog.getByRole('button', { name: button, exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    return message;
  }
  const toasts = page.locator('.notifications-toasts');

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

    await step('Pods view: contexts; prod prometheus-0 shows containers and TSDB summary; prod-restricted an error item', async () => {
      const header = podsView.locator('.pane-header');
      if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
      for (const c of ['prod', 'prod-restricted', 'dev']) await podRow(c).waitFor({ timeout: 60_000 });
      await setExpanded(podRow('prod'), true);
      await podRow('monitoring').waitFor({ timeout: 60_000 });
      await setExpanded(podRow('prometheus-0'), true);
      for (const c of ['prometheus', 'config-reloader']) await podRow(c).waitFor({ timeout: 60_000 });
      await podRow('Blocks').waitFor({ timeout: 60_000 });
      const summary = {};
      for (const label of ['Blocks', 'Range', 'Prometheus']) summary[label] = await descriptionOf(podRow(label));
      if (summary.Blocks !== '4' || !/2025-01-0\d/.test(summary.Range) || !/^2\.42\./.test(summary.Prometheus)) {
        throw new Error(`unexpected TSDB summary ${JSON.stringify(summary)}; rows: ${await rowsOf(podsView)}`);
      }
      await shot('07-pods-view-prod');
      // The viewer user may list pods but not exec into them: the summary must end in an error item.
      await setExpanded(podRow('prod'), false);
      await setExpanded(podRow('prod-restricted'), true);
      await setExpanded(podRow('prometheus-0'), true);
      const error = podRow(/^kube-/);
      await error.waitFor({ timeout: 60_000 }).catch(async () => {
        throw new Error(`no error item under prod-restricted's pod; rows: ${await rowsOf(podsView)}`);
      });
      const text = `${await error.locator('.label-name').innerText()}: ${await descriptionOf(error)}`;
      if (!/forbidden/i.test(text) || !/exec/i.test(text)) throw new Error(`error item does not say exec is forbidden: ${text}`);
      if (await podRow('Blocks').count()) throw new Error('prod-restricted shows a TSDB summary');
      if (await podsView.locator('.codicon-tree-item-loading').count()) throw new Error('a Pods tree item is still loading');
      await shot('08-pods-view-restricted');
      await setExpanded(podRow('prod-restricted'), false);
    });

    const dumpFile = path.join(workspace, 'prod-prometheus-0.tar.gz');
    await step('palette: Dump from Pod… with the real dialogs writes the dump and lists it', async () => {
      await startCommand(page, 'tsdbdump: Dump from Pod…');
      await pickRow('prod');
      await pickRow('prometheus-0');
      await pickRow('Everything');
      await answerModal('Dump', async (message) => {
        await shot('09-dump-preview');
        if (!/^Dump 4 of 4 block\(s\) plus the head of monitoring\/prometheus-0/.test(message)) throw new Error(`dump preview: ${message}`);
        // prod's Prometheus runs with the admin API: the consistent snapshot is offered beside the live copy
        await page.locator('.monaco-dialog-box').getByRole('button', { name: 'Dump Snapshot', exact: true }).waitFor({ timeout: 5000 });
      });
      // code-server's save dialog is VS Code's simple file dialog: a quick input holding a path.
      const input = page.locator('.quick-input-widget input[type="text"]');
      await waitFor(async () => /\/prometheus-0\.tar\.gz$/.test(await input.inputValue().catch(() => '')), { timeoutMs: 60_000, what: 'the save dialog' });
      // The full name, as a user types it: the dialog must not append ".tar.gz" a second time.
      await input.fill(dumpFile);
      await shot('10-dump-save-dialog');
      await input.press('Enter');
      await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
      await toasts.getByText(/Dumped 4 block\(s\), .* to prod-prometheus-0\.tar\.gz\.$/).waitFor({ timeout: 120_000 });
      for (const f of [dumpFile, `${dumpFile}.manifest.json`]) if (!fs.existsSync(f)) throw new Error(`${f} was not written`);
      const partial = fs.readdirSync(workspace).filter((n) => n.endsWith('.partial'));
      if (partial.length) throw new Error(`partial files left: ${partial.join(', ')}`);
      await collapseTopLevel(view);
      await treeItem(/^prod-prometheus-0\.tar\.gz.*4 blocks · no problems/).waitFor({ timeout: 60_000 }).catch(async () => {
        throw new Error(`the dump is not in the Dump Files tree as 4 blocks · no problems; rows: ${await rowsOf(view)}`);
      });
      await shot('11-dump-done');
    });

    await step('dragging the dump onto dev prometheus-0 in the Pods view restores it (merge)', async () => {
      if (!fs.existsSync(dumpFile)) throw new Error(`needs ${path.basename(dumpFile)} from the Dump from Pod step`);
      const devData = cluster.pod('dev/observability/prometheus-0').dataDir;
      const dumped = blockDirs(cluster.pod('prod/monitoring/prometheus-0').dataDir);
      if (dumped.length !== 4) throw new Error(`prod has ${dumped.length} blocks`);
      if (blockDirs(devData).length) throw new Error('dev has blocks before the restore');
      await collapseTopLevel(view);
      await collapseTopLevel(podsView);
      await setExpanded(podRow('dev'), true);
      const target = podRow('prometheus-0');
      await target.waitFor({ timeout: 60_000 });
      await treeItem(/^prod-prometheus-0\.tar\.gz/).dragTo(target);
      await pickRow('merge');
      // After a dry run ("Checking prometheus-0…"), one modal says what the restore will do.
      await answerModal('Restore', async (message) => {
        await shot('12-restore-confirm');
        const expect = (re, what) => {
          if (!re.test(message)) throw new Error(`the restore confirmation does not ${what}:\n${message}`);
        };
        expect(/^Restore prod-prometheus-0\.tar\.gz into observability\/prometheus-0 \(dev\) with mode "merge"\?/, 'name the dump, pod, context and mode');
        expect(/^Data dir: \/prometheus in container prometheus/m, 'name the data dir');
        expect(/^Keeps the pod's blocks and head$/m, 'say that merge replaces nothing');
        expect(/^Adds 4 blocks: /m, 'list the 4 blocks added');
        for (const b of dumped) expect(new RegExp(`^Adds 4 blocks: .*${b}`, 'm'), `list block ${b}`);
        expect(/^Skips chunks_head\/ and wal\//m, 'say that merge leaves the dump\'s head out');
        expect(/^Uploads .* free in the pod\) as /m, 'compare the upload with the free space');
        expect(/^Backs up the current data first to \/.*-backup-.*\.tar\.gz$/m, 'name the backup');
        if (/Restore Anyway|Errors in the dump/.test(message)) throw new Error(`a healthy dump reported errors:\n${message}`);
      });
      await toasts.getByText(/Restored 4 block\(s\) to prometheus-0/).waitFor({ timeout: 180_000 });
      const restored = blockDirs(devData);
      if (dumped.some((b) => !restored.includes(b))) throw new Error(`dev holds ${restored.join(', ')}; expected ${dumped.join(', ')}`);
      await shot('13-restore-done');
    });
  } finally {
    await close();
  }
  return results;
}
