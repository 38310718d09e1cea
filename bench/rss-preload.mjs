// Loaded with `node --import` into a measured process: on exit, writes its peak RSS (bytes) and
// CPU times to the file named by TSDBDUMP_BENCH_RSS_FILE. Works without /usr/bin/time.
import { writeFileSync } from 'node:fs';

process.on('exit', () => {
  const file = process.env.TSDBDUMP_BENCH_RSS_FILE;
  if (!file) return;
  const u = process.resourceUsage();
  writeFileSync(file, JSON.stringify({ maxRssBytes: u.maxRSS * 1024, userMs: u.userCPUTime / 1000, systemMs: u.systemCPUTime / 1000 }));
});
