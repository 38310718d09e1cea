// The `vscode` test phase: builds and packages the extension, then against private code-servers
//   1. runs the mocha suite inside the extension host (extension loaded from the repo),
//   2. installs the packaged .vsix and drives the workbench in Chromium (acceptance steps),
//   3. the same .vsix with workspace trust on: Restricted Mode, then granting trust.
// Writes {"passed","failed","skipped"} to $TSDBDUMP_COUNTS and screenshots to test-results/ui/.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { log, makeBigDump, makeWorkspace, repoRoot, startCodeServer } from './lib.mjs';
import { runExtensionHostTests } from './ext-tests.mjs';
import { runAcceptance } from './acceptance.mjs';
import { runUntrusted } from './untrusted.mjs';

const only = process.env.TSDBDUMP_UI_ONLY; // 'ext', 'ui' or 'untrusted' while iterating
if (only && !['ext', 'ui', 'untrusted'].includes(only)) {
  console.error(`TSDBDUMP_UI_ONLY must be ext, ui or untrusted, not ${only}`);
  process.exit(2);
}
const outDir = path.join(repoRoot, 'test-results/ui');
fs.rmSync(outDir, { recursive: true, force: true });
fs.mkdirSync(outDir, { recursive: true });
const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-ui-'));
const counts = { passed: 0, failed: 0, skipped: 0 };
const summary = {};
const servers = [];
const clusters = [];
process.on('SIGINT', async () => {
  for (const s of servers) await s.stop();
  for (const c of clusters) await c.stop();
  process.exit(130);
});

/**
 * Counts the step results of one workbench run and keeps its evidence in test-results/ui/:
 * <name>.json, code-server-<tag>.log and VS Code's logs (logs-<tag>/) of server-<tag>.
 */
function recordSteps(name, tag, results, server) {
  fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(results, null, 2));
  const failed = results.filter((r) => !r.ok).length;
  counts.passed += results.length - failed;
  counts.failed += failed;
  summary[name] = { passed: results.length - failed, failed };
  fs.copyFileSync(server.logFile, path.join(outDir, `code-server-${tag}.log`));
  fs.cpSync(path.join(runDir, `server-${tag}/user/logs`), path.join(outDir, `logs-${tag}`), { recursive: true });
}

/**
 * A loopback test cluster (test/cluster, compiled to out/) for one code-server: its kubeconfig goes
 * to the workbench as the `tsdbdump.kubeconfig` setting and, with the pods' state dir, to the
 * extension host as TSDBDUMP_TEST_KUBECONFIG / TSDBDUMP_TEST_CLUSTER_STATE. Needs root (chroot).
 */
async function startCluster(name) {
  if (process.getuid?.() !== 0) throw new Error('the vscode phase runs the Pods tests against the loopback test cluster, which needs root (chroot)');
  const { startTestCluster } = createRequire(import.meta.url)(path.join(repoRoot, 'out/test/cluster/testCluster.js'));
  const stateDir = path.join(runDir, `cluster-${name}`);
  const cluster = await startTestCluster({ stateDir });
  clusters.push(cluster);
  log(`test cluster ${name}: ${cluster.kubeconfigPath}`);
  return {
    cluster,
    settings: { 'tsdbdump.kubeconfig': cluster.kubeconfigPath },
    env: { TSDBDUMP_TEST_KUBECONFIG: cluster.kubeconfigPath, TSDBDUMP_TEST_CLUSTER_STATE: stateDir },
  };
}

try {
  log('npm run package (minified bundles + vsce, staged in out/package)');
  execFileSync(process.execPath, [path.join(repoRoot, 'scripts/package.mjs')], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  const vsix = path.join(repoRoot, 'dist/tsdbdump.vsix');
  summary.vsixBytes = fs.statSync(vsix).size;
  // The bundles inside the .vsix (minified; staged by scripts/package.mjs).
  summary.clientBytes = fs.statSync(path.join(repoRoot, 'out/package/dist/client.js')).size;
  summary.serverBytes = fs.statSync(path.join(repoRoot, 'out/package/dist/server.js')).size;
  try {
    summary.vsixFiles = execFileSync('unzip', ['-Z1', vsix], { encoding: 'utf8' }).split('\n').filter((l) => l && !l.endsWith('/')).length;
  } catch {
    // no unzip on this machine: the count is informational only
  }
  log('compiling the extension-host suite (tsc)');
  try {
    execFileSync(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', repoRoot], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    // Type errors elsewhere in the repo do not stop tsc from emitting; ours would show as test failures.
    const text = String(e.stdout ?? '');
    const ours = text.split('\n').filter((l) => /^(client|test\/vscode|server\/src\/lsp)\//.test(l));
    if (ours.length) console.log(ours.join('\n'));
  }
  const testsPath = path.join(repoRoot, 'out/test/vscode/suite');
  if (!fs.existsSync(path.join(testsPath, 'index.js'))) throw new Error('out/test/vscode/suite/index.js was not built');

  if (!only || only === 'ext') {
    const workspace = makeWorkspace(path.join(runDir, 'ws-ext'));
    const resultsFile = path.join(runDir, 'ext-results.json');
    const bigDump = await makeBigDump(path.join(runDir, 'big.tar'));
    const kube = await startCluster('ext');
    const server = await startCodeServer(path.join(runDir, 'server-ext'), {
      smokeTest: true,
      env: { TSDBDUMP_EXT_RESULTS: resultsFile, TSDBDUMP_TEST_BIG_DUMP: bigDump, ...kube.env },
    });
    servers.push(server);
    log(`extension-host tests on ${server.url}`);
    const r = await runExtensionHostTests({ url: server.url, workspace, extensionPath: repoRoot, testsPath });
    await server.stop();
    await kube.cluster.stop();
    let fromFile;
    try { fromFile = JSON.parse(fs.readFileSync(resultsFile, 'utf8')); } catch { /* fall back to the log counts */ }
    const passed = fromFile?.passed ?? r.passed;
    const failed = Math.max(fromFile?.failed ?? r.failed, r.exitCode !== 0 && !(fromFile?.failed ?? r.failed) ? 1 : 0);
    counts.passed += passed;
    counts.failed += failed;
    summary.extensionHost = { passed, failed, exitCode: r.exitCode };
    if (r.activationMs !== undefined) summary.activationMs = r.activationMs;
    if (r.workerStartMs !== undefined) summary.workerStartMs = r.workerStartMs;
    fs.copyFileSync(server.logFile, path.join(outDir, 'code-server-ext.log'));
    // VS Code's own logs (extension host, file watcher, our output channel) for failures.
    fs.cpSync(path.join(runDir, 'server-ext/user/logs'), path.join(outDir, 'logs-ext'), { recursive: true });
  }

  if (!only || only === 'ui') {
    const workspace = makeWorkspace(path.join(runDir, 'ws-ui'));
    const kube = await startCluster('ui');
    const server = await startCodeServer(path.join(runDir, 'server-ui'), { vsix, settings: kube.settings, env: kube.env });
    servers.push(server);
    log(`acceptance tests of the .vsix on ${server.url}`);
    const results = await runAcceptance({ url: server.url, workspace, outDir, cluster: kube.cluster });
    await server.stop();
    await kube.cluster.stop();
    recordSteps('acceptance', 'ui', results, server);
  }

  if (!only || only === 'untrusted') {
    // Workspace trust on, the folder untrusted; a kubeconfig without contexts, so no cluster is asked.
    const workspace = makeWorkspace(path.join(runDir, 'ws-untrusted'));
    const kubeconfig = path.join(runDir, 'no-contexts.kubeconfig');
    fs.writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
    const server = await startCodeServer(path.join(runDir, 'server-untrusted'), {
      vsix, trust: 'enabled', settings: { 'tsdbdump.kubeconfig': kubeconfig }, env: { KUBECONFIG: kubeconfig },
    });
    servers.push(server);
    log(`Restricted Mode tests of the .vsix on ${server.url}`);
    const results = await runUntrusted({ url: server.url, workspace, outDir });
    await server.stop();
    recordSteps('untrusted', 'untrusted', results, server);
  }
} catch (e) {
  console.error(`vscode phase: ${e?.stack ?? e}`);
  counts.failed += 1;
} finally {
  for (const s of servers) await s.stop();
  for (const c of clusters) await c.stop().catch(() => undefined);
  fs.rmSync(runDir, { recursive: true, force: true });
}

fs.writeFileSync(path.join(outDir, 'summary.json'), JSON.stringify({ ...summary, ...counts }, null, 2));
if (process.env.TSDBDUMP_COUNTS) fs.writeFileSync(process.env.TSDBDUMP_COUNTS, JSON.stringify(counts));
console.log(JSON.stringify(summary));
console.log(`vscode: ${counts.passed} passed, ${counts.failed} failed (screenshots in test-results/ui/)`);
process.exit(counts.failed ? 1 : 0);
