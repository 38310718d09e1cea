#!/usr/bin/env node
// `npm start`: shows the CLI analysis of the built-in sample, then opens the extension in a real
// VS Code (code-server, installed outside the repo when missing) on a workspace holding the
// samples/ dumps, and prints the URL. Ctrl-C stops the server and everything it started.
// Env: PORT (default: any free port), TSDBDUMP_CACHE (install folder, default ~/.cache/tsdbdump).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cacheDir, ensureInstalled, repoRoot, startCodeServer } from '../test/ui/lib.mjs';

const say = (s) => console.log(`\x1b[1m${s}\x1b[0m`);

say('Building (esbuild) ...');
execFileSync(process.execPath, [path.join(repoRoot, 'scripts/build.mjs')], { cwd: repoRoot, stdio: 'inherit' });

const sample = path.join('samples', 'head-gap.tar.gz');
say(`\n$ node dist/cli.js analyze ${sample}\n`);
// Exit code 1 = the sample has an error diagnostic, which is the point of the sample.
spawnSync(process.execPath, [path.join(repoRoot, 'dist/cli.js'), 'analyze', sample], { cwd: repoRoot, stdio: 'inherit' });

say(`\nPreparing VS Code (code-server) in ${cacheDir} — the first time this installs Node 24 and code-server (2-5 minutes) ...`);
ensureInstalled();
say('Packaging the extension (npm run package) ...');
execFileSync('npm', ['run', '--silent', 'package'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });

// A workspace with the sample dumps, and the overlap sample extracted as a data dir (for the
// meta.json diagnostics and hovers).
const workspace = path.join(cacheDir, 'start/workspace');
fs.rmSync(workspace, { recursive: true, force: true });
fs.mkdirSync(path.join(workspace, 'extracted/overlap'), { recursive: true });
for (const f of fs.readdirSync(path.join(repoRoot, 'samples'))) {
  if (/\.(tar\.gz|tgz|tar)$/.test(f)) fs.copyFileSync(path.join(repoRoot, 'samples', f), path.join(workspace, f));
}
execFileSync('tar', ['-xzf', path.join(workspace, 'overlap.tar.gz'), '-C', path.join(workspace, 'extracted/overlap')]);

const server = await startCodeServer(path.join(cacheDir, 'start/server'), {
  vsix: path.join(repoRoot, 'dist/tsdbdump.vsix'),
  port: Number(process.env.PORT ?? 0),
});
const url = `${server.url}/?folder=${encodeURIComponent(workspace)}`;
say(`\nVS Code with the tsdbdump extension is running (bound to 127.0.0.1 only):\n\n    ${url}\n`);
console.log('Open it in a browser and click "Prometheus TSDB" in the activity bar. Ctrl-C stops it.');
console.log(`Server log: ${server.logFile}`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping code-server ...');
  await server.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
// Keep running until a signal arrives.
setInterval(() => {}, 1 << 30);
