/** Every CLI command, in the order `tsdbdump --help` lists them. Add a command: one module, one line here. */
import type { CliCommand } from '../types';
import { analyzeCommand } from './analyze';
import { repairCommand } from './repair';
import { podsCommand } from './pods';
import { metaCommand } from './meta';
import { dumpCommand } from './dump';
import { restoreCommand } from './restore';
import { queryCommand } from './query';
import { seriesCommand } from './series';
import { samplesCommand } from './samples';

export const COMMANDS: CliCommand[] = [
  analyzeCommand, repairCommand, podsCommand, metaCommand, dumpCommand, restoreCommand, queryCommand, seriesCommand, samplesCommand,
];
