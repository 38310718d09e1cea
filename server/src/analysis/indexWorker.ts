/**
 * Worker thread running checkIndex, so a big block's index is parsed while the main thread keeps
 * reading (and gunzip keeps inflating) the rest of the archive. Bundled as dist/indexWorker.js;
 * indexPool.ts is the main-thread side.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { memoryByteSource } from '../dump/byteSource';
import type { Verify } from '../tsdb/types';
import { checkIndex, type IndexCheckSegment } from './indexCheck';

export interface IndexJob {
  id: number;
  bytes: Uint8Array;
  verify: Verify;
  segments: IndexCheckSegment[];
}

const port = parentPort;
if (port && (workerData as { tsdbdumpIndexWorker?: boolean } | undefined)?.tsdbdumpIndexWorker) {
  port.on('message', (job: IndexJob) => {
    const result = checkIndex(memoryByteSource(job.bytes), job.verify, job.segments);
    port.postMessage({ id: job.id, result });
  });
}
