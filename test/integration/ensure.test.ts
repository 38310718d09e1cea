/**
 * The install scripts' failure paths (scripts/lib.sh, scripts/ensure-deps.sh, test/ui/install.sh):
 * each ends with one line saying why, never a stack trace, and a nested npm never sees the outer
 * npm's npm_* variables. Real conditions where the machine allows them (an unreachable registry, a
 * free-space floor above what the disk has), a stand-in `id`/`sudo`/`npm` on PATH where it does not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '../../..');
const withoutNpmVars = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));

function run(script: string, args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync('bash', [path.join(root, script), ...args], { cwd: root, env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stderr: r.stderr, lastLine: r.stderr.trim().split('\n').pop() ?? '' };
}

function fakeBin(scripts: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-fakebin-'));
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(path.join(dir, name), 0o755);
  }
  return dir;
}

test('ensure-deps: a missing Debian package without root and without sudo rights is one clear line', () => {
  // dpkg says libkrb5-dev is missing; the user is not root and sudo refuses (no password-less sudo).
  const bin = fakeBin({ id: 'echo 1000', sudo: 'exit 1', dpkg: 'exit 1' });
  const cache = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-cache-'));
  try {
    const r = run('scripts/ensure-deps.sh', ['start'], { ...withoutNpmVars(), PATH: `${bin}:${process.env.PATH}`, TSDBDUMP_CACHE: cache });
    assert.equal(r.code, 1);
    assert.match(
      r.lastLine,
      /^ensure-deps: installing Debian packages needs root: run as root or with password-less sudo \(missing: libkrb5-dev\)$/,
    );
  } finally {
    rmSync(bin, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  }
});

test('install.sh: not enough free disk for Node 24 is one clear line naming the folder', () => {
  const cache = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-cache-'));
  try {
    const r = run('test/ui/install.sh', [], { ...withoutNpmVars(), TSDBDUMP_CACHE: cache, TSDBDUMP_MIN_FREE_MB: String(10 ** 12) });
    assert.equal(r.code, 1);
    assert.match(
      r.lastLine,
      new RegExp(`^install\\.sh: only \\d+ MB free in ${cache}, and Node [0-9.]+ needs about \\d+ MB: free some disk space`),
    );
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test('install.sh: an unreachable npm registry is one clear line, with the log to read', () => {
  const cache = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-cache-'));
  try {
    const r = run('test/ui/install.sh', [], {
      ...withoutNpmVars(), TSDBDUMP_CACHE: cache,
      // Nothing listens on port 9 of loopback: the connection is refused at once.
      NPM_CONFIG_REGISTRY: 'http://127.0.0.1:9/', NPM_CONFIG_FETCH_RETRIES: '0', NPM_CONFIG_CACHE: path.join(cache, 'npm-cache'),
    });
    assert.equal(r.code, 1);
    assert.match(
      r.lastLine,
      /^install\.sh: cannot reach the npm registry \(no network\?\) to install Node [0-9.]+; see .*node24-install\.log$/,
    );
    assert.doesNotMatch(r.stderr, /^\s+at .+:\d+:\d+\)?$/m);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test('install.sh: the nested npm install runs without the outer npm\'s npm_* variables', () => {
  // A stand-in npm records the environment it was started with, then fails.
  const cache = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-cache-'));
  const seen = path.join(cache, 'npm-env.txt');
  const bin = fakeBin({ npm: `env > '${seen}'; exit 1` });
  try {
    mkdirSync(cache, { recursive: true });
    const r = run('test/ui/install.sh', [], {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      TSDBDUMP_CACHE: cache,
      // What `npm test` under Node 20 sets: code-server's postinstall read its Node version from it.
      npm_config_user_agent: 'npm/11.19.1 node/v20.20.2 linux x64 workspaces/false',
      npm_lifecycle_event: 'test',
      npm_execpath: '/usr/lib/npm-cli.js',
      NPM_CONFIG_FUND: 'false',
    });
    assert.equal(r.code, 1);
    const env = readFileSync(seen, 'utf8').split('\n');
    assert.deepEqual(env.filter((l) => l.startsWith('npm_')), []);
    assert.ok(env.includes('NPM_CONFIG_FUND=false'), 'a user\'s own NPM_CONFIG_* settings are kept');
  } finally {
    rmSync(bin, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  }
});
