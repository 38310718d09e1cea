#!/usr/bin/env node
// `npm run --silent cli -- <command>`: makes sure dependencies and the bundle exist, then runs the CLI.
// Kept tiny on purpose: all behaviour lives in server/src/cli.
import { existsSync, statSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
if (!existsSync(path.join(root, 'node_modules/esbuild'))) {
  process.stderr.write('tsdbdump: installing dependencies (npm ci)…\n');
  execFileSync(npm, ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: root, stdio: ['ignore', 2, 2] });
}
const bundle = path.join(root, 'dist/cli.js');
const newestSource = (dir) =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .reduce((m, e) => Math.max(m, statSync(path.join(e.parentPath ?? e.path, e.name)).mtimeMs), 0);
if (!existsSync(bundle) || statSync(bundle).mtimeMs < newestSource(path.join(root, 'server/src'))) {
  execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs')], { cwd: root, stdio: ['ignore', 2, 2] });
}
await import(pathToFileURL(bundle).href);
