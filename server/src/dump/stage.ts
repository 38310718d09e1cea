/**
 * Staging an archive's TSDB files into a directory, for readers that need random access (block
 * indexes: promdump puts the chunks before the index). Streams each entry with back-pressure; `wx`
 * so nothing already there is overwritten.
 */
import { once } from 'node:events';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { DumpEntry } from './source';

/** Writes the files and directories whose first path element `keepTop` accepts under `root`. */
export async function stageEntries(entries: AsyncIterable<DumpEntry>, root: string, keepTop: (top: string) => boolean): Promise<void> {
  for await (const e of entries) {
    if (!keepTop(e.path.split('/')[0])) continue;
    const dest = path.join(root, e.path);
    if (e.type === 'directory') {
      mkdirSync(dest, { recursive: true });
      continue;
    }
    if (e.type !== 'file') continue;
    mkdirSync(path.dirname(dest), { recursive: true });
    const ws = createWriteStream(dest, { flags: 'wx' });
    for await (const chunk of e.stream) if (!ws.write(chunk)) await once(ws, 'drain');
    ws.end();
    await once(ws, 'finish');
  }
}
