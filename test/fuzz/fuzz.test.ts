/**
 * Hostile-input fuzzing, bounded for `npm test` (well under 60 s on 2 cores):
 *
 *  - the guards the properties rely on really catch what they claim to;
 *  - exhaustive tables: every extreme zone-header length/position, every
 *    extreme kmsg sub-header value, every signature swap and truncation at
 *    every interesting boundary, on one record-bearing image per scenario;
 *  - fast-check mutations of all fixture images through the engine, the
 *    in-memory and file listings and the geometry flags, in worker threads
 *    with a hang watchdog (FUZZ_CASES overrides the case count, FUZZ_SEED the seed);
 *  - a few cases through the real CLI process (`ls --json`, `extract` with
 *    planted symlinks);
 *  - regressions for bugs the fuzzer found.
 *
 * The long run is `npx tsx test/fuzz/run.ts --full` (see run.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { listImage } from '../../src/api/read.js';
import { writeFilesToDir } from '../../src/pstore/files.js';
import { BlockZoneBackend } from '../../src/zone/block-backend.js';
import { PSZ_SIG, zoneSignature } from '../../src/zone/format.js';
import { cliAvailable, runCliCase } from './cli.js';
import { describeSummary, passed, runFuzz } from './driver.js';
import { PropertyFailure, Violations, guardBackend, onlyPstoreError, watchImageFile } from './guards.js';
import { applyMutations, intact, type Mutation } from './mutate.js';
import { fuzzCaseArb, runLibraryCase, runLibraryCaseTimed, workDir, type FuzzCase, type Variant } from './oracle.js';
import { loadSeeds, type Seed } from './seeds.js';

const seeds = loadSeeds();
const plainVariant: Variant = { cli: null, file: false, removed: false, flags: null, oob: null, decompression: null };
/** Per-case budget in `npm test`: generous, the suite shares two cores with other work (a slow case is re-run once). */
const BUDGET_MS = 2000;

/** One record-bearing image per scenario (the last state, which has the most history). */
function recordSeeds(): number[] {
  const last = new Map<string, number>();
  seeds.forEach((s, i) => {
    if (!/blank/.test(s.name)) last.set(s.name.split('/')[0]!, i);
  });
  return [...last.values()];
}

/** Zone index of the first record the seed holds (by explicit listing). */
function firstRecordZone(seed: Seed): number {
  for (let z = 0; z * seed.zoneSize < seed.image.length; z++) {
    const sig = seed.abi.endian === 'le' ? seed.image.readUInt32LE(z * seed.zoneSize) : seed.image.readUInt32BE(z * seed.zoneSize);
    if (sig === PSZ_SIG) return z;
  }
  return 0;
}

function runTable(cases: FuzzCase[]): void {
  for (const c of cases) {
    try {
      runLibraryCaseTimed(seeds, c, BUDGET_MS);
    } catch (e) {
      throw new Error(`${seeds[c.seed]!.name} ${JSON.stringify(c.muts)}: ${(e as Error).message}`, { cause: e });
    }
  }
}

// ------------------------------------------------------------------ guards

test('guards: out-of-range backend reads, writes and non-PstoreError throws are caught', () => {
  const v = new Violations();
  const b = guardBackend(new BlockZoneBackend(Buffer.alloc(100)), 100, v);
  assert.equal(b.read(Buffer.alloc(10), 90), 10);
  assert.ok(v.ok);
  b.read(Buffer.alloc(10), 95);
  b.read(Buffer.alloc(1), -1);
  b.write(Buffer.alloc(1), 0);
  assert.equal(v.list.length, 3, v.list.join('; '));
  assert.throws(() => onlyPstoreError('x', () => JSON.parse('{')), PropertyFailure);
  assert.throws(() => onlyPstoreError('x', () => (null as unknown as { f(): void }).f()), PropertyFailure);
});

test('guards: the file-system watch sees reads past the end and opening for writing', () => {
  const file = path.join(workDir(), 'watch.img');
  fs.writeFileSync(file, Buffer.alloc(4096));
  const v = new Violations();
  watchImageFile(file, v, () => {
    const fd = fs.openSync(file, 'r');
    fs.readSync(fd, Buffer.alloc(16), 0, 16, 0);
    assert.ok(v.ok, v.list.join('; '));
    fs.readSync(fd, Buffer.alloc(16), 0, 16, 4096);
    fs.closeSync(fd);
    fs.closeSync(fs.openSync(file, 'r+'));
  });
  assert.equal(v.list.length, 2, v.list.join('; '));
});

test('guards: the watchdog stops a worker stuck in an endless loop and names the case', async () => {
  const s = await runFuzz({ cases: 1, workers: 1, seed: 1, budgetMs: BUDGET_MS, hangMs: 1500, cliPerMille: 0, cliTimeoutMs: 1000, ignore: [], selfTestHang: true });
  assert.equal(s.hangs.length, 1, describeSummary(s, { seed: 1, workers: 1 }));
  assert.ok(!passed(s));
  assert.ok(Array.isArray(s.hangs[0]!.c.muts) && s.hangs[0]!.c.muts.length > 0, 'the hanging case is reported');
});

test('mutations report exactly the ranges they touch', () => {
  const s = seeds[recordSeeds()[0]!]!;
  const m = applyMutations(s, [{ op: 'zoneField', zone: 2, field: 'datalen', value: -1, endian: 'le' }, { op: 'truncate', len: 5 * s.zoneSize + 7 }]);
  assert.equal(m.image.length, 5 * s.zoneSize + 7);
  assert.ok(intact(m, 0, s.zoneSize));
  assert.ok(!intact(m, 2 * s.zoneSize, 3 * s.zoneSize));
  assert.ok(intact(m, 4 * s.zoneSize, 5 * s.zoneSize));
  assert.ok(!intact(m, 5 * s.zoneSize, 6 * s.zoneSize), 'a zone cut by the truncation is not intact');
  assert.equal(m.image.readInt32LE(2 * s.zoneSize + 4), -1);
});

// ------------------------------------------------------------------ tables

test('every extreme zone-header datalen/start, in both byte orders: no crash, other zones intact', () => {
  const cases: FuzzCase[] = [];
  for (const i of recordSeeds()) {
    const s = seeds[i]!;
    const z = firstRecordZone(s);
    const B = s.zoneSize - 12;
    const values = [0, 1, s.H - 1, s.H, s.H + 1, B - 1, B, B + 1, s.zoneSize, 2 ** 31 - 1, -1, -(2 ** 31)];
    for (const field of ['datalen', 'start'] as const) {
      for (const value of values) {
        for (const endian of ['le', 'be'] as const) cases.push({ seed: i, muts: [{ op: 'zoneField', zone: z, field, value, endian }], variant: plainVariant });
      }
    }
  }
  runTable(cases);
});

test('every extreme kmsg counter/time/nsec/reason/compressed/magic value: no crash, other zones intact', () => {
  const fields: Record<string, string[]> = {
    counter: ['0', '1', String(2 ** 31 - 1), String(2 ** 31), String(2 ** 32 - 1)],
    sec: ['0', '-1', String(2 ** 31 - 1), String(2 ** 53), String(2n ** 63n - 1n), String(-(2n ** 63n))],
    nsec: ['0', '999999999', '1000000000', '-1', String(2n ** 63n - 1n), String(-(2n ** 63n))],
    reason: ['0', '1', '2', '3', '4', '5', '6', '255', String(2 ** 32 - 1)],
    compressed: ['0', '1', '2', '255'],
    magic: ['0', String(2 ** 32 - 1), '3895397453'],
  };
  const cases: FuzzCase[] = [];
  for (const i of recordSeeds()) {
    const s = seeds[i]!;
    const z = firstRecordZone(s);
    for (const [field, values] of Object.entries(fields)) {
      for (const value of values) {
        cases.push({ seed: i, muts: [{ op: 'kmsgField', zone: z, field: field as 'sec', value, abi: s.abi }], variant: plainVariant });
      }
    }
  }
  runTable(cases);
});

test('signature swaps (every type, other byte order, erased, mtdoops magics) and truncation at every boundary', () => {
  const sigs = [...[0, 1, 2, 3, 4, 5, 6, 7, 8, 0xff].map(zoneSignature), 0x44424743, 0xffffffff, 0, 0x5d005d00];
  const cases: FuzzCase[] = [];
  for (const i of recordSeeds()) {
    const s = seeds[i]!;
    const z = firstRecordZone(s);
    for (const value of sigs) {
      for (const endian of ['le', 'be'] as const) cases.push({ seed: i, muts: [{ op: 'sig', zone: z, value, endian }], variant: plainVariant });
    }
    const S = s.image.length;
    const cuts = new Set([0, 1, 11, 12, 12 + s.H - 1, 12 + s.H, s.zoneSize - 1, s.zoneSize, s.zoneSize + 1, S / 2 + 13, S - s.zoneSize, S - 1]);
    for (const len of cuts) cases.push({ seed: i, muts: [{ op: 'truncate', len } as Mutation], variant: { ...plainVariant, file: len % 2 === 1 } });
  }
  runTable(cases);
});

// ------------------------------------------------------------------ random

test('random mutations of every fixture image through the library (worker threads, hang watchdog)', { timeout: 120_000 }, async () => {
  const cases = Number(process.env.FUZZ_CASES ?? 2000);
  const seed = Number(process.env.FUZZ_SEED ?? 20240607);
  const s = await runFuzz({ cases, workers: 2, seed, budgetMs: BUDGET_MS, hangMs: 10_000, cliPerMille: 0, cliTimeoutMs: 60_000, ignore: [] });
  const report = describeSummary(s, { seed, workers: 2 });
  assert.ok(passed(s), report);
  assert.ok(s.runs >= cases, `only ${s.runs} of ${cases} cases ran\n${report}`);
});

test('random mutations through the CLI: ls --json and extract (planted symlinks), exit codes match the library', { timeout: 120_000 }, () => {
  const a = cliAvailable();
  assert.ok(a.ok, `the CLI does not start: ${a.why}`);
  fc.assert(
    fc.property(fuzzCaseArb(seeds, 1000), (c) => {
      runLibraryCase(seeds, c, 60_000);
      runCliCase(seeds, c, c.variant.cli!, 60_000);
    }),
    { numRuns: Number(process.env.FUZZ_CLI_CASES ?? 4), seed: Number(process.env.FUZZ_SEED ?? 20240607) },
  );
});

test('extract on every scenario never follows planted symlinks and writes every listed file', { timeout: 120_000 }, () => {
  assert.ok(cliAvailable().ok, `the CLI does not start: ${cliAvailable().why}`);
  // Unmutated images (a bit flipped twice): compressed pstore, big-endian pstore, mtdoops.
  const names = ['blk-deflate/s2-rm1-1oops', 'blk-s390x/s2-1oops-deflate', 'mtdoops-block2mtd/s2-2oops'];
  for (const i of names.map((n) => seeds.findIndex((s) => s.name === n))) {
    assert.ok(i >= 0);
    const flip: Mutation = { op: 'flip', off: 100, bit: 0 };
    runCliCase(seeds, { seed: i, muts: [flip, flip], variant: { ...plainVariant, cli: 'extract' } }, 'extract', 60_000);
  }
});

// ------------------------------------------------------------------ regressions

test('regression: two mtdoops records with the same sequence number are both listed under distinct names and both extracted', () => {
  // Found by the fuzzer: an mtdoops slot whose header repeats the sequence number of another
  // slot (power cut, stale block, or a crafted dump) produced two files named mtdoops-<seq>;
  // extract then silently replaced the first file with the second.
  const i = seeds.findIndex((s) => s.name === 'mtdoops-block2mtd/s2-2oops');
  assert.ok(i >= 0);
  const s = seeds[i]!;
  const m = applyMutations(s, [{ op: 'mtdoops', slot: 20, seq: 2, magic: 0x5d005d00, endian: 'le', textLen: 10, stamp: '0' }]);
  const file = path.join(workDir(), 'dup-seq.img');
  fs.writeFileSync(file, m.image);
  const l = listImage(file, { format: 'mtdoops', zoneSize: 4096, endian: 'le' });
  const names = l.files.map((f) => f.name);
  assert.equal(l.files.length, 6, `every valid slot is a record: ${names.join(', ')}`);
  assert.equal(new Set(names).size, names.length, `file names must be unique: ${names.join(', ')}`);
  const dir = path.join(workDir(), 'dup-seq-out');
  const written = writeFilesToDir(l.files, dir);
  assert.equal(new Set(written).size, l.files.length, 'every record must be extracted to its own file');
  assert.equal(fs.readdirSync(dir).length, l.files.length);
});

test('regression: writeFilesToDir refuses two files of the same name instead of keeping only the last', () => {
  const s = seeds.find((x) => x.name === 'blk-plain/s1-3oops')!;
  const file = path.join(workDir(), 'dup-name.img');
  fs.writeFileSync(file, s.image);
  const files = listImage(file, {}).files;
  assert.ok(files.length >= 2);
  const dup = [files[0]!, { ...files[1]!, name: files[0]!.name }];
  const dir = path.join(workDir(), 'dup-name-out');
  assert.throws(() => writeFilesToDir(dup, dir), (e: unknown) => e instanceof Error && /same name|twice|duplicate/i.test(e.message));
});

test('regression: a tiny --erasesize does not turn reading into one read call per byte (was minutes for 128 MiB)', () => {
  // Found by the fuzzer's time budget: with erasesize 1 (or any small erase block) the image
  // device read block by block, one pread per erase block: 7 s for a 4 MiB image, ~4 min
  // for 128 MiB. Contiguous blocks of a raw image are contiguous in the file: one read will do.
  const file = path.join(workDir(), 'tiny-erase.img');
  fs.writeFileSync(file, Buffer.alloc(1 << 20, 0xff));
  const count = { reads: 0 };
  const v = new Violations();
  const l = watchImageFile(file, v, () => listImage(file, { type: 'nor', erasesize: 1 }), count);
  assert.equal(l.format, 'empty');
  assert.ok(v.ok, v.list.join('; '));
  assert.ok(count.reads < 4096, `${count.reads} read calls for a 1 MiB image (erasesize 1)`);
});
