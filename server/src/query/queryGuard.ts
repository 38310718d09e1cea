/**
 * The guard of a local Prometheus (bundled to dist/queryGuard.js): a tiny process between the CLI or
 * worker and Prometheus that owns the private copy of the dump. It exists so that nothing outlives its
 * parent, however the parent ends: the parent holds the write end of the guard's stdin, and its EOF
 * (a normal stop, Ctrl-C, a crash, SIGKILL) makes the guard stop Prometheus (SIGTERM, SIGKILL after
 * 10 s) and remove the temp dir. Node has no PR_SET_PDEATHSIG; a pipe's EOF is what the kernel gives
 * every dying process for free.
 *
 * argv: <tempDir>. stdin: one JSON line per start, `{"binary": …, "args": […]}`; stdout: one JSON
 * line per event, `{"started": pid}`, `{"exited": code, "signal": …}`. Prometheus's log goes to stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const KILL_AFTER_MS = 10_000;

function main(): void {
  const tempDir = process.argv[2];
  // Only ever remove what the parent made for this run: a tsdbdump-query-* dir in the temp folder.
  if (!tempDir || path.dirname(tempDir) !== path.resolve(os.tmpdir()) || !path.basename(tempDir).startsWith('tsdbdump-query-')) {
    process.stderr.write(`queryGuard: refusing temp dir ${tempDir}\n`);
    process.exit(2);
  }
  let child: ChildProcess | undefined;
  let stopping = false;
  const send = (event: object): void => {
    try {
      process.stdout.write(`${JSON.stringify(event)}\n`);
    } catch {
      // the parent is gone: nothing to tell
    }
  };
  const finish = (): never => {
    rmSync(tempDir, { recursive: true, force: true });
    process.exit(0);
  };
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    if (!child || child.exitCode !== null || child.signalCode !== null) finish();
    child!.kill('SIGTERM');
    setTimeout(() => child?.kill('SIGKILL'), KILL_AFTER_MS).unref();
  };
  // Ctrl-C reaches the whole foreground process group: stop in order instead of dying with data left.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, stop);
  process.stdout.on('error', () => undefined);
  let buffered = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (text: string) => {
    buffered += text;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (stopping || (child && child.exitCode === null && child.signalCode === null)) continue;
      const { binary, args } = JSON.parse(line) as { binary: string; args: string[] };
      const c = spawn(binary, args, { stdio: ['ignore', 'inherit', 'inherit'] });
      child = c;
      c.once('error', (e) => {
        // A binary that could not be spawned never exits: forget it.
        if (child === c) child = undefined;
        if (stopping) finish();
        send({ error: e.message });
      });
      c.once('spawn', () => send({ started: c.pid }));
      c.once('exit', (code, signal) => {
        if (stopping) finish();
        send({ exited: code, signal });
      });
    }
  });
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.on('error', stop);
}

main();
