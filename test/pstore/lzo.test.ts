import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { lzo1xDecompress } from '../../src/pstore/compress/lzo.js';
import { lzo1xCompress } from '../../src/pstore/compress/lzo-compress.js';
import { isPstoreError } from '../../src/errors.js';
import { fixturesDir, repoRoot } from './fixture-records.js';

const V = path.join(repoRoot, 'test/pstore/vectors');
const EOF_MARK = [0x11, 0x00, 0x00];
const dec = (bytes: number[] | Uint8Array, limit = 1 << 20): string => lzo1xDecompress(Uint8Array.from(bytes), limit).toString('latin1');
const lit = (s: string): number[] => [...Buffer.from(s, 'latin1')];

/** Extension bytes for a value ≥ 1: zeros worth 255 each, then the remainder. */
function ext(rest: number): number[] {
  const out: number[] = [];
  while (rest > 255) { out.push(0); rest -= 255; }
  out.push(rest);
  return out;
}

function expectEbadmsg(bytes: number[] | Uint8Array, re: RegExp, limit = 1 << 20): void {
  assert.throws(() => lzo1xDecompress(Uint8Array.from(bytes), limit), (e: unknown) => isPstoreError(e, 'EBADMSG') && re.test((e as Error).message));
}

test('LZO1X streams made by liblzo (lzop -1 = LZO1X-1, lzop -9 = LZO1X-999) decode exactly', () => {
  const klog = fs.readFileSync(path.join(fixturesDir, 'blk-deflate/expected/s1-3oops/dmesg-pstore_blk-2'));
  const mixed = fs.readFileSync(path.join(V, 'mixed.bin'));
  for (const [f, orig] of [['klog-lzop1.lzo1x', klog], ['klog-lzop9.lzo1x', klog], ['mixed-lzop1.lzo1x', mixed], ['mixed-lzop9.lzo1x', mixed]] as const) {
    const out = lzo1xDecompress(fs.readFileSync(path.join(V, f)), 1 << 20);
    assert.equal(out.length, orig.length, f);
    assert.ok(out.equals(orig), f);
  }
});

test('hand-built streams: every instruction class per the format description', () => {
  assert.equal(dec(EOF_MARK), '', 'empty stream is just the end marker');
  assert.equal(dec([17 + 3, ...lit('abc'), ...EOF_MARK]), 'abc', 'first-byte literal run');
  assert.equal(dec([17 + 5, ...lit('hello'), ...EOF_MARK]), 'hello');
  // literals "abcd" (state 4), then 64–127 class: length 3, distance 1 + 3 = 4
  assert.equal(dec([17 + 4, ...lit('abcd'), 0x40 | (3 << 2), 0x00, ...EOF_MARK]), 'abcdabc');
  // 128–255 class: length 5 + 3 = 8, distance 1 (a run), S = 2 trailing literals
  assert.equal(dec([17 + 4, ...lit('wxyz'), 0x80 | (3 << 5) | 2, 0x00, ...lit('!?'), ...EOF_MARK]), 'wxyzzzzzzzzz!?');
  // state 1 (one literal): instruction 0–15 is a 2-byte match, distance 1 + D + 4H
  assert.equal(dec([17 + 1, ...lit('x'), 0x00, 0x00, ...EOF_MARK]), 'xxx');
  // state 2 then a 2-byte match at distance 2 carrying 1 trailing literal
  assert.equal(dec([17 + 2, ...lit('ab'), (1 << 2) | 1, 0x00, ...lit('c'), ...EOF_MARK]), 'ababc');
  // after a match with S = 0, instruction 0–15 is a literal run of 3 + L
  assert.equal(dec([17 + 4, ...lit('abcd'), 0x40 | (3 << 2), 0x00, 0x02, ...lit('QRSTU'), ...EOF_MARK]), 'abcdabcQRSTU');
});

test('hand-built: long literal run with extension, then a 3-byte match at distance 2049+ (state 4)', () => {
  const body = Buffer.alloc(2100);
  for (let i = 0; i < body.length; i++) body[i] = (i * 31 + 7) & 0xff;
  // literal run: instruction 0, 18 + extension = 2100
  const stream = [0x00, ...ext(2100 - 18), ...body, /* D=1, H=0 → distance 2050, length 3 */ 1 << 2, 0x00, ...EOF_MARK];
  const out = lzo1xDecompress(Uint8Array.from(stream), 1 << 20);
  assert.equal(out.length, 2103);
  assert.ok(out.subarray(0, 2100).equals(body));
  assert.ok(out.subarray(2100).equals(body.subarray(2100 - 2050, 2100 - 2050 + 3)));
});

test('hand-built: 32–63 match with length extension and 16–31 far match', () => {
  const seed = Buffer.from('0123456789abcdef');
  // M3: length 2 + 31 + ext(40) = 73 at distance 16 (word = (16-1) << 2)
  const m3 = [17 + 16, ...seed, 0x20, ...ext(40), (15 << 2) & 0xff, (15 << 2) >> 8, ...EOF_MARK];
  const out3 = lzo1xDecompress(Uint8Array.from(m3), 1 << 20);
  assert.equal(out3.length, 16 + 73);
  for (let i = 16; i < out3.length; i++) assert.equal(out3[i], out3[i - 16]);
  // M4: 20000 literals, then length 2 + 5 = 7 at distance 16384 + 3616 = 20000
  const big = Buffer.alloc(20000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 8)) & 0xff;
  const d = 20000 - 16384;
  const m4 = [0x00, ...ext(20000 - 18), ...big, 0x10 | 5, (d << 2) & 0xff, (d << 2) >> 8, ...EOF_MARK];
  const out4 = lzo1xDecompress(Uint8Array.from(m4), 1 << 20);
  assert.equal(out4.length, 20007);
  assert.ok(out4.subarray(20000).equals(big.subarray(0, 7)));
  // M4 with the high distance bit: distance 16384 + 16384 + 100 = 32868
  const big2 = Buffer.concat([big, big]).subarray(0, 33000);
  const d2 = 32868 - 16384;
  const m4b = [0x00, ...ext(33000 - 18), ...big2, 0x10 | 0x08 | 1, ((d2 & 0x3fff) << 2) & 0xff, ((d2 & 0x3fff) << 2) >> 8, ...EOF_MARK];
  const out4b = lzo1xDecompress(Uint8Array.from(m4b), 1 << 20);
  assert.ok(out4b.subarray(33000).equals(big2.subarray(33000 - 32868, 33000 - 32868 + 3)));
});

test('malformed streams are EBADMSG with a reason', () => {
  expectEbadmsg([], /shorter than/);
  expectEbadmsg([17 + 3, ...lit('abc')], /input ends/);
  expectEbadmsg([17 + 3, ...lit('abc'), 0x11, 0x00], /input ends/);
  expectEbadmsg([17 + 1, ...lit('a'), 0x40 | (7 << 2), 0x00, ...EOF_MARK], /reaches before the start/);
  expectEbadmsg([17 + 3, ...lit('abc'), ...EOF_MARK, 0x00], /left after the end-of-stream marker/);
  expectEbadmsg([17 + 3, ...lit('abc'), 0x12, 0x00, 0x00], /malformed end-of-stream marker/);
  expectEbadmsg([17, 1, 0x11, 0x00, 0x00], /bitstream version 1/);
  expectEbadmsg([17 + 5, ...lit('hello'), ...EOF_MARK], /exceeds the 4-byte limit/, 4);
  expectEbadmsg([17 + 4, ...lit('abcd'), 0x80 | (3 << 5), 0x00, ...EOF_MARK], /exceeds the 10-byte limit/, 10);
});

test('version-0 marker (first byte 17) is accepted', () => {
  assert.equal(dec([17, 0, 0x00 + 1, ...lit('abcd'), ...EOF_MARK]), 'abcd');
});

/** A view that throws on any index outside the data: proves the decoder never reads out of bounds. */
function strictView(data: Uint8Array): Uint8Array {
  return new Proxy(data, {
    get(target, prop) {
      if (typeof prop === 'string' && /^-?\d+$/.test(prop)) {
        const i = Number(prop);
        if (i < 0 || i >= target.length) throw new Error(`out-of-bounds read at ${i} of ${target.length}`);
        return target[i];
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

test('strictView itself throws on out-of-range reads (so the properties below can detect them)', () => {
  const v = strictView(Uint8Array.from([1, 2, 3]));
  assert.equal(v[2], 3);
  assert.throws(() => v[3], /out-of-bounds/);
  assert.equal(v.subarray(1).length, 2);
});

test('property: random input never throws anything but PstoreError EBADMSG, never reads out of bounds, respects the limit', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 4096 }), (bytes, limit) => {
      try {
        const out = lzo1xDecompress(strictView(bytes), limit);
        assert.ok(out.length <= limit);
      } catch (e) {
        if (!isPstoreError(e, 'EBADMSG')) throw e;
      }
    }),
    { numRuns: 3000 },
  );
});

test('property: corrupted and truncated real streams fail cleanly or decode within bounds', () => {
  const src = lzo1xCompress(Buffer.from('<4>[   57.123456] some kernel log line that repeats\n'.repeat(40)));
  fc.assert(
    fc.property(fc.integer({ min: 0, max: src.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: src.length }), (pos, val, cut) => {
      const m = Uint8Array.from(src);
      m[pos] = val;
      for (const b of [m, m.subarray(0, cut)]) {
        try { lzo1xDecompress(strictView(b), 1 << 16); } catch (e) { if (!isPstoreError(e, 'EBADMSG')) throw e; }
      }
      if (cut < src.length) assert.throws(() => lzo1xDecompress(src.subarray(0, cut), 1 << 16), (e: unknown) => isPstoreError(e, 'EBADMSG'));
    }),
    { numRuns: 1500 },
  );
});

const logLike = fc.array(fc.constantFrom('<4>[   1.000000] ', 'abc', 'abcabc', '\n', 'x', 'WARNING: CPU: 0 PID: 1', '0123456789'), { maxLength: 400 }).map((a) => Buffer.from(a.join('')));
const smallAlphabet = fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a.map((b) => b & 3)));
const withFarRepeat = fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 64 }), fc.integer({ min: 2000, max: 40000 })).map(([chunk, gap]) => {
  const filler = Buffer.alloc(gap);
  for (let i = 0; i < gap; i++) filler[i] = (i * 2654435761) >>> 24;
  return Buffer.concat([chunk, filler, chunk, Buffer.from([1, 2, 3]), chunk]);
});

test('property: clean-room compressor round-trips through the decoder (all instruction classes)', () => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)), logLike, smallAlphabet, withFarRepeat), (data) => {
      const packed = lzo1xCompress(data);
      const out = lzo1xDecompress(packed, data.length);
      assert.ok(out.equals(data));
    }),
    { numRuns: 400 },
  );
});

test('compressor output on a real kernel log is smaller than the input and exact on decode', () => {
  const klog = fs.readFileSync(path.join(fixturesDir, 'blk-plain/expected/s1-3oops/dmesg-pstore_blk-2'));
  const packed = lzo1xCompress(klog);
  assert.ok(packed.length < klog.length * 0.6, `ratio ${packed.length}/${klog.length}`);
  assert.ok(lzo1xDecompress(packed, klog.length).equals(klog));
});
