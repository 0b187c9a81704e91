/**
 * Opening an image (or a device node) for reading: choose how to read it,
 * detect what it holds, and say what was assumed and how to override it.
 *
 * Two ways in:
 * - a linear data image without bad-block knowledge (`cat /dev/mtdN`,
 *   `nanddump` without OOB, a disk image) is read with plain positional reads,
 *   so a truncated image still yields every zone that lies wholly inside it;
 * - an image with OOB, known bad blocks, or an explicit flash geometry is read
 *   through the MTD image device, so bad blocks make their zones "broken"
 *   exactly as mtdpstore would see them.
 */
import * as fs from 'node:fs';
import { PstoreError } from '../errors.js';
import type { MtdDevice, MtdType } from '../mtd/device.js';
import { ImageFileDevice } from '../mtd/image-file.js';
import { openMtdPath } from '../mtd/char-device.js';
import { ReadOnlyMtdBackend } from '../mtdpstore/read-only.js';
import type { AbiClass, Endian } from '../zone/abi.js';
import type { ZoneBackend } from '../zone/backend.js';
import { BlockZoneBackend } from '../zone/block-backend.js';
import { detectFormat, type FormatDetection, type ImageReader } from '../zone/detect.js';

/** How to read an image and what it holds. Every value is optional: what is missing is detected. */
export interface SourceOptions {
  /** `true`: OOB interleaved after every page (nanddump --oob); `false`: data only; default 'auto' when a geometry is given. */
  oob?: boolean | 'auto';
  /** Flash type of the image (default nand when a page size or OOB is given). */
  type?: MtdType;
  erasesize?: number;
  writesize?: number;
  oobsize?: number;
  /** Physical numbers of bad blocks (from a sidecar or `/sys/class/mtd/mtdN/bad_blocks` knowledge). */
  badBlocks?: readonly number[];
  /** nanddump skipbad dump: the physical numbers of the bad blocks it left out. */
  skippedBadBlocks?: readonly number[];
  /** kmsg zone size in bytes (pstore) or record size (mtdoops). */
  zoneSize?: number;
  abi?: AbiClass;
  endian?: Endian;
  /** Force the format instead of detecting it. */
  format?: 'pstore' | 'mtdoops';
  /** Called as zone data is read (bytes read so far, data size), e.g. to draw a progress bar. */
  onProgress?: (done: number, total: number) => void;
}

/** Wrap a backend so every successful read is reported to `onProgress`. */
function withProgress(b: ZoneBackend, total: number, onProgress: (done: number, total: number) => void): ZoneBackend {
  let done = 0;
  return {
    totalSize: b.totalSize,
    read(buf: Buffer, off: number): number {
      const n = b.read(buf, off);
      if (n > 0) onProgress((done = Math.min(total, done + n)), total);
      return n;
    },
    write: (buf: Buffer, off: number) => b.write(buf, off),
  };
}

/** Random access to the data of an image (satisfies the detector's ImageReader). */
export interface BufferReader extends ImageReader {
  read(off: number, len: number): Buffer;
}

/** An opened image. Close it when done. */
export interface Source {
  readonly path: string;
  readonly fileSize: number;
  /** Size of the data the reader sees (without OOB, with skipped bad blocks put back). */
  readonly dataSize: number;
  /** Zone backend that only reads. */
  readonly backend: ZoneBackend;
  /** The MTD view when the image was opened as flash (OOB, bad blocks or geometry given). */
  readonly device: MtdDevice | null;
  /** Byte-level reader of the data (for detection and mtdoops). */
  readonly reader: BufferReader;
  readonly detection: FormatDetection;
  /** What was assumed, in words, with the option that overrides it. */
  readonly notes: string[];
  close(): void;
}

/** Page geometries of common NAND chips: (page size, OOB size, pages per block). */
const COMMON_NAND: readonly [number, number, number][] = [
  [2048, 64, 64],
  [4096, 128, 64],
  [4096, 224, 64],
  [512, 16, 32],
  [8192, 256, 128],
  [8192, 448, 128],
];

function countHeaders(d: FormatDetection): number {
  return d.kind === 'pstore-zone' ? d.headers.length : d.kind === 'mtdoops' ? (d.mtdoops?.records.length ?? 0) : 0;
}

/**
 * A nanddump --oob image given without any geometry: try the common page
 * layouts and keep one only if it reveals more records than reading the file
 * as plain data does (zone headers line up only once the OOB bytes are
 * taken out).
 */
function guessOobLayout(path: string, fileSize: number, opts: SourceOptions): { options: SourceOptions; note: string } | undefined {
  const candidates = COMMON_NAND.filter(([w, o, ppb]) => fileSize % ((w + o) * ppb) === 0);
  if (candidates.length === 0) return undefined;
  const rawDet = withReader(path, {}, (r) => detectFormat(r, { zoneSize: opts.zoneSize, abi: opts.abi, endian: opts.endian }));
  let best: { options: SourceOptions; found: number } | undefined;
  for (const [w, o, ppb] of candidates) {
    const options: SourceOptions = { type: 'nand', writesize: w, oobsize: o, erasesize: w * ppb, oob: true };
    let det: FormatDetection;
    try {
      det = withReader(path, options, (r) => detectFormat(r, { zoneSize: opts.zoneSize, abi: opts.abi, endian: opts.endian }));
    } catch {
      continue;
    }
    const found = countHeaders(det);
    const raw = countHeaders(rawDet);
    // A lone record in zone 0 sits at offset 0 both ways: then the layout that
    // also yields a zone size wins.
    const better = found > raw || (found === raw && found > 0 && !!det.zoneSize && !rawDet.zoneSize);
    if (better && found > (best?.found ?? 0)) best = { options, found };
  }
  if (!best) return undefined;
  const b = best.options;
  return {
    options: b,
    note: `OOB layout detected: ${b.writesize}-byte pages with ${b.oobsize} OOB bytes (nanddump --oob); ${best.found} record header(s) line up only that way (override with --no-oob or --writesize/--oobsize)`,
  };
}

function withReader<T>(path: string, o: SourceOptions, fn: (r: BufferReader) => T): T {
  if (!needsMtdDevice(o)) {
    const blk = new BlockZoneBackend(path, { writable: false });
    try {
      return fn(linearReader(blk));
    } finally {
      blk.close();
    }
  }
  const dev = ImageFileDevice.open(path, { geometry: { type: o.type ?? 'nand', erasesize: o.erasesize!, writesize: o.writesize!, oobsize: o.oobsize ?? 0 }, oob: o.oob ?? 'auto' });
  try {
    return fn(mtdReader(new ReadOnlyMtdBackend(dev), dev.geometry.size));
  } finally {
    dev.close();
  }
}

function linearReader(blk: BlockZoneBackend): BufferReader {
  const size = blk.totalSize;
  return {
    size,
    read(off: number, len: number): Buffer {
      const buf = Buffer.alloc(Math.max(0, Math.min(len, size - off)));
      if (buf.length === 0) return buf;
      const n = blk.read(buf, off);
      return n >= 0 ? buf.subarray(0, n) : Buffer.alloc(0);
    },
  };
}

function mtdReader(ro: ReadOnlyMtdBackend, size: number): BufferReader {
  return {
    size,
    read(off: number, len: number): Buffer {
      const buf = Buffer.alloc(Math.max(0, Math.min(len, size - off)));
      if (buf.length === 0) return buf;
      // A bad or unreadable block reads as erased flash for detection purposes.
      return ro.read(buf, off) === buf.length ? buf : Buffer.alloc(buf.length, 0xff);
    },
  };
}

function needsMtdDevice(o: SourceOptions): boolean {
  return (
    o.oob === true ||
    (o.oobsize ?? 0) > 0 ||
    (o.badBlocks?.length ?? 0) > 0 ||
    (o.skippedBadBlocks?.length ?? 0) > 0 ||
    o.erasesize !== undefined ||
    o.writesize !== undefined
  );
}

/**
 * Open an image for reading. Never writes to it.
 * @throws PstoreError ENOENT/EACCES (cannot open), EINVAL (geometry does not fit the file: the message names the sizes and the option to pass).
 */
export function openSource(path: string, optsIn: SourceOptions = {}): Source {
  let opts = optsIn;
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PstoreError('ENOENT', `${path}: no such file: give the path of an image (cat /dev/mtdN > image) or of a device node`);
    if (code === 'EACCES') throw new PstoreError('EACCES', `${path}: permission denied: run with access to the file`);
    throw new PstoreError('EIO', `${path}: cannot stat: ${(e as Error).message}`);
  }
  if (st.isDirectory()) throw new PstoreError('EINVAL', `${path} is a directory: give an image file`);
  const notes: string[] = [];
  if (st.isCharacterDevice()) {
    // A real MTD (/dev/mtdN): geometry and bad blocks come from the device itself.
    const dev = openMtdPath(path, { writable: false })!;
    const g = dev.geometry;
    notes.push(`read from the MTD device ${path} ("${g.name}"): ${g.type} size ${g.size}, erasesize ${g.erasesize}, writesize ${g.writesize}`);
    const ro = new ReadOnlyMtdBackend(dev);
    const reader = mtdReader(ro, g.size);
    const detection = detectFormat(reader, { zoneSize: opts.zoneSize, abi: opts.abi, endian: opts.endian });
    return { path, fileSize: g.size, dataSize: g.size, backend: ro, device: dev, reader, detection, notes, close: () => dev.close() };
  }
  let backend: ZoneBackend;
  let device: MtdDevice | null = null;
  let reader: Source['reader'];
  let closeFn: () => void;
  let dataSize: number;

  let effective = opts;
  if (!needsMtdDevice(opts) && opts.oob !== false) {
    const guess = guessOobLayout(path, st.size, opts);
    if (guess) {
      effective = { ...opts, ...guess.options };
      notes.push(guess.note);
    }
  }
  if (needsMtdDevice(effective)) {
    opts = effective;
    const type: MtdType = opts.type ?? 'nand';
    const writesize = opts.writesize ?? (type === 'nand' ? 2048 : 1);
    const erasesize = opts.erasesize ?? 128 * 1024;
    if (opts.writesize === undefined) notes.push(`page size assumed ${writesize} bytes (override with --writesize)`);
    if (opts.erasesize === undefined) notes.push(`erase block size assumed ${erasesize} bytes (override with --erasesize)`);
    const dev = ImageFileDevice.open(path, {
      geometry: { type, erasesize, writesize, oobsize: opts.oobsize ?? (opts.oob === true ? 64 : 0) },
      oob: opts.oob ?? 'auto',
      badBlocks: opts.badBlocks,
      skippedBadBlocks: opts.skippedBadBlocks,
    });
    if (opts.oob === true && opts.oobsize === undefined) notes.push('OOB size assumed 64 bytes per page (override with --oobsize)');
    device = dev;
    dataSize = dev.geometry.size;
    const bad = dev.badBlocks();
    notes.push(`read as ${dev.layout === 'oob' ? 'an OOB-interleaved' : 'a data-only'} ${type.toUpperCase()} image: ${dataSize} bytes of data` + (bad.length ? `, bad blocks ${bad.join(', ')}` : ', no bad block'));
    const ro = new ReadOnlyMtdBackend(dev);
    backend = ro;
    reader = mtdReader(ro, dataSize);
    closeFn = () => dev.close();
  } else {
    const blk = new BlockZoneBackend(path, { writable: false });
    backend = blk;
    dataSize = blk.totalSize;
    reader = linearReader(blk);
    closeFn = () => blk.close?.();
  }

  const detection = detectFormat(reader, { zoneSize: opts.zoneSize, abi: opts.abi, endian: opts.endian });
  if (opts.format === 'mtdoops' && detection.kind !== 'mtdoops') notes.push('format forced to mtdoops (--format)');
  if (opts.format === 'pstore' && detection.kind !== 'pstore-zone') notes.push('format forced to pstore/zone (--format)');
  if (opts.onProgress) backend = withProgress(backend, dataSize, opts.onProgress);
  return { path, fileSize: st.size, dataSize, backend, device, reader, detection, notes, close: closeFn };
}
