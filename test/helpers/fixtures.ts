/**
 * Real Prometheus fixtures for tests. They are built by test/fixtures/make-tsdb.sh (real Debian
 * prometheus/promtool 2.42) into a cache folder once, then reused. See test/fixtures/EXPECTED.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const repoRoot = path.resolve(__dirname, '../../..');
export const fixturesDir = process.env.TSDBDUMP_FIXTURES ?? path.join(repoRoot, '.cache/fixtures');

export const SCENARIOS = ['healthy', 'overlap', 'head-gap', 'wal-gap', 'chunk-crc', 'meta-bad', 'no-blocks'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Builds every small scenario once (about 30 s) when the cache folder lacks them. */
export function ensureFixtures(): string {
  const missing = SCENARIOS.filter((s) => !existsSync(path.join(fixturesDir, `${s}.tar.gz`)));
  if (missing.length > 0) {
    execFileSync('bash', [path.join(repoRoot, 'test/fixtures/make-tsdb.sh'), missing.join(','), fixturesDir], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  return fixturesDir;
}

export function dumpPath(s: Scenario): string {
  ensureFixtures();
  return path.join(fixturesDir, `${s}.tar.gz`);
}

export function dataDir(s: Scenario): string {
  ensureFixtures();
  return path.join(fixturesDir, s, 'data');
}

export interface Facts {
  blocks: { dir: string; ulid?: string; minTime?: number; maxTime?: number; level?: number; numSamples?: number; numSeries?: number; numChunks?: number; metaReadable?: boolean }[];
  damage?: Record<string, unknown>;
  [k: string]: unknown;
}

export function facts(s: Scenario): Facts {
  ensureFixtures();
  return JSON.parse(readFileSync(path.join(fixturesDir, s, 'facts.json'), 'utf8')) as Facts;
}
