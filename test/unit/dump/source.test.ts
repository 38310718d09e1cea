import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { nothingReadError, openSource, openTarStream, placeUnderRoot, unsafeEntryReason } from '../../../server/src/dump/source';
import { collectByteSource } from '../../../server/src/dump/byteSource';
import { isToolError } from '../../../server/src/errors';
import { dataDir, dumpPath } from '../../helpers/fixtures';
import { makeTar, readAllEntries, tmpDir, writeTmp } from './helpers';

const files = (es: { path: string; type: string; size: number; sha: string }[]) =>
  es.filter((e) => e.type === 'file').map((e) => `${e.path} ${e.size} ${e.sha}`).sort();

async function rejectsWith(p: Promise<unknown>, code: string, re?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isToolError(e), `expected a ToolError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

test('a .tar.gz, its extracted data dir and a plain tar of it yield the same files', async () => {
  const gz = await readAllEntries(dumpPath('healthy'));
  const dir = await readAllEntries(dataDir('healthy'));
  const tarFile = path.join(tmpDir(), 'healthy.tar');
  execFileSync('tar', ['cf', tarFile, '-C', dataDir('healthy'), '.']);
  const tar = await readAllEntries(tarFile);
  assert.equal(gz.opened.kind, 'tar.gz');
  assert.equal(dir.opened.kind, 'directory');
  assert.equal(tar.opened.kind, 'tar');
  assert.deepEqual(files(dir.entries), files(gz.entries));
  assert.deepEqual(files(tar.entries), files(gz.entries));
  for (const r of [gz, dir, tar]) {
    assert.deepEqual(r.opened.problems, []);
    for (const e of r.entries) assert.equal(e.read, e.type === 'file' ? e.size : 0, e.path);
  }
  // promdump order: chunks_head, then wal, then blocks; the directory walk keeps it.
  const firstKinds = (es: { path: string }[]) => [
    ...new Set(es.map((e) => (/^[0-9A-Z]{26}/.test(e.path) ? 'block' : e.path.split('/')[0]))),
  ];
  assert.deepEqual(firstKinds(gz.entries), ['chunks_head', 'wal', 'block']);
  assert.deepEqual(firstKinds(dir.entries), ['chunks_head', 'wal', 'block']);
  // In a directory, chunk files come before the index and meta.json (like promdump).
  const ulid = readdirSync(dataDir('healthy')).find((n) => /^[0-9A-Z]{26}$/.test(n))!;
  const order = dir.entries.filter((e) => e.path.startsWith(`${ulid}/`)).map((e) => e.path.slice(27));
  assert.ok(
    order.indexOf('chunks/000001') < order.indexOf('index') && order.indexOf('index') < order.indexOf('meta.json'),
    order.join(','),
  );
});

test('the folder holding an extracted data dir is accepted too', async () => {
  const parent = path.dirname(dataDir('healthy'));
  const r = await readAllEntries(parent);
  assert.equal(r.opened.source, dataDir('healthy'));
  assert.ok(r.entries.some((e) => e.path === 'wal/00000002'));
});

test('entry names are made relative to the data dir root: ./, old promdump /prometheus/ prefix, nested dirs', async () => {
  const ulid = '01M83YYJ6HHBN73KG1VVVM919P';
  for (const prefix of ['./', '/prometheus/', 'prometheus/data/', '']) {
    const tar = await makeTar([
      { name: prefix || './', type: 'directory' },
      { name: `${prefix}queries.active`, body: 'q' },
      { name: `${prefix}${ulid}/`, type: 'directory' },
      { name: `${prefix}${ulid}/meta.json`, body: '{}' },
      { name: `${prefix}wal/00000001`, body: 'w' },
    ]);
    const r = await readAllEntries(writeTmp('p.tar', tar));
    assert.deepEqual(
      r.entries.filter((e) => e.type === 'file').map((e) => e.path),
      ['queries.active', `${ulid}/meta.json`, 'wal/00000001'],
      `prefix ${prefix}`,
    );
    assert.deepEqual(r.opened.problems, [], `prefix ${prefix}`);
  }
});

test('unsafe entries (.., absolute outside the data dir, symlink, hard link, device) are reported and never handed on', async () => {
  const tar = await makeTar([
    { name: 'wal/00000001', body: 'w' },
    { name: '../evil', body: 'evil' },
    { name: 'wal/../../evil2', body: 'evil' },
    { name: '/etc/passwd', body: 'root' },
    { name: 'chunks_head/000001', type: 'symlink', linkname: '/etc/shadow' },
    { name: 'wal/00000002', type: 'link', linkname: 'wal/00000001' },
    { name: 'dev', type: 'character-device' },
    { name: 'wal/00000003', body: 'x' },
  ]);
  const r = await readAllEntries(writeTmp('u.tar', tar));
  assert.deepEqual(r.entries.map((e) => e.path), ['wal/00000001', 'wal/00000003']);
  const unsafe = r.opened.problems.filter((p) => p.code === 'tar-unsafe-path').map((p) => p.path);
  assert.deepEqual(unsafe, ['../evil', 'wal/../../evil2', '/etc/passwd', 'chunks_head/000001', 'wal/00000002', 'dev']);
});

test('inputs that are not dumps fail with not-a-dump and a clear message', async () => {
  await rejectsWith(openSource(writeTmp('np', 'No persistent blocks found\n')), 'not-a-dump', /No persistent blocks found/);
  await rejectsWith(openSource(writeTmp('empty', '')), 'not-a-dump', /empty/);
  await rejectsWith(openSource(writeTmp('text', 'hello world, this is text\n')), 'not-a-dump', /text/);
  const random = Buffer.alloc(4096);
  let x = 12345;
  for (let i = 0; i < random.length; i++) random[i] = (x = (x * 1103515245 + 12345) & 0x7fffffff) >> 16;
  random[0] = 0; // not gzip magic by chance
  await rejectsWith(openSource(writeTmp('random', random)), 'not-a-dump');
  const gzText = writeTmp('t.gz', zlib.gzipSync(Buffer.from('just text inside gzip\n'.repeat(100))));
  await rejectsWith(readAllEntries(gzText), 'not-a-dump', /gzip-compressed but not a tar/);
  const noTsdb = writeTmp('n.tar.gz', await makeTar([{ name: 'README', body: 'hi' }, { name: 'etc/', type: 'directory' }], true));
  await rejectsWith(readAllEntries(noTsdb), 'not-a-dump', /without Prometheus TSDB data/);
  await rejectsWith(readAllEntries(writeTmp('e.tar', await makeTar([]))), 'not-a-dump');
  await rejectsWith(openSource(tmpDir()), 'not-a-dump');
  await rejectsWith(openSource('/nonexistent/dump.tar.gz'), 'io-error');
});

test('a cut .tar.gz or .tar reports dump-truncated, keeping what was read', async () => {
  const whole = readFileSync(dumpPath('healthy'));
  for (const n of [0.2, 0.5, 0.9, 0.999]) {
    const cut = writeTmp('cut.tar.gz', whole.subarray(0, Math.floor(whole.length * n)));
    const r = await readAllEntries(cut);
    const t = r.opened.problems.filter((p) => p.code === 'dump-truncated');
    assert.equal(t.length, 1, `cut at ${n}`);
    assert.match(t[0].message, /entries were read/);
    assert.ok(r.entries.length > 0);
  }
  // Cut inside the first entry's header: nothing to analyse, a failure.
  await rejectsWith(readAllEntries(writeTmp('c.tgz', whole.subarray(0, 20))), 'dump-truncated');
  const tarFile = path.join(tmpDir(), 'h.tar');
  execFileSync('tar', ['cf', tarFile, '-C', dataDir('healthy'), '.']);
  const tar = readFileSync(tarFile);
  const r = await readAllEntries(writeTmp('c.tar', tar.subarray(0, 700_000)));
  assert.equal(r.opened.problems.filter((p) => p.code === 'dump-truncated').length, 1);
});

test('bodies left unread are skipped and the next entry is still right (back-pressure per entry)', async () => {
  const full = await readAllEntries(dumpPath('healthy'));
  const opened = await openSource(dumpPath('healthy'));
  const seen: string[] = [];
  let i = 0;
  for await (const e of opened.entries) {
    seen.push(e.path);
    if (i++ % 2 === 0) {
      // read one chunk, then stop early
      for await (const c of e.stream) {
        assert.ok(c.length > 0);
        break;
      }
    }
  }
  assert.deepEqual(seen, full.entries.map((e) => e.path));
});

test('cancellation stops reading with ToolError cancelled', async () => {
  const ac = new AbortController();
  const opened = await openSource(dumpPath('healthy'), { signal: ac.signal });
  await rejectsWith(
    (async () => {
      let n = 0;
      for await (const e of opened.entries) {
        for await (const _ of e.stream) void _;
        if (++n === 3) ac.abort();
      }
    })(),
    'cancelled',
  );
});

test('progress reports bytes read of the compressed size', async () => {
  const seen: { bytes: number; totalBytes?: number }[] = [];
  const opened = await openSource(dumpPath('healthy'), { onProgress: (p) => seen.push(p) });
  for await (const e of opened.entries) for await (const _ of e.stream) void _;
  const last = seen[seen.length - 1];
  assert.equal(last.totalBytes, opened.totalBytes);
  assert.equal(last.bytes, opened.totalBytes);
});

test('collectByteSource keeps small files in memory and spills big ones to a temp file it removes', async () => {
  const data = Buffer.alloc(300_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
  async function* chunks() {
    for (let i = 0; i < data.length; i += 65536) yield data.subarray(i, i + 65536);
  }
  const mem = await collectByteSource(chunks());
  assert.equal(mem.size, data.length);
  assert.deepEqual(Buffer.from(mem.read(299_990, 100)), data.subarray(299_990));
  const dir = tmpDir();
  const spilled = await collectByteSource(chunks(), { memoryLimit: 100_000, tmpDir: dir });
  assert.equal(spilled.size, data.length);
  assert.equal(readdirSync(dir).length, 1);
  for (const [o, n] of [
    [0, 10],
    [123_456, 5000],
    [299_000, 5000],
  ])
    assert.deepEqual(Buffer.from(spilled.read(o, n)), data.subarray(o, o + n));
  spilled.dispose();
  assert.equal(readdirSync(dir).length, 0);
  assert.ok(!existsSync(path.join(dir, 'x')));
});

test('openTarStream reads a tar coming as a stream (as from a pod) like a file', async () => {
  const tarBytes = zlib.gunzipSync(readFileSync(dumpPath('healthy')));
  const fromFile = await readAllEntries(dumpPath('healthy'));
  const opened = openTarStream(Readable.from([tarBytes.subarray(0, 100_000), tarBytes.subarray(100_000)]), { label: 'pod:default/prom' });
  const paths: string[] = [];
  for await (const e of opened.entries) {
    paths.push(e.path);
    for await (const _ of e.stream) void _;
  }
  assert.deepEqual(paths, fromFile.entries.map((e) => e.path));
  const cut = openTarStream(Readable.from([tarBytes.subarray(0, 500_000)]), { label: 'pod:default/prom' });
  for await (const e of cut.entries) for await (const _ of e.stream) void _;
  assert.equal(cut.problems[0]?.code, 'dump-truncated');
});

test('a cut .tar.gz yields the same complete entries to a fast and to a slow consumer', async () => {
  // 24 entries of 48 KiB, hard to compress, so the cut lands mid-archive while everything decoded fits the stream buffers.
  let x = 987654321;
  const items = Array.from({ length: 24 }, (_, i) => {
    const body = Buffer.alloc(48 * 1024);
    for (let j = 0; j < body.length; j++) body[j] = 0x61 + ((x = (x * 1103515245 + 12345) & 0x7fffffff) >> 16) % 16;
    return { name: `wal/${String(i + 1).padStart(8, '0')}`, body };
  });
  const gz = await makeTar(items, true);
  const cut = writeTmp('cut-speed.tar.gz', gz.subarray(0, Math.floor(gz.length * 0.6)));
  const fast = await readAllEntries(cut);
  assert.ok(fast.entries.length >= 5, `fast consumer saw ${fast.entries.length} entries`);

  // The slow consumer holds off until the whole cut file was read (so the gzip error has happened), then reads.
  const input = createReadStream(cut);
  const slow = openTarStream(input, { gzip: true, label: cut });
  const slowPaths: string[] = [];
  for await (const e of slow.entries) {
    if (slowPaths.length === 0) {
      const deadline = Date.now() + 10_000;
      while (!input.readableEnded && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.ok(input.readableEnded, 'the cut file was read to its end while the first entry waited');
    }
    await new Promise((r) => setTimeout(r, 5));
    for await (const _ of e.stream) void _;
    slowPaths.push(e.path);
  }
  assert.deepEqual(slowPaths, fast.entries.map((e) => e.path));
  for (const r of [fast.opened, slow]) {
    const t = r.problems.filter((p) => p.code === 'dump-truncated');
    assert.equal(t.length, 1);
    assert.match(t[0].message, /gzip stream cut short/);
  }
});

// ---- the tar reader's decisions, one step each ----------------------------------------------------

test('unsafe entries: "..", links and devices are skipped whatever their path; files and dirs are not', () => {
  assert.match(unsafeEntryReason('a/../../etc/passwd', 'file', true)!, /contains "\.\."/);
  assert.equal(
    unsafeEntryReason('wal/00000001', 'symlink', false, '/etc/shadow'),
    'entry "wal/00000001" is a symbolic link (to "/etc/shadow")',
  );
  assert.match(unsafeEntryReason('wal/x', 'link', false, 'wal/y')!, /hard link/);
  assert.match(unsafeEntryReason('dev/null', 'device', false)!, /device or FIFO/);
  assert.equal(unsafeEntryReason('wal/00000001', 'file', false), undefined);
  assert.equal(unsafeEntryReason('wal', 'directory', false), undefined);
});

test('entries are placed under the data dir root; absolute names only when they are TSDB data inside it', () => {
  const e = (name: string) => ({ name, parts: name.split('/').filter(Boolean), absolute: name.startsWith('/') });
  assert.deepEqual(placeUnderRoot(e('prometheus/wal/00000001'), ['prometheus']), { path: 'wal/00000001' });
  assert.deepEqual(placeUnderRoot(e('prometheus'), ['prometheus']), {}, 'the root itself is no entry');
  assert.deepEqual(placeUnderRoot(e('/prometheus/01HAAAAAAAAAAAAAAAAAAAAAAA/index'), ['prometheus']), {
    path: '01HAAAAAAAAAAAAAAAAAAAAAAA/index',
  });
  assert.match(placeUnderRoot(e('/etc/passwd'), ['prometheus']).unsafe!, /absolute path outside the data directory/);
  assert.match(placeUnderRoot(e('/prometheus/notes.txt'), ['prometheus']).unsafe!, /absolute path/);
  assert.deepEqual(placeUnderRoot(e('other/x'), ['prometheus']), { path: 'other/x' }, 'a relative name outside the root keeps its path');
});

test('an archive without any entry: not tar inside gzip, empty, or cut before the first entry', () => {
  const text = Buffer.from('hello, this is not a tar archive at all');
  assert.equal(nothingReadError('/x.tar.gz', 'tar.gz', text).code, 'not-a-dump');
  assert.match(nothingReadError('/x.tar.gz', 'tar.gz', text, 'unexpected end of file').message, /gzip-compressed but not a tar archive/);
  assert.equal(nothingReadError('/x.tar', 'tar', new Uint8Array(0)).message, '/x.tar is an empty archive: not a Prometheus dump');
  const cut = nothingReadError('/x.tar', 'tar', text, 'unexpected end of file');
  assert.equal(cut.code, 'dump-truncated');
  assert.match(cut.message, /cut short before its first entry \(unexpected end of file\)/);
});
