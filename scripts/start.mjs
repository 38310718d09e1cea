#!/usr/bin/env node
// `npm start`: installs what is missing (scripts/ensure-deps.sh start: Debian packages, npm
// dependencies, Node 24 + code-server into the tool cache), shows the CLI analysis of the built-in
// sample, then opens the extension in a real VS Code (code-server) on a workspace holding the
// samples/ dumps, and prints the URL. Ctrl-C stops the server and everything it started.
// Env: PORT (default: any free port), TSDBDUMP_CACHE (tool cache, default ~/.cache/tsdbdump).
// Only Node built-ins are imported here: nothing else is installed yet when this starts.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cacheDir, cleanEnv, repoRoot, startCodeServer } from '../test/ui/lib.mjs';

const say = (s) => console.log(`\x1b[1m${s}\x1b[0m`);

/** Runs one step; a failed step ends `npm start` with its one-line reason, never a stack trace. */
function step(what, cmd, args, { quietStdout = false } = {}) {
  const r = spawnSync(cmd, args, { cwd: repoRoot, env: cleanEnv(), stdio: ['ignore', quietStdout ? 'ignore' : 'inherit', 'inherit'] });
  if (r.error) fail(`${what}: ${r.error.message}`);
  if (r.status !== 0) fail(`${what} failed (see the message above)`);
}
function fail(message) {
  console.error(`npm start: ${message}`);
  process.exit(1);
}

say(`Installing what is missing (tool cache ${cacheDir}; the first time this installs Node 24 and code-server, 2-5 minutes) ...`);
step('installing the dependencies', 'bash', [path.join(repoRoot, 'scripts/ensure-deps.sh'), 'start'], { quietStdout: true });
say('Building (esbuild) ...');
step('building', process.execPath, [path.join(repoRoot, 'scripts/build.mjs')]);

const sample = path.join('samples', 'head-gap.tar.gz');
say(`\n$ node dist/cli.js analyze ${sample}\n`);
// Exit code 1 = the sample has an error diagnostic, which is the point of the sample.
spawnSync(process.execPath, [path.join(repoRoot, 'dist/cli.js'), 'analyze', sample], { cwd: repoRoot, stdio: 'inherit' });

say('\nPackaging the extension (npm run package) ...');
step('packaging the extension', process.execPath, [path.join(repoRoot, 'scripts/package.mjs')], { quietStdout: true });

// A workspace with the sample dumps, and the overlap sample extracted as a data dir (for the
// meta.json diagnostics and hovers).
const workspace = path.join(cacheDir, 'start/workspace');
fs.rmSync(workspace, { recursive: true, force: true });
fs.mkdirSync(path.join(workspace, 'extracted/overlap'), { recursive: true });
for (const f of fs.readdirSync(path.join(repoRoot, 'samples'))) {
  if (/\.(tar\.gz|tgz|tar)$/.test(f)) fs.copyFileSync(path.join(repoRoot, 'samples', f), path.join(workspace, f));
}
step('extracting a sample', 'tar', ['-xzf', path.join(workspace, 'overlap.tar.gz'), '-C', path.join(workspace, 'extracted/overlap')]);

let server;
try {
  server = await startCodeServer(path.join(cacheDir, 'start/server'), {
    vsix: path.join(repoRoot, 'dist/tsdbdump.vsix'),
    port: Number(process.env.PORT ?? 0),
  });
} catch (e) {
  fail(`starting code-server: ${String(e?.message ?? e).split('\n')[0]}`);
}
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
