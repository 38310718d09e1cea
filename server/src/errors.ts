/**
 * The one list of codes tsdbdump reports. Diagnostic codes describe problems found in data;
 * failure codes describe why an operation could not be done at all. Both surface to users
 * (CLI, Problems panel), so they are stable strings.
 */

export const DIAGNOSTIC_CODES = [
  'block-overlap',
  'block-superseded',
  'block-deletable',
  'coverage-gap',
  'head-chunks-out-of-sequence',
  'head-chunk-corrupt',
  /** An m-mapped head chunk starts before the previous one of its series ends: Prometheus deletes every head chunk file. */
  'head-chunk-mmap-out-of-sequence',
  'wal-segments-not-sequential',
  'wal-record-corrupt',
  'wal-torn-tail',
  'wal-record-unsupported',
  'wal-checkpoint-stale',
  'meta-missing',
  'meta-invalid',
  'meta-inconsistent',
  'block-ulid-mismatch',
  'index-corrupt',
  'chunk-crc-mismatch',
  'chunk-encoding-unknown',
  'chunk-ref-out-of-range',
  'chunk-corrupt',
  'tombstones-corrupt',
  'lock-file-present',
  'leftover-tmp',
  'tar-unsafe-path',
  'dump-truncated',
  'not-a-dump',
] as const;
export type DiagnosticCode = (typeof DIAGNOSTIC_CODES)[number];

/** Codes for operations that fail as a whole (exit code 2 in the CLI, an error message in VS Code). */
export const FAILURE_CODES = [
  'usage',
  'io-error',
  'not-a-dump',
  'dump-truncated',
  'tar-unsafe-path',
  'cancelled',
  /** No kubeconfig given and none in the default places: not an error of a cluster (the Pods view shows its welcome). */
  'kubeconfig-missing',
  'kube-unreachable',
  'kube-unauthorized',
  'kube-forbidden',
  'kube-not-found',
  'kube-exec-failed',
  'pod-missing-tool',
  'checksum-mismatch',
  'restore-refused',
  /** restore: the dump has error diagnostics; --force (or "Restore Anyway") proceeds. */
  'dump-has-errors',
  /**
   * restore: the target's Prometheus is older than what the restored data needs (the analysis's
   * compatibility gate): it would fail or silently drop data; --force proceeds.
   */
  'target-too-old',
  'restore-failed',
  'repair-failed',
  /** A block to be rewritten or cut cannot be read: its meta.json, index or chunk files are damaged. */
  'block-unreadable',
  /** A series selector that does not parse; `details.position` is the 0-based offset in the text. */
  'selector-invalid',
  /** query: no Prometheus binary (setting tsdbdump.prometheusPath, --prometheus, or PATH). */
  'prometheus-missing',
  /** query: the local Prometheus exited before it was ready on the dump's copy (the analysis says why). */
  'prometheus-refused',
  /** query: the local Prometheus did not get ready in time, or stopped while queried. */
  'prometheus-failed',
  /** query: the PromQL expression does not parse (position in details). */
  'query-invalid',
  /** query: the local Prometheus's sample limit or timeout stopped the query. */
  'query-too-heavy',
  /** query: Prometheus answered with another error (its errorType in details). */
  'query-failed',
  'internal',
] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

/** An error meant for users: a code and a sentence, never a stack trace. */
export class ToolError extends Error {
  constructor(
    readonly code: FailureCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ToolError';
  }
}

export function isToolError(e: unknown): e is ToolError {
  return e instanceof ToolError;
}

/** Wraps anything thrown into a ToolError, keeping ToolErrors as they are. */
export function toToolError(e: unknown, fallback: FailureCode = 'internal'): ToolError {
  if (isToolError(e)) return e;
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err === 'object' && typeof err.code === 'string' && err.syscall) {
    return new ToolError('io-error', `${err.syscall} ${err.path ?? ''}: ${err.code}`.replace(/\s+:/, ':'));
  }
  if (err && (err as Error).name === 'AbortError') return new ToolError('cancelled', 'cancelled');
  return new ToolError(fallback, err instanceof Error ? err.message : String(e));
}
