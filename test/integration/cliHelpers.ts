/** Runs the real CLI bundle (dist/cli.js) as a child process, as a user would. */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { AnalysisResult } from '../../server/src/protocol';
import { repoRoot } from '../helpers/fixtures';

/** TSDBDUMP_CLI points the tests at another build of the CLI (default: this repo's bundle). */
export const cliPath = process.env.TSDBDUMP_CLI ?? path.join(repoRoot, 'dist/cli.js');

export function ensureCli(): void {
  if (!existsSync(cliPath)) execFileSync(process.execPath, [path.join(repoRoot, 'scripts/build.mjs')], { stdio: 'inherit' });
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliRun> {
  ensureCli();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliPath, ...args],
      { env: { ...process.env, ...opts.env }, maxBuffer: 64 * 1024 * 1024, timeout: opts.timeoutMs ?? 120_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** `analyze --json`, parsed; asserts nothing, returns the run too. */
export async function analyzeJson(source: string, extra: string[] = []): Promise<{ run: CliRun; result: AnalysisResult }> {
  const run = await runCli(['analyze', source, '--json', ...extra]);
  let result: AnalysisResult;
  try {
    result = JSON.parse(run.stdout) as AnalysisResult;
  } catch {
    throw new Error(`analyze ${source} printed no JSON (exit ${run.code}): ${run.stderr.slice(0, 2000)}`);
  }
  return { run, result };
}

/** True when stderr looks like a stack trace. */
export function hasStackTrace(stderr: string): boolean {
  return /^\s+at .+\(.+:\d+:\d+\)$/m.test(stderr) || /^\s+at .+:\d+:\d+$/m.test(stderr);
}

export const errorsOf = (r: AnalysisResult) => r.diagnostics.filter((d) => d.severity === 'error');
export const warningsOf = (r: AnalysisResult) => r.diagnostics.filter((d) => d.severity === 'warning');
