/** Damage for corruption tests: one byte of a file inverted in place (no other byte touched). */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';

export function flipByte(file: string, offset: number): void {
  const fd = openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, offset);
    b[0] ^= 0xff;
    writeSync(fd, b, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}
