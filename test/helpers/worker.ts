/**
 * The worker bundle (dist/server.js) started the way the extension starts it: a Node child over
 * IPC (`--node-ipc`), spoken to with the protocol.ts request constants, so a test goes through
 * exactly the path VS Code's client uses.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  createProtocolConnection,
  InitializeRequest,
  InitializedNotification,
  IPCMessageReader,
  IPCMessageWriter,
  ShutdownRequest,
  ExitNotification,
  type ProtocolConnection,
} from 'vscode-languageserver-protocol/node';
import { repoRoot } from './fixtures';

export interface TestWorker {
  connection: ProtocolConnection;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startWorker(): Promise<TestWorker> {
  const serverJs = path.join(repoRoot, 'dist/server.js');
  if (!existsSync(serverJs)) execFileSync(process.execPath, [path.join(repoRoot, 'scripts/build.mjs')], { stdio: 'inherit' });
  const child = fork(serverJs, ['--node-ipc'], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const connection = createProtocolConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
  connection.listen();
  await connection.sendRequest(InitializeRequest.type, { processId: process.pid, rootUri: null, capabilities: {} });
  await connection.sendNotification(InitializedNotification.type, {});
  return {
    connection,
    child,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await connection.sendRequest(ShutdownRequest.type).catch(() => undefined);
      await connection.sendNotification(ExitNotification.type).catch(() => undefined);
      const timer = setTimeout(() => child.kill(), 5000);
      await exited;
      clearTimeout(timer);
      connection.dispose();
    },
  };
}
