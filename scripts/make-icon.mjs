#!/usr/bin/env node
// Writes media/icon.png (128x128, the marketplace icon): Prometheus-orange rounded square with
// white time-line bars (blocks) and one highlighted overlap. Run once; the PNG is committed.
import { deflateSync, crc32 } from 'node:zlib';
import { writeFileSync } from 'node:fs';

const N = 128;
const px = Buffer.alloc(N * N * 4);
const set = (x, y, [r, g, b, a]) => px.set([r, g, b, a], (y * N + x) * 4);
const inRounded = (x, y, r) => {
  const cx = Math.min(Math.max(x, r), N - 1 - r), cy = Math.min(Math.max(y, r), N - 1 - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
};
const ORANGE = [230, 82, 44, 255], WHITE = [255, 255, 255, 255], DARK = [120, 30, 10, 255], YELLOW = [255, 214, 90, 255];
const bars = [ // x0, x1, y0, y1, colour
  [16, 60, 28, 44, WHITE], [64, 92, 28, 44, WHITE], [96, 112, 28, 44, WHITE],
  [16, 44, 56, 72, WHITE], [48, 84, 56, 72, WHITE], [70, 84, 76, 92, YELLOW],
  [88, 112, 56, 72, WHITE], [16, 112, 100, 104, DARK],
];
for (let y = 0; y < N; y++) {
  for (let x = 0; x < N; x++) {
    if (!inRounded(x, y, 22)) { set(x, y, [0, 0, 0, 0]); continue; }
    let c = ORANGE;
    for (const [x0, x1, y0, y1, col] of bars) if (x >= x0 && x < x1 && y >= y0 && y < y1) c = col;
    set(x, y, c);
  }
}
const raw = Buffer.alloc(N * (N * 4 + 1));
for (let y = 0; y < N; y++) px.copy(raw, y * (N * 4 + 1) + 1, y * N * 4, (y + 1) * N * 4);
const chunk = (type, data) => {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
};
const ihdr = Buffer.alloc(13);
ihdr.writeUInt32BE(N, 0); ihdr.writeUInt32BE(N, 4); ihdr[8] = 8; ihdr[9] = 6;
writeFileSync(new URL('../media/icon.png', import.meta.url), Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0)),
]));
