/**
 * One time parser for the CLI and VS Code (issue 14): the same texts give the same instants, or
 * the same error, through the CLI (`dump --from/--to`, the real bundle for the errors) and through
 * the worker's `parseTimes` request, which Dump from Pod sends for what the user types.
 * These texts are the ones the two parsers used to disagree on.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { requestedRange } from '../../server/src/cli/commands/dump';
import { Requests } from '../../server/src/protocol';
import { startWorker, type TestWorker } from '../helpers/worker';
import { runCli } from './cliHelpers';

const now = Date.parse('2025-01-04T00:00:00Z');
const GOOD = [
  '',
  '1735884000000',
  '2025-01-03T06:00:00Z',
  '2025-01-03T08:00:00+02:00',
  '2025-01-03 06:00:00.250Z',
  'now',
  'now-6h',
  'now-1h30m',
  'now - 90m',
  'now+15m',
  'NOW-2d',
];
// 1735884000 read as milliseconds used to mean 1970 in VS Code; the CLI refused it as seconds.
const BAD = ['1735884000', '2025-01-03T06:00:00', '2025-01-03', 'yesterday', 'now-6x', 'now-'];

let worker: TestWorker;
before(async () => {
  worker = await startWorker();
});
after(async () => {
  await worker.stop();
});

test('valid times: the CLI and the worker request give the same instants', async () => {
  const parsed = await worker.connection.sendRequest(Requests.parseTimes, { texts: GOOD, now });
  assert.equal(parsed.length, GOOD.length);
  for (const [i, text] of GOOD.entries()) {
    assert.equal(parsed[i].error, undefined, `worker refused "${text}": ${parsed[i].error}`);
    assert.equal(parsed[i].ms, requestedRange({ from: text }, now).from, `"${text}"`);
  }
  assert.equal(parsed[0].ms, undefined, 'empty is no bound');
  assert.equal(parsed[1].ms, 1735884000000);
  assert.equal(parsed[7].ms, now - 5_400_000);
  assert.equal(parsed[9].ms, now + 900_000);
});

test('invalid times: the CLI prints the error text the worker request returns', async () => {
  const parsed = await worker.connection.sendRequest(Requests.parseTimes, { texts: BAD, now });
  for (const [i, text] of BAD.entries()) {
    const error = parsed[i].error;
    assert.ok(error, `worker accepted "${text}" as ${parsed[i].ms}`);
    assert.equal(parsed[i].ms, undefined);
    assert.throws(() => requestedRange({ to: text }, now), (e: Error) => e.message === error);
    // The real CLI: the time is refused before any cluster is looked at, with the same words.
    const run = await runCli(['dump', 'prometheus-0', '--from', text, '--kubeconfig', '/nonexistent/kubeconfig']);
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stderr.trim(), `tsdbdump: ${error}`);
  }
  assert.match(parsed[0].error!, /epoch seconds/);
  assert.match(parsed[1].error!, /no time zone/);
});
