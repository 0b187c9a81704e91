/**
 * Synthetic pstore/zone images for the read-side benchmarks, built with the
 * zone codec (src/zone/format.ts): kernel-shaped records, deterministic.
 * Not a benchmark itself (scripts/run-bench.mjs runs only bench/*.ts).
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { KmsgReason, encodeKmsgZone, kmsgHeaderSize } from '../../src/zone/format.js';
import type { Abi } from '../../src/zone/abi.js';

export const ABI: Abi = { cls: 'lp64', endian: 'le' };
export const H = kmsgHeaderSize(ABI);

/** Deterministic oops-like text of `len` bytes (kernel-log-shaped lines, varied content). */
export function oopsText(i: number, len: number): Buffer {
  const lines: string[] = ['Oops#1 Part1\n'];
  let n = lines[0]!.length;
  let x = ((i + 1) * 2654435761) >>> 0 || 1;
  for (let k = 0; n < len; k++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    const l = `<4>[${String(1000 + k).padStart(6)}.${String(x % 1_000_000).padStart(6, '0')}] CPU: ${x % 8} PID: ${x % 4096} Comm: worker/${x % 64} RIP: 0010:func_${(x >>> 8).toString(16)}+0x${(x % 512).toString(16)}/0x200\n`;
    lines.push(l);
    n += l.length;
  }
  return Buffer.from(lines.join(''), 'latin1').subarray(0, len);
}

/** What an image holds, for checks and for the ideal read volume. */
export interface BuiltImage {
  size: number;
  zoneSize: number;
  zones: number;
  /** datalen of every zone holding a record (zone index → datalen), others absent. */
  datalen: Map<number, number>;
  /** Bytes the listing shows (decompressed text, with the "Total" line of plain records). */
  shownBytes: number;
  compressed: number;
}

/**
 * Write an image of `zones` zones of `zoneSize` bytes to `file`, zone by zone.
 * `fill(i)` says whether zone i holds a record, its text length and whether it is
 * compressed (raw deflate, 11-bit window, as pre-v6.6 kernels wrote it);
 * other zones are erased flash (0xFF).
 */
export function writeImage(
  file: string,
  zones: number,
  zoneSize: number,
  fill: (i: number) => { textLen: number; compressed: boolean } | null,
): BuiltImage {
  const fd = fs.openSync(file, 'w');
  const room = zoneSize - 12 - H;
  const out: BuiltImage = { size: zones * zoneSize, zoneSize, zones, datalen: new Map(), shownBytes: 0, compressed: 0 };
  const erased = Buffer.alloc(zoneSize, 0xff);
  try {
    for (let i = 0; i < zones; i++) {
      const f = fill(i);
      if (!f) {
        fs.writeSync(fd, erased, 0, zoneSize, i * zoneSize);
        continue;
      }
      const text = oopsText(i, f.textLen);
      const data = f.compressed ? zlib.deflateRawSync(text, { windowBits: 11 }) : text;
      if (data.length > room) throw new Error(`record ${i} does not fit: ${data.length} > ${room}`);
      const zone = encodeKmsgZone(ABI, zoneSize, {
        time: { sec: 1_700_000_000 + i, nsec: i * 1000 },
        compressed: f.compressed,
        counter: i + 1,
        reason: KmsgReason.OOPS,
        data,
      });
      fs.writeSync(fd, zone, 0, zoneSize, i * zoneSize);
      out.datalen.set(i, H + data.length);
      out.shownBytes += f.compressed ? text.length : `Oops: Total ${i + 1} times\n`.length + text.length;
      if (f.compressed) out.compressed++;
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

/** 128 MiB, 2048 zones of 64 KiB, every zone a record; every other one compressed (up to 2x the zone's room of text). */
export function writeFullImage(file: string): BuiltImage {
  const Z = 64 * 1024;
  const room = Z - 12 - H;
  return writeImage(file, 2048, Z, (i) =>
    i % 2 === 0
      ? { textLen: Math.floor(room * (1 + (i % 7) / 7)), compressed: true }
      : { textLen: Math.floor(room * (0.45 + ((i * 37) % 56) / 100)), compressed: false },
  );
}

/** 128 MiB, 2048 zones of 64 KiB, one zone in eight holds a small (2–6 KiB) plain record; the rest is erased flash. */
export function writeSparseImage(file: string): BuiltImage {
  return writeImage(file, 2048, 64 * 1024, (i) => (i % 8 === 3 ? { textLen: 2048 + ((i * 131) % 4096), compressed: false } : null));
}
