/**
 * The promdump demo on Prometheus 3.x data (issue 11, point 7): 3.16 pods beside a 2.42 one. Dump the
 * `native` fixture (integer, float and custom-bucket native histograms, OOO data, zstd WAL, XOR2 and
 * start-timestamp chunks, UTF-8 names; test/fixtures/EXPECTED.md) from a 3.16 pod in `prod`, restore it
 * into a 3.16 pod in `dev` and query there: every float and histogram sample the source served is served.
 * Restoring it into the 2.42 pod is refused (`target-too-old`) with what would be lost, and changes nothing.
 */
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeSource } from '../../server/src/analysis/analyze';
import { dumpFromPod, type DumpOutcome } from '../../server/src/kube/dump';
import { resolvePod } from '../../server/src/kube/prometheusPods';
import { promApi } from '../../server/src/kube/prometheusApi';
import { restoreToPod } from '../../server/src/kube/restore';
import { podSummary } from '../../server/src/kube/summary';
import type { CompatibilityRequirement } from '../../server/src/protocol';
import { dataDir3, observed3, prometheus3Bin } from '../helpers/fixtures';
import { BLOCK_RE, eventually, hashTree } from './kube-helpers';
import { type ClusterDef, startTestCluster, type TestCluster } from './testCluster';

const LABELS = { 'app.kubernetes.io/name': 'prometheus', 'app.kubernetes.io/component': 'server' };
// The flags and storage config the native fixture was written with (test/fixtures/make-tsdb.sh).
const FLAGS_316 = ['--storage.tsdb.wal-compression-type=zstd', '--enable-feature=st-storage,fast-startup'];
const OOO_CONFIG = 'storage:\n  tsdb:\n    out_of_order_time_window: 6h';
/** The native fixture spans [A, A+5h30m) with A = 2025-01-03T00:00Z; the pods' own scrapes are far later. */
const A = Date.parse('2025-01-03T00:00:00Z');
const AT = A + 6 * 3_600_000;
const RANGE = '7h';

let cluster: TestCluster;
let work: string;
let kubeconfig: string;
const src = () => ({ kubeconfig, context: 'prod', namespace: 'monitoring', pod: 'prometheus-0' });
const dst3 = () => ({ kubeconfig, context: 'dev', namespace: 'observability', pod: 'prometheus-0' });
const dst242 = () => ({ kubeconfig, context: 'dev', namespace: 'observability', pod: 'prometheus-old-0' });

function topology(bin316: string): ClusterDef[] {
  const prom316 = (instance: string) => ({
    labels: { ...LABELS, 'app.kubernetes.io/instance': instance },
    adminApi: true,
    retention: '100y',
    prometheusBinary: bin316,
    prometheusFlags: FLAGS_316,
    prometheusConfig: OOO_CONFIG,
    selfScrape: false,
    containers: [{ name: 'prometheus', image: 'quay.io/prometheus/prometheus:v3.16.0', kind: 'prometheus' as const }],
  });
  return [
    { name: 'prod', namespaces: ['monitoring'], pods: [{ namespace: 'monitoring', name: 'prometheus-0', ...prom316('prod') }] },
    {
      name: 'dev',
      namespaces: ['observability'],
      pods: [
        { namespace: 'observability', name: 'prometheus-0', ...prom316('dev') },
        {
          namespace: 'observability',
          name: 'prometheus-old-0',
          labels: { ...LABELS, 'app.kubernetes.io/instance': 'old' },
          adminApi: true,
          retention: '100y',
          selfScrape: false,
          containers: [{ name: 'prometheus', image: 'quay.io/prometheus/prometheus:v2.42.0', kind: 'prometheus' }],
        },
      ],
    },
  ];
}

/** Float and histogram samples the pod serves over the fixture's range (raw range selector, every series). */
async function served(target: ReturnType<typeof src>): Promise<{ floats: number; histograms: number; series: number }> {
  const p = await resolvePod(target);
  const q = encodeURIComponent(`{__name__!=""}[${RANGE}]`);
  const data = await promApi<{ result: { values?: unknown[]; histograms?: unknown[] }[] }>(
    p,
    'GET',
    `/api/v1/query?query=${q}&time=${AT / 1000}`,
  );
  let floats = 0;
  let histograms = 0;
  for (const r of data.result) {
    floats += r.values?.length ?? 0;
    histograms += r.histograms?.length ?? 0;
  }
  return { floats, histograms, series: data.result.length };
}

/**
 * Waits until the pod's Prometheus finished the compactions it starts with (its own /metrics, as the pods
 * do not scrape themselves): no compaction running, no `.tmp-for-creation` dir, the same counts 4 times.
 */
async function settled(url: string, dataDir: string): Promise<void> {
  let last = '';
  let same = 0;
  await eventually(
    'the startup compactions',
    async () => {
      const text = await (await fetch(`${url}/metrics`)).text();
      const m = (name: string) => new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1];
      const writing = (await fsp.readdir(dataDir)).some((n) => n.endsWith('.tmp-for-creation'));
      const state = `${m('prometheus_tsdb_compactions_total')}/${m('prometheus_tsdb_blocks_loaded')}/${m('prometheus_tsdb_head_min_time')}`;
      same = state === last && !writing && !state.includes('undefined') ? same + 1 : 0;
      last = state;
      return same >= 4 ? true : undefined;
    },
    120_000,
  );
}

before(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsdbdump-kube3-'));
  cluster = await startTestCluster({
    stateDir: path.join(work, 'state'),
    topology: topology(path.join(prometheus3Bin('3.16.0'), 'prometheus')),
    seed: { 'prod/monitoring/prometheus-0': dataDir3('3.16.0', 'native') },
  });
  kubeconfig = cluster.kubeconfigPath;
  await settled(cluster.pod('prod/monitoring/prometheus-0').prometheusUrl!, cluster.pod('prod/monitoring/prometheus-0').dataDir);
});

after(async () => {
  await cluster?.stop();
  await fsp.rm(work, { recursive: true, force: true });
});

describe('the promdump demo on Prometheus 3.x data', () => {
  let dump: DumpOutcome;
  let source: { floats: number; histograms: number; series: number };

  test('3.16 pods run beside a 2.42 pod; the 3.16 source serves the native fixture as observed', async () => {
    const versions = await Promise.all(
      [src(), dst3(), dst242()].map((t) =>
        eventually(`${t.context}/${t.pod} status`, async () => (await podSummary(t)).prometheusVersion),
      ),
    );
    assert.match(versions[0]!, /^3\.16\./);
    assert.match(versions[1]!, /^3\.16\./);
    assert.match(versions[2]!, /^2\.42\./);
    source = await served(src());
    const obs = observed3('3.16.0', 'native');
    assert.equal(source.floats + source.histograms, obs.servedSamples, 'what make-tsdb.sh observed: 16720 samples');
    assert.equal(source.histograms, obs.servedHistogramSamples, '7600 histogram samples (integer, float and custom buckets)');
    assert.equal(source.series, 11);
  });

  test('dump from prod: the analysis names the 3.x features and finds no error', async () => {
    dump = await dumpFromPod({ target: src(), output: path.join(work, 'prom3.tar.gz') });
    assert.ok(existsSync(dump.output) && !existsSync(`${dump.output}.partial`));
    assert.match(dump.manifestData.prometheusVersion ?? '', /^3\.16/);
    const a = await analyzeSource(dump.output);
    assert.deepEqual(a.diagnostics.filter((d) => d.severity === 'error'), []);
    const features = a.compatibility!.requirements.map((r) => r.feature);
    for (const f of ['XOR2 chunks', 'histogram chunks with start timestamps', 'zstd-compressed WAL records'])
      assert.ok(features.includes(f), `${f} in ${features.join(', ')}`);
    assert.equal(a.compatibility!.minVersion, '3.14.0');
  });

  test('restore into the 3.16 pod of dev: every float and histogram sample is served there', async () => {
    assert.deepEqual(await served(dst3()), { floats: 0, histograms: 0, series: 0 }, 'dev has no fixture data before');
    const r = await restoreToPod({ source: dump.output, target: dst3(), mode: 'replace', backup: path.join(work, 'dev3-backup.tar.gz') });
    assert.deepEqual(r.preview.tooNewForTarget, []);
    assert.deepEqual([...r.restoredBlocks].sort(), [...dump.blocks].sort());
    const got = await eventually('the restored samples', async () => {
      const s = await served(dst3());
      return s.floats + s.histograms >= source.floats + source.histograms ? s : undefined;
    });
    assert.deepEqual(got, source);
  });

  test('restore into the 2.42 pod is refused (target-too-old) with what would be lost; the target is untouched', async () => {
    const old = cluster.pod('dev/observability/prometheus-old-0');
    const before = await hashTree(old.dataDir, (rel) => BLOCK_RE.test(rel));
    const uid = old.uid();
    const backup = path.join(work, 'old-backup.tar.gz');
    let refused: (Error & { code?: string; details?: { tooNewForTarget?: CompatibilityRequirement[] } }) | undefined;
    await restoreToPod({ source: dump.output, target: dst242(), mode: 'replace', backup }).catch((e: typeof refused) => (refused = e));
    assert.equal(refused?.code, 'target-too-old', String(refused));
    assert.match(refused.message, /runs Prometheus 2\.42\.\S+, too old for this dump/);
    // What 2.42 would lose or fail on, feature by feature.
    for (const what of [
      /XOR2 chunks needs 3\.11\.0 \(fails every query touching them/,
      /histogram chunks with start timestamps needs 3\.14\.0/,
      /zstd-compressed WAL records needs 2\.46\.0 \(reads them as corruption/,
      /SamplesV2 WAL records \(start timestamps\) needs 3\.11\.0 \(skips the records without a word/,
    ])
      assert.match(refused.message, what);
    assert.ok(!existsSync(backup), 'a refused restore backs nothing up');
    assert.equal(old.uid(), uid, 'the 2.42 pod was not restarted');
    assert.deepEqual(await hashTree(old.dataDir, (rel) => BLOCK_RE.test(rel)), before, 'its blocks are unchanged');
    assert.deepEqual(await served(dst242()), { floats: 0, histograms: 0, series: 0 }, 'and it holds no fixture data');
  });
});
