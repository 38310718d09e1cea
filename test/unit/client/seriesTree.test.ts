// The Series node of the Dump Files tree (client/src/model/seriesTree.ts): metrics → series from a
// `series` result, selectors in the 3.x quoted form for UTF-8 names, cut listings and failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seriesChildren, seriesFailureNode, seriesLabelText, seriesRootNode, seriesSelector } from '../../../client/src/model/seriesTree';
import type { SeriesResult } from '../../../server/src/protocol';

const A = 1735862400000;

function result(over: Partial<SeriesResult> = {}): SeriesResult {
  return {
    source: '/x/d.tar.gz',
    totals: { series: 3, samples: 700, metrics: 2, labelNames: 3, labelPairs: 5 },
    metrics: [
      { name: 'http_requests_total', series: 2, samples: 600, histogram: false },
      { name: 'my.latency', series: 1, samples: 100, histogram: true },
    ],
    labels: [],
    labelValues: {},
    heaviest: { metricsBySeries: [], labelNamesByValues: [], labelPairsBySeries: [] },
    series: [
      { labels: { __name__: 'http_requests_total', job: 'api', code: '200' }, samples: 400, histogramSamples: 0, minTime: A, maxTime: A + 3600_000,
        in: ['01JGZ0000000000000000000A1', 'head'] },
      { labels: { __name__: 'http_requests_total', job: 'api', code: '500' }, samples: 200, histogramSamples: 0, minTime: A, maxTime: A + 60_000,
        in: ['head'] },
      { labels: { __name__: 'my.latency', 'service.name': 'checkout' }, samples: 100, histogramSamples: 100, minTime: A, maxTime: A + 60_000,
        in: ['head'] },
    ],
    seriesLimit: 10000,
    seriesTruncated: false,
    skipped: [],
    ...over,
  };
}

test('selectors: legacy names bare, UTF-8 names in the 3.x quoted form, labels sorted', () => {
  assert.equal(seriesSelector({ __name__: 'up' }), 'up');
  assert.equal(seriesSelector({ job: 'a', __name__: 'up', instance: 'x:9090' }), 'up{instance="x:9090", job="a"}');
  assert.equal(seriesSelector({ __name__: 'my.metric', 'a.b': 'q"uote' }), '{"my.metric", "a.b"="q\\"uote"}');
  assert.equal(seriesSelector({ job: 'a' }), '{job="a"}');
  assert.equal(seriesLabelText({ __name__: 'up' }), '{}');
  assert.equal(seriesLabelText({ __name__: 'up', b: '2', a: '1' }), '{a="1", b="2"}');
});

test('series children: one node per metric with its series in order, sample counts, histogram icon', () => {
  const nodes = seriesChildren(result());
  assert.deepEqual(nodes.map((n) => [n.kind, n.label, n.description]), [
    ['metric', 'http_requests_total', '2 series · 600 samples'],
    ['metric', 'my.latency', '1 series · 100 samples · histogram'],
  ]);
  assert.deepEqual(nodes[0].children!.map((c) => [c.label, c.selector]), [
    ['{code="200", job="api"}', 'http_requests_total{code="200", job="api"}'],
    ['{code="500", job="api"}', 'http_requests_total{code="500", job="api"}'],
  ]);
  assert.match(nodes[0].children![0].description!, /^400 samples · 2025-01-03 00:00:00 → 01:00:00 UTC$/);
  assert.match(nodes[0].children![0].tooltip, /`01JGZ0000000000000000000A1`, `head`/);
  assert.equal(nodes[1].selector, '{"my.latency"}');
  assert.equal(nodes[1].icon, 'graph');
  assert.equal(nodes[1].children![0].description, '100 samples (100 histogram) · 2025-01-03 00:00:00 → 00:01:00 UTC');
  assert.equal(nodes[1].children![0].labels!['service.name'], 'checkout');
});

test('series children: a cut listing says how many series are not listed; no match and skipped parts are messages', () => {
  const cut = seriesChildren(result({ series: result().series.slice(0, 1), seriesLimit: 1, seriesTruncated: true }));
  assert.deepEqual(cut[0].children!.map((c) => [c.kind, c.label]), [
    ['series', '{code="200", job="api"}'],
    ['seriesMessage', '1 more series not listed'],
  ]);
  assert.match(cut[0].children![1].tooltip, /cut at 1 series/);
  const none = seriesChildren(result({ match: 'nope', metrics: [], series: [], skipped: [{ path: '01X', reason: 'index: bad CRC' }] }));
  assert.deepEqual(none.map((n) => [n.kind, n.label, n.severity]), [
    ['seriesMessage', 'no series match nope', 'information'],
    ['seriesMessage', 'not read: 01X', 'warning'],
  ]);
});

test('series root: filter and totals in the description; a failure is one error message', () => {
  assert.equal(seriesRootNode(undefined).description, undefined);
  assert.equal(seriesRootNode('up', result()).description, 'filter up · 2 metrics · 3 series');
  const f = seriesFailureNode({ code: 'selector-invalid', message: 'selector "up{": unexpected end at position 4' });
  assert.equal(f.severity, 'error');
  assert.equal(f.label, 'selector "up{": unexpected end at position 4');
  assert.match(f.tooltip, /selector-invalid/);
});
