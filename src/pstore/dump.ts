/**
 * What pstore core stores for one kmsg dump (pstore-core.md §2, §4.1, §4.3):
 * the header line `<Reason>#<oopscount> Part1`, the newest log records that
 * fit, optionally compressed, with the kernel's fallback when compression
 * fails. Only part 1 exists for pstore/zone backends (later parts are refused).
 */
import { PstoreError } from '../errors.js';
import { compress, compressInputLimit, type CompressionAlgorithm, type KernelEra } from './compress/index.js';
import { formatKmsgLine, type KmsgFormatOptions, type KmsgLine } from './kmsg-format.js';
import { reasonString } from './names.js';

/** Options of {@link buildDump}. */
export interface DumpOptions {
  /** kmsg dump reason (1 Panic, 2 Oops, 3 Emergency, 4 Shutdown). */
  reason: number;
  /** pstore core's per-boot dump counter after incrementing (the N of `Oops#N`). */
  oopsCount: number;
  /** Backend buffer size: zone size − 12 − H (65484 for 64 KiB LP64 zones). */
  bufsize: number;
  /**
   * The kernel log, oldest first: structured records (formatted per §3) or
   * ready-made text lines (without their trailing newline).
   */
  log: readonly KmsgLine[] | readonly string[];
  format?: KmsgFormatOptions;
  /** Compress (default false). v6.6+ kernels compress with deflate by default. */
  compress?: boolean;
  /** Writer's era: sets the compressor window, input limit and failure fallback (default `v6.6+`). */
  era?: KernelEra;
  /** Pre-v6.6 only: the configured algorithm (default deflate). v6.6+ always uses deflate. */
  algorithm?: Exclude<CompressionAlgorithm, 'zstd' | '842'>;
}

/** The record pstore core hands to the backend. */
export interface DumpResult {
  /** Bytes to store (compressed or not); at most bufsize. */
  data: Buffer;
  compressed: boolean;
  /** Header + log text before compression (or before the fallback cut). */
  text: Buffer;
  /** Number of log records included. */
  records: number;
  /** Set when compression was wanted but failed: which part of the text was kept. */
  fallback?: 'head' | 'tail';
}

function renderRecords(log: DumpOptions['log'], fmt: KmsgFormatOptions | undefined): string[] {
  return log.map((l) => (typeof l === 'string' ? l + '\n' : formatKmsgLine(l, fmt)));
}

/**
 * Build the stored bytes of one dump.
 *
 * @returns the record, or null when the log is empty (the kernel stores nothing then).
 * @throws PstoreError EINVAL for a bad bufsize or reason/counter.
 */
export function buildDump(opts: DumpOptions): DumpResult | null {
  const { bufsize } = opts;
  if (!Number.isSafeInteger(bufsize) || bufsize < 2) {
    throw new PstoreError('EINVAL', `bufsize must be an integer ≥ 2 (got ${bufsize}); it is the zone size minus 12 minus the kmsg header size`);
  }
  if (!Number.isInteger(opts.oopsCount) || opts.oopsCount < 0) {
    throw new PstoreError('EINVAL', `oopsCount must be a non-negative integer (got ${opts.oopsCount})`);
  }
  if (opts.log.length === 0) return null;
  const era = opts.era ?? 'v6.6+';
  const alg: Exclude<CompressionAlgorithm, 'zstd' | '842'> = era === 'v6.6+' ? 'deflate' : (opts.algorithm ?? 'deflate');
  const wantCompress = opts.compress ?? false;
  const dstSize = wantCompress ? compressInputLimit(bufsize, era, alg) : bufsize;

  const header = Buffer.from(`${reasonString(opts.reason)}#${opts.oopsCount} Part1\n`);
  if (header.length >= dstSize) {
    throw new PstoreError('EINVAL', `bufsize ${bufsize} leaves no room for the ${header.length}-byte header line`);
  }
  // Newest records first, as long as they fit in the rest of the destination minus one byte.
  const budget = dstSize - header.length - 1;
  const rendered = renderRecords(opts.log, opts.format);
  let used = 0;
  let first = rendered.length;
  while (first > 0) {
    const len = Buffer.byteLength(rendered[first - 1]!);
    if (used + len > budget) break;
    used += len;
    first--;
  }
  const text = Buffer.concat([header, Buffer.from(rendered.slice(first).join(''))]);
  const records = rendered.length - first;

  if (!wantCompress) return { data: text, compressed: false, text, records };

  const packed = compress(alg, text, { windowBits: era === 'v6.6+' ? 15 : 11 });
  if (packed.length <= bufsize) return { data: packed, compressed: true, text, records };

  if (era === 'v6.6+') {
    // v6.6+: keep the head — header and oldest lines — cut at bufsize.
    return { data: text.subarray(0, bufsize), compressed: false, text, records, fallback: 'head' };
  }
  // Before v6.6: header, then the newest bytes of the text, bufsize in all.
  const body = text.subarray(header.length);
  const keep = Math.min(body.length, bufsize - header.length);
  return {
    data: Buffer.concat([header, body.subarray(body.length - keep)]),
    compressed: false,
    text,
    records,
    fallback: 'tail',
  };
}
