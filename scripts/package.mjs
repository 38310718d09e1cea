#!/usr/bin/env node
// `npm run package`: builds the minified client and worker bundles and packages the extension with
// vsce into dist/tsdbdump.vsix. It stages everything in out/package/ first, so the .vsix holds
// exactly these bundles (a concurrent dev build into dist/ cannot slip in), and the staged
// package.json lists the one run-time dependency left after bundling: the native CRC32C package
// (the worker falls back to JS when it is missing).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const stage = path.join(root, 'out/package');
const vsix = path.join(root, 'dist/tsdbdump.vsix');

fs.rmSync(stage, { recursive: true, force: true });
fs.mkdirSync(path.join(stage, 'dist'), { recursive: true });
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  logLevel: 'warning',
  absWorkingDir: root,
  external: ['vscode', '@node-rs/crc32'],
};
const entries = [
  ['client/src/extension.ts', 'client.js'],
  ['server/src/lsp/server.ts', 'server.js'],
  // The worker's cluster functions, required beside server.js on first use.
  ['server/src/lsp/cluster.ts', 'cluster.js'],
  // Worker thread for big block indexes, loaded from beside server.js (in-process when absent).
  ['server/src/analysis/indexWorker.ts', 'indexWorker.js'],
  // The guard between a local Prometheus (Query Dump) and the worker, spawned from beside server.js.
  ['server/src/query/queryGuard.ts', 'queryGuard.js'],
].filter(([entry]) => fs.existsSync(path.join(root, entry)));
await Promise.all(entries.map(([entry, out]) => build({ ...common, entryPoints: [entry], outfile: path.join(stage, 'dist', out) })));

const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const crc = JSON.parse(fs.readFileSync(path.join(root, 'node_modules/@node-rs/crc32/package.json'), 'utf8'));
manifest.dependencies = { '@node-rs/crc32': crc.version };
delete manifest.devDependencies;
delete manifest.bin;
manifest.scripts = {};
fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(manifest, null, 2));
for (const f of ['README.md', 'CHANGELOG.md', 'LICENSE', '.vscodeignore']) {
  if (fs.existsSync(path.join(root, f))) fs.copyFileSync(path.join(root, f), path.join(stage, f));
}
for (const d of ['media', 'syntaxes']) fs.cpSync(path.join(root, d), path.join(stage, d), { recursive: true });
for (const d of fs.readdirSync(path.join(root, 'node_modules/@node-rs')).filter((n) => n.startsWith('crc32'))) {
  fs.cpSync(path.join(root, 'node_modules/@node-rs', d), path.join(stage, 'node_modules/@node-rs', d), { recursive: true });
}

fs.mkdirSync(path.dirname(vsix), { recursive: true });
const vsce = path.join(root, 'node_modules/@vscode/vsce/vsce');
const args = ['package', '--allow-missing-repository', '-o', vsix];
if (!fs.existsSync(path.join(root, 'LICENSE'))) args.push('--skip-license');
execFileSync(process.execPath, [vsce, ...args], { cwd: stage, stdio: 'inherit' });
