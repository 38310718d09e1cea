/**
 * Shared shapes of the format parsers. Every parser is a pure function (or a small push-scanner for
 * files too large to hold) over bytes; none does I/O. Problems carry the Prometheus error text they
 * predict, so the analysis can quote it.
 */
export type Verify = 'quick' | 'full';

export interface FormatProblem {
  /** Prometheus-style message, e.g. `checksum mismatch expected:680c9110, actual:2b841d79`. */
  message: string;
  /** Byte offset in the file where the problem is. */
  offset?: number;
}

/**
 * Random access to one file's bytes (a buffer, or a spilled temp file for big ones).
 * Synchronous on purpose: parsing is CPU work in the worker.
 */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}

/** A file consumed as a stream of byte chunks, in order, with back-pressure handled by the caller. */
export interface PushScanner<Summary> {
  push(bytes: Uint8Array): void;
  end(): Summary;
}
