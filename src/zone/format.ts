/**
 * pstore/zone's on-flash format (spec/format.md): constants, the two header
 * declarations, and their codecs for every ABI class and byte order.
 */
import type { Abi, Endian } from './abi.js';
import { decodeStruct, encodeStruct, layoutStruct, type StructDecl, type StructLayout } from './struct.js';

/** "DBGC" when stored little-endian; XORed with the pstore type id per zone. */
export const PSZ_SIG = 0x43474244;
/** Magic at the start of every kmsg sub-header. */
export const KMSG_MAGIC = 0x4dfc3ae5;
/** Size of the zone header (`sig`, `datalen`, `start`) in every ABI. */
export const ZONE_HEADER_SIZE = 12;

/** pstore record type ids (include/linux/pstore.h; stable since v5.0). */
export const PstoreType = {
  DMESG: 0,
  MCE: 1,
  CONSOLE: 2,
  FTRACE: 3,
  PPC_RTAS: 4,
  PPC_OF: 5,
  PPC_COMMON: 6,
  PMSG: 7,
  PPC_OPAL: 8,
} as const;
export type PstoreTypeId = (typeof PstoreType)[keyof typeof PstoreType];

/** kmsg dump reasons (include/linux/kmsg_dump.h, v5.8+). */
export const KmsgReason = {
  UNDEF: 0,
  PANIC: 1,
  OOPS: 2,
  EMERG: 3,
  SHUTDOWN: 4,
  MAX: 5,
} as const;

/** Lower-case names for dump reasons, as scripts and the CLI spell them. */
export const KMSG_REASON_BY_NAME: Readonly<Record<string, number>> = {
  panic: KmsgReason.PANIC,
  oops: KmsgReason.OOPS,
  emerg: KmsgReason.EMERG,
  emergency: KmsgReason.EMERG,
  shutdown: KmsgReason.SHUTDOWN,
  undef: KmsgReason.UNDEF,
};

/** The signature a zone of the given type carries. */
export function zoneSignature(type: number): number {
  return (PSZ_SIG ^ type) >>> 0;
}

/** Declaration of `struct psz_buffer` without its flexible data array. */
export const ZONE_HEADER_DECL: StructDecl = {
  name: 'psz_buffer',
  members: [
    ['sig', 'u32'],
    ['datalen', 's32'],
    ['start', 's32'],
  ],
};

const TIMESPEC64_DECL: StructDecl = {
  name: 'timespec64',
  members: [
    ['tv_sec', 'time64'],
    ['tv_nsec', 'long'],
  ],
};

/** Declaration of `struct psz_kmsg_header` without its flexible data array. */
export const KMSG_HEADER_DECL: StructDecl = {
  name: 'psz_kmsg_header',
  members: [
    ['magic', 'u32'],
    ['time', TIMESPEC64_DECL],
    ['compressed', 'bool'],
    ['counter', 'u32'],
    ['reason', 'enum'],
  ],
};

const layouts = new Map<string, StructLayout>();
function layoutFor(decl: StructDecl, abi: Abi): StructLayout {
  const key = `${decl.name}/${abi.cls}`;
  let l = layouts.get(key);
  if (!l) layouts.set(key, (l = layoutStruct(decl, abi)));
  return l;
}

/** Layout of the kmsg sub-header for an ABI (offsets, sizeof). */
export function kmsgHeaderLayout(abi: Abi): StructLayout {
  return layoutFor(KMSG_HEADER_DECL, abi);
}

/** H: the kmsg sub-header length pstore/zone uses (sizeof, with tail padding): 40 LP64/ILP32-A8, 28 i386, 26 m68k. */
export function kmsgHeaderSize(abi: Abi): number {
  return kmsgHeaderLayout(abi).size;
}

/** Zone offset where record bytes begin in a kmsg zone (12 + H). */
export function kmsgDataOffset(abi: Abi): number {
  return ZONE_HEADER_SIZE + kmsgHeaderSize(abi);
}

export interface ZoneHeader {
  /** Signature (u32). */
  sig: number;
  /** Valid bytes in the data area (s32 as stored; compare unsigned). */
  datalen: number;
  /** Ring position (s32 as stored; compare unsigned). */
  start: number;
}

export function decodeZoneHeader(buf: Uint8Array, off: number, endian: Endian): ZoneHeader {
  // The zone header has the same layout in every ABI; any class will do.
  const v = decodeStruct(layoutFor(ZONE_HEADER_DECL, { cls: 'lp64', endian }), buf, off, endian);
  return { sig: v.sig!, datalen: v.datalen!, start: v.start! };
}

export function encodeZoneHeader(h: ZoneHeader, endian: Endian, buf: Uint8Array = Buffer.alloc(ZONE_HEADER_SIZE), off = 0): Uint8Array {
  encodeStruct(layoutFor(ZONE_HEADER_DECL, { cls: 'lp64', endian }), { ...h }, buf, off, endian);
  return buf;
}

export interface KmsgHeader {
  magic: number;
  /** Seconds since the epoch (time64_t). Exact for |sec| < 2^53. */
  sec: number;
  /** Nanoseconds (long). */
  nsec: number;
  /** The stored `compressed` byte; non-zero means compressed. */
  compressed: number;
  /** Oops or panic counter (u32). */
  counter: number;
  /** kmsg dump reason (enum, read unsigned). */
  reason: number;
}

export function decodeKmsgHeader(buf: Uint8Array, off: number, abi: Abi): KmsgHeader {
  const v = decodeStruct(kmsgHeaderLayout(abi), buf, off, abi.endian);
  return {
    magic: v.magic!,
    sec: v['time.tv_sec']!,
    nsec: v['time.tv_nsec']!,
    compressed: v.compressed!,
    counter: v.counter!,
    reason: v.reason!,
  };
}

/** Encode a kmsg sub-header into `buf` at `off` (padding untouched: pass a zeroed buffer). */
export function encodeKmsgHeader(h: KmsgHeader, abi: Abi, buf: Uint8Array = Buffer.alloc(kmsgHeaderSize(abi)), off = 0): Uint8Array {
  encodeStruct(
    kmsgHeaderLayout(abi),
    {
      magic: h.magic,
      'time.tv_sec': h.sec,
      'time.tv_nsec': h.nsec,
      compressed: h.compressed,
      counter: h.counter,
      reason: h.reason,
    },
    buf,
    off,
    abi.endian,
  );
  return buf;
}

/** What a kmsg write puts into a zone. */
export interface KmsgRecordFields {
  time: { sec: number; nsec: number };
  compressed: boolean;
  counter: number;
  reason: number;
  /** Record bytes; clipped to the zone's room (buffer_size − H). */
  data: Uint8Array;
}

/**
 * The whole-zone image the kernel writes for a kmsg record: zone header,
 * sub-header, record bytes, zero fill to the end of the zone. `sig` is
 * normally the dmesg signature; the kernel copies it from the zone's previous
 * RAM buffer (mtdpstore W5), so the caller may pass another one.
 */
export function encodeKmsgZone(abi: Abi, zoneSize: number, rec: KmsgRecordFields, sig = zoneSignature(PstoreType.DMESG)): Buffer {
  const h = kmsgHeaderSize(abi);
  const room = zoneSize - ZONE_HEADER_SIZE - h;
  const len = Math.max(0, Math.min(rec.data.length, room));
  const zone = Buffer.alloc(zoneSize);
  encodeZoneHeader({ sig, datalen: h + len, start: 0 }, abi.endian, zone, 0);
  encodeKmsgHeader(
    {
      magic: KMSG_MAGIC,
      sec: rec.time.sec,
      nsec: rec.time.nsec,
      compressed: rec.compressed ? 1 : 0,
      counter: rec.counter,
      reason: rec.reason,
    },
    abi,
    zone,
    ZONE_HEADER_SIZE,
  );
  zone.set(rec.data.subarray(0, len), ZONE_HEADER_SIZE + h);
  return zone;
}

/** The reason string printk gives a kmsg dump reason (kmsg_dump_reason_str, v5.8+). */
export function reasonString(reason: number): string {
  switch (reason) {
    case KmsgReason.PANIC:
      return 'Panic';
    case KmsgReason.OOPS:
      return 'Oops';
    case KmsgReason.EMERG:
      return 'Emergency';
    case KmsgReason.SHUTDOWN:
      return 'Shutdown';
    default:
      return 'Unknown';
  }
}
