/**
 * Reading records out of an image, as the kernel would show them.
 */
import { PstoreError, errnoName } from '../errors.js';
import { parseMtdoops, type MtdoopsScan } from '../pstore/mtdoops.js';
import { recordsToFiles, type DecompressionSettings, type PstoreFile, type Timespec } from '../pstore/files.js';
import type { FtraceFormat } from '../pstore/ftrace.js';
import { DEFAULT_ABI, type Abi } from '../zone/abi.js';
import { computeLayout } from '../zone/config.js';
import { PstoreZone, type ZoneDiagnostic } from '../zone/engine.js';
import { ZONE_HEADER_SIZE, kmsgHeaderSize, reasonString } from '../zone/format.js';
import { kmsgOnlyLayout, type ZoneLayout } from '../zone/layout.js';
import { findRemovedRecords } from '../zone/removed.js';
import { openSource, type Source, type SourceOptions } from './source.js';
import { FlashSimulator } from '../mtd/simulator.js';
import { MtdPstoreSession } from '../mtdpstore/session.js';

/** pstore/zone caps the device at 128 MiB (v5.14+). */
const ZONE_CAP = 128 * 1024 * 1024;

export interface ListOptions extends SourceOptions {
  /** Also list removed records still present on the medium (block-device removal leaves the text behind). */
  removed?: boolean;
  /** pstore/blk frontends besides dmesg (bytes); mtdpstore has none. */
  pmsgSize?: number;
  consoleSize?: number;
  ftraceSize?: number;
  nrCpus?: number;
  /** How the reading kernel decompresses (default: v6.6+ deflate). */
  decompression?: DecompressionSettings;
  /** The "mount time": mtime of records without a time. Default now. */
  listingTime?: Timespec;
}

/** A file of the listing; removed records carry `removed: true` and are not part of the kernel's view. */
export interface ListedFile extends PstoreFile {
  removed?: boolean;
}

export interface Listing {
  readonly format: 'pstore' | 'mtdoops' | 'empty';
  readonly files: ListedFile[];
  readonly mtdoops?: MtdoopsScan;
  /** Why zones were skipped. */
  readonly diagnostics: ZoneDiagnostic[];
  readonly layout?: ZoneLayout;
  readonly abi?: Abi;
  readonly zoneSize?: number;
  readonly source: Omit<Source, 'close' | 'backend' | 'reader' | 'device'> & { layoutKind: 'mtd' | 'linear' };
  /** What was assumed and how to override it. */
  readonly notes: string[];
}

/** The zone table for reading an image of `dataSize` bytes. Zones that do not fit in the data are left out. */
export function readingLayout(dataSize: number, zoneSize: number, o: ListOptions): ZoneLayout {
  const others = (o.pmsgSize ?? 0) + (o.consoleSize ?? 0) + (o.ftraceSize ?? 0);
  if (others === 0) return kmsgOnlyLayout(Math.min(dataSize, ZONE_CAP), zoneSize);
  const total = Math.floor(Math.min(dataSize, ZONE_CAP) / 4096) * 4096;
  return computeLayout({
    totalSize: total,
    kmsgSize: zoneSize,
    pmsgSize: o.pmsgSize,
    consoleSize: o.consoleSize,
    ftraceSize: o.ftraceSize,
    nrCpus: o.nrCpus,
  }).layout;
}

function mtdoopsFiles(scan: MtdoopsScan, listingTime: Timespec | undefined): ListedFile[] {
  const now = listingTime ?? { sec: Math.floor(Date.now() / 1000), nsec: 0 };
  // Named by slot, as pstore names dmesg records by zone: unique, and stable
  // whatever happens to the other slots (sequence numbers can repeat on a
  // damaged or tampered partition). The sequence number is in the listing.
  return scan.records.map((r) => {
    const t = r.time && r.time.sec !== 0 ? r.time : now;
    return {
      name: `mtdoops-${r.slot}`,
      type: -1,
      id: r.slot,
      reason: 0,
      count: r.seq,
      time: r.time,
      compressed: false,
      encrypted: false,
      data: r.text,
      size: r.text.length,
      kernelStatSize: r.text.length,
      mode: 0o444,
      mtime: t,
      atime: now,
      offset: r.offset,
    };
  });
}

/**
 * List the records of an image exactly as the kernel's pstore filesystem would show them.
 * Read-only. Zones that cannot be decoded are skipped and reported in `diagnostics`;
 * every intact record is returned.
 * @throws PstoreError ENOENT/EACCES/EINVAL from opening; EINVAL when the zone size cannot be found (the message says to pass --kmsg-size).
 */
export function listImage(path: string, opts: ListOptions = {}): Listing {
  const src = openSource(path, opts);
  try {
    return listSource(src, opts);
  } finally {
    src.close();
  }
}

export function listSource(src: Source, opts: ListOptions = {}): Listing {
  const det = src.detection;
  const notes = [...src.notes];
  const sourceInfo = {
    path: src.path,
    fileSize: src.fileSize,
    dataSize: src.dataSize,
    detection: det,
    notes: src.notes,
    layoutKind: (src.device ? 'mtd' : 'linear') as 'mtd' | 'linear',
  };
  const format = opts.format ?? (det.kind === 'mtdoops' ? 'mtdoops' : det.kind === 'pstore-zone' ? 'pstore' : undefined);
  if (format === 'mtdoops') {
    const recordSize = opts.zoneSize ?? det.mtdoops?.recordSize ?? det.zoneSize ?? 4096;
    const scan = parseMtdoops(
      { size: src.dataSize - (src.dataSize % recordSize), read: (o: number, l: number) => src.reader.read(o, l) },
      {
        recordSize,
        endianness: opts.endian ?? 'auto',
        eraseSize: src.device?.geometry.erasesize,
        badBlocks: src.device ? badBlocksOf(src) : undefined,
      },
    );
    return { format: 'mtdoops', files: mtdoopsFiles(scan, opts.listingTime), mtdoops: scan, diagnostics: [], source: sourceInfo, notes, zoneSize: recordSize };
  }
  if (format === undefined) {
    if (det.kind === 'empty') {
      notes.push('no record found: the image is blank (erased flash or a zeroed disk)');
      return { format: 'empty', files: [], diagnostics: [], source: sourceInfo, notes };
    }
    throw new PstoreError(
      'EINVAL',
      `${src.path}: no pstore/zone or mtdoops record was recognised (${det.evidence.slice(0, 2).join('; ') || 'no signature found'}); ` +
        'if it holds pstore records, pass --kmsg-size (and --abi/--endian); for nanddump images with OOB pass --oob',
    );
  }
  const zoneSize = opts.zoneSize ?? det.zoneSize;
  if (!zoneSize) {
    throw new PstoreError('EINVAL', `${src.path}: the kmsg zone size could not be detected: pass --kmsg-size (pstore_blk.kmsg_size, KiB)`);
  }
  const abi: Abi = { cls: opts.abi ?? det.abi ?? DEFAULT_ABI.cls, endian: opts.endian ?? det.endian ?? DEFAULT_ABI.endian };
  const layout = readingLayout(src.dataSize, zoneSize, opts);
  if (src.dataSize % zoneSize !== 0 && !opts.pmsgSize && !opts.consoleSize && !opts.ftraceSize) {
    notes.push(`the data (${src.dataSize} bytes) is not a whole number of ${zoneSize}-byte zones: the last ${src.dataSize % zoneSize} bytes are ignored (truncated image?)`);
  }
  // A reader must not lose every record to one unreadable zone (the kernel aborts recovery there).
  const engine = new PstoreZone(src.backend, { layout, abi, hardened: { skipUnreadableZones: true } });
  const listing = engine.read();
  if (!listing.ok) {
    throw new PstoreError(
      'EIO',
      `${src.path}: pstore/zone recovery failed with ${errnoName(listing.error)} (${engine.diagnostics.map((d) => d.detail).slice(-1)[0] ?? 'no detail'}); the kernel would show no file either`,
    );
  }
  const h = kmsgHeaderSize(abi);
  const bufsize = zoneSize - ZONE_HEADER_SIZE - h;
  const fileOpts = {
    listingTime: opts.listingTime,
    decompression: { bufsize, ...opts.decompression },
    ftrace: { wordSize: abi.cls === 'lp64' ? 8 : 4, littleEndian: abi.endian === 'le' } as FtraceFormat,
  };
  const files: ListedFile[] = recordsToFiles(listing.records, fileOpts);
  if (opts.removed) {
    const removed = findRemovedRecords(src.backend, layout, abi);
    for (const f of recordsToFiles(removed, fileOpts)) files.push({ ...f, removed: true });
  }
  return { format: 'pstore', files, diagnostics: engine.diagnostics, layout, abi, zoneSize, source: sourceInfo, notes };
}

function badBlocksOf(src: Source): number[] {
  const d = src.device as unknown as { badBlocks?: () => number[] };
  return d.badBlocks ? d.badBlocks() : [];
}


/**
 * What a Linux kernel would show after attaching mtdpstore to this flash and
 * mounting pstore, including the side effects of its read path (the security
 * step may erase a block before it is read: W5). The image is loaded into a
 * simulator, so the file itself is never touched.
 * Returns the kernel's files and the names an offline read shows but the kernel would not.
 */
export function listAsKernel(
  path: string,
  opts: ListOptions & { erasesize?: number; writesize?: number },
): Listing & { lostByKernel: string[]; kernelLog: string[] } {
  const offline = listImage(path, opts);
  if (offline.format !== 'pstore' || !offline.zoneSize) throw new PstoreError('EINVAL', `${path}: --as-kernel needs a pstore/zone image on raw flash`);
  const src = openSource(path, opts);
  if (!src.device) {
    src.close();
    // A disk image (pstore_blk) is shown by plain `ls` exactly as the kernel shows it; only flash has mtdpstore's side effects.
    throw new PstoreError(
      'EINVAL',
      `${path}: --as-kernel models mtdpstore on raw flash and needs the flash geometry: pass --erasesize and --writesize (or use an image with a sidecar); for a pstore_blk disk image plain \`ls\` already shows what the kernel shows`,
    );
  }
  let data: Buffer;
  try {
    data = src.reader.read(0, src.dataSize);
  } finally {
    src.close();
  }
  const type = opts.type ?? 'nand';
  const sim = FlashSimulator.fromImage(data, {
    type,
    erasesize: opts.erasesize ?? src.device?.geometry.erasesize ?? 128 * 1024,
    writesize: opts.writesize ?? src.device?.geometry.writesize ?? (type === 'nand' ? 2048 : 1),
    badBlocks: opts.badBlocks,
  });
  const kernelLog: string[] = [];
  const session = new MtdPstoreSession(sim, { kmsgSize: offline.zoneSize, policy: 'kernel', abi: offline.abi, onLog: (l) => kernelLog.push(l) });
  session.attach();
  const l = session.list();
  if (!l.ok) throw new PstoreError('EIO', `the kernel's recovery would fail with ${errnoName(l.error)}: it would show no file`);
  const h = kmsgHeaderSize(offline.abi!);
  const files: ListedFile[] = recordsToFiles(l.records, { listingTime: opts.listingTime, decompression: { bufsize: offline.zoneSize - ZONE_HEADER_SIZE - h, ...opts.decompression } });
  const shown = new Set(files.map((f) => f.name));
  const lostByKernel = offline.files.filter((f) => !f.removed && !shown.has(f.name)).map((f) => f.name);
  return { ...offline, files, lostByKernel, kernelLog, notes: [...offline.notes, 'as the kernel would show it: mtdpstore (kernel policy) attached to a copy of the flash'] };
}
