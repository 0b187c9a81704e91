/**
 * Names the kernel prints for pstore type ids and kmsg dump reasons
 * (spec: format.md §3 and §8, pstore-core.md §5.1). Shared by pstore/zone
 * (which builds the "Total" line) and pstore core (file names).
 */

import { KmsgReason, PstoreType, reasonString } from '../zone/format.js';

/** pstore type ids: the zone layer's table (the format facts live there). */
export const PSTORE_TYPE = PstoreType;
export { reasonString };

/** File-name prefixes indexed by type id; ids 9 and above are "unknown". */
const TYPE_NAMES: readonly string[] = [
  'dmesg', 'mce', 'console', 'ftrace', 'rtas', 'powerpc-ofw', 'powerpc-common', 'pmsg', 'powerpc-opal',
];

/** The name pstore core uses for a type id in file names (`dmesg`, `pmsg`, …; `unknown` for ids ≥ 9). */
export function typeName(type: number): string {
  return Number.isInteger(type) && type >= 0 && type < TYPE_NAMES.length ? TYPE_NAMES[type]! : 'unknown';
}

/** The type id for a file-name prefix, or undefined if the prefix is not a known type name. */
export function typeFromName(name: string): number | undefined {
  const i = TYPE_NAMES.indexOf(name);
  return i < 0 ? undefined : i;
}

/** kmsg dump reasons (v5.8+): the zone layer's table. */
export const KMSG_REASON = KmsgReason;

/** Reason value for a display string (inverse of {@link reasonString}); `Unknown` maps to 0. */
export function reasonFromString(s: string): number | undefined {
  switch (s) {
    case 'Panic': return 1;
    case 'Oops': return 2;
    case 'Emergency': return 3;
    case 'Shutdown': return 4;
    case 'Unknown': return 0;
    default: return undefined;
  }
}

/**
 * The first line pstore/zone puts in front of an uncompressed dmesg record
 * when handing it to pstore core: `<Reason>: Total <counter> times\n`.
 * The counter is stored as u32 but printed as a signed int, hence `| 0`.
 */
export function dmesgTotalLine(reason: number, counter: number): string {
  return `${reasonString(reason)}: Total ${counter | 0} times\n`;
}
