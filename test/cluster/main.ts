/**
 * `npm run test-cluster -- --kubeconfig <path> [--state-dir D] [--seed prod/monitoring/prometheus-0=<dir>]…`
 * Starts the loopback test cluster (see index.ts for topology and the programmatic API), writes the
 * kubeconfig, prints `test cluster ready: kubeconfig=<path>` once every pod is Ready, and stops every
 * process on SIGINT/SIGTERM.
 */
import path from 'node:path';
import { startTestCluster, type StartOptions } from './testCluster';

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: npm run test-cluster -- --kubeconfig <path> [--state-dir <dir>] [--seed <cluster>/<namespace>/<pod>=<dir>]...\n`,
  );
  process.exit(2);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opts: StartOptions = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = (): string => args[++i] ?? usage(`${a} needs a value`);
    if (a === '--kubeconfig') opts.kubeconfigPath = path.resolve(value());
    else if (a === '--state-dir') opts.stateDir = path.resolve(value());
    else if (a === '--seed') {
      const [key, dir] = value().split(/=(.*)/s);
      if (!key || !dir) usage('--seed wants <cluster>/<namespace>/<pod>=<dir>');
      opts.seed = { ...(opts.seed ?? {}), [key]: path.resolve(dir) };
    } else if (a === '--help' || a === '-h') usage('');
    else usage(`unknown argument ${a}`);
  }
  if (!opts.kubeconfigPath) usage('--kubeconfig is required');
  if (process.getuid && process.getuid() !== 0) {
    process.stderr.write('error: the test cluster must run as root (pods are chroot directories)\n');
    process.exit(1);
  }
  const cluster = await startTestCluster(opts);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: stopping the test cluster\n`);
    cluster.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  for (const [name, url] of Object.entries(cluster.servers)) process.stdout.write(`cluster ${name}: ${url}\n`);
  for (const c of cluster.contexts)
    process.stdout.write(`context ${c.name}: user ${c.user}, namespace ${c.namespace}${c.restricted ? ' (no exec/proxy/delete)' : ''}\n`);
  for (const p of cluster.pods)
    process.stdout.write(`pod ${p.key}: root ${p.root}${p.prometheusUrl ? `, prometheus ${p.prometheusUrl}` : ''}\n`);
  process.stdout.write(`test cluster ready: kubeconfig=${cluster.kubeconfigPath}\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`error: ${e.message}\n`);
  process.exit(1);
});
