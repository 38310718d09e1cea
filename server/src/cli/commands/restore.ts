/** `tsdbdump restore <dump> <pod> [--mode replace|merge] [--backup file] [--yes] [--dry-run]` */
import { createInterface } from 'node:readline/promises';
import { humanBytes, utc } from '../../analysis/goFormat';
import { ToolError } from '../../errors';
import { restoreToPod } from '../../kube/restore';
import { removedLeftoverLine } from '../../kube/leftovers';
import { KUBE_OPTIONS, KUBE_USAGE, targetFrom } from '../kubeArgs';
import type { RestorePreview, UploadMethod } from '../../protocol';

import { oneOf, parseCommandArgs } from '../args';
import type { CliCommand, CliContext } from '../types';

const UPLOAD_METHODS: Record<UploadMethod, string> = {
  tar: 'one tar stream into `tar xf -`',
  cat: 'one `cat > file` per file (no tar in the pod)',
  head: 'one `head -c <size> > file` per file (no v5 exec: stdin cannot be closed)',
};

function describe(p: RestorePreview): string {
  const lines = [
    `restore into ${p.pod.context}/${p.pod.namespace}/${p.pod.name}:${p.dataDir} ` +
      `(container ${p.pod.container}, Prometheus ${p.prometheusVersion ?? 'unknown'}), mode ${p.mode}`,
  ];
  if (p.mode === 'replace') lines.push(`replaces everything now in ${p.dataDir}: ${p.replaces.join(', ') || '(empty)'}`);
  lines.push(`adds ${p.adds.length} block(s): ${p.adds.join(', ') || '-'}`);
  for (const s of p.skipped) lines.push(`skips ${s}`);
  lines.push(
    `uploads ${humanBytes(p.uploadBytes)}${p.freeBytes !== undefined ? ` (${humanBytes(p.freeBytes)} free in the pod)` : ''}; ` +
      `backup of the current data first: ${p.backup}`,
  );
  lines.push(`upload: ${UPLOAD_METHODS[p.uploadMethod]}${p.execProtocol ? ` (exec protocol ${p.execProtocol})` : ''}`);
  lines.push(`data volume: ${p.dataVolume.description}; ${p.dataVolume.restartDescription}`);
  for (const w of p.warnings) lines.push(`warning: ${w}`);
  for (const e of p.errors) lines.push(`error in the dump: ${e}`);
  return lines.join('\n');
}

async function ask(ctx: CliContext, question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(question, { signal: ctx.signal });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export const restoreCommand: CliCommand = {
  name: 'restore',
  summary: 'restore a dump into a pod (verified backup first, staging, checksums, restart, query check)',
  usage: `Usage: tsdbdump restore <dump> <pod> [--mode replace|merge] [--backup FILE] [--yes] [--force] [--dry-run] [--json]

Analyses the dump and refuses on error diagnostics unless --force; checks the target (Ready,
exec permission, free space, Prometheus version vs overlapping blocks, retention); backs up the
target's data to a verified local dump; uploads into a staging dir in the pod and verifies it
with sha256sum; swaps it in, restarts Prometheus, waits until Ready and queries the restored
range through the pod proxy. Any failure leaves the pod as it was (or puts the previous data back).

Options:
  --mode replace      replace the whole data dir with the dump (default)
  --mode merge        add the dump's blocks that the target lacks; keep the target's head and blocks
  --backup FILE       where to write the backup (default: beside the dump)
  -y, --yes           do not ask for confirmation (required without a terminal)
  --force             restore even when the dump has error diagnostics
  --dry-run           analyse and check the target, print what the restore would do, change nothing
                      (exit 1 when the dump has error diagnostics)
  --json              print the result as JSON
${KUBE_USAGE}
  -h, --help          show this help`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs('restore', argv, {
      ...KUBE_OPTIONS,
      mode: { type: 'string' },
      backup: { type: 'string' },
      yes: { type: 'boolean', short: 'y' },
      force: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (values.help) {
      ctx.stdout.write(`${this.usage}\n`);
      return 0;
    }
    if (positionals.length !== 2) throw new ToolError('usage', 'restore: expected <dump> and <pod> (see `tsdbdump restore --help`)');
    const mode = oneOf('restore', 'mode', values.mode as string | undefined, ['replace', 'merge'] as const, 'replace');
    const request = {
      source: positionals[0],
      target: targetFrom(positionals[1], values),
      mode,
      backup: values.backup as string | undefined,
      force: !!values.force,
    };
    if (values['dry-run']) {
      const { preview } = await restoreToPod({ ...request, dryRun: true }, { signal: ctx.signal });
      ctx.stdout.write(values.json ? `${JSON.stringify(preview, null, 2)}\n` : `${describe(preview)}\n(dry run: nothing was changed)\n`);
      return preview.errors.length ? 1 : 0;
    }
    const tty = !!process.stdin.isTTY && !!process.stderr.isTTY;
    if (!values.yes && !tty) throw new ToolError('usage', 'restore replaces data in a pod: without a terminal to confirm on, pass --yes');
    const log = (s: string) => ctx.stderr.write(`${s}\n`);
    const progress = ctx.progress('restoring');
    let lastPhase = '';
    const result = await restoreToPod(
      request,
      {
        signal: ctx.signal,
        onProgress: (p) => {
          if (p.phase !== lastPhase) {
            progress.done();
            log(`${p.phase}: ${p.message}`);
            lastPhase = p.phase;
          }
          if (p.bytes !== undefined) progress.update(p.bytes, p.totalBytes);
        },
        confirm: async (preview) => {
          progress.done();
          log(describe(preview));
          if (values.yes) return true;
          return ask(ctx, `Proceed with the restore into ${preview.pod.namespace}/${preview.pod.name}? [y/N] `);
        },
      },
    );
    progress.done();
    if (values.json) {
      const { backupResult: _b, ...rest } = result;
      ctx.stdout.write(`${JSON.stringify(rest, null, 2)}\n`);
    } else {
      ctx.stdout.write(
        `restored ${result.restoredBlocks.length} block(s) ` +
          `into ${result.target.context}/${result.target.namespace}/${result.target.pod}; backup at ${result.backup}\n`,
      );
      for (const c of result.cleanedUp ?? []) ctx.stdout.write(`${removedLeftoverLine(c)}\n`);
      if (result.verifiedRange)
        ctx.stdout.write(
          `verified: ${result.verifiedSeries} series answer queries ` +
            `over ${utc(result.verifiedRange.from)} – ${utc(result.verifiedRange.to)}\n`,
        );
      for (const w of result.warnings) ctx.stdout.write(`warning: ${w}\n`);
    }
    return 0;
  },
};
