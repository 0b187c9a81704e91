/**
 * zstd frames: the "zstd" choice of pstore core before v6.6 (standard frame
 * format, magic 28 B5 2F FD). Decoded with fzstd, since Node 20's zlib has no zstd.
 */
import { Decompress } from 'fzstd';
import { PstoreError } from '../../errors.js';

/** The 4 bytes every zstd frame starts with. */
export const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/**
 * Decode a zstd frame, stopping as soon as the output would pass `limit`
 * (streaming, so a hostile frame cannot make us allocate its declared size).
 * @throws PstoreError EBADMSG if the data is not a complete valid frame or is too large.
 */
export function zstdDecompress(src: Uint8Array, limit: number): Buffer {
  if (src.length < 4 || !ZSTD_MAGIC.equals(Buffer.from(src.subarray(0, 4)))) {
    throw new PstoreError('EBADMSG', 'zstd: missing frame magic 28 b5 2f fd; not a zstd frame');
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  let ended = false;
  const d = new Decompress((chunk, final) => {
    total += chunk.length;
    if (total > limit) throw new PstoreError('EBADMSG', `zstd: output exceeds the ${limit}-byte limit`);
    chunks.push(chunk.slice());
    if (final) ended = true;
  });
  try {
    d.push(src, true);
  } catch (e) {
    if (e instanceof PstoreError) throw e;
    throw new PstoreError('EBADMSG', `zstd: corrupt frame (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
  if (!ended) throw new PstoreError('EBADMSG', 'zstd: frame is truncated (no last block)');
  return Buffer.concat(chunks, total);
}
