/**
 * Raw deflate (RFC 1951, no zlib/gzip wrapper): the only format pstore core
 * uses since v6.6 and its default before (pstore-core.md §4).
 */
import zlib from 'node:zlib';
import { PstoreError } from '../../errors.js';

/**
 * Inflate a raw deflate stream in one go, like the kernel does.
 *
 * Decoded with Node's default 32 KiB window on purpose: the kernel inflates
 * into one contiguous buffer, so a stream written with a 2 KiB window (pre-6.6)
 * may legally refer further back than 2 KiB; with `windowBits: 11` Node's
 * chunked output would reject such streams (spec §4.4).
 *
 * @param limit maximum output size in bytes (the kernel's output buffer).
 * @throws PstoreError EBADMSG if the stream is corrupt, truncated (no final
 *   block reached) or inflates to more than `limit` bytes.
 */
export function inflateRaw(bytes: Uint8Array, limit: number): Buffer {
  // Node refuses maxOutputLength < 1; an empty limit can only fit an empty output,
  // which no valid deflate stream of ours would claim anyway.
  const max = Math.max(1, Math.floor(limit));
  let out: Buffer;
  try {
    out = zlib.inflateRawSync(bytes, { maxOutputLength: max, finishFlush: zlib.constants.Z_FINISH });
  } catch (e) {
    const what = e instanceof Error ? e.message : String(e);
    if (e instanceof RangeError || /maxOutputLength|larger than/i.test(what)) {
      throw new PstoreError('EBADMSG', `deflate: output exceeds the ${limit}-byte limit; the kernel would keep this record compressed (.enc.z)`, { cause: e });
    }
    throw new PstoreError('EBADMSG', `deflate: corrupt or truncated stream (${what})`, { cause: e });
  }
  if (out.length > limit) {
    throw new PstoreError('EBADMSG', `deflate: output of ${out.length} bytes exceeds the ${limit}-byte limit`);
  }
  return out;
}

/** Window size of the compressor: 15 bits (v6.6+, zlib library) or 11 bits (pre-6.6 crypto API). */
export type DeflateWindowBits = 15 | 11;

/**
 * Raw-deflate `data` the way pstore core configures zlib: level 6, memLevel 8,
 * and the given window. The bytes will not equal the kernel's (a different
 * zlib), but every kernel inflates them to the same text.
 */
export function deflateRaw(data: Uint8Array, windowBits: DeflateWindowBits = 15): Buffer {
  return zlib.deflateRawSync(data, { level: 6, memLevel: 8, windowBits });
}
