/**
 * Go's orders, which Prometheus sorts symbols, label sets and postings by: strings compare byte by
 * byte in UTF-8 (JS `<` compares UTF-16 code units, which puts U+10000 and above before U+E000–U+FFFF).
 */

/** Byte-wise UTF-8 order (Go's string comparison), which JS `<` (UTF-16 code units) breaks above U+FFFF. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800–U+DFFF) encode code points above U+FFFF, which sort after U+E000–U+FFFF in UTF-8.
    if (x >= 0xd800 && y >= 0xd800) return (a.codePointAt(i) ?? 0) - (b.codePointAt(i) ?? 0) < 0 ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return a.length < b.length ? -1 : 1;
}

/** Prometheus's labels.Compare: pairwise name then value, then the shorter set first. */
export function compareLabelSets(a: readonly (readonly [string, string])[], b: readonly (readonly [string, string])[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareStrings(a[i][0], b[i][0]) || compareStrings(a[i][1], b[i][1]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}
