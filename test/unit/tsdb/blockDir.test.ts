import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { classifyPath, isUlid, ulidTime, normalizeRelPath } from '../../../server/src/tsdb/blockDir';
import { dataDir } from '../../helpers/fixtures';

const U = '01M83YYE6WQYE4QMR4K1K5QKNM';

test('isUlid accepts only strict 26-char Crockford names that fit 48-bit time', () => {
  assert.equal(isUlid(U), true);
  assert.equal(isUlid(U.toLowerCase()), true); // oklog/ulid accepts lower case too
  assert.equal(isUlid(U.slice(1)), false);
  assert.equal(isUlid(U + 'A'), false);
  assert.equal(isUlid('8' + U.slice(1)), false); // overflows 48 bits
  assert.equal(isUlid(U.slice(0, 25) + 'U'), false); // U is not Crockford
  assert.equal(isUlid(U.slice(0, 25) + 'I'), false);
  assert.equal(ulidTime(U), 1795429447900);
  assert.equal(ulidTime('wal'), undefined);
});

test('classifyPath recognises every kind of entry in a data dir', () => {
  const cases: [string, unknown][] = [
    [`${U}`, { kind: 'block-dir', ulid: U }],
    [`./${U}/`, { kind: 'block-dir', ulid: U }],
    [`/${U}/meta.json`, { kind: 'block-meta', ulid: U }],
    [`${U}/index`, { kind: 'block-index', ulid: U }],
    [`${U}/tombstones`, { kind: 'block-tombstones', ulid: U }],
    [`${U}/chunks/`, { kind: 'block-chunks-dir', ulid: U }],
    [`${U}/chunks/000001`, { kind: 'block-chunk-segment', ulid: U, segment: 1 }],
    [`${U}/chunks/000001.bak`, { kind: 'block-other', ulid: U, rest: 'chunks/000001.bak' }],
    [`${U}/meta.json.tmp`, { kind: 'tmp', tmpKind: 'meta-tmp', root: `${U}/meta.json.tmp` }],
    [`${U}/tombstones.tmp`, { kind: 'tmp', tmpKind: 'tombstones-tmp', root: `${U}/tombstones.tmp` }],
    [`${U}/index.repaired`, { kind: 'tmp', tmpKind: 'index-repaired', root: `${U}/index.repaired` }],
    ['chunks_head', { kind: 'head-chunks-dir' }],
    ['chunks_head/000007', { kind: 'head-chunk-file', number: 7 }],
    ['chunks_head/x', { kind: 'other' }],
    ['wal/', { kind: 'wal-dir' }],
    ['wal/00000012', { kind: 'wal-segment', number: 12 }],
    ['wal/checkpoint.00000011', { kind: 'checkpoint-dir', checkpoint: 11 }],
    ['wal/checkpoint.00000011/00000000', { kind: 'checkpoint-segment', checkpoint: 11, number: 0 }],
    ['wal/checkpoint.00000011.tmp/00000000', { kind: 'tmp', tmpKind: 'checkpoint-tmp', root: 'wal/checkpoint.00000011.tmp' }],
    ['wal/series_state.json', { kind: 'other' }],
    ['wbl', { kind: 'wbl-dir' }],
    ['wbl/00000003', { kind: 'wbl-segment', number: 3 }],
    ['lock', { kind: 'lock' }],
    ['queries.active', { kind: 'queries-active' }],
    [`${U}.tmp-for-creation/index`, { kind: 'tmp', tmpKind: 'tmp-for-creation', root: `${U}.tmp-for-creation` }],
    [`${U}.tmp-for-deletion`, { kind: 'tmp', tmpKind: 'tmp-for-deletion', root: `${U}.tmp-for-deletion` }],
    [`${U}.tmp/chunks/000001`, { kind: 'tmp', tmpKind: 'block-tmp', root: `${U}.tmp` }],
    ['chunk_snapshot.000012.0000004096/00000000', { kind: 'chunk-snapshot', root: 'chunk_snapshot.000012.0000004096' }],
    ['snapshots/x', { kind: 'other' }],
    ['notes.txt', { kind: 'other' }],
    ['', { kind: 'other' }],
  ];
  for (const [p, want] of cases) assert.deepEqual(classifyPath(p), want, p);
  assert.equal(normalizeRelPath('./a//b/'), 'a/b');
});

test('every entry of the healthy fixture classifies as a known TSDB kind', () => {
  const dir = dataDir('healthy');
  const entries = readdirSync(dir, { recursive: true }).map(String);
  assert.ok(entries.length > 20);
  for (const e of entries) assert.notEqual(classifyPath(e).kind, 'other', e);
  assert.equal(entries.filter((e) => classifyPath(e).kind === 'block-dir').length, 4);
});
