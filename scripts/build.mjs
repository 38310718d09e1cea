#!/usr/bin/env node
// Bundles the three entry points with esbuild (client for the extension host, worker, CLI) and,
// with --tests, compiles the TypeScript tests to out/ with tsc (which is also the type check).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const args = new Set(process.argv.slice(2));
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  minify: args.has('--minify'),
  logLevel: 'warning',
  absWorkingDir: root,
  // Native CRC32C: shipped as a platform package inside node_modules, loaded at run time.
  external: ['vscode', '@node-rs/crc32'],
};
await Promise.all([
  build({ ...common, entryPoints: ['client/src/extension.ts'], outfile: 'dist/client.js' }),
  build({ ...common, entryPoints: ['server/src/lsp/server.ts'], outfile: 'dist/server.js' }),
  // The worker's cluster functions (mostly the Kubernetes client), required by server.js on first use.
  build({ ...common, entryPoints: ['server/src/lsp/cluster.ts'], outfile: 'dist/cluster.js' }),
  // The CLI runs beside node_modules (npm run cli, the package's bin), so the Kubernetes client stays
  // external there: bundled, its 11 MB of source cost ~60 MB of heap at every start, even for `analyze`.
  build({ ...common, external: [...common.external, '@kubernetes/client-node'], entryPoints: ['server/src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } }),
  // Worker thread that parses big block indexes beside the archive reader (server/src/analysis/indexPool.ts).
  build({ ...common, entryPoints: ['server/src/analysis/indexWorker.ts'], outfile: 'dist/indexWorker.js' }),
  // The process between a local Prometheus and its parent (server/src/query/queryGuard.ts).
  build({ ...common, entryPoints: ['server/src/query/queryGuard.ts'], outfile: 'dist/queryGuard.js' }),
]);
if (args.has('--tests')) {
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });
}
