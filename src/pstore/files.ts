/**
 * Records → files, exactly as the kernel's pstore filesystem shows them
 * (pstore-core.md §4.2, §5; fs/pstore/platform.c and inode.c behaviour):
 * names, contents, sizes, modes and times; plus writing them to a directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PstoreError, isPstoreError } from '../errors.js';
import { decompress, decompressOutputLimit, type CompressionAlgorithm, type KernelEra } from './compress/index.js';
import { renderFtrace, type FtraceFormat, type Symbolizer } from './ftrace.js';
import { PSTORE_TYPE, typeName } from './names.js';
import type { PstoreRecord } from './record.js';

/** Seconds and nanoseconds since the Unix epoch. */
export interface Timespec {
  sec: number;
  nsec: number;
}

/** How the reading kernel decompresses (pstore-core.md §4.2). */
export interface DecompressionSettings {
  /** Reader's era; default `v6.6+`. */
  era?: KernelEra;
  /**
   * The reader's `pstore.compress`. `none` = compression disabled: every
   * compressed record stays `.enc.z`. v6.6+ kernels only know deflate, so for
   * that era anything but `none` means deflate. Default deflate.
   */
  algorithm?: CompressionAlgorithm | 'none';
  /** pstore bufsize of the kmsg zones (zone size − 12 − H); sets the kernel's output limit. */
  bufsize?: number;
  /** Explicit output limit; overrides the one derived from bufsize. */
  limit?: number;
}

/** Options of {@link recordToFile}. */
export interface FilesOptions {
  /** Backend name in file names; pstore/blk (and so mtdpstore) registers as `pstore_blk`. */
  backend?: string;
  /** When the records are listed (≈ mount time): mtime of records without a stored time, and every atime. Default: now. */
  listingTime?: Timespec;
  decompression?: DecompressionSettings;
  /** Layout of ftrace records (default 64-bit little-endian, CPU in ts). */
  ftrace?: FtraceFormat;
  /** Symbol lookup for ftrace text; without it addresses print as 0x…. */
  symbolize?: Symbolizer;
}

/** One file of the pstore filesystem. */
export interface PstoreFile {
  /** e.g. `dmesg-pstore_blk-3`, `dmesg-pstore_blk-7.enc.z`, `pmsg-pstore_blk-0`. */
  name: string;
  type: number;
  id: number;
  reason: number;
  count: number;
  /** Time stored in the record (dmesg), or null. */
  time: Timespec | null;
  /** The record was compressed on the media. */
  compressed: boolean;
  /** Still compressed after the decompression attempt (name ends in `.enc.z`). */
  encrypted: boolean;
  /** The bytes a read of the file returns. */
  data: Buffer;
  /** data.length. */
  size: number;
  /**
   * The size `stat` reports in the kernel's filesystem. Equal to `size`
   * except for ftrace, whose inode size is the binary record size while a
   * read renders text.
   */
  kernelStatSize: number;
  mode: number;
  /** Record time if its seconds are non-zero, else the listing time (also the ctime). */
  mtime: Timespec;
  /** The listing time (the kernel sets atime when it creates the file). */
  atime: Timespec;
  /** Zone offset on the device (from the record), for listings. */
  offset: number;
  /** Why decompression failed (then `encrypted` is true). */
  decompressError?: PstoreError;
}

/** File names are built into a 64-byte buffer in the kernel: at most 63 characters survive. */
const PSTORE_NAME_MAX = 63;

function nowTimespec(): Timespec {
  const ms = Date.now();
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1_000_000 };
}

function outputLimit(d: DecompressionSettings, alg: CompressionAlgorithm): number {
  if (d.limit !== undefined) return d.limit;
  if (d.bufsize !== undefined) return decompressOutputLimit(d.bufsize, d.era ?? 'v6.6+', alg);
  // Unknown zone size: allow up to the 128 MiB pstore/zone device cap.
  return 128 * 1024 * 1024;
}

/**
 * Try to decompress a record the way pstore core does on read. Returns the
 * text, or an error describing why the kernel would keep it compressed.
 */
export function decompressRecord(rec: PstoreRecord, d: DecompressionSettings = {}): { data: Buffer } | { error: PstoreError } {
  if (rec.type !== PSTORE_TYPE.DMESG) {
    return { error: new PstoreError('EINVAL', `ignored compressed record type ${rec.type}: only dmesg records are ever decompressed`) };
  }
  const configured = d.algorithm ?? 'deflate';
  if (configured === 'none') {
    return { error: new PstoreError('EOPNOTSUPP', 'no decompression method initialized (compression is disabled)') };
  }
  const alg: CompressionAlgorithm = (d.era ?? 'v6.6+') === 'v6.6+' ? 'deflate' : configured;
  try {
    return { data: decompress(alg, rec.data, outputLimit(d, alg)) };
  } catch (e) {
    if (isPstoreError(e)) return { error: e };
    return { error: new PstoreError('EBADMSG', `${alg}: ${e instanceof Error ? e.message : String(e)}`, { cause: e }) };
  }
}

/** The kernel's file name for a record: `<type>-<backend>-<id>[.enc.z]`, cut at 63 characters. */
export function pstoreFileName(type: number, id: number, backend = 'pstore_blk', encrypted = false): string {
  // id is printed as an unsigned 64-bit decimal.
  const idText = BigInt.asUintN(64, BigInt(Math.trunc(id))).toString();
  return `${typeName(type)}-${backend}-${idText}${encrypted ? '.enc.z' : ''}`.slice(0, PSTORE_NAME_MAX);
}

/**
 * Turn one record into the file the kernel would show.
 * Content: compressed + decompressed → the text only; compressed + failed →
 * the stored bytes under `.enc.z`; uncompressed → the record bytes as given
 * (for dmesg pstore/zone already put the "Total" line in front); ftrace →
 * rendered text. Never throws for bad record contents.
 */
export function recordToFile(rec: PstoreRecord, opts: FilesOptions = {}): PstoreFile {
  const listing = opts.listingTime ?? nowTimespec();
  let data = rec.data;
  let encrypted = false;
  let decompressError: PstoreError | undefined;
  if (rec.compressed) {
    const r = decompressRecord(rec, opts.decompression);
    if ('data' in r) data = r.data;
    else { encrypted = true; decompressError = r.error; }
  }
  let kernelStatSize = data.length;
  if (rec.type === PSTORE_TYPE.FTRACE && !encrypted) {
    // stat shows the binary size (kernelStatSize above); a read renders text.
    data = Buffer.from(renderFtrace(data, opts.ftrace, opts.symbolize), 'utf8');
  }
  const time = rec.time ? { sec: rec.time.sec, nsec: rec.time.nsec } : null;
  const file: PstoreFile = {
    name: pstoreFileName(rec.type, rec.id, opts.backend ?? 'pstore_blk', encrypted),
    type: rec.type,
    id: rec.id,
    reason: rec.reason,
    count: rec.count,
    time,
    compressed: rec.compressed,
    encrypted,
    data,
    size: data.length,
    kernelStatSize,
    mode: 0o444,
    mtime: time && time.sec !== 0 ? { ...time } : { ...listing },
    atime: { ...listing },
    offset: rec.offset,
  };
  if (decompressError) file.decompressError = decompressError;
  return file;
}

/**
 * Turn all records of one listing into files. All files share one listing
 * time. A later record whose (type, id) already has a file is skipped, as the
 * kernel skips duplicates.
 */
export function recordsToFiles(records: readonly PstoreRecord[], opts: FilesOptions = {}): PstoreFile[] {
  const o: FilesOptions = { ...opts, listingTime: opts.listingTime ?? nowTimespec() };
  const seen = new Set<string>();
  const out: PstoreFile[] = [];
  for (const r of records) {
    const key = `${r.type}:${r.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(recordToFile(r, o));
  }
  return out;
}

/**
 * Reject anything that is not a plain name inside the target directory.
 * @throws PstoreError EINVAL
 */
export function validateFileName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0') || Buffer.byteLength(name) > 255) {
    throw new PstoreError('EINVAL', `refusing file name ${JSON.stringify(name)}: it must be a plain name of 1–255 bytes without '/' or NUL`);
  }
}

/**
 * Seconds as a float for fs.futimesSync. libuv converts it to a timespec and
 * truncates to whole microseconds; aiming at the middle of the microsecond
 * keeps the double's rounding error (≈0.2 µs at today's epochs) from
 * truncating into the previous microsecond. Sub-microsecond digits are lost.
 */
export function timespecToUtimeSeconds(t: Timespec): number {
  return t.sec + (Math.floor(t.nsec / 1000) + 0.5) / 1e6;
}

/** Options of {@link writeFilesToDir}. */
export interface WriteFilesOptions {
  /** fsync each file after writing (default false). */
  fsync?: boolean;
}

/**
 * Materialise files in `dir` (created if missing, mode 0750 like the pstore
 * mount point): exact bytes, mode 0444, mtime and atime to the microsecond.
 *
 * An existing entry of the same name is unlinked first, then the file is
 * created with O_CREAT|O_EXCL|O_NOFOLLOW, so a symlink planted in `dir`
 * (even between the unlink and the open) is never followed; names are
 * validated so nothing is written outside `dir`.
 *
 * @returns the paths written, in order.
 * @throws PstoreError EINVAL (bad name), EEXIST (an entry reappeared between
 *   unlink and create, or is a directory), EIO (any other file-system error).
 */
export function writeFilesToDir(files: readonly PstoreFile[], dir: string, opts: WriteFilesOptions = {}): string[] {
  const names = new Set<string>();
  for (const f of files) {
    validateFileName(f.name);
    if (names.has(f.name)) throw new PstoreError('EINVAL', `two files have the same name ${f.name}: refusing to let one replace the other`);
    names.add(f.name);
  }
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o750 });
  } catch (e) {
    throw new PstoreError('EIO', `cannot create directory ${dir}: ${(e as Error).message}`, { cause: e });
  }
  const written: string[] = [];
  for (const f of files) {
    const p = path.join(dir, f.name);
    let st: fs.Stats | undefined;
    try { st = fs.lstatSync(p); } catch { st = undefined; }
    if (st?.isDirectory()) throw new PstoreError('EEXIST', `${p} is a directory; remove it or choose another target directory`);
    if (st) {
      try { fs.unlinkSync(p); } catch (e) {
        throw new PstoreError('EIO', `cannot replace ${p}: ${(e as Error).message}`, { cause: e });
      }
    }
    let fd: number;
    try {
      fd = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ELOOP') {
        throw new PstoreError('EEXIST', `${p} appeared while writing (possibly a planted symlink); not following it`, { cause: e });
      }
      throw new PstoreError('EIO', `cannot create ${p}: ${(e as Error).message}`, { cause: e });
    }
    try {
      let off = 0;
      while (off < f.data.length) off += fs.writeSync(fd, f.data, off, f.data.length - off);
      fs.fchmodSync(fd, f.mode);
      if (opts.fsync) fs.fsyncSync(fd);
      fs.futimesSync(fd, timespecToUtimeSeconds(f.atime), timespecToUtimeSeconds(f.mtime));
    } catch (e) {
      throw new PstoreError('EIO', `cannot write ${p}: ${(e as Error).message}`, { cause: e });
    } finally {
      fs.closeSync(fd);
    }
    written.push(p);
  }
  return written;
}
