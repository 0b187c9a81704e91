/**
 * pstore/zone: the policy engine that sits between pstore core and a zone
 * backend (spec/zone-policy.md). It keeps a RAM image of every zone, recovers
 * the previous boot's records at the first listing, places new records, and
 * removes records on request — with the kernel's decisions and quirks kept,
 * because the bytes it leaves on the device must be what Linux would leave.
 *
 * Results are kernel-style numbers: 0 or a byte count for success, a negative
 * errno (`-ERRNO.X`) for failure. The kernel logs nothing for most skipped
 * zones; this engine records each one in {@link PstoreZone.diagnostics}.
 *
 * Timers: the kernel flushes dirty zones from a delayed worker (500 ms after
 * a write answered -EBUSY, then every 1000 ms while something fails). There
 * are no timers here; where the kernel would schedule that worker,
 * {@link PstoreZone.pendingFlush} becomes true and the caller decides when
 * to call {@link PstoreZone.flushAll} (which is what the worker does).
 */
import { ERRNO, PstoreError, hex } from '../errors.js';
import type { Abi, Endian } from './abi.js';
import { ABI_FACTS } from './abi.js';
import type { ZoneBackend } from './backend.js';
import {
  KMSG_MAGIC,
  KmsgReason,
  PstoreType,
  ZONE_HEADER_SIZE,
  decodeKmsgHeader,
  encodeKmsgHeader,
  kmsgHeaderLayout,
  kmsgHeaderSize,
  reasonString,
  zoneSignature,
} from './format.js';
import type { ZoneInfo, ZoneLayout } from './layout.js';
import type { PstoreRecord } from './record.js';

const ENOMSG = -ERRNO.ENOMSG;
const EBUSY = -ERRNO.EBUSY;
const EIO = -ERRNO.EIO;
const EINVAL = -ERRNO.EINVAL;
const ENOSPC = -ERRNO.ENOSPC;

/** How much of a zone a zone write pushes to the device (zone.c psz_flush_mode). */
export const FlushMode = {
  /** Only update RAM. */
  NONE: 0,
  /** The data bytes just copied, then the 12-byte zone header. */
  PART: 1,
  /** The 12-byte zone header only. */
  META: 2,
  /** The whole zone (header + buffer). */
  ALL: 3,
} as const;
export type FlushMode = (typeof FlushMode)[keyof typeof FlushMode];

/** Why recovery or a listing passed over a zone. */
export type ZoneSkipReason =
  /** The backend answered -ENOMSG ("may be broken"), or (hardened) the zone could not be read. */
  | 'broken'
  /** Signature mismatch: never written, erased flash, or another zone type. */
  | 'no-valid-data'
  /** datalen or start larger than the zone's buffer (compared unsigned). */
  | 'overtop'
  /** kmsg sub-header magic wrong. */
  | 'invalid-magic'
  /** Valid header with datalen 0: a removed or empty record. */
  | 'erased'
  /** kmsg datalen shorter than the sub-header (project rule, format.md §10). */
  | 'short-datalen'
  /** Recovery stopped here; nothing after it was recovered. */
  | 'abort';

/** One zone recovery or a listing passed over, and why. */
export interface ZoneDiagnostic {
  /** pstore type id of the zone. */
  type: number;
  /** Index within its group (kmsg zone number, ftrace CPU; 0 for pmsg/console). */
  index: number;
  /** Byte offset of the zone on the device. */
  offset: number;
  reason: ZoneSkipReason;
  /** Human-readable detail; starts with the kernel's own message where it has one. */
  detail: string;
}

/** A kmsg (dmesg) record handed to the engine by pstore core. */
export interface KmsgWrite {
  /** kmsg dump reason (format.ts KmsgReason). */
  reason: number;
  /** pstore core part number; only part 1 is accepted (default 1). */
  part?: number;
  /** Wall-clock time of the dump. */
  time: { sec: number; nsec: number };
  /** True if `data` is compressed. */
  compressed: boolean;
  /** Record bytes (clipped to the zone's room). */
  data: Uint8Array;
}

/** Outcome of the last kmsg write, kept because the kernel reports 0 regardless. */
export interface KmsgWriteOutcome {
  /** The zone write's result: 0, -EBUSY (kept dirty in RAM) or -EBUSY when every zone said -ENOMSG. */
  result: number;
  /** Zone that took the record, or null when none did. */
  zone: number | null;
  /** Counter stored with the record (last attempted value when none took it). */
  counter: number;
  /** Zones tried (each attempt increments the counter for Oops/Panic). */
  attempts: number;
}

/** Read-only view of one zone's RAM state. */
export interface ZoneStateView {
  type: number;
  index: number;
  offset: number;
  size: number;
  /** Signature in the RAM header. */
  sig: number;
  /** RAM datalen (signed, as stored). */
  datalen: number;
  /** RAM start (signed, as stored). */
  start: number;
  dirty: boolean;
  shouldRecover: boolean;
  /** Datalen of the recovered previous-boot data (ring zones), or null. */
  oldDatalen: number | null;
}

/** Outcome of a full listing: records, or the recovery error (no records). */
export type ZoneListing = { ok: true; records: PstoreRecord[] } | { ok: false; error: number };

/** Engine options. */
export interface PstoreZoneOptions {
  /** Zone table (config.ts computeLayout, or layout.ts kmsgOnlyLayout). */
  layout: ZoneLayout;
  /** ABI of the kernel that writes / wrote the device. */
  abi: Abi;
  /** pstore_blk.max_reason, kept as data: filtering dumps by reason is pstore core's job. */
  maxReason?: number;
  /**
   * Position of the next kmsg write carried over from a previous engine of
   * the same boot (zone-policy.md §10); 0 for a fresh boot. Reduced modulo
   * the number of kmsg zones.
   */
  kmsgWriteCnt?: number;
  /**
   * How ftrace timestamps are compared when merging per-CPU zones:
   * 'shifted' (default; CPU number in the low 8 bits of ts) or 'raw'
   * (32-bit ARM builds that keep the CPU in the low bits of ip).
   */
  ftraceTimestamp?: 'shifted' | 'raw';
  /** Deviations from the kernel that avoid its data-losing quirks. */
  hardened?: {
    /**
     * Kernel: a kmsg record written before recovery makes every recovery
     * fail (the move refuses to write before `recovered`; zone-policy §5.2).
     * With this option the move is performed (after the data pass; records
     * in the order they were written).
     */
    moveDirtyBeforeRecovery?: boolean;
    /**
     * Kernel: any failed or short read (other than -ENOMSG on a kmsg header)
     * aborts the whole recovery, so nothing is listed. With this option the
     * zone is skipped with a 'broken' diagnostic and recovery goes on — e.g.
     * a truncated image still yields every zone that lies wholly inside it.
     */
    skipUnreadableZones?: boolean;
  };
}

/** One zone: where it is, its RAM image and its flags (zone.c struct pstore_zone). */
class Zone {
  readonly type: number;
  readonly index: number;
  readonly offset: number;
  readonly size: number;
  readonly bufferSize: number;
  /** RAM image (header + buffer); null until first needed = the initial image. */
  ram: Buffer | null = null;
  /** Ring zones: previous boot's header + chronological data. */
  oldbuf: Buffer | null = null;
  shouldRecover = false;
  dirty = false;
  /** Order of kmsg writes (hardened move keeps records in write order). */
  writeSeq = 0;

  constructor(info: ZoneInfo, private readonly endian: Endian) {
    this.type = info.type;
    this.index = info.index;
    this.offset = info.offset;
    this.size = info.size;
    this.bufferSize = info.size - ZONE_HEADER_SIZE;
  }

  /** The RAM image; the initial one is sig = PSZ_SIG ^ type, datalen 0, start 0, data 0xFF. */
  get buffer(): Buffer {
    if (!this.ram) {
      const b = Buffer.alloc(this.size, 0xff);
      writeU32(b, 0, zoneSignature(this.type), this.endian);
      writeS32(b, 4, 0, this.endian);
      writeS32(b, 8, 0, this.endian);
      this.ram = b;
    }
    return this.ram;
  }

  get sig(): number {
    return this.ram ? readU32(this.ram, 0, this.endian) : zoneSignature(this.type);
  }
  get datalen(): number {
    return this.ram ? readS32(this.ram, 4, this.endian) : 0;
  }
  set datalen(v: number) {
    writeS32(this.buffer, 4, v, this.endian);
  }
  get start(): number {
    return this.ram ? readS32(this.ram, 8, this.endian) : 0;
  }
  set start(v: number) {
    writeS32(this.buffer, 8, v, this.endian);
  }
  get oldDatalen(): number {
    return this.oldbuf ? readS32(this.oldbuf, 4, this.endian) : 0;
  }
}

function readU32(b: Buffer, off: number, e: Endian): number {
  return e === 'le' ? b.readUInt32LE(off) : b.readUInt32BE(off);
}
function readS32(b: Buffer, off: number, e: Endian): number {
  return e === 'le' ? b.readInt32LE(off) : b.readInt32BE(off);
}
function writeU32(b: Buffer, off: number, v: number, e: Endian): void {
  if (e === 'le') b.writeUInt32LE(v >>> 0, off);
  else b.writeUInt32BE(v >>> 0, off);
}
function writeS32(b: Buffer, off: number, v: number, e: Endian): void {
  if (e === 'le') b.writeInt32LE(v | 0, off);
  else b.writeInt32BE(v | 0, off);
}

const TYPE_NAMES: Record<number, string> = { 0: 'dmesg', 2: 'console', 3: 'ftrace', 7: 'pmsg' };

/**
 * pstore/zone for one registered backend (one instance per registration).
 *
 * Typical use: `const psz = new PstoreZone(backend, { layout, abi });
 * const listing = psz.read();` — the first listing runs recovery.
 */
export class PstoreZone {
  /** Skipped zones and aborts of the latest recovery attempt, plus listing-time skips. */
  diagnostics: ZoneDiagnostic[] = [];
  /**
   * True where the kernel would have scheduled its delayed flush worker.
   * The caller should call {@link flushAll} later (the kernel waits 500 or
   * 1000 ms); {@link unregister} does it once more itself.
   */
  pendingFlush = false;

  readonly layout: ZoneLayout;
  readonly abi: Abi;
  /** pstore_blk.max_reason (data only; pstore core filters by it). */
  readonly maxReason: number;

  private readonly backend: ZoneBackend;
  private readonly H: number;
  private readonly kmsg: Zone[];
  private readonly pmsg: Zone | null;
  private readonly console: Zone | null;
  private readonly ftrace: Zone[];
  private readonly secOffset: number;
  private readonly counterOffset: number;
  private readonly ftraceRecSize: number;
  private readonly ftraceTsOffset: number;
  private readonly ftraceShift: bigint;
  private readonly hardMove: boolean;
  private readonly hardRead: boolean;

  private _kmsgWriteCnt: number;
  private _oopsCounter = 0;
  private _panicCounter = 0;
  private _recovered = false;
  private _onPanic = false;
  private _registered = true;
  private _lastKmsg: KmsgWriteOutcome | null = null;
  private _lostAtUnregister = 0;
  private writeSeq = 0;

  /**
   * @throws PstoreError EINVAL if a zone is too small to hold its headers
   *   (a configuration error the kernel would not survive).
   */
  constructor(backend: ZoneBackend, opts: PstoreZoneOptions) {
    this.backend = backend;
    this.layout = opts.layout;
    this.abi = opts.abi;
    this.maxReason = opts.maxReason ?? KmsgReason.OOPS;
    this.H = kmsgHeaderSize(opts.abi);
    const e = opts.abi.endian;
    const mk = (i: ZoneInfo, min: number): Zone => {
      if (!(i.size > min) || !Number.isInteger(i.size) || !Number.isInteger(i.offset) || i.offset < 0) {
        throw new PstoreError(
          'EINVAL',
          `${TYPE_NAMES[i.type] ?? 'zone'} zone ${i.index} at ${hex(i.offset)} has size ${i.size}: ` +
            `it must be larger than ${min} bytes; fix the zone sizes`,
        );
      }
      return new Zone(i, e);
    };
    this.kmsg = opts.layout.kmsg.map((i) => mk(i, ZONE_HEADER_SIZE + this.H));
    this.pmsg = opts.layout.pmsg ? mk(opts.layout.pmsg, ZONE_HEADER_SIZE) : null;
    this.console = opts.layout.console ? mk(opts.layout.console, ZONE_HEADER_SIZE) : null;
    this.ftrace = opts.layout.ftrace.map((i) => mk(i, ZONE_HEADER_SIZE));
    const n = this.kmsg.length;
    const carried = Math.trunc(opts.kmsgWriteCnt ?? 0);
    this._kmsgWriteCnt = n > 0 && carried > 0 ? carried % n : 0;

    const kl = kmsgHeaderLayout(opts.abi);
    this.secOffset = kl.fields.find((f) => f.name === 'time.tv_sec')!.offset;
    this.counterOffset = kl.fields.find((f) => f.name === 'counter')!.offset;
    const longSize = ABI_FACTS[opts.abi.cls].longSize;
    this.ftraceRecSize = 2 * longSize + 8;
    this.ftraceTsOffset = 2 * longSize;
    this.ftraceShift = opts.ftraceTimestamp === 'raw' ? 0n : 8n;
    this.hardMove = opts.hardened?.moveDirtyBeforeRecovery ?? false;
    this.hardRead = opts.hardened?.skipUnreadableZones ?? false;
  }

  // ---------------------------------------------------------------- getters

  /** Index of the next kmsg zone to try; carry it to the next engine of the same boot. */
  get kmsgWriteCnt(): number {
    return this._kmsgWriteCnt;
  }
  get oopsCounter(): number {
    return this._oopsCounter;
  }
  get panicCounter(): number {
    return this._panicCounter;
  }
  get recovered(): boolean {
    return this._recovered;
  }
  get onPanic(): boolean {
    return this._onPanic;
  }
  get registered(): boolean {
    return this._registered;
  }
  /** What the last kmsg write really did (the kernel reports success to pstore core regardless). */
  get lastKmsgWrite(): KmsgWriteOutcome | null {
    return this._lastKmsg;
  }
  /** Dirty zones that could not be flushed when {@link unregister} ran (their data is gone). */
  get dirtyZonesLostAtUnregister(): number {
    return this._lostAtUnregister;
  }
  /** kmsg sub-header length H for the ABI. */
  get kmsgHeaderSize(): number {
    return this.H;
  }
  /** Number of kmsg zones. */
  get kmsgZoneCount(): number {
    return this.kmsg.length;
  }

  /** RAM state of every zone, in device order (pmsg, console, ftrace, kmsg). */
  zoneStates(): ZoneStateView[] {
    return this.allZones().map((z) => ({
      type: z.type,
      index: z.index,
      offset: z.offset,
      size: z.size,
      sig: z.sig,
      datalen: z.datalen,
      start: z.start,
      dirty: z.dirty,
      shouldRecover: z.shouldRecover,
      oldDatalen: z.oldbuf ? z.oldDatalen : null,
    }));
  }

  /** A copy of a zone's RAM image (header + buffer), or null if there is no such zone. */
  zoneBuffer(type: number, index = 0): Buffer | null {
    const z = this.zoneOf(type, index);
    return z ? Buffer.from(z.buffer) : null;
  }

  // --------------------------------------------------------------- recovery

  /**
   * Recover the device's records into RAM (zone-policy.md §5); runs once,
   * later calls return 0. Returns 0, or the error that aborted recovery
   * (`recovered` stays false and the next call tries again).
   */
  recover(): number {
    this.assertRegistered();
    if (this._recovered) return 0;
    this.diagnostics = [];
    let ret = this.recoverKmsg();
    if (ret === 0 && this.pmsg) ret = this.recoverRing(this.pmsg);
    if (ret === 0 && this.console) ret = this.recoverRing(this.console);
    if (ret === 0) {
      for (const z of this.ftrace) {
        ret = this.recoverRing(z);
        if (ret) break;
      }
    }
    if (ret) return ret;
    this._recovered = true;
    return 0;
  }

  private recoverKmsg(): number {
    if (this.kmsg.length === 0) return 0;
    const ret = this.recoverKmsgMeta();
    if (ret) return ret;
    return this.hardMove ? this.recoverKmsgDataHardened() : this.recoverKmsgData();
  }

  /** §5.1: scan the headers of every kmsg zone. */
  private recoverKmsgMeta(): number {
    const n = this.kmsg.length;
    const len = ZONE_HEADER_SIZE + this.H;
    const hdr = Buffer.alloc(len);
    const e = this.abi.endian;
    let best = 0n;
    for (const z of this.kmsg) {
      hdr.fill(0);
      const r = this.backend.read(hdr, z.offset);
      if (r === ENOMSG) {
        this.note(z, 'broken', `may be broken: the backend answered -ENOMSG for the header read`);
        continue;
      }
      if (r !== len) {
        if (this.hardRead) {
          this.note(z, 'broken', `header read returned ${r} of ${len} bytes; zone skipped`);
          continue;
        }
        this.note(z, 'abort', `read dmesg with id ${z.index} failed: ${r} of ${len} bytes; recovery aborted`);
        return r < 0 ? r : EIO;
      }
      const sig = readU32(hdr, 0, e);
      // The kernel compares with the zone's RAM signature, not with the constant (matters after W5).
      if (sig !== z.sig) {
        this.note(z, 'no-valid-data', `no valid data in kmsg dump zone ${z.index} (signature ${hex(sig)})`);
        continue;
      }
      const datalen = readS32(hdr, 4, e);
      if (datalen >>> 0 > z.bufferSize) {
        this.note(z, 'overtop', `found overtop zone: datalen ${datalen} exceeds buffer size ${z.bufferSize}`);
        continue;
      }
      const h = decodeKmsgHeader(hdr, ZONE_HEADER_SIZE, this.abi);
      if (h.magic !== KMSG_MAGIC) {
        this.note(z, 'invalid-magic', `found invalid zone: kmsg magic ${hex(h.magic)}`);
        continue;
      }
      // Seconds compared as signed 64-bit; ties go to the later zone; nanoseconds ignored.
      const sec = e === 'le' ? hdr.readBigInt64LE(ZONE_HEADER_SIZE + this.secOffset) : hdr.readBigInt64BE(ZONE_HEADER_SIZE + this.secOffset);
      if (sec >= best) {
        best = sec;
        this._kmsgWriteCnt = (z.index + 1) % n;
      }
      if (h.reason === KmsgReason.OOPS) this._oopsCounter = Math.max(this._oopsCounter, h.counter);
      else if (h.reason === KmsgReason.PANIC) this._panicCounter = Math.max(this._panicCounter, h.counter);
      if (datalen === 0) {
        this.note(z, 'erased', `found erased zone (datalen 0, counter ${h.counter})`);
        continue;
      }
      // Project rule (format.md §10): the kernel accepts datalen 1..H-1 and later copies with a
      // negative length (out-of-bounds). We keep its newest/counter bookkeeping above but do not
      // recover the zone.
      if (datalen < this.H) {
        this.note(z, 'short-datalen', `datalen ${datalen} is shorter than the ${this.H}-byte kmsg header; zone treated as corrupt`);
        continue;
      }
      if (!this._onPanic) z.shouldRecover = true;
    }
    return 0;
  }

  /** §5.2 as the kernel does it, including the move that cannot succeed before recovery. */
  private recoverKmsgData(): number {
    const n = this.kmsg.length;
    for (const z of this.kmsg) {
      if (z.dirty) {
        const w = this._kmsgWriteCnt;
        const ret = this.moveZone(z, this.kmsg[w]!);
        if (ret) {
          this.note(z, 'abort', `move zone from ${z.index} to ${w} failed (${ret}); recovery aborted`);
          return ret;
        }
        this._kmsgWriteCnt = (w + 1) % n;
      }
      if (!z.shouldRecover) continue;
      const r = this.readWholeZone(z);
      if (r) return r;
    }
    return 0;
  }

  /** Read a whole kmsg zone into its RAM image (0, or the abort error). */
  private readWholeZone(z: Zone): number {
    const img = Buffer.alloc(z.size);
    const r = this.backend.read(img, z.offset);
    if (r !== z.size) {
      if (this.hardRead) {
        this.note(z, 'broken', `full-zone read returned ${r} of ${z.size} bytes; zone skipped`);
        z.shouldRecover = false;
        return 0;
      }
      this.note(z, 'abort', `full-zone read returned ${r} of ${z.size} bytes; recovery aborted`);
      return r < 0 ? r : EIO;
    }
    z.ram = img;
    return 0;
  }

  /** zone.c psz_move_zone: through the normal write path (refused before recovery). */
  private moveZone(old: Zone, neu: Zone): number {
    const len = old.datalen;
    const data = Buffer.from(old.buffer.subarray(ZONE_HEADER_SIZE));
    const ret = this.zoneWrite(neu, FlushMode.ALL, data, len, 0);
    if (ret) {
      neu.datalen = 0;
      neu.dirty = false;
      return ret;
    }
    old.datalen = 0;
    return 0;
  }

  /** Hardened §5.2: recover the device's records, then place the pre-recovery records. */
  private recoverKmsgDataHardened(): number {
    const n = this.kmsg.length;
    const pending = this.kmsg
      .filter((z) => z.dirty)
      .sort((a, b) => a.writeSeq - b.writeSeq)
      .map((z) => {
        const rec = { from: z.index, image: Buffer.from(z.buffer), seq: z.writeSeq };
        z.datalen = 0;
        z.dirty = false;
        return rec;
      });
    for (const z of this.kmsg) {
      if (!z.shouldRecover) continue;
      const r = this.readWholeZone(z);
      if (r) return r;
    }
    const op = this._onPanic ? this.backend.panicWrite : this.backend.write;
    for (const p of pending) {
      writeU32(p.image, 0, zoneSignature(PstoreType.DMESG), this.abi.endian);
      let placed = false;
      for (let attempt = 0; attempt < n && !placed; attempt++) {
        const t = this.kmsg[this._kmsgWriteCnt]!;
        this._kmsgWriteCnt = (this._kmsgWriteCnt + 1) % n;
        const img = Buffer.from(p.image);
        const r = op ? op.call(this.backend, img, t.offset) : EBUSY;
        if (r === ENOMSG) continue;
        t.ram = img;
        t.shouldRecover = false;
        t.writeSeq = p.seq;
        placed = true;
        if (r === t.size) {
          t.dirty = false;
        } else {
          t.dirty = true;
          if (r === EBUSY) this.pendingFlush = true;
          this.note(t, 'broken', `moving the record written before recovery from zone ${p.from} to ${t.index} failed (${r}); kept in RAM, flushed later`);
        }
      }
      if (!placed) {
        const z = this.kmsg[p.from]!;
        this.note(z, 'broken', `no zone accepted the record written before recovery in zone ${p.from}; it is lost`);
      }
    }
    return 0;
  }

  /** §5.3: pmsg, console and ftrace zones. */
  private recoverRing(z: Zone): number {
    if (z.oldbuf) return 0;
    if (this._onPanic) {
      this.flushDirtyZone(z);
      return 0;
    }
    const e = this.abi.endian;
    const hdr = Buffer.alloc(ZONE_HEADER_SIZE);
    const r = this.backend.read(hdr, z.offset);
    if (r !== ZONE_HEADER_SIZE) return this.ringReadFailed(z, `header read returned ${r} of 12 bytes`, r);
    const sig = readU32(hdr, 0, e);
    if (sig !== z.sig) {
      this.note(z, 'no-valid-data', `no valid data in zone ${this.zoneName(z)} (signature ${hex(sig)})`);
      return 0;
    }
    const datalen = readS32(hdr, 4, e);
    const start = readS32(hdr, 8, e);
    if (datalen >>> 0 > z.bufferSize || start >>> 0 > z.bufferSize) {
      this.note(z, 'overtop', `found overtop zone: datalen ${datalen}, start ${start}, buffer size ${z.bufferSize}`);
      return 0;
    }
    if (datalen === 0) {
      this.note(z, 'erased', `found erased zone (datalen 0)`);
      return 0;
    }
    if (start > datalen) {
      // The kernel would ask the backend for a negative length and abort recovery; we skip the zone.
      this.note(z, 'overtop', `start ${start} is beyond datalen ${datalen}: corrupt ring header, zone skipped`);
      return 0;
    }
    const old = Buffer.alloc(ZONE_HEADER_SIZE + datalen);
    hdr.copy(old, 0);
    const first = datalen - start;
    const dataOff = z.offset + ZONE_HEADER_SIZE;
    const r1 = this.backend.read(old.subarray(ZONE_HEADER_SIZE, ZONE_HEADER_SIZE + first), dataOff + start);
    if (r1 !== first) return this.ringReadFailed(z, `data read returned ${r1} of ${first} bytes`, r1);
    const r2 = this.backend.read(old.subarray(ZONE_HEADER_SIZE + first, ZONE_HEADER_SIZE + datalen), dataOff);
    if (r2 !== start) return this.ringReadFailed(z, `data read returned ${r2} of ${start} bytes`, r2);
    z.oldbuf = old;
    this.flushDirtyZone(z); // a no-op: `recovered` is still false here (kernel quirk kept)
    return 0;
  }

  private ringReadFailed(z: Zone, what: string, r: number): number {
    if (this.hardRead) {
      this.note(z, 'broken', `${what}; zone skipped`);
      return 0;
    }
    this.note(z, 'abort', `read zone ${this.zoneName(z)} failed: ${what}; recovery aborted`);
    return r < 0 ? r : EIO;
  }

  // ---------------------------------------------------------------- listing

  /**
   * A full listing, as pstore core's read loop sees it (zone-policy.md §6):
   * recovery first; then kmsg zones, the merged ftrace record, pmsg,
   * console. On recovery failure: `{ ok: false, error }` and no records.
   * Uncompressed dmesg data starts with "<Reason>: Total <counter> times\n".
   */
  read(): ZoneListing {
    const rc = this.recover();
    if (rc) return { ok: false, error: rc };
    const records: PstoreRecord[] = [];
    for (const z of this.kmsg) {
      const rec = this.kmsgRecord(z);
      if (rec) records.push(rec);
    }
    const ft = this.ftraceRecord();
    if (ft) records.push(ft);
    for (const z of [this.pmsg, this.console]) {
      if (!z || !z.oldbuf || z.oldDatalen === 0) continue;
      const len = Math.min(z.oldDatalen, z.bufferSize);
      records.push({
        type: z.type,
        id: 0,
        time: null,
        reason: 0,
        count: 0,
        compressed: false,
        data: Buffer.from(z.oldbuf.subarray(ZONE_HEADER_SIZE, ZONE_HEADER_SIZE + len)),
        offset: z.offset,
      });
    }
    return { ok: true, records };
  }

  private kmsgRecord(z: Zone): PstoreRecord | null {
    const datalen = z.datalen;
    if (datalen === 0) return null;
    const buf = z.buffer;
    const h = decodeKmsgHeader(buf, ZONE_HEADER_SIZE, this.abi);
    if (h.magic !== KMSG_MAGIC) {
      // Kernel: clear the zone in RAM and skip it (e.g. a zone read back as erased flash).
      z.datalen = 0;
      z.dirty = false;
      this.note(z, 'invalid-magic', `found invalid zone at listing: kmsg magic ${hex(h.magic)}; cleared in RAM`);
      return null;
    }
    // The two guards below protect against states the kernel would mishandle (out-of-bounds copy,
    // or a 0-byte record that ends pstore core's read loop); they cannot arise from its own writes.
    if (datalen >>> 0 > z.bufferSize || datalen < this.H) {
      this.note(z, datalen < this.H && datalen >= 0 ? 'short-datalen' : 'overtop', `RAM datalen ${datalen} is not a valid kmsg length; zone not listed`);
      return null;
    }
    const size = datalen - this.H;
    const compressed = h.compressed !== 0;
    if (compressed && size === 0) {
      this.note(z, 'short-datalen', 'compressed record of 0 bytes; the kernel would end the listing here; zone not listed');
      return null;
    }
    const body = buf.subarray(ZONE_HEADER_SIZE + this.H, ZONE_HEADER_SIZE + this.H + size);
    const data = compressed
      ? Buffer.from(body)
      : Buffer.concat([Buffer.from(`${reasonString(h.reason)}: Total ${h.counter | 0} times\n`, 'latin1'), body]);
    return {
      type: PstoreType.DMESG,
      id: z.index,
      time: { sec: h.sec, nsec: h.nsec },
      reason: h.reason,
      count: h.counter,
      compressed,
      data,
      offset: z.offset,
    };
  }

  /** Merge every ftrace zone's previous-boot stream by timestamp (pstore-core.md §7). */
  private ftraceRecord(): PstoreRecord | null {
    let merged: Buffer = Buffer.alloc(0);
    for (const z of this.ftrace) {
      if (!z.oldbuf || z.oldDatalen === 0) continue;
      const len = Math.min(z.oldDatalen, z.bufferSize);
      merged = this.combineFtrace(merged, z.oldbuf.subarray(ZONE_HEADER_SIZE, ZONE_HEADER_SIZE + len));
    }
    if (merged.length === 0 || this.ftrace.length === 0) return null;
    return {
      type: PstoreType.FTRACE,
      id: 0,
      time: null,
      reason: 0,
      count: 0,
      compressed: false,
      data: merged,
      offset: this.ftrace[0]!.offset,
    };
  }

  private combineFtrace(dest: Buffer, src: Buffer): Buffer {
    const rs = this.ftraceRecSize;
    const d = dest.subarray(dest.length % rs);
    const s = src.subarray(src.length % rs);
    const out = Buffer.alloc(d.length + s.length);
    let di = 0;
    let si = 0;
    let o = 0;
    while (di < d.length && si < s.length) {
      // Strictly-less takes the earlier stream; equal timestamps favour the newly merged zone.
      if (this.ftraceTs(d, di) < this.ftraceTs(s, si)) {
        d.copy(out, o, di, di + rs);
        di += rs;
      } else {
        s.copy(out, o, si, si + rs);
        si += rs;
      }
      o += rs;
    }
    o += d.copy(out, o, di);
    s.copy(out, o, si);
    return out;
  }

  private ftraceTs(b: Buffer, recOff: number): bigint {
    const p = recOff + this.ftraceTsOffset;
    const ts = this.abi.endian === 'le' ? b.readBigUInt64LE(p) : b.readBigUInt64BE(p);
    return ts >> this.ftraceShift;
  }

  // ------------------------------------------------------------------ writes

  /**
   * Store a kmsg dump (zone-policy.md §7.3). Returns 0 for part 1 whatever
   * happened (as the kernel does; see {@link lastKmsgWrite} for the real
   * outcome), -ENOSPC for parts other than 1 or when there are no kmsg zones.
   * A Panic reason switches the engine to panic mode (panicWrite, no
   * recovery needed, other record types refused).
   */
  writeKmsg(rec: KmsgWrite): number {
    this.assertRegistered();
    if (rec.reason === KmsgReason.PANIC) this._onPanic = true;
    const part = rec.part ?? 1;
    if (part !== 1) {
      this._lastKmsg = { result: ENOSPC, zone: null, counter: 0, attempts: 0 };
      return ENOSPC;
    }
    if (this.kmsg.length === 0) {
      this._lastKmsg = { result: ENOSPC, zone: null, counter: 0, attempts: 0 };
      return ENOSPC;
    }
    const ret = this.kmsgWriteRecord(rec);
    if (ret === 0 && this._onPanic) this.flushAllDirty();
    return 0;
  }

  private kmsgWriteRecord(rec: KmsgWrite): number {
    const n = this.kmsg.length;
    let counter = 0;
    for (let i = 0; i < n; i++) {
      const zn = (this._kmsgWriteCnt + i) % n;
      const z = this.kmsg[zn]!;
      const previous = z.ram;
      const sig = z.sig; // copied from the previous RAM image (mtdpstore-policy W5)
      const img = Buffer.alloc(z.size);
      writeU32(img, 0, sig, this.abi.endian);
      z.ram = img;
      if (rec.reason === KmsgReason.OOPS) counter = this._oopsCounter = (this._oopsCounter + 1) >>> 0;
      else if (rec.reason === KmsgReason.PANIC) counter = this._panicCounter = (this._panicCounter + 1) >>> 0;
      else counter = 0;
      encodeKmsgHeader(
        { magic: KMSG_MAGIC, sec: rec.time.sec, nsec: rec.time.nsec, compressed: rec.compressed ? 1 : 0, counter, reason: rec.reason >>> 0 },
        this.abi,
        img,
        ZONE_HEADER_SIZE,
      );
      const size = Math.min(rec.data.length, z.bufferSize - this.H);
      const ret = this.zoneWrite(z, FlushMode.ALL, rec.data, size, this.H);
      if (ret !== ENOMSG) {
        this._kmsgWriteCnt = (zn + 1) % n;
        z.writeSeq = ++this.writeSeq;
        this._lastKmsg = { result: ret, zone: zn, counter, attempts: i + 1 };
        return ret;
      }
      z.ram = previous;
    }
    this._lastKmsg = { result: EBUSY, zone: null, counter, attempts: n };
    return EBUSY;
  }

  /**
   * Append to a ring zone (zone-policy.md §7.4): 'pmsg', 'console', or the
   * 'ftrace' zone of `cpu`. Returns 0 (device errors leave the zone dirty
   * for a later flush, as in the kernel), -ENOSPC if the zone type is not
   * configured, -EBUSY during a panic, -EINVAL for a CPU without a zone
   * (the kernel would index out of bounds).
   */
  writeRing(type: 'pmsg' | 'console' | 'ftrace', data: Uint8Array, cpu = 0): number {
    this.assertRegistered();
    if (this._onPanic) return EBUSY;
    let z: Zone | null;
    if (type === 'pmsg') z = this.pmsg;
    else if (type === 'console') z = this.console;
    else {
      if (this.ftrace.length === 0) return ENOSPC;
      if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.ftrace.length) return EINVAL;
      z = this.ftrace[cpu]!;
    }
    if (!z) return ENOSPC;
    const B = z.bufferSize;
    let full = z.datalen >>> 0 >= B;
    let buf = data;
    let cnt = data.length;
    if (cnt > B) {
      buf = data.subarray(cnt - B);
      cnt = B;
    }
    let start = z.start;
    const rem = B - start;
    if (rem < cnt) {
      this.zoneWrite(z, FlushMode.PART, buf, rem, start);
      buf = buf.subarray(rem);
      cnt -= rem;
      start = 0;
      full = true;
    }
    z.start = cnt + start;
    this.zoneWrite(z, FlushMode.PART, buf, cnt, start);
    if (full) {
      z.datalen = B;
      this.zoneWrite(z, FlushMode.META, null, 0, 0);
    }
    return 0;
  }

  /**
   * zone.c psz_zone_write: copy `len` bytes of `data` (clipped to the
   * buffer) into RAM at data offset `off`, then push to the device by `mode`.
   * Returns 0, -ENOMSG (device said "try the next zone"; not dirty), -EBUSY
   * (kept dirty), or -EINVAL for an offset beyond the buffer.
   */
  private zoneWrite(z: Zone, mode: FlushMode, data: Uint8Array | null, len: number, off: number): number {
    if (off > z.bufferSize) return EINVAL;
    const room = z.bufferSize - off;
    const wlen = len < 0 ? room : Math.min(len, room); // a negative length is huge as size_t
    const buffer = z.buffer;
    if (data && wlen > 0) {
      buffer.set(data.subarray(0, wlen), ZONE_HEADER_SIZE + off);
      z.datalen = wlen + off;
    }
    let wcnt = 0;
    const dirty = (): number => {
      if (wcnt === ENOMSG) return ENOMSG;
      z.dirty = true;
      if (wcnt === EBUSY && !this._onPanic) this.pendingFlush = true;
      return EBUSY;
    };
    // Never touch the device before the old records were read ("avoid damaging old records").
    if (!this._onPanic && !this._recovered) return dirty();
    const op = this._onPanic ? this.backend.panicWrite : this.backend.write;
    if (!op) return dirty();
    const write = (b: Buffer, at: number): number => op.call(this.backend, b, at);
    switch (mode) {
      case FlushMode.NONE:
        if (data && wlen > 0) return dirty();
        return 0;
      case FlushMode.PART:
      case FlushMode.META:
        if (mode === FlushMode.PART) {
          // Data first, header second: a cut in between leaves the old header describing old data.
          wcnt = write(buffer.subarray(ZONE_HEADER_SIZE + off, ZONE_HEADER_SIZE + off + wlen), z.offset + ZONE_HEADER_SIZE + off);
          if (wcnt !== wlen) return dirty();
        }
        wcnt = write(buffer.subarray(0, ZONE_HEADER_SIZE), z.offset);
        if (wcnt !== ZONE_HEADER_SIZE) return dirty();
        return 0;
      case FlushMode.ALL:
        wcnt = write(buffer.subarray(0, z.size), z.offset);
        if (wcnt !== z.size) return dirty();
        return 0;
    }
  }

  // ---------------------------------------------------------------- flushing

  /**
   * Flush one dirty zone with a full-zone write (zone.c psz_flush_dirty_zone):
   * -EBUSY before recovery, 0 if not dirty, else the write's result (the zone
   * stays dirty on failure). -EINVAL if there is no such zone.
   */
  flushZone(type: number, index = 0): number {
    this.assertRegistered();
    const z = this.zoneOf(type, index);
    return z ? this.flushDirtyZone(z) : EINVAL;
  }

  private flushDirtyZone(z: Zone): number {
    if (!this._recovered) return EBUSY;
    if (!z.dirty) return 0;
    z.dirty = false;
    const ret = this.zoneWrite(z, FlushMode.ALL, null, 0, 0);
    if (ret) z.dirty = true;
    return ret;
  }

  /**
   * What the kernel's delayed flush worker does: flush pmsg, console, every
   * kmsg zone and every ftrace zone (a group stops at its first failure).
   * Clears {@link pendingFlush}, and sets it again if anything failed (the
   * kernel reschedules 1000 ms later). Returns 0 or the first failure.
   * Before recovery every flush fails with -EBUSY (kernel behaviour).
   */
  flushAll(): number {
    this.assertRegistered();
    this.pendingFlush = false;
    return this.flushAllDirty();
  }

  private flushAllDirty(): number {
    let first = 0;
    const take = (r: number) => {
      if (r && !first) first = r;
    };
    if (this.pmsg) take(this.flushDirtyZone(this.pmsg));
    if (this.console) take(this.flushDirtyZone(this.console));
    for (const group of [this.kmsg, this.ftrace]) {
      for (const z of group) {
        const r = this.flushDirtyZone(z);
        if (r) {
          take(r);
          break;
        }
      }
    }
    if (first && this._registered) this.pendingFlush = true;
    return first;
  }

  // ----------------------------------------------------------------- removal

  /**
   * Remove a record (an unlink in the pstore filesystem; zone-policy.md §9).
   * `count` is the counter the record was listed with. Returns the backend
   * erase's result, the header write's result, 0 when there is nothing to do
   * ("already updated" included), or -EINVAL for an id without a zone or an
   * unsupported type. pstore core removes the file whatever this returns.
   */
  erase(type: number, id: number, count: number): number {
    this.assertRegistered();
    switch (type) {
      case PstoreType.DMESG: {
        if (!Number.isInteger(id) || id < 0 || id >= this.kmsg.length) return EINVAL;
        const z = this.kmsg[id]!;
        if (z.datalen === 0) return 0;
        const stored = readU32(z.buffer, ZONE_HEADER_SIZE + this.counterOffset, this.abi.endian);
        if (count >>> 0 !== stored) return 0; // a newer record took the zone
        const size = z.datalen + ZONE_HEADER_SIZE;
        z.datalen = 0;
        if (this.backend.erase) return this.backend.erase(size, z.offset);
        return this.zoneWrite(z, FlushMode.META, null, 0, 0);
      }
      case PstoreType.PMSG:
        return this.recordErase(this.pmsg);
      case PstoreType.CONSOLE:
        return this.recordErase(this.console);
      case PstoreType.FTRACE:
        if (!Number.isInteger(id) || id < 0 || id >= this.ftrace.length) return EINVAL;
        return this.recordErase(this.ftrace[id]!);
      default:
        return EINVAL;
    }
  }

  private recordErase(z: Zone | null): number {
    if (!z || !z.oldbuf || z.oldDatalen === 0) return 0;
    z.oldbuf = null;
    // New data in RAM already supersedes the old stream on the device; otherwise write an empty header.
    if (z.datalen === 0) return this.zoneWrite(z, FlushMode.META, null, 0, 0);
    this.flushDirtyZone(z);
    return 0;
  }

  // ----------------------------------------------------------- registration

  /**
   * Unregister (zone-policy.md §10): flush dirty zones (and the pending
   * delayed flush once more), then drop all state and reset the counters,
   * `recovered` and `onPanic`. {@link kmsgWriteCnt} stays readable so the
   * caller can carry it to the next engine of the same boot. Any later
   * operation throws PstoreError EINVAL.
   */
  unregister(): void {
    if (!this._registered) return;
    this.flushAllDirty();
    if (this.pendingFlush) {
      this.pendingFlush = false;
      this.flushAllDirty();
    }
    this._lostAtUnregister = this.allZones().filter((z) => z.dirty).length;
    this._registered = false;
    this.pendingFlush = false;
    for (const z of this.allZones()) {
      z.ram = null;
      z.oldbuf = null;
      z.dirty = false;
      z.shouldRecover = false;
    }
    this._oopsCounter = 0;
    this._panicCounter = 0;
    this._recovered = false;
    this._onPanic = false;
  }

  // ----------------------------------------------------------------- helpers

  private assertRegistered(): void {
    if (!this._registered) {
      throw new PstoreError('EINVAL', 'this pstore/zone engine was unregistered; create a new PstoreZone (carry kmsgWriteCnt over)');
    }
  }

  private allZones(): Zone[] {
    const out: Zone[] = [];
    if (this.pmsg) out.push(this.pmsg);
    if (this.console) out.push(this.console);
    out.push(...this.ftrace, ...this.kmsg);
    return out;
  }

  private zoneOf(type: number, index: number): Zone | null {
    switch (type) {
      case PstoreType.DMESG:
        return this.kmsg[index] ?? null;
      case PstoreType.FTRACE:
        return this.ftrace[index] ?? null;
      case PstoreType.PMSG:
        return index === 0 ? this.pmsg : null;
      case PstoreType.CONSOLE:
        return index === 0 ? this.console : null;
      default:
        return null;
    }
  }

  private zoneName(z: Zone): string {
    const n = TYPE_NAMES[z.type] ?? `type${z.type}`;
    return z.type === PstoreType.FTRACE ? `${n}[${z.index}]` : n;
  }

  private note(z: Zone, reason: ZoneSkipReason, detail: string): void {
    this.diagnostics.push({ type: z.type, index: z.index, offset: z.offset, reason, detail });
  }
}
