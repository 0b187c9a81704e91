/**
 * pstore/blk "best effort" backend: pstore/zone over a plain block device,
 * a disk image file, or a Buffer (fs/pstore/blk.c with best_effort=y).
 *
 * Like the kernel's, it has no erase operation (removal rewrites the zone
 * header with datalen 0) and no panic write (v5.14+): during a panic the
 * engine finds no device operation and keeps records in RAM. Reads past the
 * end return a short count, which pstore/zone treats as a failed read.
 *
 * The kernel's best-effort write refuses with -EBUSY when called with
 * interrupts disabled (the oops path), so dumps reach the disk from the
 * delayed flush ~0.5 s later; set {@link BlockZoneBackend.atomicContext}
 * to reproduce that.
 */
import * as fs from 'node:fs';
import { ERRNO, PstoreError, type ErrnoName } from '../errors.js';
import type { ZoneBackend } from './backend.js';

/** Options for {@link BlockZoneBackend}. */
export interface BlockZoneBackendOptions {
  /** Allow writes (default false: writes return -EROFS). */
  writable?: boolean;
  /**
   * Device size in bytes for a file path. Default: the file size, or for a
   * block device the size from /sys/dev/block. Ignored for a Buffer.
   */
  size?: number;
}

/** A ZoneBackend over a Buffer or a file/block device opened by path. */
export class BlockZoneBackend implements ZoneBackend {
  readonly totalSize: number;
  readonly writable: boolean;
  /**
   * When true, write answers -EBUSY, as pstore/blk does from interrupt
   * context or with interrupts disabled (the kernel then retries from its
   * delayed flush). Default false.
   */
  atomicContext = false;

  private readonly mem: Buffer | null;
  private fd: number | null;
  private readonly path: string | null;

  /**
   * @param source a Buffer (used in place, not copied) or a path to an image file or block device.
   * @throws PstoreError ENOENT / EACCES / EPERM / EIO when the path cannot be opened or sized.
   */
  constructor(source: Buffer | string, opts: BlockZoneBackendOptions = {}) {
    this.writable = opts.writable ?? false;
    if (typeof source !== 'string') {
      this.mem = source;
      this.fd = null;
      this.path = null;
      this.totalSize = source.length;
      return;
    }
    this.mem = null;
    this.path = source;
    try {
      this.fd = fs.openSync(source, this.writable ? 'r+' : 'r');
    } catch (e) {
      throw new PstoreError(
        codeOf(e),
        `cannot open ${source}${this.writable ? ' for writing' : ''}: ${(e as Error).message}; check the path and permissions`,
        { cause: e },
      );
    }
    this.totalSize = opts.size ?? this.probeSize(source);
  }

  private probeSize(path: string): number {
    const st = fs.fstatSync(this.fd!);
    if (st.isBlockDevice() && st.size === 0) {
      // stat reports 0 for block devices; the kernel publishes the size in 512-byte sectors.
      const major = Math.floor(st.rdev / 256) & 0xfff;
      const minor = (st.rdev & 0xff) | ((Math.floor(st.rdev / 4096) & ~0xff) >>> 0);
      try {
        const sectors = Number(fs.readFileSync(`/sys/dev/block/${major}:${minor}/size`, 'utf8').trim());
        if (Number.isSafeInteger(sectors)) return sectors * 512;
      } catch {
        // fall through to the error below
      }
      this.close();
      throw new PstoreError('EIO', `cannot find the size of block device ${path}; pass the size explicitly`);
    }
    return st.size;
  }

  /** Read `buf.length` bytes at `off`; returns the count read (short at the end) or -EIO. */
  read(buf: Buffer, off: number): number {
    if (!Number.isInteger(off) || off < 0) return -ERRNO.EINVAL;
    const want = Math.max(0, Math.min(buf.length, this.totalSize - off));
    if (this.mem) {
      if (want === 0) return 0;
      this.mem.copy(buf, 0, off, off + want);
      return want;
    }
    if (this.fd === null) return -ERRNO.EIO;
    let done = 0;
    try {
      while (done < want) {
        const n = fs.readSync(this.fd, buf, done, want - done, off + done);
        if (n <= 0) break;
        done += n;
      }
    } catch {
      return done > 0 ? done : -ERRNO.EIO;
    }
    return done;
  }

  /** Write `buf` at `off`; returns the count written (short at the end), -EROFS, -EBUSY or -EIO. */
  write(buf: Buffer, off: number): number {
    if (!this.writable) return -ERRNO.EROFS;
    if (this.atomicContext) return -ERRNO.EBUSY;
    if (!Number.isInteger(off) || off < 0) return -ERRNO.EINVAL;
    const want = Math.max(0, Math.min(buf.length, this.totalSize - off));
    if (this.mem) {
      if (want > 0) buf.copy(this.mem, off, 0, want);
      return want;
    }
    if (this.fd === null) return -ERRNO.EIO;
    let done = 0;
    try {
      while (done < want) {
        const n = fs.writeSync(this.fd, buf, done, want - done, off + done);
        if (n <= 0) break;
        done += n;
      }
    } catch {
      return done > 0 ? done : -ERRNO.EIO;
    }
    return done;
  }

  /** Close the file (no-op for a Buffer). Later reads and writes return -EIO. */
  close(): void {
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = null;
    }
  }

  /** Description for messages. */
  toString(): string {
    return this.path ?? `buffer(${this.totalSize})`;
  }
}

function codeOf(e: unknown): ErrnoName {
  const c = (e as NodeJS.ErrnoException | undefined)?.code;
  return c === 'ENOENT' || c === 'EACCES' || c === 'EPERM' || c === 'EROFS' ? c : 'EIO';
}
