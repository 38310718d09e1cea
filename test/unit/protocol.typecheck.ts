/**
 * Type-level test of the protocol (issue 14), checked by `tsc -p .` (the typecheck and the test
 * build), never run: both sides take protocol.ts's request constants, so a misspelt or renamed
 * field of a request's params or result is a type error in the client's `Worker.request` and in
 * the worker's `connection.onRequest`. Each `@ts-expect-error` fails the build when the line below
 * it stops being an error, e.g. when a request loses its typed constant.
 */
import type { Connection } from 'vscode-languageserver/node';
import type { Worker } from '../../client/src/worker';
import { Requests, type AnalysisResult } from '../../server/src/protocol';

export async function clientSide(worker: Worker): Promise<void> {
  const result: AnalysisResult = await worker.request(Requests.analyze, { source: '/dump.tar.gz', verify: 'full' });
  void result;
  // @ts-expect-error a renamed params field (source → path) is refused
  await worker.request(Requests.analyze, { path: '/dump.tar.gz' });
  // @ts-expect-error a params value outside its type is refused
  await worker.request(Requests.analyze, { source: '/dump.tar.gz', verify: 'deep' });
  const plan = await worker.request(Requests.repair, { source: '/dump.tar.gz', dryRun: true });
  // @ts-expect-error a renamed result field (actions → steps) is refused
  void plan.steps;
  const times = await worker.request(Requests.parseTimes, { texts: ['now-6h'] });
  void times[0].ms;
  // @ts-expect-error the result of parseTimes has no `instant`
  void times[0].instant;
  // @ts-expect-error the params of one request are not those of another
  await worker.request(Requests.dump, { source: '/dump.tar.gz' });
}

export function workerSide(connection: Connection): void {
  connection.onRequest(Requests.probe, (params) => params.sources.map((source) => ({ source, kind: 'none' as const })));
  // @ts-expect-error a renamed params field (sources → paths) is refused in the handler
  connection.onRequest(Requests.probe, (params) => params.paths.map(() => ({ source: '', kind: 'none' as const })));
  // @ts-expect-error the handler must answer the declared result type (ProbeResult.kind is archive | dir | none)
  connection.onRequest(Requests.probe, () => [{ source: '/x', kind: 'zip' }]);
  connection.onRequest(Requests.report, () => ({ text: '', lines: {} }));
  // @ts-expect-error a renamed result field (lines → lineOf) is refused
  connection.onRequest(Requests.report, () => ({ text: '', lineOf: {} }));
}
