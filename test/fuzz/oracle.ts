/**
 * The fuzzer's properties for one case, through the library:
 *
 *  - no crash: only a PstoreError with a message may escape;
 *  - no read outside the image (backend, reader and the image file itself),
 *    no write of any kind;
 *  - every intact record is still returned: a zone (or mtdoops slot) that no
 *    mutation touched and that had a record in the seed's listing is listed
 *    again with identical bytes and fields — always when the format
 *    parameters are given explicitly, and with detection whenever detection
 *    still finds what it found on the seed;
 *  - reading a file gives exactly what reading the same bytes in memory gives,
 *    and leaves the file unchanged (sha256 and mtime);
 *  - each case finishes within a time budget.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { listImage, listSource, type ListOptions, type Listing, type ListedFile } from '../../src/api/read.js';
import type { BufferReader, Source, SourceOptions } from '../../src/api/source.js';
import { openSource } from '../../src/api/source.js';
import { recordsToFiles, validateFileName, type Timespec } from '../../src/pstore/files.js';
import { BlockZoneBackend } from '../../src/zone/block-backend.js';
import { detectFormat } from '../../src/zone/detect.js';
import { PstoreZone } from '../../src/zone/engine.js';
import { kmsgOnlyLayout } from '../../src/zone/layout.js';
import type { PstoreRecord } from '../../src/zone/record.js';
import type { AbiClass, Endian } from '../../src/zone/abi.js';
import { Violations, PropertyFailure, fail, guardBackend, guardReader, guardSource, onlyPstoreError, watchImageFile, type Outcome } from './guards.js';
import { applyMutations, caseArb, intact, prngBytes, type Mutated, type MutationCase } from './mutate.js';
import type { Seed } from './seeds.js';

/** Fixed "mount time" so listings of different runs compare equal. */
export const LISTING_TIME: Timespec = { sec: 1_000_000_000, nsec: 0 };
const ZONE_CAP = 128 * 1024 * 1024;

/** Geometry and format flags as a user might give them (deliberately including wrong ones). */
export interface FlagSet {
  zoneSize?: number;
  abi?: AbiClass;
  endian?: Endian;
  format?: 'pstore' | 'mtdoops';
  oob?: boolean | 'auto';
  type?: 'nand' | 'nor' | 'ram';
  erasesize?: number;
  writesize?: number;
  oobsize?: number;
  badBlocks?: number[];
  skippedBadBlocks?: number[];
}

/** How a case is read besides the always-run engine and in-memory listings. */
export interface Variant {
  /** Also list through a temporary file (openSource/listImage, file-system watch). */
  file: boolean;
  /** Ask for removed records too. */
  removed: boolean;
  /** Random geometry/format flags through the file path. */
  flags: FlagSet | null;
  /** mtdpstore seeds: interleave OOB, mark these blocks bad in it, list with --oob. */
  oob: { bad: number[]; noise: number } | null;
  /** Reader's decompression setting (older kernels and other algorithms). */
  decompression: { era: 'v6.6+' | 'pre-v6.6'; algorithm: 'deflate' | 'lzo' | 'lz4' | 'zstd' | '842' | 'none' } | null;
  /** Also run the CLI on the case (a small share: each run spawns a process). */
  cli: null | 'ls' | 'extract';
}

/** A complete case. */
export interface FuzzCase extends MutationCase {
  variant: Variant;
}

// ------------------------------------------------------------- generators

function flagsArb(seed: Seed): fc.Arbitrary<FlagSet> {
  const S = seed.image.length;
  const size = fc.oneof(
    fc.constantFrom(0, 1, 38, 512, 1000, 2048, 4096, 4097, 32768, 65536, 131072, S, S + 1, 2 ** 31 - 1, -1, -4096),
    fc.integer({ min: 1, max: 64 }).map((k) => k * 4096),
    fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 1.5),
  );
  const blockList = fc.array(fc.oneof(fc.nat(8), fc.constantFrom(-1, 2 ** 31, 1e9, 1.5)), { maxLength: 3 });
  return fc.record(
    {
      zoneSize: size,
      abi: fc.constantFrom<AbiClass>('lp64', 'ilp32-a8', 'ilp32-a4', 'm68k'),
      endian: fc.constantFrom<Endian>('le', 'be'),
      format: fc.constantFrom<'pstore' | 'mtdoops'>('pstore', 'mtdoops'),
      oob: fc.constantFrom<boolean | 'auto'>(true, false, 'auto'),
      type: fc.constantFrom<'nand' | 'nor' | 'ram'>('nand', 'nor', 'ram'),
      erasesize: size,
      writesize: fc.oneof(fc.constantFrom(0, 1, 512, 2048, 4096, 3000, 131072, 262144, -2048), size),
      oobsize: fc.constantFrom(0, 16, 64, 224, 640, -1, 2048),
      badBlocks: blockList,
      skippedBadBlocks: blockList,
    },
    { requiredKeys: [] },
  );
}

function variantArb(seed: Seed, cliPerMille: number): fc.Arbitrary<Variant> {
  const cli: fc.Arbitrary<Variant['cli']> =
    cliPerMille > 0
      ? fc.oneof(
          { weight: 1000 - cliPerMille, arbitrary: fc.constant(null) },
          { weight: cliPerMille, arbitrary: fc.constantFrom<'ls' | 'extract'>('ls', 'extract') },
        )
      : fc.constant(null);
  return fc.record({
    cli,
    file: fc.oneof({ weight: 1, arbitrary: fc.constant(true) }, { weight: 5, arbitrary: fc.constant(false) }),
    removed: fc.boolean(),
    flags: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: flagsArb(seed) }),
    oob: seed.flash
      ? fc.oneof(
          { weight: 4, arbitrary: fc.constant(null) },
          { weight: 1, arbitrary: fc.record({ bad: fc.uniqueArray(fc.nat(Math.max(0, seed.image.length / seed.flash.erasesize - 1)), { maxLength: 2 }), noise: fc.integer() }) },
        )
      : fc.constant(null),
    decompression: fc.oneof(
      { weight: 6, arbitrary: fc.constant(null) },
      {
        weight: 1,
        arbitrary: fc.record({
          era: fc.constantFrom<'v6.6+' | 'pre-v6.6'>('v6.6+', 'pre-v6.6'),
          algorithm: fc.constantFrom<'deflate' | 'lzo' | 'lz4' | 'zstd' | '842' | 'none'>('deflate', 'lzo', 'lz4', 'zstd', '842', 'none'),
        }),
      },
    ),
  });
}

/** Full cases over the seeds; `cliPerMille` of them (0–1000) also go through the CLI. */
export function fuzzCaseArb(seeds: readonly Seed[], cliPerMille = 0): fc.Arbitrary<FuzzCase> {
  return caseArb(seeds).chain((mc) => variantArb(seeds[mc.seed]!, cliPerMille).map((variant) => ({ ...mc, variant })));
}

// ------------------------------------------------------------- sources

/** A Source over bytes in memory, read the way openSource reads a plain image file. */
export function memorySource(image: Buffer, opts: SourceOptions, v: Violations, count?: { reads: number; bytes: number }): Source {
  const blk = new BlockZoneBackend(image, { writable: false });
  const size = image.length;
  const plain: BufferReader = {
    size,
    read(off: number, len: number): Buffer {
      const buf = Buffer.alloc(Math.max(0, Math.min(len, size - off)));
      if (buf.length === 0) return buf;
      const n = blk.read(buf, off);
      return n >= 0 ? buf.subarray(0, n) : Buffer.alloc(0);
    },
  };
  const reader = guardReader(plain, size, v);
  const detection = detectFormat(reader, { zoneSize: opts.zoneSize, abi: opts.abi, endian: opts.endian });
  return {
    path: '<memory>',
    fileSize: size,
    dataSize: size,
    backend: guardBackend(blk, size, v, count),
    device: null,
    reader,
    detection,
    notes: [],
    close: () => undefined,
  };
}

// ------------------------------------------------------------- comparisons

function fileKey(f: ListedFile): string {
  return `${f.removed ? 'removed' : 'live'}:${f.type}:${f.offset}`;
}

function describe(f: ListedFile): string {
  return `${f.name}${f.removed ? ' (removed)' : ''} @${f.offset}`;
}

function sameFile(a: ListedFile, b: ListedFile): string | null {
  if (a.name !== b.name) return `name ${a.name} became ${b.name}`;
  if (!a.data.equals(b.data)) return `bytes differ (${a.data.length} vs ${b.data.length} bytes)`;
  if (a.count !== b.count || a.reason !== b.reason || a.compressed !== b.compressed || a.encrypted !== b.encrypted) return 'header fields differ';
  if (JSON.stringify(a.time) !== JSON.stringify(b.time)) return `time ${JSON.stringify(a.time)} became ${JSON.stringify(b.time)}`;
  return null;
}

/** The byte range a listed file comes from (its zone or mtdoops slot). */
function spanOf(f: ListedFile, unit: number): [number, number] {
  return [f.offset, f.offset + unit];
}

/** Every file of `before` whose zone is intact must be in `after`, identical. */
function checkIntact(what: string, before: Listing, after: Outcome<Listing>, m: Mutated, unit: number, extra?: (f: ListedFile) => boolean): void {
  const expected = before.files.filter((f) => {
    const [a, b] = spanOf(f, unit);
    return intact(m, a, b) && (extra ? extra(f) : true);
  });
  if (expected.length === 0) return;
  if (!after.ok) {
    throw new PropertyFailure(`${what}: listing failed (${after.error.code}: ${after.error.message}) although ${expected.map(describe).join(', ')} are intact`);
  }
  const got = new Map(after.value.files.map((f) => [fileKey(f), f]));
  for (const f of expected) {
    const g = got.get(fileKey(f));
    if (!g) throw new PropertyFailure(`${what}: intact record ${describe(f)} is no longer listed (listed: ${after.value.files.map(describe).join(', ') || 'none'})`);
    const d = sameFile(f, g);
    if (d) throw new PropertyFailure(`${what}: intact record ${describe(f)} changed: ${d}`);
  }
}

/** Checks every listing must pass: plain valid names, unique names, sizes that match. */
function checkListingShape(what: string, l: Listing): void {
  const names = new Set<string>();
  for (const f of l.files) {
    try {
      validateFileName(f.removed ? `${f.name}.removed` : f.name);
    } catch (e) {
      throw new PropertyFailure(`${what}: file name ${JSON.stringify(f.name)} cannot be extracted: ${(e as Error).message}`);
    }
    const n = f.removed ? `${f.name}.removed` : f.name;
    if (names.has(n)) fail(new PropertyFailure(`${what}: two files are named ${n} (extract would keep only one)`, { tag: 'duplicate-name' }));
    names.add(n);
    if (!Buffer.isBuffer(f.data) || f.size !== f.data.length) throw new PropertyFailure(`${what}: ${f.name} has size ${f.size} but ${f.data?.length} bytes`);
  }
}

function sameListing(what: string, a: Outcome<Listing>, b: Outcome<Listing>): void {
  if (a.ok !== b.ok) {
    throw new PropertyFailure(`${what}: one read failed and the other did not (${a.ok ? 'ok' : a.error.message} / ${b.ok ? 'ok' : b.error.message})`);
  }
  if (!a.ok || !b.ok) {
    if (!a.ok && !b.ok && a.error.code !== b.error.code) throw new PropertyFailure(`${what}: errors differ: ${a.error.code} vs ${b.error.code}`);
    return;
  }
  const x = a.value.files;
  const y = b.value.files;
  if (x.length !== y.length) throw new PropertyFailure(`${what}: ${x.length} vs ${y.length} files`);
  for (let i = 0; i < x.length; i++) {
    const d = sameFile(x[i]!, y[i]!);
    if (d) throw new PropertyFailure(`${what}: file ${x[i]!.name}: ${d}`);
  }
}

// ------------------------------------------------------------- baselines

interface Baselines {
  detect: Map<string, Outcome<Listing>>;
  explicit: Map<string, Outcome<Listing>>;
  engine: Map<number, PstoreRecord[]>;
}
const baselines: Baselines = { detect: new Map(), explicit: new Map(), engine: new Map() };

function explicitOptions(seed: Seed): ListOptions {
  return seed.kind === 'mtdoops'
    ? { format: 'mtdoops', zoneSize: seed.zoneSize, endian: seed.abi.endian }
    : { format: 'pstore', zoneSize: seed.zoneSize, abi: seed.abi.cls, endian: seed.abi.endian };
}

function listMemory(image: Buffer, opts: ListOptions, v: Violations): Outcome<Listing> {
  return onlyPstoreError('listSource(memory)', () => listSource(memorySource(image, opts, v), opts));
}

function baseline(map: Map<string, Outcome<Listing>>, key: string, compute: () => Outcome<Listing>): Outcome<Listing> {
  let b = map.get(key);
  if (!b) map.set(key, (b = compute()));
  return b;
}

function engineRecords(seed: Seed, image: Buffer, v: Violations, hardened: boolean): Outcome<{ ok: boolean; records: PstoreRecord[] }> {
  return onlyPstoreError(`engine(${hardened ? 'hardened' : 'kernel'})`, () => {
    const layout = kmsgOnlyLayout(Math.min(image.length, ZONE_CAP), seed.zoneSize);
    const engine = new PstoreZone(guardBackend(new BlockZoneBackend(image), image.length, v), {
      layout,
      abi: seed.abi,
      hardened: hardened ? { skipUnreadableZones: true } : undefined,
    });
    const r = engine.read();
    if (!r.ok) return { ok: false, records: [] };
    // Turning records into files must not throw either.
    recordsToFiles(r.records, { listingTime: LISTING_TIME, decompression: { bufsize: seed.zoneSize - 12 - seed.H } });
    return { ok: true, records: r.records };
  });
}

// ------------------------------------------------------------- files

let tmpDir: string | null = null;
/** Use `dir` (made and removed by the caller) instead of a private temporary directory. */
export function useWorkDir(dir: string): void {
  tmpDir = dir;
}
/** A private temporary directory for this process/worker (removed at exit). */
export function workDir(): string {
  if (!tmpDir) {
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mtdpstore-fuzz-'));
    const dir = tmpDir;
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return tmpDir;
}

/** sha256 and mtime of a file. */
export function fingerprint(file: string): string {
  const st = fs.statSync(file);
  return `${crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')} ${st.mtimeMs} ${st.size}`;
}

/** List a file through openSource with guards and the file-system watch; check the file is unchanged. */
function listFile(file: string, opts: ListOptions, v: Violations, direct = false): Outcome<Listing> {
  const before = fingerprint(file);
  const out = watchImageFile(file, v, () =>
    onlyPstoreError(direct ? 'listImage(file)' : 'openSource+listSource(file)', () => {
      if (direct) return listImage(file, opts);
      const src = openSource(file, opts);
      try {
        return listSource(guardSource(src, v), opts);
      } finally {
        src.close();
      }
    }),
  );
  const after = fingerprint(file);
  if (after !== before) throw new PropertyFailure(`reading ${file} changed it (sha256/mtime ${before} -> ${after})`);
  return out;
}

/** The data image with W data bytes + O OOB bytes per page; `bad` blocks get a factory bad-block marker. */
export function interleaveOob(data: Buffer, flash: { erasesize: number; writesize: number; oobsize: number }, bad: readonly number[], noise: number): Buffer {
  const { erasesize: E, writesize: W, oobsize: O } = flash;
  // nanddump writes whole erase blocks only.
  const pages = Math.floor(data.length / E) * (E / W);
  const out = Buffer.alloc(pages * (W + O), 0xff);
  const marker = W > 512 ? 0 : 5;
  const junk = prngBytes(noise, pages * O);
  for (let p = 0; p < pages; p++) {
    data.copy(out, p * (W + O), p * W, (p + 1) * W);
    const oob = out.subarray(p * (W + O) + W, (p + 1) * (W + O));
    junk.copy(oob, 0, p * O, (p + 1) * O);
    const block = Math.floor((p * W) / E);
    const firstPage = (p * W) % E === 0;
    oob[marker] = firstPage && bad.includes(block) ? 0x00 : 0xff;
    if (marker === 0) oob[1] = 0xff;
  }
  return out;
}

// ------------------------------------------------------------- the case

/** What a case did, for statistics. */
export interface CaseReport {
  ms: number;
  /** Which paths ran. */
  paths: string[];
  /** Library refusals seen (PstoreError codes). */
  refusals: string[];
  detectionChanged: boolean;
}

/**
 * Run every library property on one case. Throws PropertyFailure (or an
 * assertion) with a message naming the property, the path and the case.
 */
export function runLibraryCase(seeds: readonly Seed[], c: FuzzCase, budgetMs: number): CaseReport {
  const seed = seeds[c.seed]!;
  const common: ListOptions = { listingTime: LISTING_TIME, removed: c.variant.removed, ...(c.variant.decompression ? { decompression: c.variant.decompression } : {}) };
  const opKey = JSON.stringify([c.seed, c.variant.removed, c.variant.decompression]);
  const xo: ListOptions = { ...common, ...explicitOptions(seed) };
  // Listings of the unmutated seed, computed once and not timed.
  const xBase = baseline(baselines.explicit, opKey, () => listMemory(seed.image, xo, new Violations()));
  const dBase = baseline(baselines.detect, opKey, () => listMemory(seed.image, common, new Violations()));
  let base = baselines.engine.get(c.seed);
  if (!base && seed.kind === 'pstore') {
    const b = engineRecords(seed, seed.image, new Violations(), true);
    base = b.ok ? b.value.records : [];
    baselines.engine.set(c.seed, base);
  }

  const t0 = performance.now();
  const m = applyMutations(seed, c.muts);
  const v = new Violations();
  const rep: CaseReport = { ms: 0, paths: [], refusals: [], detectionChanged: false };
  const refuse = (o: Outcome<unknown>): void => {
    if (!o.ok) rep.refusals.push(o.error.code);
  };
  // 1. The engine directly on a Buffer: kernel-faithful and hardened.
  if (seed.kind === 'pstore') {
    rep.paths.push('engine');
    const kernel = engineRecords(seed, m.image, v, false);
    refuse(kernel);
    const hard = engineRecords(seed, m.image, v, true);
    if (!hard.ok) throw new PropertyFailure(`engine(hardened) refused: ${hard.error.message}`);
    if (!hard.value.ok) throw new PropertyFailure('engine(hardened): recovery failed although unreadable zones are skipped');
    const got = new Map(hard.value.records.map((r) => [`${r.type}:${r.offset}`, r]));
    for (const r of base ?? []) {
      if (!intact(m, r.offset, r.offset + seed.zoneSize)) continue;
      const g = got.get(`${r.type}:${r.offset}`);
      if (!g) throw new PropertyFailure(`engine(hardened): intact record of zone @${r.offset} no longer returned`);
      if (!g.data.equals(r.data) || g.count !== r.count || g.reason !== r.reason || g.compressed !== r.compressed || JSON.stringify(g.time) !== JSON.stringify(r.time)) {
        throw new PropertyFailure(`engine(hardened): intact record of zone @${r.offset} changed`);
      }
    }
  }

  // 2. In memory, parameters given explicitly: intact records always survive.
  rep.paths.push('explicit');
  const x = listMemory(m.image, xo, v);
  refuse(x);
  if (x.ok) checkListingShape('explicit', x.value);
  if (xBase.ok) checkIntact('explicit parameters', xBase.value, x, m, seed.zoneSize);

  // 3. In memory, everything detected: intact records survive when detection still agrees.
  rep.paths.push('detect');
  const d = listMemory(m.image, common, v);
  refuse(d);
  if (d.ok) checkListingShape('detected', d.value);
  if (dBase.ok && d.ok) {
    const sig = (l: Listing) => JSON.stringify([l.format, l.zoneSize, l.abi?.cls, l.abi?.endian]);
    if (sig(dBase.value) === sig(d.value)) checkIntact('detected parameters', dBase.value, d, m, dBase.value.zoneSize ?? seed.zoneSize);
    else rep.detectionChanged = true;
  }

  // 4. Through a file: same result as in memory; file untouched; fs reads in range.
  if (c.variant.file || c.variant.flags || c.variant.oob) {
    const file = path.join(workDir(), `case-${process.pid}-${c.seed}.img`);
    fs.writeFileSync(file, m.image);
    if (c.variant.file) {
      rep.paths.push('file');
      const direct = (m.image[0]! & 1) === 0;
      sameListing('file vs memory (detected)', d, listFile(file, common, v, direct));
      sameListing('file vs memory (explicit)', x, listFile(file, xo, v, !direct));
    }
    if (c.variant.flags) {
      rep.paths.push('flags');
      const o = listFile(file, { ...common, ...c.variant.flags }, v);
      refuse(o);
      if (o.ok) checkListingShape('flags', o.value);
    }
    if (c.variant.oob && seed.flash) {
      rep.paths.push('oob');
      const { erasesize: E } = seed.flash;
      fs.writeFileSync(file, interleaveOob(m.image, seed.flash, c.variant.oob.bad, c.variant.oob.noise));
      const oo: ListOptions = { ...xo, oob: true, erasesize: seed.flash.erasesize, writesize: seed.flash.writesize, oobsize: seed.flash.oobsize };
      const o = listFile(file, oo, v);
      refuse(o);
      const bad = new Set(c.variant.oob.bad);
      // Only whole erase blocks make it into the interleaved image.
      const whole = Math.floor(m.image.length / E) * E;
      const inGoodBlock = (f: ListedFile) => !bad.has(Math.floor(f.offset / E)) && f.offset + seed.zoneSize <= whole;
      if (xBase.ok) checkIntact('oob image', xBase.value, o, m, seed.zoneSize, inGoodBlock);
      if (o.ok) {
        checkListingShape('oob', o.value);
        for (const f of o.value.files) {
          if (!f.removed && bad.has(Math.floor(f.offset / E))) throw new PropertyFailure(`oob image: ${f.name} is listed from bad block ${Math.floor(f.offset / E)}`);
        }
      }
    }
    fs.rmSync(file, { force: true });
  }

  if (!v.ok) throw new PropertyFailure(`out-of-range or writing access: ${v.list.join('; ')}`);
  rep.ms = performance.now() - t0;
  if (rep.ms > budgetMs) throw new PropertyFailure(`case took ${rep.ms.toFixed(0)} ms (budget ${budgetMs} ms)`, { tag: 'slow' });
  return rep;
}

/**
 * {@link runLibraryCase}, but a case over its time budget is run once more
 * before it counts as slow: on a shared, loaded machine one slow run is
 * usually the scheduler, twice in a row is the code. `onRetry` is told.
 */
export function runLibraryCaseTimed(seeds: readonly Seed[], c: FuzzCase, budgetMs: number, onRetry?: () => void): CaseReport {
  try {
    return runLibraryCase(seeds, c, budgetMs);
  } catch (e) {
    if (!(e instanceof PropertyFailure) || e.tag !== 'slow') throw e;
    onRetry?.();
    return runLibraryCase(seeds, c, budgetMs);
  }
}
