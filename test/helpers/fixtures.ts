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
  blocks: {
    dir: string;
    ulid?: string;
    minTime?: number;
    maxTime?: number;
    level?: number;
    numSamples?: number;
    numSeries?: number;
    numChunks?: number;
    metaReadable?: boolean;
  }[];
  damage?: Record<string, unknown>;
  [k: string]: unknown;
}

export function facts(s: Scenario): Facts {
  ensureFixtures();
  return JSON.parse(readFileSync(path.join(fixturesDir, s, 'facts.json'), 'utf8')) as Facts;
}

// ---- Prometheus 3.x fixtures -------------------------------------------------------------------
/** The 3.x releases the tests build (scripts/ensure-prometheus.sh) and their Go module versions. */
export const PROMETHEUS3 = { '3.16.0': 'v0.316.0', '3.5.3': 'v0.305.3' } as const;
export type Prometheus3 = keyof typeof PROMETHEUS3;
export const PROMETHEUS3_VERSIONS = Object.keys(PROMETHEUS3) as Prometheus3[];
/** The seven scenarios again on 3.x data, plus `native` (histograms, OOO, zstd WAL, UTF-8; XOR2 and ST on 3.11+). */
export const SCENARIOS3 = [...SCENARIOS, 'native'] as const;
export type Scenario3 = (typeof SCENARIOS3)[number];

const binDirs = new Map<Prometheus3, string>();
/** The dir holding prometheus and promtool of that version, built once into the tool cache (minutes the first time). */
export function prometheus3Bin(v: Prometheus3): string {
  let dir = binDirs.get(v);
  if (!dir) {
    const out = execFileSync('bash', [path.join(repoRoot, 'scripts/ensure-prometheus.sh')], {
      env: { ...process.env, TSDBDUMP_PROMETHEUS_VERSIONS: PROMETHEUS3[v] },
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
    });
    const line = out.split('\n').find((l) => l.startsWith(PROMETHEUS3[v] + ' '));
    if (!line) throw new Error(`scripts/ensure-prometheus.sh printed no bin dir for ${v}: ${out}`);
    dir = line.slice(PROMETHEUS3[v].length + 1).trim();
    binDirs.set(v, dir);
  }
  return dir;
}

export function fixturesDir3(v: Prometheus3): string {
  return `${fixturesDir}-${v}`;
}

/** Builds the 3.x scenarios of that version once (about 1 min) when the cache folder lacks them. */
export function ensureFixtures3(v: Prometheus3): string {
  const dir = fixturesDir3(v);
  const missing = SCENARIOS3.filter((s) => !existsSync(path.join(dir, `${s}.tar.gz`)));
  if (missing.length > 0) {
    execFileSync('bash', [path.join(repoRoot, 'test/fixtures/make-tsdb.sh'), missing.join(','), dir, '--prometheus', prometheus3Bin(v)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  return dir;
}

export function dumpPath3(v: Prometheus3, s: Scenario3): string {
  return path.join(ensureFixtures3(v), `${s}.tar.gz`);
}

export function dataDir3(v: Prometheus3, s: Scenario3): string {
  return path.join(ensureFixtures3(v), s, 'data');
}

export function facts3(v: Prometheus3, s: Scenario3): Facts {
  return JSON.parse(readFileSync(path.join(ensureFixtures3(v), s, 'facts.json'), 'utf8')) as Facts;
}

/** What real Prometheus did when make-tsdb.sh started it once on a copy of the scenario's data. */
export interface Observed {
  prometheus: string;
  ready: boolean;
  servedSamples: number | null;
  servedHistogramSamples: number | null;
  /** The query error Prometheus answered with (e.g. a chunk checksum mismatch), when it did. */
  queryError: string | null;
  exitCode: number | null;
  logged: string[];
}

export function observed3(v: Prometheus3, s: Scenario3): Observed {
  return JSON.parse(readFileSync(path.join(ensureFixtures3(v), s, 'observed.json'), 'utf8')) as Observed;
}
