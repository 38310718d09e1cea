// Runs the mocha suite (out/test/vscode/suite) INSIDE code-server's Node extension host, with the
// extension loaded from the repo (extensionDevelopmentPath). The web workbench honours the
// `payload` URL parameter when code-server runs with --vscode-option enable-smoke-test-driver, and
// calls window.codeAutomationExit(code) when run() settles; the host's console (mocha's reporter)
// arrives through window.codeAutomationLog.
import path from 'node:path';
import { format } from 'node:util';
import { launchBrowser, log } from './lib.mjs';

/** Returns { passed, failed, exitCode, activationMs?, workerStartMs? }. */
export async function runExtensionHostTests({ url, workspace, extensionPath, testsPath, timeoutMs = 600_000 }) {
  const authority = new URL(url).host;
  const remote = (p) => `vscode-remote://${authority}${path.resolve(p)}`;
  const payload = JSON.stringify([
    ['extensionDevelopmentPath', remote(extensionPath)],
    ['extensionTestsPath', remote(testsPath)],
    ['skipWelcome', 'true'],
  ]);
  const { page, close } = await launchBrowser();
  const counts = { passed: 0, failed: 0 };
  let activationMs;
  let workerStartMs;
  const show = (t) => {
    const pass = /^\s*(\d+) passing/m.exec(t);
    const fail = /^\s*(\d+) failing/m.exec(t);
    if (pass) counts.passed = +pass[1];
    if (fail) counts.failed = +fail[1];
    const act = /TSDBDUMP_ACTIVATION_MS=(\d+)/.exec(t);
    if (act) activationMs = +act[1];
    const ws = /TSDBDUMP_WORKER_START_MS=(\d+)/.exec(t);
    if (ws) workerStartMs = +ws[1];
    if (!/^%c\s*(INFO|DEBUG|TRACE)|Failed to load resource|open-vsx|ENOTFOUND|same-origin iframe|allow-same-origin|\[Extension Host\]|ExtensionService|Ignoring the error/.test(t)) console.log(t);
  };
  try {
    const exitCode = await new Promise((resolve) => {
      const timer = setTimeout(() => {
        console.error('timeout waiting for the extension tests');
        resolve(124);
      }, timeoutMs);
      (async () => {
        await page.exposeFunction('codeAutomationLog', (type, args) => show(format(...(args ?? [type]))));
        await page.exposeFunction('codeAutomationExit', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
        page.on('console', (m) => {
          if (m.type() === 'error') show(m.text());
        });
        log(`opening the workbench with the test payload`);
        await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(payload)}`);
      })().catch((e) => {
        console.error(e);
        resolve(1);
      });
    });
    if (exitCode !== 0 && counts.failed === 0) counts.failed = 1;
    return { ...counts, exitCode, activationMs, workerStartMs };
  } finally {
    await close();
  }
}
