/**
 * MTD devices backed by image files (images.md §1–§4).
 *
 * Two layouts are understood:
 *  - raw / linear: partition byte i at file byte i (`cat /dev/mtdN`, nanddump
 *    without OOB and with padbad/dumpbad, simulator export);
 *  - OOB-interleaved: per page W data bytes then oobsize OOB bytes
 *    (`nanddump --oob`); bad blocks can then be read from the factory marker.
 * Either may also be a nanddump "skipbad" dump with the bad blocks left out:
 * pass their numbers as `skippedBadBlocks` and the device re-inserts them
 * (reading 0xFF, reported bad), so offsets are physical again.
 *
 * All I/O is positional (fs.readSync / fs.writeSync at an offset); the file
 * is never loaded whole. Reads report status `ok` (a file has no ECC).
 */
import * as fs from 'node:fs';
import { PstoreError, hex, type ErrnoName } from '../errors.js';
import type { MtdDevice, MtdGeometry, MtdReadResult, MtdType } from './device.js';
import {
  badBlockMarkerPos,
  checkBlockArgs,
  checkEraseArgs,
  checkGoodBlocks,
  checkReadArgs,
  checkWriteArgs,
  deviceLabel,
  makeGeometry,
} from './geometry.js';

/** Geometry of an image; `size` may be left out and is then derived from the file length. */
export interface ImageGeometry {
  /** Default 'nand'. */
  type?: MtdType;
  size?: number;
  erasesize: number;
  /** NAND page size (required for NAND); NOR/RAM default 1. */
  writesize?: number;
  /** OOB bytes per page (0 for NOR/RAM and for NAND images without OOB knowledge). */
  oobsize?: number;
  name?: string;
  index?: number;
}

export interface ImageFileOptions {
  geometry: ImageGeometry;
  /**
   * File layout: `true` OOB-interleaved, `false` raw, `'auto'` (default)
   * decided from the file length by {@link detectOobLayout} (raw when oobsize is 0).
   */
  oob?: boolean | 'auto';
  /** Open read-write. Default false: write, panicWrite, erase and markBad throw EROFS. */
  writable?: boolean;
  /** Program = AND with the existing content, as flash does (default true); false = plain overwrite. */
  flashSemantics?: boolean;
  /** Bad blocks known from elsewhere (sidecar, `bad_blocks` list). */
  badBlocks?: readonly number[];
  /** OOB layout: read bad-block markers from the OOB (default true). */
  scanOobMarkers?: boolean;
  /** Also look for a marker in the second page of each block (some chips use it). Default false. */
  checkSecondPage?: boolean;
  /** nanddump skipbad dump: physical numbers of the bad blocks that are missing from the file. */
  skippedBadBlocks?: readonly number[];
}

/** What a file length says about its layout; see {@link detectOobLayout}. */
export interface OobLayoutGuess {
  /** `raw`, `oob`, `ambiguous` (fits both) or `none` (fits neither). */
  layout: 'raw' | 'oob' | 'ambiguous' | 'none';
  rawFits: boolean;
  oobFits: boolean;
  /** Data bytes if raw (= file size). */
  rawSize: number;
  /** Data bytes if OOB-interleaved. */
  oobDataSize: number;
}

/**
 * Whether `fileSize` bytes fit a raw image (a whole number of erase blocks)
 * and/or an OOB-interleaved one (a whole number of blocks of
 * E÷W pages of W + oobsize bytes). A size can fit both (e.g. 33 raw blocks =
 * 32 interleaved blocks at W 2048, oob 64): then the caller must say which.
 */
export function detectOobLayout(fileSize: number, writesize: number, oobsize: number, erasesize: number): OobLayoutGuess {
  if (!(writesize > 0) || !(erasesize > 0) || erasesize % writesize !== 0 || !(oobsize >= 0)) {
    throw new PstoreError('EINVAL', `detectOobLayout: bad geometry writesize ${writesize}, oobsize ${oobsize}, erasesize ${erasesize}`);
  }
  const rawFits = fileSize > 0 && fileSize % erasesize === 0;
  const stride = (erasesize / writesize) * (writesize + oobsize);
  const oobFits = oobsize > 0 && fileSize > 0 && fileSize % stride === 0;
  const layout = rawFits && oobFits ? 'ambiguous' : rawFits ? 'raw' : oobFits ? 'oob' : 'none';
  return { layout, rawFits, oobFits, rawSize: fileSize, oobDataSize: oobFits ? (fileSize / stride) * erasesize : 0 };
}

function sortedUnique(list: readonly number[] | undefined, what: string): number[] {
  const r = [...new Set(list ?? [])].sort((a, b) => a - b);
  for (const b of r) {
    if (!Number.isSafeInteger(b) || b < 0) throw new PstoreError('EINVAL', `${what}: ${b} is not a block number`);
  }
  return r;
}

/** A file-system failure as a PstoreError (EIO, or ENOSPC when the disk is full), saying where and what to do. */
function fileError(e: unknown, what: string, pos: number): PstoreError {
  if (e instanceof PstoreError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  const name: ErrnoName = code === 'ENOSPC' ? 'ENOSPC' : 'EIO';
  const hint = name === 'ENOSPC' ? 'free disk space and retry' : 'check the file and the disk holding it';
  return new PstoreError(name, `${what} at byte ${pos} failed: ${(e as Error).message}: ${hint}`, { cause: e });
}

function readFully(fd: number, buf: Uint8Array, pos: number, what: string): void {
  let done = 0;
  while (done < buf.length) {
    let n: number;
    try {
      n = fs.readSync(fd, buf, done, buf.length - done, pos + done);
    } catch (e) {
      throw fileError(e, what, pos + done);
    }
    if (n === 0) throw new PstoreError('EIO', `${what}: unexpected end of file at byte ${pos + done} (the file shrank?)`);
    done += n;
  }
}

function writeFully(fd: number, buf: Uint8Array, pos: number): void {
  let done = 0;
  try {
    while (done < buf.length) done += fs.writeSync(fd, buf, done, buf.length - done, pos + done);
  } catch (e) {
    throw fileError(e, 'image write', pos + done);
  }
}

/**
 * An MTD device over an image file. Open with {@link ImageFileDevice.open}.
 *
 * Errors: EINVAL (geometry/file mismatch, arguments, closed device), EIO
 * (bad block, I/O), EROFS (write on a read-only device), EOPNOTSUPP (markBad on NOR/RAM),
 * ENOENT / EACCES (file cannot be opened).
 */
export class ImageFileDevice implements MtdDevice {
  readonly geometry: MtdGeometry;
  readonly path: string;
  /** File layout in use. */
  readonly layout: 'raw' | 'oob';
  readonly writable: boolean;
  private readonly flashSemantics: boolean;
  private readonly ppb: number;
  /** Physical block → block index in the file, -1 when skipped (absent). */
  private readonly fileBlock: Int32Array;
  private readonly bad: Uint8Array;
  private fd: number | undefined;

  private constructor(path: string, fd: number, fileSize: number, opts: ImageFileOptions) {
    this.path = path;
    this.fd = fd;
    const gi = opts.geometry;
    const type = gi.type ?? 'nand';
    const E = gi.erasesize;
    const W = gi.writesize ?? (type === 'nand' ? undefined : 1);
    const O = gi.oobsize ?? 0;
    if (!(typeof E === 'number' && E > 0) || !(typeof W === 'number' && W > 0) || E % W !== 0) {
      throw new PstoreError('EINVAL', `${path}: give the geometry: --erasesize (got ${E}) and --writesize (got ${gi.writesize}), erasesize a multiple of writesize`);
    }
    const skipped = sortedUnique(opts.skippedBadBlocks, 'skippedBadBlocks');
    let layout: 'raw' | 'oob';
    const guess = detectOobLayout(fileSize, W, O, E);
    if (opts.oob === true) {
      if (O === 0) throw new PstoreError('EINVAL', `${path}: an OOB-interleaved image needs --oobsize (got 0)`);
      layout = 'oob';
    } else if (opts.oob === false || O === 0) {
      layout = 'raw';
    } else if (guess.layout === 'raw' || guess.layout === 'oob') {
      layout = guess.layout;
    } else if (guess.layout === 'ambiguous') {
      // Only the expected size can tell them apart.
      const physBlocks = gi.size !== undefined ? gi.size / E : undefined;
      const rawBlocks = fileSize / E + skipped.length;
      const oobBlocks = guess.oobDataSize / E + skipped.length;
      if (physBlocks === rawBlocks && physBlocks !== oobBlocks) layout = 'raw';
      else if (physBlocks === oobBlocks && physBlocks !== rawBlocks) layout = 'oob';
      else {
        throw new PstoreError(
          'EINVAL',
          `${path}: ${fileSize} bytes fit both a raw image (${rawBlocks} blocks) and an OOB-interleaved one (${oobBlocks} blocks of ${E / W} pages of ${W}+${O} bytes): pass --oob or --no-oob (or the size)`,
        );
      }
    } else {
      throw new PstoreError(
        'EINVAL',
        `${path}: file length ${fileSize} fits neither a raw image (multiple of erasesize ${E}) nor an OOB-interleaved one (multiple of ${(E / W) * (W + O)} = ${E / W} pages × (${W} + ${O})): check --erasesize/--writesize/--oobsize`,
      );
    }
    const blockBytes = layout === 'oob' ? (E / W) * (W + O) : E;
    if (fileSize % blockBytes !== 0) {
      throw new PstoreError(
        'EINVAL',
        layout === 'oob'
          ? `${path}: file length ${fileSize} is not a whole number of OOB-interleaved blocks (${blockBytes} bytes = ${E / W} pages × (${W} + ${O})): wrong --writesize/--oobsize/--erasesize, or the image has no OOB (omit --oob)`
          : `${path}: file length ${fileSize} is not a multiple of erasesize ${E}` +
            (O > 0 && guess.oobFits ? ` but fits an OOB-interleaved image: pass --oob` : `: check --erasesize`),
      );
    }
    const fileBlocks = fileSize / blockBytes;
    const physBlocks = fileBlocks + skipped.length;
    const size = physBlocks * E;
    if (gi.size !== undefined && gi.size !== size) {
      throw new PstoreError(
        'EINVAL',
        `${path}: the file holds ${fileBlocks} blocks${skipped.length ? ` + ${skipped.length} skipped bad blocks` : ''} = ${size} bytes of ${layout} data (file length ${fileSize}), but size ${gi.size} was given: ` +
          (layout === 'raw' && O > 0 && guess.oobFits ? `it may be OOB-interleaved (pass --oob)` : `check --size/--erasesize` + (skipped.length ? '' : ', or pass the bad blocks of a skipbad dump')),
      );
    }
    this.geometry = makeGeometry({ type, size, erasesize: E, writesize: W, oobsize: O, name: gi.name ?? path, index: gi.index }, path);
    this.layout = layout;
    this.writable = opts.writable ?? false;
    this.flashSemantics = opts.flashSemantics ?? true;
    this.ppb = E / W;
    this.fileBlock = new Int32Array(physBlocks);
    this.bad = new Uint8Array(physBlocks);
    for (const b of skipped) {
      if (b >= physBlocks) throw new PstoreError('EINVAL', `${path}: skipped bad block ${b} is outside 0..${physBlocks - 1}`);
    }
    let k = 0;
    const skipSet = new Set(skipped);
    for (let b = 0; b < physBlocks; b++) {
      if (skipSet.has(b)) {
        this.fileBlock[b] = -1;
        this.bad[b] = 1;
      } else this.fileBlock[b] = k++;
    }
    const listed = sortedUnique(opts.badBlocks, 'badBlocks');
    if (listed.length && type !== 'nand') {
      throw new PstoreError('EINVAL', `${path}: bad blocks given for ${type.toUpperCase()}, which has none`);
    }
    for (const b of listed) {
      if (b >= physBlocks) throw new PstoreError('EINVAL', `${path}: bad block ${b} is outside 0..${physBlocks - 1}`);
      this.bad[b] = 1;
    }
    if (layout === 'oob' && (opts.scanOobMarkers ?? true)) this.scanMarkers(opts.checkSecondPage ?? false);
  }

  /**
   * Open an image file. Throws EINVAL when the file length does not match
   * the geometry (the message says which option to pass), ENOENT/EACCES when
   * the file cannot be opened.
   */
  static open(path: string, opts: ImageFileOptions): ImageFileDevice {
    let fd: number;
    try {
      fd = fs.openSync(path, opts.writable ? 'r+' : 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new PstoreError(
        code === 'ENOENT' ? 'ENOENT' : code === 'EACCES' || code === 'EPERM' ? 'EACCES' : code === 'EROFS' ? 'EROFS' : 'EIO',
        `cannot open image ${path}${opts.writable ? ' for writing' : ''}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) {
        throw new PstoreError('EINVAL', `${path} is not a regular file: image devices work on files (dump /dev/mtdN to a file first)`);
      }
      return new ImageFileDevice(path, fd, st.size, opts);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  private scanMarkers(second: boolean): void {
    const g = this.geometry;
    const pos = badBlockMarkerPos(g.writesize);
    if (pos >= g.oobsize) return;
    const one = Buffer.alloc(1);
    for (let b = 0; b < this.fileBlock.length; b++) {
      if (this.fileBlock[b] < 0) continue;
      for (let pg = 0; pg < (second && this.ppb > 1 ? 2 : 1); pg++) {
        readFully(this.fdOrThrow(), one, this.oobPos(b * this.ppb + pg) + pos, this.path);
        if (one[0] !== 0xff) this.bad[b] = 1;
      }
    }
  }

  private fdOrThrow(): number {
    if (this.fd === undefined) {
      throw new PstoreError('EINVAL', `${deviceLabel(this.geometry)} (${this.path}) is closed: open the image again`);
    }
    return this.fd;
  }

  /** File position of physical data byte `off` (its block must be present). */
  private dataPos(off: number): number {
    const g = this.geometry;
    const b = Math.floor(off / g.erasesize);
    const fb = this.fileBlock[b];
    const inBlock = off - b * g.erasesize;
    if (this.layout === 'raw') return fb * g.erasesize + inBlock;
    const stride = g.writesize + g.oobsize;
    const page = Math.floor(inBlock / g.writesize);
    return fb * this.ppb * stride + page * stride + (inBlock - page * g.writesize);
  }

  /** File position of the OOB of physical page `p` (OOB layout, block present). */
  private oobPos(p: number): number {
    const g = this.geometry;
    const b = Math.floor(p / this.ppb);
    const stride = g.writesize + g.oobsize;
    return this.fileBlock[b] * this.ppb * stride + (p - b * this.ppb) * stride + g.writesize;
  }

  /** Largest run starting at `off` (≤ `max`) that is contiguous in the file (or entirely in one skipped block). */
  private runAt(off: number, max: number): number {
    const g = this.geometry;
    if (this.layout !== 'raw') return Math.min(max, g.writesize - (off % g.writesize));
    // Raw: one run spans every following block that is contiguous in the file
    // (or, for skipped bad blocks, also absent), so a tiny erase size does not
    // turn a read into one system call per block.
    const E = g.erasesize;
    let b = Math.floor(off / E);
    let n = E - (off % E);
    const skipped = this.fileBlock[b]! < 0;
    while (n < max && b + 1 < this.fileBlock.length) {
      const next = this.fileBlock[b + 1]!;
      if (skipped ? next >= 0 : next !== this.fileBlock[b]! + 1) break;
      b++;
      n += E;
    }
    return Math.min(max, n);
  }

  /** Read `len` bytes at `off`. Skipped bad blocks read as 0xFF. Status is always `ok`. Throws EINVAL, EIO. */
  read(off: number, len: number): MtdReadResult {
    const fd = this.fdOrThrow();
    checkReadArgs(this.geometry, off, len);
    const out = Buffer.allocUnsafe(len);
    let done = 0;
    while (done < len) {
      const a = off + done;
      const n = this.runAt(a, len - done);
      const dst = out.subarray(done, done + n);
      if (this.fileBlock[Math.floor(a / this.geometry.erasesize)] < 0) dst.fill(0xff);
      else readFully(fd, dst, this.dataPos(a), this.path);
      done += n;
    }
    return { data: out, retlen: len, status: 'ok', corrected: 0 };
  }

  private assertWritable(what: string): number {
    const fd = this.fdOrThrow();
    if (!this.writable) {
      throw new PstoreError('EROFS', `${deviceLabel(this.geometry)}: ${what} refused, the image ${this.path} is open read-only (open it writable to modify it)`);
    }
    return fd;
  }

  private checkGoodBlocks(off: number, len: number, what: string): void {
    checkGoodBlocks(this.geometry, off, len, what, (b) => this.bad[b] !== 0);
  }

  /**
   * Program `data` at `off`: with flash semantics (default) the new content is
   * old AND new, like flash; NAND needs page alignment. OOB bytes are left as
   * they are. Throws EROFS (read-only), EINVAL, EIO (bad block).
   */
  write(off: number, data: Uint8Array): number {
    return this.program(off, data, 'write');
  }

  /** Same as {@link write} (a file can always be written). */
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
      const a = off + done;
      const n = this.runAt(a, data.length - done);
      const pos = this.dataPos(a);
      const chunk = Buffer.from(data.buffer, data.byteOffset + done, n);
      if (this.flashSemantics) {
        const cur = Buffer.allocUnsafe(n);
        readFully(fd, cur, pos, this.path);
        for (let i = 0; i < n; i++) cur[i] &= chunk[i];
        writeFully(fd, cur, pos);
      } else {
        writeFully(fd, chunk, pos);
      }
      done += n;
    }
    return data.length;
  }

  /** Erase whole blocks: data (and OOB) set to 0xFF. Throws EROFS, EINVAL, EIO (bad block). */
  erase(off: number, len: number = this.geometry.erasesize): void {
    const fd = this.assertWritable('erase');
    checkEraseArgs(this.geometry, off, len);
    const g = this.geometry;
    const blockBytes = this.layout === 'oob' ? this.ppb * (g.writesize + g.oobsize) : g.erasesize;
    const ff = Buffer.alloc(blockBytes, 0xff);
    for (let b = off / g.erasesize; b < (off + len) / g.erasesize; b++) {
      this.checkGoodBlocks(b * g.erasesize, g.erasesize, 'erase');
      writeFully(fd, ff, this.fileBlock[b] * blockBytes);
    }
  }

  /** Whether the block containing `off` is bad (given list, skipped blocks, OOB markers). Always false on NOR/RAM. */
  isBad(off: number): boolean {
    this.fdOrThrow();
    checkBlockArgs(this.geometry, off, 'bad-block query');
    return this.bad[Math.floor(off / this.geometry.erasesize)] !== 0;
  }

  /**
   * Mark the block containing `off` bad. OOB layout: a 0x00 marker is written
   * to the first page's OOB; raw layout: only in memory (see {@link badBlocks}
   * to persist the list elsewhere). Throws EOPNOTSUPP (NOR/RAM), EROFS, EINVAL.
   */
  markBad(off: number): void {
    if (this.geometry.type !== 'nand') {
      throw new PstoreError('EOPNOTSUPP', `${deviceLabel(this.geometry)}: ${this.geometry.type.toUpperCase()} has no bad blocks`);
    }
    const fd = this.assertWritable('markBad');
    checkBlockArgs(this.geometry, off, 'markBad');
    const b = Math.floor(off / this.geometry.erasesize);
    this.bad[b] = 1;
    const pos = badBlockMarkerPos(this.geometry.writesize);
    if (this.layout === 'oob' && this.fileBlock[b] >= 0 && pos < this.geometry.oobsize) {
      writeFully(fd, Buffer.from([0]), this.oobPos(b * this.ppb) + pos);
    }
  }

  /** Bad block numbers as currently known. */
  badBlocks(): number[] {
    const r: number[] = [];
    this.bad.forEach((v, i) => v && r.push(i));
    return r;
  }

  /** OOB bytes of physical page `p` (OOB layout only; skipped blocks read 0xFF). Throws EINVAL otherwise. */
  readOob(p: number): Buffer {
    const fd = this.fdOrThrow();
    const g = this.geometry;
    if (this.layout !== 'oob') throw new PstoreError('EINVAL', `${this.path}: a raw image has no OOB`);
    if (!Number.isSafeInteger(p) || p < 0 || p >= g.size / g.writesize) {
      throw new PstoreError('EINVAL', `${this.path}: page ${p} is outside 0..${g.size / g.writesize - 1}`);
    }
    const out = Buffer.alloc(g.oobsize, 0xff);
    if (this.fileBlock[Math.floor(p / this.ppb)] >= 0) readFully(fd, out, this.oobPos(p), this.path);
    return out;
  }

  /**
   * Overwrite the OOB bytes of physical page `p` as given (no flash
   * semantics: this is image editing, not device emulation). OOB layout,
   * writable, block present. Throws EINVAL, EROFS.
   */
  writeOobRaw(p: number, oob: Uint8Array): void {
    const fd = this.assertWritable('OOB write');
    const g = this.geometry;
    if (this.layout !== 'oob') throw new PstoreError('EINVAL', `${this.path}: a raw image has no OOB`);
    if (!Number.isSafeInteger(p) || p < 0 || p >= g.size / g.writesize || oob.length !== g.oobsize) {
      throw new PstoreError('EINVAL', `${this.path}: OOB write of ${oob.length} bytes to page ${p} (pages 0..${g.size / g.writesize - 1}, oobsize ${g.oobsize})`);
    }
    if (this.fileBlock[Math.floor(p / this.ppb)] < 0) {
      throw new PstoreError('EIO', `${this.path}: page ${p} lies in a skipped bad block, which is not in the file`);
    }
    writeFully(fd, oob, this.oobPos(p));
  }

  /** fsync the file when writable. */
  sync(): void {
    const fd = this.fdOrThrow();
    if (this.writable) {
      try {
        fs.fsyncSync(fd);
      } catch (e) {
        throw fileError(e, `sync of ${this.path}`, 0);
      }
    }
  }

  /** Close the file; later calls throw EINVAL. Closing twice is harmless. */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    fs.closeSync(fd);
  }
}

function fullGeometry(g: ImageGeometry & { size: number }, path: string): MtdGeometry {
  return makeGeometry({ ...g, type: g.type ?? 'nand' }, path);
}

/** Options of {@link createImage}. */
export interface CreateImageOptions {
  /** Interleave OOB (oobsize bytes after every page). Default false. */
  oob?: boolean;
  /** OOB layout only: blocks to mark bad (0x00 marker in the first page's OOB). */
  badBlocks?: readonly number[];
  /** Replace an existing file. Default false: EEXIST. */
  overwrite?: boolean;
}

/**
 * Write an erased (all 0xFF) image of the given geometry, streaming in
 * chunks. Throws EINVAL (geometry; bad blocks without OOB), EEXIST (file
 * exists and `overwrite` not set).
 */
export function createImage(path: string, geometry: ImageGeometry & { size: number }, opts: CreateImageOptions = {}): void {
  const g = fullGeometry(geometry, path);
  if (opts.oob && g.oobsize === 0) throw new PstoreError('EINVAL', `createImage ${path}: OOB requested but oobsize is 0`);
  const bad = sortedUnique(opts.badBlocks, 'badBlocks');
  if (bad.length && !opts.oob) {
    throw new PstoreError('EINVAL', `createImage ${path}: a raw image cannot carry bad-block markers; use oob, or keep the list in the sidecar`);
  }
  const blocks = g.size / g.erasesize;
  for (const b of bad) if (b >= blocks) throw new PstoreError('EINVAL', `createImage ${path}: bad block ${b} is outside 0..${blocks - 1}`);
  const ppb = g.erasesize / g.writesize;
  const blockBytes = opts.oob ? ppb * (g.writesize + g.oobsize) : g.erasesize;
  const ff = Buffer.alloc(blockBytes, 0xff);
  let fd: number;
  try {
    fd = fs.openSync(path, opts.overwrite ? 'w' : 'wx');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new PstoreError(code === 'EEXIST' ? 'EEXIST' : code === 'ENOENT' ? 'ENOENT' : code === 'EACCES' ? 'EACCES' : 'EIO',
      `createImage ${path}: ${(e as Error).message}${code === 'EEXIST' ? ' (pass overwrite to replace it)' : ''}`, { cause: e });
  }
  try {
    const badSet = new Set(bad);
    const marker = badBlockMarkerPos(g.writesize);
    for (let b = 0; b < blocks; b++) {
      if (badSet.has(b) && marker < g.oobsize) {
        const blk = Buffer.from(ff);
        blk[g.writesize + marker] = 0x00;
        writeFully(fd, blk, b * blockBytes);
      } else writeFully(fd, ff, b * blockBytes);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Turn a nanddump skipbad dump (bad blocks omitted) into a physical image:
 * each listed bad block is re-inserted as 0xFF data (with `oob`, also 0xFF
 * OOB carrying a 0x00 bad-block marker, so the output describes itself).
 * Streams block by block. `geometry.size` (the partition size) is checked
 * against the input length when given. Throws EINVAL, EEXIST (output exists).
 */
export function expandSkipbadImage(
  inPath: string,
  outPath: string,
  geometry: ImageGeometry,
  badBlocks: readonly number[],
  opts: { oob?: boolean; overwrite?: boolean } = {},
): { blocks: number; inserted: number } {
  const src = ImageFileDevice.open(inPath, { geometry, oob: opts.oob ?? false, skippedBadBlocks: badBlocks, scanOobMarkers: false });
  try {
    const g = src.geometry;
    createImage(outPath, { ...geometry, size: g.size }, { oob: src.layout === 'oob', badBlocks: src.layout === 'oob' ? badBlocks : [], overwrite: opts.overwrite });
    const out = ImageFileDevice.open(outPath, { geometry: { ...geometry, size: g.size }, oob: src.layout === 'oob', writable: true, flashSemantics: false, scanOobMarkers: false });
    try {
      const skipped = new Set(badBlocks);
      const blocks = g.size / g.erasesize;
      for (let b = 0; b < blocks; b++) {
        if (skipped.has(b)) continue;
        const off = b * g.erasesize;
        out.write(off, src.read(off, g.erasesize).data);
        if (src.layout === 'oob') {
          // Copy the OOB too: it may hold ECC bytes and markers of good blocks.
          for (let p = 0; p < g.erasesize / g.writesize; p++) {
            const pg = b * (g.erasesize / g.writesize) + p;
            out.writeOobRaw(pg, src.readOob(pg));
          }
        }
      }
      out.sync();
      return { blocks, inserted: skipped.size };
    } finally {
      out.close();
    }
  } finally {
    src.close();
  }
}
