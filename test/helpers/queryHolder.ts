/**
 * A parent that holds a local Prometheus and never lets go (for the kill tests of
 * test/integration/query.test.ts): starts one on argv[2] (binary argv[3]), prints its temp dir and
 * port as one JSON line, then waits to be killed.
 */
import { LocalPrometheus } from '../../server/src/query/localPrometheus';

async function main(): Promise<void> {
  const local = await LocalPrometheus.start(process.argv[2], { binary: process.argv[3] });
  process.stdout.write(`${JSON.stringify({ tempDir: local.tempDir, port: local.port })}\n`);
  setInterval(() => undefined, 60_000);
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(2);
});
