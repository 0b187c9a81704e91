/**
 * Importer for the legacy mtdoops partition format (drivers/mtd/mtdoops.c;
 * spec mtdoops.md): classify every record slot the way the kernel's attach
 * scan does, find the newest record with its wrap-aware rule, and return the
 * records oldest → newest with their text.
 */
import { PstoreError, hex } from '../errors.js';

/** v1 header magic (8-byte header: seq, magic). */
export const MTDOOPS_MAGIC_V1 = 0x5d005d00;
/** v2 header magic (16-byte header: seq, magic, s64 ns timestamp), v5.19+. */
export const MTDOOPS_MAGIC_V2 = 0x5d005e00;
const ERASED = 0xffffffff;

/** A partition to read: a whole image in memory, or a reader. */
export type MtdoopsSource =
  | Buffer
  | {
      /** Partition size in bytes. */
      size: number;
      /** Return exactly `length` bytes at `offset`; throw (e.g. PstoreError EIO) on a read failure. */
      read(offset: number, length: number): Uint8Array;
    };

/** Options of {@link parseMtdoops}. */
export interface MtdoopsOptions {
  /** mtdoops.record_size: a multiple of 4096, at least 4096. Default 4096. */
  recordSize?: number;
  /** Writer byte order; `auto` (default) decides from the magic bytes found. */
  endianness?: 'le' | 'be' | 'auto';
  /** Erase block size, needed to map `badBlocks` to slots. */
  eraseSize?: number;
  /** Indices of bad erase blocks: their slots are neither read nor reported as records. */
  badBlocks?: readonly number[];
}

/** Classification of one slot, in the kernel's order of checks (mtdoops.md §3). */
export type MtdoopsSlotKind = 'bad-block' | 'read-error' | 'unused' | 'invalid' | 'valid';

export interface MtdoopsSlot {
  slot: number;
  offset: number;
  kind: MtdoopsSlotKind;
  seq?: number;
  magic?: number;
  /** Why a slot is `read-error` or `invalid`. */
  detail?: string;
}

export interface MtdoopsRecord {
  slot: number;
  offset: number;
  seq: number;
  magic: number;
  version: 1 | 2;
  /** v2: wall-clock write time in ns since the epoch; v1: null. */
  timestampNs: bigint | null;
  /** timestampNs split into seconds and nanoseconds (floor), or null. */
  time: { sec: number; nsec: number } | null;
  /** Header end up to the first 0x00 or 0xFF byte, or the record end. */
  text: Buffer;
  /**
   * Bytes from the header end to the start of the 0xFF fill (or the record
   * end): the text plus the NUL v5.10+ kernels write after it. This is the
   * `text_len` of the fixtures' `records_derived`.
   */
  storedLength: number;
  /** Set when the header was readable but the rest of the record was not (text is then empty). */
  textError?: string;
}

export interface MtdoopsScan {
  littleEndian: boolean;
  recordSize: number;
  slots: MtdoopsSlot[];
  /** Valid records, oldest first (the slot after the newest, wrapping round, to the newest). */
  records: MtdoopsRecord[];
  newest: { slot: number; seq: number } | null;
  /** Where and with which sequence number mtdoops would write next. */
  next: { slot: number; seq: number };
}

/**
 * The kernel's newest-record choice over valid records in slot order
 * (mtdoops.md §4): sequence numbers wrap from 0xFFFFFFFE to 0.
 */
export function findNewest(valid: readonly { slot: number; seq: number }[]): { slot: number; seq: number } | null {
  let chosen: { slot: number; seq: number } | null = null;
  for (const r of valid) {
    const s = r.seq >>> 0;
    if (chosen === null) { chosen = r; continue; }
    const c = chosen.seq >>> 0;
    if (s < 0x40000000 && c > 0xc0000000) chosen = r;
    else if (s > c && s < 0xc0000000) chosen = r;
    else if (s > c && s > 0xc0000000 && c > 0x80000000) chosen = r;
  }
  return chosen;
}

function detectEndianness(read: (o: number, n: number) => Buffer | null, count: number, rs: number): boolean {
  let le = 0;
  let be = 0;
  for (let i = 0; i < count; i++) {
    const h = read(i * rs + 4, 4);
    if (!h) continue;
    const l = h.readUInt32LE(0);
    const b = h.readUInt32BE(0);
    if (l === MTDOOPS_MAGIC_V1 || l === MTDOOPS_MAGIC_V2) le++;
    if (b === MTDOOPS_MAGIC_V1 || b === MTDOOPS_MAGIC_V2) be++;
  }
  return le >= be;
}

/**
 * Parse an mtdoops partition.
 * Unreadable slots are reported, not fatal: intact records are still returned.
 * @throws PstoreError EINVAL for a bad record size or a partition smaller than one record.
 */
export function parseMtdoops(src: MtdoopsSource, opts: MtdoopsOptions = {}): MtdoopsScan {
  const rs = opts.recordSize ?? 4096;
  if (!Number.isSafeInteger(rs) || rs < 4096 || rs % 4096 !== 0) {
    throw new PstoreError('EINVAL', `mtdoops record size must be a multiple of 4096 and at least 4096 (got ${rs})`);
  }
  const size = Buffer.isBuffer(src) ? src.length : src.size;
  const count = Math.floor(size / rs);
  if (count < 1) throw new PstoreError('EINVAL', `partition of ${size} bytes holds no ${rs}-byte record`);
  const bad = new Set<number>();
  if (opts.badBlocks?.length) {
    const es = opts.eraseSize;
    if (!es || es <= 0) throw new PstoreError('EINVAL', 'badBlocks given without eraseSize: pass the erase block size to map bad blocks to slots');
    for (let i = 0; i < count; i++) if (opts.badBlocks.includes(Math.floor((i * rs) / es))) bad.add(i);
  }
  const readRaw = (o: number, n: number): Buffer => {
    if (Buffer.isBuffer(src)) {
      if (o + n > src.length) throw new PstoreError('EIO', `short read at ${hex(o)}`);
      return src.subarray(o, o + n);
    }
    const r = src.read(o, n);
    if (!(r instanceof Uint8Array) || r.length !== n) throw new PstoreError('EIO', `short read at ${hex(o)} (${r instanceof Uint8Array ? r.length : 0} of ${n} bytes)`);
    return Buffer.isBuffer(r) ? r : Buffer.from(r.buffer, r.byteOffset, r.length);
  };
  const tryRead = (o: number, n: number): Buffer | null => {
    try { return readRaw(o, n); } catch { return null; }
  };
  const littleEndian =
    opts.endianness === 'le' ? true
    : opts.endianness === 'be' ? false
    : detectEndianness((o, n) => (bad.has(Math.floor(o / rs)) ? null : tryRead(o, n)), count, rs);
  const u32 = (b: Buffer, o: number): number => (littleEndian ? b.readUInt32LE(o) : b.readUInt32BE(o));

  const slots: MtdoopsSlot[] = [];
  const found = new Map<number, MtdoopsRecord>();
  for (let i = 0; i < count; i++) {
    const offset = i * rs;
    if (bad.has(i)) { slots.push({ slot: i, offset, kind: 'bad-block' }); continue; }
    let head: Buffer;
    try {
      // The kernel classifies a slot from its header alone (16 bytes since v5.19).
      head = readRaw(offset, 16);
    } catch (e) {
      slots.push({ slot: i, offset, kind: 'read-error', detail: e instanceof Error ? e.message : String(e) });
      continue;
    }
    const seq = u32(head, 0);
    const magic = u32(head, 4);
    if (seq === ERASED && magic === ERASED) { slots.push({ slot: i, offset, kind: 'unused' }); continue; }
    if (seq === ERASED || (magic !== MTDOOPS_MAGIC_V1 && magic !== MTDOOPS_MAGIC_V2)) {
      slots.push({ slot: i, offset, kind: 'invalid', seq, magic, detail: seq === ERASED ? 'sequence number 0xffffffff' : `unknown magic ${hex(magic)}` });
      continue;
    }
    slots.push({ slot: i, offset, kind: 'valid', seq, magic });
    const version: 1 | 2 = magic === MTDOOPS_MAGIC_V2 ? 2 : 1;
    const hdr = version === 2 ? 16 : 8;
    let timestampNs: bigint | null = null;
    let time: MtdoopsRecord['time'] = null;
    if (version === 2) {
      timestampNs = littleEndian ? head.readBigInt64LE(8) : head.readBigInt64BE(8);
      let sec = timestampNs / 1_000_000_000n;
      let nsec = timestampNs % 1_000_000_000n;
      if (nsec < 0n) { nsec += 1_000_000_000n; sec -= 1n; }
      time = { sec: Number(sec), nsec: Number(nsec) };
    }
    let text: Buffer;
    let storedLength = 0;
    let textError: string | undefined;
    try {
      const rec = readRaw(offset, rs);
      let end = hdr;
      while (end < rs && rec[end] !== 0x00 && rec[end] !== 0xff) end++;
      text = Buffer.from(rec.subarray(hdr, end));
      let fill = end;
      while (fill < rs && rec[fill] !== 0xff) fill++;
      storedLength = fill - hdr;
    } catch (e) {
      // Header fine, body unreadable: keep the record, say what is missing.
      text = Buffer.alloc(0);
      textError = e instanceof Error ? e.message : String(e);
    }
    const r: MtdoopsRecord = { slot: i, offset, seq, magic, version, timestampNs, time, text, storedLength };
    if (textError !== undefined) r.textError = textError;
    found.set(i, r);
  }

  const valid = slots.filter((s) => s.kind === 'valid').map((s) => ({ slot: s.slot, seq: s.seq! }));
  const newest = findNewest(valid);
  const records: MtdoopsRecord[] = [];
  if (newest) {
    for (let k = 1; k <= count; k++) {
      const r = found.get((newest.slot + k) % count);
      if (r) records.push(r);
    }
  }
  let next: { slot: number; seq: number };
  if (newest) {
    let seq = (newest.seq + 1) >>> 0;
    if (seq === ERASED) seq = 0;
    next = { slot: (newest.slot + 1) % count, seq };
  } else {
    next = { slot: 0, seq: 1 };
  }
  return { littleEndian, recordSize: rs, slots, records, newest, next };
}
