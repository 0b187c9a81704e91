import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { ERRNO, isPstoreError } from '../../src/errors.js';
import type { ZoneBackend } from '../../src/zone/backend.js';
import { BlockZoneBackend } from '../../src/zone/block-backend.js';
import { PstoreZone } from '../../src/zone/engine.js';
import { kmsgOnlyLayout } from '../../src/zone/layout.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = path.resolve(repoRoot, '../shared/fixtures');

function tmpFile(content: Buffer): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'psz-blk-'));
  const p = path.join(dir, 'disk.img');
  fs.writeFileSync(p, content);
  return p;
}

test('Buffer source: reads and writes in place, short counts at the end, read-only by default', () => {
  const mem = Buffer.from([0, 1, 2, 3, 4, 5, 6, 7]);
  const ro = new BlockZoneBackend(mem);
  assert.equal(ro.totalSize, 8);
  const b = Buffer.alloc(4);
  assert.equal(ro.read(b, 6), 2);
  assert.deepEqual([...b.subarray(0, 2)], [6, 7]);
  assert.equal(ro.read(b, 8), 0);
  assert.equal(ro.read(b, -1), -ERRNO.EINVAL);
  assert.equal(ro.write(b, 0), -ERRNO.EROFS);
  const asZone: ZoneBackend = ro;
  assert.equal(asZone.erase, undefined, 'no erase operation: removal rewrites the header');
  assert.equal(asZone.panicWrite, undefined, 'no panic_write (pstore/blk v5.14+)');

  const rw = new BlockZoneBackend(mem, { writable: true });
  assert.equal(rw.write(Buffer.from([9, 9, 9]), 6), 2);
  assert.deepEqual([...mem], [0, 1, 2, 3, 4, 5, 9, 9]);
  rw.atomicContext = true;
  assert.equal(rw.write(Buffer.from([1]), 0), -ERRNO.EBUSY);
});

test('file source: positional I/O, no growth past the end, clear errors', () => {
  const p = tmpFile(Buffer.alloc(4096, 0xab));
  try {
    assert.throws(() => new BlockZoneBackend(p + '.missing'), (e: unknown) => isPstoreError(e, 'ENOENT') && /cannot open/.test((e as Error).message));
    const ro = new BlockZoneBackend(p);
    assert.equal(ro.totalSize, 4096);
    assert.equal(ro.write(Buffer.alloc(1), 0), -ERRNO.EROFS);
    ro.close();

    const rw = new BlockZoneBackend(p, { writable: true });
    assert.equal(rw.write(Buffer.from('hello'), 100), 5);
    assert.equal(rw.write(Buffer.alloc(10, 1), 4090), 6);
    const b = Buffer.alloc(10);
    assert.equal(rw.read(b, 100), 10);
    assert.equal(b.subarray(0, 5).toString(), 'hello');
    assert.equal(rw.read(b, 4094), 2);
    rw.close();
    assert.equal(rw.read(b, 0), -ERRNO.EIO);
    assert.equal(fs.statSync(p).size, 4096, 'the file was not extended');
    assert.equal(fs.readFileSync(p).subarray(100, 105).toString(), 'hello');

    const sized = new BlockZoneBackend(p, { size: 2048 });
    assert.equal(sized.totalSize, 2048);
    assert.equal(sized.read(Buffer.alloc(16), 2040), 8);
    sized.close();
  } finally {
    fs.rmSync(path.dirname(p), { recursive: true, force: true });
  }
});

test('an engine over a fixture image file lists the same records as over the Buffer', () => {
  const img = zlib.gunzipSync(fs.readFileSync(path.join(FIXTURES, 'blk-plain/images/s2-rm0-7oops-wrap.img.gz')));
  const p = tmpFile(img);
  try {
    const layout = kmsgOnlyLayout(img.length, 65536);
    const be = new BlockZoneBackend(p);
    const fromFile = new PstoreZone(be, { layout, abi: { cls: 'lp64', endian: 'le' } }).read();
    be.close();
    const fromMem = new PstoreZone(new BlockZoneBackend(img), { layout, abi: { cls: 'lp64', endian: 'le' } }).read();
    assert.ok(fromFile.ok && fromMem.ok);
    assert.equal(fromFile.records.length, 8);
    assert.deepEqual(fromFile.records, fromMem.records);
  } finally {
    fs.rmSync(path.dirname(p), { recursive: true, force: true });
  }
});
