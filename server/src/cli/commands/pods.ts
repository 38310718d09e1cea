/** `tsdbdump pods [--context C] [-n NS] [-l selector] [--json]` */
import { ToolError } from '../../errors';
import { listPrometheusPods } from '../../kube/prometheusPods';
import { parseCommandArgs } from '../args';
import type { CliCommand } from '../types';

export const podsCommand: CliCommand = {
  name: 'pods',
  summary: 'list Prometheus pods of a kubeconfig context (by labels or image)',
  usage: `Usage: tsdbdump pods [--context C] [-n NS] [-l SELECTOR] [--json]

Lists the pods running Prometheus: by default pods labelled app.kubernetes.io/name=prometheus or
app=prometheus, or with a container image named like prometheus; -l replaces that with a label selector.

Options:
  --kubeconfig FILE   kubeconfig to read (never modified)
  --context NAME      context for this command only (default: the current context)
  -n, --namespace NS  one namespace (default: all namespaces)
  -l, --selector SEL  Kubernetes label selector, e.g. app=prometheus
  --json              print the pods as JSON (PodInfo[])
  -h, --help          show this help`,
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs('pods', argv, {
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      selector: { type: 'string', short: 'l' },
      json: { type: 'boolean' },
    });
    if (values.help) {
      ctx.stdout.write(`${this.usage}\n`);
      return 0;
    }
    if (positionals.length) throw new ToolError('usage', 'pods: no positional arguments expected (see `tsdbdump pods --help`)');
    const pods = await listPrometheusPods({
      kubeconfig: values.kubeconfig as string | undefined,
      context: values.context as string | undefined,
      namespace: values.namespace as string | undefined,
      labelSelector: values.selector as string | undefined,
      signal: ctx.signal,
    });
    if (values.json) {
      ctx.stdout.write(`${JSON.stringify(pods, null, 2)}\n`);
      return 0;
    }
    if (!pods.length) {
      ctx.stdout.write('no Prometheus pods found\n');
      return 0;
    }
    const rows = [['CONTEXT', 'NAMESPACE', 'POD', 'READY', 'STATUS', 'CONTAINER', 'CONTAINERS']];
    for (const p of pods)
      rows.push([p.context, p.namespace, p.name, p.ready ? 'yes' : 'no', p.phase, p.prometheusContainer ?? '-', p.containers.join(',')]);
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) ctx.stdout.write(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')}\n`);
    return 0;
  },
};
