/** The restore preflight's free-space reading: statfs through `stat -f`, or `df -k` as the fallback. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFreeSpace } from '../../../server/src/kube/restore';

test('statfs: available blocks times the fundamental block size', () => {
  assert.equal(parseFreeSpace('statfs 2048 4096\n'), 2048 * 4096);
  assert.equal(parseFreeSpace('statfs 0 4096'), 0);
});

test('df -k: the Available column in KiB, also when a long device name wraps the line', () => {
  const df = 'Filesystem     1K-blocks     Used Available Use% Mounted on\n/dev/vda       264212084 22640932  83749980  22% /prometheus\n';
  assert.equal(parseFreeSpace(df), 83749980 * 1024);
  const wrapped =
    'Filesystem           1K-blocks      Used Available Use% Mounted ' +
      'on\n/dev/mapper/very-long-volume-group-name\n                      10190136   2097152   7552312  22% /prometheus\n';
  assert.equal(parseFreeSpace(wrapped), 7552312 * 1024);
});

test('anything else is unknown, not zero', () => {
  assert.equal(parseFreeSpace(''), undefined);
  assert.equal(parseFreeSpace('statfs ? 4096'), undefined);
  assert.equal(parseFreeSpace('Filesystem 1K-blocks Used Available Use% Mounted on\n'), undefined);
  assert.equal(parseFreeSpace('df: /prometheus: can\'t find mount point'), undefined);
});
