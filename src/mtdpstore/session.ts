/**
 * One MTD device seen through the whole mtdpstore stack of one machine:
 * mtdpstore (the backend) + pstore/blk registration + pstore/zone (the
 * engine), with the life cycle a kernel gives them: attach (module load),
 * list (mount: recovery first), dumps, panic dumps, file removal, detach
 * (module unload: flush of removed zones, then unregistration), and reboot.
 *
 * kmsg_write_cnt lives in pstore/zone's module-wide context in the kernel, so
 * it survives a detach/attach pair within one boot (zone-policy.md §10); the
 * session carries it across and resets it at {@link MtdPstoreSession.reboot}.
 */
import { PstoreError, errnoName } from '../errors.js';
import type { MtdDevice } from '../mtd/device.js';
import { DEFAULT_ABI, type Abi } from '../zone/abi.js';
import { computeLayout, formatMessage } from '../zone/config.js';
import { PstoreZone, type KmsgWriteOutcome, type ZoneListing } from '../zone/engine.js';
import { KmsgReason, PstoreType } from '../zone/format.js';
import type { PstoreRecord } from '../zone/record.js';
import { MtdPstoreBackend, type MtdPstorePolicy } from './backend.js';

export interface MtdPstoreSessionOptions {
  /** Z: kmsg zone size in bytes (pstore_blk.kmsg_size after kibToBytes). */
  kmsgSize: number;
  /** Default `kernel`. */
  policy?: MtdPstorePolicy;
  /** ABI of the writing kernel. Default LP64 little-endian. */
  abi?: Abi;
  /** pstore_blk.max_reason (default 2). */
  maxReason?: number;
  /** The pstore_blk.blkdev string (shown in erase-failure messages). Default: the MTD index. */
  deviceString?: string;
  /** Hardened: free zones kept after each normal write (default 2). */
  reserveZones?: number;
  /** Kernel release whose pstore/zone registration rules apply (default: newest). */
  kernelVersion?: string;
  /** Receives every log line as it is produced. */
  onLog?: (line: string) => void;
}

/** A dump to store: what pstore core hands to pstore/zone. */
export interface DumpRequest {
  /** kmsg dump reason (KmsgReason: 1 Panic, 2 Oops, 3 Emergency, 4 Shutdown). */
  reason: number;
  time: { sec: number; nsec: number };
  compressed: boolean;
  /** Record bytes as stored after the kmsg sub-header. */
  data: Uint8Array;
  /** Dump part (only part 1 is stored). Default 1. */
  part?: number;
}

/** File name pstore shows for a dmesg record of this backend. */
export function dmesgFileName(id: number): string {
  return `dmesg-pstore_blk-${id}`;
}

const NAME_RE = /^dmesg-pstore_blk-(\d+)(\.enc\.z)?$/;

export class MtdPstoreSession {
  readonly device: MtdDevice;
  readonly options: Readonly<MtdPstoreSessionOptions>;
  /** Log lines of every layer, in order (mtdoops-pstore, pstore_zone, session notes). */
  readonly log: string[] = [];
  private _backend: MtdPstoreBackend | null = null;
  private _engine: PstoreZone | null = null;
  private carriedWriteCnt = 0;
  /** Files of the latest listing, by name: the count they were listed with is needed to remove them. */
  private files = new Map<string, PstoreRecord>();

  constructor(device: MtdDevice, options: MtdPstoreSessionOptions) {
    this.device = device;
    this.options = { ...options };
  }

  get policy(): MtdPstorePolicy {
    return this.options.policy ?? 'kernel';
  }

  get attached(): boolean {
    return this._backend !== null;
  }

  /** The attached backend (throws EINVAL when detached). */
  get backend(): MtdPstoreBackend {
    if (!this._backend) throw new PstoreError('EINVAL', 'mtdpstore is not attached: call attach() first');
    return this._backend;
  }

  /** The pstore/zone engine of the current attach (throws EINVAL when detached). */
  get engine(): PstoreZone {
    if (!this._engine) throw new PstoreError('EINVAL', 'mtdpstore is not attached: call attach() first');
    return this._engine;
  }

  /** The kmsg write position the next attach of this boot starts from. */
  get kmsgWriteCnt(): number {
    return this._engine ? this._engine.kmsgWriteCnt : this.carriedWriteCnt;
  }

  private emit(line: string): void {
    this.log.push(line);
    this.options.onLog?.(line);
  }

  /**
   * Attach (module load with a matching device): geometry checks, bitmaps,
   * pstore/blk + pstore/zone registration. Throws PstoreError (EINVAL for a
   * refused geometry or configuration, EBUSY when already attached) with the
   * kernel's message; the log holds what the kernel would print.
   */
  attach(): void {
    if (this._backend) throw new PstoreError('EBUSY', 'mtdpstore is already attached to this device: detach() first');
    const g = this.device.geometry;
    const backend = MtdPstoreBackend.attach(this.device, {
      kmsgSize: this.options.kmsgSize,
      policy: this.policy,
      abi: this.options.abi,
      deviceString: this.options.deviceString,
      reserveZones: this.options.reserveZones,
      onLog: (l) => this.emit(l),
    });
    let engine: PstoreZone;
    try {
      // pstore/blk registers S bytes with flags = dmesg: every other frontend size becomes 0.
      const reg = computeLayout({
        totalSize: g.size,
        kmsgSize: this.options.kmsgSize,
        kernelVersion: this.options.kernelVersion,
        maxReason: this.options.maxReason ?? KmsgReason.OOPS,
        hasPanicWrite: true,
      });
      for (const m of reg.messages) this.emit(formatMessage(m));
      engine = new PstoreZone(backend, {
        layout: reg.layout,
        abi: this.options.abi ?? DEFAULT_ABI,
        maxReason: this.options.maxReason,
        kmsgWriteCnt: this.carriedWriteCnt,
        hardened: this.policy === 'hardened' ? { moveDirtyBeforeRecovery: true, skipUnreadableZones: true } : undefined,
      });
    } catch (e) {
      backend.announceRegisterFailed();
      backend.release();
      throw e;
    }
    backend.announceAttached();
    this._backend = backend;
    this._engine = engine;
    this.files.clear();
  }

  /**
   * List the records (a mount, or any later listing): pstore/zone recovers
   * first. Returns the engine's listing; on a recovery error no records.
   * Hardened: after a successful recovery the free-zone guarantee is restored
   * (the kernel erases during recovery instead, before reading — W5).
   */
  list(): ZoneListing {
    const engine = this.engine;
    const wasRecovered = engine.recovered;
    const listing = engine.read();
    if (!listing.ok) {
      this.emit(`pstore: recovery failed, err -${errnoName(listing.error)} (no files)`);
      this.files.clear();
      return listing;
    }
    if (!wasRecovered) this.backend.afterRecovery();
    this.files.clear();
    for (const r of listing.records) {
      if (r.type === PstoreType.DMESG) this.files.set(dmesgFileName(r.id), r);
    }
    return listing;
  }

  /** Names of the dmesg files of the latest listing, in listing order. */
  fileNames(): string[] {
    return [...this.files.keys()];
  }

  /** Store a dump (normal context). Returns what pstore/zone really did. */
  write(req: DumpRequest): KmsgWriteOutcome | null {
    const engine = this.engine;
    if (req.reason === KmsgReason.PANIC) {
      throw new PstoreError('EINVAL', 'a Panic dump is written from panic context: use panicWrite()');
    }
    engine.writeKmsg({ reason: req.reason, part: req.part, time: req.time, compressed: req.compressed, data: req.data });
    return engine.lastKmsgWrite;
  }

  /**
   * Store a Panic dump: pstore/zone enters panic mode and uses the backend's
   * panic write (no erase, no read, no recovery needed — W9 when not yet
   * recovered). A real machine stops here: call {@link reboot} next.
   */
  panicWrite(req: Omit<DumpRequest, 'reason'> & { reason?: number }): KmsgWriteOutcome | null {
    const reason = req.reason ?? KmsgReason.PANIC;
    if (reason !== KmsgReason.PANIC) {
      throw new PstoreError('EINVAL', `panic writes carry reason Panic (${KmsgReason.PANIC}), got ${reason}: use write() for other reasons`);
    }
    const engine = this.engine;
    engine.writeKmsg({ reason, part: req.part, time: req.time, compressed: req.compressed, data: req.data });
    return engine.lastKmsgWrite;
  }

  /**
   * Remove a file of the latest listing (unlink in the pstore filesystem):
   * pstore/zone erases the record with the count the file was listed with.
   * Returns the backend's result (pstore core drops the file whatever it is).
   * Throws ENOENT for a name that is not in the latest listing.
   */
  remove(name: string): number {
    const engine = this.engine;
    const m = NAME_RE.exec(name);
    const rec = this.files.get(m ? dmesgFileName(Number(m[1])) : name);
    if (!m || !rec) {
      throw new PstoreError(
        'ENOENT',
        `no file ${JSON.stringify(name)} in the latest listing` +
          (this.files.size ? ` (files: ${[...this.files.keys()].join(', ')})` : ' (list the records first)'),
      );
    }
    this.files.delete(dmesgFileName(rec.id));
    return engine.erase(PstoreType.DMESG, rec.id, rec.count);
  }

  /**
   * Detach (module unload / device removal, §6.9): flush removed zones, then
   * unregister pstore/zone (which flushes its dirty zones), then free the
   * backend. kmsg_write_cnt is kept for the next attach of this boot.
   * Returns the flush result (0 or the error that stopped it).
   */
  detach(): number {
    const backend = this.backend;
    const engine = this.engine;
    const rc = backend.flushRemoved();
    engine.unregister();
    this.carriedWriteCnt = engine.kmsgWriteCnt;
    backend.release();
    this._backend = null;
    this._engine = null;
    this.files.clear();
    return rc;
  }

  /**
   * Power off and boot again without a detach: RAM state (bitmaps, pending
   * removals, dirty zones, kmsg_write_cnt) is lost. A simulated device that
   * lost power is powered up again.
   */
  reboot(): void {
    this._backend?.release();
    this._backend = null;
    this._engine = null;
    this.files.clear();
    this.carriedWriteCnt = 0;
    const dev = this.device as MtdDevice & { reboot?: () => void };
    if (typeof dev.reboot === 'function') dev.reboot();
  }
}
