// Runs the extension-host suite in a desktop VS Code downloaded by @vscode/test-electron.
// Not used on machines without access to update.code.visualstudio.com (there, test/ui/run.sh runs
// the same suite through code-server). Usage: node out/test/vscode/runTest.js <workspace-folder>
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';

async function main(): Promise<void> {
  const repoRoot = path.resolve(__dirname, '../../..');
  const workspace = process.argv[2];
  if (!workspace) throw new Error('usage: runTest.js <workspace folder with healthy/overlap/head-gap .tar.gz>');
  await runTests({
    extensionDevelopmentPath: repoRoot,
    extensionTestsPath: path.join(__dirname, 'suite', 'index.js'),
    launchArgs: [path.resolve(workspace), '--disable-extensions', '--disable-workspace-trust'],
  });
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
