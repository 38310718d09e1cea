// Client mapping logic (no VS Code): tree labels/badges, timeline lanes and overlaps, time input,
// data-dir discovery; and the worker's pure glue: report lines, meta.json ranges and hovers, probe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import {
  blockOverlaps,
  dataDirOfFile,
  decodeDumpSources,
  dumpPathsFromUriList,
  DUMPS_MIME,
  encodeDumpSources,
  dumpChildren,
  dumpDoneMessage,
  dumpPreview,
  dumpSummary,
  formatBytes,
  formatRange,
  formatRequestedRange,
  parseTimeInput,
  restoreConfirmation,
  timelineData,
  worstSeverity,
} from '../../../client/src/model';
import { blockDirsOf, metaFieldFor, positionAt, reportLineOf, timeAt } from '../../../server/src/lsp/metaRanges';
import { classifyArchiveHead, probeSource, tarEntryNames } from '../../../server/src/lsp/probe';
import { reportUri, sourceOfReportPath } from '../../../server/src/protocol';
import type { AnalysisResult, BlockInfo, RestorePreview } from '../../../server/src/protocol';
import { dataDir, dumpPath, facts } from '../../helpers/fixtures';

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
    source: '/x/d.tar.gz', verify: 'quick', blocks,
    head: { chunksHeadFiles: [{ name: '000003', number: 3, sizeBytes: 131072, records: 100, minTime: A + 26 * H, maxTime: A + 27 * H }], minTime: A + 28 * H, maxTime: A + 31 * H },
    wal: { segments: [{ name: '00000002', number: 2, sizeBytes: 32768, records: 10, samples: 12000, minTime: A + 28 * H, maxTime: A + 29 * H }], samples: 12000, minTime: A + 28 * H, maxTime: A + 31 * H },
    coverage: { minTime: A, maxTime: A + 31 * H, gaps: [] }, diagnostics, otherEntries: [], totalBytes: 1_000_000, durationMs: 12,
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
  assert.equal(formatBytes(150 * 1024 * 1024), '150 MiB');
  assert.equal(worstSeverity([{ severity: 'hint' }, { severity: 'warning' }, { severity: 'information' }]), 'warning');
  assert.equal(worstSeverity([]), undefined);
});

test('dump children: blocks by minTime with level and badge, then Head and WAL; problems attach by path and by block', () => {
  const r = result([block(U2, A + 18 * H, A + 24 * H, 2), block(U1, A, A + 18 * H, 3), block(U3, A + 20 * H, A + 22 * H)], [
    { code: 'block-overlap', severity: 'warning', message: 'overlap', path: `${U3}/meta.json`, blocks: [U2, U3], range: { from: A + 20 * H, to: A + 22 * H } },
    { code: 'wal-segments-not-sequential', severity: 'error', message: 'gap', path: 'wal/00000002' },
  ]);
  const nodes = dumpChildren(r);
  assert.deepEqual(nodes.map((n) => n.label), [U1, U2, U3, 'Head', 'WAL']);
  assert.deepEqual(nodes.slice(0, 3).map((n) => n.severity), [undefined, 'warning', 'warning']);
  assert.match(nodes[0].description!, /^2025-01-03 00:00:00 → 18:00:00 UTC · 146 KiB · L3$/);
  assert.match(nodes[1].tooltip, /\*\*Problems\*\*/);
  const wal = nodes.find((n) => n.kind === 'wal')!;
  assert.equal(wal.severity, 'error');
  assert.equal(wal.children![0].severity, 'error');
  assert.equal(nodes.find((n) => n.kind === 'head')!.children![0].label, '000003');
  assert.equal(dumpSummary(r), '3 blocks · 1 error, 1 warning');
  assert.equal(dumpSummary(result([block(U1, A, A + H)])), '1 block · no problems');
});

test('timeline: greedy lanes, overlaps from the diagnostic or computed from ranges', () => {
  const blocks = [block(U1, A, A + 18 * H, 3), block(U2, A + 18 * H, A + 24 * H, 2), block(U3, A + 20 * H, A + 22 * H)];
  assert.deepEqual(blockOverlaps(blocks), [{ from: A + 20 * H, to: A + 22 * H, blocks: [U2, U3] }]);
  const t = timelineData('/x/d.tar.gz', 'd.tar.gz', result(blocks));
  assert.deepEqual(t.blocks.map((b) => [b.ulid, b.lane, b.overlap]), [[U1, 0, false], [U2, 0, true], [U3, 1, true]]);
  assert.equal(t.lanes, 2);
  assert.equal(t.from, A);
  assert.equal(t.to, A + 31 * H);
  assert.deepEqual(t.head, { from: A + 28 * H, to: A + 31 * H });
  // Adjacent blocks ([a, b) then [b, c)) do not overlap.
  assert.deepEqual(blockOverlaps([block(U1, A, A + H), block(U2, A + H, A + 2 * H)]), []);
});

test('time input: empty, epoch ms, RFC 3339 with zone, now-Nh; local time without a zone is refused', () => {
  const now = A + 30 * H;
  assert.equal(parseTimeInput('', now), undefined);
  assert.equal(parseTimeInput('1735862400000', now), A);
  assert.equal(parseTimeInput('2025-01-03T00:00:00Z', now), A);
  assert.equal(parseTimeInput('2025-01-03T01:00:00+01:00', now), A);
  assert.equal(parseTimeInput('now-6h', now), now - 6 * H);
  assert.equal(parseTimeInput('now', now), now);
  assert.equal(parseTimeInput('2025-01-03T00:00:00', now), null);
  assert.equal(parseTimeInput('yesterday', now), null);
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
  assert.equal(sourceOfReportPath(decodeURIComponent(new URL(reportUri('pod:kind/monitoring/prom-0')).pathname)), 'pod:kind/monitoring/prom-0');
});

test('worker glue: report line per dump path, meta.json field per code, hover times', () => {
  const lines = { [U1]: 10, 'chunks_head/000005': 18 };
  assert.equal(reportLineOf(lines, `${U1}/meta.json`), 10);
  assert.equal(reportLineOf(lines, 'chunks_head/000005'), 18);
  assert.equal(reportLineOf(lines, 'wal/00000004'), 0);
  assert.equal(metaFieldFor('block-overlap'), 'minTime');
  assert.equal(metaFieldFor('block-ulid-mismatch'), 'ulid');
  assert.equal(metaFieldFor('meta-invalid'), undefined);
  assert.deepEqual(blockDirsOf({ code: 'block-overlap', severity: 'warning', message: '', path: `${U2}/meta.json`, blocks: [U1, U2] }), [U1, U2]);
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

test('dump preview: whole blocks overlapping the range, head always included, size estimate', () => {
  const h = 3600e3;
  const summary = {
    target: {},
    dataDir: '/prometheus',
    blocks: [
      { ulid: 'A', minTime: 0, maxTime: 2 * h, sizeBytes: 100 },
      { ulid: 'B', minTime: 2 * h, maxTime: 4 * h, sizeBytes: 200 },
      { ulid: 'C', minTime: 4 * h, maxTime: 6 * h, sizeBytes: 300 },
    ],
    headFiles: 2,
    walSegments: 3,
    sizeBytes: 650,
    minTime: 0,
    maxTime: 7 * h,
  };
  const p = dumpPreview(summary, 3 * h, 5 * h);
  assert.deepEqual(p.included.map((b) => b.ulid), ['B', 'C']);
  assert.equal(p.totalBlocks, 3);
  assert.deepEqual(p.effective, { from: 2 * h, to: 7 * h });
  assert.equal(p.estimatedBytes, 200 + 300 + 50);
  // touching is not overlapping ([minTime, maxTime) ranges)
  assert.deepEqual(dumpPreview(summary, 6 * h, undefined).included, []);
  assert.deepEqual(dumpPreview(summary, undefined, undefined).included.map((b) => b.ulid), ['A', 'B', 'C']);
  assert.deepEqual(dumpPreview({ ...summary, headFiles: 0, walSegments: 0 }, 0, h).effective, { from: 0, to: 2 * h });
});

test('requested dump ranges: open ends read as everything / until now', () => {
  const t = Date.parse('2025-01-03T06:00:00Z');
  assert.equal(formatRequestedRange(undefined, undefined), 'everything');
  assert.equal(formatRequestedRange(t, undefined), '2025-01-03 06:00:00 UTC until now');
  assert.equal(formatRequestedRange(undefined, t), 'everything up to 2025-01-03 06:00:00 UTC');
  assert.equal(formatRequestedRange(t, t + 3600_000), formatRange(t, t + 3600_000));
});

test('dump done message: size and name; files changed while read and warnings are named, long lists cut', () => {
  const base = { blocks: ['A', 'B'], bytes: 3 * 1024 * 1024, output: '/ws/prod.tar.gz', changedDuringDump: [] as string[], warnings: [] as string[], cleanedUp: [] as string[] };
  assert.equal(dumpDoneMessage(base), `Dumped 2 block(s), ${formatBytes(3 * 1024 * 1024)} to prod.tar.gz.`);
  const busy = dumpDoneMessage({ ...base, changedDuringDump: ['wal/000001', 'wal/000002', 'chunks_head/000001', 'wal/000003'], warnings: ['wal/000000 vanished during the dump (gone)'] });
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
  assert.equal(lines[3], 'Uploads 3.0 MiB (20 GiB free in the pod) as one tar stream');
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
      skipped: ['01JAAAAAAAAAAAAAAAAAAAAAAA (already in the target)', 'chunks_head/ and wal/ (merge adds blocks only; the target keeps its own head)'],
      freeBytes: undefined,
      prometheusVersion: undefined,
      uploadMethod: 'head',
      warnings: ['2 block(s) end before the target\'s retention (15d)', '1 pair(s) of blocks would overlap (A/B)'],
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
  assert.match(c.detail, /\nWarnings:\n• 2 block\(s\) end before the target's retention \(15d\)\n• 1 pair\(s\) of blocks would overlap \(A\/B\)/);
});

test('restore confirmation: data too new for the target\'s Prometheus is listed, and the restore needs force', () => {
  const tooNewForTarget = [{ feature: 'native histogram chunks (encoding 2)', needs: '2.40.0', where: ['01JB/chunks/000001'], olderDoes: 'refuses to read the chunks' }];
  const c = restoreConfirmation(restorePreview({ prometheusVersion: '2.39.1', tooNewForTarget, needsForce: true }), '/ws/new.tar.gz');
  assert.equal(c.button, 'Restore Anyway');
  assert.match(c.detail, /\nToo new for Prometheus 2\.39\.1 in the pod \(it would fail or drop this data\):\n• native histogram chunks \(encoding 2\) needs 2\.40\.0: refuses to read the chunks$/);
  assert.equal(restoreConfirmation(restorePreview(), '/ws/ok.tar.gz').button, 'Restore');
});

test('restore confirmation: a dump with errors says so, lists them, and asks to restore anyway', () => {
  const errors = Array.from({ length: 12 }, (_, i) => `chunk-crc 01JB/chunks/000001: chunk ${i} fails its CRC`);
  const c = restoreConfirmation(restorePreview({ errors: errors.slice(0, 1), replaces: [], needsForce: true }), '/ws/bad.tar.gz');
  assert.equal(c.message, 'Restore bad.tar.gz into observability/prometheus-0 (dev) with mode "replace"? The dump has 1 error.');
  assert.equal(c.button, 'Restore Anyway');
  assert.match(c.detail, /^Replaces nothing: \/prometheus is empty$/m);
  assert.match(c.detail, /\nErrors in the dump \(restoring it could make Prometheus fail or lose data\):\n• chunk-crc 01JB\/chunks\/000001: chunk 0 fails its CRC$/);
  const many = restoreConfirmation(restorePreview({ errors, needsForce: true }), '/ws/bad.tar.gz');
  assert.match(many.message, /The dump has 12 errors\.$/);
  assert.equal(many.detail.split('\n').filter((l) => l.startsWith('• chunk-crc')).length, 10);
  assert.match(many.detail, /• … and 2 more$/);
});
