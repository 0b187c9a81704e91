import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlashSimulator, type SimulatorOptions } from '../../src/mtd/index.js';
import { pattern, throwsCode } from './helpers.js';

const W = 2048;
const E = 4 * W;
const SIZE = 8 * E;

function nand(extra: Partial<SimulatorOptions> = {}): FlashSimulator {
  return new FlashSimulator({ type: 'nand', size: SIZE, erasesize: E, writesize: W, oobsize: 64, ...extra });
}

function nor(extra: Partial<SimulatorOptions> = {}): FlashSimulator {
  return new FlashSimulator({ type: 'nor', size: 4096, erasesize: 1024, ...extra });
}

function bitDiff(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    let x = a[i] ^ b[i];
    while (x) {
      n += x & 1;
      x >>= 1;
    }
  }
  return n;
}

test('fresh device is erased (0xFF) and geometry is as given', () => {
  const s = nand({ name: 'pstore', index: 3 });
  assert.deepEqual(s.geometry, { name: 'pstore', index: 3, type: 'nand', size: SIZE, erasesize: E, writesize: W, oobsize: 64 });
  const r = s.read(0, SIZE);
  assert.equal(r.retlen, SIZE);
  assert.equal(r.status, 'ok');
  assert.ok(r.data.every((b) => b === 0xff));
  assert.ok(s.readOob(0).every((b) => b === 0xff));
});

test('NAND: a second program of a page is refused with EIO and leaves the data unchanged', () => {
  const s = nand();
  const a = pattern(W, 1);
  assert.equal(s.write(W, a), W);
  assert.equal(s.programCount(1), 1);
  throwsCode(() => s.write(W, Buffer.alloc(W, 0)), 'EIO', /page 1 \(0x800\)/, /nop 1/, /erase/);
  assert.deepEqual(s.read(W, W).data, a);
  assert.equal(s.read(W, W).status, 'ok');
  // Even an all-0xFF program counts as a program of the page.
  s.write(2 * W, Buffer.alloc(W, 0xff));
  throwsCode(() => s.write(2 * W, a), 'EIO');
  assert.ok(s.read(2 * W, W).data.every((b) => b === 0xff));
});

test('NAND: a multi-page program stops at the failing page; earlier pages stay programmed', () => {
  const s = nand();
  s.write(2 * W, pattern(W, 9)); // page 2 already programmed
  const data = pattern(3 * W, 5);
  throwsCode(() => s.write(W, data), 'EIO', /page 2/);
  assert.deepEqual(s.read(W, W).data, data.subarray(0, W));
  assert.deepEqual(s.read(2 * W, W).data, pattern(W, 9));
  assert.ok(s.read(3 * W, W).data.every((b) => b === 0xff), 'page after the failing one untouched');
});

test('NAND with nop > 1: partial programs AND, a 0 bit never returns to 1, program nop+1 is refused', () => {
  const s = nand({ nop: 2 });
  s.write(0, Buffer.alloc(W, 0xf0));
  s.write(0, Buffer.alloc(W, 0x3c));
  assert.ok(s.read(0, W).data.every((b) => b === 0x30));
  throwsCode(() => s.write(0, Buffer.alloc(W, 0xff)), 'EIO', /already programmed 2 time/);
  assert.ok(s.read(0, W).data.every((b) => b === 0x30));
  s.write(W, Buffer.alloc(W, 0x00));
  s.write(W, Buffer.alloc(W, 0xff)); // cannot set bits back
  assert.ok(s.read(W, W).data.every((b) => b === 0x00));
});

test('NAND overProgram "and": a reprogram is accepted, ANDed, and the page then reads uncorrectable', () => {
  const s = nand({ overProgram: 'and' });
  s.write(0, Buffer.alloc(W, 0xf0));
  s.write(W, Buffer.alloc(W, 0xf0));
  s.write(0, Buffer.alloc(W, 0x0f));
  const r = s.read(0, W);
  assert.equal(r.status, 'EBADMSG');
  assert.ok(r.data.every((b) => b === 0x00));
  s.write(W, Buffer.alloc(W, 0xf0)); // same bytes again: ECC still consistent
  assert.equal(s.read(W, W).status, 'ok');
  s.erase(0);
  assert.equal(s.read(0, W).status, 'ok');
});

test('erase restores 0xFF and makes pages programmable again', () => {
  const s = nand();
  s.write(E, pattern(E, 3));
  s.write(0, pattern(W, 4));
  s.erase(E);
  assert.ok(s.read(E, E).data.every((b) => b === 0xff));
  assert.deepEqual(s.read(0, W).data, pattern(W, 4), 'other blocks untouched');
  s.write(E, pattern(W, 7));
  assert.deepEqual(s.read(E, W).data, pattern(W, 7));
  s.erase(0, 2 * E);
  assert.ok(s.read(0, 2 * E).data.every((b) => b === 0xff));
  s.erase(0, 0); // zero length: nothing
});

test('unaligned and out-of-range calls throw EINVAL naming the numbers', () => {
  const s = nand();
  throwsCode(() => s.write(100, Buffer.alloc(W)), 'EINVAL', /0x64/, /writesize 2048/, /offset % 2048 = 100/);
  throwsCode(() => s.write(0, Buffer.alloc(100)), 'EINVAL', /length % 2048 = 100/);
  throwsCode(() => s.write(SIZE, Buffer.alloc(W)), 'EINVAL', /outside/, new RegExp(`size ${SIZE}`));
  throwsCode(() => s.read(SIZE - 10, 20), 'EINVAL', /20 bytes at 0xfff6/, /0x10000/);
  throwsCode(() => s.read(-1, 1), 'EINVAL');
  throwsCode(() => s.erase(W), 'EINVAL', /erasesize 8192/, /offset % 8192 = 2048/);
  throwsCode(() => s.erase(0, E + 1), 'EINVAL', /length % 8192 = 1/);
  throwsCode(() => s.erase(SIZE), 'EINVAL', /outside/);
  throwsCode(() => s.isBad(SIZE), 'EINVAL', /0x10000/);
  throwsCode(() => s.panicWrite(1, Buffer.alloc(W)), 'EINVAL', /panic write/);
  assert.equal(s.opCount, 0, 'refused calls are not operations');
  assert.equal(s.stats.programs + s.stats.erases + s.stats.reads, 0);
});

test('bad geometry is refused with EINVAL naming the numbers', () => {
  throwsCode(() => new FlashSimulator({ type: 'nand', size: 10000, erasesize: E, writesize: W }), 'EINVAL', /10000/, /8192/);
  throwsCode(() => new FlashSimulator({ type: 'nand', size: SIZE, erasesize: E }), 'EINVAL', /writesize/);
  throwsCode(() => new FlashSimulator({ type: 'nand', size: SIZE, erasesize: 3000, writesize: W }), 'EINVAL', /3000/);
  throwsCode(() => new FlashSimulator({ type: 'nor', size: 4096, erasesize: 1024, oobsize: 16 }), 'EINVAL', /only NAND has OOB/);
  throwsCode(() => nor({ badBlocks: [1] }), 'EINVAL', /only NAND/);
  throwsCode(() => nand({ badBlocks: [8] }), 'EINVAL', /block 8/);
});

test('factory bad blocks: isBad, OOB marker, program and erase fail with EIO', () => {
  const s = nand({ badBlocks: [2, 5] });
  assert.deepEqual(s.badBlocks(), [2, 5]);
  for (let b = 0; b < 8; b++) assert.equal(s.isBad(b * E + 123), b === 2 || b === 5);
  assert.equal(s.readOob(2 * 4)[0], 0x00, 'marker in OOB byte 0 of the first page (W > 512)');
  assert.equal(s.readOob(2 * 4 + 1)[0], 0xff);
  throwsCode(() => s.write(2 * E + W, Buffer.alloc(W)), 'EIO', /bad block 2/);
  throwsCode(() => s.erase(5 * E), 'EIO', /bad block 5/);
  // A range erase stops at the bad block: the block before it was erased.
  s.write(E, Buffer.alloc(W, 0));
  throwsCode(() => s.erase(E, 2 * E), 'EIO');
  assert.ok(s.read(E, W).data.every((b) => b === 0xff));
  // Small-page NAND keeps the marker in OOB byte 5.
  const small = new FlashSimulator({ type: 'nand', size: 64 * 512, erasesize: 32 * 512, writesize: 512, oobsize: 16, badBlocks: [1] });
  assert.equal(small.readOob(32)[5], 0x00);
  assert.equal(small.readOob(32)[0], 0xff);
});

test('markBad: grown bad block on NAND; NOR/RAM have none (isBad false, markBad EOPNOTSUPP)', () => {
  const s = nand();
  assert.equal(s.isBad(4 * E), false);
  s.markBad(4 * E + 5);
  assert.equal(s.isBad(4 * E), true);
  assert.equal(s.readOob(16)[0], 0x00);
  throwsCode(() => s.write(4 * E, Buffer.alloc(W)), 'EIO');
  const n = nor();
  for (let off = 0; off < 4096; off += 1024) assert.equal(n.isBad(off), false);
  throwsCode(() => n.markBad(0), 'EOPNOTSUPP');
  const r = new FlashSimulator({ type: 'ram', size: 4096, erasesize: 1024 });
  throwsCode(() => r.markBad(0), 'EOPNOTSUPP');
  assert.equal(r.isBad(0), false);
});

test('blocks wear out: after N erases the next erase fails with EIO and the block turns bad', () => {
  const s = nand({ faults: { wearOut: [{ block: 1, erases: 2 }], maxErases: 3 } });
  s.erase(E);
  s.erase(E);
  assert.equal(s.isBad(E), false);
  s.write(E, Buffer.alloc(W, 0x55));
  throwsCode(() => s.erase(E), 'EIO', /worn out after 2 erases/);
  assert.equal(s.isBad(E), true);
  assert.ok(s.read(E, W).data.every((b) => b === 0x55), 'failed erase leaves the data');
  throwsCode(() => s.erase(E), 'EIO', /bad block 1/);
  throwsCode(() => s.write(E + W, Buffer.alloc(W)), 'EIO');
  // Global endurance for every other block.
  for (let i = 0; i < 3; i++) s.erase(0);
  throwsCode(() => s.erase(0), 'EIO', /worn out after 3/);
  assert.deepEqual(s.badBlocks(), [0, 1]);
  assert.equal(s.stats.erasesPerBlock[0], 3);
  assert.equal(s.stats.erasesPerBlock[1], 2);
});

test('ECC: bitflips up to the threshold are silent, from it EUCLEAN, above strength EBADMSG with raw data', () => {
  const s = nand(); // default ECC: strength 4 per 512 bytes, threshold 3
  assert.deepEqual({ ...s.ecc }, { strength: 4, stepSize: 512, bitflipThreshold: 3 });
  const d = pattern(W, 11);
  s.write(0, d);
  s.injectBitflip(10, 0);
  let r = s.read(0, W);
  assert.equal(r.status, 'ok');
  assert.equal(r.corrected, 1);
  assert.deepEqual(r.data, d);
  s.injectBitflip(20, 7);
  s.injectBitflip(30, 3);
  r = s.read(0, W);
  assert.equal(r.status, 'EUCLEAN');
  assert.equal(r.corrected, 3);
  assert.deepEqual(r.data, d, 'corrected data is the programmed data');
  s.injectBitflip(40, 1);
  assert.equal(s.read(0, W).status, 'EUCLEAN');
  s.injectBitflip(50, 2); // 5 flips in step 0 > strength 4
  r = s.read(0, W);
  assert.equal(r.status, 'EBADMSG');
  assert.equal(bitDiff(r.data, d), 5);
  assert.equal(r.data[10], d[10] ^ 0x01);
  assert.equal(r.data[50], d[50] ^ 0x04);
  // A read that does not cover the bad step's bytes still reports the page status.
  assert.equal(s.read(1500, 10).status, 'EBADMSG');
  // Flips spread over steps: 3 + 2 is correctable.
  s.write(W, d);
  for (const off of [W + 1, W + 2, W + 3, W + 600, W + 601]) s.injectBitflip(off, 4);
  r = s.read(W, W);
  assert.equal(r.status, 'EUCLEAN');
  assert.equal(r.corrected, 5);
  assert.deepEqual(r.data, d);
  // Flipping an injected bit again restores it.
  s.injectBitflip(W + 1, 4);
  assert.equal(s.read(W, W).corrected, 4);
  // Erase clears stored flips.
  s.erase(0);
  r = s.read(0, W);
  assert.equal(r.status, 'ok');
  assert.equal(r.corrected, 0);
});

test('ECC: bitflips in an erased page read as 0xFF (corrected)', () => {
  const s = nand();
  s.injectBitflip(3 * W + 7, 2);
  const r = s.read(3 * W, W);
  assert.equal(r.status, 'ok');
  assert.equal(r.corrected, 1);
  assert.ok(r.data.every((b) => b === 0xff));
});

test('random read bitflips: EUCLEAN with correct data; uncorrectable events: EBADMSG with corrupt data', () => {
  const d = pattern(E, 21);
  const s = nand({ seed: 7, faults: { bitflipRate: 1 } });
  s.write(0, d);
  for (let i = 0; i < 5; i++) {
    const r = s.read(0, E);
    assert.equal(r.status, 'EUCLEAN');
    assert.equal(r.corrected, 4 * 3, 'one event of threshold (3) bits per page');
    assert.deepEqual(r.data, d);
  }
  assert.equal(s.stats.eccCorrected, 5 * 12);
  const u = nand({ seed: 7, faults: { uncorrectableRate: 1 } });
  u.write(0, d);
  const r = u.read(0, W);
  assert.equal(r.status, 'EBADMSG');
  assert.equal(bitDiff(r.data, d.subarray(0, W)), 5, 'strength + 1 bits flipped');
  assert.deepEqual(u.read(0, W).data.length, W);
  assert.deepEqual(u.exportImage().subarray(0, W), d.subarray(0, W), 'transient: the stored data is intact');
});

test('uncorrectable pages (config and setUncorrectable): EBADMSG, same corrupt data each read, survives erase until cleared', () => {
  const s = nand({ faults: { uncorrectablePages: [1] } });
  const d = pattern(W, 2);
  s.write(W, d);
  const r1 = s.read(W, W);
  const r2 = s.read(W, W);
  assert.equal(r1.status, 'EBADMSG');
  assert.equal(bitDiff(r1.data, d), 5);
  assert.deepEqual(r1.data, r2.data);
  assert.equal(s.stats.eccFailed, 2);
  s.erase(0);
  assert.equal(s.read(W, W).status, 'EBADMSG');
  s.setUncorrectable(1, false);
  assert.equal(s.read(W, W).status, 'ok');
  s.setUncorrectable(6, true);
  assert.equal(s.read(6 * W, 1).status, 'EBADMSG');
  assert.equal(s.read(5 * W, W).status, 'ok');
  throwsCode(() => nor().setUncorrectable(0, true), 'EOPNOTSUPP');
});

test('pages fail with EIO after N reads', () => {
  const s = nand({ faults: { readFailures: [{ page: 1, reads: 2 }] } });
  s.read(0, 2 * W);
  s.read(W + 5, 1);
  throwsCode(() => s.read(W, 1), 'EIO', /page 1/, /after 2 reads/);
  throwsCode(() => s.read(0, 3 * W), 'EIO');
  assert.equal(s.read(0, W).status, 'ok', 'other pages still read');
});

test('injected erase and program failures leave the flash unchanged', () => {
  const s = nand({ faults: { eraseFailBlocks: [3], programFailPages: [6] } });
  s.write(3 * E, Buffer.alloc(W, 0x12));
  throwsCode(() => s.erase(3 * E), 'EIO', /block 3/);
  assert.ok(s.read(3 * E, W).data.every((b) => b === 0x12));
  assert.equal(s.isBad(3 * E), false, 'an erase failure does not mark the block bad');
  throwsCode(() => s.write(5 * W, Buffer.alloc(3 * W, 0)), 'EIO', /page 6/);
  assert.ok(s.read(5 * W, W).data.every((b) => b === 0));
  assert.ok(s.read(6 * W, 2 * W).data.every((b) => b === 0xff));
  assert.equal(s.programCount(6), 0);
});

test('failure rates are drawn from the seed: same seed, same outcomes', () => {
  const outcomes = (seed: number): string => {
    const s = nand({ seed, faults: { eraseFailRate: 0.3, programFailRate: 0.2, bitflipRate: 0.3 } });
    let out = '';
    for (let i = 0; i < 40; i++) {
      try {
        s.erase((i % 8) * E);
        out += 'e';
      } catch {
        out += 'E';
      }
      try {
        s.write((i % 8) * E, Buffer.alloc(W, i));
        out += 'w';
      } catch {
        out += 'W';
      }
      out += s.read((i % 8) * E, W).status[0];
    }
    return out;
  };
  const a = outcomes(42);
  assert.equal(outcomes(42), a);
  assert.notEqual(outcomes(43), a);
  assert.match(a, /E/);
  assert.match(a, /e/);
  assert.match(a, /W/);
  assert.match(a, /w/);
});

test('one-shot failures: failNextRead/Write/Erase', () => {
  const s = nand();
  s.write(0, Buffer.alloc(W, 0x44));
  s.failNextRead('EIO');
  throwsCode(() => s.read(0, 10), 'EIO', /injected/);
  assert.equal(s.read(0, 10).status, 'ok');
  s.failNextRead('EUCLEAN');
  let r = s.read(0, 10);
  assert.equal(r.status, 'EUCLEAN');
  assert.ok(r.data.every((b) => b === 0x44));
  s.failNextRead('EBADMSG');
  r = s.read(0, 10);
  assert.equal(r.status, 'EBADMSG');
  s.failNextWrite('EIO');
  throwsCode(() => s.write(W, Buffer.alloc(W, 0)), 'EIO');
  assert.equal(s.programCount(1), 0);
  s.write(W, Buffer.alloc(W, 0));
  s.failNextErase('EBUSY');
  throwsCode(() => s.erase(0), 'EBUSY');
  assert.ok(s.read(0, W).data.every((b) => b === 0x44));
  s.erase(0);
  assert.ok(s.read(0, W).data.every((b) => b === 0xff));
});

test('NOR: byte-programmable with AND semantics, no ECC, panic write supported unless disabled', () => {
  const s = nor();
  assert.equal(s.geometry.writesize, 1);
  s.write(3, Buffer.from([0xf0, 0xaa]));
  s.write(3, Buffer.from([0x3c]));
  s.write(4, Buffer.from([0xff])); // cannot set bits back
  assert.deepEqual([...s.read(2, 4).data], [0xff, 0x30, 0xaa, 0xff]);
  s.panicWrite(100, Buffer.from('hello'));
  assert.equal(s.read(100, 5).data.toString(), 'hello');
  s.injectBitflip(100, 0); // no ECC: the data bit itself changes
  const r = s.read(100, 1);
  assert.equal(r.status, 'ok');
  assert.equal(r.data[0], 'h'.charCodeAt(0) ^ 1);
  s.erase(0);
  assert.ok(s.read(0, 1024).data.every((b) => b === 0xff));
  throwsCode(() => nor({ panicWrite: false }).panicWrite(0, Buffer.from([0])), 'EOPNOTSUPP');
});

test('RAM: AND like NOR by default, mtdram-style overwrite on request, no panic write by default', () => {
  const r = new FlashSimulator({ type: 'ram', size: 4096, erasesize: 1024 });
  r.write(0, Buffer.from([0x0f]));
  r.write(0, Buffer.from([0xf1]));
  assert.equal(r.read(0, 1).data[0], 0x01);
  throwsCode(() => r.panicWrite(0, Buffer.from([0])), 'EOPNOTSUPP');
  const o = new FlashSimulator({ type: 'ram', size: 4096, erasesize: 1024, ramOverwrite: true, panicWrite: true });
  o.write(0, Buffer.from([0x0f]));
  o.write(0, Buffer.from([0xf1]));
  assert.equal(o.read(0, 1).data[0], 0xf1);
  o.panicWrite(1, Buffer.from([0x77]));
  assert.equal(o.read(1, 1).data[0], 0x77);
  throwsCode(() => nor({ ramOverwrite: true }), 'EINVAL', /ram/);
});

test('counters match a scripted workload exactly; resetStats zeroes them', () => {
  const s = nand();
  s.write(0, pattern(2 * W, 1)); // program call 1: 2 pages
  s.read(100, 3000); // pages 0 and 1
  s.read(0, 0);
  s.panicWrite(E, pattern(W, 2));
  throwsCode(() => s.write(0, pattern(W, 3)), 'EIO'); // counted call, nothing programmed
  throwsCode(() => s.write(1, pattern(W, 3)), 'EINVAL'); // refused before the device: not counted
  s.erase(0, 2 * E);
  s.erase(0);
  s.write(2 * W, pattern(W, 4));
  for (const off of [2 * W + 1, 2 * W + 2, 2 * W + 3]) s.injectBitflip(off, 0);
  s.read(2 * W, W);
  s.setUncorrectable(5, true);
  s.read(5 * W, W);
  const st = s.stats;
  assert.equal(st.reads, 4);
  assert.equal(st.pagesRead, 2 + 0 + 1 + 1);
  assert.equal(st.bytesRead, 3000 + 0 + W + W);
  assert.equal(st.programs, 3);
  assert.equal(st.panicWrites, 1);
  assert.equal(st.pagesProgrammed, 2 + 1 + 1);
  assert.equal(st.bytesProgrammed, 4 * W);
  assert.equal(st.erases, 2);
  assert.deepEqual([...st.erasesPerBlock], [2, 1, 0, 0, 0, 0, 0, 0]);
  assert.equal(st.eccCorrected, 3);
  assert.equal(st.eccFailed, 1);
  assert.equal(s.opCount, 6, 'write, write, panicWrite, failed write, erase, erase... counted ops');
  s.resetStats();
  assert.equal(s.stats.reads + s.stats.programs + s.stats.erases + s.stats.eccCorrected, 0);
  assert.deepEqual([...s.stats.erasesPerBlock], new Array(8).fill(0));
});

test('short reads: maxReadChunk limits retlen', () => {
  const s = nand({ maxReadChunk: 1000 });
  const r = s.read(0, 3000);
  assert.equal(r.retlen, 1000);
  assert.equal(r.data.length, 1000);
  assert.equal(s.read(0, 10).retlen, 10);
});

test('snapshot/restore returns data, counters, program counts and PRNG state', () => {
  const s = nand({ seed: 5, faults: { bitflipRate: 0.5 } });
  s.write(0, pattern(W, 1));
  const snap = s.snapshot();
  const statuses = (): string => Array.from({ length: 20 }, () => s.read(0, W).status[0]).join('');
  const first = statuses();
  s.erase(0);
  s.write(0, pattern(W, 2));
  s.restore(snap);
  assert.deepEqual(s.read(0, W).data, pattern(W, 1));
  s.restore(snap);
  assert.equal(statuses(), first, 'same PRNG position after restore');
  s.restore(snap);
  assert.equal(s.stats.programs, 1);
  assert.equal(s.opCount, 1);
  throwsCode(() => s.write(0, pattern(W, 3)), 'EIO');
  throwsCode(() => nor().restore(snap), 'EINVAL');
});

test('fromImage: all-0xFF pages are programmable, other pages count as programmed once; exportImage round-trips', () => {
  const img = Buffer.alloc(SIZE, 0xff);
  pattern(W, 1).copy(img, 0);
  img[3 * W + 17] = 0x00;
  const s = FlashSimulator.fromImage(img, { type: 'nand', erasesize: E, writesize: W, oobsize: 64 });
  assert.equal(s.geometry.size, SIZE);
  assert.deepEqual(s.exportImage(), img);
  assert.equal(s.programCount(0), 1);
  assert.equal(s.programCount(1), 0);
  assert.equal(s.programCount(3), 1);
  throwsCode(() => s.write(3 * W, Buffer.alloc(W, 0)), 'EIO');
  s.write(W, pattern(W, 2));
  assert.deepEqual(s.read(W, W).data, pattern(W, 2));
  throwsCode(() => FlashSimulator.fromImage(img, { type: 'nand', erasesize: E, writesize: W, size: 2 * SIZE }), 'EINVAL', /size/);
});

test('fromImage/exportImage with OOB: the bad-block marker travels with the image', () => {
  const s = nand({ badBlocks: [6] });
  s.write(0, pattern(E, 9));
  s.markBad(2 * E);
  const withOob = s.exportImage({ oob: true });
  assert.equal(withOob.length, (SIZE / W) * (W + 64));
  const t = FlashSimulator.fromImage(withOob, { type: 'nand', erasesize: E, writesize: W, oobsize: 64, oob: true });
  assert.deepEqual(t.badBlocks(), [2, 6]);
  assert.deepEqual(t.exportImage(), s.exportImage());
  assert.deepEqual(t.exportImage({ oob: true }), withOob);
  throwsCode(
    () => FlashSimulator.fromImage(withOob.subarray(1), { type: 'nand', erasesize: E, writesize: W, oobsize: 64, oob: true }),
    'EINVAL',
    /2112/,
  );
});

test('exportImage shows what reads show: corrected flips hidden, uncorrectable pages raw; raw shows every flip', () => {
  const s = nand();
  s.write(0, pattern(2 * W, 3));
  s.injectBitflip(5, 1);
  for (let i = 0; i < 5; i++) s.injectBitflip(W + i, 0);
  const img = s.exportImage();
  assert.deepEqual(img.subarray(0, W), pattern(W, 3));
  assert.deepEqual(img.subarray(W, 2 * W), s.read(W, W).data);
  assert.equal(bitDiff(img.subarray(W, 2 * W), pattern(2 * W, 3).subarray(W)), 5);
  assert.equal(bitDiff(s.exportImage({ raw: true }).subarray(0, W), pattern(W, 3)), 1);
});

test('close: later calls are refused', () => {
  const s = nand();
  s.close();
  throwsCode(() => s.read(0, 1), 'EINVAL', /closed/);
  throwsCode(() => s.sync(), 'EINVAL', /closed/);
});

test('a 128 MiB NAND simulator can be created and used at both ends', () => {
  const big = 128 * 1024 * 1024;
  const s = new FlashSimulator({ type: 'nand', size: big, erasesize: 128 * 1024, writesize: 2048, oobsize: 64 });
  s.write(big - 2048, pattern(2048, 1));
  assert.deepEqual(s.read(big - 2048, 2048).data, pattern(2048, 1));
  s.erase(big - 128 * 1024);
  assert.equal(s.read(big - 1, 1).data[0], 0xff);
  assert.equal(s.pages, 65536);
});
