/**
 * The backend's device paths (mtdpstore-policy.md §6–§8): bad blocks
 * (factory and grown), bitflips, uncorrectable pages, hard read / write /
 * erase errors, panic writes on devices without panic support, return codes
 * and the kernel's log texts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERRNO } from '../../src/errors.js';
import { FlashSimulator } from '../../src/mtd/simulator.js';
import { MtdPstoreBackend } from '../../src/mtdpstore/backend.js';
import { KmsgReason } from '../../src/zone/format.js';
import { KiB, dump, listIds, nand512, present, putRecord, session } from './helpers.js';

const Z = 64 * KiB;
const ENOMSG = -ERRNO.ENOMSG;
const EIO = -ERRNO.EIO;

test('factory bad block: read and write answer -ENOMSG, erase -EIO; the bad bit is learnt from the device', () => {
  for (const policy of ['kernel', 'hardened'] as const) {
    const dev = nand512({ badBlocks: [1] });
    const b = MtdPstoreBackend.attach(dev, { kmsgSize: Z, policy });
    assert.equal(b.read(Buffer.alloc(52), 2 * Z), ENOMSG);
    assert.deepEqual(b.badmap.list(), [1]);
    assert.equal(b.write(Buffer.alloc(Z), 3 * Z), ENOMSG);
    assert.equal(b.panicWrite(Buffer.alloc(Z), 3 * Z), ENOMSG);
    assert.equal(b.erase(Z, 2 * Z), EIO);
    assert.equal(dev.stats.programs + dev.stats.panicWrites + dev.stats.erases, 0);
  }
});

test('panic write consults only the RAM bad-block map (a bad block not yet learnt is tried)', () => {
  const dev = nand512({ badBlocks: [1] });
  const b = MtdPstoreBackend.attach(dev, { kmsgSize: Z });
  const logged: string[] = [];
  assert.equal(b.panicWrite(Buffer.alloc(Z), 2 * Z), EIO);
  logged.push(...b.log);
  assert.match(logged.at(-1)!, /^mtd mtd0: mtdoops-pstore: panic write failure at 131072 \(0 of 65536 read\), err -5$/);
  // Hardened learnt it at attach.
  const h = MtdPstoreBackend.attach(dev, { kmsgSize: Z, policy: 'hardened' });
  assert.equal(h.panicWrite(Buffer.alloc(Z), 2 * Z), ENOMSG);
});

test('grown bad block: a block that turns bad is skipped and the record goes to the next good zone', () => {
  const dev = nand512();
  const s = session(dev, Z);
  s.attach();
  listIds(s);
  s.write(dump(0));
  dev.markBad(128 * KiB); // block 1 (zones 2, 3) goes bad at run time
  s.write(dump(1)); // zone 1
  const out = s.write(dump(2));
  assert.equal(out!.zone, 4);
  assert.equal(out!.attempts, 3);
  assert.equal(out!.counter, 5, 'the counter rises once per attempted zone (Z6)');
  s.reboot();
  s.attach();
  assert.deepEqual(present(listIds(s)), [0, 1, 2]);
});

test('corrected bitflips are invisible: the record is listed intact (EUCLEAN passes)', () => {
  const dev = nand512({ ecc: { strength: 4 } });
  putRecord(dev, Z, 0, 0);
  for (const bit of [0, 1, 2]) dev.injectBitflip(100, bit);
  const s = session(dev, Z);
  s.attach();
  const buf = Buffer.alloc(Z);
  assert.equal(s.backend.read(buf, 0), Z);
  assert.deepEqual(present(listIds(s)), [0]);
  assert.equal(s.log.some((l) => /ecc error/.test(l)), false);
});

test('uncorrectable page: the raw data is handed over with "ecc error at", and the zone is not skipped', () => {
  const dev = nand512();
  putRecord(dev, Z, 0, 0);
  putRecord(dev, Z, 1, 1);
  dev.setUncorrectable(Z / 2048 + 0, true); // first page of zone 1: header and text
  const s = session(dev, Z);
  s.attach();
  const l = s.list();
  assert.ok(l.ok);
  assert.ok(s.log.some((x) => /^mtd mtd0: mtdoops-pstore: ecc error at 65536 \(\d+ of 52 read\), err -74$/.test(x)), s.log.join('\n'));
  // Zone 0 intact; zone 1 either skipped by pstore/zone's own checks or listed with corrupt text.
  const ids = listIds(s);
  assert.equal(ids.get(0), 0);
  assert.notEqual(ids.get(1), 1);
});

test('hard read error on a header: -ENOMSG with "read failure at", the zone is skipped and the rest recovered', () => {
  const dev = nand512();
  putRecord(dev, Z, 0, 0);
  putRecord(dev, Z, 1, 1);
  const s = session(dev, Z);
  s.attach();
  dev.failNextRead('EIO');
  const l = s.list();
  assert.ok(l.ok);
  assert.deepEqual(l.records.map((r) => r.id), [1]);
  assert.ok(s.log.includes('mtd mtd0: mtdoops-pstore: read failure at 0 (0 of 52 read), err -5'), s.log.join('\n'));
});

test('write failure: kernel answers -EIO (record stays dirty, other zones not tried); hardened moves on to the next zone', () => {
  for (const policy of ['kernel', 'hardened'] as const) {
    const dev = nand512();
    const s = session(dev, Z, policy);
    s.attach();
    listIds(s);
    dev.failNextWrite('EIO');
    const out = s.write(dump(0));
    if (policy === 'kernel') {
      assert.equal(out!.zone, 0);
      assert.equal(out!.result, -ERRNO.EBUSY);
      assert.ok(s.log.includes('mtd mtd0: mtdoops-pstore: write failure at 0 (0 of 65536 written), err -5'));
      assert.equal(s.engine.zoneStates()[0]!.dirty, true);
    } else {
      assert.equal(out!.zone, 1);
      assert.equal(out!.result, 0);
      s.reboot();
      s.attach();
      assert.deepEqual(present(listIds(s)), [0]);
    }
  }
});

test('erase failure is logged with the device string; security tries the next block and reports "all blocks bad!" only when the last try failed', () => {
  const dev = nand512();
  const b = MtdPstoreBackend.attach(dev, { kmsgSize: Z, deviceString: 'pstore' });
  const img = Buffer.alloc(Z, 0);
  for (let z = 0; z < 7; z++) assert.equal(b.write(img, z * Z), Z);
  dev.failNextErase('EIO');
  assert.equal(b.write(img, 7 * Z), Z);
  assert.ok(b.log.includes('mtd mtd0: mtdoops-pstore: erase of region [0x0, 0x20000] on "pstore" failed'), b.log.join('\n'));
  assert.equal(b.log.includes('mtd mtd0: mtdoops-pstore: all blocks bad!'), false);
  assert.deepEqual(dev.stats.erasesPerBlock.slice(0, 2), Uint32Array.from([0, 1]), 'block 1 erased after block 0 failed');
  assert.deepEqual(b.usedmap.list(), [0, 1, 4, 5, 6, 7]);
});

test('RAM device without panic write: the panic record is lost with a "panic write failure" log (-EOPNOTSUPP → -EIO)', () => {
  const dev = new FlashSimulator({ type: 'ram', size: 512 * KiB, erasesize: 128 * KiB, name: 'pstore' });
  const s = session(dev, Z);
  s.attach();
  listIds(s);
  const out = s.panicWrite(dump(0, KmsgReason.PANIC));
  assert.equal(out!.result, -ERRNO.EBUSY);
  assert.ok(s.log.includes(`mtd mtd0: mtdoops-pstore: panic write failure at 0 (0 of 65536 read), err -${ERRNO.EOPNOTSUPP}`), s.log.join('\n'));
});

test('removal: kernel erases a block at once when no other zone of it is used, otherwise marks the zone removed', () => {
  const dev = nand512();
  const s = session(dev, Z);
  s.attach();
  listIds(s);
  for (let i = 0; i < 3; i++) s.write(dump(i)); // zones 0, 1, 2
  listIds(s);
  assert.equal(s.remove('dmesg-pstore_blk-2'), 0);
  assert.equal(dev.stats.erasesPerBlock[1], 1, 'block 1 had no other used zone');
  assert.equal(s.remove('dmesg-pstore_blk-1'), 0);
  assert.deepEqual(s.backend.rmmap.list(), [1]);
  assert.equal(dev.stats.erases, 1);
  assert.throws(() => s.remove('dmesg-pstore_blk-1'), /no file/);
  s.remove('dmesg-pstore_blk-0');
  assert.equal(dev.stats.erasesPerBlock[0], 1);
  assert.deepEqual(s.backend.rmmap.list(), [], 'the erase cleared the removed bits');
});

test('hardened: a block whose erase fails is taken out of service; its records stay readable and every write succeeds', () => {
  const dev = nand512();
  const s = session(dev, Z, 'hardened');
  s.attach();
  listIds(s);
  for (let i = 0; i < 5; i++) s.write(dump(i));
  dev.failNextErase('EIO');
  for (let i = 5; i < 9; i++) assert.equal(s.write(dump(i))!.result, 0, `record ${i}`);
  assert.equal(s.backend.badmap.list().length, 1);
  assert.ok(s.log.some((l) => /erase of region \[0x0, 0x20000\] on "0" failed/.test(l)), s.log.join('\n'));
  s.reboot();
  s.attach();
  // Block 0 (records 0, 1) could not be erased: its records stay readable, and the ring turns on
  // the three remaining blocks, keeping the newest records.
  assert.deepEqual(present(listIds(s)), [0, 1, 6, 7, 8]);
});
