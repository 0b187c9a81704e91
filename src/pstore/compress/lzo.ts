/**
 * Clean-room LZO1X decompressor (the "lzo" choice of pstore core before v6.6,
 * which used the kernel crypto API's lzo = LZO1X-1 output, bitstream version 0).
 *
 * Written from the public description of the LZO1X stream format, not from
 * any implementation. Every read and every write is bounds-checked: corrupt
 * input ends in a PstoreError('EBADMSG'), never in an out-of-range access or
 * a silently short result.
 *
 * Stream format in brief. A "state" remembers how many literals the previous
 * instruction copied (0, 1–3, or 4 meaning "a long literal run"); it changes
 * the meaning of instruction bytes 0–15.
 *
 * | first byte    | meaning                                                          |
 * |---------------|------------------------------------------------------------------|
 * | 0–15 (state 0)| literal run: 3 + L bytes, L = 0 → 18 + extension                 |
 * | 0–15 (1–3)    | 2-byte match, distance 1 + (L&3) + 4·next, then S literals       |
 * | 0–15 (state 4)| 3-byte match, distance 2049 + (L&3) + 4·next, then S literals    |
 * | 16–31         | match of 2 + L (L = 0 → 9 + ext) bytes, distance 16384 + (bit3 << 14) + D; D = 0 with bit3 = 0 ends the stream |
 * | 32–63         | match of 2 + L (L = 0 → 33 + ext) bytes, distance 1 + D          |
 * | 64–127        | match of 3–4 bytes, distance 1 + 8·next + ((b >> 2) & 7)         |
 * | 128–255       | match of 5–8 bytes, distance as above                            |
 *
 * For 16–63, D and S come from the following little-endian 16-bit word
 * (D = word >> 2, S = word & 3); for 64–255 and 0–15, S is the low two bits of
 * the instruction byte. After a match, S literal bytes follow and become the
 * new state. A length "extension" is a run of zero bytes (255 each) followed
 * by one non-zero byte added as is. A first byte above 17 is a literal run of
 * (byte − 17) bytes; a first byte of 17 in a stream of at least 5 bytes is a
 * version marker followed by the version byte (only version 0 is accepted:
 * version 1 is the LZO-RLE variant used by zram, never by pstore).
 */
import { PstoreError } from '../../errors.js';

function bad(what: string, at: number): never {
  throw new PstoreError('EBADMSG', `lzo: ${what} at input offset ${at}; the stream is corrupt or not LZO1X`);
}

/** Longest length extension accepted: no real stream needs more than the output limit. */
const MAX_ZERO_RUN = 1 << 24;

/**
 * Decompress a complete LZO1X stream.
 *
 * @param limit maximum output size (the kernel's output buffer size).
 * @throws PstoreError EBADMSG on any malformed input: truncated stream, a
 *   match reaching before the start of the output, output above `limit`,
 *   bytes left after the end marker, an end marker with a wrong length or an
 *   unsupported bitstream version.
 */
export function lzo1xDecompress(src: Uint8Array, limit: number): Buffer {
  const cap = Math.max(0, Math.floor(limit));
  // Grow the output lazily: the limit may be far above the real size.
  let out = Buffer.allocUnsafe(Math.min(cap, Math.max(256, src.length * 4)));
  let op = 0;
  let ip = 0;
  const end = src.length;

  const need = (n: number): void => {
    if (ip + n > end) bad(`input ends inside an instruction (needs ${n} more bytes)`, ip);
  };
  const reserve = (n: number): void => {
    if (op + n > cap) throw new PstoreError('EBADMSG', `lzo: output exceeds the ${cap}-byte limit at input offset ${ip}`);
    if (op + n > out.length) {
      const grown = Buffer.allocUnsafe(Math.min(cap, Math.max(op + n, out.length * 2)));
      out.copy(grown, 0, 0, op);
      out = grown;
    }
  };
  const copyLiterals = (n: number): void => {
    need(n);
    reserve(n);
    out.set(src.subarray(ip, ip + n), op);
    ip += n;
    op += n;
  };
  const extension = (base: number): number => {
    let zeros = 0;
    for (;;) {
      need(1);
      const b = src[ip++]!;
      if (b !== 0) return base + zeros * 255 + b;
      if (++zeros > MAX_ZERO_RUN) bad('length extension too long', ip);
    }
  };
  const copyMatch = (distance: number, length: number): void => {
    if (distance > op) bad(`match distance ${distance} reaches before the start of the output (${op} bytes so far)`, ip);
    reserve(length);
    let from = op - distance;
    if (distance >= length && length >= 32) {
      out.copyWithin(op, from, from + length);
      op += length;
      return;
    }
    // Overlapping match (distance < length) repeats a pattern: byte by byte.
    for (let i = 0; i < length; i++) out[op++] = out[from++]!;
  };

  if (end < 3) bad('stream shorter than the 3-byte end marker', 0);

  let state = 0;
  if (src[0] === 17 && end >= 5) {
    const version = src[1]!;
    if (version !== 0) bad(`unsupported LZO bitstream version ${version} (LZO-RLE is not a pstore format)`, 1);
    ip = 2;
  } else if (src[0]! > 17) {
    const t = src[0]! - 17;
    ip = 1;
    copyLiterals(t);
    state = t < 4 ? t : 4;
  }

  for (;;) {
    need(1);
    const inst = src[ip++]!;
    if (inst < 16) {
      if (state === 0) {
        const n = inst === 0 ? extension(18) : inst + 3;
        copyLiterals(n);
        state = 4;
        continue;
      }
      need(1);
      const h = src[ip++]!;
      const s = inst & 3;
      if (state === 4) copyMatch(2049 + ((inst >> 2) & 3) + (h << 2), 3);
      else copyMatch(1 + ((inst >> 2) & 3) + (h << 2), 2);
      if (s) copyLiterals(s);
      state = s;
      continue;
    }
    let length: number;
    let distance: number;
    let s: number;
    if (inst >= 64) {
      length = inst >= 128 ? 5 + ((inst >> 5) & 3) : 3 + ((inst >> 5) & 1);
      need(1);
      distance = 1 + ((inst >> 2) & 7) + (src[ip++]! << 3);
      s = inst & 3;
    } else if (inst >= 32) {
      length = (inst & 31) === 0 ? extension(33) : 2 + (inst & 31);
      need(2);
      const word = src[ip]! | (src[ip + 1]! << 8);
      ip += 2;
      distance = 1 + (word >> 2);
      s = word & 3;
    } else {
      length = (inst & 7) === 0 ? extension(9) : 2 + (inst & 7);
      need(2);
      const word = src[ip]! | (src[ip + 1]! << 8);
      ip += 2;
      const d = ((inst & 8) << 11) + (word >> 2);
      s = word & 3;
      if (d === 0) {
        // End marker: only the exact 3-byte form 0x11 0x00 0x00, at the very end of the input.
        if (length !== 3 || s !== 0) bad('malformed end-of-stream marker', ip - 3);
        if (ip !== end) bad(`${end - ip} bytes left after the end-of-stream marker`, ip);
        return out.subarray(0, op);
      }
      distance = 16384 + d;
    }
    copyMatch(distance, length);
    if (s) copyLiterals(s);
    state = s;
  }
}
