/**
 * The zone table: where each zone of each type lies inside the device.
 * Computed from the pstore/blk parameters by `computeLayout` (config.ts).
 */
export interface ZoneInfo {
  /** pstore type id of the zone (format.ts PstoreType). */
  readonly type: number;
  /** Index within its group: kmsg zone number, ftrace CPU number; 0 for pmsg/console. */
  readonly index: number;
  /** Byte offset of the zone in the device. */
  readonly offset: number;
  /** Zone size in bytes (header included). */
  readonly size: number;
}

export interface ZoneLayout {
  /** Usable device size (after the 128 MiB cap when it applies). */
  readonly totalSize: number;
  /** Size of one kmsg zone (0 = no dmesg). */
  readonly kmsgSize: number;
  readonly pmsgSize: number;
  readonly consoleSize: number;
  /** Total ftrace size (all CPUs). */
  readonly ftraceSize: number;
  readonly pmsg?: ZoneInfo;
  readonly console?: ZoneInfo;
  readonly ftrace: readonly ZoneInfo[];
  readonly kmsg: readonly ZoneInfo[];
}

/** A layout of kmsg zones only (what mtdpstore uses): N = floor(total ÷ zoneSize) zones from offset 0. */
export function kmsgOnlyLayout(totalSize: number, kmsgSize: number): ZoneLayout {
  const n = kmsgSize > 0 ? Math.floor(totalSize / kmsgSize) : 0;
  return {
    totalSize,
    kmsgSize,
    pmsgSize: 0,
    consoleSize: 0,
    ftraceSize: 0,
    ftrace: [],
    kmsg: Array.from({ length: n }, (_, i) => ({ type: 0, index: i, offset: i * kmsgSize, size: kmsgSize })),
  };
}
