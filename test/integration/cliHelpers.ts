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

export interface BlockFacts {
  ulid: string;
  minTime: number;
  maxTime: number;
  numSamples: number;
  numChunks: number;
  numSeries: number;
  size: number;
}

/** `promtool tsdb list` of a data dir (promtool: Debian's 2.42 by default, or a 3.x binary) → block facts, by ULID. */
export function promtoolList(dir: string, promtool = 'promtool'): BlockFacts[] {
  const out = execFileSync(promtool, ['tsdb', 'list', dir], { encoding: 'utf8' });
  const [header, ...rows] = out.trim().split('\n');
  if (!/^BLOCK ULID\s+MIN TIME\s+MAX TIME\s+DURATION\s+NUM SAMPLES\s+NUM CHUNKS\s+NUM SERIES\s+SIZE$/.test(header)) {
    throw new Error(`unexpected promtool tsdb list header: ${header}`);
  }
  return rows.map((row) => {
    const [ulid, min, max, , samples, chunks, series, size] = row.trim().split(/\s+/);
    const facts = { ulid, minTime: Number(min), maxTime: Number(max), numSamples: Number(samples) };
    return { ...facts, numChunks: Number(chunks), numSeries: Number(series), size: Number(size) };
  }).sort(byUlid);
}

/** The same facts from the analysis, of the blocks promtool lists (it silently skips those without a readable meta.json). */
export function analysisBlockFacts(result: AnalysisResult): BlockFacts[] {
  return result.blocks
    .filter((b) => b.metaReadable)
    .map((b) => ({
      ulid: b.ulid, minTime: b.minTime, maxTime: b.maxTime, numSamples: b.numSamples, numChunks: b.numChunks, numSeries: b.numSeries,
      size: b.sizeBytes,
    }))
    .sort(byUlid);
}

const byUlid = (x: { ulid: string }, y: { ulid: string }) => (x.ulid < y.ulid ? -1 : 1);
