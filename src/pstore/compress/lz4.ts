/**
 * Raw LZ4 blocks: what the kernel crypto API's "lz4" and "lz4hc" produced for
 * pstore core before v6.6 (one block, no frame, no size prefix).
 *
 * lz4js performs the copy, but it checks no bounds (a bad offset or length
 * reads `undefined` or writes past the end silently). So the block is first
 * walked here without copying, checking every length, offset and the end
 * condition, which also yields the exact output size; only a block that
 * passed is handed to lz4js.
 */
import lz4js from 'lz4js';
import { PstoreError } from '../../errors.js';

function bad(what: string, at: number): never {
  throw new PstoreError('EBADMSG', `lz4: ${what} at input offset ${at}; the block is corrupt or not raw LZ4`);
}

/**
 * Walk an LZ4 block and return its decoded size.
 * A block is a series of sequences: token (literal length high nibble, match
 * length low nibble), optional literal-length bytes (255 = continue),
 * literals, then a 2-byte little-endian offset and optional match-length
 * bytes; the last sequence has literals only and ends the input exactly.
 */
export function lz4BlockSize(src: Uint8Array, limit: number): number {
  const end = src.length;
  let ip = 0;
  let op = 0;
  if (end === 0) bad('empty block', 0);
  for (;;) {
    if (ip >= end) bad('input ends before a sequence token', ip);
    const token = src[ip++]!;
    let lit = token >> 4;
    if (lit === 15) {
      for (;;) {
        if (ip >= end) bad('input ends inside a literal length', ip);
        const b = src[ip++]!;
        lit += b;
        if (b !== 255) break;
      }
    }
    if (ip + lit > end) bad(`${lit} literals run past the end of the input`, ip);
    ip += lit;
    op += lit;
    if (op > limit) throw new PstoreError('EBADMSG', `lz4: output exceeds the ${limit}-byte limit`);
    if (ip === end) return op; // last sequence: literals only
    if (ip + 2 > end) bad('input ends inside a match offset', ip);
    const offset = src[ip]! | (src[ip + 1]! << 8);
    ip += 2;
    if (offset === 0 || offset > op) bad(`match offset ${offset} is outside the ${op} bytes decoded so far`, ip - 2);
    let mlen = token & 15;
    if (mlen === 15) {
      for (;;) {
        if (ip >= end) bad('input ends inside a match length', ip);
        const b = src[ip++]!;
        mlen += b;
        if (b !== 255) break;
      }
    }
    op += mlen + 4;
    if (op > limit) throw new PstoreError('EBADMSG', `lz4: output exceeds the ${limit}-byte limit`);
  }
}

/**
 * Decode one raw LZ4 block (lz4 and lz4hc share the format).
 * @throws PstoreError EBADMSG if the block is malformed or decodes to more than `limit` bytes.
 */
export function lz4DecompressBlock(src: Uint8Array, limit: number): Buffer {
  const size = lz4BlockSize(src, limit);
  const out = Buffer.alloc(size);
  const got = lz4js.decompressBlock(src, out, 0, src.length, 0);
  if (got !== size) throw new PstoreError('EBADMSG', `lz4: decoded ${got} bytes, expected ${size}`);
  return out;
}

/**
 * Encode `data` as one raw LZ4 block (for emulating pre-v6.6 writers and tests).
 * Incompressible input is stored as a single literal-only sequence, which is
 * still a valid block.
 */
export function lz4CompressBlock(data: Uint8Array): Buffer {
  const dst = Buffer.alloc(lz4js.compressBound(data.length) + 16);
  const n = data.length === 0 ? 0 : lz4js.compressBlock(data, dst, 0, data.length, new Uint32Array(1 << 16));
  if (n > 0) return dst.subarray(0, n);
  // Literal-only block: token, length bytes, literals.
  const parts: number[] = [];
  let lit = data.length;
  parts.push(Math.min(lit, 15) << 4);
  if (lit >= 15) {
    lit -= 15;
    while (lit >= 255) { parts.push(255); lit -= 255; }
    parts.push(lit);
  }
  return Buffer.concat([Buffer.from(parts), data]);
}
