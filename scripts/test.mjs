#!/usr/bin/env node
// Runs the test phases with node's test runner, one process per phase, and prints one closing
// line `N passed, N failed` over all of them. `node scripts/test.mjs unit` runs one phase.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, mkdirSync, existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const findTests = (dir) =>
  existsSync(path.join(root, dir))
    ? readdirSync(path.join(root, dir), { recursive: true }).filter((f) => String(f).endsWith('.test.js')).map((f) => path.join(dir, String(f))).sort()
    : [];

/** Each phase: node:test files, or a script that writes its own counts file. */
const PHASES = [
  { name: 'unit', files: () => findTests('out/test/unit') },
  { name: 'integration', files: () => findTests('out/test/integration') },
  { name: 'cluster', files: () => findTests('out/test/cluster') },
  { name: 'vscode', script: 'test/ui/run.sh' },
  { name: 'start', script: 'test/start/run.mjs' },
];

const wanted = process.argv.slice(2);
const countsDir = path.join(root, 'out/test-counts');
rmSync(countsDir, { recursive: true, force: true });
mkdirSync(countsDir, { recursive: true });
let passed = 0;
let failed = 0;
let skipped = 0;
for (const phase of PHASES) {
  if (wanted.length && !wanted.includes(phase.name)) continue;
  const countsFile = path.join(countsDir, `${phase.name}.json`);
  console.log(`\n=== ${phase.name} ===`);
  let status;
  if (phase.script) {
    if (!existsSync(path.join(root, phase.script))) continue;
    const runner = phase.script.endsWith('.mjs') ? process.execPath : 'bash';
    status = spawnSync(runner, [phase.script], { cwd: root, stdio: 'inherit', env: { ...process.env, TSDBDUMP_COUNTS: countsFile } }).status;
  } else {
    const files = phase.files();
    if (files.length === 0) continue;
    status = spawnSync(
      process.execPath,
      ['--test', '--test-concurrency=1', '--test-reporter=spec', '--test-reporter-destination=stdout',
        `--test-reporter=${path.join(root, 'scripts/count-reporter.mjs')}`, `--test-reporter-destination=${countsFile}`, ...files],
      { cwd: root, stdio: 'inherit' },
    ).status;
  }
  const counts = existsSync(countsFile) ? JSON.parse(readFileSync(countsFile, 'utf8')) : { passed: 0, failed: 0, skipped: 0 };
  if (status !== 0 && counts.failed === 0) counts.failed = 1; // a phase that crashed counts as a failure
  passed += counts.passed;
  failed += counts.failed;
  skipped += counts.skipped;
  console.log(`--- ${phase.name}: ${counts.passed} passed, ${counts.failed} failed${counts.skipped ? `, ${counts.skipped} skipped` : ''}`);
}
if (process.env.CI === 'true' && skipped > 0) {
  console.log(`${skipped} tests were skipped under CI=true: that is a failure`);
  failed += skipped;
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
