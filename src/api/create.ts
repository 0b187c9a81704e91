/**
 * Planning and creating images: validate a pstore/blk + mtdpstore
 * configuration for a geometry before flashing, and make a blank image of it.
 */
import * as fs from 'node:fs';
import { PstoreError } from '../errors.js';
import type { MtdType } from '../mtd/device.js';
import { createImage } from '../mtd/image-file.js';
import { makeGeometry } from '../mtd/geometry.js';
import { checkGeometry, layoutFacts, type MtdPstorePolicy } from '../mtdpstore/geometry.js';
import { DEFAULT_ABI, type Abi } from '../zone/abi.js';
import { MTDPSTORE_FLAGS, kibToBytes, validateConfig, type ValidationReport, type Verdict } from '../zone/config.js';
import { writeSidecar, type Sidecar } from './sidecar.js';
import type { Medium } from './write.js';

export interface PlanOptions {
  medium: Medium;
  size: number;
  /** pstore_blk.kmsg_size in KiB (the kernel's unit; converted with its rounding rule). */
  kmsgSizeKiB: number;
  maxReason?: number;
  type?: MtdType;
  erasesize?: number;
  writesize?: number;
  oobsize?: number;
  badBlocks?: readonly number[];
  abi?: Abi;
  /** mtd: the policy whose attach checks apply (default hardened). */
  policy?: MtdPstorePolicy;
  /** Kernel release to model (default newest). */
  kernelVersion?: string;
}

export interface Plan {
  ok: boolean;
  /** kmsg zone size in bytes after pstore/blk's conversion. */
  kmsgSize: number;
  zones: number;
  zonesPerBlock?: number;
  verdicts: Verdict[];
  report: ValidationReport;
  /** Kernel log lines the configuration produces. */
  log: string[];
}

/** Validate a configuration with every kernel rule (and the hardened policy's own), without touching anything. */
export function planImage(o: PlanOptions): Plan {
  const conv = kibToBytes('kmsg_size', o.kmsgSizeKiB);
  const Z = conv.bytes;
  const report = validateConfig({
    totalSize: o.size,
    blk: { kmsgSize: o.kmsgSizeKiB, maxReason: o.maxReason ?? 2, blkdev: o.medium === 'mtd' ? 'pstore' : '/dev/vda', bestEffort: o.medium === 'block' },
    device: o.medium === 'mtd' ? MTDPSTORE_FLAGS : undefined,
    mtdpstore: o.medium === 'mtd',
    kernelVersion: o.kernelVersion,
  });
  const verdicts = [...report.verdicts];
  let zonesPerBlock: number | undefined;
  if (o.medium === 'mtd' && Z > 0) {
    const type = o.type ?? 'nand';
    let g: ReturnType<typeof makeGeometry> | undefined;
    try {
      g = makeGeometry(
        { type, size: o.size, erasesize: o.erasesize ?? 128 * 1024, writesize: o.writesize ?? (type === 'nand' ? 2048 : 1), oobsize: o.oobsize ?? 0, index: 0, name: 'pstore' },
        'pstore',
      );
    } catch (e) {
      if (!(e instanceof PstoreError)) throw e;
      verdicts.push({ id: 'mtd.geometry', rule: 'the flash geometry is consistent (size a whole number of erase blocks, erase block a whole number of pages)', ok: false, reached: true, severity: 'error', message: e.message, errno: e.code, hint: 'fix --size, --erasesize or --writesize' });
    }
    if (g) {
      for (const policy of ['kernel', 'hardened'] as const) {
        if (policy === 'hardened' && (o.policy ?? 'hardened') !== 'hardened') continue;
        const v = checkGeometry(g, Z, policy);
        verdicts.push({
          id: `mtdpstore.attach.${policy}`,
          rule: policy === 'kernel' ? 'mtdpstore attach checks (size ≥ 2 zones, erase block ≥ zone, zone a multiple of the page)' : 'hardened policy: ≥ 2 erase blocks, zone divides the erase block',
          ok: v.ok,
          reached: true,
          severity: 'error',
          ...(v.ok ? {} : { message: v.message, errno: 'EINVAL' as const, hint: v.advice }),
        });
      }
      zonesPerBlock = layoutFacts(g, Z).zonesPerBlock;
    }
  }
  const ok = verdicts.every((v) => v.ok || v.severity !== 'error' || !v.reached);
  return { ok, kmsgSize: Z, zones: report.layout?.layout.kmsg.length ?? 0, zonesPerBlock, verdicts, report, log: [...report.log] };
}

/**
 * Create a blank image (all 0xFF for flash, all 0x00 for a disk) and its sidecar.
 * @throws PstoreError EINVAL when the plan fails (its first failing verdict is named), EEXIST when the file exists and overwrite is not set.
 */
export function createPstoreImage(path: string, o: PlanOptions & { oob?: boolean; overwrite?: boolean }): Plan {
  const plan = planImage(o);
  if (!plan.ok) {
    const v = plan.verdicts.find((x) => !x.ok && x.severity === 'error' && x.reached)!;
    throw new PstoreError(v.errno ?? 'EINVAL', `configuration refused: ${v.message ?? v.rule}${v.hint ? ` — ${v.hint}` : ''}`);
  }
  if (!o.overwrite && fs.existsSync(path)) throw new PstoreError('EEXIST', `${path} exists: remove it first (or pass --force)`);
  const type = o.type ?? 'nand';
  const erasesize = o.erasesize ?? 128 * 1024;
  const writesize = o.writesize ?? (type === 'nand' ? 2048 : 1);
  if (o.medium === 'mtd') {
    createImage(path, { type, size: o.size, erasesize, writesize, oobsize: o.oobsize ?? 0 }, { oob: o.oob, badBlocks: o.badBlocks, overwrite: o.overwrite });
  } else {
    const fd = fs.openSync(path, 'w');
    try {
      fs.ftruncateSync(fd, o.size);
    } finally {
      fs.closeSync(fd);
    }
  }
  const abi = o.abi ?? DEFAULT_ABI;
  const sc: Sidecar = {
    producer: 'mtdpstore create',
    medium: o.medium,
    size: o.size,
    kmsgSize: plan.kmsgSize,
    abi: abi.cls,
    endian: abi.endian,
    ...(o.medium === 'mtd' ? { type, erasesize, writesize, oobsize: o.oobsize ?? 0, oob: o.oob ?? false, badBlocks: [...(o.badBlocks ?? [])] } : {}),
  };
  writeSidecar(path, sc);
  return plan;
}
