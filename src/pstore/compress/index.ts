/**
 * Compression registry of pstore core: decode (and, where a compressor
 * exists, encode) every format `pstore.compress` ever selected.
 * Facts: pstore-core.md §4; design notes: docs/COMPRESSION.md.
 */
import { PstoreError } from '../../errors.js';
import { deflateRaw, inflateRaw, type DeflateWindowBits } from './deflate.js';
import { lzo1xDecompress } from './lzo.js';
import { lzo1xCompress } from './lzo-compress.js';
import { lz4CompressBlock, lz4DecompressBlock } from './lz4.js';
import { ZSTD_MAGIC, zstdDecompress } from './zstd.js';
import type { CompressionAlgorithm } from './limits.js';

export * from './limits.js';
export { inflateRaw, deflateRaw, type DeflateWindowBits } from './deflate.js';
export { lzo1xDecompress } from './lzo.js';
export { lzo1xCompress } from './lzo-compress.js';
export { lz4DecompressBlock, lz4CompressBlock, lz4BlockSize } from './lz4.js';
export { zstdDecompress, ZSTD_MAGIC } from './zstd.js';

/**
 * Decompress a stored record with the named algorithm, producing at most `limit` bytes.
 *
 * @throws PstoreError EBADMSG when the bytes are not a valid complete stream
 *   of that algorithm or decode to more than `limit` bytes (the kernel then
 *   shows the record as `<name>.enc.z`);
 *   EOPNOTSUPP for 842, which has no decoder here (see docs/COMPRESSION.md).
 */
export function decompress(alg: CompressionAlgorithm, bytes: Uint8Array, limit: number): Buffer {
  switch (alg) {
    case 'deflate': return inflateRaw(bytes, limit);
    case 'lzo': return lzo1xDecompress(bytes, limit);
    case 'lz4':
    case 'lz4hc': return lz4DecompressBlock(bytes, limit);
    case 'zstd': return zstdDecompress(bytes, limit);
    case '842':
      throw new PstoreError('EOPNOTSUPP', '842: no decoder available (IBM 842 format, see docs/COMPRESSION.md); keep the record as .enc.z and decode it on a kernel with CONFIG_CRYPTO_842');
  }
}

/** Options of {@link compress}. */
export interface CompressOptions {
  /** deflate window: 15 (v6.6+ writer, default) or 11 (pre-v6.6 writer). */
  windowBits?: DeflateWindowBits;
}

/**
 * Compress `data` in a format the kernel's decompressor of `alg` reads.
 * Output is equivalent, not byte-identical, to the kernel's.
 * @throws PstoreError EOPNOTSUPP for zstd and 842 (no compressor available in Node 20 without native code).
 */
export function compress(alg: CompressionAlgorithm, data: Uint8Array, opts: CompressOptions = {}): Buffer {
  switch (alg) {
    case 'deflate': return deflateRaw(data, opts.windowBits ?? 15);
    case 'lzo': return lzo1xCompress(data);
    case 'lz4':
    case 'lz4hc': return lz4CompressBlock(data);
    case 'zstd':
    case '842':
      throw new PstoreError('EOPNOTSUPP', `${alg}: no compressor available here; choose deflate (the only format kernels since v6.6 read)`);
  }
}

/**
 * Guess the algorithm from the bytes: only zstd frames carry a signature.
 * Raw deflate, LZO, LZ4 and 842 streams do not; for those the caller must know
 * the writer's `pstore.compress` setting (deflate is the default everywhere).
 */
export function detectAlgorithm(bytes: Uint8Array): CompressionAlgorithm | undefined {
  return bytes.length >= 4 && ZSTD_MAGIC.equals(Buffer.from(bytes.subarray(0, 4))) ? 'zstd' : undefined;
}
