/**
 * R3, R4 and one test per weakness W1–W11 and W13 (mtdpstore-policy.md §9):
 * the kernel policy shows the kernel's (derived) outcome, the hardened policy
 * loses nothing. W12 (interrupts disabled in the oops path) cannot be
 * simulated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlashSimulator } from '../../src/mtd/simulator.js';
import { KmsgReason, PSZ_SIG } from '../../src/zone/format.js';
import { PowerCut } from '../../src/errors.js';
import { MtdPstoreSession } from '../../src/mtdpstore/session.js';
import { throwsCode } from '../mtd/helpers.js';
import { KiB, MiB, SparseNand, dump, listIds, nand512, present, putRecord, session, zoneSig } from './helpers.js';

const Z64 = 64 * KiB;

test('R3: steady state — recovery marks zones, the 8th record makes the security step erase block 0', () => {
  const dev = nand512();
  for (let i = 0; i < 6; i++) putRecord(dev, Z64, i, i);
  // tv_sec 10·(i+1) as in the vector: dump(i) has 1000 + 10·i, the same order.
  const s = session(dev, Z64);
  s.attach();
  dev.resetStats();
  assert.deepEqual(present(listIds(s)), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(s.backend.usedmap.list(), [0, 1, 2, 3, 4, 5]);
  assert.equal(dev.stats.erases, 0);
  assert.equal(s.engine.kmsgWriteCnt, 6);
  assert.equal(s.write(dump(6))!.zone, 6);
  assert.equal(dev.stats.erases, 0, 'zone 7 still free');
  assert.equal(s.write(dump(7))!.zone, 7);
  assert.equal(dev.stats.erases, 1);
  assert.equal(dev.stats.erasesPerBlock[0], 1, 'block after zone 7 wraps to block 0');
  assert.deepEqual(s.backend.usedmap.list(), [2, 3, 4, 5, 6, 7]);
  assert.equal(s.engine.kmsgWriteCnt, 0);
  assert.equal(s.write(dump(8))!.zone, 0);
  s.reboot();
  s.attach();
  assert.deepEqual([...listIds(s).entries()].sort((a, b) => a[0] - b[0]), [[0, 8], [2, 2], [3, 3], [4, 4], [5, 5], [6, 6], [7, 7]]);
});

/** R4 setup: zones 0–6 valid, zone 7 erased; a panic fills zone 7. */
function r4(policy: 'kernel' | 'hardened') {
  const dev = nand512();
  for (let i = 0; i < 7; i++) putRecord(dev, Z64, i, i);
  const s = session(dev, Z64, policy);
  s.attach();
  assert.deepEqual(present(listIds(s)), [0, 1, 2, 3, 4, 5, 6]);
  if (policy === 'hardened') {
    // A mount alone erases nothing while one zone is free (the kernel erases nothing either).
    assert.equal(dev.stats.erases, 0, 'no erase at mount');
  }
  dev.resetStats();
  const out = s.panicWrite(dump(7, KmsgReason.PANIC));
  assert.deepEqual([dev.stats.panicWrites, dev.stats.erases, dev.stats.reads], [1, 0, 0], 'a panic only programs');
  s.reboot();
  return { dev, s, out };
}

test('R4 / W5 (kernel): a panic fills the last zone; the next recovery erases block 0 before reading it', () => {
  const { dev, s, out } = r4('kernel');
  assert.equal(out!.zone, 7);
  s.attach();
  dev.resetStats();
  const ids = listIds(s);
  assert.equal(dev.stats.erases, 1, 'security step during the header pass');
  assert.deepEqual([...ids.keys()].sort(), [2, 3, 4, 5, 6, 7], 'records 0 and 1 are lost');
  assert.equal(ids.get(7), 7);
  const st = s.engine.zoneStates();
  assert.equal(st[0]!.sig >>> 0, 0xffffffff);
  assert.equal(st[1]!.sig >>> 0, 0xffffffff);
  assert.equal(s.engine.kmsgWriteCnt, 0);
  assert.equal(s.write(dump(8))!.zone, 0);
  assert.equal(zoneSig(dev, 0, Z64), 0xffffffff, 'written with the erased signature');
  s.reboot();
  s.attach();
  const again = listIds(s);
  assert.equal(again.has(0), false, 'record 8 is invisible');
  assert.equal(s.backend.usedmap.test(0), true, 'but mtdpstore marks its zone used');
});

test('R4 / W5 (hardened): the panic keeps a free zone, nothing is erased before it is read, later records stay visible', () => {
  const { dev, s, out } = r4('hardened');
  assert.notEqual(out!.zone, null);
  s.attach();
  dev.resetStats();
  const ids = listIds(s);
  assert.deepEqual(present(ids), [0, 1, 2, 3, 4, 5, 6, 7], 'every record, the panic included, is read before anything is erased');
  assert.equal(s.write(dump(8))!.zone !== null, true);
  assert.equal(zoneSig(dev, s.engine.lastKmsgWrite!.zone!, Z64), PSZ_SIG);
  s.reboot();
  s.attach();
  const again = listIds(s);
  assert.ok([...again.values()].includes(8) && [...again.values()].includes(7));
});

/** Records 0..5 in zones 0..5, then remove record 0 (zone 0; zone 1 survives in block 0). */
function w1(policy: 'kernel' | 'hardened') {
  const dev = nand512();
  const s = session(dev, Z64, policy);
  s.attach();
  listIds(s);
  for (let i = 0; i < 6; i++) s.write(dump(i));
  listIds(s);
  s.remove('dmesg-pstore_blk-0');
  return { dev, s };
}

test('W1 (kernel): lazy removal clears the used bit of a programmed zone; the next write to it fails and the record is lost', () => {
  const { dev, s } = w1('kernel');
  assert.equal(s.backend.usedmap.test(0), false);
  assert.equal(s.backend.rmmap.test(0), true);
  s.write(dump(6)); // zone 6
  s.write(dump(7)); // zone 7: zone 0 looks free, no erase
  assert.equal(dev.stats.erases, 0);
  const out = s.write(dump(8)); // zone 0, still programmed
  assert.equal(out!.zone, 0);
  assert.ok(s.log.some((l) => l === 'mtd mtd0: mtdoops-pstore: write failure at 0 (0 of 65536 written), err -5'), s.log.join('\n'));
  s.reboot();
  s.attach();
  const erases = dev.stats.erases;
  const ids = listIds(s);
  assert.equal([...ids.values()].includes(8), false, 'record 8 was lost');
  // Zone 0 still held record 0, so the partition was full: the recovery's security step erased
  // block 0 before the data pass (W5), taking records 0 and 1 with it.
  assert.equal(dev.stats.erases, erases + 1);
  assert.deepEqual(present(ids), [2, 3, 4, 5, 6, 7]);
});

test('W1 (hardened): the used bit stays until the block is erased; nothing is lost', () => {
  const { s } = w1('hardened');
  for (let i = 6; i < 9; i++) {
    const out = s.write(dump(i));
    assert.equal(out!.result, 0, `record ${i} written`);
  }
  s.reboot();
  s.attach();
  const got = present(listIds(s));
  assert.ok([6, 7, 8].every((i) => got.includes(i)), `got ${got}`);
  assert.equal(got.includes(0), false, 'the removed record stays removed');
});

test('W2 (kernel): the detach flush writes the first zone of the block over the survivor', () => {
  const dev = nand512();
  const s = session(dev, Z64);
  s.attach();
  listIds(s);
  s.write(dump(0));
  s.write(dump(1));
  listIds(s);
  s.remove('dmesg-pstore_blk-0');
  assert.equal(s.detach(), 0);
  s.attach();
  const ids = listIds(s);
  assert.deepEqual([...ids.entries()], [[1, 0]], 'zone 1 now holds record 0 (removed) instead of record 1');
});

test('W2 (hardened): every survivor keeps its own bytes, the removed record is gone', () => {
  const dev = nand512();
  const s = session(dev, Z64, 'hardened');
  s.attach();
  listIds(s);
  for (let i = 0; i < 4; i++) s.write(dump(i));
  listIds(s);
  s.remove('dmesg-pstore_blk-0');
  s.remove('dmesg-pstore_blk-2');
  assert.equal(s.detach(), 0);
  s.attach();
  assert.deepEqual(present(listIds(s)), [1, 3]);
});

test('W3 (kernel): a power cut between the flush erase and the write-back loses the survivors', () => {
  const dev = nand512();
  const s = session(dev, Z64);
  s.attach();
  listIds(s);
  s.write(dump(0));
  s.write(dump(1));
  listIds(s);
  s.remove('dmesg-pstore_blk-1'); // lazy: zone 0 survives in block 0
  // op 1: erase of block 0, op 2: write-back of zone 0, cut before any page of it is programmed
  dev.armPowerCut(dev.opCount + 2, { completed: 0, partial: false });
  assert.throws(() => s.detach(), PowerCut);
  s.reboot();
  s.attach();
  assert.deepEqual(present(listIds(s)), [], 'record 0 was erased and never written back');
});

test('W3 (hardened): a power cut at any point of removal and detach never loses a survivor', () => {
  let cuts = 0;
  for (let k = 1; ; k++) {
    const dev = nand512();
    const s = session(dev, Z64, 'hardened');
    s.attach();
    listIds(s);
    for (let i = 0; i < 4; i++) s.write(dump(i));
    listIds(s);
    const start = dev.opCount;
    dev.armPowerCut(start + k);
    let cut = false;
    try {
      s.remove('dmesg-pstore_blk-1');
      s.remove('dmesg-pstore_blk-2');
      s.detach();
    } catch (e) {
      if (!(e instanceof PowerCut)) throw e;
      cut = true;
    }
    dev.disarmPowerCut();
    s.reboot();
    s.attach();
    const got = present(listIds(s));
    assert.ok(got.includes(0) && got.includes(3), `cut at op ${k}: survivors 0 and 3 present, got ${got}`);
    if (!cut) break;
    cuts++;
  }
  assert.ok(cuts >= 3, `exercised ${cuts} cut points`);
});

test('W4 (kernel): a lazily removed record comes back after a reboot without detach', () => {
  const { s } = w1('kernel');
  s.reboot();
  s.attach();
  assert.equal(listIds(s).get(0), 0);
});

test('W4 (hardened): the removal persists without a clean detach (NAND: survivors moved, block erased)', () => {
  const { s, dev } = w1('hardened');
  assert.equal(dev.stats.erasesPerBlock[0], 1, 'block 0 erased at removal');
  s.reboot();
  s.attach();
  const got = present(listIds(s));
  assert.deepEqual(got, [1, 2, 3, 4, 5], 'record 1 survived its move, record 0 stays removed');
});

test('W4 (hardened): a moved record can still be removed under its old name in the same attach', () => {
  const { s } = w1('hardened');
  assert.equal(s.remove('dmesg-pstore_blk-1'), 0);
  s.reboot();
  s.attach();
  assert.deepEqual(present(listIds(s)), [2, 3, 4, 5]);
});

test('W4 (hardened, NOR): the removal persists by zeroing datalen in place', () => {
  const dev = new FlashSimulator({ type: 'nor', size: MiB, erasesize: 128 * KiB, name: 'pstore' });
  const s = session(dev, Z64, 'hardened');
  s.attach();
  listIds(s);
  for (let i = 0; i < 4; i++) s.write(dump(i));
  listIds(s);
  const erases = dev.stats.erases;
  s.remove('dmesg-pstore_blk-0');
  assert.equal(dev.stats.erases, erases, 'no erase: zone 1 still lives in block 0');
  s.reboot();
  s.attach();
  assert.deepEqual(present(listIds(s)), [1, 2, 3]);
  assert.equal(s.engine.oopsCounter, 4, 'the invalidated record still counts (as pstore/zone counts erased zones)');
});

test('W6 (kernel, NOR): after a reboot every zone looks free; a write lands on an old record and corrupts it', () => {
  const dev = new FlashSimulator({ type: 'nor', size: MiB, erasesize: 64 * KiB, name: 'pstore' });
  const s = session(dev, Z64);
  s.attach();
  listIds(s);
  for (let i = 0; i < 16; i++) s.write(dump(i)); // the 16th erases block 0
  s.reboot();
  s.attach();
  assert.equal(listIds(s).size, 15);
  assert.deepEqual(s.backend.usedmap.list(), [], 'W = 1: nothing looks used');
  s.write(dump(16)); // zone 0 (erased)
  const out = s.write(dump(17)); // zone 1: still holds record 1
  assert.equal(out!.zone, 1);
  s.reboot();
  s.attach();
  const ids = listIds(s);
  assert.notEqual(ids.get(1), 17, 'record 17 was ANDed over record 1');
});

test('W6 (hardened, NOR): whole-zone emptiness test; the ring erases before writing and keeps every new record', () => {
  const dev = new FlashSimulator({ type: 'nor', size: MiB, erasesize: 64 * KiB, name: 'pstore' });
  const s = session(dev, Z64, 'hardened');
  s.attach();
  listIds(s);
  for (let i = 0; i < 16; i++) s.write(dump(i));
  s.reboot();
  s.attach();
  listIds(s);
  s.write(dump(16));
  s.write(dump(17));
  s.reboot();
  s.attach();
  const got = present(listIds(s));
  assert.ok(got.includes(16) && got.includes(17), `got ${got}`);
  assert.equal(listIds(s).size, got.length, 'no corrupted record');
});

/** W7: 256 MiB partition with 128 KiB zones: pstore/zone uses 1024 zones, mtdpstore scans 2048. */
function w7(policy: 'kernel' | 'hardened') {
  const dev = new SparseNand({ name: 'pstore', index: 0, type: 'nand', size: 256 * MiB, erasesize: 128 * KiB, writesize: 2 * KiB, oobsize: 64 });
  const s = new MtdPstoreSession(dev, { kmsgSize: 128 * KiB, policy });
  s.attach();
  listIds(s);
  for (let i = 0; i < 1024; i++) s.write(dump(i));
  return { s, dev, out: s.write(dump(1024)) };
}

test('W7 (kernel): beyond 128 MiB the security step never erases; after one wrap every write fails', () => {
  const { out, dev } = w7('kernel');
  assert.equal(dev.stats.erases, 0);
  assert.equal(out!.zone, null, 'record 1024 lost: every zone answered -ENOMSG');
  assert.equal(out!.attempts, 1024);
});

test('W7 (hardened): the free-zone step only counts the zones pstore/zone uses', () => {
  const { out, dev } = w7('hardened');
  assert.equal(out!.result, 0);
  assert.ok(dev.stats.erases > 0);
});

function w8(policy: 'kernel' | 'hardened') {
  const dev = nand512({ badBlocks: [2] });
  const s = session(dev, Z64, policy);
  s.attach();
  listIds(s);
  const outs = [];
  for (let i = 0; i < 8; i++) outs.push(s.write(dump(i)));
  return { dev, s, outs };
}

test('W8 (kernel): a bad block keeps its zones "free"; the ring never erases and wedges after one wrap', () => {
  const { dev, s, outs } = w8('kernel');
  assert.deepEqual(outs.slice(0, 6).map((o) => o!.zone), [0, 1, 2, 3, 6, 7]);
  assert.equal(dev.stats.erases, 0);
  assert.equal(outs[6]!.zone, null);
  assert.equal(outs[7]!.zone, null);
  assert.deepEqual(s.backend.badmap.list(), [2]);
});

test('W8 (hardened): bad-block zones count as unusable; the ring keeps turning', () => {
  const { dev, outs } = w8('hardened');
  assert.ok(outs.every((o) => o!.result === 0 && o!.zone !== null && (o!.zone < 4 || o!.zone > 5)));
  assert.ok(dev.stats.erases > 0);
});

function w9(policy: 'kernel' | 'hardened') {
  const dev = nand512();
  for (let i = 0; i < 3; i++) putRecord(dev, Z64, i, i);
  const s = session(dev, Z64, policy);
  s.attach(); // pstore never mounted this boot
  const out = s.panicWrite(dump(3, KmsgReason.PANIC));
  s.reboot();
  s.attach();
  return { out, ids: listIds(s) };
}

test('W9 (kernel): a panic before recovery is written to zone 0 over the old record and is lost', () => {
  const { out, ids } = w9('kernel');
  assert.equal(out!.zone, 0);
  assert.equal([...ids.values()].includes(3), false);
});

test('W9 (hardened): the attach scan knows the used zones; the panic lands in a free zone', () => {
  const { out, ids } = w9('hardened');
  assert.equal(out!.zone, 3);
  assert.deepEqual(present(ids), [0, 1, 2, 3]);
});

test('W10 (kernel): a single-block partition erases the block it just filled; hardened refuses it', () => {
  const dev = new FlashSimulator({ type: 'nand', size: 128 * KiB, erasesize: 128 * KiB, writesize: 2 * KiB, oobsize: 64, name: 'pstore' });
  const s = session(dev, Z64);
  s.attach();
  listIds(s);
  s.write(dump(0));
  s.write(dump(1));
  assert.equal(dev.stats.erases, 1);
  s.reboot();
  s.attach();
  assert.equal(listIds(s).size, 0, 'both records destroyed');
  throwsCode(() => session(dev, Z64, 'hardened').attach(), 'EINVAL', /single erase block/);
});

test('W11 (kernel): 48 KiB zones in 128 KiB blocks — erasing block 0 destroys the head of zone 2; hardened refuses', () => {
  const dev = new FlashSimulator({ type: 'nand', size: MiB, erasesize: 128 * KiB, writesize: 2 * KiB, oobsize: 64, name: 'pstore' });
  const Z = 48 * KiB;
  const s = session(dev, Z);
  s.attach();
  listIds(s);
  for (let i = 0; i < 21; i++) s.write(dump(i));
  assert.equal(dev.stats.erases, 1);
  assert.deepEqual(s.backend.usedmap.list().slice(0, 2), [2, 3], 'bookkeeping thinks zones 0 and 1 were freed');
  s.reboot();
  s.attach();
  const got = present(listIds(s));
  assert.equal(got.includes(2), false, 'record 2 was destroyed although its zone was never chosen');
  assert.deepEqual(got, Array.from({ length: 18 }, (_, i) => i + 3));
  throwsCode(() => session(dev, Z, 'hardened').attach(), 'EINVAL', /does not divide/);
});

test('W13: a driver returning short reads — kernel recovery aborts (last chunk count), hardened returns the total', () => {
  for (const policy of ['kernel', 'hardened'] as const) {
    const dev = nand512({ maxReadChunk: 4096 });
    putRecord(dev, Z64, 0, 0);
    putRecord(dev, Z64, 1, 1);
    const s = session(dev, Z64, policy);
    s.attach();
    const l = s.list();
    if (policy === 'kernel') {
      assert.equal(l.ok, false, 'full-zone read returned 4096 of 65536');
      assert.equal(s.backend.read(Buffer.alloc(Z64), 0), 4096);
    } else {
      assert.ok(l.ok);
      assert.equal(l.records.length, 2);
      assert.equal(s.backend.read(Buffer.alloc(Z64), 0), Z64);
    }
  }
});
