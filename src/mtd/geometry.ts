/**
 * Geometry validation and the argument checks every MTD device applies.
 *
 * Kept in one place so the simulator and the image-file device refuse the
 * same calls with the same messages, the way the kernel's mtd_read /
 * mtd_write / mtd_erase wrappers check ranges before the driver sees them.
 */
import { constants as bufferConstants } from 'node:buffer';
import { PstoreError, hex } from '../errors.js';
import type { MtdGeometry, MtdType } from './device.js';

const TYPES: readonly MtdType[] = ['nand', 'nor', 'ram'];

/** Geometry as a caller describes it; missing fields get documented defaults. */
export interface GeometryInput {
  type: MtdType;
  size: number;
  erasesize: number;
  /** Program unit. Required for NAND; defaults to 1 on NOR/RAM. */
  writesize?: number;
  /** OOB bytes per page. Defaults to 0 (NOR/RAM must have 0). */
  oobsize?: number;
  name?: string;
  index?: number;
}

function isPosInt(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0;
}

/**
 * Check and complete a geometry. Throws EINVAL naming the offending numbers:
 * size must be a whole number of erase blocks, erase blocks a whole number
 * of pages, NOR/RAM have no OOB.
 */
export function makeGeometry(g: GeometryInput, defaultName: string): MtdGeometry {
  if (!TYPES.includes(g.type)) {
    throw new PstoreError('EINVAL', `unknown MTD type ${JSON.stringify(g.type)}: use one of ${TYPES.join(', ')}`);
  }
  if (!isPosInt(g.erasesize)) {
    throw new PstoreError('EINVAL', `erasesize must be a positive integer, got ${g.erasesize}`);
  }
  if (!isPosInt(g.size)) throw new PstoreError('EINVAL', `size must be a positive integer, got ${g.size}`);
  if (g.size % g.erasesize !== 0) {
    throw new PstoreError(
      'EINVAL',
      `size ${g.size} (${hex(g.size)}) is not a multiple of erasesize ${g.erasesize} (${hex(g.erasesize)}): an MTD partition is a whole number of erase blocks`,
    );
  }
  if (g.size > bufferConstants.MAX_LENGTH) {
    throw new PstoreError('EINVAL', `size ${g.size} exceeds the largest buffer this Node.js can allocate (${bufferConstants.MAX_LENGTH})`);
  }
  const writesize = g.writesize ?? (g.type === 'nand' ? undefined : 1);
  if (!isPosInt(writesize)) {
    throw new PstoreError('EINVAL', `writesize must be a positive integer (NAND page size, e.g. 2048), got ${g.writesize}`);
  }
  if (g.erasesize % writesize !== 0) {
    throw new PstoreError('EINVAL', `erasesize ${g.erasesize} is not a multiple of writesize ${writesize}`);
  }
  const oobsize = g.oobsize ?? 0;
  if (!Number.isSafeInteger(oobsize) || oobsize < 0) {
    throw new PstoreError('EINVAL', `oobsize must be a non-negative integer, got ${g.oobsize}`);
  }
  if (g.type !== 'nand' && oobsize !== 0) {
    throw new PstoreError('EINVAL', `oobsize ${oobsize} given for ${g.type.toUpperCase()}: only NAND has OOB, pass 0`);
  }
  const index = g.index ?? 0;
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new PstoreError('EINVAL', `index must be a non-negative integer, got ${g.index}`);
  }
  return Object.freeze({ name: g.name ?? defaultName, index, type: g.type, size: g.size, erasesize: g.erasesize, writesize, oobsize });
}

/** Byte of a page's OOB that carries the factory bad-block marker (images.md §4). */
export function badBlockMarkerPos(writesize: number): number {
  return writesize > 512 ? 0 : 5;
}

function where(g: MtdGeometry): string {
  return `"${g.name}" (mtd${g.index})`;
}

/** Range check of a read, as mtd_read does it. */
export function checkReadArgs(g: MtdGeometry, off: number, len: number): void {
  if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || off < 0 || len < 0 || off + len > g.size) {
    throw new PstoreError(
      'EINVAL',
      `read of ${len} bytes at ${hex(off)} on ${where(g)} is outside the device [0, ${hex(g.size)}) (size ${g.size})`,
    );
  }
}

/** Range and alignment check of a program (write or panic write). */
export function checkWriteArgs(g: MtdGeometry, off: number, len: number, what = 'write'): void {
  if (!Number.isSafeInteger(off) || off < 0 || off + len > g.size) {
    throw new PstoreError(
      'EINVAL',
      `${what} of ${len} bytes at ${hex(off)} on ${where(g)} is outside the device [0, ${hex(g.size)}) (size ${g.size})`,
    );
  }
  if (g.writesize > 1 && (off % g.writesize !== 0 || len % g.writesize !== 0)) {
    throw new PstoreError(
      'EINVAL',
      `${what} of ${len} bytes at ${hex(off)} on ${where(g)} is not page-aligned: offset and length must be multiples of writesize ${g.writesize}` +
        ` (offset % ${g.writesize} = ${off % g.writesize}, length % ${g.writesize} = ${len % g.writesize}); pad the data to whole pages`,
    );
  }
}

/** Range and alignment check of an erase (whole blocks only). */
export function checkEraseArgs(g: MtdGeometry, off: number, len: number): void {
  if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || off < 0 || len < 0 || off + len > g.size) {
    throw new PstoreError(
      'EINVAL',
      `erase of ${len} bytes at ${hex(off)} on ${where(g)} is outside the device [0, ${hex(g.size)}) (size ${g.size})`,
    );
  }
  if (off % g.erasesize !== 0 || len % g.erasesize !== 0) {
    throw new PstoreError(
      'EINVAL',
      `erase of ${len} bytes at ${hex(off)} on ${where(g)} does not cover whole erase blocks: offset and length must be multiples of erasesize ${g.erasesize}` +
        ` (offset % ${g.erasesize} = ${off % g.erasesize}, length % ${g.erasesize} = ${len % g.erasesize})`,
    );
  }
}

/** Range check of a block query (isBad / markBad): `off` must lie inside the device. */
export function checkBlockArgs(g: MtdGeometry, off: number, what: string): void {
  if (!Number.isSafeInteger(off) || off < 0 || off >= g.size) {
    throw new PstoreError('EINVAL', `${what} at ${hex(off)} on ${where(g)} is outside the device [0, ${hex(g.size)})`);
  }
}

/** Human-readable device designation used in messages. */
export function deviceLabel(g: MtdGeometry): string {
  return where(g);
}

let ERASED_BYTES = Buffer.alloc(4096, 0xff);

/** Whether bytes [from, to) of `buf` are all 0xFF (erased flash). */
export function isAllFF(buf: Uint8Array, from: number, to: number): boolean {
  const len = to - from;
  if (ERASED_BYTES.length < len) ERASED_BYTES = Buffer.alloc(len, 0xff);
  return Buffer.compare(buf.subarray(from, to), ERASED_BYTES.subarray(0, len)) === 0;
}

/**
 * Refuse an operation that touches a bad block: EIO naming the block.
 * `isBad(b)` answers for block number b.
 */
export function checkGoodBlocks(g: MtdGeometry, off: number, len: number, what: string, isBad: (block: number) => boolean): void {
  const E = g.erasesize;
  const last = Math.floor((off + Math.max(len, 1) - 1) / E);
  for (let b = Math.floor(off / E); b <= last; b++) {
    if (isBad(b)) throw new PstoreError('EIO', `${deviceLabel(g)}: ${what} at ${hex(off)} hits bad block ${b} (${hex(b * E)})`);
  }
}
