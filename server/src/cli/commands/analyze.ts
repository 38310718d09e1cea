/** `tsdbdump analyze <source> [--json] [--verify quick|full]` */
import { analyzeSource } from '../../analysis/analyze';
import { renderReport } from '../../analysis/report';
import { ToolError } from '../../errors';
import { DEFAULT_VERIFY } from '../../protocol';
import { analyzePod } from '../../kube/analyzePod';
import { KUBE_OPTIONS, targetFrom } from '../kubeArgs';
import { oneOf, parseCommandArgs } from '../args';
import type { CliCommand } from '../types';

export const analyzeCommand: CliCommand = {
  name: 'analyze',
  summary: 'analyse a dump (.tar.gz, .tgz, .tar) or a data directory and report what is in it and what is wrong',
  usage: `Usage: tsdbdump analyze <source> [--json] [--verify quick|full]

Reads a Prometheus dump (.tar.gz/.tgz/.tar as promdump writes it) or a data directory without
running Prometheus, and reports blocks, head chunks, WAL, time coverage and diagnostics.

<source> may also be pod:<pod> (or pod:<namespace>/<pod>, with --kubeconfig, --context, -n, -c,
--data-dir): the pod's data dir is streamed straight into the analysis, nothing is saved.

Options:
  --json            print the analysis as JSON (the AnalysisResult schema) instead of the report
  --verify full     check what Prometheus checks at startup, all framing, and the CRC32C of
                    every chunk, series entry and postings list (default: what a query trips over)
  --verify quick    only the startup checks and framing; skips the chunk, series and postings
                    CRC32Cs, so a chunk with a bad checksum (queries touching it fail) goes unseen
  -h, --help        show this help

Exit status: 0 no error diagnostics, 1 error diagnostics found, 2 usage or I/O error
(not a dump, unreadable file, archive cut before its first entry).`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs('analyze', argv, {
      json: { type: 'boolean' },
      verify: { type: 'string' },
      ...KUBE_OPTIONS,
    });
    if (values.help) {
      ctx.stdout.write(`${this.usage}\n`);
      return 0;
    }
    if (positionals.length !== 1) throw new ToolError('usage', `analyze: expected exactly one <source> (see \`tsdbdump analyze --help\`)`);
    const verify = oneOf('analyze', 'verify', values.verify as string | undefined, ['quick', 'full'] as const, DEFAULT_VERIFY);
    const progress = ctx.progress('analyzing');
    let result;
    try {
      // `pod:<pod>`: stream the pod's data dir straight into the analysis (server/src/kube)
      const onProgress = (p: { bytes: number; totalBytes?: number; entry?: string }) => progress.update(p.bytes, p.totalBytes, p.entry);
      if (positionals[0].startsWith('pod:'))
        result = await analyzePod(targetFrom(positionals[0], values), { verify, signal: ctx.signal, onProgress });
      else
        result = await analyzeSource(positionals[0], {
          verify,
          signal: ctx.signal,
          onProgress: (p) => progress.update(p.bytes, p.totalBytes, p.entry),
        });
    } finally {
      progress.done();
    }
    if (values.json) ctx.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else ctx.stdout.write(renderReport(result).text);
    return result.diagnostics.some((d) => d.severity === 'error') ? 1 : 0;
  },
};
