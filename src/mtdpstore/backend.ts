/**
 * mtdpstore: the MTD backend of pstore/blk (drivers/mtd/mtdpstore.c), as a
 * {@link ZoneBackend} over an {@link MtdDevice}.
 *
 * Two explicit policies share one on-flash format:
 *
 * - `kernel` reproduces the driver exactly, weaknesses included (spec
 *   mtdpstore-policy.md §2–§9, W1–W11 and W13), so that running it over an
 *   image predicts what a real kernel does to that image.
 * - `hardened` fixes what can be fixed without changing the format (a kernel
 *   still reads everything it writes); each fix is marked `Hardened (Wn)`
 *   below and listed in docs/POLICIES.md.
 *
 * State is three RAM bitmaps (used zones, removed zones, bad blocks), cleared
 * at attach and, in kernel mode, rebuilt only by the reads pstore/zone's
 * recovery performs.
 */
import { PowerCut, PstoreError, hex, negErrno } from '../errors.js';
import type { MtdDevice, MtdGeometry } from '../mtd/device.js';
import { isAllFF } from '../mtd/geometry.js';
import { DEFAULT_ABI, type Abi } from '../zone/abi.js';
import type { ZoneBackend } from '../zone/backend.js';
import { KMSG_MAGIC, PSZ_SIG, ZONE_HEADER_SIZE, decodeKmsgHeader, decodeZoneHeader, kmsgHeaderSize } from '../zone/format.js';
import { Bitmap } from './bitmap.js';
import { checkGeometry, layoutFacts, type MtdPstorePolicy } from './geometry.js';

export type { MtdPstorePolicy } from './geometry.js';

export interface MtdPstoreBackendOptions {
  /** Z: the kmsg zone size in bytes, as pstore/blk converted it (config.md §1.2). */
  kmsgSize: number;
  /** Default `kernel`. */
  policy?: MtdPstorePolicy;
  /**
   * The `pstore_blk.blkdev` string the module was configured with; the kernel
   * prints it in erase-failure messages. Default: the device's index.
   */
  deviceString?: string;
  /** ABI of the records (hardened mode reads record times to find the oldest block). Default LP64 little-endian. */
  abi?: Abi;
  /** Receives every kernel-style log line as it is produced (also kept in `log`). */
  onLog?: (line: string) => void;
  /**
   * Hardened only: free zones kept after every normal write (default 2), so
   * that a panic, which can neither erase nor read, still leaves one free zone.
   */
  reserveZones?: number;
}

/** Device activity the backend caused, by kind (independent of the device's own counters). */
export interface MtdPstoreOpCounts {
  reads: number;
  writes: number;
  panicWrites: number;
  erases: number;
}

function isIoError(e: unknown): e is PstoreError {
  return e instanceof PstoreError;
}

/** Rethrow anything that is not a device error (PowerCut, programming errors). */
function deviceErrno(e: unknown): number {
  if (e instanceof PowerCut) throw e;
  if (isIoError(e)) return -e.errno;
  throw e;
}

export class MtdPstoreBackend implements ZoneBackend {
  readonly device: MtdDevice;
  readonly geometry: MtdGeometry;
  readonly policy: MtdPstorePolicy;
  /** Z. */
  readonly kmsgSize: number;
  readonly totalSize: number;
  /** One bit per zone of the whole partition (floor(S ÷ Z)): zone holds data that must not be overwritten. */
  readonly usedmap: Bitmap;
  /** One bit per zone: file removed, block not erased yet. */
  readonly rmmap: Bitmap;
  /** One bit per erase block (floor(S ÷ E)): block known bad. */
  readonly badmap: Bitmap;
  /** Kernel-style log lines, in order. */
  readonly log: string[] = [];
  /** Device calls made by this backend. */
  readonly ops: MtdPstoreOpCounts = { reads: 0, writes: 0, panicWrites: 0, erases: 0 };

  private readonly E: number;
  private readonly S: number;
  private readonly W: number;
  /** Zones pstore/zone actually uses (after its 128 MiB cap). */
  private readonly usedZones: number;
  private readonly deviceString: string;
  private readonly abi: Abi;
  private readonly onLog: ((line: string) => void) | undefined;
  private readonly reserve: number;
  private attached = true;
  // Hardened bookkeeping: record time per zone (NaN = unknown / not a record),
  // where relocated records went, and the zone written last.
  private readonly zoneTime: Float64Array;
  private readonly relocated = new Map<number, number>();
  private lastWritten = -1;
  /** Set by the read loop when a chunk came back uncorrectable (hardened relocation refuses such data). */
  private eccSeen = false;

  private constructor(device: MtdDevice, opts: MtdPstoreBackendOptions) {
    const g = device.geometry;
    this.device = device;
    this.geometry = g;
    this.policy = opts.policy ?? 'kernel';
    this.kmsgSize = opts.kmsgSize;
    this.S = g.size;
    this.E = g.erasesize;
    this.W = g.writesize;
    this.totalSize = g.size;
    const facts = layoutFacts(g, opts.kmsgSize);
    this.usedZones = facts.usedZones;
    this.usedmap = new Bitmap(facts.partitionZones);
    this.rmmap = new Bitmap(facts.partitionZones);
    this.badmap = new Bitmap(facts.blocks);
    this.deviceString = opts.deviceString ?? String(g.index);
    this.abi = opts.abi ?? DEFAULT_ABI;
    this.onLog = opts.onLog;
    this.reserve = Math.max(1, opts.reserveZones ?? 2);
    this.zoneTime = new Float64Array(facts.partitionZones).fill(NaN);
  }

  /**
   * Attach to a device (the "add" notifier after a match, §4): run the
   * geometry checks in the kernel's order and allocate the bitmaps.
   *
   * Throws PstoreError EINVAL when a check fails; the exception message is
   * the kernel's message followed by what to choose instead, and the kernel's
   * message alone is logged (as the kernel prints it). In hardened mode the
   * attach also learns every bad block and scans every zone pstore/zone uses
   * (full-zone reads), so that a panic before the first mount neither lands
   * on a programmed zone (W9) nor on a bad block (W8).
   */
  static attach(device: MtdDevice, opts: MtdPstoreBackendOptions): MtdPstoreBackend {
    const policy = opts.policy ?? 'kernel';
    if (policy !== 'kernel' && policy !== 'hardened') {
      throw new PstoreError('EINVAL', `unknown mtdpstore policy ${JSON.stringify(policy)}: use 'kernel' or 'hardened'`);
    }
    if (!Number.isSafeInteger(opts.kmsgSize) || opts.kmsgSize <= 0) {
      throw new PstoreError('EINVAL', `no backend enabled (kmsg_size is ${opts.kmsgSize}): give kmsg_size in bytes, e.g. 65536`);
    }
    const verdict = checkGeometry(device.geometry, opts.kmsgSize, policy);
    if (!verdict.ok) {
      const line = `mtd mtd${device.geometry.index}: mtdoops-pstore: ${verdict.message}`;
      opts.onLog?.(line);
      const err = new PstoreError('EINVAL', `${verdict.message}: ${verdict.advice}`);
      (err as PstoreError & { log?: string[] }).log = [line];
      throw err;
    }
    const b = new MtdPstoreBackend(device, opts);
    if (b.policy === 'hardened') b.hardenedScan();
    return b;
  }

  /** Announce success (called once pstore/zone registration succeeded). */
  announceAttached(): void {
    this.devLog(`Attached to MTD device ${this.geometry.index}`);
  }

  /** Log the registration failure message of §4. */
  announceRegisterFailed(): void {
    this.devLog(`mtd${this.geometry.index} register to psblk failed`);
  }

  /** True until {@link release}. */
  get isAttached(): boolean {
    return this.attached;
  }

  /** Zones pstore/zone uses: floor(min(S, 128 MiB) ÷ Z). */
  get zoneCount(): number {
    return this.usedZones;
  }

  /** Zones per erase block as the kernel counts them (floor(E ÷ Z)). */
  get zonesPerBlock(): number {
    return Math.floor(this.E / this.kmsgSize);
  }

  // ---------------------------------------------------------------- logging

  private devLog(msg: string): void {
    const line = `mtd mtd${this.geometry.index}: mtdoops-pstore: ${msg}`;
    this.log.push(line);
    this.onLog?.(line);
  }

  // ------------------------------------------------------- zone arithmetic

  private zoneOf(off: number): number {
    return Math.floor(off / this.kmsgSize);
  }

  private blockOf(off: number): number {
    return Math.floor(off / this.E);
  }

  private alignDown(off: number): number {
    return off - (off % this.E);
  }

  private ensureAttached(): void {
    if (!this.attached) {
      throw new PstoreError('EINVAL', `mtdpstore backend of mtd${this.geometry.index} is detached: attach the device again before using it`);
    }
  }

  // ----------------------------------------------------- bad-block tests (§6.1)

  /** 0 good, 1 bad, negative errno when the query failed (callers treat non-zero as bad). */
  private blockIsBad(off: number): number {
    const blk = this.blockOf(off);
    if (this.badmap.test(blk)) return 1;
    let bad: boolean;
    try {
      bad = this.device.isBad(this.alignDown(off));
    } catch (e) {
      const err = deviceErrno(e);
      this.devLog('mtd_block_isbad failed, aborting');
      return err;
    }
    if (bad) {
      this.badmap.set(blk);
      return 1;
    }
    return 0;
  }

  private panicBlockIsBad(off: number): boolean {
    return this.badmap.test(this.blockOf(off));
  }

  private isUsed(off: number): boolean {
    if (this.badmap.test(this.blockOf(off))) return true;
    return this.usedmap.test(this.zoneOf(off));
  }

  /** First zone number the kernel attributes to the block of `off`, and how many. */
  private blockZones(off: number): { first: number; count: number } {
    return { first: this.zoneOf(this.alignDown(off)), count: Math.floor(this.E / this.kmsgSize) };
  }

  private blockIsUsed(off: number): boolean {
    const { first, count } = this.blockZones(off);
    for (let i = 0; i < count; i++) if (this.usedmap.test(first + i)) return true;
    return false;
  }

  private blockIsRemoved(off: number): boolean {
    const { first, count } = this.blockZones(off);
    for (let i = 0; i < count; i++) if (this.rmmap.test(first + i)) return true;
    return false;
  }

  private blockMarkUnused(off: number): void {
    const { first, count } = this.blockZones(off);
    for (let i = 0; i < count; i++) this.usedmap.clear(first + i);
  }

  private blockClearRemoved(off: number): void {
    const { first, count } = this.blockZones(off);
    for (let i = 0; i < count; i++) this.rmmap.clear(first + i);
  }

  /** Kernel empty test: the first min(len, floor(W ÷ 4)) bytes are 0xFF (0 bytes on NOR: always "empty", W6). */
  private kernelIsEmpty(buf: Buffer): boolean {
    const n = Math.min(buf.length, Math.floor(this.W / 4));
    for (let i = 0; i < n; i++) if (buf[i] !== 0xff) return false;
    return true;
  }

  // ------------------------------------------------------------ erase (§6.7.1)

  /** Erase the block of `off`; on success clear its removed bits. Returns 0 or a negative errno. */
  private eraseDo(off: number): number {
    const addr = this.alignDown(off);
    this.ops.erases++;
    try {
      this.device.erase(addr, this.E);
    } catch (e) {
      const err = deviceErrno(e);
      this.devLog(`erase of region [${hex(addr)}, ${hex(this.E)}] on "${this.deviceString}" failed`);
      return err;
    }
    this.blockClearRemoved(addr);
    return 0;
  }

  // -------------------------------------------------------------- read (§6.2)

  /**
   * Read `buf.length` bytes at `off` in a loop. Kernel: returns the byte count
   * of the last device call (W13), -ENOMSG on a bad block or hard error; then
   * the empty test sets or clears the zone's used bit and the security step
   * runs. Hardened: returns the total, examines the whole buffer, never clears
   * a used bit and never erases while reading (W5, W6, W13).
   */
  read(buf: Buffer, off: number): number {
    this.ensureAttached();
    const size = buf.length;
    if (this.blockIsBad(off)) return negErrno('ENOMSG');
    const r = this.readLoop(buf, off, size);
    if (r.error) return negErrno('ENOMSG');
    if (this.policy === 'kernel') {
      if (this.kernelIsEmpty(buf)) this.usedmap.clear(this.zoneOf(off));
      else this.usedmap.set(this.zoneOf(off));
      this.securityKernel(off);
      return r.last;
    }
    // Hardened: only evidence of data changes state; emptiness was established by the attach scan.
    if (!isAllFF(buf, 0, size)) {
      this.usedmap.set(this.zoneOf(off));
      if (off % this.kmsgSize === 0) this.noteRecordTime(this.zoneOf(off), buf);
    }
    return r.total;
  }

  /** The chunked read loop of §6.2 step 2. */
  private readLoop(buf: Buffer, off: number, size: number): { error: boolean; last: number; total: number } {
    let done = 0;
    let retlen = 0;
    let stalls = 0;
    // ECC state describes this read only (relocation checks it right after).
    this.eccSeen = false;
    while (done < size) {
      retlen = 0;
      this.ops.reads++;
      let res;
      try {
        res = this.device.read(off + done, size - done);
      } catch (e) {
        const err = deviceErrno(e);
        this.devLog(`read failure at ${off + done} (0 of ${size - done} read), err ${err}`);
        return { error: true, last: 0, total: done };
      }
      res.data.copy(buf, done, 0, Math.min(res.retlen, size - done));
      retlen = res.retlen;
      if (res.status === 'EBADMSG') {
        this.eccSeen = true;
        this.devLog(`ecc error at ${off + done} (${retlen} of ${size - done} read), err ${negErrno('EBADMSG')}`);
        // The driver may not set retlen on an ECC error: count the rest as read.
        if (retlen === 0) retlen = size - done;
      }
      if (retlen === 0) {
        // The kernel would spin forever on a device that returns nothing without an error;
        // give up after a few tries instead and treat the zone as broken.
        if (++stalls >= 3) {
          this.devLog(`read failure at ${off + done} (0 of ${size - done} read), err 0`);
          return { error: true, last: 0, total: done };
        }
        continue;
      }
      stalls = 0;
      done += retlen;
    }
    return { error: false, last: retlen, total: done };
  }

  // ------------------------------------------------------------- write (§6.4)

  /**
   * Program a whole zone. Kernel: -ENOMSG for a bad block or a used zone,
   * -EIO on a failed or short write, then mark used and run the security
   * step. Hardened: a failed write marks the zone used and answers -ENOMSG so
   * pstore/zone tries the next zone instead of losing the record; when no
   * zone at all is free the oldest block is erased first (never the block
   * holding the newest record).
   */
  write(buf: Buffer, off: number): number {
    this.ensureAttached();
    const size = buf.length;
    if (this.blockIsBad(off)) return negErrno('ENOMSG');
    const zone = this.zoneOf(off);
    if (this.policy === 'hardened') return this.hardenedWrite(buf, off, zone, false);
    if (this.isUsed(off)) return negErrno('ENOMSG');
    this.ops.writes++;
    let retlen: number;
    try {
      retlen = this.device.write(off, buf);
    } catch (e) {
      const err = deviceErrno(e);
      this.devLog(`write failure at ${off} (0 of ${size} written), err ${err}`);
      return negErrno('EIO');
    }
    if (retlen !== size) {
      this.devLog(`write failure at ${off} (${retlen} of ${size} written), err 0`);
      return negErrno('EIO');
    }
    this.usedmap.set(zone);
    this.securityKernel(off);
    return retlen;
  }

  // ------------------------------------------------------- panic write (§6.5)

  /**
   * Program during a panic: only the RAM bad-block map is consulted, no
   * security step (W5). Never reads or erases, in either policy.
   */
  panicWrite(buf: Buffer, off: number): number {
    this.ensureAttached();
    const size = buf.length;
    if (this.panicBlockIsBad(off)) return negErrno('ENOMSG');
    if (this.isUsed(off)) return negErrno('ENOMSG');
    if (this.policy === 'hardened') return this.hardenedWrite(buf, off, this.zoneOf(off), true);
    this.ops.panicWrites++;
    let retlen: number;
    try {
      retlen = this.device.panicWrite(off, buf);
    } catch (e) {
      const err = deviceErrno(e);
      this.devLog(`panic write failure at ${off} (0 of ${size} read), err ${err}`);
      return negErrno('EIO');
    }
    if (retlen !== size) {
      this.devLog(`panic write failure at ${off} (${retlen} of ${size} read), err 0`);
      return negErrno('EIO');
    }
    this.usedmap.set(this.zoneOf(off));
    return retlen;
  }

  // ------------------------------------------------------------- erase (§6.7)

  /**
   * A dmesg file was removed. Kernel: clear the used bit (W1), erase the block
   * now if no other zone of it is used, otherwise only mark the zone removed
   * (lazy, RAM only: W4). Returns 0, -EIO for a bad block, or the erase error.
   * Hardened: see {@link hardenedErase}.
   */
  erase(_size: number, off: number): number {
    this.ensureAttached();
    if (this.policy === 'hardened') return this.hardenedErase(off);
    if (this.blockIsBad(off)) return negErrno('EIO');
    this.usedmap.clear(this.zoneOf(off));
    if (this.blockIsUsed(off)) {
      this.rmmap.set(this.zoneOf(off));
      return 0;
    }
    return this.eraseDo(off);
  }

  // ------------------------------------------------ security step (§6.6)

  private securityKernel(off: number): number {
    const zonenum = this.zoneOf(off) >>> 0;
    const zonecnt = Math.floor(this.S / this.kmsgSize);
    let blkcnt = Math.floor(this.S / this.E);
    for (let i = 0; i < zonecnt; i++) {
      if (!this.usedmap.test((zonenum + i) % zonecnt)) return 0;
    }
    let ret = 0;
    while (blkcnt-- > 0) {
      // The kernel advances the unaligned offset: (off + E) mod S.
      off = (off + this.E) % this.S;
      if (this.blockIsBad(off)) continue;
      ret = this.eraseDo(off);
      if (ret === 0) {
        this.blockMarkUnused(off);
        break;
      }
    }
    if (ret !== 0) this.devLog('all blocks bad!');
    return ret;
  }

  // ------------------------------------------------ detach flush (§6.8)

  /**
   * Flush removed zones before detaching. Kernel: for each good block with a
   * removed zone, read it, erase it and write every used zone back from the
   * **start** of the block buffer (W2), with no protection against a power
   * cut between erase and write-back (W3). Returns 0 or the error that
   * stopped the flush. Hardened: survivors are copied to free zones of other
   * blocks and checked before the block is erased; a block whose survivors
   * cannot be moved (no room, unreadable data) is left as it is.
   */
  flushRemoved(): number {
    this.ensureAttached();
    if (this.policy === 'hardened') return this.hardenedFlush();
    const blkcnt = Math.floor(this.S / this.E);
    for (let b = 0, off = 0; b < blkcnt; b++, off += this.E) {
      if (this.blockIsBad(off)) continue;
      if (!this.blockIsRemoved(off)) continue;
      const ret = this.kernelFlushBlock(off);
      if (ret !== 0) return ret;
    }
    return 0;
  }

  private kernelFlushBlock(blockOff: number): number {
    const buf = Buffer.alloc(this.E);
    // 1. read to cache (ECC errors tolerated: the data is written back as read)
    this.ops.reads++;
    let ret = 0;
    try {
      const r = this.device.read(blockOff, this.E);
      r.data.copy(buf, 0, 0, Math.min(r.retlen, this.E));
      ret = r.status === 'EBADMSG' ? negErrno('EBADMSG') : r.status === 'EUCLEAN' ? negErrno('EUCLEAN') : 0;
    } catch (e) {
      return deviceErrno(e);
    }
    // 2. erase the block
    this.ops.erases++;
    try {
      this.device.erase(blockOff, this.E);
      ret = 0;
    } catch (e) {
      return deviceErrno(e);
    }
    // 3. write back every used zone, always from the start of the buffer (W2)
    let off = blockOff;
    let size = this.E;
    while (size > 0) {
      const zonesize = this.kmsgSize;
      if (this.isUsed(off)) {
        this.ops.writes++;
        try {
          const n = this.device.write(off, buf.subarray(0, zonesize));
          ret = 0;
          void n; // a short write without error is not reported by the kernel here
        } catch (e) {
          ret = deviceErrno(e);
          this.devLog(`write failure at ${off} (0 of ${zonesize} written), err ${ret}`);
        }
      }
      off += zonesize;
      size -= Math.min(zonesize, size);
    }
    return ret;
  }

  /**
   * Forget the device (end of §6.9): the bitmaps are freed; later calls are
   * errors. The caller flushes removed zones and unregisters pstore/zone first.
   */
  release(): void {
    this.attached = false;
    this.usedmap.clearAll();
    this.rmmap.clearAll();
    this.badmap.clearAll();
  }

  /**
   * Hook for the end of a successful pstore/zone recovery. Kernel: nothing.
   * Hardened: restore the free-zone guarantee now that every record has been
   * read (the kernel erases during recovery, before the data pass — W5).
   */
  afterRecovery(): void {
    // One free zone is all a panic needs (hardened reads never erase); the full
    // reserve is restored after the next normal write. Asking for more here
    // would erase old records on a mere mount, which the kernel does not do.
    if (this.policy === 'hardened' && this.attached) this.hardenedSecurity(this.newestZone(), 1);
  }

  // ===================================================================
  // Hardened policy
  // ===================================================================

  /** Learn bad blocks and which zones hold anything, before pstore/zone runs. */
  private hardenedScan(): void {
    const blocks = Math.floor(this.S / this.E);
    for (let b = 0; b < blocks; b++) this.blockIsBad(b * this.E);
    const buf = Buffer.alloc(this.kmsgSize);
    for (let z = 0; z < this.usedZones; z++) {
      const off = z * this.kmsgSize;
      if (this.zoneInBadBlock(z)) continue;
      buf.fill(0xff);
      const r = this.readLoop(buf, off, this.kmsgSize);
      // An unreadable zone is not known to be empty: never program it.
      if (r.error || !isAllFF(buf, 0, this.kmsgSize)) {
        this.usedmap.set(z);
        if (!r.error) this.noteRecordTime(z, buf);
      }
    }
  }

  private zoneInBadBlock(z: number): boolean {
    const start = z * this.kmsgSize;
    const end = start + this.kmsgSize - 1;
    for (let b = this.blockOf(start); b <= this.blockOf(end); b++) if (this.badmap.test(b)) return true;
    return false;
  }

  /** Remember the stored time of a record buffer starting at a zone, NaN if it is not a valid kmsg record. */
  private noteRecordTime(z: number, buf: Buffer): void {
    this.zoneTime[z] = recordTime(buf, this.abi);
  }

  /** Free zones among those pstore/zone uses: not programmed, not in a bad block. */
  private freeZones(exceptBlock = -1): number[] {
    const out: number[] = [];
    for (let z = 0; z < this.usedZones; z++) {
      if (this.usedmap.test(z) || this.zoneInBadBlock(z)) continue;
      if (exceptBlock >= 0 && this.blockOf(z * this.kmsgSize) === exceptBlock) continue;
      out.push(z);
    }
    return out;
  }

  /** The zone holding the newest record (by stored seconds, later zone on ties), or -1. */
  private newestZone(): number {
    let best = -1;
    let bestT = -Infinity;
    for (let z = 0; z < this.usedZones; z++) {
      const t = this.zoneTime[z]!;
      if (this.usedmap.test(z) && !this.rmmap.test(z) && !Number.isNaN(t) && t >= bestT) {
        bestT = t;
        best = z;
      }
    }
    return this.lastWritten >= 0 && this.usedmap.test(this.lastWritten) ? this.lastWritten : best;
  }

  private hardenedWrite(buf: Buffer, off: number, zone: number, panic: boolean): number {
    const size = buf.length;
    if (this.isUsed(off)) {
      // Ring full: make room now (normal context only), never in the block of the newest record.
      if (panic || this.freeZones().length > 0) return negErrno('ENOMSG');
      this.hardenedSecurity(this.newestZone(), 1);
      if (this.isUsed(off)) return negErrno('ENOMSG');
    }
    let retlen: number;
    try {
      if (panic) {
        this.ops.panicWrites++;
        retlen = this.device.panicWrite(off, buf);
      } else {
        this.ops.writes++;
        retlen = this.device.write(off, buf);
      }
    } catch (e) {
      const err = deviceErrno(e);
      this.devLog(`${panic ? 'panic write' : 'write'} failure at ${off} (0 of ${size} written), err ${err}`);
      // The zone may be partly programmed: never program it again before an erase,
      // and let pstore/zone try the next zone rather than drop the record.
      this.usedmap.set(zone);
      this.zoneTime[zone] = NaN;
      return negErrno('ENOMSG');
    }
    this.usedmap.set(zone);
    this.relocated.delete(zone);
    this.noteRecordTime(zone, buf);
    if (retlen !== size) {
      this.devLog(`${panic ? 'panic write' : 'write'} failure at ${off} (${retlen} of ${size} written), err 0`);
      this.zoneTime[zone] = NaN;
      return negErrno('ENOMSG');
    }
    this.lastWritten = zone;
    if (!panic) this.hardenedSecurity(zone, this.reserve);
    return retlen;
  }

  /**
   * Keep at least `want` free zones: erase, oldest first, blocks that hold
   * only old or removed records. The block of `protect` (the newest record)
   * is never chosen. Blocks that fail to erase are taken out of service.
   */
  private hardenedSecurity(protect: number, want: number): void {
    const protectBlock = protect >= 0 ? this.blockOf(protect * this.kmsgSize) : -1;
    const blocks = Math.floor(Math.min(this.S, this.usedZones * this.kmsgSize) / this.E);
    for (;;) {
      if (this.freeZones().length >= want) return;
      let pick = -1;
      let pickKey = Infinity;
      let pickDist = Infinity;
      for (let b = 0; b < blocks; b++) {
        if (b === protectBlock || this.badmap.test(b)) continue;
        const { first, count } = this.blockZones(b * this.E);
        let any = false;
        let age = -Infinity;
        for (let z = first; z < first + count; z++) {
          if (!this.usedmap.test(z)) continue;
          any = true;
          const t = this.zoneTime[z]!;
          if (!this.rmmap.test(z) && !Number.isNaN(t)) age = Math.max(age, t);
        }
        if (!any) continue;
        // Oldest newest-record first; on ties the block that follows the protected one in ring order.
        const dist = protectBlock >= 0 ? (b - protectBlock + blocks) % blocks : b;
        if (age < pickKey || (age === pickKey && dist < pickDist)) {
          pick = b;
          pickKey = age;
          pickDist = dist;
        }
      }
      if (pick < 0) {
        if (this.freeZones().length === 0) this.devLog('no block can be erased to keep a free zone');
        return;
      }
      this.hardenedEraseBlock(pick);
    }
  }

  /** Erase a block and forget its zones; a failing block is marked bad in RAM. */
  private hardenedEraseBlock(b: number): number {
    const off = b * this.E;
    const ret = this.eraseDo(off);
    if (ret !== 0) {
      // Never choose it again; its records (if any) stay readable.
      this.badmap.set(b);
      return ret;
    }
    const { first, count } = this.blockZones(off);
    for (let z = first; z < first + count; z++) {
      this.usedmap.clear(z);
      this.zoneTime[z] = NaN;
      for (const [k, v] of this.relocated) if (v === z) this.relocated.delete(k);
    }
    return 0;
  }

  /**
   * Hardened removal. The used bit stays set until the block is erased (W1).
   * The removal is made persistent at once when possible (W4):
   * - no other live record in the block: erase the block;
   * - NOR / RAM (bits can still be cleared): program datalen 0 into the zone
   *   header in place — the same "erased record" pstore/zone itself writes
   *   on devices without erase;
   * - NAND: copy the surviving records to free zones of other blocks, check
   *   the copies, then erase the block; when there is no room, first erase
   *   the oldest blocks (as the coming dumps would) until there is.
   */
  private hardenedErase(off: number): number {
    let zone = this.zoneOf(off);
    zone = this.relocated.get(zone) ?? zone;
    const zoff = zone * this.kmsgSize;
    if (this.blockIsBad(zoff)) return negErrno('EIO');
    if (!this.usedmap.test(zone)) return 0;
    this.rmmap.set(zone);
    const b = this.blockOf(zoff);
    if (this.survivors(b).length === 0) return this.hardenedEraseBlock(b);
    if (this.geometry.type !== 'nand') {
      this.invalidateInPlace(zone);
      return 0;
    }
    if (this.relocateAndErase(b)) return 0;
    // No room to move the survivors yet. Make room the way the next dumps
    // would (erase the oldest blocks, never the newest record's), then move:
    // otherwise the removal lives in RAM only and a power cut undoes it.
    for (;;) {
      if (!this.rmmap.test(zone)) break; // block b itself was erased meanwhile
      if (this.freeZones(b).length >= this.survivors(b).length + 1) {
        this.relocateAndErase(b);
        break;
      }
      const before = this.freeZones().length;
      this.hardenedSecurity(this.newestZone(), before + 1);
      if (this.freeZones().length === before) break;
    }
    return 0;
  }

  private survivors(b: number): number[] {
    const { first, count } = this.blockZones(b * this.E);
    const out: number[] = [];
    // Only real records survive; zones holding garbage (failed writes, unreadable
    // or invalid headers) are not worth a copy.
    for (let z = first; z < first + count; z++) {
      if (this.usedmap.test(z) && !this.rmmap.test(z) && !Number.isNaN(this.zoneTime[z]!)) out.push(z);
    }
    return out;
  }

  /** NOR/RAM: set datalen (and start) of the zone header to 0 by programming zeros over them. */
  private invalidateInPlace(zone: number): void {
    const off = zone * this.kmsgSize;
    const head = Buffer.alloc(ZONE_HEADER_SIZE);
    const r = this.readLoop(head, off, ZONE_HEADER_SIZE);
    if (r.error) return;
    head.fill(0, 4, ZONE_HEADER_SIZE);
    this.ops.writes++;
    try {
      this.device.write(off, head);
    } catch (e) {
      const err = deviceErrno(e);
      this.devLog(`write failure at ${off} (0 of ${ZONE_HEADER_SIZE} written), err ${err}`);
    }
  }

  /**
   * Move the survivors of block `b` to free zones elsewhere (one zone always
   * stays free), verify each copy, then erase `b`. Returns true if the
   * block was erased. Unreadable (EBADMSG / EIO) survivors stop the move: the
   * original stays the best copy there is.
   */
  private relocateAndErase(b: number): boolean {
    const surv = this.survivors(b);
    const free = this.freeZones(b);
    // Room for every copy while one zone stays free throughout (a panic may strike mid-move);
    // the erase at the end gives back at least as many zones as were used.
    if (free.length - surv.length < 1) return false;
    // Fill from the far end of the ring so the zones pstore/zone writes next stay free.
    const start = this.lastWritten >= 0 ? this.lastWritten : 0;
    free.sort((x, y) => ringDist(start, y, this.usedZones) - ringDist(start, x, this.usedZones));
    const buf = Buffer.alloc(this.kmsgSize);
    const check = Buffer.alloc(this.kmsgSize);
    for (const s of surv) {
      const src = s * this.kmsgSize;
      const r = this.readLoop(buf, src, this.kmsgSize);
      if (r.error || this.lastReadHadEccError()) return false;
      const d = free.shift()!;
      const dst = d * this.kmsgSize;
      this.usedmap.set(d);
      this.zoneTime[d] = NaN;
      this.ops.writes++;
      try {
        this.device.write(dst, buf);
      } catch (e) {
        const err = deviceErrno(e);
        this.devLog(`write failure at ${dst} (0 of ${this.kmsgSize} written), err ${err}`);
        return false;
      }
      const v = this.readLoop(check, dst, this.kmsgSize);
      if (v.error || !check.equals(buf)) return false;
      this.zoneTime[d] = this.zoneTime[s]!;
      for (const [k, val] of this.relocated) if (val === s) this.relocated.set(k, d);
      this.relocated.set(s, d);
      // The original is now a duplicate: treat it as removed.
      this.rmmap.set(s);
    }
    return this.hardenedEraseBlock(b) === 0;
  }

  private lastReadHadEccError(): boolean {
    const v = this.eccSeen;
    this.eccSeen = false;
    return v;
  }

  private hardenedFlush(): number {
    const blocks = Math.floor(this.S / this.E);
    for (let b = 0; b < blocks; b++) {
      if (this.badmap.test(b) || !this.blockIsRemoved(b * this.E)) continue;
      if (this.survivors(b).length === 0) this.hardenedEraseBlock(b);
      else if (this.geometry.type === 'nand') this.relocateAndErase(b);
    }
    return 0;
  }
}

function ringDist(from: number, to: number, n: number): number {
  return (to - from + n) % n;
}

/** Stored seconds of a kmsg record at the start of `buf`, or NaN when it is not one. */
function recordTime(buf: Buffer, abi: Abi): number {
  const h = kmsgHeaderSize(abi);
  if (buf.length < ZONE_HEADER_SIZE + h) return NaN;
  const zh = decodeZoneHeader(buf, 0, abi.endian);
  if (zh.sig >>> 0 !== PSZ_SIG) return NaN;
  const kh = decodeKmsgHeader(buf, ZONE_HEADER_SIZE, abi);
  if (kh.magic >>> 0 !== KMSG_MAGIC) return NaN;
  return kh.sec;
}
