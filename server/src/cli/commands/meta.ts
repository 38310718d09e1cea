/** `tsdbdump meta <pod> [--json]`: the pod's TSDB summary (blocks, head, size, version). */
import { humanBytes, utc } from '../../analysis/goFormat';
import { ToolError } from '../../errors';
import { podSummary } from '../../kube/summary';
import { KUBE_OPTIONS, KUBE_USAGE, targetFrom } from '../kubeArgs';

import { parseCommandArgs } from '../args';
import type { CliCommand } from '../types';

export const metaCommand: CliCommand = {
  name: 'meta',
  summary: "show a pod's TSDB: blocks, time range, head, size, Prometheus version and retention",
  usage: `Usage: tsdbdump meta <pod> [--json]

<pod> is <pod>, <namespace>/<pod> or <context>/<namespace>/<pod>. Reads every meta.json with one
exec (ls/cat in the pod) and the version/retention through the pod proxy.

${KUBE_USAGE}
  --json              print the summary as JSON (PodTsdbSummary)
  -h, --help          show this help`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs('meta', argv, { ...KUBE_OPTIONS, json: { type: 'boolean' } });
    if (values.help) {
      ctx.stdout.write(`${this.usage}\n`);
      return 0;
    }
    if (positionals.length !== 1) throw new ToolError('usage', 'meta: expected exactly one <pod> (see `tsdbdump meta --help`)');
    const s = await podSummary(targetFrom(positionals[0], values), ctx.signal);
    if (values.json) {
      ctx.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
      return s.error ? 2 : 0;
    }
    if (s.error) throw new ToolError(s.error.code, s.error.message);
    const out: string[] = [];
    out.push(`pod        ${s.target.context}/${s.target.namespace}/${s.target.pod} (container ${s.target.container})`);
    out.push(`prometheus ${s.prometheusVersion ?? 'unknown'}, retention ${s.retention ?? 'unknown'}`);
    out.push(`data dir   ${s.dataDir}, ${humanBytes(s.sizeBytes)}`);
    out.push(`range      ${utc(s.minTime)} – ${utc(s.maxTime)} (blocks and head)`);
    out.push(`head       ${s.headFiles} chunks_head file(s), ${s.walSegments} WAL segment(s)`);
    out.push(`blocks     ${s.blocks.length}`);
    for (const b of s.blocks) out.push(`  ${b.ulid}  ${utc(b.minTime)} – ${utc(b.maxTime)}  ${humanBytes(b.sizeBytes)}`);
    ctx.stdout.write(`${out.join('\n')}\n`);
    return 0;
  },
};
