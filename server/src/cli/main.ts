/**
 * tsdbdump CLI entry point (bundled to dist/cli.js). Dispatches to the command table, turns
 * failures into `tsdbdump: <message>` and exit code 2 (never a stack trace unless
 * TSDBDUMP_DEBUG=1), and shows progress on stderr only when it is a terminal.
 */
import { toToolError } from '../errors';
import { humanBytes } from '../analysis/goFormat';
import { COMMANDS } from './commands/table';
import type { CliContext, Progress } from './types';

const HELP = () => `Usage: tsdbdump <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join('\n')}

Run \`tsdbdump <command> --help\` for a command's options.
Exit status: 0 success, 1 problems found in the data, 2 usage or I/O error.`;

function makeProgress(stream: NodeJS.WriteStream, interactive: boolean, label: string): Progress {
  if (!interactive) return { update: () => undefined, done: () => undefined };
  let last = 0;
  let shown = false;
  return {
    update(done, total, detail) {
      const now = Date.now();
      if (now - last < 200) return;
      last = now;
      const pct = total ? ` ${Math.min(100, Math.floor((done / total) * 100))}%` : '';
      const line = `${label}${pct} ${humanBytes(done)}${total ? ` / ${humanBytes(total)}` : ''}${detail ? `  ${detail}` : ''}`;
      const width = (stream.columns ?? 80) - 1;
      stream.write(`\r${line.slice(0, width).padEnd(width)}`);
      shown = true;
    },
    done() {
      if (shown) stream.write(`\r${' '.repeat((stream.columns ?? 80) - 1)}\r`);
      shown = false;
    },
  };
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // A reader that stops early (`… | head`) closes the pipe: stop the work and end quietly, as Unix
  // tools do, instead of an unhandled EPIPE stack trace.
  let readerGone = false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    readerGone = true;
    controller.abort();
  });
  const interactive = !!process.stderr.isTTY;
  const ctx: CliContext = {
    stdout: process.stdout,
    stderr: process.stderr,
    signal: controller.signal,
    interactive,
    progress: (label) => makeProgress(process.stderr, interactive, label),
  };
  try {
    const [name, ...rest] = argv;
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      const text = HELP();
      if (name === undefined) {
        process.stderr.write(`${text}\n`);
        return 2;
      }
      process.stdout.write(`${text}\n`);
      return 0;
    }
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) {
      process.stderr.write(`tsdbdump: unknown command "${name}"\n\n${HELP()}\n`);
      if (json) process.stdout.write(`${JSON.stringify({ error: { code: 'usage', message: `unknown command "${name}"` } })}\n`);
      return 2;
    }
    const status = await command.run(rest, ctx);
    return readerGone ? 0 : status;
  } catch (e) {
    if (readerGone) return 0;
    const err = toToolError(e);
    if (process.env.TSDBDUMP_DEBUG === '1' && e instanceof Error) process.stderr.write(`${e.stack ?? e.message}\n`);
    process.stderr.write(`tsdbdump: ${err.message}\n`);
    if (json) process.stdout.write(`${JSON.stringify({ error: { code: err.code, message: err.message } })}\n`);
    return 2;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`tsdbdump: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 2;
  },
);
