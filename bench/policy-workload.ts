/**
 * Workload report for the two mtdpstore policies (docs/POLICIES.md).
 *
 * 10,000 dumps on a 1 MiB NAND (128 KiB blocks, 2 KiB pages, 64 KiB zones:
 * 16 zones, 2 per block), in boots of 1–3 dumps. Every boot mounts first
 * (recovery + listing), removes each listed file with probability 5 %, dumps, and ends
 * with a panic (15 % of boots: the last dump is a panic and the machine
 * stops), a clean detach and reboot (half of the rest), or a plain power-off.
 * The same seeded sequence of decisions drives both policies.
 *
 * Figures (one line each):
 *  - erases per dump — ideal: one erase per zones-per-block dumps (0.5);
 *  - pages programmed per dump — ideal: one program of kmsg_size (32 pages);
 *  - records lost — a record not removed by the user that is missing from a
 *    listing while it is still among the 6 newest dumps (both policies keep
 *    at least 12 zones of history, so nothing that new may disappear), or
 *    was never listed at all; ideal 0;
 *  - records resurrected — a removed record listed again; ideal 0;
 *  - records corrupted — listed entries whose text is not a dump's; ideal 0;
 *  - erases and reads during panic writes — must be 0.
 *
 * Run: npx tsx bench/policy-workload.ts [dumps] [seed]
 */
import { FlashSimulator } from '../src/mtd/simulator.js';
import { SeededRandom } from '../src/mtd/prng.js';
import { MtdPstoreSession, type DumpRequest } from '../src/mtdpstore/session.js';
import type { MtdPstorePolicy } from '../src/mtdpstore/backend.js';
import { KmsgReason } from '../src/zone/format.js';

const KiB = 1024;
const GEOMETRY = { type: 'nand' as const, size: 1024 * KiB, erasesize: 128 * KiB, writesize: 2 * KiB, oobsize: 64 };
const Z = 64 * KiB;
const WINDOW = 6;
/** Chance that a listed file is removed at a mount. */
const REMOVE_P = 0.05;

interface Figures {
  dumps: number;
  erases: number;
  pagesProgrammed: number;
  lost: number;
  resurrected: number;
  corrupted: number;
  panicWrites: number;
  panicErases: number;
  panicReads: number;
  boots: number;
  ms: number;
}

function dumpOf(i: number, panic: boolean): DumpRequest {
  const kind = panic ? 'Panic' : 'Oops';
  return {
    reason: panic ? KmsgReason.PANIC : KmsgReason.OOPS,
    time: { sec: 1_700_000_000 + i, nsec: 0 },
    compressed: false,
    data: Buffer.from(`${kind}#${i} Part1\n<0>[ 1.000000] workload dump ${i}\n`),
  };
}

const TEXT = /^(?:Oops|Panic): Total -?\d+ times\n(?:Oops|Panic)#(\d+) Part1\n<0>\[ 1\.000000\] workload dump (\d+)\n$/;

export function runWorkload(policy: MtdPstorePolicy, totalDumps: number, seed: number): Figures {
  const t0 = performance.now();
  const rng = new SeededRandom(seed);
  const dev = new FlashSimulator({ ...GEOMETRY, name: 'pstore', seed });
  const s = new MtdPstoreSession(dev, { kmsgSize: Z, policy });
  const removed = new Set<number>();
  const seen = new Set<number>();
  const lostSet = new Set<number>();
  const resurrectedSet = new Set<number>();
  const f: Figures = { dumps: 0, erases: 0, pagesProgrammed: 0, lost: 0, resurrected: 0, corrupted: 0, panicWrites: 0, panicErases: 0, panicReads: 0, boots: 0, ms: 0 };
  let next = 0;

  const check = (ids: Map<string, number>): void => {
    const present = new Set(ids.values());
    for (const r of present) {
      seen.add(r);
      if (removed.has(r)) resurrectedSet.add(r);
    }
    for (let r = Math.max(0, next - WINDOW); r < next; r++) {
      if (!removed.has(r) && !present.has(r)) lostSet.add(r);
    }
  };

  const list = (): Map<string, number> => {
    const l = s.list();
    const ids = new Map<string, number>();
    if (!l.ok) return ids;
    for (const r of l.records) {
      const m = TEXT.exec(r.data.toString('latin1'));
      if (m && m[1] === m[2]) ids.set(`dmesg-pstore_blk-${r.id}`, Number(m[1]));
      else f.corrupted++;
    }
    return ids;
  };

  while (next < totalDumps) {
    f.boots++;
    s.attach();
    const ids = list();
    check(ids);
    // A fixed number of draws per boot, so both policies see the same decisions.
    const coins = Array.from({ length: 16 }, () => rng.chance(REMOVE_P));
    let c = 0;
    for (const [name, r] of ids) {
      if (coins[c++ % coins.length]) {
        s.remove(name);
        removed.add(r);
      }
    }
    const n = Math.min(1 + rng.int(3), totalDumps - next);
    const panicEnd = rng.chance(0.15);
    for (let k = 0; k < n; k++) {
      const panic = panicEnd && k === n - 1;
      const req = dumpOf(next++, panic);
      if (panic) {
        const before = { e: dev.stats.erases, r: dev.stats.reads };
        s.panicWrite(req);
        f.panicWrites++;
        f.panicErases += dev.stats.erases - before.e;
        f.panicReads += dev.stats.reads - before.r;
      } else {
        s.write(req);
      }
    }
    const detach = rng.chance(0.5);
    if (!panicEnd && detach) s.detach();
    s.reboot();
  }
  s.attach();
  check(list());
  for (let r = 0; r < totalDumps; r++) if (!seen.has(r) && !removed.has(r)) lostSet.add(r);
  f.dumps = totalDumps;
  f.erases = dev.stats.erases;
  f.pagesProgrammed = dev.stats.pagesProgrammed;
  f.lost = lostSet.size;
  f.resurrected = resurrectedSet.size;
  f.ms = performance.now() - t0;
  return f;
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(4);
}

function line(name: string, figure: number, unit: string, baseline: number): string {
  const ratio = baseline === 0 ? 'n/a' : fmt(figure / baseline);
  return `bench ${name}: ${fmt(figure)} ${unit} (ratio ${ratio} vs ${fmt(baseline)})`;
}

function main(): void {
  const dumps = Number(process.argv[2] ?? 10_000);
  const seed = Number(process.argv[3] ?? 1);
  const zonesPerBlock = GEOMETRY.erasesize / Z;
  const idealErases = 1 / zonesPerBlock;
  const idealPages = Z / GEOMETRY.writesize;
  for (const policy of ['kernel', 'hardened'] as const) {
    const f = runWorkload(policy, dumps, seed);
    const p = `${policy}`;
    console.log(line(`${p} erases-per-dump`, f.erases / f.dumps, 'erases/dump', idealErases));
    console.log(line(`${p} pages-programmed-per-dump`, f.pagesProgrammed / f.dumps, 'pages/dump', idealPages));
    console.log(line(`${p} records-lost`, f.lost, 'records', 0));
    console.log(line(`${p} records-resurrected`, f.resurrected, 'records', 0));
    console.log(line(`${p} records-corrupted`, f.corrupted, 'listings', 0));
    console.log(line(`${p} panic-write-erases`, f.panicErases, `erases in ${f.panicWrites} panic writes`, 0));
    console.log(line(`${p} panic-write-reads`, f.panicReads, `reads in ${f.panicWrites} panic writes`, 0));
    console.log(`# ${policy}: ${f.dumps} dumps in ${f.boots} boots, ${(f.ms / 1000).toFixed(1)} s`);
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('policy-workload.ts')) main();
