/**
 * Every command by id (those of package.json's `contributes.commands`, and tsdbdump.revealBlock for
 * the timeline and automation), as a table of named functions, one module per concern, registered
 * in one place.
 */
import * as vscode from 'vscode';
import { dumpFromPod } from './dumpFromPod';
import { analyze, openDump, refresh, revealBlock, showReport } from './dumps';
import { analyzePod } from './analyzePod';
import { repair } from './repair';
import { restore } from './restore';
import { filterSeries } from './series';
import type { Command, Services } from './services';
import { showTimeline } from './timeline';

export const COMMANDS: Record<string, Command> = {
  'tsdbdump.refresh': refresh,
  'tsdbdump.openDump': openDump,
  'tsdbdump.analyze': analyze,
  'tsdbdump.showReport': showReport,
  'tsdbdump.showTimeline': showTimeline,
  'tsdbdump.revealBlock': revealBlock,
  'tsdbdump.repair': repair,
  'tsdbdump.dump': dumpFromPod,
  'tsdbdump.restore': restore,
  'tsdbdump.analyzePod': analyzePod,
  'tsdbdump.filterSeries': filterSeries,
};

export function registerCommands(s: Services): vscode.Disposable[] {
  return Object.entries(COMMANDS).map(([id, fn]) => vscode.commands.registerCommand(id, (...args: unknown[]) => fn(s, ...args)));
}
