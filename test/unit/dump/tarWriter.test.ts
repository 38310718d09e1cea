import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { writeDump } from '../../../server/src/dump/tarWriter';
import { openSource } from '../../../server/src/dump/source';
import { isToolError } from '../../../server/src/errors';
import { dumpPath } from '../../helpers/fixtures';
import { readAllEntries, tmpDir } from './helpers';

test('writeDump streams a dump into a .tar.gz that reads back identical (through .partial)', async () => {
  const out = path.join(tmpDir(), 'copy.tar.gz');
  const src = await openSource(dumpPath('healthy'));
  const res = await writeDump(
    out,
    (async function* () {
      for await (const e of src.entries) yield { path: e.type === 'directory' ? `${e.path}/` : e.path, size: e.size, body: e.stream };
    })(),
  );
  assert.ok(existsSync(out));
  assert.ok(!existsSync(`${out}.partial`));
  const a = await readAllEntries(dumpPath('healthy'));
  const b = await readAllEntries(out);
  assert.equal(b.opened.kind, 'tar.gz');
  assert.deepEqual(b.entries, a.entries);
  assert.equal(res.files, a.entries.filter((e) => e.type === 'file').length);
});

test('writeDump writes plain tar for other names, from Uint8Array bodies', async () => {
  const out = path.join(tmpDir(), 'x.tar');
  await writeDump(out, [
    { path: 'wal/', size: 0, type: 'directory' },
    { path: 'wal/00000001', size: 3, body: new Uint8Array([1, 2, 3]) },
  ]);
  const r = await readAllEntries(out);
  assert.equal(r.opened.kind, 'tar');
  assert.deepEqual(r.entries.map((e) => [e.path, e.type, e.size]), [['wal', 'directory', 0], ['wal/00000001', 'file', 3]]);
});

test('writeDump removes the partial file on failure and on cancellation, and refuses ..', async () => {
  const dir = tmpDir();
  await assert.rejects(writeDump(path.join(dir, 'bad.tar.gz'), [{ path: 'a', size: 5, body: new Uint8Array(3) }]), (e: unknown) =>
    isToolError(e),
  );
  const ac = new AbortController();
  await assert.rejects(
    writeDump(
      path.join(dir, 'cancel.tar.gz'),
      (async function* () {
        yield { path: 'a', size: 1, body: new Uint8Array(1) };
        ac.abort();
        yield { path: 'b', size: 1, body: new Uint8Array(1) };
      })(),
      { signal: ac.signal },
    ),
    (e: unknown) => isToolError(e) && e.code === 'cancelled',
  );
  await assert.rejects(
    writeDump(path.join(dir, 'evil.tar'), [{ path: '../evil', size: 0 }]),
    (e: unknown) => isToolError(e) && e.code === 'tar-unsafe-path',
  );
  assert.deepEqual(readdirSync(dir), []);
});
