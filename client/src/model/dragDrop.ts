/** Drag and drop between the Dump Files view, the Explorer and the Pods view: payloads and dropped files. */

/** The Dump Files tree's mime: VS Code adds it to every drag from that tree; our payload rides on it. */
export const DUMPS_MIME = 'application/vnd.code.tree.tsdbdump.dumps';

const DUMP_FILE_RE = /\.(tar\.gz|tgz|tar)$/i;

/** The payload of a drag from the Dump Files tree: the dump sources. */
export function encodeDumpSources(sources: readonly string[]): string {
  return JSON.stringify(sources);
}

/**
 * The dump sources of a Dump Files drag payload. VS Code puts its own `{id, itemHandles}` under the
 * same mime in a real drag; anything that is not our list of paths gives [].
 */
export function decodeDumpSources(text: string): string[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) && v.every((s) => typeof s === 'string' && s.startsWith('/')) ? (v as string[]) : [];
  } catch {
    return [];
  }
}

/**
 * The dumps among dropped files (a `text/uri-list`, RFC 2483: one URI a line, `#` comments):
 * local files named .tar.gz/.tgz/.tar, and directories (data dirs; the restore probes them).
 */
export function dumpPathsFromUriList(text: string, isDirectory: (p: string) => boolean): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    let url: URL;
    try {
      url = new URL(line);
    } catch {
      continue;
    }
    if (url.protocol !== 'file:') continue;
    const p = decodeURIComponent(url.pathname).replace(/(.)\/+$/, '$1');
    if (DUMP_FILE_RE.test(p) || isDirectory(p)) out.push(p);
  }
  return out;
}
