/** Every CLI command, in the order `tsdbdump --help` lists them. Add a command: one module, one line here. */
import type { CliCommand } from '../types';
import { analyzeCommand } from './analyze';
import { repairCommand } from './repair';

export const COMMANDS: CliCommand[] = [analyzeCommand, repairCommand];
