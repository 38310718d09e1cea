/** The cluster code's pure parts: time arguments, the data-dir listing parser, pod arguments, parallel gzip. */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParallelGzip } from '../../server/src/kube/gzip';
import { listContexts } from '../../server/src/kube/kubeconfig';
import { parseListing } from '../../server/src/kube/summary';
import { targetFrom } from '../../server/src/cli/kubeArgs';
import { parseDuration, parseTime } from '../../server/src/timeInput';

test('times: RFC 3339 with a zone, epoch ms, relative; never local time', () => {
  const now = Date.parse('2025-01-04T00:00:00Z');
  assert.equal(parseTime('2025-01-03T06:00:00Z'), Date.parse('2025-01-03T06:00:00Z'));
  assert.equal(parseTime('2025-01-03T08:00:00+02:00'), Date.parse('2025-01-03T06:00:00Z'));
  assert.equal(parseTime('2025-01-03T06:00:00.250Z'), Date.parse('2025-01-03T06:00:00Z') + 250);
  assert.equal(parseTime('1735884000000'), 1735884000000);
  assert.equal(parseTime('now', now), now);
  assert.equal(parseTime('now-6h', now), now - 6 * 3600_000);
  assert.equal(parseTime('now - 1h30m', now), now - 5400_000);
  assert.equal(parseTime('now+15m', now), now + 900_000);
  assert.equal(parseDuration('2d'), 2 * 86_400_000);
  assert.throws(() => parseTime('2025-01-03T06:00:00'), /no time zone/);
  assert.throws(() => parseTime('2025-01-03'), /no time zone/);
  assert.throws(() => parseTime('1735884000'), /epoch seconds/);
  assert.throws(() => parseTime('yesterday'), /not a time/);
  assert.throws(() => parseDuration('6x'), /not a duration/);
});

test('pod arguments: pod, namespace/pod, context/namespace/pod, conflicts refused', () => {
  assert.deepEqual(targetFrom('prometheus-0', { namespace: 'monitoring' }), {
    kubeconfig: undefined,
    context: undefined,
    namespace: 'monitoring',
    container: undefined,
    dataDir: undefined,
    pod: 'prometheus-0',
  });
  const t = targetFrom('pod:prod/monitoring/prometheus-0', { container: 'prometheus', 'data-dir': '/data' });
  assert.equal(t.context, 'prod');
  assert.equal(t.namespace, 'monitoring');
  assert.equal(t.pod, 'prometheus-0');
  assert.equal(t.dataDir, '/data');
  assert.throws(() => targetFrom('a/b', { namespace: 'c' }), /namespace given twice/);
  assert.throws(() => targetFrom('a//b', {}), /not a pod/);
  assert.throws(() => targetFrom('p', { 'data-dir': 'relative' }), /absolute/);
});

test('data-dir listing: tools, file sizes, every meta.json from one exec, unreadable blocks', () => {
  const meta = (ulid: string, min: number, max: number) =>
    JSON.stringify({ ulid, minTime: min, maxTime: max, version: 1, compaction: { level: 2 } }, null, 2);
  const text = [
    '@tools',
    'tar',
    'sha256sum',
    '@files',
    '131072 ./chunks_head/000001',
    '65536 ./wal/00000002',
    '300 ./01HBBBBBBBBBBBBBBBBBBBBBBB/meta.json',
    '1000 ./01HBBBBBBBBBBBBBBBBBBBBBBB/chunks/000001',
    '9 ./01HAAAAAAAAAAAAAAAAAAAAAAA/meta.json',
    '5 ./01HCCCCCCCCCCCCCCCCCCCCCCC/index',
    '7 ./name with space',
    '@meta 01HBBBBBBBBBBBBBBBBBBBBBBB/meta.json',
    meta('01HBBBBBBBBBBBBBBBBBBBBBBB', 200, 300),
    '',
    '@meta 01HAAAAAAAAAAAAAAAAAAAAAAA/meta.json',
    '{ not json',
    '@end',
  ].join('\n');
  const l = parseListing('/prometheus', text);
  assert.deepEqual([...l.tools].sort(), ['sha256sum', 'tar']);
  assert.equal(l.files.get('chunks_head/000001'), 131072);
  assert.equal(l.files.get('name with space'), 7);
  assert.deepEqual(l.blocks.map((b) => [b.dir, b.minTime, b.maxTime, b.level]), [['01HBBBBBBBBBBBBBBBBBBBBBBB', 200, 300, 2]]);
  assert.deepEqual(l.unreadableBlocks.sort(), ['01HAAAAAAAAAAAAAAAAAAAAAAA', '01HCCCCCCCCCCCCCCCCCCCCCCC']);
});

async function gzipAll(input: Buffer, o: ConstructorParameters<typeof ParallelGzip>[0]): Promise<{ out: Buffer; gz: ParallelGzip }> {
  const gz = new ParallelGzip(o);
  const chunks: Buffer[] = [];
  gz.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise((r) => gz.on('end', r));
  for (let i = 0; i < input.length; i += 300_000) {
    if (!gz.write(input.subarray(i, i + 300_000))) await new Promise((r) => gz.once('drain', r));
  }
  gz.end();
  await ended;
  return { out: Buffer.concat(chunks), gz };
}

test('parallel gzip: members in order, one valid gzip for zlib and gzip(1); adaptive stores what does not compress', async () => {
  const random = randomBytes(6 * 1024 * 1024);
  const text = Buffer.from('wal record: up{job="prometheus"} 1\n'.repeat(120_000));
  const input = Buffer.concat([text, random, text]);
  const fixed = await gzipAll(input, { level: 1, blockSize: 512 * 1024 });
  assert.ok(zlib.gunzipSync(fixed.out).equals(input));
  const adaptive = await gzipAll(input, { level: 1, blockSize: 512 * 1024, adaptive: true });
  assert.ok(zlib.gunzipSync(adaptive.out).equals(input));
  assert.ok(adaptive.gz.storedBlocks > 0, 'incompressible blocks are stored');
  assert.ok(adaptive.out.length < input.length, 'the compressible parts still shrink');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-pgzip-'));
  try {
    writeFileSync(path.join(dir, 'x.gz'), adaptive.out);
    const viaGzip = execFileSync('gzip', ['-dc', path.join(dir, 'x.gz')], { maxBuffer: 64 * 1024 * 1024 });
    assert.ok(viaGzip.equals(input), 'gzip -d reads the concatenated members');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const empty = await gzipAll(Buffer.alloc(0), {});
  assert.equal(zlib.gunzipSync(empty.out).length, 0);
});

test('contexts: without any kubeconfig, a kubeconfig-missing failure (the ' +
  'Pods view shows its welcome), not an invented localhost context', async () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'tsdbdump-nokube-'));
  const saved = { HOME: process.env.HOME, KUBECONFIG: process.env.KUBECONFIG };
  process.env.HOME = home;
  process.env.KUBECONFIG = path.join(home, 'missing-config');
  try {
    await assert.rejects(
      listContexts(),
      (e: Error & { code?: string }) => e.code === 'kubeconfig-missing' && /no kubeconfig found/.test(e.message),
    );
    writeFileSync(
      process.env.KUBECONFIG,
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]\nusers: ' +
        '[{name: u, user: {token: t}}]\ncontexts: [{name: ctx, context: {cluster: c, user: u}}]\ncurrent-context: ctx\n',
    );
    assert.deepEqual(
      (await listContexts()).map((c) => c.name),
      ['ctx'],
    );
  } finally {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    rmSync(home, { recursive: true, force: true });
  }
});
