/**
 * The attach-time geometry checks of mtdpstore (spec: mtdpstore-policy.md §4,
 * config.md §6), and the extra refusals of the hardened policy.
 *
 * The kernel checks, in this order: the partition holds at least two zones,
 * an erase block holds at least one zone, and a zone is a whole number of
 * pages. It does not check that zones tile erase blocks (W11) nor that there
 * is more than one erase block (W10); the hardened policy refuses both,
 * because the kernel's bookkeeping then destroys records.
 */
import type { MtdGeometry } from '../mtd/device.js';

export type MtdPstorePolicy = 'kernel' | 'hardened';

/** pstore/zone caps the device it uses at 128 MiB (v5.14+). */
export const PSTORE_ZONE_MAX_SIZE = 128 * 1024 * 1024;

/** Outcome of the geometry checks: `ok`, or the kernel's message (and, hardened, advice). */
export type GeometryVerdict =
  | { ok: true }
  | { ok: false; check: 'size' | 'erasesize' | 'writesize' | 'single-block' | 'zone-straddles-blocks'; message: string; advice: string };

/** Derived numbers of an attached geometry (test-vector M rows). */
export interface MtdPstoreLayoutFacts {
  /** Erase blocks in the partition: floor(S ÷ E) (badmap bits). */
  blocks: number;
  /** Zones of the whole partition: floor(S ÷ Z) (usedmap / rmmap bits). */
  partitionZones: number;
  /** Zones pstore/zone uses: floor(min(S, 128 MiB) ÷ Z). */
  usedZones: number;
  /** Zones per erase block as the kernel counts them: floor(E ÷ Z). */
  zonesPerBlock: number;
  /** Bytes the empty test examines on a read of `len` bytes: min(len, floor(W ÷ 4)) in kernel mode. */
  emptyTestBytes(len: number): number;
}

export function layoutFacts(g: MtdGeometry, kmsgSize: number): MtdPstoreLayoutFacts {
  const quarter = Math.floor(g.writesize / 4);
  return {
    blocks: Math.floor(g.size / g.erasesize),
    partitionZones: Math.floor(g.size / kmsgSize),
    usedZones: Math.floor(Math.min(g.size, PSTORE_ZONE_MAX_SIZE) / kmsgSize),
    zonesPerBlock: Math.floor(g.erasesize / kmsgSize),
    emptyTestBytes: (len: number) => Math.min(len, quarter),
  };
}

/**
 * Run the attach checks in the kernel's order. Kernel policy: only the three
 * kernel checks. Hardened: additionally refuse a single erase block (W10)
 * and zones that do not tile erase blocks (W11), naming what to choose.
 */
export function checkGeometry(g: MtdGeometry, kmsgSize: number, policy: MtdPstorePolicy): GeometryVerdict {
  const n = g.index;
  const Z = kmsgSize;
  if (g.size < 2 * Z) {
    return {
      ok: false,
      check: 'size',
      message: `MTD partition ${n} not big enough`,
      advice: `the partition (${g.size} bytes) must hold at least two records of kmsg_size ${Z} bytes: use a bigger partition or a smaller pstore_blk.kmsg_size`,
    };
  }
  if (g.erasesize < Z) {
    return {
      ok: false,
      check: 'erasesize',
      message: `eraseblock size of MTD partition ${n} too small`,
      advice: `kmsg_size ${Z} bytes is larger than the erase block (${g.erasesize} bytes): choose pstore_blk.kmsg_size of at most ${Math.floor(g.erasesize / 1024)} KiB`,
    };
  }
  if (Z % g.writesize !== 0) {
    return {
      ok: false,
      check: 'writesize',
      // The kernel divides both by 1024 with integer arithmetic, so a 512-byte page prints "0 KB".
      message: `record size ${Math.floor(Z / 1024)} KB must align to write size ${Math.floor(g.writesize / 1024)} KB`,
      advice: `kmsg_size ${Z} bytes is not a multiple of the page size ${g.writesize} bytes: choose a multiple of the page size`,
    };
  }
  if (policy === 'hardened') {
    if (g.size < 2 * g.erasesize) {
      return {
        ok: false,
        check: 'single-block',
        message: `MTD partition ${n} has a single erase block`,
        advice:
          `the free-zone step must erase a block other than the one just written (W10): ` +
          `use a partition of at least two erase blocks (${2 * g.erasesize} bytes)`,
      };
    }
    if (g.erasesize % Z !== 0) {
      const divisors: number[] = [];
      for (let kib = 4; kib * 1024 <= g.erasesize; kib *= 2) {
        if (g.erasesize % (kib * 1024) === 0 && (kib * 1024) % g.writesize === 0) divisors.push(kib);
      }
      return {
        ok: false,
        check: 'zone-straddles-blocks',
        message: `record size ${Math.floor(Z / 1024)} KB does not divide eraseblock size ${Math.floor(g.erasesize / 1024)} KB`,
        advice:
          `zones would straddle erase blocks and erasing one block would destroy parts of its neighbours (W11): ` +
          `choose pstore_blk.kmsg_size among ${divisors.join(', ')} KiB`,
      };
    }
  }
  return { ok: true };
}
