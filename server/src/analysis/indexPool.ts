/**
 * Runs checkIndex in a worker thread for big indexes (in-process for small ones, or when the
 * worker script is not beside this module), so parsing overlaps reading the archive.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { DEFAULT_MEMORY_LIMIT, type DisposableByteSource } from '../dump/byteSource';
import type { Verify } from '../tsdb/types';
import { checkIndex, type IndexCheckResult, type IndexCheckSegment } from './indexCheck';
import type { IndexJob } from './indexWorker';

/** Indexes smaller than this are parsed in-process (a message round trip is not worth it). */
const WORKER_MIN_BYTES = Number(process.env.TSDBDUMP_INDEX_WORKER_MIN ?? 1024 * 1024);

function workerScript(): string | undefined {
  if (process.env.TSDBDUMP_INDEX_WORKER === '0') return undefined;
  // dist/cli.js and dist/server.js → dist/indexWorker.js; out/server/src/analysis/*.js → same folder.
  const p = path.join(__dirname, 'indexWorker.js');
  return existsSync(p) ? p : undefined;
}

export class IndexPool {
  private worker: Worker | undefined;
  private broken = false;
  private nextId = 1;
  private readonly waiting = new Map<number, (r: IndexCheckResult | undefined) => void>();

  /** Checks an index; the source is disposed when done. */
  async check(src: DisposableByteSource, verify: Verify, segments: IndexCheckSegment[]): Promise<IndexCheckResult> {
    try {
      // Spilled indexes (beyond the memory limit) stay on disk and are parsed in-process.
      const worker = src.size >= WORKER_MIN_BYTES && src.size <= DEFAULT_MEMORY_LIMIT ? this.getWorker() : undefined;
      if (worker) {
        const bytes = new Uint8Array(src.size);
        bytes.set(src.read(0, src.size));
        src.dispose();
        const id = this.nextId++;
        const job: IndexJob = { id, bytes, verify, segments };
        const result = await new Promise<IndexCheckResult | undefined>((resolve) => {
          this.waiting.set(id, resolve);
          worker.postMessage(job); // copied, not transferred: the bytes stay here for a fallback
        });
        if (result) return result;
        return checkIndex(memoryByteSourceOf(job.bytes), verify, segments);
      }
      return checkIndex(src, verify, segments);
    } finally {
      src.dispose();
    }
  }

  private getWorker(): Worker | undefined {
    if (this.broken) return undefined;
    if (this.worker) return this.worker;
    const script = workerScript();
    if (!script) return undefined;
    const w = new Worker(script, { workerData: { tsdbdumpIndexWorker: true } });
    w.unref();
    w.on('message', (m: { id: number; result: IndexCheckResult }) => {
      const resolve = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      resolve?.(m.result);
    });
    const fail = () => {
      this.broken = true;
      this.worker = undefined;
      for (const resolve of this.waiting.values()) resolve(undefined);
      this.waiting.clear();
    };
    w.on('error', fail);
    w.on('exit', fail);
    this.worker = w;
    return w;
  }

  close(): void {
    const w = this.worker;
    this.worker = undefined;
    this.broken = true;
    if (w) void w.terminate();
  }
}

function memoryByteSourceOf(bytes: Uint8Array) {
  return { size: bytes.length, read: (o: number, n: number) => bytes.subarray(o, o + n) };
}
