/** Test vectors M1–M13: module init, device matching, attach checks, bitmap sizes, empty test. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MtdDevice, MtdGeometry, MtdReadResult } from '../../src/mtd/device.js';
import { FlashSimulator } from '../../src/mtd/simulator.js';
import { MtdPstoreBackend } from '../../src/mtdpstore/backend.js';
import { checkGeometry, layoutFacts } from '../../src/mtdpstore/geometry.js';
import { findDevice, forgetTarget, matchDevice, mtdpstoreInit } from '../../src/mtdpstore/module.js';
import { MtdPstoreSession } from '../../src/mtdpstore/session.js';
import { throwsCode } from '../mtd/helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A device that only has a geometry and reads as erased flash (for partitions too big to simulate cheaply). */
class ErasedDevice implements MtdDevice {
  constructor(readonly geometry: MtdGeometry) {}
  read(_off: number, len: number): MtdReadResult {
    return { data: Buffer.alloc(len, 0xff), retlen: len, status: 'ok', corrected: 0 };
  }
  write(_off: number, data: Uint8Array): number {
    return data.length;
  }
  panicWrite(_off: number, data: Uint8Array): number {
    return data.length;
  }
  erase(): void {}
  isBad(): boolean {
    return false;
  }
  markBad(): void {}
  sync(): void {}
  close(): void {}
}

function sim(size: number, erasesize: number, writesize: number, type: 'nand' | 'nor' = 'nand', index = 0) {
  return new FlashSimulator({ type, size, erasesize, writesize: type === 'nand' ? writesize : undefined, oobsize: type === 'nand' ? 64 : 0, index });
}

/** Which zones a read of `len` bytes marks used when the first non-0xFF byte sits at `pos`. */
function marksUsed(dev: FlashSimulator, Z: number, len: number, pos: number): boolean {
  const b = MtdPstoreBackend.attach(dev, { kmsgSize: Z });
  const buf = Buffer.alloc(len);
  // Zone 1 starts erased; program one page whose byte `pos` is 0.
  const W = dev.geometry.writesize;
  const page = Math.floor(pos / W) * W;
  const p = Buffer.alloc(W, 0xff);
  p[pos - page] = 0;
  dev.write(Z + page, p);
  assert.equal(b.read(buf, Z), len);
  const used = b.usedmap.test(1);
  dev.erase(Math.floor(Z / dev.geometry.erasesize) * dev.geometry.erasesize);
  return used;
}

test('M1: 1 MiB / 128 KiB / 2 KiB / 64 KiB attaches; 8 blocks, 16 zones, 2 per block; empty test 52 / 512 bytes', () => {
  const dev = sim(MiB, 128 * KiB, 2 * KiB);
  const b = MtdPstoreBackend.attach(dev, { kmsgSize: 64 * KiB });
  assert.equal(b.usedmap.bits, 16);
  assert.equal(b.rmmap.bits, 16);
  assert.equal(b.badmap.bits, 8);
  assert.equal(b.zoneCount, 16);
  assert.equal(b.zonesPerBlock, 2);
  const f = layoutFacts(dev.geometry, 64 * KiB);
  assert.deepEqual([f.emptyTestBytes(52), f.emptyTestBytes(64 * KiB)], [52, 512]);
  assert.equal(marksUsed(dev, 64 * KiB, 52, 51), true);
  assert.equal(marksUsed(dev, 64 * KiB, 64 * KiB, 511), true);
  assert.equal(marksUsed(dev, 64 * KiB, 64 * KiB, 512), false, 'byte 512 is beyond the empty test');
});

test('M2: 4 KiB pages: empty test 52 / 1024 bytes', () => {
  const dev = sim(MiB, 128 * KiB, 4 * KiB);
  MtdPstoreBackend.attach(dev, { kmsgSize: 64 * KiB });
  assert.equal(marksUsed(dev, 64 * KiB, 64 * KiB, 1023), true);
  assert.equal(marksUsed(dev, 64 * KiB, 64 * KiB, 1024), false);
});

test('M3: 512 KiB / 16 KiB / 512 / 4 KiB: 128 zones, 4 per block; empty test 52 / 128 bytes', () => {
  const dev = sim(512 * KiB, 16 * KiB, 512);
  const b = MtdPstoreBackend.attach(dev, { kmsgSize: 4 * KiB });
  assert.equal(b.zoneCount, 128);
  assert.equal(b.zonesPerBlock, 4);
  assert.equal(marksUsed(dev, 4 * KiB, 52, 51), true);
  assert.equal(marksUsed(dev, 4 * KiB, 4 * KiB, 127), true);
  assert.equal(marksUsed(dev, 4 * KiB, 4 * KiB, 128), false);
});

test('M4: NOR (W = 1): the empty test examines 0 bytes, every read marks the zone unused (W6)', () => {
  const dev = sim(MiB, 64 * KiB, 1, 'nor');
  const b = MtdPstoreBackend.attach(dev, { kmsgSize: 64 * KiB });
  assert.equal(b.zoneCount, 16);
  assert.equal(b.zonesPerBlock, 1);
  dev.write(64 * KiB, Buffer.alloc(64 * KiB, 0)); // zone 1 fully programmed
  b.usedmap.set(1);
  assert.equal(b.read(Buffer.alloc(52), 64 * KiB), 52);
  assert.equal(b.usedmap.test(1), false, 'a fully programmed zone is taken as empty');
  const h = MtdPstoreBackend.attach(dev, { kmsgSize: 64 * KiB, policy: 'hardened' });
  assert.equal(h.usedmap.test(1), true, 'hardened looks at the whole zone');
});

test('M5–M7: the three kernel checks, in order, with the kernel messages and EINVAL', () => {
  const cases: Array<[FlashSimulator, number, string]> = [
    [sim(64 * KiB, 64 * KiB, 2 * KiB, 'nand', 5), 64 * KiB, 'MTD partition 5 not big enough'],
    [sim(MiB, 64 * KiB, 2 * KiB, 'nand', 2), 128 * KiB, 'eraseblock size of MTD partition 2 too small'],
    [sim(MiB, 128 * KiB, 8 * KiB), 4 * KiB, 'record size 4 KB must align to write size 8 KB'],
  ];
  for (const [dev, Z, msg] of cases) {
    const logged: string[] = [];
    const e = throwsCode(() => MtdPstoreBackend.attach(dev, { kmsgSize: Z, onLog: (l) => logged.push(l) }), 'EINVAL');
    assert.ok(e.message.startsWith(msg + ': '), e.message);
    assert.deepEqual(logged, [`mtd mtd${dev.geometry.index}: mtdoops-pstore: ${msg}`]);
  }
  // Order: a partition failing both the size and the erase size check reports the size.
  const v = checkGeometry(sim(128 * KiB, 64 * KiB, 2 * KiB).geometry, 128 * KiB, 'kernel');
  assert.equal(v.ok ? '' : v.check, 'size');
  // 512-byte pages print "0 KB" (integer KiB).
  const w = checkGeometry({ ...sim(MiB, 128 * KiB, 512).geometry, writesize: 1536 }, 2048, 'kernel');
  assert.equal(w.ok ? '' : w.message, 'record size 2 KB must align to write size 1 KB');
  const z = checkGeometry({ ...sim(MiB, 128 * KiB, 512).geometry, writesize: 512 }, 4096 + 512 * 3, 'kernel');
  assert.equal(z.ok, true);
});

test('M8: 256 MiB: attached, pstore/zone caps at 2048 zones, bitmaps for 4096 zones / 2048 blocks (W7)', () => {
  const dev = new ErasedDevice({ name: 'pstore', index: 0, type: 'nand', size: 256 * MiB, erasesize: 128 * KiB, writesize: 2 * KiB, oobsize: 64 });
  const b = MtdPstoreBackend.attach(dev, { kmsgSize: 64 * KiB });
  assert.equal(b.usedmap.bits, 4096);
  assert.equal(b.badmap.bits, 2048);
  assert.equal(b.zoneCount, 2048);
  const s = new MtdPstoreSession(dev, { kmsgSize: 64 * KiB });
  s.attach();
  assert.equal(s.engine.kmsgZoneCount, 2048);
  assert.ok(s.log.some((l) => /capping size to 128MiB/.test(l)), s.log.join('\n'));
});

test('M9: a single erase block of two zones attaches in kernel mode, refused in hardened mode (W10)', () => {
  const dev = sim(128 * KiB, 128 * KiB, 2 * KiB);
  const b = MtdPstoreBackend.attach(dev, { kmsgSize: 64 * KiB });
  assert.equal(b.zoneCount, 2);
  assert.equal(b.badmap.bits, 1);
  const e = throwsCode(() => MtdPstoreBackend.attach(dev, { kmsgSize: 64 * KiB, policy: 'hardened' }), 'EINVAL', /single erase block/, /at least two erase blocks/);
  assert.ok(e);
});

test('M10: 48 KiB zones in 128 KiB blocks: 21 zones, block bookkeeping assumes 2 per block (W11); hardened refuses', () => {
  const dev = sim(MiB, 128 * KiB, 2 * KiB);
  const b = MtdPstoreBackend.attach(dev, { kmsgSize: 48 * KiB });
  assert.equal(b.zoneCount, 21);
  assert.equal(b.zonesPerBlock, 2);
  const s = new MtdPstoreSession(dev, { kmsgSize: 48 * KiB });
  s.attach();
  const zones = s.engine.zoneStates();
  assert.equal(zones.length, 21);
  assert.deepEqual([zones[20]!.offset, zones[20]!.offset + zones[20]!.size], [983040, 1032192]);
  assert.deepEqual([zones[2]!.offset, zones[2]!.offset + 48 * KiB], [98304, 147456]);
  throwsCode(() => MtdPstoreBackend.attach(dev, { kmsgSize: 48 * KiB, policy: 'hardened' }), 'EINVAL', /does not divide/, /32, 64, 128 KiB|among/);
});

test('M11–M13: device matching by name overrides the number; "0x3" targets mtd3; empty device fails init', () => {
  const st = mtdpstoreInit({ device: 'pstore', kmsgSize: 64 * KiB });
  assert.equal(st.targetIndex, -1);
  const devs = [
    { geometry: { name: 'boot', index: 0 } },
    { geometry: { name: 'pstore', index: 3 } },
  ];
  assert.equal(findDevice(st, devs), devs[1]);
  assert.equal(st.targetIndex, 3);
  const num = mtdpstoreInit({ device: '0x3', kmsgSize: 64 * KiB });
  assert.equal(num.targetIndex, 3);
  assert.equal(matchDevice(num, { name: 'x', index: 2 }), false);
  assert.equal(matchDevice(num, { name: 'y', index: 3 }), true);
  // After a detach only a name match attaches again (§6.9).
  forgetTarget(num);
  assert.equal(matchDevice(num, { name: 'y', index: 3 }), false);
  assert.equal(mtdpstoreInit({ device: '010', kmsgSize: 4096 }).targetIndex, 8, 'leading 0 = octal');
  assert.equal(mtdpstoreInit({ device: '2\n', kmsgSize: 4096 }).targetIndex, 2);
  const e = throwsCode(() => mtdpstoreInit({ device: '', kmsgSize: 64 * KiB }), 'EINVAL', /^mtd device must be supplied \(device name is empty\)/);
  assert.deepEqual((e as unknown as { log: string[] }).log, ['mtd device must be supplied (device name is empty)']);
  throwsCode(() => mtdpstoreInit({ device: 'pstore', kmsgSize: 0 }), 'EINVAL', /^no backend enabled \(kmsg_size is 0\)/);
});

test('registration refused by pstore/zone: "mtd<n> register to psblk failed", nothing attached', () => {
  // 1000-byte zones pass mtdpstore's own checks on NOR (W = 1) but pstore/zone wants multiples of 512.
  const dev = sim(64 * KiB, 4 * KiB, 1, 'nor', 4);
  const s = new MtdPstoreSession(dev, { kmsgSize: 1000 });
  throwsCode(() => s.attach(), 'EINVAL', /kmsg_size must be a multiple of 512/);
  assert.ok(s.log.includes('mtd mtd4: mtdoops-pstore: mtd4 register to psblk failed'), s.log.join('\n'));
  assert.equal(s.attached, false);
});
