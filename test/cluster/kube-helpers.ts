/** Shared by the kube-*.test.ts files: a test cluster whose Prometheus keep the 2025 fixture data. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp, statSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import assert from 'node:assert/strict';
import * as tarStream from 'tar-stream';
import { resolvePod } from '../../server/src/kube/prometheusPods';
import { promApi } from '../../server/src/kube/prometheusApi';
import type { KubeTarget } from '../../server/src/protocol';
import { repoRoot } from '../helpers/fixtures';
import { defaultTopology, startTestCluster, type StartOptions, type TestCluster } from './testCluster';

/**
 * The `big` scenario with 16 MB of extra blocks (about 20 MB of data, built once, about a minute):
 * larger than what the API server and the pipes buffer, so a fault injected after the first
 * megabyte really lands mid-stream.
 */
export function midSizeFixture(): string {
  const out = path.join(repoRoot, '.cache/kube-fixtures/mb16');
  const data = path.join(out, 'big', 'data');
  try {
    statSync(data);
  } catch {
    execFileSync('bash', [path.join(repoRoot, 'test/fixtures/make-tsdb.sh'), 'big', out, '--size-mb', '16'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  return data;
}

/**
 * The fixtures hold samples from 2025-01-03/04; with Prometheus's default 15d retention the pods
 * would delete them at start. 100y keeps them (as a long-retention production Prometheus would).
 */
export async function startKubeTestCluster(opts: StartOptions = {}): Promise<TestCluster> {
  const topology = defaultTopology();
  for (const c of topology) for (const p of c.pods) p.retention = '100y';
  return startTestCluster({ topology, ...opts });
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}

/** Every regular file under dir (relative path → sha256). */
export async function hashTree(dir: string, filter: (rel: string) => boolean = () => true): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const entries = await fsp.readdir(dir, { recursive: true, withFileTypes: true });
  for (const e of entries) {
    if (!e.isFile()) continue;
    const abs = path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    const rel = path.relative(dir, abs);
    if (filter(rel)) out.set(rel, await sha256File(abs));
  }
  return out;
}

/** Entries of a .tar.gz in archive order, with the sha256 of each file. */
export async function tarGzEntries(file: string): Promise<{ name: string; type: string; size: number; sha256?: string }[]> {
  const extract = tarStream.extract();
  const out: { name: string; type: string; size: number; sha256?: string }[] = [];
  const input = createReadStream(file).pipe(zlib.createGunzip());
  input.pipe(extract as unknown as NodeJS.WritableStream);
  for await (const entry of extract) {
    const h = createHash('sha256');
    for await (const c of entry) h.update(c as Buffer);
    const type = entry.header.type ?? 'file';
    out.push({
      name: entry.header.name.replace(/\/$/, ''),
      type,
      size: entry.header.size ?? 0,
      sha256: type === 'file' ? h.digest('hex') : undefined,
    });
  }
  return out;
}

export const BLOCK_RE = /^[0-9A-HJKMNP-TV-Z]{26}\//;

/** Polls `check` until it returns a value (not undefined) or the deadline passes. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000, intervalMs = 250): Promise<T> {
  const until = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Waits until the pod's Prometheus has finished the compactions it starts with (the seeded head
 * is far in the past, so the first scrape makes it compact the head and then the blocks): the
 * head starts within the last day and the compaction counters stay the same over three polls.
 */
export async function waitTsdbSettled(cluster: TestCluster, key: string, timeoutMs = 120_000): Promise<void> {
  const url = cluster.pod(key).prometheusUrl;
  if (!url) throw new Error(`${key} runs no Prometheus`);
  const metric = async (name: string): Promise<number | undefined> => {
    const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(name)}`);
    const body = (await r.json()) as { data?: { result?: { value: [number, string] }[] } };
    const v = body.data?.result?.[0]?.value?.[1];
    return v === undefined ? undefined : Number(v);
  };
  let last = '';
  let same = 0;
  await eventually(
    `${key} to finish its startup compactions`,
    async () => {
      const headMin = await metric('prometheus_tsdb_head_min_time');
      const compactions = await metric('prometheus_tsdb_compactions_total');
      const blocks = await metric('prometheus_tsdb_blocks_loaded');
      const running = await metric('prometheus_tsdb_compaction_duration_seconds_count');
      if (headMin === undefined || compactions === undefined) return undefined;
      // a compaction in progress writes <ULID>.tmp-for-creation in the data dir
      const writing = (await fsp.readdir(cluster.pod(key).dataDir)).some((n) => n.endsWith('.tmp-for-creation'));
      const state = `${compactions}/${blocks}/${running}/${writing}`;
      same = state === last && !writing ? same + 1 : 0;
      last = state;
      return headMin > Date.now() - 86_400_000 && same >= 4 ? true : undefined;
    },
    timeoutMs,
    1000,
  );
}

/** The value of an instant PromQL query through the pod proxy at `at` (0 when it has no result). */
export async function seriesAt(t: KubeTarget, promql: string, at: number): Promise<number> {
  const p = await resolvePod(t);
  const data = await promApi<{ result: { value: [number, string] }[] }>(
    p,
    'GET',
    `/api/v1/query?query=${encodeURIComponent(promql)}&time=${at / 1000}`,
  );
  return data.result.length ? Number(data.result[0].value[1]) : 0;
}

/**
 * After a restore: the block files in `dataDir` are the dump's, byte for byte (those the pod's
 * Prometheus has not compacted since), and no staging or aside dir is left.
 */
export async function assertRestoredFromDump(dataDir: string, dump: string): Promise<void> {
  const podBlocks = await hashTree(dataDir, (rel) => BLOCK_RE.test(rel));
  let same = 0;
  for (const e of (await tarGzEntries(dump)).filter((x) => x.type === 'file' && BLOCK_RE.test(x.name))) {
    if (!podBlocks.has(e.name)) continue;
    assert.equal(podBlocks.get(e.name), e.sha256, e.name);
    same++;
  }
  assert.ok(same > 0, 'restored block files are in the pod');
  assert.deepEqual((await fsp.readdir(dataDir)).filter((n) => n.startsWith('.tsdbdump')), []);
}
