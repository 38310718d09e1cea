/**
 * Resume (issue 12 part 1): dumps interrupted at random moments — the exec connection cut, the
 * CLI process killed with SIGKILL, the API server restarted, a cancel at 90 % — and run again
 * until they finish. Each result is compared with an uninterrupted dump of the same pod: the same
 * block files with the same SHA-256, every head file verified or reported as changed, one entry
 * per file, `tar xzf` reads it, the analysis finds no error. Against real Prometheus pods and the
 * loopback API server.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, promises as fsp, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeSource } from '../../server/src/analysis/analyze';
import { dumpFromPod, previewDump, type DumpManifest, type DumpOutcome } from '../../server/src/kube/dump';
import { readResumeRecord, resumeRecordPath } from '../../server/src/kube/dumpResume';
import { rng } from '../helpers/random';
import { cliPath, ensureCli } from '../integration/cliHelpers';
import type { TestCluster } from './testCluster';
import { BLOCK_RE, midSizeFixture, startKubeTestCluster, tarGzEntries, waitTsdbSettled } from './kube-helpers';

const run = promisify(execFile);
const KEY = 'prod/monitoring/prometheus-0';

let cluster: TestCluster;
let work: string;
let kubeconfig: string;
let reference: DumpOutcome;
const prod = () => ({ kubeconfig, context: 'prod', namespace: 'monitoring', pod: 'prometheus-0' });

type Failure = Error & { code?: string; details?: { resumable?: boolean } };

before(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'tsdbdump-kube-resume-'));
  cluster = await startKubeTestCluster({ stateDir: path.join(work, 'state'), seed: { [KEY]: midSizeFixture() } });
  kubeconfig = cluster.kubeconfigPath;
  await waitTsdbSettled(cluster, KEY);
  reference = await dumpFromPod({ target: prod(), output: path.join(work, 'reference.tar.gz') });
  ensureCli();
});

after(async () => {
  await cluster?.stop();
  await fsp.rm(work, { recursive: true, force: true });
});

/** The resumed dump is the dump an uninterrupted run writes. */
async function assertSameAsReference(out: string, manifest: DumpManifest, ref: DumpManifest = reference.manifestData): Promise<void> {
  const blocks = (m: DumpManifest) => new Map(m.files.filter((f) => BLOCK_RE.test(f.path)).map((f) => [f.path, f.sha256]));
  assert.deepEqual(blocks(manifest), blocks(ref), 'the same block files with the same SHA-256');
  for (const f of manifest.files)
    assert.ok(f.verified || manifest.changedDuringDump.includes(f.path), `${f.path} verified or reported as changed`);
  const entries = await tarGzEntries(out);
  const files = entries.filter((e) => e.type === 'file');
  assert.equal(files.length, manifest.files.length, 'one tar entry per manifest file, no leftovers of the interrupted runs');
  assert.equal(new Set(files.map((f) => f.name)).size, files.length, 'no entry twice');
  for (const f of files) assert.equal(manifest.files.find((m) => m.path === f.name)?.sha256, f.sha256, f.name);
  const x = await fsp.mkdtemp(path.join(work, 'x-'));
  await run('tar', ['xzf', out, '-C', x]);
  for (const [p, sha] of blocks(manifest)) assert.ok(existsSync(path.join(x, p)), `${p} extracted (${sha.slice(0, 8)})`);
  await fsp.rm(x, { recursive: true, force: true });
  const analysis = await analyzeSource(out);
  assert.deepEqual(analysis.diagnostics.filter((d) => d.severity === 'error'), []);
  assert.ok(!existsSync(`${out}.partial`) && !existsSync(resumeRecordPath(out)), 'no partial or progress record left');
}

async function assertKeptForResume(out: string, e: Failure): Promise<boolean> {
  if (e.details?.resumable !== true) return false;
  assert.match(e.message, /kept in .*\.partial: run the same dump again to resume/);
  assert.ok(existsSync(`${out}.partial`) && (await readResumeRecord(out)), 'partial and progress record kept');
  assert.ok(!existsSync(out), 'nothing under the final name');
  return true;
}

describe('resume an interrupted dump', () => {
  test('the exec connection cut at random moments, resumed each time', async () => {
    const out = path.join(work, 'cut.tar.gz');
    const random = rng(1201);
    const total = reference.manifestData.archive.tarBytes;
    let interrupted = 0;
    let resumedRuns = 0;
    let result: DumpOutcome | undefined;
    for (let attempt = 0; !result; attempt++) {
      assert.ok(attempt < 12, 'finished within 12 runs');
      // the first runs are cut after a random number of bytes (of the next exec big enough to send them)
      if (attempt < 6) cluster.injectFault(KEY, { kind: 'drop-exec-after-bytes', bytes: 64 * 1024 + Math.floor(random() * total * 0.5) });
      try {
        result = await dumpFromPod({ target: prod(), output: out });
      } catch (e) {
        assert.ok(await assertKeptForResume(out, e as Failure), `resumable: ${(e as Error).message}`);
        interrupted++;
      } finally {
        cluster.clearFaults(KEY);
      }
      if (result?.resumed) resumedRuns++;
    }
    assert.ok(interrupted >= 3, `interrupted ${interrupted} times`);
    assert.ok(result.resumed && result.resumed.files > 0, 'the last run kept files of the interrupted ones');
    assert.ok(result.transferredBytes! < result.manifestData.archive.tarBytes, 'the last run did not read everything again');
    assert.ok(resumedRuns >= 1);
    await assertSameAsReference(out, result.manifestData);
  });

  test('the CLI killed with SIGKILL at random moments, resumed each time', async () => {
    const out = path.join(work, 'killed.tar.gz');
    const random = rng(1202);
    const args = [cliPath, 'dump', 'monitoring/prometheus-0', '--kubeconfig', kubeconfig, '--context', 'prod', '-o', out, '--json'];
    let killed = 0;
    const archive = reference.manifestData.archive.bytes;
    for (let i = 0; i < 4; i++) {
      // 5 MB/s: the 20 MB pod takes ~4 s; killed once the partial holds a random 10–80 % of the dump
      const child = spawn(process.execPath, [...args, '--rate-limit', '5'], { stdio: 'ignore' });
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      const at = archive * (0.1 + random() * 0.7);
      const poll = setInterval(() => {
        const size = existsSync(`${out}.partial`) ? statSync(`${out}.partial`).size : 0;
        if (size >= at) child.kill('SIGKILL');
      }, 20);
      const code = await exited;
      clearInterval(poll);
      if (code === null) killed++;
      else assert.equal(code, 0, 'a run that was not killed finished');
    }
    assert.ok(killed >= 2, `killed ${killed} times`);
    const { stdout } = await run(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 });
    const result = JSON.parse(stdout) as DumpOutcome;
    assert.ok(result.resumed && result.resumed.files > 0, 'the run after the kills resumed');
    const manifest = JSON.parse(await fsp.readFile(`${out}.manifest.json`, 'utf8')) as DumpManifest;
    await assertSameAsReference(out, manifest);
  });

  test('the API server restarted mid-dump, twice, then resumed', async () => {
    const out = path.join(work, 'apiserver.tar.gz');
    const random = rng(1203);
    const total = reference.manifestData.archive.tarBytes;
    for (let i = 0; i < 2; i++) {
      const at = total * (0.1 + random() * 0.6);
      let restarting: Promise<void> | undefined;
      await assert.rejects(
        dumpFromPod(
          { target: prod(), output: out },
          {
            maxBytesPerSecond: 5_000_000,
            onProgress: (p) => {
              if (p.phase === 'streaming' && p.bytes >= at && !restarting) restarting = cluster.restartApiServers(1000);
            },
          },
        ),
        (e: Failure) => {
          assert.equal(e.details?.resumable, true, e.message);
          return true;
        },
      );
      assert.ok(restarting, 'the API server was restarted while the dump streamed');
      await restarting;
      await cluster.pod(KEY).waitReady(60_000);
    }
    const preview = await previewDump({ target: prod(), output: out });
    assert.ok(preview.resumable && preview.resumable.bytes > 0, 'the dry run says the dump can be resumed');
    const result = await dumpFromPod({ target: prod(), output: out });
    assert.ok(result.resumed && result.resumed.files > 0);
    await assertSameAsReference(out, result.manifestData);
  });

  test('cancelled at 90 %: the resumed run transfers at most 15 % again; --no-resume starts over', async () => {
    const out = path.join(work, 'ninety.tar.gz');
    const ac = new AbortController();
    const total = reference.manifestData.archive.tarBytes;
    await assert.rejects(
      dumpFromPod(
        { target: prod(), output: out },
        { signal: ac.signal, maxBytesPerSecond: 8_000_000, onProgress: (p) => p.bytes >= total * 0.9 && ac.abort() },
      ),
      (e: Failure) => {
        assert.equal(e.code, 'cancelled');
        assert.match(e.message, /dump cancelled; .* received are kept/);
        return true;
      },
    );
    const result = await dumpFromPod({ target: prod(), output: out });
    const sent = result.transferredBytes!;
    const size = result.manifestData.archive.tarBytes;
    assert.ok(sent <= 0.15 * size, `resuming after 90 % transferred ${sent} of ${size} bytes (${((100 * sent) / size).toFixed(1)} %): ${JSON.stringify({ ...result.resumed, keptFiles: result.resumed?.keptFiles.length })}`);
    assert.ok(result.resumed!.files > 0);
    await assertSameAsReference(out, result.manifestData);

    // --no-resume: an interrupted run's partial is not used
    const ac2 = new AbortController();
    await assert.rejects(
      dumpFromPod({ target: prod(), output: out }, { signal: ac2.signal, maxBytesPerSecond: 8_000_000, onProgress: (p) => p.bytes >= total * 0.5 && ac2.abort() }),
    );
    const fresh = await dumpFromPod({ target: prod(), output: out, resume: false });
    assert.equal(fresh.resumed, undefined);
    assert.ok(fresh.transferredBytes! >= fresh.manifestData.archive.tarBytes * 0.99, 'everything read again');
  });

  test('resumed with another range: blocks outside it are cut out of the partial, the rest kept', async () => {
    const out = path.join(work, 'ranged.tar.gz');
    const ac = new AbortController();
    const total = reference.manifestData.archive.tarBytes;
    await assert.rejects(
      dumpFromPod({ target: prod(), output: out }, { signal: ac.signal, maxBytesPerSecond: 8_000_000, onProgress: (p) => p.phase === 'streaming' && p.bytes >= total * 0.6 && ac.abort() }),
    );
    const blocks = [...reference.manifestData.blocks].sort((a, b) => a.minTime - b.minTime);
    assert.ok(blocks.length >= 3, 'the fixture has blocks to leave out');
    const from = blocks[Math.floor(blocks.length / 2)].minTime;
    const ranged = await dumpFromPod({ target: prod(), from, output: path.join(work, 'ranged-fresh.tar.gz') });
    const result = await dumpFromPod({ target: prod(), from, output: out });
    assert.ok(result.resumed!.dropped.some((d) => /no longer part of the dump/.test(d)), result.resumed!.dropped.join('; '));
    assert.ok(result.resumed!.files > 0);
    await assertSameAsReference(out, result.manifestData, ranged.manifestData);
  });
});
