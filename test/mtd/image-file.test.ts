import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import {
  FlashSimulator,
  ImageFileDevice,
  createImage,
  detectOobLayout,
  expandSkipbadImage,
} from '../../src/mtd/index.js';
import { pattern, throwsCode } from './helpers.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixtures = path.resolve(repoRoot, '../shared/fixtures');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mtd-image-test-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let seq = 0;
function tmpFile(name: string, content?: Uint8Array): string {
  const p = path.join(tmp, `${seq++}-${name}`);
  if (content) fs.writeFileSync(p, content);
  return p;
}
function sha(p: string): string {
  return createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}

const W = 2048;
const O = 64;
const E = 8 * W;
const BLOCKS = 6;
const SIZE = BLOCKS * E;
const geo = { type: 'nand' as const, erasesize: E, writesize: W, oobsize: O };

/** A simulator with data in several blocks and bad block 3 (marker in OOB). */
function populated(): FlashSimulator {
  const s = new FlashSimulator({ ...geo, size: SIZE, badBlocks: [3] });
  s.write(0, pattern(3 * W, 1));
  s.write(E + 5 * W, pattern(2 * W, 2));
  s.write(4 * E, pattern(E, 3));
  s.write(5 * E + 7 * W, pattern(W, 4));
  return s;
}

test('an OOB-interleaved image reads the same as its raw twin; bad block from the OOB marker', () => {
  const s = populated();
  const raw = tmpFile('raw.img', s.exportImage());
  const oob = tmpFile('oob.img', s.exportImage({ oob: true }));
  assert.equal(fs.statSync(oob).size, (SIZE / W) * (W + O));
  const a = ImageFileDevice.open(raw, { geometry: geo, badBlocks: [3] });
  const b = ImageFileDevice.open(oob, { geometry: geo });
  assert.equal(a.layout, 'raw');
  assert.equal(b.layout, 'oob', 'layout detected from the file length');
  assert.deepEqual({ ...b.geometry, name: '' }, { ...a.geometry, name: '' });
  assert.equal(a.geometry.name, raw, 'the file path names the device by default');
  assert.equal(b.geometry.size, SIZE, 'size inferred');
  assert.deepEqual(b.badBlocks(), [3], 'bad block found from the OOB marker');
  for (let blk = 0; blk < BLOCKS; blk++) assert.equal(a.isBad(blk * E), b.isBad(blk * E));
  assert.deepEqual(b.read(0, SIZE).data, a.read(0, SIZE).data);
  assert.deepEqual(a.read(0, SIZE).data, s.read(0, SIZE).data);
  // Unaligned slices crossing page and block boundaries.
  for (const [off, len] of [[W - 3, 10], [E - 100, 300], [1, SIZE - 2], [4 * E + 123, 4567], [SIZE - 1, 1]]) {
    assert.deepEqual(b.read(off, len).data, a.read(off, len).data, `slice ${off}+${len}`);
  }
  assert.equal(b.readOob(3 * 8)[0], 0x00);
  assert.ok(b.readOob(0).every((x) => x === 0xff));
  a.close();
  b.close();
  // Without scanning markers the OOB image has no bad blocks; a marker in the 2nd page is found only on request.
  const edited = Buffer.from(s.exportImage({ oob: true }));
  edited[(1 * 8 + 1) * (W + O) + W] = 0x00; // block 1, page 1, OOB byte 0
  const p2 = tmpFile('second.img', edited);
  const c = ImageFileDevice.open(p2, { geometry: geo, scanOobMarkers: false });
  assert.deepEqual(c.badBlocks(), []);
  c.close();
  const d = ImageFileDevice.open(p2, { geometry: geo });
  assert.deepEqual(d.badBlocks(), [3]);
  d.close();
  const e = ImageFileDevice.open(p2, { geometry: geo, checkSecondPage: true });
  assert.deepEqual(e.badBlocks(), [1, 3]);
  e.close();
});

test('reads never modify the file', () => {
  const s = populated();
  for (const [name, img, oob] of [['r', s.exportImage(), false], ['o', s.exportImage({ oob: true }), true]] as const) {
    const p = tmpFile(`${name}.img`, img);
    const before = sha(p);
    const mtime = fs.statSync(p).mtimeMs;
    const dev = ImageFileDevice.open(p, { geometry: geo, oob });
    for (let off = 0; off < SIZE; off += 3001) dev.read(off, Math.min(5000, SIZE - off));
    for (let b = 0; b < BLOCKS; b++) dev.isBad(b * E);
    dev.sync();
    dev.close();
    assert.equal(sha(p), before);
    assert.equal(fs.statSync(p).mtimeMs, mtime);
  }
});

test('read-only by default: writes, erases and markBad throw EROFS and leave the file intact', () => {
  const p = tmpFile('ro.img', populated().exportImage());
  const before = sha(p);
  const dev = ImageFileDevice.open(p, { geometry: geo });
  throwsCode(() => dev.write(0, Buffer.alloc(W)), 'EROFS', /read-only/);
  throwsCode(() => dev.panicWrite(0, Buffer.alloc(W)), 'EROFS');
  throwsCode(() => dev.erase(0), 'EROFS');
  throwsCode(() => dev.markBad(0), 'EROFS');
  dev.close();
  throwsCode(() => dev.read(0, 1), 'EINVAL', /closed/);
  assert.equal(sha(p), before);
});

test('writable image: program ANDs, erase fills 0xFF (data and OOB), bad blocks refuse, markBad persists in OOB', () => {
  const s = populated();
  const p = tmpFile('rw.img', s.exportImage({ oob: true }));
  const dev = ImageFileDevice.open(p, { geometry: geo, writable: true });
  dev.write(2 * E, Buffer.alloc(W, 0xf0));
  dev.write(2 * E, Buffer.alloc(W, 0x3c));
  assert.ok(dev.read(2 * E, W).data.every((x) => x === 0x30));
  assert.equal(dev.panicWrite(2 * E + W, pattern(W, 9)), W);
  throwsCode(() => dev.write(3 * E, Buffer.alloc(W)), 'EIO', /bad block 3/);
  throwsCode(() => dev.erase(3 * E), 'EIO');
  throwsCode(() => dev.write(5, Buffer.alloc(W)), 'EINVAL', /page-aligned/);
  throwsCode(() => dev.erase(W), 'EINVAL', /erasesize/);
  dev.erase(0);
  assert.ok(dev.read(0, E).data.every((x) => x === 0xff));
  dev.markBad(5 * E);
  dev.sync();
  dev.close();
  // The raw bytes on disk: page 0's OOB is 0xFF, the data of block 2 is ANDed, block 5 carries a marker.
  const img = fs.readFileSync(p);
  assert.ok(img.subarray(0, 8 * (W + O)).every((x) => x === 0xff));
  assert.equal(img[2 * 8 * (W + O)], 0x30);
  assert.equal(img[5 * 8 * (W + O) + W], 0x00);
  const again = ImageFileDevice.open(p, { geometry: geo });
  assert.deepEqual(again.badBlocks(), [3, 5]);
  assert.deepEqual(again.read(E + 5 * W, 2 * W).data, pattern(2 * W, 2), 'untouched data kept');
  again.close();
  // Plain overwrite when flash semantics are off.
  const q = tmpFile('plain.img', Buffer.alloc(4 * E, 0));
  const plain = ImageFileDevice.open(q, { geometry: { ...geo, oobsize: 0 }, writable: true, flashSemantics: false });
  plain.write(0, Buffer.alloc(W, 0xab));
  assert.ok(plain.read(0, W).data.every((x) => x === 0xab));
  plain.close();
});

test('NOR image: byte writes with AND, no bad blocks, markBad EOPNOTSUPP', () => {
  const p = tmpFile('nor.img', Buffer.alloc(4096, 0xff));
  const dev = ImageFileDevice.open(p, { geometry: { type: 'nor', erasesize: 1024 }, writable: true });
  assert.equal(dev.geometry.writesize, 1);
  dev.write(7, Buffer.from([0x0f, 0xf0]));
  dev.write(8, Buffer.from([0x1f]));
  assert.deepEqual([...dev.read(6, 4).data], [0xff, 0x0f, 0x10, 0xff]);
  assert.equal(dev.isBad(1024), false);
  throwsCode(() => dev.markBad(0), 'EOPNOTSUPP');
  dev.close();
});

test('createImage writes an all-0xFF file of the right size (raw and OOB, with markers)', () => {
  const raw = tmpFile('new-raw.img');
  createImage(raw, { ...geo, size: SIZE });
  const r = fs.readFileSync(raw);
  assert.equal(r.length, SIZE);
  assert.ok(r.every((x) => x === 0xff));
  throwsCode(() => createImage(raw, { ...geo, size: SIZE }), 'EEXIST', /overwrite/);
  createImage(raw, { ...geo, size: 2 * E }, { overwrite: true });
  assert.equal(fs.statSync(raw).size, 2 * E);

  const oob = tmpFile('new-oob.img');
  createImage(oob, { ...geo, size: SIZE }, { oob: true, badBlocks: [2] });
  const o = fs.readFileSync(oob);
  assert.equal(o.length, (SIZE / W) * (W + O));
  const zeros = [...o.entries()].filter(([, v]) => v !== 0xff).map(([i]) => i);
  assert.deepEqual(zeros, [2 * 8 * (W + O) + W], 'only the bad-block marker is not 0xFF');
  const dev = ImageFileDevice.open(oob, { geometry: geo });
  assert.deepEqual(dev.badBlocks(), [2]);
  dev.close();
  // Same as a fresh simulator's export.
  const sim = new FlashSimulator({ ...geo, size: SIZE, badBlocks: [2] });
  assert.deepEqual(o, sim.exportImage({ oob: true }));
  throwsCode(() => createImage(tmpFile('x.img'), { ...geo, size: SIZE }, { badBlocks: [1] }), 'EINVAL', /raw image cannot carry/);
  throwsCode(() => createImage(tmpFile('y.img'), { ...geo, size: SIZE + 5 }), 'EINVAL', /multiple of erasesize/);
});

test('detectOobLayout tells raw, OOB-interleaved, ambiguous and impossible sizes apart', () => {
  assert.equal(detectOobLayout(SIZE, W, O, E).layout, 'raw');
  const g = detectOobLayout((SIZE / W) * (W + O), W, O, E);
  assert.equal(g.layout, 'oob');
  assert.equal(g.oobDataSize, SIZE);
  // 33 raw blocks of 128 KiB = 32 interleaved blocks of 64 × 2112.
  const amb = detectOobLayout(33 * 131072, 2048, 64, 131072);
  assert.equal(amb.layout, 'ambiguous');
  assert.equal(amb.oobDataSize, 32 * 131072);
  assert.equal(detectOobLayout(12345, W, O, E).layout, 'none');
  assert.equal(detectOobLayout(SIZE, W, 0, E).oobFits, false);
});

test('file length not matching the geometry: EINVAL naming the sizes and the option to pass', () => {
  const s = populated();
  const oob = tmpFile('mismatch-oob.img', s.exportImage({ oob: true }));
  throwsCode(
    () => ImageFileDevice.open(oob, { geometry: { ...geo, size: SIZE }, oob: false }),
    'EINVAL',
    new RegExp(String((SIZE / W) * (W + O))),
    /--oob/,
  );
  const odd = tmpFile('odd.img', Buffer.alloc(E + 100, 0xff));
  throwsCode(() => ImageFileDevice.open(odd, { geometry: geo }), 'EINVAL', new RegExp(String(E + 100)), /--erasesize/);
  const raw = tmpFile('short.img', s.exportImage());
  throwsCode(() => ImageFileDevice.open(raw, { geometry: { ...geo, size: 2 * SIZE }, oob: false }), 'EINVAL', new RegExp(`size ${2 * SIZE}`));
  const amb = tmpFile('amb.img', Buffer.alloc(33 * 131072, 0xff));
  throwsCode(() => ImageFileDevice.open(amb, { geometry: { erasesize: 131072, writesize: 2048, oobsize: 64 } }), 'EINVAL', /--oob or --no-oob/);
  const byRaw = ImageFileDevice.open(amb, { geometry: { erasesize: 131072, writesize: 2048, oobsize: 64, size: 33 * 131072 } });
  assert.equal(byRaw.layout, 'raw', 'the size decides an ambiguous length');
  byRaw.close();
  throwsCode(() => ImageFileDevice.open(path.join(tmp, 'missing.img'), { geometry: geo }), 'ENOENT', /missing\.img/);
  throwsCode(() => ImageFileDevice.open(tmp, { geometry: geo }), 'EINVAL', /not a regular file/);
  throwsCode(() => ImageFileDevice.open(raw, { geometry: { erasesize: E } }), 'EINVAL', /--writesize/);
});

test('nanddump skipbad dumps: bad blocks re-inserted, offsets physical again (device option and file helper)', () => {
  const s = populated(); // bad block 3
  const full = s.exportImage();
  const fullOob = s.exportImage({ oob: true });
  const skip = Buffer.concat([full.subarray(0, 3 * E), full.subarray(4 * E)]);
  const sb = 8 * (W + O);
  const skipOob = Buffer.concat([fullOob.subarray(0, 3 * sb), fullOob.subarray(4 * sb)]);
  const p = tmpFile('skip.img', skip);
  const q = tmpFile('skip-oob.img', skipOob);
  const dev = ImageFileDevice.open(p, { geometry: geo, skippedBadBlocks: [3] });
  assert.equal(dev.geometry.size, SIZE);
  assert.deepEqual(dev.read(0, SIZE).data, full);
  assert.equal(dev.isBad(3 * E), true);
  dev.close();
  const devOob = ImageFileDevice.open(q, { geometry: geo, oob: true, skippedBadBlocks: [3] });
  assert.deepEqual(devOob.read(0, SIZE).data, full);
  devOob.close();
  // Without the list, offsets after the bad block are shifted: the data differs.
  const shifted = ImageFileDevice.open(p, { geometry: geo });
  assert.notDeepEqual(shifted.read(4 * E, E).data, full.subarray(4 * E, 5 * E));
  shifted.close();
  // A wrong count of skipped blocks is caught when the size is known.
  throwsCode(() => ImageFileDevice.open(p, { geometry: { ...geo, size: SIZE } }), 'EINVAL', /skipbad/);

  const out = tmpFile('expanded.img');
  assert.deepEqual(expandSkipbadImage(p, out, geo, [3]), { blocks: BLOCKS, inserted: 1 });
  assert.deepEqual(fs.readFileSync(out), full);
  const outOob = tmpFile('expanded-oob.img');
  expandSkipbadImage(q, outOob, geo, [3], { oob: true });
  assert.deepEqual(fs.readFileSync(outOob), fullOob, 'bad block back as 0xFF with its 0x00 marker');
  throwsCode(() => expandSkipbadImage(p, out, geo, [3]), 'EEXIST');
});

test('kernel-written mtdpstore image: file device and simulator agree, programmed pages are detected', () => {
  const dir = path.join(fixtures, 'mtdpstore-small-wrap');
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as {
    geometry: { size: number; erasesize: number; writesize: number; oobsize: number; name: string };
  };
  const g = meta.geometry;
  const img = gunzipSync(fs.readFileSync(path.join(dir, 'images', 's1-8oops.img.gz')));
  assert.equal(img.length, g.size);
  const p = tmpFile('fixture.img', img);
  const dev = ImageFileDevice.open(p, { geometry: { type: 'nand', erasesize: g.erasesize, writesize: g.writesize, oobsize: g.oobsize, name: g.name } });
  assert.equal(dev.layout, 'raw');
  assert.equal(dev.geometry.size, g.size);
  assert.deepEqual(dev.read(0, g.size).data, img);
  assert.match(dev.read(0, g.size).data.toString('latin1'), /Oops/);
  dev.close();
  const sim = FlashSimulator.fromImage(img, { type: 'nand', erasesize: g.erasesize, writesize: g.writesize, oobsize: g.oobsize });
  assert.deepEqual(sim.exportImage(), img);
  let programmed = 0;
  let firstFree = -1;
  let firstUsed = -1;
  for (let pg = 0; pg < g.size / g.writesize; pg++) {
    const page = img.subarray(pg * g.writesize, (pg + 1) * g.writesize);
    const used = page.some((x) => x !== 0xff);
    assert.equal(sim.programCount(pg), used ? 1 : 0);
    if (used) {
      programmed++;
      if (firstUsed < 0) firstUsed = pg;
    } else if (firstFree < 0) firstFree = pg;
  }
  assert.ok(programmed > 0 && firstUsed >= 0);
  throwsCode(() => sim.write(firstUsed * g.writesize, Buffer.alloc(g.writesize, 0)), 'EIO', /already programmed/);
  if (firstFree >= 0) sim.write(firstFree * g.writesize, Buffer.alloc(g.writesize, 0));
});
