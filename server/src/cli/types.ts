/**
 * The CLI's command table. Each command is one module under commands/ exporting a CliCommand;
 * commands/table.ts lists them. A command returns its exit code: 0 fine, 1 problems found in the
 * data (error diagnostics), 2 usage or I/O error (throw a ToolError for those; main.ts prints it).
 */
import type { Writable } from 'node:stream';

export interface CliContext {
  stdout: Writable;
  stderr: Writable;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
  /** True when stderr is a terminal: progress may be shown there. */
  interactive: boolean;
  /** Shows a progress line on stderr (only when interactive); call done() to clear it. */
  progress(label: string): Progress;
}

export interface Progress {
  update(done: number, total?: number, detail?: string): void;
  done(): void;
}

export interface CliCommand {
  name: string;
  /** One line for `tsdbdump --help`. */
  summary: string;
  /** Full usage text for `tsdbdump <name> --help`. */
  usage: string;
  run(argv: string[], ctx: CliContext): Promise<number>;
}
