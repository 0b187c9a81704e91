/** Helpers for mtdpstore tests: devices, dumps, kernel-written zones, listings. */
import assert from 'node:assert/strict';
import type { MtdDevice, MtdGeometry, MtdReadResult } from '../../src/mtd/device.js';
import { FlashSimulator, type SimulatorOptions } from '../../src/mtd/simulator.js';
import type { MtdPstorePolicy } from '../../src/mtdpstore/backend.js';
import { MtdPstoreSession, type DumpRequest } from '../../src/mtdpstore/session.js';
import { DEFAULT_ABI } from '../../src/zone/abi.js';
import { KmsgReason, encodeKmsgZone } from '../../src/zone/format.js';
import { PstoreError } from '../../src/errors.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** The 512 KiB nandsim geometry of the fixtures (2 KiB pages, 128 KiB blocks). */
export function nand512(extra: Partial<SimulatorOptions> = {}): FlashSimulator {
  return new FlashSimulator({ type: 'nand', size: 512 * KiB, erasesize: 128 * KiB, writesize: 2 * KiB, oobsize: 64, name: 'pstore', ...extra });
}

/** An Oops dump numbered `i`: time 1000 + 10·i s, uncompressed text unique to `i`. */
export function dump(i: number, reason: number = KmsgReason.OOPS): DumpRequest {
  const kind = reason === KmsgReason.PANIC ? 'Panic' : 'Oops';
  return {
    reason,
    time: { sec: 1000 + 10 * i, nsec: i },
    compressed: false,
    data: Buffer.from(`${kind}#${i} Part1\n<4>[ ${i}.000000] record ${i} ${'x'.repeat(200 + i)}\n`),
  };
}

/** Write record `i` into `zone` the way a kernel would have (whole zone image). */
export function putRecord(dev: MtdDevice, Z: number, zone: number, i: number, counter = i): void {
  const d = dump(i);
  const img = encodeKmsgZone(DEFAULT_ABI, Z, { time: d.time, compressed: false, counter, reason: d.reason, data: d.data });
  dev.write(zone * Z, img);
}

export function session(dev: MtdDevice, Z: number, policy: MtdPstorePolicy = 'kernel'): MtdPstoreSession {
  return new MtdPstoreSession(dev, { kmsgSize: Z, policy });
}

/** List and return {zone id → record number} (record number parsed from the text; NaN if unrecognisable). */
export function listIds(s: MtdPstoreSession): Map<number, number> {
  const l = s.list();
  assert.ok(l.ok, `listing failed: ${l.ok ? '' : l.error}`);
  const out = new Map<number, number>();
  for (const r of l.records) {
    const m = /(?:Oops|Panic)#(\d+) Part1\n<4>\[ (\d+)\.000000\] record (\d+) (x+)\n$/.exec(r.data.toString('latin1'));
    const ok = m && m[1] === m[2] && m[2] === m[3] && m[4]!.length === 200 + Number(m[1]);
    out.set(r.id, ok ? Number(m![1]) : NaN);
  }
  return out;
}

/** Record numbers present (intact) in a listing, sorted. */
export function present(ids: Map<number, number>): number[] {
  return [...ids.values()].filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
}

/** Zones holding a valid kmsg header signature, from the raw device. */
export function zoneSig(dev: MtdDevice, zone: number, Z: number): number {
  return dev.read(zone * Z, 4).data.readUInt32LE(0);
}

/**
 * A sparse device for partitions too large to hold in memory: NAND-like
 * (page-aligned programs, AND semantics, reprogramming a page fails with EIO),
 * storage only for erase blocks that were programmed.
 */
export class SparseNand implements MtdDevice {
  readonly blocks = new Map<number, Buffer>();
  private readonly programmed = new Map<number, Uint8Array>();
  stats = { reads: 0, programs: 0, erases: 0, panicWrites: 0 };
  constructor(readonly geometry: MtdGeometry) {}
  private block(b: number, create: boolean): Buffer | undefined {
    let buf = this.blocks.get(b);
    if (!buf && create) {
      buf = Buffer.alloc(this.geometry.erasesize, 0xff);
      this.blocks.set(b, buf);
      this.programmed.set(b, new Uint8Array(this.geometry.erasesize / this.geometry.writesize));
    }
    return buf;
  }
  read(off: number, len: number): MtdReadResult {
    this.stats.reads++;
    const out = Buffer.alloc(len, 0xff);
    const E = this.geometry.erasesize;
    for (let p = off; p < off + len; ) {
      const b = Math.floor(p / E);
      const n = Math.min(off + len - p, (b + 1) * E - p);
      this.blocks.get(b)?.copy(out, p - off, p - b * E, p - b * E + n);
      p += n;
    }
    return { data: out, retlen: len, status: 'ok', corrected: 0 };
  }
  private program(off: number, data: Uint8Array): number {
    const { erasesize: E, writesize: W } = this.geometry;
    if (off % W || data.length % W || off + data.length > this.geometry.size) throw new PstoreError('EINVAL', 'unaligned or out of range');
    for (let i = 0; i < data.length; i += W) {
      const p = off + i;
      const b = Math.floor(p / E);
      const buf = this.block(b, true)!;
      const pg = (p - b * E) / W;
      const prog = this.programmed.get(b)!;
      if (prog[pg]) throw new PstoreError('EIO', `page at ${p} programmed twice`);
      prog[pg] = 1;
      for (let k = 0; k < W; k++) buf[p - b * E + k]! &= data[i + k]!;
    }
    return data.length;
  }
  write(off: number, data: Uint8Array): number {
    this.stats.programs++;
    return this.program(off, data);
  }
  panicWrite(off: number, data: Uint8Array): number {
    this.stats.panicWrites++;
    return this.program(off, data);
  }
  erase(off: number, len = this.geometry.erasesize): void {
    this.stats.erases++;
    for (let b = off / this.geometry.erasesize; b < (off + len) / this.geometry.erasesize; b++) {
      this.blocks.delete(b);
      this.programmed.delete(b);
    }
  }
  isBad(): boolean {
    return false;
  }
  markBad(): void {}
  sync(): void {}
  close(): void {}
}
