/** Argument parsing shared by the commands: node's parseArgs, with usage errors as ToolError('usage'). */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ToolError } from '../errors';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<O extends OptionSpec>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    const msg = e instanceof Error ? e.message.replace(/\. To specify a positional argument.*$/s, '') : String(e);
    throw new ToolError('usage', `${command}: ${msg} (see \`tsdbdump ${command} --help\`)`);
  }
}

/** Checks a string option against its allowed values. */
export function oneOf<T extends string>(command: string, name: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new ToolError('usage', `${command}: --${name} must be one of ${allowed.join(', ')} (got "${value}")`);
}
