// Runs inside the test VM (node= action) against a real MTD device, normally
// nandsim's /dev/mtd0 (512 KiB, 2 KiB pages, 64-byte OOB, 128 KiB blocks,
// software Hamming ECC). Exercises MtdCharDevice end to end and prints one
// JSON object per check: {"check": name, "ok": bool, "detail": text}.
// Exit status 1 when any check failed. DESTRUCTIVE: erases the device and
// marks its last block bad (nandsim forgets both when it is reloaded).
//
//   node guest/chardev-check.mjs /dev/mtd0
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import { MtdCharDevice, mtdIoctlRequest, readSysfsMtd } from '../dist/mtd/char-device.js';

const devPath = process.argv[2] ?? '/dev/mtd0';
let failed = 0;
function check(name, ok, detail = '') {
  if (!ok) failed++;
  console.log(JSON.stringify({ check: name, ok: !!ok, detail: String(detail) }));
}
function code(fn) {
  try {
    fn();
    return 'no error';
  } catch (e) {
    return e && e.code ? `${e.code}: ${e.message}` : String(e);
  }
}
function pattern(len, seed) {
  const b = Buffer.alloc(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

// 1. Geometry agrees with sysfs.
const index = Number(/mtd(\d+)/.exec(devPath)[1]);
const sys = readSysfsMtd(index);
const ro = MtdCharDevice.open(devPath);
const g = ro.geometry;
check(
  'geometry-from-sysfs',
  sys && g.name === sys.name && g.size === sys.size && g.erasesize === sys.erasesize && g.writesize === sys.writesize &&
    g.oobsize === sys.oobsize && g.type === 'nand' && g.index === index,
  JSON.stringify(g),
);
check('read-only-refuses-write', /^EROFS/.test(code(() => ro.write(0, Buffer.alloc(g.writesize)))), code(() => ro.write(0, Buffer.alloc(g.writesize))));
ro.close();
check('closed-device-refuses', /^EINVAL.*closed/.test(code(() => ro.read(0, 16))), code(() => ro.read(0, 16)));
const roNode = `${devPath}ro`;
if (fs.existsSync(roNode)) {
  check('ro-node-not-writable', /^EROFS/.test(code(() => MtdCharDevice.open(roNode, { writable: true }))), code(() => MtdCharDevice.open(roNode, { writable: true })));
}

// 2. Erase, program, read back.
const dev = MtdCharDevice.open(devPath, { writable: true });
const E = g.erasesize;
const W = g.writesize;
const blocks = g.size / E;
dev.erase(0, g.size);
const blank = dev.read(0, g.size);
check('erase-gives-ff', blank.data.every((b) => b === 0xff) && blank.status === 'ok' && blank.retlen === g.size, `status ${blank.status}`);
const data = pattern(4 * W, 7);
check('write-returns-length', dev.write(E, data) === data.length);
const back = dev.read(E, data.length);
check('read-back-equal', back.data.equals(data) && back.status === 'ok', `status ${back.status}`);
const cross = dev.read(E - 100, 300);
check('read-across-blocks', cross.data.subarray(0, 100).every((b) => b === 0xff) && cross.data.subarray(100).equals(data.subarray(0, 200)));
check('unaligned-write-refused', /^EINVAL.*page-aligned/.test(code(() => dev.write(E + 10, Buffer.alloc(W)))), code(() => dev.write(E + 10, Buffer.alloc(W))));
check('erase-must-be-whole-blocks', /^EINVAL/.test(code(() => dev.erase(W, E))), code(() => dev.erase(W, E)));
dev.erase(E);
check('erase-one-block', dev.read(E, E).data.every((b) => b === 0xff));

// 3. ECC status: program pages normally (ECC goes to OOB), then clear bits
// with a raw MEMWRITE (no ECC; nandsim wants the OOB too, given as 0xFF so
// the stored ECC stays), so that the normal read sees bitflips: one per ECC
// step is corrected (EUCLEAN), two are not (EBADMSG).
const require = createRequire(import.meta.url);
const koffi = require('koffi');
const ioctl = koffi.load('libc.so.6').func('int ioctl(int fd, unsigned long request, ...)');
const rawFd = fs.openSync(devPath, 'r+');
const MTD_FILE_MODE_RAW = 3;
const r = ioctl(rawFd, mtdIoctlRequest('MTDFILEMODE'), 'unsigned long', MTD_FILE_MODE_RAW);
check('mtdfilemode-raw', r === 0, `ioctl returned ${r}, errno ${koffi.errno()}`);
// struct mtd_write_req: u64 start, len, ooblen, usr_data, usr_oob; u8 mode (2 = raw); pad to 48.
const oobFF = Buffer.alloc(Math.max(g.oobsize, 4096), 0xff);
function rawWrite(off, buf) {
  const data = Buffer.alloc(Math.max(buf.length, 4096));
  buf.copy(data);
  const req = Buffer.alloc(48);
  req.writeBigUInt64LE(BigInt(off), 0);
  req.writeBigUInt64LE(BigInt(buf.length), 8);
  req.writeBigUInt64LE(BigInt(g.oobsize), 16);
  req.writeBigUInt64LE(koffi.address(data), 24);
  req.writeBigUInt64LE(koffi.address(oobFF), 32);
  req[40] = 2;
  const rc = ioctl(rawFd, mtdIoctlRequest('MEMWRITE'), 'void *', req);
  if (rc !== 0) throw new Error(`raw MEMWRITE at ${off} failed: errno ${koffi.errno()}`);
}
const page = Buffer.alloc(W, 0xff);
pattern(W, 99).copy(page, 0, 0, 100); // some data, the rest 0xFF (so bits can still be cleared)
const p1 = 2 * E;
const p2 = 2 * E + W;
dev.write(p1, page);
dev.write(p2, page);
const before = dev.eccStats();
check('clean-page-ok', dev.read(p1, W).status === 'ok');
const oneFlip = Buffer.from(page);
oneFlip[200] &= ~0x04; // byte 200 is 0xFF: clear one bit
rawWrite(p1, oneFlip);
const twoFlips = Buffer.from(page);
twoFlips[200] &= ~0x04;
twoFlips[201] &= ~0x10; // same 256/512-byte ECC step: uncorrectable for Hamming
rawWrite(p2, twoFlips);
const raw1 = Buffer.alloc(W);
fs.readSync(rawFd, raw1, 0, W, p1);
check('raw-read-shows-flip', raw1.equals(oneFlip));
fs.closeSync(rawFd);
const c1 = dev.read(p1, W);
check('one-bitflip-is-EUCLEAN', c1.status === 'EUCLEAN' && c1.corrected >= 1 && c1.data.equals(page), `status ${c1.status}, corrected ${c1.corrected}, data ${c1.data.equals(page) ? 'corrected' : 'differs'}`);
const c2 = dev.read(p2, W);
check('two-bitflips-are-EBADMSG', c2.status === 'EBADMSG' && c2.data.length === W, `status ${c2.status}, corrected ${c2.corrected}`);
const after = dev.eccStats();
check('ecc-stats-advance', after.corrected > before.corrected && after.failed > before.failed, `${JSON.stringify(before)} -> ${JSON.stringify(after)}`);

// 4. Bad blocks.
const last = (blocks - 1) * E;
check('good-block-not-bad', dev.isBad(last) === false && dev.isBad(0) === false);
dev.markBad(last + W); // any offset inside the block
check('markbad-then-isbad', dev.isBad(last) === true);
check('write-to-bad-block-refused', /^EIO.*bad block/.test(code(() => dev.write(last, Buffer.alloc(W)))), code(() => dev.write(last, Buffer.alloc(W))));
check('erase-of-bad-block-fails', /^EIO/.test(code(() => dev.erase(last))), code(() => dev.erase(last)));
const sysBad = fs.readFileSync(`/sys/class/mtd/mtd${index}/bad_blocks`, 'utf8').trim();
check('sysfs-counts-bad-block', sysBad === '1', `bad_blocks ${sysBad}`);
check('ecc-stats-count-bad-block', dev.eccStats().badblocks === 1, JSON.stringify(dev.eccStats()));
check('out-of-range-refused', /^EINVAL/.test(code(() => dev.read(g.size - 10, 20))), code(() => dev.read(g.size - 10, 20)));
dev.close();

console.log(JSON.stringify({ check: 'summary', ok: failed === 0, detail: `${failed} failed` }));
process.exitCode = failed === 0 ? 0 : 1;
