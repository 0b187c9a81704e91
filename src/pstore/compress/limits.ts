/**
 * Buffer sizes pstore core uses around compression, per kernel era
 * (pstore-core.md §4.1, §4.2; test vectors S3–S5).
 */
import { PstoreError } from '../../errors.js';

/** Which kernel's pstore core to imitate: the zlib-library one (v6.6+) or the crypto-API one (v5.8–v6.5). */
export type KernelEra = 'v6.6+' | 'pre-v6.6';

/** Every algorithm name pstore core ever accepted for `pstore.compress`. */
export type CompressionAlgorithm = 'deflate' | 'lzo' | 'lz4' | 'lz4hc' | 'zstd' | '842';

export const COMPRESSION_ALGORITHMS: readonly CompressionAlgorithm[] = ['deflate', 'lzo', 'lz4', 'lz4hc', 'zstd', '842'];

/** True if `s` names a compression algorithm pstore core knows. */
export function isCompressionAlgorithm(s: string): s is CompressionAlgorithm {
  return (COMPRESSION_ALGORITHMS as readonly string[]).includes(s);
}

function checkBufsize(bufsize: number): void {
  if (!Number.isSafeInteger(bufsize) || bufsize <= 0) {
    throw new PstoreError('EINVAL', `bufsize must be a positive integer (got ${bufsize}); it is the zone size minus 12 minus the kmsg header size`);
  }
}

/** Pre-v6.6 deflate: input buffer = bufsize × 100 ÷ c, the expected compression ratio c depending on bufsize. */
function oldDeflateInputLimit(bufsize: number): number {
  let c: number;
  if (bufsize >= 1000 && bufsize <= 2000) c = 56;
  else if (bufsize >= 2001 && bufsize <= 3000) c = 54;
  else if (bufsize >= 3001 && bufsize <= 3999) c = 52;
  else if (bufsize >= 4000 && bufsize <= 10000) c = 45;
  else c = 60;
  return Math.floor((bufsize * 100) / c);
}

/**
 * Largest header + log text pstore core feeds to the compressor (the size of
 * its "big oops buffer").
 * v6.6+: bufsize × 100 ÷ 60 for deflate (the only algorithm).
 * pre-v6.6: deflate per the ratio table; lzo: LZO worst case of bufsize;
 * lz4/lz4hc: LZ4 compress bound; zstd: zstd compress bound; 842: bufsize.
 */
export function compressInputLimit(bufsize: number, era: KernelEra = 'v6.6+', alg: CompressionAlgorithm = 'deflate'): number {
  checkBufsize(bufsize);
  if (era === 'v6.6+') return Math.floor((bufsize * 100) / 60);
  switch (alg) {
    case 'deflate': return oldDeflateInputLimit(bufsize);
    case 'lzo': return bufsize + Math.floor(bufsize / 16) + 64 + 3;
    case 'lz4':
    case 'lz4hc': return bufsize + Math.floor(bufsize / 255) + 16;
    case 'zstd': return bufsize + (bufsize >> 8) + (bufsize < 131072 ? (131072 - bufsize) >> 11 : 0);
    case '842': return bufsize;
  }
}

/**
 * Largest decompressed size the kernel accepts when reading a record:
 * v6.6+: 3 × bufsize; pre-v6.6: the compression input limit of the configured algorithm.
 */
export function decompressOutputLimit(bufsize: number, era: KernelEra = 'v6.6+', alg: CompressionAlgorithm = 'deflate'): number {
  checkBufsize(bufsize);
  return era === 'v6.6+' ? 3 * bufsize : compressInputLimit(bufsize, era, alg);
}

/** pstore core's bufsize for a kmsg zone: zone size − 12 (zone header) − H (kmsg header, 40 or 28). */
export function bufsizeForZone(zoneSize: number, kmsgHeaderSize: 40 | 28 | 26 = 40): number {
  const b = zoneSize - 12 - kmsgHeaderSize;
  checkBufsize(b);
  return b;
}
