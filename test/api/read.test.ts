import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listImage } from '../../src/api/read.js';
import { FlashSimulator } from '../../src/mtd/simulator.js';
import { fixtureImage, fixturesDir, tmpDir } from '../cli/helpers.js';

function expectedFile(scenario: string, state: string, name: string): Buffer {
  return fs.readFileSync(path.join(fixturesDir, scenario, 'expected', state, name));
}

test('a nanddump --oob image is recognised without any geometry flag and reads like its raw twin', () => {
  const dir = tmpDir();
  const raw = fs.readFileSync(fixtureImage('mtdpstore-small-wrap', 's2-2more-wrap', dir));
  const sim = FlashSimulator.fromImage(raw, { type: 'nand', erasesize: 131072, writesize: 2048, oobsize: 64 });
  const oobPath = path.join(dir, 'oob.img');
  fs.writeFileSync(oobPath, sim.exportImage({ oob: true }));
  assert.equal(fs.statSync(oobPath).size, 256 * 2112);
  const l = listImage(oobPath);
  assert.ok(l.notes.some((n) => /OOB layout detected: 2048-byte pages with 64 OOB/.test(n)), l.notes.join('\n'));
  assert.deepEqual(
    l.files.map((f) => f.name),
    ['dmesg-pstore_blk-0', 'dmesg-pstore_blk-1', 'dmesg-pstore_blk-4', 'dmesg-pstore_blk-5', 'dmesg-pstore_blk-6', 'dmesg-pstore_blk-7'],
  );
  for (const f of l.files) assert.ok(f.data.equals(expectedFile('mtdpstore-small-wrap', 's2-2more-wrap', f.name)), f.name);
  // Forcing the raw reading instead misses most records (the OOB bytes shift every zone after the first).
  assert.ok(listImage(oobPath, { oob: false, zoneSize: 65536 }).files.length < 2);
});

test('a bad block marked in the OOB makes its zones unreadable; every other record is still returned', () => {
  const dir = tmpDir();
  const raw = fs.readFileSync(fixtureImage('mtdpstore-small-wrap', 's2-2more-wrap', dir));
  const sim = FlashSimulator.fromImage(raw, { type: 'nand', erasesize: 131072, writesize: 2048, oobsize: 64 });
  sim.markBad(2 * 131072);
  const p = path.join(dir, 'bad.img');
  fs.writeFileSync(p, sim.exportImage({ oob: true }));
  const l = listImage(p, { oob: true, writesize: 2048, oobsize: 64, erasesize: 131072 });
  assert.deepEqual(l.files.map((f) => f.name), ['dmesg-pstore_blk-0', 'dmesg-pstore_blk-1', 'dmesg-pstore_blk-6', 'dmesg-pstore_blk-7']);
  assert.ok(l.diagnostics.some((d) => d.index === 4 && d.reason === 'broken'));
});

test('--removed recovers a record removed from a pstore_blk disk, byte for byte as the kernel showed it before', () => {
  const dir = tmpDir();
  const img = fixtureImage('blk-deflate', 's2-rm1-1oops', dir);
  const plain = listImage(img);
  assert.ok(!plain.files.some((f) => f.name === 'dmesg-pstore_blk-1'));
  const l = listImage(img, { removed: true });
  const rm = l.files.find((f) => f.removed);
  assert.ok(rm, 'the removed record is listed');
  assert.equal(rm.name, 'dmesg-pstore_blk-1');
  assert.ok(rm.data.equals(expectedFile('blk-deflate', 's1-3oops', 'dmesg-pstore_blk-1')));
});

test('a truncated image keeps every zone that lies wholly inside it', () => {
  const dir = tmpDir();
  const img = fixtureImage('blk-plain', 's2-rm0-7oops-wrap', dir);
  const cut = path.join(dir, 'cut.img');
  fs.writeFileSync(cut, fs.readFileSync(img).subarray(0, 5 * 65536 + 123));
  const l = listImage(cut);
  assert.deepEqual(l.files.map((f) => f.id), [0, 1, 2, 3, 4]);
  for (const f of l.files) assert.ok(f.data.equals(expectedFile('blk-plain', 's2-rm0-7oops-wrap', f.name)));
  assert.ok(l.notes.some((n) => /truncated/.test(n)));
});

test('--as-kernel shows what Linux would: a full partition after a panic loses block 0 at attach (W5, vector R4)', async () => {
  const { runReplay } = await import('../../src/mtdpstore/replay.js');
  const { listAsKernel } = await import('../../src/api/read.js');
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'r.bin'), 'Oops#1 Part1\n<4>[    1.000000] x\n');
  const ops: unknown[] = [{ op: 'attach' }, { op: 'recover' }];
  for (let i = 1; i <= 7; i++) ops.push({ op: 'write', reason: 'oops', time: { sec: i * 100, nsec: 0 }, compressed: false, payload: 'r.bin' });
  ops.push({ op: 'panic-write', time: { sec: 800, nsec: 0 }, compressed: false, payload: 'r.bin' });
  const res = runReplay({ geometry: { type: 'nand', size: 524288, erasesize: 131072, writesize: 2048 }, config: { kmsgSize: 65536 }, ops }, { baseDir: dir, policy: 'kernel' });
  const img = path.join(dir, 'full.img');
  fs.writeFileSync(img, res.image);
  const offline = listImage(img);
  assert.equal(offline.files.length, 8, 'an offline read returns every record');
  const k = listAsKernel(img, { erasesize: 131072, writesize: 2048 });
  assert.deepEqual(k.lostByKernel, ['dmesg-pstore_blk-0', 'dmesg-pstore_blk-1']);
  assert.deepEqual(k.files.map((f) => f.id), [2, 3, 4, 5, 6, 7]);
  assert.ok(fs.readFileSync(img).equals(res.image), 'the image itself is not touched');
});

test('a nanddump --oob image with a single record is still recognised (zone 0 looks the same both ways)', async () => {
  const { MtdPstoreSession } = await import('../../src/mtdpstore/session.js');
  const sim = new FlashSimulator({ type: 'nand', size: 1024 * 1024, erasesize: 131072, writesize: 2048, oobsize: 64 });
  const s = new MtdPstoreSession(sim, { kmsgSize: 65536 });
  s.attach();
  s.list();
  const text = Array.from({ length: 200 }, (_, i) => `<4>[    ${i}.000000] line ${i} of the log`).join('\n') + '\n';
  s.write({ reason: 2, time: { sec: 1796313846, nsec: 5 }, compressed: false, data: Buffer.from('Oops#1 Part1\n' + text) });
  s.detach();
  const p = path.join(tmpDir(), 'one.img');
  fs.writeFileSync(p, sim.exportImage({ oob: true }));
  const l = listImage(p);
  assert.ok(l.notes.some((n) => /OOB layout detected/.test(n)), l.notes.join('\n'));
  assert.equal(l.files.length, 1);
  assert.equal(l.files[0]!.data.toString(), 'Oops: Total 1 times\nOops#1 Part1\n' + text);
});

test('--as-kernel refuses an image without a flash geometry (a pstore_blk disk is shown as the kernel shows it by plain ls)', async () => {
  const { listAsKernel } = await import('../../src/api/read.js');
  const { isPstoreError } = await import('../../src/errors.js');
  const img = fixtureImage('blk-plain', 's2-rm0-7oops-wrap', tmpDir());
  assert.throws(() => listAsKernel(img, {}), (e: unknown) => isPstoreError(e, 'EINVAL') && /--erasesize/.test((e as Error).message));
});
