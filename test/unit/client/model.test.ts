// Client mapping logic (no VS Code): tree labels/badges, timeline lanes and overlaps, settings,
// dump and restore confirmations, data-dir discovery; and the worker's pure glue: report lines, meta.json ranges and hovers, probe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { dataDirOfFile } from '../../../client/src/model/discovery';
import { decodeDumpSources, dumpPathsFromUriList, DUMPS_MIME, encodeDumpSources } from '../../../client/src/model/dragDrop';
import { DUMP_RANGE_PRESETS, dumpConfirmation, dumpDoneMessage } from '../../../client/src/model/dumpFromPod';
import { dumpChildren, dumpSummary } from '../../../client/src/model/dumpTree';
import { formatBytes, formatRange, formatRequestedRange, worstSeverity } from '../../../client/src/model/format';
import { restoreConfirmation } from '../../../client/src/model/restore';
import { readSettings } from '../../../client/src/model/settings';
import { timelineData } from '../../../client/src/model/timeline';
import { analyzeSource } from '../../../server/src/analysis/analyze';
import { parseTimes } from '../../../server/src/timeInput';
import { blockDirsOf, metaFieldFor, positionAt, reportLineOf, timeAt } from '../../../server/src/lsp/metaRanges';
import { classifyArchiveHead, probeSource, tarEntryNames } from '../../../server/src/lsp/probe';
import { reportUri, sourceOfReportPath } from '../../../server/src/protocol';
import type { AnalysisResult, BlockInfo, DumpPreview, RestorePreview } from '../../../server/src/protocol';
import { dataDir, dumpPath, facts, SCENARIOS } from '../../helpers/fixtures';

const A = 1735862400000; // 2025-01-03T00:00:00Z, the fixtures' anchor
const H = 3600_000;

function block(ulid: string, minTime: number, maxTime: number, level = 1): BlockInfo {
  return {
    ulid, dir: ulid, minTime, maxTime, level, numSamples: 24000, numSeries: 50, numChunks: 200,
    sizeBytes: 150_000, path: ulid, metaReadable: true, chunkFiles: ['000001'],
  };
}

function result(blocks: BlockInfo[], diagnostics: AnalysisResult['diagnostics'] = []): AnalysisResult {
  return {
    source: '/x/d.tar.gz',
    verify: 'quick',
    blocks,
    head: {
      chunksHeadFiles: [{ name: '000003', number: 3, sizeBytes: 131072, records: 100, minTime: A + 26 * H, maxTime: A + 27 * H }],
      minTime: A + 28 * H,
      maxTime: A + 31 * H,
    },
    wal: {
      segments: [{ name: '00000002', number: 2, sizeBytes: 32768, records: 10, samples: 12000, minTime: A + 28 * H, maxTime: A + 29 * H }],
      samples: 12000,
      minTime: A + 28 * H,
      maxTime: A + 31 * H,
    },
    coverage: { minTime: A, maxTime: A + 31 * H, gaps: [] },
    diagnostics,
    otherEntries: [],
    totalBytes: 1_000_000,
    durationMs: 12,
  };
}

const U1 = '01JGZ0000000000000000000A1';
const U2 = '01JGZ0000000000000000000A2';
const U3 = '01JGZ0000000000000000000A3';

test('formatting: UTC ranges (same day shortened), sizes, worst severity', () => {
  assert.equal(formatRange(A, A + 18 * H - 15_000), '2025-01-03 00:00:00 → 17:59:45 UTC');
  assert.equal(formatRange(A, A + 26 * H), '2025-01-03 00:00:00 → 2025-01-04 02:00:00 UTC');
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(150 * 1024 * 1024), '150.0 MiB');
  assert.equal(worstSeverity([{ severity: 'hint' }, { severity: 'warning' }, { severity: 'information' }]), 'warning');
  assert.equal(worstSeverity([]), undefined);
});

test('dump children: blocks by minTime with level and badge, then Head and WAL; problems attach by path and by block', () => {
  const r = result(
    [block(U2, A + 18 * H, A + 24 * H, 2), block(U1, A, A + 18 * H, 3), block(U3, A + 20 * H, A + 22 * H)],
    [
      {
        code: 'block-overlap',
        severity: 'warning',
        message: 'overlap',
        path: `${U3}/meta.json`,
        blocks: [U2, U3],
        range: { from: A + 20 * H, to: A + 22 * H },
      },
      { code: 'wal-segments-not-sequential', severity: 'error', message: 'gap', path: 'wal/00000002' },
    ],
  );
  const nodes = dumpChildren(r);
  assert.deepEqual(nodes.map((n) => n.label), [U1, U2, U3, 'Head', 'WAL']);
  assert.deepEqual(nodes.slice(0, 3).map((n) => n.severity), [undefined, 'warning', 'warning']);
  assert.match(nodes[0].description!, /^2025-01-03 00:00:00 → 18:00:00 UTC · 146.5 KiB · L3$/);
  assert.match(nodes[1].tooltip, /\*\*Problems\*\*/);
  const wal = nodes.find((n) => n.kind === 'wal')!;
  assert.equal(wal.severity, 'error');
  assert.equal(wal.children![0].severity, 'error');
  assert.equal(nodes.find((n) => n.kind === 'head')!.children![0].label, '000003');
  assert.equal(dumpSummary(r), '3 blocks · 1 error, 1 warning');
  assert.equal(dumpSummary(result([block(U1, A, A + H)])), '1 block · no problems');
});

test('timeline: greedy lanes; overlaps only where the analysis reports them', () => {
  const blocks = [block(U1, A, A + 18 * H, 3), block(U2, A + 18 * H, A + 24 * H, 2), block(U3, A + 20 * H, A + 22 * H)];
  const overlap = {
    code: 'block-overlap' as const,
    severity: 'warning' as const,
    message: 'overlap',
    path: `${U3}/meta.json`,
    blocks: [U2, U3],
    range: { from: A + 20 * H, to: A + 22 * H },
  };
  const t = timelineData('/x/d.tar.gz', 'd.tar.gz', result(blocks, [overlap]));
  assert.deepEqual(t.blocks.map((b) => [b.ulid, b.lane, b.overlap]), [[U1, 0, false], [U2, 0, true], [U3, 1, true]]);
  assert.deepEqual(t.overlaps, [{ from: A + 20 * H, to: A + 22 * H, blocks: [U2, U3] }]);
  assert.equal(t.lanes, 2);
  assert.equal(t.from, A);
  assert.equal(t.to, A + 31 * H);
  assert.deepEqual(t.head, { from: A + 28 * H, to: A + 31 * H });
  // Ranges that overlap without a diagnostic (a deletable or superseded block, which Prometheus
  // leaves out) are no overlap in the timeline: it used to compute its own from the ranges.
  const quiet = timelineData('/x/d.tar.gz', 'd.tar.gz', result(blocks));
  assert.deepEqual(quiet.overlaps, []);
  assert.ok(quiet.blocks.every((b) => !b.overlap));
});

test('timeline of real dumps: exactly the overlaps of the analysis, on every fixture scenario', async () => {
  for (const scenario of SCENARIOS) {
    const r = await analyzeSource(dumpPath(scenario), { verify: 'quick' });
    const reported = r.diagnostics.filter((d) => d.code === 'block-overlap');
    const t = timelineData(r.source, scenario, r);
    assert.deepEqual(t.overlaps.map((o) => o.blocks), reported.map((d) => d.blocks), scenario);
    const flagged = t.blocks.filter((b) => b.overlap).map((b) => b.ulid).sort();
    assert.deepEqual(flagged, [...new Set(reported.flatMap((d) => d.blocks ?? []))].sort(), scenario);
    if (scenario === 'overlap') assert.ok(reported.length > 0, 'the overlap fixture has overlaps');
  }
});

test('settings: one typed object; empty strings are unset, defaults are package.json\'s', () => {
  const pkg = JSON.parse(readFileSync(path.join(__dirname, '../../../../package.json'), 'utf8')) as {
    contributes: { configuration: { properties: Record<string, { default: unknown }> } };
  };
  const props = pkg.contributes.configuration.properties;
  const lookup = (values: Record<string, unknown>) => (key: string) => ({
    value: values[key] ?? props[`tsdbdump.${key}`].default,
    defaultValue: props[`tsdbdump.${key}`].default,
  });
  const d = readSettings(lookup({}));
  assert.equal(d.dumpGlob, props['tsdbdump.dumpGlob'].default);
  assert.equal(d.verify, props['tsdbdump.verify'].default);
  assert.equal(d.analyzeOnOpen, props['tsdbdump.analyzeOnOpen'].default);
  assert.equal(d.kubeconfig, undefined);
  const u = readSettings(lookup({ dumpGlob: '', verify: 'bogus', kubeconfig: '/k', defaultDataDir: '/data', analyzeOnOpen: false }));
  assert.equal(u.dumpGlob, props['tsdbdump.dumpGlob'].default, 'an empty glob falls back to the default');
  assert.equal(u.verify, props['tsdbdump.verify'].default);
  assert.equal(u.kubeconfig, '/k');
  assert.equal(u.dataDir, '/data');
  assert.equal(u.analyzeOnOpen, false);
});

test('data dirs of workspace files: block meta.json, wal and chunks_head segments', () => {
  assert.equal(dataDirOfFile(`/w/data/${U1}/meta.json`), '/w/data');
  assert.equal(dataDirOfFile('/w/data/wal/00000002'), '/w/data');
  assert.equal(dataDirOfFile('/w/data/chunks_head/000003'), '/w/data');
  assert.equal(dataDirOfFile('/w/data/wal/checkpoint.00000001'), undefined);
  assert.equal(dataDirOfFile('/w/pkg/node_modules/x/meta.json'), undefined);
});

test('report URIs round-trip for paths with spaces and for pod sources', () => {
  const uri = reportUri('/w/my dumps/a#1.tar.gz');
  assert.equal(uri, 'tsdbdump-report:/w/my%20dumps/a%231.tar.gz.tsdb-report');
  assert.equal(sourceOfReportPath(decodeURIComponent(new URL(uri).pathname)), '/w/my dumps/a#1.tar.gz');
  assert.equal(
    sourceOfReportPath(decodeURIComponent(new URL(reportUri('pod:kind/monitoring/prom-0')).pathname)),
    'pod:kind/monitoring/prom-0',
  );
});

test('worker glue: report line per dump path, meta.json field per code, hover times', () => {
  const lines = { [U1]: 10, 'chunks_head/000005': 18 };
  assert.equal(reportLineOf(lines, `${U1}/meta.json`), 10);
  assert.equal(reportLineOf(lines, 'chunks_head/000005'), 18);
  assert.equal(reportLineOf(lines, 'wal/00000004'), 0);
  assert.equal(metaFieldFor('block-overlap'), 'minTime');
  assert.equal(metaFieldFor('block-ulid-mismatch'), 'ulid');
  assert.equal(metaFieldFor('meta-invalid'), undefined);
  assert.deepEqual(blockDirsOf({ code: 'block-overlap', severity: 'warning', message: '', path: `${U2}/meta.json`, blocks: [U1, U2] }), [
    U1,
    U2,
  ]);
  const text = `{\n\t"ulid": "${U1}",\n\t"minTime": ${A},\n\t"maxTime": ${A + H}\n}`;
  const at = text.indexOf(String(A)) + 3;
  assert.deepEqual(positionAt(text, text.indexOf('"minTime"')), { line: 2, character: 1 });
  const hover = timeAt(text, at)!;
  assert.equal(hover.key, 'minTime');
  assert.equal(hover.utc, '2025-01-03T00:00:00.000Z');
  assert.equal(timeAt(text, text.indexOf('ulid')), undefined);
});

test('probe: real fixture dumps and data dirs are dumps; text, other tars and plain dirs are not', async () => {
  for (const s of ['healthy', 'overlap', 'head-gap'] as const) {
    assert.equal((await probeSource(dumpPath(s))).kind, 'archive', s);
    assert.equal((await probeSource(dataDir(s))).kind, 'dir', s);
  }
  assert.ok(facts('healthy').blocks.length === 4);
  const tmp = mkdtempSync(path.join(tmpdir(), 'tsdbdump-probe-'));
  try {
    const text = zlib.gzipSync('No persistent blocks found\n');
    assert.equal(classifyArchiveHead(text).kind, 'none');
    execFileSync('tar', ['-cf', path.join(tmp, 'src.tar'), '-C', path.resolve(__dirname, '../../../..'), 'package.json']);
    const otherTar = readFileSync(path.join(tmp, 'src.tar'));
    assert.deepEqual(tarEntryNames(otherTar, 8), ['package.json']);
    assert.equal(classifyArchiveHead(otherTar).kind, 'none');
    assert.equal(classifyArchiveHead(zlib.gzipSync(otherTar)).kind, 'none');
    assert.equal((await probeSource(tmp)).kind, 'none');
    // Only the first 64 KiB are read: a cut-off gzip of a real dump still probes as a dump.
    const head = readFileSync(dumpPath('healthy')).subarray(0, 4096);
    assert.equal(classifyArchiveHead(head).kind, 'archive');
    assert.ok(readdirSync(tmp).length === 1);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('dump confirmation: from the worker\'s dry run; range presets are texts for the one time parser', () => {
  const p: DumpPreview = {
    pod: { context: 'prod', namespace: 'monitoring', name: 'prometheus-0', container: 'prometheus' },
    dataDir: '/prometheus',
    requested: { from: A + 3 * H },
    blocks: [{ dir: U2, ulid: U2, minTime: A + 2 * H, maxTime: A + 4 * H, sizeBytes: 200 }],
    totalBlocks: 3,
    skippedBlocks: [U1, U3],
    effectiveRange: { from: A + 2 * H, to: A + 5 * H },
    estimatedBytes: 3 * 1024 * 1024,
    adminApi: false,
    notes: [],
  };
  const c = dumpConfirmation(p);
  assert.equal(c.message, 'Dump 1 of 3 block(s) plus the head of monitoring/prometheus-0, about 3.0 MiB?');
  assert.match(c.detail, /^Requested: 2025-01-03 03:00:00 UTC until now\nEffective: 2025-01-03 02:00:00 → 05:00:00 UTC\n/);
  assert.deepEqual(c.buttons, ['Dump']);
  assert.deepEqual(dumpConfirmation({ ...p, adminApi: true }).buttons, ['Dump', 'Dump Snapshot']);
  const now = A + 30 * H;
  for (const preset of DUMP_RANGE_PRESETS) {
    const [from, to] = parseTimes([preset.from ?? '', preset.to ?? ''], now);
    assert.equal(from.error ?? to.error, undefined, preset.label);
    if (preset.from) assert.ok(from.ms! < now && to.ms === now, preset.label);
    else assert.deepEqual([from.ms, to.ms], [undefined, undefined]);
  }
});

test('requested dump ranges: open ends read as everything / until now', () => {
  const t = Date.parse('2025-01-03T06:00:00Z');
  assert.equal(formatRequestedRange(undefined, undefined), 'everything');
  assert.equal(formatRequestedRange(t, undefined), '2025-01-03 06:00:00 UTC until now');
  assert.equal(formatRequestedRange(undefined, t), 'everything up to 2025-01-03 06:00:00 UTC');
  assert.equal(formatRequestedRange(t, t + 3600_000), formatRange(t, t + 3600_000));
});

test('dump done message: size and name; files changed while read and warnings are named, long lists cut', () => {
  const base = {
    blocks: ['A', 'B'],
    bytes: 3 * 1024 * 1024,
    output: '/ws/prod.tar.gz',
    changedDuringDump: [] as string[],
    warnings: [] as string[],
    cleanedUp: [] as string[],
  };
  assert.equal(dumpDoneMessage(base), `Dumped 2 block(s), ${formatBytes(3 * 1024 * 1024)} to prod.tar.gz.`);
  const busy = dumpDoneMessage({
    ...base,
    changedDuringDump: ['wal/000001', 'wal/000002', 'chunks_head/000001', 'wal/000003'],
    warnings: ['wal/000000 vanished during the dump (gone)'],
  });
  assert.match(busy, /4 file\(s\) changed while they were read .*: wal\/000001, wal\/000002, chunks_head\/000001, … and 1 more\./);
  assert.match(busy, /Warning: wal\/000000 vanished during the dump \(gone\)\.$/);
  const swept = dumpDoneMessage({ ...base, cleanedUp: ['/prometheus/snapshots/20250103T000000Z-1a2b'] });
  assert.match(swept, /Removed what an interrupted tsdbdump run had left in the pod: \/prometheus\/snapshots\/20250103T000000Z-1a2b\.$/);
});

test('drag and drop: Dump Files payload round-trips; VS Code\'s own tree payload is not taken for sources', () => {
  const sources = ['/ws/healthy.tar.gz', '/ws/extracted/over lap'];
  assert.deepEqual(decodeDumpSources(encodeDumpSources(sources)), sources);
  assert.equal(DUMPS_MIME, 'application/vnd.code.tree.tsdbdump.dumps', 'VS Code adds the tree mime in lower case');
  assert.deepEqual(decodeDumpSources(JSON.stringify({ id: 'tsdbdump.dumps', itemHandles: ['0/0:healthy.tar.gz'] })), []);
  assert.deepEqual(decodeDumpSources('not json'), []);
  assert.deepEqual(decodeDumpSources('["relative.tar.gz"]'), []);
  assert.deepEqual(decodeDumpSources('[1]'), []);
});

test('drag and drop: dropped uri lists keep local dump files and directories only', () => {
  const dirs = new Set(['/ws/data dir', '/ws/prom']);
  const isDir = (p: string) => dirs.has(p);
  const list = [
    '# a comment',
    'file:///ws/healthy.tar.gz',
    'file:///ws/b.TGZ',
    'file:///ws/c.tar',
    'file:///ws/data%20dir',
    'file:///ws/prom/',
    'file:///ws/notes.txt',
    'file:///ws/plain',
    'https://example.com/x.tar.gz',
    'vscode-remote://host/ws/remote.tar.gz',
    'not a uri',
    '',
  ].join('\r\n');
  assert.deepEqual(dumpPathsFromUriList(list, isDir), ['/ws/healthy.tar.gz', '/ws/b.TGZ', '/ws/c.tar', '/ws/data dir', '/ws/prom']);
  assert.deepEqual(dumpPathsFromUriList('', isDir), []);
});

function restorePreview(over: Partial<RestorePreview> = {}): RestorePreview {
  return {
    pod: { context: 'dev', namespace: 'observability', name: 'prometheus-0', container: 'prometheus' },
    dataDir: '/prometheus',
    mode: 'replace',
    prometheusVersion: '2.53.0',
    dataVolume: {
      kind: 'persistentVolumeClaim', restart: 'pod', volume: 'data', mountPath: '/prometheus', claim: 'data-prometheus-0',
      description: 'PersistentVolumeClaim data-prometheus-0 (volume data at /prometheus)',
      restartDescription: 'Prometheus is restarted: the pod is deleted and its StatefulSet recreates it on the same volume',
    },
    replaces: ['01JAAAAAAAAAAAAAAAAAAAAAAA', 'chunks_head', 'wal'],
    adds: ['01JBBBBBBBBBBBBBBBBBBBBBBB', '01JCCCCCCCCCCCCCCCCCCCCCCC'],
    skipped: [],
    uploadBytes: 3 * 1024 * 1024,
    freeBytes: 20 * 1024 ** 3,
    execProtocol: 'v5.channel.k8s.io',
    uploadMethod: 'tar',
    backup: '/ws/dev-observability-prometheus-0-backup-20250103T000000Z.tar.gz',
    warnings: [],
    errors: [],
    tooNewForTarget: [],
    needsForce: false,
    ...over,
  };
}

test('restore confirmation: names the target and lists what is replaced, added, uploaded and backed up', () => {
  const c = restoreConfirmation(restorePreview(), '/ws/prod-prometheus-0.tar.gz');
  assert.equal(c.message, 'Restore prod-prometheus-0.tar.gz into observability/prometheus-0 (dev) with mode "replace"?');
  assert.equal(c.button, 'Restore');
  const lines = c.detail.split('\n');
  assert.equal(lines[0], 'Data dir: /prometheus in container prometheus (Prometheus 2.53.0)');
  assert.equal(lines[1], 'Replaces everything now in /prometheus: 01JAAAAAAAAAAAAAAAAAAAAAAA, chunks_head, wal');
  assert.equal(lines[2], 'Adds 2 blocks: 01JBBBBBBBBBBBBBBBBBBBBBBB, 01JCCCCCCCCCCCCCCCCCCCCCCC');
  assert.equal(lines[3], 'Uploads 3.0 MiB (20.0 GiB free in the pod) as one tar stream');
  assert.equal(lines[4], 'Backs up the current data first to /ws/dev-observability-prometheus-0-backup-20250103T000000Z.tar.gz');
  assert.equal(lines[5], 'Data volume: PersistentVolumeClaim data-prometheus-0 (volume data at /prometheus)');
  assert.match(lines[6], /^Prometheus is restarted: the pod is deleted/);
  assert.doesNotMatch(c.detail, /Warnings|Errors/);
});

test('restore confirmation: merge mode, skipped entries, warnings, unknown space and version, long lists', () => {
  const adds = Array.from({ length: 12 }, (_, i) => `B${i}`);
  const c = restoreConfirmation(
    restorePreview({
      mode: 'merge',
      replaces: [],
      adds,
      skipped: [
        '01JAAAAAAAAAAAAAAAAAAAAAAA (already in the target)',
        'chunks_head/ and wal/ (merge adds blocks only; the target keeps its own head)',
      ],
      freeBytes: undefined,
      prometheusVersion: undefined,
      uploadMethod: 'head',
      warnings: ["2 block(s) end before the target's retention (15d)", '1 pair(s) of blocks would overlap (A/B)'],
    }),
    'C:\\dumps\\x.tgz',
  );
  assert.equal(c.message, 'Restore x.tgz into observability/prometheus-0 (dev) with mode "merge"?');
  assert.equal(c.button, 'Restore');
  assert.match(c.detail, /\(Prometheus version unknown\)/);
  assert.doesNotMatch(c.detail, /Replaces/);
  assert.match(c.detail, /^Keeps the pod's blocks and head$/m);
  assert.match(c.detail, /^Adds 12 blocks: B0, B1, B2, B3, B4, B5, B6, B7, … and 4 more$/m);
  assert.match(c.detail, /^Skips 01JAAAAAAAAAAAAAAAAAAAAAAA \(already in the target\)$/m);
  assert.match(c.detail, /^Skips chunks_head\/ and wal\//m);
  assert.match(c.detail, /^Uploads 3\.0 MiB \(free space unknown\) as one `head -c` per file/m);
  assert.match(
    c.detail,
    /\nWarnings:\n• 2 block\(s\) end before the target's retention \(15d\)\n• 1 pair\(s\) of blocks would overlap \(A\/B\)/,
  );
});

test('restore confirmation: data too new for the target\'s Prometheus is listed, and the restore needs force', () => {
  const tooNewForTarget = [
    {
      feature: 'native histogram chunks (encoding 2)',
      needs: '2.40.0',
      where: ['01JB/chunks/000001'],
      olderDoes: 'refuses to read the chunks',
    },
  ];
  const c = restoreConfirmation(restorePreview({ prometheusVersion: '2.39.1', tooNewForTarget, needsForce: true }), '/ws/new.tar.gz');
  assert.equal(c.button, 'Restore Anyway');
  assert.match(
    c.detail,
    /\nToo new for Prometheus 2\.39\.1 in the pod \(it would fail or drop this data\):\n• native histogram chunks \(encoding 2\) needs 2\.40\.0: refuses to read the chunks$/,
  );
  assert.equal(restoreConfirmation(restorePreview(), '/ws/ok.tar.gz').button, 'Restore');
});

test('restore confirmation: a dump with errors says so, lists them, and asks to restore anyway', () => {
  const errors = Array.from({ length: 12 }, (_, i) => `chunk-crc 01JB/chunks/000001: chunk ${i} fails its CRC`);
  const c = restoreConfirmation(restorePreview({ errors: errors.slice(0, 1), replaces: [], needsForce: true }), '/ws/bad.tar.gz');
  assert.equal(c.message, 'Restore bad.tar.gz into observability/prometheus-0 (dev) with mode "replace"? The dump has 1 error.');
  assert.equal(c.button, 'Restore Anyway');
  assert.match(c.detail, /^Replaces nothing: \/prometheus is empty$/m);
  assert.match(
    c.detail,
    /\nErrors in the dump \(restoring it could make Prometheus fail or lose data\):\n• chunk-crc 01JB\/chunks\/000001: chunk 0 fails its CRC$/,
  );
  const many = restoreConfirmation(restorePreview({ errors, needsForce: true }), '/ws/bad.tar.gz');
  assert.match(many.message, /The dump has 12 errors\.$/);
  assert.equal(many.detail.split('\n').filter((l) => l.startsWith('• chunk-crc')).length, 10);
  assert.match(many.detail, /• … and 2 more$/);
});

test('timeline of samples/head-gap: each head chunk file and WAL segment on its own, the missing 000004 marked and tied to its error', async () => {
  const source = path.join(__dirname, '../../../../samples/head-gap.tar.gz');
  const r = await analyzeSource(source);
  const data = timelineData(source, 'head-gap', r);
  // Written by real Prometheus 2.42 with chunks_head/000004 removed (test/fixtures/make-tsdb.sh head-gap).
  assert.deepEqual(
    data.files.head.map((m) => [m.kind, m.path, m.severity ?? null, m.diagnosticPath ?? null]),
    [
      ['file', 'chunks_head/000003', null, null],
      ['missing', 'chunks_head/000004', 'error', 'chunks_head/000005'],
      ['file', 'chunks_head/000005', 'error', 'chunks_head/000005'],
      ['file', 'chunks_head/000006', null, null],
    ],
  );
  assert.ok(r.diagnostics.some((d) => d.code === 'head-chunks-out-of-sequence' && d.path === 'chunks_head/000005'));
  assert.deepEqual(data.files.wal.map((m) => [m.kind, m.number]), r.wal.segments.map((s) => ['file', s.number]));
  assert.deepEqual(data.files.wal.filter((m) => m.kind === 'missing'), [], 'the WAL has no gap');
});
