import * as fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';

/**
 * A 512 MiB .tar (a wal/ entry, then zeros): cheap to make, long to read; for the cancel test.
 * Uncompressed, so progress (in source bytes) moves steadily. Made once, through `<file>.partial`.
 */
export async function makeBigDump(file: string): Promise<string> {
  if (fs.existsSync(file)) return file;
  const size = 512 * 1024 * 1024;
  const pack = tarStream.pack();
  const done = pipeline(pack, fs.createWriteStream(`${file}.partial`));
  pack.entry({ name: 'wal/', type: 'directory' });
  const entry = pack.entry({ name: 'zz-padding', size });
  const chunk = Buffer.alloc(1024 * 1024);
  for (let written = 0; written < size; written += chunk.length) {
    if (!entry.write(chunk)) await new Promise<void>((r) => entry.once('drain', () => r()));
  }
  entry.end(() => undefined);
  pack.finalize();
  await done;
  fs.renameSync(`${file}.partial`, file);
  return file;
}
