import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import fc from 'fast-check';
import {
  compress, compressInputLimit, decompress, decompressOutputLimit, bufsizeForZone, detectAlgorithm,
  inflateRaw, deflateRaw, lz4DecompressBlock, zstdDecompress, COMPRESSION_ALGORITHMS,
} from '../../src/pstore/compress/index.js';
import { isPstoreError } from '../../src/errors.js';
import { fixturesDir, repoRoot } from './fixture-records.js';

const V = path.join(repoRoot, 'test/pstore/vectors');
const klog = fs.readFileSync(path.join(fixturesDir, 'blk-deflate/expected/s1-3oops/dmesg-pstore_blk-2'));

function c1Input(): Buffer {
  let block = '';
  for (let i = 0; i < 500; i++) block += String(i).padStart(5, '0') + '\n';
  assert.equal(block.length, 3000);
  return Buffer.from(block + block);
}

test('C1: 6000-byte text deflated with window 15 and window 11 inflates with the default window', () => {
  const input = c1Input();
  for (const w of [15, 11] as const) {
    const packed = deflateRaw(input, w);
    assert.ok(packed.length < input.length);
    assert.ok(inflateRaw(packed, 3 * 4044).equals(input), `window ${w}`);
    assert.ok(decompress('deflate', packed, 6000).equals(input), 'limit equal to the size is enough');
  }
});

test('C2: long-distance matches: default window reads them; windowBits 11 with chunked output does not', () => {
  // 16404 bytes of pseudo-random letters whose last 40 bytes repeat bytes 8000–8039: that match
  // lies past Node's first 16 KiB output chunk and reaches 8364 bytes back (> 2 KiB).
  const text = Buffer.alloc(16404);
  let x = 12345;
  for (let i = 0; i < text.length; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; text[i] = 0x61 + ((x >>> 16) % 26); }
  text.copy(text, 16364, 8000, 8040);
  const packed = deflateRaw(text, 15);
  assert.ok(inflateRaw(packed, 3 * 65484).equals(text));
  assert.throws(() => zlib.inflateRawSync(packed, { windowBits: 11 }), /invalid distance too far back/);
  // One big output chunk, as the kernel's one-shot decoder: accepted.
  assert.ok(zlib.inflateRawSync(packed, { windowBits: 11, chunkSize: 65536 }).equals(text));
});

test('deflate: truncated streams, garbage and over-limit output are EBADMSG; trailing bytes after the end are ignored (as zlib does)', () => {
  const packed = deflateRaw(klog);
  for (const cut of [1, 10, packed.length >> 1, packed.length - 1]) {
    assert.throws(() => inflateRaw(packed.subarray(0, cut), 1 << 20), (e: unknown) => isPstoreError(e, 'EBADMSG') && /corrupt or truncated/.test((e as Error).message));
  }
  assert.throws(() => inflateRaw(Buffer.from([0xff, 0xff, 0xff, 0xff]), 1000), (e: unknown) => isPstoreError(e, 'EBADMSG'));
  assert.throws(() => inflateRaw(packed, klog.length - 1), (e: unknown) => isPstoreError(e, 'EBADMSG') && /limit/.test((e as Error).message));
  assert.ok(inflateRaw(packed, klog.length).equals(klog));
  assert.ok(inflateRaw(Buffer.concat([packed, Buffer.from('junk')]), klog.length).equals(klog));
});

test('property: deflate round trips for both windows, any content', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 5000 }), fc.constantFrom(15 as const, 11 as const), (data, w) => {
      const out = decompress('deflate', compress('deflate', data, { windowBits: w }), Math.max(1, data.length));
      assert.ok(out.equals(Buffer.from(data)));
    }),
    { numRuns: 200 },
  );
});

test('limits S3–S5 and bufsize per zone (S1, S2)', () => {
  assert.equal(bufsizeForZone(65536), 65484);
  assert.equal(bufsizeForZone(65536, 28), 65496);
  assert.equal(bufsizeForZone(4096), 4044);
  assert.equal(bufsizeForZone(4096, 28), 4056);
  assert.equal(compressInputLimit(65484, 'v6.6+'), 109140);
  assert.equal(compressInputLimit(65484, 'pre-v6.6', 'deflate'), 109140);
  assert.equal(compressInputLimit(4044, 'v6.6+'), 6740);
  assert.equal(compressInputLimit(4044, 'pre-v6.6', 'deflate'), 8986);
  assert.equal(decompressOutputLimit(65484, 'v6.6+'), 196452);
  assert.equal(decompressOutputLimit(4044, 'pre-v6.6'), 8986);
  // ratio table edges
  assert.equal(compressInputLimit(1000, 'pre-v6.6'), Math.floor(100000 / 56));
  assert.equal(compressInputLimit(2001, 'pre-v6.6'), Math.floor(200100 / 54));
  assert.equal(compressInputLimit(3999, 'pre-v6.6'), Math.floor(399900 / 52));
  assert.equal(compressInputLimit(10000, 'pre-v6.6'), Math.floor(1000000 / 45));
  assert.equal(compressInputLimit(10001, 'pre-v6.6'), Math.floor(1000100 / 60));
  assert.equal(compressInputLimit(4044, 'pre-v6.6', 'lzo'), 4044 + 252 + 67);
  assert.equal(compressInputLimit(4044, 'pre-v6.6', 'lz4'), 4044 + 15 + 16);
  assert.equal(compressInputLimit(4044, 'pre-v6.6', '842'), 4044);
  assert.throws(() => compressInputLimit(0), (e: unknown) => isPstoreError(e, 'EINVAL'));
  assert.throws(() => bufsizeForZone(40), (e: unknown) => isPstoreError(e, 'EINVAL'));
});

test('lz4 raw blocks made by the lz4 tool (fast and HC) decode exactly; bad blocks are EBADMSG', () => {
  for (const f of ['klog-lz4cli1.lz4block', 'klog-lz4cli9.lz4block']) {
    const block = fs.readFileSync(path.join(V, f));
    for (const alg of ['lz4', 'lz4hc'] as const) assert.ok(decompress(alg, block, 1 << 20).equals(klog), f);
    assert.throws(() => lz4DecompressBlock(block, klog.length - 1), (e: unknown) => isPstoreError(e, 'EBADMSG') && /limit/.test((e as Error).message));
    assert.throws(() => lz4DecompressBlock(block.subarray(0, block.length - 1), 1 << 20), (e: unknown) => isPstoreError(e, 'EBADMSG'));
  }
  // match offset before the start of the output
  assert.throws(() => lz4DecompressBlock(Buffer.from([0x10, 0x41, 0x05, 0x00, 0x00]), 100), (e: unknown) => isPstoreError(e, 'EBADMSG') && /offset 5/.test((e as Error).message));
  assert.throws(() => lz4DecompressBlock(Buffer.alloc(0), 100), (e: unknown) => isPstoreError(e, 'EBADMSG'));
});

test('property: lz4 block decoder never throws anything but EBADMSG on random input; compressor round trips', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        assert.ok(lz4DecompressBlock(bytes, 4096).length <= 4096);
      } catch (e) {
        if (!isPstoreError(e, 'EBADMSG')) throw e;
      }
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.boolean(), (data, squash) => {
      const d = squash ? Uint8Array.from(data, (b) => b & 1) : data;
      assert.ok(decompress('lz4', compress('lz4', d), d.length).equals(Buffer.from(d)));
    }),
    { numRuns: 200 },
  );
});

test('zstd frame made by the zstd tool decodes; detection by magic; truncation and limit are EBADMSG', () => {
  const frame = fs.readFileSync(path.join(V, 'klog-zstdcli3.zst'));
  assert.equal(detectAlgorithm(frame), 'zstd');
  assert.equal(detectAlgorithm(deflateRaw(klog)), undefined);
  assert.ok(decompress('zstd', frame, 1 << 20).equals(klog));
  assert.throws(() => zstdDecompress(frame.subarray(0, frame.length - 5), 1 << 20), (e: unknown) => isPstoreError(e, 'EBADMSG'));
  assert.throws(() => zstdDecompress(frame, 1000), (e: unknown) => isPstoreError(e, 'EBADMSG') && /limit/.test((e as Error).message));
  assert.throws(() => zstdDecompress(Buffer.from('not zstd'), 1000), (e: unknown) => isPstoreError(e, 'EBADMSG') && /magic/.test((e as Error).message));
});

test('registry: lzo through decompress(); 842 and zstd compression are EOPNOTSUPP', () => {
  assert.deepEqual([...COMPRESSION_ALGORITHMS], ['deflate', 'lzo', 'lz4', 'lz4hc', 'zstd', '842']);
  const lzo = fs.readFileSync(path.join(V, 'klog-lzop1.lzo1x'));
  assert.ok(decompress('lzo', lzo, 1 << 20).equals(klog));
  assert.throws(() => decompress('842', Buffer.from([1, 2, 3]), 100), (e: unknown) => isPstoreError(e, 'EOPNOTSUPP'));
  assert.throws(() => compress('zstd', klog), (e: unknown) => isPstoreError(e, 'EOPNOTSUPP'));
  assert.throws(() => compress('842', klog), (e: unknown) => isPstoreError(e, 'EOPNOTSUPP'));
  // a deflate stream is not LZO
  assert.throws(() => decompress('lzo', deflateRaw(klog), 1 << 20), (e: unknown) => isPstoreError(e, 'EBADMSG'));
});
