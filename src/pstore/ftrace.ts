/**
 * pstore ftrace records (format.md §7, pstore-core.md §7): parsing, the
 * merge of per-CPU zone streams, and the text a read of the file shows.
 */
import { PstoreError } from '../errors.js';

/** How the writing kernel laid out its ftrace records. */
export interface FtraceFormat {
  /** Size of an address: 8 on 64-bit kernels (24-byte records), 4 on 32-bit (16-byte records). Default 8. */
  wordSize?: 8 | 4;
  /** Byte order of the writer. Default true (little-endian). */
  littleEndian?: boolean;
  /**
   * Where the CPU number lives: `ts` = low 8 bits of ts (everything but small
   * 32-bit ARM); `ip1` / `ip2` = low 1 / 2 bits of ip (32-bit ARM with
   * NR_CPUS ≤ 2 and Thumb / NR_CPUS ≤ 4). Default `ts`.
   */
  cpuEncoding?: 'ts' | 'ip1' | 'ip2';
}

/** One decoded function-trace event. */
export interface FtraceEntry {
  ip: bigint;
  parentIp: bigint;
  /** The stored ts field, raw. */
  rawTs: bigint;
  cpu: number;
  /** The counter value with any CPU bits removed: the merge key. */
  timestamp: bigint;
}

/** Turns an address into a symbol (`%ps`) or symbol+offset/size (`%pS`); undefined = unknown. */
export type Symbolizer = (address: bigint, withOffset: boolean) => string | undefined;

/** Size of one record: 24 bytes (64-bit) or 16 bytes (32-bit). */
export function ftraceRecordSize(fmt: FtraceFormat = {}): number {
  return (fmt.wordSize ?? 8) === 8 ? 24 : 16;
}

function decodeOne(buf: Buffer, at: number, fmt: FtraceFormat): FtraceEntry {
  const le = fmt.littleEndian ?? true;
  const w = fmt.wordSize ?? 8;
  const word = (o: number): bigint =>
    w === 8 ? (le ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o)) : BigInt(le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const ip = word(at);
  const parentIp = word(at + w);
  const rawTs = le ? buf.readBigUInt64LE(at + 2 * w) : buf.readBigUInt64BE(at + 2 * w);
  const enc = fmt.cpuEncoding ?? 'ts';
  if (enc === 'ts') return { ip, parentIp, rawTs, cpu: Number(rawTs & 0xffn), timestamp: rawTs >> 8n };
  const mask = enc === 'ip1' ? 1n : 3n;
  return { ip, parentIp, rawTs, cpu: Number(ip & mask), timestamp: rawTs };
}

/** Decode a binary stream of records, first skipping (length mod record size) leading bytes as the kernel does. */
export function parseFtrace(data: Buffer, fmt: FtraceFormat = {}): FtraceEntry[] {
  const size = ftraceRecordSize(fmt);
  const out: FtraceEntry[] = [];
  for (let at = data.length % size; at + size <= data.length; at += size) out.push(decodeOne(data, at, fmt));
  return out;
}

/**
 * Merge per-CPU zone streams (in zone order) into one binary record, as pstore
 * core does when pstore/zone reads the ftrace zones: each stream drops its
 * partial leading record, then the list merged so far and the next stream are
 * merged by ascending timestamp; on equal timestamps the record of the stream
 * merged later comes first.
 */
export function mergeFtraceStreams(streams: readonly Buffer[], fmt: FtraceFormat = {}): Buffer {
  const size = ftraceRecordSize(fmt);
  let merged: Buffer[] = [];
  let mergedTs: bigint[] = [];
  for (const s of streams) {
    const next: Buffer[] = [];
    const nextTs: bigint[] = [];
    for (let at = s.length % size; at + size <= s.length; at += size) {
      next.push(s.subarray(at, at + size));
      nextTs.push(decodeOne(s, at, fmt).timestamp);
    }
    const m: Buffer[] = [];
    const mTs: bigint[] = [];
    let i = 0;
    let j = 0;
    while (i < merged.length || j < next.length) {
      const takeNext = i >= merged.length || (j < next.length && nextTs[j]! <= mergedTs[i]!);
      if (takeNext) { m.push(next[j]!); mTs.push(nextTs[j++]!); } else { m.push(merged[i]!); mTs.push(mergedTs[i++]!); }
    }
    merged = m;
    mergedTs = mTs;
  }
  return Buffer.concat(merged);
}

function hex8(v: bigint): string {
  return v.toString(16).padStart(8, '0');
}

/**
 * The text shown when the ftrace file is read: one line per record,
 * `CPU:<cpu> ts:<timestamp> <ip>  <parent_ip>  <function> <- <caller>`.
 * Without a symbol table (or for addresses it does not know) the symbol
 * fields show the address as `0x…`, as the kernel's %ps/%pS do for unknown addresses.
 */
export function renderFtrace(data: Buffer, fmt: FtraceFormat = {}, symbolize?: Symbolizer): string {
  if ((fmt.wordSize ?? 8) !== 8 && (fmt.wordSize ?? 8) !== 4) {
    throw new PstoreError('EINVAL', `ftrace wordSize must be 8 or 4 (got ${String(fmt.wordSize)})`);
  }
  const sym = (a: bigint, off: boolean): string => symbolize?.(a, off) ?? `0x${a.toString(16)}`;
  let text = '';
  for (const e of parseFtrace(data, fmt)) {
    text += `CPU:${e.cpu} ts:${e.timestamp} ${hex8(e.ip)}  ${hex8(e.parentIp)}  ${sym(e.ip, false)} <- ${sym(e.parentIp, true)}\n`;
  }
  return text;
}

/** Encode entries as binary records (for simulators and tests); the CPU is packed per `fmt`. */
export function encodeFtrace(entries: readonly { ip: bigint; parentIp: bigint; cpu: number; timestamp: bigint }[], fmt: FtraceFormat = {}): Buffer {
  const le = fmt.littleEndian ?? true;
  const w = fmt.wordSize ?? 8;
  const size = ftraceRecordSize(fmt);
  const enc = fmt.cpuEncoding ?? 'ts';
  const out = Buffer.alloc(entries.length * size);
  entries.forEach((e, k) => {
    const at = k * size;
    let ip = e.ip;
    let ts = e.timestamp;
    if (enc === 'ts') ts = (ts << 8n) | BigInt(e.cpu & 0xff);
    else ip = ip | BigInt(e.cpu & (enc === 'ip1' ? 1 : 3));
    const wr = (v: bigint, o: number): void => {
      if (w === 8) { if (le) out.writeBigUInt64LE(BigInt.asUintN(64, v), o); else out.writeBigUInt64BE(BigInt.asUintN(64, v), o); }
      else if (le) out.writeUInt32LE(Number(BigInt.asUintN(32, v)), o);
      else out.writeUInt32BE(Number(BigInt.asUintN(32, v)), o);
    };
    wr(ip, at);
    wr(e.parentIp, at + w);
    if (le) out.writeBigUInt64LE(BigInt.asUintN(64, ts), at + 2 * w); else out.writeBigUInt64BE(BigInt.asUintN(64, ts), at + 2 * w);
  });
  return out;
}
