/**
 * Writing to an image the way a kernel would: one "boot" per call — attach
 * (and recover, as mounting pstore does), the operation, then detach.
 *
 * Two media:
 * - `mtd`: raw flash through the mtdpstore policy (kernel-exact or hardened)
 *   over an image-file MTD device with flash semantics;
 * - `block`: a disk image as pstore/blk uses it (no erase, no panic write).
 */
import * as fs from 'node:fs';
import { PstoreError, errnoName } from '../errors.js';
import type { MtdType } from '../mtd/device.js';
import { ImageFileDevice } from '../mtd/image-file.js';
import { isCharDevicePath, openMtdPath } from '../mtd/char-device.js';
import type { MtdDevice } from '../mtd/device.js';
import type { MtdPstorePolicy } from '../mtdpstore/backend.js';
import { MtdPstoreSession } from '../mtdpstore/session.js';
import { DEFAULT_ABI, type Abi } from '../zone/abi.js';
import { BlockZoneBackend } from '../zone/block-backend.js';
import { PstoreZone, type KmsgWriteOutcome } from '../zone/engine.js';
import { KmsgReason, PstoreType, ZONE_HEADER_SIZE, kmsgHeaderSize } from '../zone/format.js';
import { kmsgOnlyLayout } from '../zone/layout.js';
import type { PstoreRecord } from '../zone/record.js';
import { detectFormat } from '../zone/detect.js';
import { readSidecar } from './sidecar.js';

export type Medium = 'mtd' | 'block';

export interface WriteOptions {
  medium?: Medium;
  /** mtd only; default hardened. */
  policy?: MtdPstorePolicy;
  /** kmsg zone size in bytes. */
  kmsgSize?: number;
  abi?: Abi;
  type?: MtdType;
  erasesize?: number;
  writesize?: number;
  oobsize?: number;
  oob?: boolean;
  badBlocks?: readonly number[];
  /** Skip the final detach (models a reboot without unloading mtdpstore: pending removals are lost, W4). */
  noDetach?: boolean;
}

/** A dump to store. */
export interface StoreRequest {
  reason: number;
  time: { sec: number; nsec: number };
  compressed: boolean;
  data: Uint8Array;
}

export interface WriteReport {
  medium: Medium;
  policy: MtdPstorePolicy | 'pstore_blk';
  kmsgSize: number;
  abi: Abi;
  /** Log lines of the layers (kernel-style messages). */
  log: string[];
  /** Records listed at attach (before the operation). */
  before: PstoreRecord[];
  /** What the kmsg write did (dump only). */
  outcome?: KmsgWriteOutcome | null;
  /** Result of a removal (0 or a negative errno). */
  removeResult?: number;
  /** Result of the final detach flush (mtd). */
  detachResult?: number;
  notes: string[];
}

interface Resolved {
  medium: Medium;
  kmsgSize: number;
  abi: Abi;
  notes: string[];
}

function resolve(path: string, o: WriteOptions): Resolved {
  const notes: string[] = [];
  const sc = readSidecar(path);
  let size: number;
  const chardev = isCharDevicePath(path);
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch {
    throw new PstoreError('ENOENT', `${path}: no such image: create one with \`mtdpstore create ${path} --size … --write\``);
  }
  if (st.isDirectory()) throw new PstoreError('EINVAL', `${path} is a directory: give an image file`);
  size = chardev ? 16 * 1024 * 1024 : st.size;
  // Detection needs the first records; 16 MiB holds hundreds of zones.
  let head = Buffer.alloc(Math.min(size, 16 * 1024 * 1024));
  try {
    const fd = fs.openSync(path, 'r');
    try {
      head = head.subarray(0, fs.readSync(fd, head, 0, head.length, 0));
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new PstoreError(code === 'EACCES' || code === 'EPERM' ? 'EACCES' : 'EIO', `${path}: cannot read (${(e as Error).message}): check the path and its permissions`);
  }
  if (chardev && o.medium === 'block') throw new PstoreError('EINVAL', `${path} is an MTD device: use --medium mtd`);
  if (chardev) o = { ...o, medium: 'mtd' };
  const det = detectFormat(head, { zoneSize: o.kmsgSize ?? sc?.kmsgSize, abi: o.abi?.cls ?? sc?.abi, endian: o.abi?.endian ?? sc?.endian });
  if (det.kind === 'mtdoops') throw new PstoreError('EINVAL', `${path} holds mtdoops records: writing is supported for pstore/zone images only`);
  const kmsgSize = o.kmsgSize ?? sc?.kmsgSize ?? det.zoneSize;
  if (!kmsgSize) throw new PstoreError('EINVAL', `${path}: no record to learn the zone size from: pass --kmsg-size (pstore_blk.kmsg_size, KiB)`);
  const abi: Abi = o.abi ?? { cls: sc?.abi ?? det.abi ?? DEFAULT_ABI.cls, endian: sc?.endian ?? det.endian ?? DEFAULT_ABI.endian };
  let medium = o.medium ?? sc?.medium;
  if (!medium) {
    // Never-written zones of flash read 0xFF, of a fresh disk 0x00.
    let ff = 0;
    let zero = 0;
    for (let off = 0; off + 16 <= head.length; off += kmsgSize) {
      const s = head.subarray(off, off + 16);
      if (s.every((b) => b === 0xff)) ff++;
      else if (s.every((b) => b === 0)) zero++;
    }
    medium = zero > ff ? 'block' : 'mtd';
    notes.push(`medium taken as ${medium === 'mtd' ? 'raw flash (mtdpstore)' : 'a disk (pstore_blk)'} from the fill of unused zones (override with --medium)`);
  }
  return { medium, kmsgSize, abi, notes };
}

/** One boot over an image: attach, recover, run `op`, detach. */
function withBoot<T>(
  path: string,
  o: WriteOptions,
  op: (ctx: {
    store: (r: StoreRequest) => KmsgWriteOutcome | null;
    remove: (name: string) => number;
    report: WriteReport;
  }) => T,
): { result: T; report: WriteReport } {
  const r = resolve(path, o);
  const sc = readSidecar(path);
  const report: WriteReport = {
    medium: r.medium,
    policy: r.medium === 'mtd' ? (o.policy ?? 'hardened') : 'pstore_blk',
    kmsgSize: r.kmsgSize,
    abi: r.abi,
    log: [],
    before: [],
    notes: r.notes,
  };
  if (r.medium === 'block') {
    const disk = new BlockZoneBackend(path, { writable: true });
    // pstore/blk on a disk has had no panic write since v5.14, so a kernel loses
    // Panic dumps there. Provisioning an image is not a panic: store them with
    // the normal write, as a pre-5.14 block driver with a panic write did.
    const backend = { totalSize: disk.totalSize, read: (b: Buffer, off: number) => disk.read(b, off), write: (b: Buffer, off: number) => disk.write(b, off), panicWrite: (b: Buffer, off: number) => disk.write(b, off) };
    try {
      const engine = new PstoreZone(backend, { layout: kmsgOnlyLayout(backend.totalSize, r.kmsgSize), abi: r.abi });
      const first = engine.read();
      if (!first.ok) throw new PstoreError('EIO', `${path}: pstore/zone recovery failed (${errnoName(first.error)}): nothing written`);
      report.before = first.records;
      const byName = new Map(first.records.filter((x) => x.type === PstoreType.DMESG).map((x) => [`dmesg-pstore_blk-${x.id}`, x]));
      const result = op({
        store: (req) => {
          engine.writeKmsg({ reason: req.reason, time: req.time, compressed: req.compressed, data: req.data });
          return engine.lastKmsgWrite;
        },
        remove: (name) => {
          const rec = byName.get(name.replace(/\.enc\.z$/, ''));
          if (!rec) throw new PstoreError('ENOENT', `${path}: no record named "${name}"; records: ${[...byName.keys()].join(', ') || 'none'}`);
          return engine.erase(PstoreType.DMESG, rec.id, rec.count);
        },
        report,
      });
      engine.unregister();
      return { result, report };
    } finally {
      disk.close();
    }
  }
  const dev: MtdDevice = openMtdPath(path, { writable: true }) ?? ImageFileDevice.open(path, {
    geometry: {
      type: o.type ?? sc?.type ?? 'nand',
      erasesize: o.erasesize ?? sc?.erasesize ?? 128 * 1024,
      writesize: o.writesize ?? sc?.writesize ?? ((o.type ?? sc?.type ?? 'nand') === 'nand' ? 2048 : 1),
      oobsize: o.oobsize ?? sc?.oobsize ?? 0,
    },
    oob: o.oob ?? sc?.oob ?? false,
    badBlocks: o.badBlocks ?? sc?.badBlocks,
    writable: true,
  });
  if (!isCharDevicePath(path) && o.erasesize === undefined && sc?.erasesize === undefined) report.notes.push('erase block size assumed 128 KiB (override with --erasesize)');
  try {
    const session = new MtdPstoreSession(dev, { kmsgSize: r.kmsgSize, policy: o.policy ?? 'hardened', abi: r.abi, onLog: (l) => report.log.push(l) });
    session.attach();
    const first = session.list();
    if (!first.ok) throw new PstoreError('EIO', `${path}: pstore/zone recovery failed (${errnoName(first.error)}): nothing written`);
    report.before = first.records;
    const result = op({
      store: (req) =>
        req.reason === KmsgReason.PANIC
          ? session.panicWrite({ time: req.time, compressed: req.compressed, data: req.data })
          : session.write({ reason: req.reason, time: req.time, compressed: req.compressed, data: req.data }),
      remove: (name) => session.remove(name.replace(/\.enc\.z$/, '')),
      report,
    });
    if (!o.noDetach) report.detachResult = session.detach();
    else report.notes.push('not detached: removals that were not erased yet are lost, as after a reboot without unloading mtdpstore');
    dev.sync();
    return { result, report };
  } finally {
    dev.close();
  }
}

/** The pstore bufsize of an image's kmsg zones (zone size − 12 − H). */
export function bufsizeFor(kmsgSize: number, abi: Abi): number {
  return kmsgSize - ZONE_HEADER_SIZE - kmsgHeaderSize(abi);
}

/** Store one dump into an image. */
export function storeDump(path: string, req: StoreRequest | ((bufsize: number) => StoreRequest), o: WriteOptions = {}): WriteReport {
  const { report } = withBoot(path, o, (ctx) => {
    const r = typeof req === 'function' ? req(bufsizeFor(ctx.report.kmsgSize, ctx.report.abi)) : req;
    ctx.report.outcome = ctx.store(r);
  });
  return report;
}

/** Remove a record by file name (as `rm` in /sys/fs/pstore would). */
export function removeRecord(path: string, name: string, o: WriteOptions = {}): WriteReport {
  return removeRecords(path, [name], o);
}

/**
 * Remove several records in one boot, by the names of one listing. (The
 * hardened policy may move a surviving record to another zone to make a
 * removal persist, so names are only stable within one attach.)
 * `removeResult` is the first failure, or 0.
 */
export function removeRecords(path: string, names: readonly string[], o: WriteOptions = {}): WriteReport {
  const { report } = withBoot(path, o, (ctx) => {
    let first = 0;
    for (const name of names) {
      const rc = ctx.remove(name);
      if (rc < 0 && first === 0) first = rc;
    }
    ctx.report.removeResult = first;
  });
  return report;
}
