import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSelector, selectorMatches } from '../../../server/src/data/selector';
import { ToolError } from '../../../server/src/errors';

const m = (sel: string, labels: Record<string, string>) => selectorMatches(parseSelector(sel), labels);

function position(sel: string): number {
  try {
    parseSelector(sel);
  } catch (e) {
    assert.ok(e instanceof ToolError);
    assert.equal(e.code, 'selector-invalid');
    return (e.details as { position: number }).position;
  }
  assert.fail(`${sel} parsed`);
}

describe('selector', () => {
  test('metric names, the four matchers, fully anchored regexes', () => {
    assert.ok(m('up', { __name__: 'up' }));
    assert.ok(!m('up', { __name__: 'upx' }));
    assert.ok(m('up{job="api"}', { __name__: 'up', job: 'api' }));
    assert.ok(!m('up{job!="api"}', { __name__: 'up', job: 'api' }));
    assert.ok(m('{__name__=~"go_.*"}', { __name__: 'go_gc' }));
    assert.ok(!m('{__name__=~"go"}', { __name__: 'go_gc' }), 'anchored at both ends');
    assert.ok(!m('{__name__=~"go_.*", job!~"a|b"}', { __name__: 'go_x', job: 'a' }));
    assert.ok(m('up{instance=""}', { __name__: 'up' }), 'a missing label is the empty value');
    assert.ok(m('{job=~"(?i)API"}', { job: 'api' }), 'a leading (?i)');
    assert.ok(m("up{job='a\\'b', x=`c\\d`,}", { __name__: 'up', job: "a'b", x: 'c\\d' }), 'quotes, raw strings, trailing comma');
  });
  test('UTF-8 names (Prometheus 3)', () => {
    assert.ok(m('{"my.metric"}', { __name__: 'my.metric' }));
    assert.ok(m('{"my.metric", "a.b"="x"}', { __name__: 'my.metric', 'a.b': 'x' }));
    assert.ok(!m('{"my.metric", "a.b"="x"}', { __name__: 'my.metric', 'a.b': 'y' }));
  });
  test('errors name their position', () => {
    assert.equal(position(''), 0);
    assert.equal(position('up{job=~"a"'), 11);
    assert.equal(position('up{job="a'), 7);
    assert.equal(position('up{job}'), 6);
    assert.equal(position('up{job=a}'), 7);
    assert.equal(position('rate(up[5m])'), 4);
    assert.equal(position('{job=~".*"}'), 0, 'no non-empty matcher');
    assert.equal(position('{job=~"[[:alpha:]]"}'), 6, 'POSIX classes are RE2 only');
    assert.equal(position('{job=~"(?=a)"}'), 6, 'look-arounds are refused as RE2 does');
    assert.equal(position('{job=~"("}'), 6);
  });
});
