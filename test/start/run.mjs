// The `start` test phase: the README's `npm start`, as a new user runs it, on a clean clone of this
// repository (no node_modules, no dist) with an empty tool cache, until the workbench answers HTTP
// 200 on the URL it prints; then a look at it in Chromium (the sample dumps, and the Pods view's
// welcome without any kubeconfig), then Ctrl-C, which must leave no process behind.
// Writes {"passed","failed","skipped"} to $TSDBDUMP_COUNTS; screenshots in test-results/start/.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cleanEnv, launchBrowser, repoRoot, stepRecorder, waitFor } from '../ui/lib.mjs';

const outDir = path.join(repoRoot, 'test-results/start');
fs.rmSync(outDir, { recursive: true, force: true });
fs.mkdirSync(outDir, { recursive: true });
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-start-'));
const clone = path.join(work, 'tsdbdump');
const cache = path.join(work, 'empty-cache');
const { results, step } = stepRecorder();
let child;
let output = '';

const groupAlive = (pid) => { try { process.kill(-pid, 0); return true; } catch { return false; } };
/** A stack trace line of Node (`    at fn (file:1:2)`), which users must never see. */
const stackTrace = /^\s+at .+:\d+:\d+\)?$/m;

let url;
try {
  await step('clean clone: no node_modules, no dist, empty tool cache', async () => {
    execFileSync('git', ['clone', '-q', repoRoot, clone]);
    fs.mkdirSync(cache);
    for (const d of ['node_modules', 'dist', 'out']) if (fs.existsSync(path.join(clone, d))) throw new Error(`${d} in a clean clone`);
  });

  await step('npm start installs what it needs, prints the sample analysis and the workbench URL', async () => {
    // As a user's shell would run it: no npm_* variables, no kubeconfig anywhere.
    const env = { ...cleanEnv(), TSDBDUMP_CACHE: cache, KUBECONFIG: path.join(work, 'no-kubeconfig'), PORT: '0', CI: '' };
    child = spawn('npm', ['start'], { cwd: clone, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const logFile = fs.createWriteStream(path.join(outDir, 'npm-start.log'));
    for (const s of [child.stdout, child.stderr]) s.on('data', (b) => { output += b; logFile.write(b); });
    let exited = null;
    child.on('exit', (code) => (exited = code));
    url = await waitFor(() => {
      if (exited !== null) throw new Error(`npm start exited with ${exited}: ${output.trim().split('\n').slice(-3).join(' | ')}`);
      return /(http:\/\/127\.0\.0\.1:\d+\/\?folder=\S+)/.exec(output)?.[1];
    }, { timeoutMs: 20 * 60_000, intervalMs: 500, what: 'npm start to print the workbench URL' });
    if (!/head-gap\.tar\.gz/.test(output) || !/head-chunks-out-of-sequence/.test(output)) throw new Error('the sample analysis was not printed');
  });

  await step('the workbench answers HTTP 200 on the printed URL', async () => {
    if (!url) throw new Error('no URL');
    const res = await fetch(url);
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    if (!/<html/i.test(await res.text())) throw new Error('not an HTML page');
  });

  await step('the workbench shows the sample dumps and, without a kubeconfig, the Pods view welcome', async () => {
    if (!url) throw new Error('no URL');
    const { page, close } = await launchBrowser();
    try {
      await page.goto(url);
      await page.locator('.activitybar a[aria-label^="Prometheus TSDB"]').click({ timeout: 120_000 });
      await page.getByRole('treeitem', { name: /head-gap\.tar\.gz/ }).first().waitFor({ timeout: 120_000 });
      await page.getByText('No kubeconfig found', { exact: false }).waitFor({ timeout: 60_000 });
      await page.getByRole('button', { name: 'Open the kubeconfig setting' }).waitFor({ timeout: 10_000 });
      await page.screenshot({ path: path.join(outDir, 'start-workbench.png') });
    } catch (e) {
      await page.screenshot({ path: path.join(outDir, 'fail-start-workbench.png') }).catch(() => {});
      throw e;
    } finally {
      await close();
    }
  });

  await step('Ctrl-C stops npm start and everything it started; no stack trace on the way', async () => {
    if (!child) throw new Error('not started');
    process.kill(-child.pid, 'SIGINT');
    await waitFor(() => !groupAlive(child.pid), { timeoutMs: 30_000, what: 'the npm start process group to end' });
    if (stackTrace.test(output)) throw new Error(`a stack trace was printed: ${stackTrace.exec(output)[0].trim()}`);
  });
} finally {
  if (child && groupAlive(child.pid)) try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
  fs.writeFileSync(path.join(outDir, 'results.json'), JSON.stringify(results, null, 2));
  fs.rmSync(work, { recursive: true, force: true });
}
const failed = results.filter((r) => !r.ok).length;
if (process.env.TSDBDUMP_COUNTS) fs.writeFileSync(process.env.TSDBDUMP_COUNTS, JSON.stringify({ passed: results.length - failed, failed, skipped: 0 }));
console.log(`start: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
