/**
 * An in-memory flash chip with the semantics of images.md §6: erased = 0xFF,
 * programming ANDs, erase works on whole blocks, NAND pages are programmed a
 * limited number of times per erase cycle, bad blocks, ECC with bitflips, and
 * deterministic (seeded) fault injection and power cuts.
 *
 * Memory: one Buffer for the data, one for the OOB (NAND only), and a few
 * bytes per page / block of bookkeeping — a 128 MiB NAND costs about 132 MiB.
 *
 * Model choices (documented where a real chip would be vaguer):
 *  - A multi-page program runs page by page: when a page fails (bad block is
 *    checked up front; an over-programmed page or injected program failure is
 *    found on the way) the pages before it stay programmed, the failing page
 *    is unchanged, and EIO is thrown.
 *  - A multi-block erase runs block by block the same way.
 *  - NAND ECC is per step of `ecc.stepSize` bytes; a page read is
 *    uncorrectable when a step holds more than `ecc.strength` flipped bits
 *    (or the page's ECC bytes are known to be inconsistent, e.g. after a torn
 *    program); the read then returns the raw bits with status EBADMSG.
 *    Otherwise flips are corrected and the status is EUCLEAN when the worst
 *    step had at least `ecc.bitflipThreshold` flips.
 *  - RAM devices behave like NOR (AND semantics, writesize 1, no bad blocks,
 *    no ECC) unless `ramOverwrite` asks for the kernel mtdram driver's plain
 *    copy. Like mtdram, RAM has no panic write unless `panicWrite: true`.
 */
import { PowerCut, PstoreError, hex, type ErrnoName } from '../errors.js';
import type { MtdDevice, MtdGeometry, MtdReadResult, MtdType, ReadStatus } from './device.js';
import {
  badBlockMarkerPos,
  isAllFF,
  checkBlockArgs,
  checkEraseArgs,
  checkReadArgs,
  checkWriteArgs,
  deviceLabel,
  makeGeometry,
} from './geometry.js';
import { SeededRandom } from './prng.js';

/** NAND ECC engine parameters (sysfs ecc_strength, ecc_step_size, bitflip_threshold). */
export interface EccConfig {
  /** Bits correctable per step. Default 4. */
  strength: number;
  /** Bytes per ECC step. Default 512 (or the page size if smaller). */
  stepSize: number;
  /** Corrected bits in one step at which a read reports EUCLEAN. Default ⌈3·strength÷4⌉ as in the kernel. */
  bitflipThreshold: number;
}

/**
 * Fault-injection knobs (in the spirit of nandsim's). All randomness comes
 * from the simulator seed. "Page" means a writesize unit (a byte on NOR/RAM).
 */
export interface FaultConfig {
  /** Blocks that wear out: after `erases` successful erases the next erase fails with EIO and the block turns bad. */
  wearOut?: ReadonlyArray<{ block: number; erases: number }>;
  /** Endurance of every block (same effect as `wearOut` for all blocks). */
  maxErases?: number;
  /** Pages whose reads fail with EIO once they have been read `reads` times (the first `reads` reads succeed). */
  readFailures?: ReadonlyArray<{ page: number; reads: number }>;
  /** Probability per NAND page read of a transient bitflip event (the stored data is not changed). */
  bitflipRate?: number;
  /** Bits flipped in one ECC step by such an event. Default `ecc.bitflipThreshold` (so the read reports EUCLEAN). */
  bitflipBits?: number;
  /** NAND pages that always read uncorrectable (EBADMSG, corrupt data), until `setUncorrectable(page, false)`. */
  uncorrectablePages?: readonly number[];
  /** Probability per NAND page read of a transient uncorrectable error. */
  uncorrectableRate?: number;
  /** Blocks whose erase always fails with EIO (the block is left unchanged and not marked bad). */
  eraseFailBlocks?: readonly number[];
  /** Probability per block erase of an EIO failure. */
  eraseFailRate?: number;
  /** Pages whose program always fails with EIO (left unchanged). */
  programFailPages?: readonly number[];
  /** Probability per page program (NOR/RAM: per write call) of an EIO failure. */
  programFailRate?: number;
}

export interface SimulatorOptions {
  type: MtdType;
  size: number;
  erasesize: number;
  /** NAND page size; NOR/RAM default 1. */
  writesize?: number;
  /** NAND OOB bytes per page (default 0). Bad-block markers are kept there when it is large enough. */
  oobsize?: number;
  name?: string;
  index?: number;
  /** PRNG seed (default 1). Same seed and same calls → same result. */
  seed?: number;
  /** NAND: programs allowed per page per erase cycle (default 1). */
  nop?: number;
  /**
   * NAND: what a program beyond `nop` does. `refuse` (default): EIO, page unchanged
   * (the chip reports a program failure). `and`: accepted, bits ANDed, and the page
   * then reads uncorrectable unless nothing changed (mismatching ECC bytes).
   */
  overProgram?: 'refuse' | 'and';
  /** Factory bad blocks (NAND only). */
  badBlocks?: readonly number[];
  faults?: FaultConfig;
  ecc?: Partial<EccConfig>;
  /** Whether panicWrite works. Default: true for NAND and NOR, false for RAM (as the kernel mtdram driver). */
  panicWrite?: boolean;
  /** RAM only: program is a plain copy (kernel mtdram) instead of AND. Default false. */
  ramOverwrite?: boolean;
  /** Count reads as power-cut operations too (default false: only write, panicWrite, erase, markBad). */
  countReads?: boolean;
  /** Return at most this many bytes per read call (short reads, retlen < len). Default: unlimited. */
  maxReadChunk?: number;
}

/**
 * Shape of a torn operation for {@link FlashSimulator.armPowerCut}. Units are
 * pages on NAND, bytes for NOR/RAM programs, and 512-byte granules (or the
 * erase block if smaller) for NOR/RAM erases. Omitted fields are drawn from
 * the seeded PRNG.
 */
export interface TearShape {
  /** Units fully done before the cut, 0…units of the operation (clamped). */
  completed?: number;
  /** Whether the next unit is partly done (a mix of old and new). */
  partial?: boolean;
}

/** Counters of device activity. A call is counted once it passed the argument checks. */
export interface SimulatorStats {
  /** read() calls. */
  reads: number;
  /** Pages (writesize units) touched by reads. */
  pagesRead: number;
  bytesRead: number;
  /** write() calls (panic writes are counted in `panicWrites` only). */
  programs: number;
  /** Pages programmed, by write and panicWrite, including partial pages of torn programs. */
  pagesProgrammed: number;
  bytesProgrammed: number;
  /** panicWrite() calls. */
  panicWrites: number;
  /** erase() calls. */
  erases: number;
  /** Block erases performed per block (wear), including torn ones. */
  erasesPerBlock: Uint32Array;
  /** Bitflips corrected by ECC. */
  eccCorrected: number;
  /** Page reads that were uncorrectable. */
  eccFailed: number;
}

/** Opaque saved state of a simulator; see {@link FlashSimulator.snapshot}. */
export interface SimulatorSnapshot {
  readonly __simulatorSnapshot: true;
}

/** Failure one-shots: an errno name, or for reads also an ECC status to report. */
export type ReadFailCode = ErrnoName;

interface State {
  data: Buffer;
  oob: Buffer;
  /** NAND: programs since last erase, per page. */
  progCount: Uint8Array;
  /** NAND: page's ECC bytes inconsistent (torn program / erase, over-program with `and`). Cleared by erase. */
  broken: Uint8Array;
  /** Number of non-zero entries in `broken` (keeps the read fast path O(1)). */
  brokenCount: number;
  /** Block erases per block for the endurance model (not reset by resetStats). */
  wear: Uint32Array;
  /** Bad-block table. */
  bad: Uint8Array;
  /** NAND: injected stored-bit flips, page → (byte in page → xor mask). Cleared by erase. */
  flips: Map<number, Map<number, number>>;
  /** Pages always uncorrectable (fault config or setUncorrectable). */
  stuck: Set<number>;
  /** Reads per page, for pages with a configured read-failure limit. */
  readCounts: Map<number, number>;
  stats: SimulatorStats;
  prng: number;
  opCount: number;
  armedAt: number | undefined;
  armedShape: TearShape | undefined;
  poweredOff: boolean;
  cutOp: number;
  cutWhat: string;
  nextRead: ReadFailCode | undefined;
  nextWrite: ErrnoName | undefined;
  nextErase: ErrnoName | undefined;
}

class Snapshot implements SimulatorSnapshot {
  readonly __simulatorSnapshot = true as const;
  constructor(readonly owner: MtdGeometry, readonly state: State) {}
}

function emptyStats(blocks: number): SimulatorStats {
  return {
    reads: 0,
    pagesRead: 0,
    bytesRead: 0,
    programs: 0,
    pagesProgrammed: 0,
    bytesProgrammed: 0,
    panicWrites: 0,
    erases: 0,
    erasesPerBlock: new Uint32Array(blocks),
    eccCorrected: 0,
    eccFailed: 0,
  };
}

function popcount8(v: number): number {
  v = v - ((v >> 1) & 0x55);
  v = (v & 0x33) + ((v >> 2) & 0x33);
  return (v + (v >> 4)) & 0x0f;
}

/** out[i] = out[i] AND src[i] over `len` bytes (program semantics). */
function andInto(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, len: number): void {
  for (let i = 0; i < len; i++) dst[dstOff + i] &= src[srcOff + i];
}

/** Mix for a half-done program: every bit the program would clear is cleared or not at random. */
function tornProgramByte(old: number, neu: number, rnd: number): number {
  return old & (neu | rnd);
}

/**
 * A simulated MTD device. See the module comment for the model.
 *
 * Errors: EINVAL (arguments), EIO (bad block, injected failure, over-programmed
 * NAND page), EOPNOTSUPP (panic write / markBad where unsupported), and
 * {@link PowerCut} after an armed cut fired, until {@link reboot}.
 */
export class FlashSimulator implements MtdDevice {
  readonly geometry: MtdGeometry;
  readonly ecc: Readonly<EccConfig>;
  /** Pages (writesize units) on the device. */
  readonly pages: number;
  readonly blocks: number;
  readonly pagesPerBlock: number;
  readonly nop: number;
  private readonly opts: SimulatorOptions;
  private readonly faults: FaultConfig;
  private readonly seed: number;
  private readonly rng: SeededRandom;
  private readonly wearLimit: Map<number, number>;
  private readonly readLimit: Map<number, number>;
  private readonly eraseFail: Set<number>;
  private readonly programFail: Set<number>;
  private readonly panicSupported: boolean;
  private readonly isNand: boolean;
  private s: State;
  private closed = false;

  constructor(options: SimulatorOptions) {
    this.geometry = makeGeometry(options, `${options.type} simulator`);
    const g = this.geometry;
    this.opts = { ...options };
    this.isNand = g.type === 'nand';
    this.pages = g.size / g.writesize;
    this.blocks = g.size / g.erasesize;
    this.pagesPerBlock = g.erasesize / g.writesize;
    this.nop = options.nop ?? 1;
    if (!Number.isSafeInteger(this.nop) || this.nop < 1 || this.nop > 255) {
      throw new PstoreError('EINVAL', `nop must be an integer in 1..255, got ${options.nop}`);
    }
    if (options.ramOverwrite && g.type !== 'ram') {
      throw new PstoreError('EINVAL', `ramOverwrite applies to type 'ram' only, not '${g.type}'`);
    }
    if (options.maxReadChunk !== undefined && !(Number.isSafeInteger(options.maxReadChunk) && options.maxReadChunk > 0)) {
      throw new PstoreError('EINVAL', `maxReadChunk must be a positive integer, got ${options.maxReadChunk}`);
    }
    const strength = options.ecc?.strength ?? 4;
    const stepSize = Math.min(options.ecc?.stepSize ?? 512, g.writesize);
    const threshold = options.ecc?.bitflipThreshold ?? Math.ceil((3 * strength) / 4);
    if (!Number.isSafeInteger(strength) || strength < 0 || !Number.isSafeInteger(stepSize) || stepSize < 1 || g.writesize % stepSize !== 0) {
      throw new PstoreError('EINVAL', `bad ECC config: strength ${strength}, stepSize ${stepSize} (must divide writesize ${g.writesize})`);
    }
    this.ecc = Object.freeze({ strength, stepSize, bitflipThreshold: Math.max(1, threshold) });
    this.panicSupported = options.panicWrite ?? g.type !== 'ram';
    this.seed = (options.seed ?? 1) >>> 0;
    this.rng = new SeededRandom(this.seed);
    this.faults = options.faults ?? {};
    const f = this.faults;
    this.wearLimit = new Map((f.wearOut ?? []).map((w) => [this.checkBlockNo(w.block, 'wearOut'), w.erases]));
    this.readLimit = new Map((f.readFailures ?? []).map((r) => [this.checkPageNo(r.page, 'readFailures'), r.reads]));
    this.eraseFail = new Set((f.eraseFailBlocks ?? []).map((b) => this.checkBlockNo(b, 'eraseFailBlocks')));
    this.programFail = new Set((f.programFailPages ?? []).map((p) => this.checkPageNo(p, 'programFailPages')));

    const nandPages = this.isNand ? this.pages : 0;
    this.s = {
      data: Buffer.alloc(g.size, 0xff),
      oob: Buffer.alloc(nandPages * g.oobsize, 0xff),
      progCount: new Uint8Array(nandPages),
      broken: new Uint8Array(nandPages),
      brokenCount: 0,
      wear: new Uint32Array(this.blocks),
      bad: new Uint8Array(this.blocks),
      flips: new Map(),
      stuck: new Set(),
      readCounts: new Map(),
      stats: emptyStats(this.blocks),
      prng: this.rng.state,
      opCount: 0,
      armedAt: undefined,
      armedShape: undefined,
      poweredOff: false,
      cutOp: 0,
      cutWhat: '',
      nextRead: undefined,
      nextWrite: undefined,
      nextErase: undefined,
    };
    if (options.badBlocks?.length) {
      if (!this.isNand) {
        throw new PstoreError('EINVAL', `badBlocks given for ${g.type.toUpperCase()}: only NAND has bad blocks`);
      }
      for (const b of options.badBlocks) this.setBad(this.checkBlockNo(b, 'badBlocks'));
    }
    for (const p of f.uncorrectablePages ?? []) this.setUncorrectable(p, true);
  }

  /**
   * Build a simulator holding a linear data image (or, with `oob: true`, an
   * OOB-interleaved one: per page W data bytes then oobsize OOB bytes). Pages
   * that are entirely 0xFF count as erased (programmable); every other page
   * counts as programmed once. With OOB, blocks whose first page carries a
   * non-0xFF bad-block marker become bad blocks, in addition to `badBlocks`.
   * Throws EINVAL if the buffer length does not match the geometry.
   */
  static fromImage(image: Uint8Array, opts: Omit<SimulatorOptions, 'size'> & { size?: number; oob?: boolean }): FlashSimulator {
    const { oob, ...rest } = opts;
    const w = opts.writesize ?? (opts.type === 'nand' ? 0 : 1);
    const oobsize = opts.oobsize ?? 0;
    let size: number;
    if (oob) {
      if (opts.type !== 'nand' || !(w > 0) || !(oobsize > 0)) {
        throw new PstoreError('EINVAL', `an OOB-interleaved image needs type 'nand' with writesize and oobsize > 0`);
      }
      if (image.length % (w + oobsize) !== 0) {
        throw new PstoreError(
          'EINVAL',
          `image length ${image.length} is not a multiple of writesize + oobsize = ${w + oobsize}: not an OOB-interleaved image of that geometry (drop oob, or pass the right --writesize/--oobsize)`,
        );
      }
      size = (image.length / (w + oobsize)) * w;
    } else {
      size = image.length;
    }
    if (opts.size !== undefined && opts.size !== size) {
      throw new PstoreError('EINVAL', `image holds ${size} data bytes but size ${opts.size} was given`);
    }
    const sim = new FlashSimulator({ ...rest, size });
    const g = sim.geometry;
    const st = sim.s;
    if (oob) {
      const stride = g.writesize + g.oobsize;
      for (let p = 0; p < sim.pages; p++) {
        const base = p * stride;
        st.data.set(image.subarray(base, base + g.writesize), p * g.writesize);
        st.oob.set(image.subarray(base + g.writesize, base + stride), p * g.oobsize);
      }
      const pos = badBlockMarkerPos(g.writesize);
      if (pos < g.oobsize) {
        for (let b = 0; b < sim.blocks; b++) {
          if (st.oob[b * sim.pagesPerBlock * g.oobsize + pos] !== 0xff) st.bad[b] = 1;
        }
      }
    } else {
      st.data.set(image);
    }
    if (sim.isNand) {
      const marker = badBlockMarkerPos(g.writesize);
      for (let p = 0; p < sim.pages; p++) {
        const a = p * g.writesize;
        let programmed = !isAllFF(st.data, a, a + g.writesize);
        // An all-0xFF page that was programmed still carries ECC bytes in its OOB
        // (images.md §3): with the OOB at hand, it is not erased.
        if (!programmed && opts.oob && g.oobsize > 0) {
          const o = p * g.oobsize;
          for (let i = 0; i < g.oobsize && !programmed; i++) if (i !== marker && st.oob[o + i] !== 0xff) programmed = true;
        }
        if (programmed) st.progCount[p] = 1;
      }
    }
    return sim;
  }

  // ---------------------------------------------------------------- helpers

  private checkBlockNo(b: number, what: string): number {
    if (!Number.isSafeInteger(b) || b < 0 || b >= this.blocks) {
      throw new PstoreError('EINVAL', `${what}: block ${b} is outside 0..${this.blocks - 1}`);
    }
    return b;
  }

  private checkPageNo(p: number, what: string): number {
    if (!Number.isSafeInteger(p) || p < 0 || p >= this.pages) {
      throw new PstoreError('EINVAL', `${what}: page ${p} is outside 0..${this.pages - 1}`);
    }
    return p;
  }

  private assertUsable(): void {
    if (this.closed) {
      throw new PstoreError('EINVAL', `${deviceLabel(this.geometry)} is closed: create or restore a device before using it`);
    }
    if (this.s.poweredOff) throw new PowerCut(this.s.cutOp, `device is off since the cut (${this.s.cutWhat}); call reboot()`);
  }

  /** Start a counted (power-cut-able) operation; returns true when this one is to be torn. */
  private beginOp(): boolean {
    const n = ++this.s.opCount;
    return this.s.armedAt === n;
  }

  private cut(what: string): never {
    this.s.poweredOff = true;
    this.s.cutOp = this.s.opCount;
    this.s.cutWhat = what;
    this.s.armedAt = undefined;
    this.s.armedShape = undefined;
    throw new PowerCut(this.s.opCount, what);
  }

  private fail(code: ErrnoName, msg: string): never {
    throw new PstoreError(code, `${deviceLabel(this.geometry)}: ${msg}`);
  }

  private setBad(b: number): void {
    this.s.bad[b] = 1;
    const g = this.geometry;
    const pos = badBlockMarkerPos(g.writesize);
    if (pos < g.oobsize) this.s.oob[b * this.pagesPerBlock * g.oobsize + pos] = 0x00;
  }

  private setBroken(p: number, on: boolean): void {
    const st = this.s;
    const was = st.broken[p] !== 0;
    if (was === on) return;
    st.broken[p] = on ? 1 : 0;
    st.brokenCount += on ? 1 : -1;
  }

  private eraseUnitSize(): number {
    return this.isNand ? this.geometry.writesize : Math.min(512, this.geometry.erasesize);
  }

  /** Reset one erase unit (a page on NAND) to the erased state. */
  private eraseUnit(off: number, len: number): void {
    const st = this.s;
    st.data.fill(0xff, off, off + len);
    if (this.isNand) {
      const g = this.geometry;
      const p = off / g.writesize;
      st.oob.fill(0xff, p * g.oobsize, (p + 1) * g.oobsize);
      st.progCount[p] = 0;
      this.setBroken(p, false);
      st.flips.delete(p);
    }
  }

  // ----------------------------------------------------------------- MtdDevice

  /**
   * Read `len` bytes at `off` (any alignment). Returns the data with the ECC
   * status of the worst page: `EUCLEAN` (corrected, data valid) or `EBADMSG`
   * (uncorrectable, raw data). Throws EINVAL (range), EIO (injected hard
   * failure), PowerCut.
   */
  read(off: number, len: number): MtdReadResult {
    this.assertUsable();
    checkReadArgs(this.geometry, off, len);
    if (this.opts.countReads && this.beginOp()) this.cut(`read ${hex(off)}+${len}`);
    const st = this.s;
    st.stats.reads++;
    let forced: ReadStatus | undefined;
    if (st.nextRead !== undefined) {
      const code = st.nextRead;
      st.nextRead = undefined;
      if (code === 'EUCLEAN' || code === 'EBADMSG') forced = code;
      else this.fail(code, `injected read failure at ${hex(off)}`);
    }
    const n = Math.min(len, this.opts.maxReadChunk ?? len);
    const out = Buffer.allocUnsafe(n);
    st.data.copy(out, 0, off, off + n);
    const w = this.geometry.writesize;
    const firstPage = Math.floor(off / w);
    const endPage = n === 0 ? firstPage : Math.ceil((off + n) / w);
    let status: ReadStatus = 'ok';
    let corrected = 0;
    if (this.isNand && n > 0 && this.needsPageScan()) {
      let maxStep = 0;
      for (let p = firstPage; p < endPage; p++) {
        const r = this.readPage(p, out, off, n);
        corrected += r.corrected;
        if (r.failed) status = 'EBADMSG';
        if (r.maxStep > maxStep) maxStep = r.maxStep;
      }
      if (status !== 'EBADMSG' && maxStep >= this.ecc.bitflipThreshold) status = 'EUCLEAN';
    }
    if (forced === 'EBADMSG' || (forced === 'EUCLEAN' && status === 'ok')) status = forced;
    if (forced === 'EBADMSG') st.stats.eccFailed++;
    st.stats.pagesRead += endPage - firstPage;
    st.stats.bytesRead += n;
    st.stats.eccCorrected += corrected;
    return { data: out, retlen: n, status, corrected };
  }

  private needsPageScan(): boolean {
    const st = this.s;
    const f = this.faults;
    return (
      st.flips.size > 0 ||
      st.stuck.size > 0 ||
      this.readLimit.size > 0 ||
      (f.bitflipRate ?? 0) > 0 ||
      (f.uncorrectableRate ?? 0) > 0 ||
      st.brokenCount > 0
    );
  }

  /** ECC view of one page for a read; patches `out` (which holds device bytes [off, off+n)) when uncorrectable. */
  private readPage(p: number, out: Buffer, off: number, n: number): { corrected: number; failed: boolean; maxStep: number } {
    const st = this.s;
    const f = this.faults;
    const lim = this.readLimit.get(p);
    if (lim !== undefined) {
      const c = st.readCounts.get(p) ?? 0;
      if (c >= lim) this.fail('EIO', `read of page ${p} (${hex(p * this.geometry.writesize)}) failed after ${lim} reads (worn page)`);
      st.readCounts.set(p, c + 1);
    }
    // Collect this read's flips: stored ones plus transient events.
    const masks = new Map<number, number>();
    const stored = st.flips.get(p);
    if (stored) for (const [b, m] of stored) masks.set(b, m);
    let failed = st.broken[p] !== 0;
    if (st.stuck.has(p)) {
      failed = true;
      for (const [b, m] of this.stuckPattern(p)) masks.set(b, (masks.get(b) ?? 0) ^ m);
    }
    if (this.rng.chance(f.bitflipRate ?? 0)) this.addRandomFlips(masks, f.bitflipBits ?? this.ecc.bitflipThreshold);
    if (this.rng.chance(f.uncorrectableRate ?? 0)) this.addRandomFlips(masks, this.ecc.strength + 1);
    let maxStep = 0;
    let total = 0;
    if (masks.size > 0) {
      const steps = new Map<number, number>();
      for (const [b, m] of masks) {
        const k = Math.floor(b / this.ecc.stepSize);
        const c = (steps.get(k) ?? 0) + popcount8(m);
        steps.set(k, c);
        total += popcount8(m);
      }
      for (const c of steps.values()) if (c > maxStep) maxStep = c;
      if (maxStep > this.ecc.strength) failed = true;
    }
    if (failed) {
      st.stats.eccFailed++;
      const base = p * this.geometry.writesize;
      for (const [b, m] of masks) {
        const i = base + b - off;
        if (i >= 0 && i < n) out[i] ^= m;
      }
      return { corrected: 0, failed: true, maxStep: 0 };
    }
    return { corrected: total, failed: false, maxStep };
  }

  /** `bits` distinct random bit positions inside one random ECC step, XORed into `masks`. */
  private addRandomFlips(masks: Map<number, number>, bits: number): void {
    const step = this.rng.int(this.geometry.writesize / this.ecc.stepSize);
    const chosen = new Set<number>();
    const span = this.ecc.stepSize * 8;
    bits = Math.min(bits, span);
    while (chosen.size < bits) chosen.add(this.rng.int(span));
    for (const bit of chosen) {
      const b = step * this.ecc.stepSize + (bit >> 3);
      masks.set(b, (masks.get(b) ?? 0) ^ (1 << (bit & 7)));
    }
  }

  /** Fixed corruption of a stuck-uncorrectable page: strength+1 bits in its first step, from (seed, page) only. */
  private stuckPattern(p: number): Map<number, number> {
    const r = new SeededRandom((this.seed ^ Math.imul(p + 1, 0x9e3779b1)) >>> 0);
    const m = new Map<number, number>();
    const span = this.ecc.stepSize * 8;
    const chosen = new Set<number>();
    while (chosen.size < Math.min(this.ecc.strength + 1, span)) chosen.add(r.int(span));
    for (const bit of chosen) m.set(bit >> 3, (m.get(bit >> 3) ?? 0) | (1 << (bit & 7)));
    return m;
  }

  /**
   * Program `data` at `off` (AND with the current content). NAND: offset and
   * length page-aligned; each page accepts `nop` programs per erase cycle.
   * Returns the byte count. Throws EINVAL, EIO, PowerCut.
   */
  write(off: number, data: Uint8Array): number {
    return this.program(off, data, false);
  }

  /** As {@link write}; throws EOPNOTSUPP when panic writes are disabled (RAM by default, or `panicWrite: false`). */
  panicWrite(off: number, data: Uint8Array): number {
    return this.program(off, data, true);
  }

  private program(off: number, data: Uint8Array, panic: boolean): number {
    this.assertUsable();
    const what = panic ? 'panic write' : 'write';
    if (panic && !this.panicSupported) {
      this.fail('EOPNOTSUPP', `panic write is not supported (${this.geometry.type.toUpperCase()})`);
    }
    checkWriteArgs(this.geometry, off, data.length, what);
    if (data.length === 0) return 0;
    const torn = this.beginOp();
    const st = this.s;
    if (panic) st.stats.panicWrites++;
    else st.stats.programs++;
    const label = `${what} ${hex(off)}+${data.length}`;
    if (torn) {
      this.tearProgram(off, data);
      this.cut(label);
    }
    if (st.nextWrite !== undefined) {
      const code = st.nextWrite;
      st.nextWrite = undefined;
      this.fail(code, `injected ${what} failure at ${hex(off)}`);
    }
    this.programRange(off, data, data.length / this.unitSize(), false);
    return data.length;
  }

  private unitSize(): number {
    return this.isNand ? this.geometry.writesize : 1;
  }

  /**
   * Program units [0, units) of the request in order with full rules; throws
   * on the first failing unit. With `quiet`, stop silently instead (used by a
   * torn program, whose caller sees only the PowerCut) and return the units done.
   */
  private programRange(off: number, data: Uint8Array, units: number, quiet: boolean): number {
    const g = this.geometry;
    const st = this.s;
    const f = this.faults;
    if (this.isNand) {
      const b0 = Math.floor(off / g.erasesize);
      const b1 = Math.floor((off + data.length - 1) / g.erasesize);
      for (let b = b0; b <= b1; b++) {
        if (st.bad[b]) {
          if (quiet) return 0;
          this.fail('EIO', `write of ${data.length} bytes at ${hex(off)} hits bad block ${b} (${hex(b * g.erasesize)})`);
        }
      }
      const w = g.writesize;
      const p0 = off / w;
      if (this.programFail.size === 0 && !(f.programFailRate ?? 0) && allZero(st.progCount, p0, p0 + units)) {
        // Fast path: every page is erased (so AND = copy) and nothing can fail.
        st.data.set(data.subarray(0, units * w), off);
        st.progCount.fill(1, p0, p0 + units);
        st.stats.pagesProgrammed += units;
        st.stats.bytesProgrammed += units * w;
        return units;
      }
      for (let i = 0; i < units; i++) {
        const p = p0 + i;
        const src = i * w;
        if (this.programFail.has(p) || this.rng.chance(f.programFailRate ?? 0)) {
          if (quiet) return i;
          this.fail('EIO', `program failure on page ${p} (${hex(p * w)}) (injected)`);
        }
        const cnt = st.progCount[p];
        const dst = p * w;
        if (cnt >= this.nop) {
          if (this.opts.overProgram !== 'and') {
            if (quiet) return i;
            this.fail(
              'EIO',
              `program failure on page ${p} (${hex(dst)}): already programmed ${cnt} time(s) since its last erase (nop ${this.nop}); erase the block first`,
            );
          }
          const before = st.data.subarray(dst, dst + w);
          const old = Buffer.from(before);
          andInto(st.data, dst, data, src, w);
          if (!old.equals(before)) this.setBroken(p, true);
        } else if (cnt === 0) {
          // Invariant: a NAND page with no program since its erase holds 0xFF, so AND = copy.
          st.data.set(data.subarray(src, src + w), dst);
        } else {
          andInto(st.data, dst, data, src, w);
        }
        st.progCount[p] = Math.min(255, cnt + 1);
        st.stats.pagesProgrammed++;
        st.stats.bytesProgrammed += w;
      }
      return units;
    }
    // NOR / RAM: byte-programmable; failures are judged per call.
    const len = units;
    for (const p of this.programFail) {
      if (p >= off && p < off + data.length) {
        if (quiet) return 0;
        this.fail('EIO', `program failure at ${hex(p)} (injected)`);
      }
    }
    if (this.rng.chance(f.programFailRate ?? 0)) {
      if (quiet) return 0;
      this.fail('EIO', `program failure at ${hex(off)}+${data.length} (injected)`);
    }
    if (this.opts.ramOverwrite) st.data.set(data.subarray(0, len), off);
    else andInto(st.data, off, data, 0, len);
    st.stats.pagesProgrammed += len;
    st.stats.bytesProgrammed += len;
    return len;
  }

  private tearProgram(off: number, data: Uint8Array): void {
    const st = this.s;
    const unit = this.unitSize();
    const units = data.length / unit;
    const shape = st.armedShape ?? {};
    const completed = Math.max(0, Math.min(units, shape.completed ?? this.rng.int(units + 1)));
    const partial = completed < units && (shape.partial ?? this.rng.chance(0.5));
    const done = this.programRange(off, data.subarray(0, completed * unit), completed, true);
    if (done < completed || !partial) return;
    // The next unit is half-programmed: a bitwise mix between old and old AND new.
    const uoff = off + completed * unit;
    if (this.isNand) {
      const p = uoff / unit;
      if (this.programFail.has(p) || (st.progCount[p] >= this.nop && this.opts.overProgram !== 'and')) return;
      if (st.bad[Math.floor(uoff / this.geometry.erasesize)]) return;
      st.progCount[p] = Math.min(255, st.progCount[p] + 1);
      st.stats.pagesProgrammed++;
      st.stats.bytesProgrammed += unit;
    } else {
      st.stats.pagesProgrammed++;
      st.stats.bytesProgrammed++;
    }
    let changed = false;
    for (let i = 0; i < unit; i++) {
      const old = st.data[uoff + i];
      const neu = data[completed * unit + i];
      const v = this.opts.ramOverwrite ? (this.rng.chance(0.5) ? neu : old) : tornProgramByte(old, neu, this.rng.nextU32() & 0xff);
      if ((old & neu) !== old) changed = true;
      st.data[uoff + i] = v;
    }
    if (this.isNand && changed) this.setBroken(uoff / unit, true);
  }

  /**
   * Erase `len` bytes (default one block) at `off`; both multiples of the
   * erase size. Blocks are erased in order; a bad block, an injected failure
   * or a worn-out block stops the erase with EIO (a worn-out block is marked
   * bad). Throws EINVAL, EIO, PowerCut.
   */
  erase(off: number, len: number = this.geometry.erasesize): void {
    this.assertUsable();
    checkEraseArgs(this.geometry, off, len);
    if (len === 0) return;
    const torn = this.beginOp();
    const st = this.s;
    st.stats.erases++;
    if (torn) {
      this.tearErase(off, len);
      this.cut(`erase ${hex(off)}+${len}`);
    }
    if (st.nextErase !== undefined) {
      const code = st.nextErase;
      st.nextErase = undefined;
      this.fail(code, `injected erase failure at ${hex(off)}`);
    }
    const E = this.geometry.erasesize;
    for (let b = off / E; b < (off + len) / E; b++) {
      const why = this.eraseBlockCheck(b);
      if (why) this.fail('EIO', why);
      this.eraseBlockNow(b);
    }
  }

  /** Why block `b` cannot be erased now (after applying wear-out), or undefined. Consumes PRNG draws. */
  private eraseBlockCheck(b: number): string | undefined {
    const st = this.s;
    const E = this.geometry.erasesize;
    if (st.bad[b]) return `erase of bad block ${b} (${hex(b * E)}) refused`;
    if (this.eraseFail.has(b) || this.rng.chance(this.faults.eraseFailRate ?? 0)) {
      return `erase failure on block ${b} (${hex(b * E)}) (injected)`;
    }
    const limit = this.wearLimit.get(b) ?? this.faults.maxErases;
    if (limit !== undefined && st.wear[b] >= limit) {
      if (this.isNand) this.setBad(b);
      return `erase failure on block ${b} (${hex(b * E)}): worn out after ${st.wear[b]} erases, block is now bad`;
    }
    return undefined;
  }

  private eraseBlockNow(b: number): void {
    const E = this.geometry.erasesize;
    const u = this.eraseUnitSize();
    for (let a = b * E; a < (b + 1) * E; a += u) this.eraseUnit(a, u);
    this.s.stats.erasesPerBlock[b]++;
    this.s.wear[b]++;
  }

  private tearErase(off: number, len: number): void {
    const st = this.s;
    const u = this.eraseUnitSize();
    const E = this.geometry.erasesize;
    const units = len / u;
    const shape = st.armedShape ?? {};
    const completed = Math.max(0, Math.min(units, shape.completed ?? this.rng.int(units + 1)));
    const partial = completed < units && (shape.partial ?? this.rng.chance(0.5));
    const last = completed + (partial ? 1 : 0);
    let b = -1;
    for (let i = 0; i < last; i++) {
      const a = off + i * u;
      const nb = Math.floor(a / E);
      if (nb !== b) {
        b = nb;
        if (this.eraseBlockCheck(b)) return; // the erase would have failed here: nothing more happens
        st.stats.erasesPerBlock[b]++;
        st.wear[b]++;
      }
      if (i < completed) {
        this.eraseUnit(a, u);
      } else {
        // Half-erased unit: bits only go from 0 to 1, at random.
        let changed = false;
        for (let j = a; j < a + u; j++) {
          const old = st.data[j];
          const v = old | (this.rng.nextU32() & 0xff);
          if (old !== 0xff) changed = true;
          st.data[j] = v;
        }
        if (this.isNand && changed) this.setBroken(a / u, true);
      }
    }
  }

  /** Whether the block containing `off` is bad (NAND bad-block table); always false on NOR/RAM. Throws EINVAL. */
  isBad(off: number): boolean {
    this.assertUsable();
    checkBlockArgs(this.geometry, off, 'bad-block query');
    return this.s.bad[Math.floor(off / this.geometry.erasesize)] !== 0;
  }

  /**
   * Mark the block containing `off` bad (table + 0x00 marker in the OOB of its
   * first page). Counted as a power-cut operation. Throws EOPNOTSUPP on NOR/RAM, EINVAL.
   */
  markBad(off: number): void {
    this.assertUsable();
    if (!this.isNand) this.fail('EOPNOTSUPP', `markBad: ${this.geometry.type.toUpperCase()} has no bad blocks`);
    checkBlockArgs(this.geometry, off, 'markBad');
    if (this.beginOp()) this.cut(`markBad ${hex(off)}`);
    this.setBad(Math.floor(off / this.geometry.erasesize));
  }

  /** No-op (nothing is buffered); still fails after a power cut or close. */
  sync(): void {
    this.assertUsable();
  }

  close(): void {
    this.closed = true;
  }

  // --------------------------------------------------------------- test hooks

  /** Counters; live object (copy it to keep a value). */
  get stats(): SimulatorStats {
    return this.s.stats;
  }

  resetStats(): void {
    this.s.stats = emptyStats(this.blocks);
  }

  /** Number of counted operations started so far (write, panicWrite, erase, markBad; reads with `countReads`). */
  get opCount(): number {
    return this.s.opCount;
  }

  /** Whether the device is off after a power cut. */
  get poweredOff(): boolean {
    return this.s.poweredOff;
  }

  /**
   * Arm a power cut at operation number `k` (absolute: the k-th counted
   * operation since creation; use `opCount + n` for "the n-th from now").
   * That operation is torn (see {@link TearShape}) and throws PowerCut, as
   * does every later call until {@link reboot}. Throws EINVAL if `k` ≤ opCount.
   */
  armPowerCut(k: number, shape?: TearShape): void {
    if (!Number.isSafeInteger(k) || k <= this.s.opCount) {
      throw new PstoreError('EINVAL', `armPowerCut(${k}): operation ${k} is not in the future (opCount is ${this.s.opCount})`);
    }
    this.s.armedAt = k;
    this.s.armedShape = shape ? { ...shape } : undefined;
  }

  /** Cancel an armed power cut. */
  disarmPowerCut(): void {
    this.s.armedAt = undefined;
    this.s.armedShape = undefined;
  }

  /** Power the device back on after a cut; the flash keeps its (possibly torn) content. */
  reboot(): void {
    this.s.poweredOff = false;
    this.s.armedAt = undefined;
    this.s.armedShape = undefined;
  }

  /**
   * Flip a stored bit. NAND: the flip is seen through ECC (corrected while a
   * step has at most `ecc.strength` flips); erase clears it. NOR/RAM: the data
   * bit itself changes (no ECC).
   */
  injectBitflip(off: number, bit: number): void {
    checkReadArgs(this.geometry, off, 1);
    if (!Number.isInteger(bit) || bit < 0 || bit > 7) throw new PstoreError('EINVAL', `bit must be 0..7, got ${bit}`);
    if (!this.isNand) {
      this.s.data[off] ^= 1 << bit;
      return;
    }
    const w = this.geometry.writesize;
    const p = Math.floor(off / w);
    let m = this.s.flips.get(p);
    if (!m) this.s.flips.set(p, (m = new Map()));
    const v = (m.get(off % w) ?? 0) ^ (1 << bit);
    if (v) m.set(off % w, v);
    else m.delete(off % w);
    if (m.size === 0) this.s.flips.delete(p);
  }

  /** Make NAND page `page` read uncorrectable (EBADMSG, fixed corrupt bits) or clear that. Survives erases. */
  setUncorrectable(page: number, on: boolean): void {
    if (!this.isNand) this.fail('EOPNOTSUPP', `setUncorrectable: ${this.geometry.type.toUpperCase()} has no ECC`);
    this.checkPageNo(page, 'setUncorrectable');
    if (on) this.s.stuck.add(page);
    else {
      this.s.stuck.delete(page);
      this.setBroken(page, false);
    }
  }

  /** The next read fails with `code` (EIO etc.), or for EUCLEAN / EBADMSG reports that status with the stored data. */
  failNextRead(code: ReadFailCode = 'EIO'): void {
    this.s.nextRead = code;
  }

  /** The next write or panicWrite fails with `code` before changing anything. */
  failNextWrite(code: ErrnoName = 'EIO'): void {
    this.s.nextWrite = code;
  }

  /** The next erase fails with `code` before changing anything. */
  failNextErase(code: ErrnoName = 'EIO'): void {
    this.s.nextErase = code;
  }

  /** NAND: programs of `page` since its last erase (0 = erased). NOR/RAM: 0. */
  programCount(page: number): number {
    this.checkPageNo(page, 'programCount');
    return this.isNand ? this.s.progCount[page] : 0;
  }

  /** Copy of the OOB bytes of a NAND page (empty on NOR/RAM). */
  readOob(page: number): Buffer {
    this.checkPageNo(page, 'readOob');
    const o = this.geometry.oobsize;
    return Buffer.from(this.s.oob.subarray(page * o, (page + 1) * o));
  }

  /** Bad block numbers (table). */
  badBlocks(): number[] {
    const r: number[] = [];
    this.s.bad.forEach((v, i) => v && r.push(i));
    return r;
  }

  /**
   * The whole device as an image. Default: what reading every page returns
   * (corrected flips invisible, uncorrectable pages with their raw bits) without
   * transient faults or counters. `raw: true`: the cells, every injected flip
   * applied. `oob: true`: OOB-interleaved (NAND; per page W data then oobsize OOB).
   */
  exportImage(opts: { oob?: boolean; raw?: boolean } = {}): Buffer {
    const g = this.geometry;
    const st = this.s;
    const data = Buffer.from(st.data);
    if (this.isNand) {
      const w = g.writesize;
      const pages = new Set<number>([...st.flips.keys(), ...st.stuck]);
      for (const p of pages) {
        const masks = new Map<number, number>(st.flips.get(p) ?? []);
        if (st.stuck.has(p)) for (const [b, m] of this.stuckPattern(p)) masks.set(b, (masks.get(b) ?? 0) ^ m);
        let apply = opts.raw === true || st.stuck.has(p) || st.broken[p] !== 0;
        if (!apply) {
          const steps = new Map<number, number>();
          for (const [b, m] of masks) {
            const k = Math.floor(b / this.ecc.stepSize);
            steps.set(k, (steps.get(k) ?? 0) + popcount8(m));
          }
          for (const c of steps.values()) if (c > this.ecc.strength) apply = true;
        }
        if (apply) for (const [b, m] of masks) data[p * w + b] ^= m;
      }
    }
    if (!opts.oob) return data;
    if (!this.isNand || g.oobsize === 0) {
      throw new PstoreError('EINVAL', `exportImage({ oob: true }) needs a NAND device with oobsize > 0`);
    }
    const w = g.writesize;
    const o = g.oobsize;
    const out = Buffer.allocUnsafe(this.pages * (w + o));
    for (let p = 0; p < this.pages; p++) {
      data.copy(out, p * (w + o), p * w, (p + 1) * w);
      st.oob.copy(out, p * (w + o) + w, p * o, (p + 1) * o);
    }
    return out;
  }

  /** Save the whole state (data, OOB, bookkeeping, counters, PRNG, power state). Costs one copy of the device. */
  snapshot(): SimulatorSnapshot {
    const st = this.s;
    st.prng = this.rng.state;
    return new Snapshot(this.geometry, cloneState(st));
  }

  /** Return to a snapshot taken from this simulator (or one of the same geometry). Throws EINVAL otherwise. */
  restore(snap: SimulatorSnapshot): void {
    if (!(snap instanceof Snapshot) || snap.owner.size !== this.geometry.size || snap.owner.erasesize !== this.geometry.erasesize ||
      snap.owner.writesize !== this.geometry.writesize || snap.owner.oobsize !== this.geometry.oobsize || snap.owner.type !== this.geometry.type) {
      throw new PstoreError('EINVAL', `restore: snapshot does not come from a simulator of this geometry`);
    }
    this.s = cloneState(snap.state);
    this.rng.state = this.s.prng;
    this.closed = false;
  }
}

function cloneState(st: State): State {
  return {
    ...st,
    data: Buffer.from(st.data),
    oob: Buffer.from(st.oob),
    progCount: st.progCount.slice(),
    broken: st.broken.slice(),
    wear: st.wear.slice(),
    bad: st.bad.slice(),
    flips: new Map([...st.flips].map(([p, m]) => [p, new Map(m)])),
    stuck: new Set(st.stuck),
    readCounts: new Map(st.readCounts),
    stats: { ...st.stats, erasesPerBlock: st.stats.erasesPerBlock.slice() },
    armedShape: st.armedShape ? { ...st.armedShape } : undefined,
  };
}

function allZero(a: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (a[i] !== 0) return false;
  return true;
}
