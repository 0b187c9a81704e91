/**
 * Clean-room LZO1X compressor (greedy, one hash probe per position).
 *
 * Produces bitstream-version-0 LZO1X streams that any LZO1X decoder (the
 * kernel's included) reads; used to emulate pre-v6.6 kernels configured with
 * `pstore.compress=lzo` and to round-trip-test {@link lzo1xDecompress}. It
 * deliberately emits every instruction class (2- and 3-byte short matches,
 * 3–8-byte near matches, long matches with length extensions, far matches)
 * so round trips exercise the whole decoder. Output is not byte-identical to
 * the kernel's LZO1X-1 (different match search), only equivalent.
 * See lzo.ts for the format.
 */

const MAX_FAR = 49151; // furthest distance the format can express
const HASH_BITS = 14;

class ByteSink {
  buf = Buffer.allocUnsafe(1024);
  len = 0;
  push(b: number): void {
    if (this.len === this.buf.length) {
      const g = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(g, 0, 0, this.len);
      this.buf = g;
    }
    this.buf[this.len++] = b & 0xff;
  }
  pushBytes(src: Uint8Array, from: number, to: number): void {
    for (let i = from; i < to; i++) this.push(src[i]!);
  }
}

/** Length extension: zero bytes worth 255 each, then one non-zero byte (value ≥ 1). */
function extension(sink: ByteSink, rest: number): void {
  while (rest > 255) {
    sink.push(0);
    rest -= 255;
  }
  sink.push(rest);
}

/** Compress `src` into a complete LZO1X stream (ending with the 0x11 0x00 0x00 marker). */
export function lzo1xCompress(src: Uint8Array): Buffer {
  const n = src.length;
  const sink = new ByteSink();
  const head3 = new Int32Array(1 << HASH_BITS).fill(-1);
  const head2 = new Int32Array(1 << 16).fill(-1);
  const hash3 = (i: number): number =>
    (((src[i]! << 16) | (src[i + 1]! << 8) | src[i + 2]!) * 2654435761) >>> (32 - HASH_BITS);
  const key2 = (i: number): number => (src[i]! << 8) | src[i + 1]!;
  const insert = (i: number): void => {
    if (i + 3 <= n) head3[hash3(i)] = i;
    if (i + 2 <= n) head2[key2(i)] = i;
  };

  let sPos = -1; // index in the sink of the byte whose low 2 bits carry the previous match's S
  let litStart = 0;
  let ip = 0;

  const flushLiterals = (to: number): void => {
    const count = to - litStart;
    if (count === 0) return;
    if (sink.len === 0 && count <= 238) {
      sink.push(17 + count); // first-byte literal run
    } else if (count <= 3 && sPos >= 0) {
      sink.buf[sPos] = sink.buf[sPos]! | count;
    } else if (count <= 18) {
      sink.push(count - 3);
    } else {
      sink.push(0);
      extension(sink, count - 18);
    }
    sink.pushBytes(src, litStart, to);
    litStart = to;
  };

  const matchLength = (cand: number, at: number): number => {
    let l = 0;
    while (at + l < n && src[cand + l] === src[at + l]) l++;
    return l;
  };

  while (ip < n) {
    const pending = ip - litStart;
    // The state the decoder will be in when it reads the match instruction.
    const state = sink.len === 0 && pending === 0 ? 0 : pending >= 4 ? 4 : pending;
    let len = 0;
    let dist = 0;
    if (ip + 3 <= n) {
      const cand = head3[hash3(ip)]!;
      if (cand >= 0 && ip - cand <= MAX_FAR) {
        const l = matchLength(cand, ip);
        if (l >= 3) { len = l; dist = ip - cand; }
      }
    }
    if (len === 0 && ip + 2 <= n && state >= 1 && state <= 3) {
      const cand = head2[key2(ip)]!;
      if (cand >= 0 && ip - cand <= 1024 && src[cand] === src[ip] && src[cand + 1] === src[ip + 1]) {
        len = 2;
        dist = ip - cand;
      }
    }
    if (len === 0) {
      insert(ip);
      ip++;
      continue;
    }
    flushLiterals(ip);
    if (len === 2) {
      const d = dist - 1;
      sink.push((d & 3) << 2);
      sink.push(d >> 2);
    } else if (len === 3 && state === 4 && dist >= 2049 && dist <= 3072) {
      const d = dist - 2049;
      sink.push((d & 3) << 2);
      sink.push(d >> 2);
    } else if (len <= 8 && dist <= 2048) {
      const d = dist - 1;
      sink.push(len <= 4 ? 0x40 | ((len - 3) << 5) | ((d & 7) << 2) : 0x80 | ((len - 5) << 5) | ((d & 7) << 2));
      sink.push(d >> 3);
    } else if (dist <= 16384) {
      const d = dist - 1;
      if (len - 2 <= 31) sink.push(0x20 | (len - 2));
      else { sink.push(0x20); extension(sink, len - 33); }
      sink.push((d << 2) & 0xff);
      sink.push(d >> 6);
    } else {
      const d = dist - 16384;
      const hi = (d >> 14) << 3;
      if (len - 2 <= 7) sink.push(0x10 | hi | (len - 2));
      else { sink.push(0x10 | hi); extension(sink, len - 9); }
      sink.push(((d & 0x3fff) << 2) & 0xff);
      sink.push((d & 0x3fff) >> 6);
    }
    sPos = sink.len - 2;
    for (let i = ip; i < ip + len; i++) insert(i);
    ip += len;
    litStart = ip;
  }
  flushLiterals(n);
  sink.push(0x11);
  sink.push(0);
  sink.push(0);
  return Buffer.from(sink.buf.subarray(0, sink.len));
}
