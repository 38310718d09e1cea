// Entry point for extensionTestsPath: VS Code loads this module inside the extension host and
// awaits run(). Used by test/ui/run.mjs (code-server with the smoke-test driver) and by
// test/vscode/runTest.ts (@vscode/test-electron, on machines that can download VS Code).
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 60_000 });
  for (const f of fs.readdirSync(__dirname).filter((f) => f.endsWith('.test.js')).sort()) mocha.addFile(path.join(__dirname, f));
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const file = process.env.TSDBDUMP_EXT_RESULTS;
      const stats = runner.stats ?? { passes: 0, failures };
      if (file) fs.writeFileSync(file, JSON.stringify({ passed: stats.passes, failed: stats.failures }));
      if (failures) reject(new Error(`${failures} tests failed`));
      else resolve();
    });
  });
}
