/**
 * Simulator throughput: program every page of a 16 MiB NAND, then read it all
 * back, in erase-block-sized calls; compared with a plain Buffer.copy of the
 * same volume in the same chunks, measured in the same run.
 *
 * Run: npx tsx bench/sim-throughput.ts
 * Prints: `bench sim-program: <MB/s> MB/s (ratio <r> vs buffer-copy)` and the
 * same for `sim-read` (MB = 10^6 bytes; median of several rounds).
 */
import { FlashSimulator } from '../src/mtd/simulator.js';

const SIZE = 16 * 1024 * 1024;
const E = 128 * 1024;
const W = 2048;
const ROUNDS = 11;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function seconds(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const src = Buffer.alloc(SIZE);
for (let i = 0; i < SIZE; i++) src[i] = (i * 131 + (i >>> 11)) & 0xff;
const sim = new FlashSimulator({ type: 'nand', size: SIZE, erasesize: E, writesize: W, oobsize: 64 });
const dst = Buffer.alloc(SIZE);

const prog: number[] = [];
const read: number[] = [];
const copyW: number[] = [];
const copyR: number[] = [];
let check = 0;
for (let r = 0; r < ROUNDS; r++) {
  sim.erase(0, SIZE); // not timed
  prog.push(
    seconds(() => {
      for (let off = 0; off < SIZE; off += E) sim.write(off, src.subarray(off, off + E));
    }),
  );
  read.push(
    seconds(() => {
      for (let off = 0; off < SIZE; off += E) check ^= sim.read(off, E).data[7];
    }),
  );
  copyW.push(
    seconds(() => {
      for (let off = 0; off < SIZE; off += E) src.copy(dst, off, off, off + E);
    }),
  );
  copyR.push(
    seconds(() => {
      // A read allocates its result buffer, so the baseline does too.
      for (let off = 0; off < SIZE; off += E) {
        const out = Buffer.allocUnsafe(E);
        dst.copy(out, 0, off, off + E);
        check ^= out[7];
      }
    }),
  );
}
if (!sim.read(0, SIZE).data.equals(src)) throw new Error('simulator content differs from what was programmed');

const mbps = (t: number): number => SIZE / 1e6 / t;
const line = (name: string, t: number, base: number): string =>
  `bench ${name}: ${mbps(t).toFixed(1)} MB/s (ratio ${(base / t).toFixed(2)} vs buffer-copy)`;
console.error(`# 16 MiB NAND (W ${W}, E ${E}), ${E}-byte calls, median of ${ROUNDS} rounds; check ${check}`);
console.log(line('sim-program', median(prog), median(copyW)));
console.log(line('sim-read', median(read), median(copyR)));
