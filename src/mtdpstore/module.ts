/**
 * mtdpstore module init and MTD device matching (spec: mtdpstore-policy.md
 * §1–§3, §6.9; config.md §6).
 *
 * mtdpstore has no parameters of its own: it takes `pstore_blk.blkdev` (the
 * MTD name or number) and the converted `pstore_blk.kmsg_size`. Init fails on
 * an empty device string or a zero kmsg_size; otherwise every MTD device that
 * appears is matched first by exact name, then by index.
 */
import { PstoreError } from '../errors.js';
import type { MtdGeometry } from '../mtd/device.js';
import { parseKernelInt } from '../zone/config.js';

/** State of a loaded mtdpstore module (the kernel's context minus the attached device). */
export interface MtdPstoreModuleState {
  /** The blkdev string (up to 79 characters in the kernel). */
  readonly device: string;
  /** kmsg_size in bytes. */
  readonly kmsgSize: number;
  /** Index of the MTD device to attach to; −1 = match by name only. */
  targetIndex: number;
  /** Messages printed by init (no prefix: the kernel prints them with pr_err). */
  readonly log: string[];
}

/**
 * Module init (§2). Throws PstoreError EINVAL, with the kernel's message,
 * when the device string is empty or kmsg_size is 0.
 */
export function mtdpstoreInit(config: { device: string; kmsgSize: number }): MtdPstoreModuleState {
  const log: string[] = [];
  if (config.device.length === 0) {
    const msg = 'mtd device must be supplied (device name is empty)';
    log.push(msg);
    throw Object.assign(
      new PstoreError('EINVAL', `${msg}: set pstore_blk.blkdev to the MTD partition name (e.g. "pstore") or number`),
      { log },
    );
  }
  if (!config.kmsgSize) {
    const msg = 'no backend enabled (kmsg_size is 0)';
    log.push(msg);
    throw Object.assign(new PstoreError('EINVAL', `${msg}: set pstore_blk.kmsg_size to a positive number of KiB, e.g. 64`), { log });
  }
  // kstrtoint(device, 0): auto base, optional sign, one trailing newline.
  const n = parseKernelInt(config.device);
  return { device: config.device, kmsgSize: config.kmsgSize, targetIndex: n === undefined ? -1 : n, log };
}

/**
 * The "add" notifier's matching step (§3) for one device. A name match sets
 * the target index (overriding a numeric one); returns whether this device
 * is the one to attach.
 */
export function matchDevice(state: MtdPstoreModuleState, g: Pick<MtdGeometry, 'name' | 'index'>): boolean {
  if (g.name === state.device) state.targetIndex = g.index;
  return !(g.index !== state.targetIndex || state.targetIndex < 0);
}

/** Offer devices in order (as the MTD core does at registration); the first match, or undefined. */
export function findDevice<T extends { geometry: Pick<MtdGeometry, 'name' | 'index'> }>(
  state: MtdPstoreModuleState,
  devices: readonly T[],
): T | undefined {
  for (const d of devices) if (matchDevice(state, d.geometry)) return d;
  return undefined;
}

/** After a detach the kernel forgets the numeric target: only a name match attaches again (§6.9). */
export function forgetTarget(state: MtdPstoreModuleState): void {
  state.targetIndex = -1;
}
