/** Which workspace files are TSDB data: the file watcher maps their events to the dump they belong to. */
import { isUlid } from '../../../server/src/tsdb/blockDir';

/**
 * The data dir a workspace file belongs to, if its path looks like TSDB data:
 * `<dir>/<ULID>/meta.json`, `<dir>/wal/<N>`, `<dir>/chunks_head/<N>` → `<dir>`.
 */
export function dataDirOfFile(filePath: string): string | undefined {
  const parts = filePath.split('/');
  if (parts.length < 3) return undefined;
  const name = parts[parts.length - 1];
  const parent = parts[parts.length - 2];
  const dir = parts.slice(0, -2).join('/') || '/';
  if (name === 'meta.json' && isUlid(parent)) return dir;
  if ((parent === 'wal' || parent === 'chunks_head') && /^[0-9]+$/.test(name)) return dir;
  return undefined;
}
