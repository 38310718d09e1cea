import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderReport } from '../../../server/src/analysis/report';
import { goDurationSeconds, rangeOf, utc } from '../../../server/src/analysis/goFormat';
import type { AnalysisResult } from '../../../server/src/protocol';

const A = 1735862400000;
const H = 3600000;

function sample(): AnalysisResult {
  return {
    source: '/tmp/x.tar.gz',
    verify: 'quick',
    blocks: [
      {
        ulid: '01M83YYJ7D8M4N71W2QBVBXFRN',
        dir: '01M83YYJ7D8M4N71W2QBVBXFRN',
        minTime: A,
        maxTime: A + 18 * H,
        level: 3,
        numSamples: 216000,
        numSeries: 50,
        numChunks: 1800,
        sizeBytes: 1418331,
        path: '01M83YYJ7D8M4N71W2QBVBXFRN',
        metaReadable: true,
        chunkFiles: ['000001'],
      },
      {
        ulid: '01M83YYJ6HHBN73KG1VVVM919P',
        dir: '01M83YYJ6HHBN73KG1VVVM919P',
        minTime: 0,
        maxTime: 0,
        level: 0,
        numSamples: 0,
        numSeries: 0,
        numChunks: 0,
        sizeBytes: 1000,
        path: '01M83YYJ6HHBN73KG1VVVM919P',
        metaReadable: false,
        chunkFiles: [],
      },
    ],
    head: {
      chunksHeadFiles: [{ name: '000003', number: 3, sizeBytes: 131072, records: 100, minTime: A + 18 * H, maxTime: A + 19 * H }],
      minTime: A + 18 * H,
      maxTime: A + 20 * H,
    },
    wal: {
      segments: [
        { name: '00000002', number: 2, sizeBytes: 131072, records: 10, samples: 12000, minTime: A + 19 * H, maxTime: A + 20 * H },
        { name: '00000003', number: 3, sizeBytes: 0, records: 0, samples: 0 },
      ],
      checkpoint: { name: 'checkpoint.00000001', number: 1, segments: [], series: 50, samples: 0 },
      samples: 12000,
    },
    coverage: { minTime: A, maxTime: A + 20 * H, gaps: [] },
    diagnostics: [
      {
        code: 'meta-invalid',
        severity: 'error',
        path: '01M83YYJ6HHBN73KG1VVVM919P/meta.json',
        message: 'bad\nmeta',
        prometheusMessage: 'Failed to read meta.json',
      },
      {
        code: 'block-overlap',
        severity: 'warning',
        path: '01M83YYJ7D8M4N71W2QBVBXFRN/',
        message: 'overlap',
        range: { from: A, to: A + H },
      },
      { code: 'lock-file-present', severity: 'information', path: 'lock', message: 'lock', offset: 12 },
    ],
    otherEntries: ['queries.active'],
    totalBytes: 3_000_000,
    durationMs: 12,
  };
}

test('report: title, verdict, and a line per block, head file, WAL segment and checkpoint, mapped by path', () => {
  const r = renderReport(sample());
  const lines = r.text.split('\n');
  assert.equal(lines[0], 'tsdbdump report: /tmp/x.tar.gz');
  assert.ok(lines.includes('verdict: 1 error, 1 warning, 1 information, 0 hints'));
  for (const [key, prefix] of [
    ['01M83YYJ7D8M4N71W2QBVBXFRN', 'block  01M83YYJ7D8M4N71W2QBVBXFRN  |'],
    ['01M83YYJ6HHBN73KG1VVVM919P', 'block  01M83YYJ6HHBN73KG1VVVM919P  |---'],
    ['chunks_head/000003', 'head  chunks_head/000003  |'],
    ['wal/00000002', 'wal  wal/00000002  |'],
    ['wal/00000003', 'wal  wal/00000003  |---'],
    ['wal/checkpoint.00000001', 'ckpt  wal/checkpoint.00000001  50 series'],
  ] as const) {
    assert.ok(key in r.lines, key);
    assert.ok(lines[r.lines[key]].startsWith(prefix), `${key}: ${lines[r.lines[key]]}`);
  }
  assert.match(lines[r.lines['01M83YYJ6HHBN73KG1VVVM919P']], /meta\.json unreadable$/);
  // The L3 block covers the first 18 of 20 hours of the axis.
  const bar = /\|([#.]+)\|/.exec(lines[r.lines['01M83YYJ7D8M4N71W2QBVBXFRN']])![1];
  assert.match(bar, /^#+\.+$/);
  assert.match(
    lines[r.lines['01M83YYJ7D8M4N71W2QBVBXFRN']],
    /L3  2025-01-03T00:00:00Z \.\. 2025-01-03T18:00:00Z  216000 samples  50 series  1800 chunks  1\.4 MiB/,
  );
});

test('report: diagnostics grouped by severity, each line starting with severity and code, continuations indented', () => {
  const lines = renderReport(sample()).text.split('\n');
  const start = lines.indexOf('== Diagnostics ==');
  const diag = lines.slice(start + 1).filter((l) => /^(error|warning|information|hint) /.test(l));
  assert.deepEqual(diag, [
    'error meta-invalid 01M83YYJ6HHBN73KG1VVVM919P/meta.json: bad meta',
    'warning block-overlap 01M83YYJ7D8M4N71W2QBVBXFRN/: overlap',
    'information lock-file-present lock: lock',
  ]);
  assert.equal(lines[lines.indexOf(diag[0]) + 1], '    prometheus: Failed to read meta.json');
  assert.equal(lines[lines.indexOf(diag[1]) + 1], '    range: 2025-01-03T00:00:00Z .. 2025-01-03T01:00:00Z');
  assert.equal(lines[lines.indexOf(diag[2]) + 1], '    at: 12');
  assert.ok(lines.includes('other  queries.active'));
});

test('report: an empty analysis renders "none" sections', () => {
  const r = renderReport({
    ...sample(),
    blocks: [],
    head: { chunksHeadFiles: [] },
    wal: { segments: [], samples: 0 },
    coverage: { gaps: [] },
    diagnostics: [],
    otherEntries: [],
  });
  assert.match(r.text, /coverage: - \.\. - \(no data\), 0 gaps/);
  assert.match(r.text, /== Diagnostics ==\nnone/);
  assert.deepEqual(r.lines, {});
});

test('Go-style durations and UTC times as Prometheus prints them', () => {
  assert.equal(goDurationSeconds(0), '0s');
  assert.equal(goDurationSeconds(45), '45s');
  assert.equal(goDurationSeconds(3600), '1h0m0s');
  assert.equal(rangeOf(1735934400001, 1735941585011), '1h59m45s');
  assert.equal(rangeOf(1735927200001, 1735948785011), '5h59m45s');
  assert.equal(utc(A), '2025-01-03T00:00:00Z');
  assert.equal(utc(A + 1), '2025-01-03T00:00:00.001Z');
});
