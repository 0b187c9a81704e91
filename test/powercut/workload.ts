/**
 * Power-cut campaign workloads: flash geometries and seeded, policy-independent
 * scripts of what a sequence of machine boots does to an mtdpstore partition.
 *
 * A script is a list of steps. Each boot attaches (module load), usually
 * mounts (list = recovery), may remove files, stores dumps, and ends with a
 * panic dump (the machine stops), a clean detach (flush of removed zones:
 * read-erase-write in the kernel policy), or a plain power-off. Some boots
 * panic before pstore was mounted (W9 territory). The ring wraps several
 * times, so the free-zone ("security") step erases blocks along the way.
 *
 * Removals name their target by rank among the records the listing shows
 * (`pick` in [0, 1): 0 = oldest), so both policies follow the same intent.
 */
import { SeededRandom } from '../../src/mtd/prng.js';
import type { SimulatorOptions } from '../../src/mtd/simulator.js';
import type { DumpRequest } from '../../src/mtdpstore/session.js';
import { DEFAULT_ABI } from '../../src/zone/abi.js';
import { KmsgReason, ZONE_HEADER_SIZE, kmsgHeaderSize } from '../../src/zone/format.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** A flash geometry and zone size to run campaigns on. */
export interface CampaignGeometry {
  /** Short name used in reports and on the command line. */
  name: string;
  /** Simulator options (the campaign seed is added). */
  sim: Omit<SimulatorOptions, 'seed'>;
  /** Z: kmsg zone size in bytes. */
  kmsgSize: number;
}

/**
 * The geometries. `nand` is the nandsim-like layout of the fixtures (2 KiB
 * pages, 128 KiB blocks, 64 KiB zones: 16 zones, 2 per block); `nor` is a
 * byte-programmable chip with the same zone count. `nand-z32` puts 4 zones
 * in a block (more survivors per removal), `nand-bad` has a factory bad block.
 */
export const GEOMETRIES: Readonly<Record<string, CampaignGeometry>> = {
  nand: {
    name: 'nand',
    sim: { type: 'nand', size: MiB, erasesize: 128 * KiB, writesize: 2 * KiB, oobsize: 64, name: 'pstore' },
    kmsgSize: 64 * KiB,
  },
  nor: {
    name: 'nor',
    sim: { type: 'nor', size: 512 * KiB, erasesize: 64 * KiB, name: 'pstore' },
    kmsgSize: 32 * KiB,
  },
  'nand-z32': {
    name: 'nand-z32',
    sim: { type: 'nand', size: MiB, erasesize: 128 * KiB, writesize: 2 * KiB, oobsize: 64, name: 'pstore' },
    kmsgSize: 32 * KiB,
  },
  'nand-bad': {
    name: 'nand-bad',
    sim: { type: 'nand', size: MiB, erasesize: 128 * KiB, writesize: 2 * KiB, oobsize: 64, name: 'pstore', badBlocks: [5] },
    kmsgSize: 64 * KiB,
  },
};

/** One step of a workload script. */
export type Step =
  /** Boot: a fresh session (RAM state of the previous boot is gone) attaches. */
  | { kind: 'attach' }
  /** Mount / listing (the first one of a boot runs recovery). */
  | { kind: 'list' }
  /** Remove the listed record of rank floor(pick × count), oldest first (skipped when none is listed). */
  | { kind: 'remove'; pick: number }
  /** An Oops dump, numbered `i`. */
  | { kind: 'dump'; i: number }
  /** A Panic dump, numbered `i`; the machine stops after it. */
  | { kind: 'panic'; i: number }
  /** Clean module unload: flush of removed zones, unregistration. */
  | { kind: 'detach' }
  /** End of the boot: power off (no detach unless a detach step came before). */
  | { kind: 'off' };

/** Shape of the seeded script. */
export interface WorkloadSpec {
  seed: number;
  /** Number of boots. */
  boots: number;
  /** Zone size, to size the payloads (some dumps fill the zone, as pstore core does). */
  kmsgSize: number;
}

/** A generated script plus the payload lengths of its dumps. */
export interface Workload {
  spec: WorkloadSpec;
  steps: Step[];
  /** Payload length per dump number. */
  lengths: number[];
}

/** Build the script of `spec` (a pure function of the spec). */
export function generateWorkload(spec: WorkloadSpec): Workload {
  const rng = new SeededRandom((spec.seed * 2654435761) >>> 0 || 1);
  const steps: Step[] = [];
  const lengths: number[] = [];
  const room = spec.kmsgSize - ZONE_HEADER_SIZE - kmsgHeaderSize(DEFAULT_ABI);
  const newDump = (): number => {
    const i = lengths.length;
    const r = rng.float();
    // Small (inside the first page), medium (a few pages), or as much as fits (what pstore core does
    // with a long log): torn programs then cut through the record itself.
    lengths.push(r < 0.4 ? 100 + rng.int(1500) : r < 0.75 ? 2000 + rng.int(10_000) : room - rng.int(64));
    return i;
  };
  for (let b = 0; b < spec.boots; b++) {
    steps.push({ kind: 'attach' });
    if (rng.chance(0.12)) {
      // Crash early in the boot: pstore never mounted.
      if (rng.chance(0.6)) steps.push({ kind: 'panic', i: newDump() });
      else if (rng.chance(0.5)) steps.push({ kind: 'detach' });
      steps.push({ kind: 'off' });
      continue;
    }
    steps.push({ kind: 'list' });
    const removals = rng.chance(0.45) ? 1 + rng.int(2) : 0;
    for (let r = 0; r < removals; r++) steps.push({ kind: 'remove', pick: rng.float() });
    const dumps = 1 + rng.int(3);
    for (let d = 0; d < dumps; d++) steps.push({ kind: 'dump', i: newDump() });
    if (rng.chance(0.2)) {
      // Read the new dump and delete it at once (a listing from RAM, then a removal).
      steps.push({ kind: 'list' }, { kind: 'remove', pick: 0.999 });
    }
    const end = rng.float();
    if (end < 0.2) steps.push({ kind: 'panic', i: newDump() });
    else if (end < 0.6) steps.push({ kind: 'detach' });
    steps.push({ kind: 'off' });
  }
  return { spec, steps, lengths };
}

/** Seconds of dump `i` (unique per dump, increasing: the hardened policy finds the newest record by time). */
export const TIME_BASE = 1_700_000_000;

export function dumpTime(i: number): { sec: number; nsec: number } {
  return { sec: TIME_BASE + 10 * i, nsec: 1000 * i + 7 };
}

/** Dump number of a stored time, or -1 when it is not one of ours. */
export function dumpOfTime(t: { sec: number; nsec: number } | null): number {
  if (!t) return -1;
  const d = t.sec - TIME_BASE;
  if (d < 0 || d % 10 !== 0) return -1;
  const i = d / 10;
  return t.nsec === 1000 * i + 7 ? i : -1;
}

/** Every 4th dump carries compressed (binary) data; the others are text. */
export function isCompressed(i: number): boolean {
  return i % 4 === 3;
}

const payloads = new Map<string, Buffer>();

/** The payload of dump `i` (deterministic; text starts with the pstore core header line). Cached: do not modify it. */
export function payload(i: number, length: number): Buffer {
  const key = `${i}:${length}`;
  let p = payloads.get(key);
  if (!p) {
    if (payloads.size > 4096) payloads.clear();
    payloads.set(key, (p = makePayload(i, length)));
  }
  return p;
}

function makePayload(i: number, length: number): Buffer {
  const rng = new SeededRandom((i * 0x9e3779b1 + 12345) >>> 0);
  const out = Buffer.alloc(length);
  if (isCompressed(i)) {
    for (let k = 0; k < length; k++) out[k] = rng.nextU32() & 0xff;
    return out;
  }
  const head = Buffer.from(`Dump#${i} Part1\n`, 'latin1');
  head.copy(out, 0, 0, Math.min(head.length, length));
  for (let k = head.length; k < length; k++) out[k] = (k + 1) % 64 === 0 ? 0x0a : 0x20 + (rng.nextU32() % 95);
  return out;
}

/** The request pstore core would hand over for dump `i`. */
export function dumpRequest(i: number, length: number, panic: boolean): DumpRequest {
  return {
    reason: panic ? KmsgReason.PANIC : KmsgReason.OOPS,
    time: dumpTime(i),
    compressed: isCompressed(i),
    data: payload(i, length),
  };
}
