/**
 * A real MTD device: `/dev/mtdN` driven from user space (images.md §5).
 *
 * Data goes through plain positional reads and writes on the character
 * device; everything the data path cannot express (erase, bad blocks, ECC
 * statistics, the device's own idea of its geometry) goes through ioctl(2),
 * called with koffi because Node has no ioctl. koffi is loaded lazily, on the
 * first open, so that merely importing this module never fails on a machine
 * where its native part is missing.
 *
 * The pure parts (ioctl request numbers per architecture, argument packing,
 * sysfs parsing, device-number decoding) are exported for tests.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ERRNO, PstoreError, hex, type ErrnoName } from '../errors.js';
import type { MtdDevice, MtdGeometry, MtdReadResult, MtdType, ReadStatus } from './device.js';
import { checkBlockArgs, checkEraseArgs, checkGoodBlocks, checkReadArgs, checkWriteArgs, deviceLabel, makeGeometry } from './geometry.js';

// ---------------------------------------------------------------------------
// ioctl request numbers

/**
 * How an architecture encodes ioctl request numbers:
 * - `generic`: x86, ARM, arm64, RISC-V, s390, LoongArch: 2 direction bits at 30 (write 1, read 2), 14 size bits at 16;
 * - `mips-ppc`: MIPS, PowerPC, SPARC, Alpha: 3 direction bits at 29 (none 1, read 2, write 4), 13 size bits;
 * - `parisc`: the generic layout with the read and write bits swapped.
 */
export type IocEncoding = 'generic' | 'mips-ppc' | 'parisc';

/** Transfer direction of an ioctl, seen from user space (read = the kernel fills the argument). */
export type IocDir = 'none' | 'read' | 'write' | 'readwrite';

/** The ioctl encoding of a Node.js `process.arch` value; undefined for an architecture we do not know. */
export function iocEncodingOf(arch: string): IocEncoding | undefined {
  switch (arch) {
    case 'x64':
    case 'ia32':
    case 'arm':
    case 'arm64':
    case 'riscv32':
    case 'riscv64':
    case 's390':
    case 's390x':
    case 'loong64':
      return 'generic';
    case 'mips':
    case 'mipsel':
    case 'mips64':
    case 'mips64el':
    case 'ppc':
    case 'ppc64':
    case 'sparc':
    case 'sparc64':
    case 'alpha':
      return 'mips-ppc';
    case 'parisc':
    case 'hppa':
      return 'parisc';
    default:
      return undefined;
  }
}

/** Compose an ioctl request number (the kernel's _IOC rule) for the given encoding. */
export function iocNumber(enc: IocEncoding, dir: IocDir, type: number, nr: number, size: number): number {
  const wantsRead = dir === 'read' || dir === 'readwrite';
  const wantsWrite = dir === 'write' || dir === 'readwrite';
  let dirBits: number;
  let sizeBits: number;
  if (enc === 'mips-ppc') {
    dirBits = dir === 'none' ? 1 : (wantsRead ? 2 : 0) | (wantsWrite ? 4 : 0);
    dirBits <<= 29;
    sizeBits = 13;
  } else {
    const rd = enc === 'parisc' ? 1 : 2;
    const wr = enc === 'parisc' ? 2 : 1;
    dirBits = ((wantsRead ? rd : 0) | (wantsWrite ? wr : 0)) * 2 ** 30;
    sizeBits = 14;
  }
  if (size < 0 || size >= 2 ** sizeBits) throw new PstoreError('EINVAL', `ioctl argument size ${size} does not fit ${sizeBits} bits`);
  // Unsigned 32-bit result: built with arithmetic, not `|`, which would go negative.
  return (dirBits >>> 0) + size * 0x10000 + type * 0x100 + nr;
}

/** The MTD ioctls this module uses, with their direction, number and argument size (include/uapi/mtd/mtd-abi.h). */
export const MTD_IOCTLS = {
  MEMGETINFO: { dir: 'read', nr: 1, size: 32 },
  MEMERASE: { dir: 'write', nr: 2, size: 8 },
  MEMGETBADBLOCK: { dir: 'write', nr: 11, size: 8 },
  MEMSETBADBLOCK: { dir: 'write', nr: 12, size: 8 },
  ECCGETSTATS: { dir: 'read', nr: 18, size: 16 },
  MTDFILEMODE: { dir: 'none', nr: 19, size: 0 },
  MEMERASE64: { dir: 'write', nr: 20, size: 16 },
  MEMWRITE: { dir: 'readwrite', nr: 24, size: 48 },
  MEMREAD: { dir: 'readwrite', nr: 26, size: 64 },
} as const satisfies Record<string, { dir: IocDir; nr: number; size: number }>;

export type MtdIoctlName = keyof typeof MTD_IOCTLS;

/** ioctl "type" byte of every MTD ioctl: 'M'. */
const MTD_IOC_TYPE = 0x4d;

/**
 * Request number of an MTD ioctl on an architecture (a `process.arch`
 * value, default this one). Throws EOPNOTSUPP for an architecture whose
 * encoding we do not know.
 */
export function mtdIoctlRequest(name: MtdIoctlName, arch: string = process.arch): number {
  const enc = iocEncodingOf(arch);
  if (!enc) {
    throw new PstoreError('EOPNOTSUPP', `ioctl request numbers for architecture '${arch}' are not known: MTD device access is not supported there`);
  }
  const d = MTD_IOCTLS[name];
  // struct mtd_read_req ends in three u32 after a u8 + 7 pad bytes: i386 does not pad it to 8.
  const size = name === 'MEMREAD' && arch === 'ia32' ? 60 : d.size;
  return iocNumber(enc, d.dir, MTD_IOC_TYPE, d.nr, size);
}

// ---------------------------------------------------------------------------
// ioctl arguments (native endian, as the kernel reads them)

const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function putU64(buf: Buffer, off: number, v: number): void {
  if (LE) buf.writeBigUInt64LE(BigInt(v), off);
  else buf.writeBigUInt64BE(BigInt(v), off);
}
function getU32(buf: Buffer, off: number): number {
  return LE ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
}

/** `struct erase_info_user64 { u64 start; u64 length; }`. */
export function packEraseInfo64(start: number, length: number): Buffer {
  const b = Buffer.alloc(16);
  putU64(b, 0, start);
  putU64(b, 8, length);
  return b;
}

/** A 64-bit offset (`loff_t`), the argument of MEMGETBADBLOCK / MEMSETBADBLOCK. */
export function packOffset(off: number): Buffer {
  const b = Buffer.alloc(8);
  putU64(b, 0, off);
  return b;
}

/** Decoded `struct mtd_info_user`. `size` is 32-bit: devices of 4 GiB or more report it truncated. */
export interface MtdInfoUser {
  /** MTD_* type number: 1 RAM, 2 ROM, 3 NOR, 4 NAND, 6 DataFlash, 7 UBI, 8 MLC NAND. */
  type: number;
  flags: number;
  size: number;
  erasesize: number;
  writesize: number;
  oobsize: number;
}

/** Decode the 32 bytes MEMGETINFO fills in. */
export function unpackMtdInfoUser(b: Buffer): MtdInfoUser {
  if (b.length < 32) throw new PstoreError('EINVAL', `mtd_info_user is 32 bytes, got ${b.length}`);
  return {
    type: b[0],
    flags: getU32(b, 4),
    size: getU32(b, 8),
    erasesize: getU32(b, 12),
    writesize: getU32(b, 16),
    oobsize: getU32(b, 20),
  };
}

/** Decoded `struct mtd_ecc_stats`: device-wide counters since the device was registered. */
export interface MtdEccStats {
  corrected: number;
  failed: number;
  badblocks: number;
  bbtblocks: number;
}

/** Decode the 16 bytes ECCGETSTATS fills in. */
export function unpackEccStats(b: Buffer): MtdEccStats {
  if (b.length < 16) throw new PstoreError('EINVAL', `mtd_ecc_stats is 16 bytes, got ${b.length}`);
  return { corrected: getU32(b, 0), failed: getU32(b, 4), badblocks: getU32(b, 8), bbtblocks: getU32(b, 12) };
}

/** MTD flag: the device can be written. */
export const MTD_WRITEABLE = 0x400;

/** Our MtdType for a MEMGETINFO type number, or undefined for types we do not drive. */
export function mtdTypeOfNumber(t: number): MtdType | undefined {
  switch (t) {
    case 1: // RAM
    case 2: // ROM
      return 'ram';
    case 3: // NOR
    case 6: // DataFlash: erase blocks, no OOB, like NOR
      return 'nor';
    case 4: // NAND
    case 8: // MLC NAND
      return 'nand';
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------
// device numbers and sysfs

/** Major number of the MTD character devices. */
export const MTD_CHAR_MAJOR = 90;
/** Major number of mtdblock (a block device over MTD, not usable here). */
export const MTD_BLOCK_MAJOR = 31;

/** Split a Linux dev_t (as Node's `Stats.rdev` gives it) into major and minor. */
export function decodeDevNumber(rdev: number): { major: number; minor: number } {
  const d = BigInt(rdev);
  const major = Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
  const minor = Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
  return { major, minor };
}

/** Geometry read from `/sys/class/mtd/mtdN/`. */
export interface SysfsMtdInfo {
  index: number;
  name: string;
  /** The sysfs `type` word: nand, mlc-nand, nor, ram, rom, dataflash, ubi, absent, unknown. */
  typeName: string;
  /** Our type, or undefined when we do not drive devices of that type. */
  type: MtdType | undefined;
  size: number;
  erasesize: number;
  writesize: number;
  oobsize: number;
  /** `flags` attribute (0x400 = writeable), when present. */
  flags: number | undefined;
}

/** Our MtdType for a sysfs `type` word, or undefined for types we do not drive. */
export function mtdTypeOfSysfs(word: string): MtdType | undefined {
  switch (word) {
    case 'nand':
    case 'mlc-nand':
      return 'nand';
    case 'nor':
    case 'dataflash':
      return 'nor';
    case 'ram':
    case 'rom':
      return 'ram';
    default:
      return undefined;
  }
}

/** Default location of the MTD class in sysfs. */
export const SYSFS_MTD_ROOT = '/sys/class/mtd';

/**
 * Read the geometry of mtd`index` from sysfs (`root` is `/sys/class/mtd`
 * unless a test gives a fake tree). Returns null when the directory does
 * not exist (no sysfs, e.g. in a container); throws EINVAL when an
 * attribute is missing or not a number.
 */
export function readSysfsMtd(index: number, root: string = SYSFS_MTD_ROOT): SysfsMtdInfo | null {
  const dir = path.join(root, `mtd${index}`);
  if (!fs.existsSync(dir)) return null;
  const attr = (name: string): string | undefined => {
    try {
      return fs.readFileSync(path.join(dir, name), 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  const num = (name: string, required: boolean): number | undefined => {
    const s = attr(name);
    if (s === undefined) {
      if (required) throw new PstoreError('EINVAL', `${dir}/${name} is missing: cannot learn the geometry of mtd${index}`);
      return undefined;
    }
    // sysfs prints decimal (size, erasesize, ...) or 0x-hex (flags).
    const v = /^0x[0-9a-f]+$/i.test(s) ? parseInt(s, 16) : /^\d+$/.test(s) ? Number(s) : NaN;
    if (!Number.isSafeInteger(v)) throw new PstoreError('EINVAL', `${dir}/${name} holds '${s}', not a number`);
    return v;
  };
  const typeName = attr('type') ?? 'unknown';
  return {
    index,
    name: attr('name') ?? `mtd${index}`,
    typeName,
    type: mtdTypeOfSysfs(typeName),
    size: num('size', true) as number,
    erasesize: num('erasesize', true) as number,
    writesize: num('writesize', true) as number,
    oobsize: num('oobsize', false) ?? 0,
    flags: num('flags', false),
  };
}

// ---------------------------------------------------------------------------
// koffi

type IoctlFn = (fd: number, request: number, ...typeAndValue: unknown[]) => number;
interface Native {
  ioctl: IoctlFn;
  errno: () => number;
}

let native: Native | undefined;
let nativeError: Error | undefined;

/** Names of the errno numbers ioctl and the MTD driver return, beyond the project's table. */
const EXTRA_ERRNO: Record<number, string> = { 25: 'ENOTTY', 19: 'ENODEV', 6: 'ENXIO', 9: 'EBADF', 14: 'EFAULT' };

function errnoLabel(n: number): string {
  for (const [k, v] of Object.entries(ERRNO)) if (v === n) return k;
  return EXTRA_ERRNO[n] ?? `errno ${n}`;
}

/** Our error code for a kernel errno (names outside the project's table become EIO, the name kept in the message). */
function codeOf(n: number): ErrnoName {
  for (const [k, v] of Object.entries(ERRNO)) if (v === n) return k as ErrnoName;
  return 'EIO';
}

/** Load libc's ioctl through koffi (once). Throws EOPNOTSUPP saying why when that is impossible. */
function loadNative(): Native {
  if (native) return native;
  if (nativeError) throw nativeError;
  try {
    if (process.platform !== 'linux') throw new Error(`MTD devices exist only on Linux (this is ${process.platform})`);
    const require = createRequire(import.meta.url);
    const koffi = require('koffi') as {
      load(path: string): { func(decl: string): IoctlFn };
      errno(): number;
    };
    // glibc and musl name their C library differently; the first that loads wins.
    let lib: { func(decl: string): IoctlFn } | undefined;
    const tried: string[] = [];
    for (const name of ['libc.so.6', 'libc.so', 'libc.musl-x86_64.so.1', 'libc.musl-aarch64.so.1']) {
      try {
        lib = koffi.load(name);
        break;
      } catch (e) {
        tried.push(`${name}: ${(e as Error).message}`);
      }
    }
    if (!lib) throw new Error(`cannot load the C library (${tried.join('; ')})`);
    // ioctl is variadic in C; declaring it so keeps the call correct on every ABI.
    const ioctl = lib.func('int ioctl(int fd, unsigned long request, ...)');
    native = { ioctl, errno: () => koffi.errno() };
    return native;
  } catch (e) {
    nativeError = new PstoreError(
      'EOPNOTSUPP',
      `cannot drive MTD devices: ioctl(2) is unavailable through koffi (${(e as Error).message}). ` +
        `Install the npm package koffi with its prebuilt binary for ${process.platform}-${process.arch}, ` +
        `or copy the device to a file first (cat /dev/mtdN > dump.img) and work on the image`,
      { cause: e },
    );
    throw nativeError;
  }
}

// ---------------------------------------------------------------------------
// the device

export interface MtdCharDeviceOptions {
  /** Open read-write (default false: write, erase and markBad throw EROFS). */
  writable?: boolean;
  /** sysfs class directory (tests); default `/sys/class/mtd`. */
  sysfsRoot?: string;
}

function openError(p: string, e: unknown, writable: boolean): PstoreError {
  const code = (e as NodeJS.ErrnoException).code;
  const name: ErrnoName =
    code === 'ENOENT' ? 'ENOENT' : code === 'EACCES' || code === 'EPERM' ? 'EACCES' : code === 'EROFS' ? 'EROFS' : code === 'EBUSY' ? 'EBUSY' : 'EIO';
  const hint =
    name === 'EACCES' && writable
      ? ' (the device may be read-only, or you lack permission: run as root or open it read-only)'
      : name === 'EACCES'
        ? ' (run as root or add yourself to the group owning the node)'
        : '';
  return new PstoreError(name, `cannot open ${p}${writable ? ' for writing' : ''}: ${(e as Error).message}${hint}`, { cause: e });
}

/**
 * An MTD device driven through its character device node (`/dev/mtdN`).
 *
 * Geometry comes from sysfs (64-bit size, the name), checked against
 * MEMGETINFO; without sysfs (a container) MEMGETINFO alone is used.
 * Reads report ECC events by comparing the device's ECC counters before and
 * after the read (ECCGETSTATS, what nanddump does): `EUCLEAN` when bitflips
 * were corrected, `EBADMSG` when a page could not be corrected. The counters
 * are device-wide, so a concurrent reader of the same device can make a read
 * look worse than it was, never better.
 *
 * Errors (PstoreError): EINVAL (not an MTD character device, arguments,
 * sysfs and MEMGETINFO disagree, closed device), ENOENT/EACCES/EBUSY (open),
 * EROFS (written while opened read-only, or a read-only node), EIO (I/O
 * error, bad block, erase failure, unknown kernel errno — named in the
 * message), EOPNOTSUPP (koffi/ioctl unavailable; markBad on NOR/RAM).
 */
export class MtdCharDevice implements MtdDevice {
  readonly geometry: MtdGeometry;
  readonly path: string;
  readonly writable: boolean;
  /** MTD flags from MEMGETINFO (0x400 writeable, 0x800 bit-writeable, ...). */
  readonly flags: number;
  private fd: number | undefined;
  private readonly nat: Native;

  private constructor(p: string, fd: number, geometry: MtdGeometry, flags: number, writable: boolean, nat: Native) {
    this.path = p;
    this.fd = fd;
    this.geometry = geometry;
    this.flags = flags;
    this.writable = writable;
    this.nat = nat;
  }

  /**
   * Open `/dev/mtdN` (or any path naming an MTD character device, e.g. a
   * udev by-name link). Throws EINVAL when the node is not an MTD character
   * device (a regular file, `/dev/mtdblockN`, ...), EOPNOTSUPP when ioctl
   * cannot be called (koffi missing), ENOENT/EACCES when it cannot be opened.
   */
  static open(p: string, opts: MtdCharDeviceOptions = {}): MtdCharDevice {
    const writable = opts.writable ?? false;
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch (e) {
      throw openError(p, e, writable);
    }
    const { major, minor } = decodeDevNumber(st.rdev);
    if (!st.isCharacterDevice() || major !== MTD_CHAR_MAJOR) {
      const what = st.isBlockDevice() && major === MTD_BLOCK_MAJOR
        ? `an mtdblock device: use the character device /dev/mtd${minor} instead`
        : st.isFile()
          ? 'a regular file: open it as an image instead'
          : st.isCharacterDevice() || st.isBlockDevice()
            ? `device ${major}:${minor}, not an MTD character device (major ${MTD_CHAR_MAJOR})`
            : 'not a device node';
      throw new PstoreError('EINVAL', `${p} is ${what}`);
    }
    const index = minor >> 1;
    if (writable && (minor & 1) === 1) {
      throw new PstoreError('EROFS', `${p} is the read-only node of mtd${index}: open /dev/mtd${index} to write`);
    }
    const nat = loadNative();
    let fd: number;
    try {
      fd = fs.openSync(p, writable ? 'r+' : 'r');
    } catch (e) {
      throw openError(p, e, writable);
    }
    try {
      const infoBuf = Buffer.alloc(32);
      MtdCharDevice.ioctlOn(nat, fd, p, 'MEMGETINFO', infoBuf);
      const info = unpackMtdInfoUser(infoBuf);
      const sys = readSysfsMtd(index, opts.sysfsRoot);
      const geometry = MtdCharDevice.geometryFrom(p, index, info, sys);
      if (writable && (info.flags & MTD_WRITEABLE) === 0) {
        throw new PstoreError('EROFS', `${p}: mtd${index} "${geometry.name}" is not writeable (flags ${hex(info.flags)})`);
      }
      return new MtdCharDevice(p, fd, geometry, info.flags, writable, nat);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /**
   * Combine sysfs and MEMGETINFO into a geometry. sysfs is preferred (its size
   * is 64-bit and it has the name); MEMGETINFO must agree with it, otherwise
   * the sysfs tree belongs to another device (e.g. a different namespace).
   */
  static geometryFrom(p: string, index: number, info: MtdInfoUser, sys: SysfsMtdInfo | null): MtdGeometry {
    const ioType = mtdTypeOfNumber(info.type);
    if (sys) {
      const mismatch: string[] = [];
      if (sys.erasesize !== info.erasesize) mismatch.push(`erasesize ${sys.erasesize} vs ${info.erasesize}`);
      if (sys.writesize !== info.writesize) mismatch.push(`writesize ${sys.writesize} vs ${info.writesize}`);
      if (sys.oobsize !== info.oobsize) mismatch.push(`oobsize ${sys.oobsize} vs ${info.oobsize}`);
      // MEMGETINFO's size is 32 bits wide.
      if (sys.size < 2 ** 32 && sys.size !== info.size) mismatch.push(`size ${sys.size} vs ${info.size}`);
      if (sys.type !== ioType) mismatch.push(`type ${sys.typeName} vs ${info.type}`);
      if (mismatch.length) {
        throw new PstoreError('EINVAL', `${p}: sysfs (mtd${index}) and MEMGETINFO disagree (${mismatch.join(', ')}): is ${SYSFS_MTD_ROOT} from another system?`);
      }
    }
    const type = sys?.type ?? ioType;
    if (!type) {
      throw new PstoreError('EINVAL', `${p}: MTD type ${sys ? `'${sys.typeName}'` : info.type} is not supported (use a NAND, NOR or RAM device)`);
    }
    const size = sys?.size ?? info.size;
    return makeGeometry(
      {
        type,
        size,
        erasesize: info.erasesize,
        writesize: info.writesize,
        oobsize: type === 'nand' ? info.oobsize : 0,
        name: sys?.name ?? p,
        index,
      },
      p,
    );
  }

  private static ioctlOn(nat: Native, fd: number, p: string, name: MtdIoctlName, arg: Buffer): number {
    const r = nat.ioctl(fd, mtdIoctlRequest(name), 'void *', arg);
    if (r < 0) {
      const e = nat.errno();
      if (e === 25 && name === 'MEMGETINFO') {
        throw new PstoreError('EINVAL', `${p} does not answer MEMGETINFO (ENOTTY): it is not an MTD device`);
      }
      throw new PstoreError(codeOf(e), `${p}: ioctl ${name} failed with ${errnoLabel(e)}`);
    }
    return r;
  }

  private fdOrThrow(): number {
    if (this.fd === undefined) throw new PstoreError('EINVAL', `${deviceLabel(this.geometry)} (${this.path}) is closed: open it again`);
    return this.fd;
  }

  private ioctl(name: MtdIoctlName, arg: Buffer, what: string): number {
    const r = this.nat.ioctl(this.fdOrThrow(), mtdIoctlRequest(name), 'void *', arg);
    if (r < 0) {
      const e = this.nat.errno();
      throw new PstoreError(codeOf(e), `${deviceLabel(this.geometry)} (${this.path}): ${what} failed: ioctl ${name} returned ${errnoLabel(e)}`);
    }
    return r;
  }

  /** The device's ECC counters (ECCGETSTATS). Throws EIO/EINVAL as the kernel reports. */
  eccStats(): MtdEccStats {
    const b = Buffer.alloc(16);
    this.ioctl('ECCGETSTATS', b, 'reading ECC statistics');
    return unpackEccStats(b);
  }

  /**
   * Read `len` bytes at `off`. The status says whether ECC corrected bitflips
   * (EUCLEAN) or failed (EBADMSG) during this read; the data is returned in
   * every case, as the kernel returns it. `corrected` is the number of
   * corrected bits. Unlike the in-kernel mtd_read, which says EUCLEAN only
   * when a step reaches the device's bitflip_threshold, any corrected bit
   * gives EUCLEAN here: user space sees only the device's running totals.
   * Throws EINVAL (range), EIO.
   */
  read(off: number, len: number): MtdReadResult {
    const fd = this.fdOrThrow();
    checkReadArgs(this.geometry, off, len);
    const before = this.eccStats();
    const data = Buffer.alloc(len);
    let done = 0;
    while (done < len) {
      let n: number;
      try {
        n = fs.readSync(fd, data, done, len - done, off + done);
      } catch (e) {
        throw this.ioError(e, `read of ${len - done} bytes at ${hex(off + done)}`);
      }
      if (n === 0) throw new PstoreError('EIO', `${deviceLabel(this.geometry)}: read at ${hex(off + done)} returned end of device early`);
      done += n;
    }
    const after = this.eccStats();
    const corrected = (after.corrected - before.corrected) >>> 0;
    const failed = (after.failed - before.failed) >>> 0;
    const status: ReadStatus = failed > 0 ? 'EBADMSG' : corrected > 0 ? 'EUCLEAN' : 'ok';
    return { data, retlen: len, status, corrected };
  }

  private ioError(e: unknown, what: string): PstoreError {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    const name: ErrnoName = code in ERRNO ? (code as ErrnoName) : 'EIO';
    return new PstoreError(name, `${deviceLabel(this.geometry)} (${this.path}): ${what} failed: ${(e as Error).message}`, { cause: e });
  }

  private assertWritable(what: string): number {
    const fd = this.fdOrThrow();
    if (!this.writable) {
      throw new PstoreError('EROFS', `${deviceLabel(this.geometry)}: ${what} refused, ${this.path} is open read-only (open it writable to modify it)`);
    }
    return fd;
  }

  private checkGoodBlocks(off: number, len: number, what: string): void {
    if (this.geometry.type !== 'nand') return;
    checkGoodBlocks(this.geometry, off, len, what, (b) => this.isBad(b * this.geometry.erasesize));
  }

  /**
   * Program `data` at `off` (NAND: whole pages). Refuses bad blocks with EIO
   * before touching them (the NAND core would program them). Throws EROFS,
   * EINVAL (range, alignment), EIO.
   */
  write(off: number, data: Uint8Array): number {
    return this.program(off, data, 'write');
  }

  /**
   * From user space there is no panic context: a panic write is an ordinary
   * write of the same bytes (the kernel's panic path differs only in how it
   * waits for the chip).
   */
  panicWrite(off: number, data: Uint8Array): number {
    return this.program(off, data, 'panic write');
  }

  private program(off: number, data: Uint8Array, what: string): number {
    const fd = this.assertWritable(what);
    checkWriteArgs(this.geometry, off, data.length, what);
    if (data.length === 0) return 0;
    this.checkGoodBlocks(off, data.length, what);
    let done = 0;
    while (done < data.length) {
      let n: number;
      try {
        n = fs.writeSync(fd, data, done, data.length - done, off + done);
      } catch (e) {
        throw this.ioError(e, `${what} of ${data.length - done} bytes at ${hex(off + done)}`);
      }
      if (n === 0) throw new PstoreError('EIO', `${deviceLabel(this.geometry)}: ${what} at ${hex(off + done)} wrote nothing`);
      done += n;
    }
    return data.length;
  }

  /** Erase whole blocks, one MEMERASE64 per block so that a failure names its block. Throws EROFS, EINVAL, EIO (bad block, erase failure). */
  erase(off: number, len: number = this.geometry.erasesize): void {
    this.assertWritable('erase');
    checkEraseArgs(this.geometry, off, len);
    const E = this.geometry.erasesize;
    for (let a = off; a < off + len; a += E) {
      this.ioctl('MEMERASE64', packEraseInfo64(a, E), `erase of block ${a / E} (${hex(a)})`);
    }
  }

  /** Whether the block containing `off` is bad (MEMGETBADBLOCK; always false on NOR/RAM). Throws EINVAL, EIO. */
  isBad(off: number): boolean {
    this.fdOrThrow();
    checkBlockArgs(this.geometry, off, 'bad-block query');
    if (this.geometry.type !== 'nand') return false;
    const E = this.geometry.erasesize;
    return this.ioctl('MEMGETBADBLOCK', packOffset(Math.floor(off / E) * E), `bad-block query at ${hex(off)}`) > 0;
  }

  /** Mark the block containing `off` bad (MEMSETBADBLOCK): permanent on real flash. Throws EOPNOTSUPP (NOR/RAM), EROFS, EINVAL, EIO. */
  markBad(off: number): void {
    if (this.geometry.type !== 'nand') {
      throw new PstoreError('EOPNOTSUPP', `${deviceLabel(this.geometry)}: ${this.geometry.type.toUpperCase()} has no bad blocks`);
    }
    this.assertWritable('markBad');
    checkBlockArgs(this.geometry, off, 'markBad');
    const E = this.geometry.erasesize;
    this.ioctl('MEMSETBADBLOCK', packOffset(Math.floor(off / E) * E), `marking block ${Math.floor(off / E)} bad`);
  }

  /** mtdchar writes synchronously and has no fsync; the driver syncs on close. Nothing to do. */
  sync(): void {
    this.fdOrThrow();
  }

  /** Close the node (the kernel syncs the device when a writable descriptor closes). */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    fs.closeSync(fd);
  }
}

/**
 * Open `p` as an MTD character device when it is a character device;
 * returns null for anything else (a regular file, a missing path), so a
 * caller can fall back to treating it as an image file. Throws like
 * {@link MtdCharDevice.open} when it is a character device that cannot be
 * used (not MTD, read-only, koffi missing).
 */
export function openMtdPath(p: string, opts: MtdCharDeviceOptions = {}): MtdCharDevice | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return null;
  }
  if (!st.isCharacterDevice()) return null;
  return MtdCharDevice.open(p, opts);
}

/** Whether `p` names a character device (cheap test for callers choosing between a device and an image). */
export function isCharDevicePath(p: string): boolean {
  try {
    return fs.statSync(p).isCharacterDevice();
  } catch {
    return false;
  }
}
