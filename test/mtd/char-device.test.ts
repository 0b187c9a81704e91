/**
 * What of the real-device backend can be checked without an MTD device:
 * ioctl request numbers per architecture (against the table in
 * spec/images.md §5.2), argument packing, sysfs parsing on a fake tree,
 * device-number decoding, and the refusals for nodes that are not MTD
 * character devices. The device itself is exercised inside the kernel VM
 * (test/kernel, scenario "chardev").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  MTD_IOCTLS,
  MtdCharDevice,
  decodeDevNumber,
  iocEncodingOf,
  iocNumber,
  isCharDevicePath,
  mtdIoctlRequest,
  mtdTypeOfNumber,
  mtdTypeOfSysfs,
  openMtdPath,
  packEraseInfo64,
  packOffset,
  readSysfsMtd,
  unpackEccStats,
  unpackMtdInfoUser,
  type MtdIoctlName,
} from '../../src/mtd/char-device.js';
import { throwsCode } from './helpers.js';

// spec/images.md §5.2: generic and MIPS/PPC request numbers.
const TABLE: Record<MtdIoctlName, [number, number]> = {
  MEMGETINFO: [0x80204d01, 0x40204d01],
  MEMERASE: [0x40084d02, 0x80084d02],
  MEMGETBADBLOCK: [0x40084d0b, 0x80084d0b],
  MEMSETBADBLOCK: [0x40084d0c, 0x80084d0c],
  ECCGETSTATS: [0x80104d12, 0x40104d12],
  MTDFILEMODE: [0x00004d13, 0x20004d13],
  MEMERASE64: [0x40104d14, 0x80104d14],
  MEMWRITE: [0xc0304d18, 0xc0304d18],
  MEMREAD: [0xc0404d1a, 0xc0404d1a],
};

test('request numbers match the spec table on generic and MIPS/PPC architectures', () => {
  for (const name of Object.keys(MTD_IOCTLS) as MtdIoctlName[]) {
    const [generic, mips] = TABLE[name];
    for (const arch of ['x64', 'arm64', 'arm', 'riscv64', 's390x', 'loong64']) {
      assert.equal(mtdIoctlRequest(name, arch), generic, `${name} on ${arch}: 0x${mtdIoctlRequest(name, arch).toString(16)}`);
    }
    for (const arch of ['mips', 'mipsel', 'mips64el', 'ppc64', 'ppc']) {
      assert.equal(mtdIoctlRequest(name, arch), mips, `${name} on ${arch}: 0x${mtdIoctlRequest(name, arch).toString(16)}`);
    }
  }
  // i386 packs struct mtd_read_req to 60 bytes.
  assert.equal(mtdIoctlRequest('MEMREAD', 'ia32'), 0xc03c4d1a);
  assert.equal(mtdIoctlRequest('MEMGETINFO', 'ia32'), 0x80204d01);
  // Every number is unsigned 32-bit.
  for (const name of Object.keys(MTD_IOCTLS) as MtdIoctlName[]) assert.ok(mtdIoctlRequest(name, 'x64') >= 0);
});

test('PA-RISC swaps the read and write direction bits', () => {
  assert.equal(iocEncodingOf('parisc'), 'parisc');
  assert.equal(mtdIoctlRequest('MEMGETINFO', 'parisc'), 0x40204d01);
  assert.equal(mtdIoctlRequest('MEMERASE64', 'parisc'), 0x80104d14);
  assert.equal(mtdIoctlRequest('MEMREAD', 'parisc'), 0xc0404d1a);
});

test('unknown architectures and oversized arguments are refused', () => {
  throwsCode(() => mtdIoctlRequest('MEMGETINFO', 'vax'), 'EOPNOTSUPP', /vax/);
  throwsCode(() => iocNumber('generic', 'read', 0x4d, 1, 1 << 14), 'EINVAL', /14 bits/);
  throwsCode(() => iocNumber('mips-ppc', 'read', 0x4d, 1, 1 << 13), 'EINVAL', /13 bits/);
  assert.equal(iocNumber('mips-ppc', 'read', 0x4d, 1, (1 << 13) - 1), 0x5fff4d01);
});

test('ioctl arguments are packed native-endian with the kernel layouts', () => {
  const e = packEraseInfo64(0x1_2345_6000, 0x20000);
  assert.equal(e.length, 16);
  assert.equal(e.readBigUInt64LE(0), 0x1_2345_6000n);
  assert.equal(e.readBigUInt64LE(8), 0x20000n);
  const o = packOffset(0x40000);
  assert.equal(o.length, 8);
  assert.equal(o.readBigUInt64LE(0), 0x40000n);

  // mtd_info_user as nandsim reports a 512 KiB NAND: type NAND, writeable.
  const info = Buffer.alloc(32);
  info[0] = 4;
  info.writeUInt32LE(0x400, 4);
  info.writeUInt32LE(0x80000, 8);
  info.writeUInt32LE(0x20000, 12);
  info.writeUInt32LE(2048, 16);
  info.writeUInt32LE(64, 20);
  info.writeBigUInt64LE(0xdeadbeefn, 24);
  assert.deepEqual(unpackMtdInfoUser(info), { type: 4, flags: 0x400, size: 0x80000, erasesize: 0x20000, writesize: 2048, oobsize: 64 });
  throwsCode(() => unpackMtdInfoUser(Buffer.alloc(31)), 'EINVAL', /32 bytes/);

  const ecc = Buffer.alloc(16);
  [7, 1, 2, 3].forEach((v, i) => ecc.writeUInt32LE(v, i * 4));
  assert.deepEqual(unpackEccStats(ecc), { corrected: 7, failed: 1, badblocks: 2, bbtblocks: 3 });
});

test('MTD type numbers and sysfs words map to our types', () => {
  assert.equal(mtdTypeOfNumber(4), 'nand');
  assert.equal(mtdTypeOfNumber(8), 'nand');
  assert.equal(mtdTypeOfNumber(3), 'nor');
  assert.equal(mtdTypeOfNumber(1), 'ram');
  assert.equal(mtdTypeOfNumber(7), undefined);
  assert.equal(mtdTypeOfSysfs('mlc-nand'), 'nand');
  assert.equal(mtdTypeOfSysfs('dataflash'), 'nor');
  assert.equal(mtdTypeOfSysfs('ubi'), undefined);
});

function fakeSysfs(attrs: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'sysfs-mtd-'));
  mkdirSync(path.join(root, 'mtd3'));
  for (const [k, v] of Object.entries(attrs)) writeFileSync(path.join(root, 'mtd3', k), v + '\n');
  return root;
}

test('sysfs geometry is parsed from a fake /sys/class/mtd tree', () => {
  const root = fakeSysfs({
    name: 'NAND simulator partition 0',
    type: 'nand',
    size: '524288',
    erasesize: '131072',
    writesize: '2048',
    oobsize: '64',
    flags: '0x400',
  });
  try {
    const s = readSysfsMtd(3, root);
    assert.deepEqual(s, {
      index: 3,
      name: 'NAND simulator partition 0',
      typeName: 'nand',
      type: 'nand',
      size: 524288,
      erasesize: 131072,
      writesize: 2048,
      oobsize: 64,
      flags: 0x400,
    });
    assert.equal(readSysfsMtd(4, root), null);

    // MEMGETINFO agreeing with sysfs gives sysfs's name and 64-bit size.
    const info = { type: 4, flags: 0x400, size: 524288, erasesize: 131072, writesize: 2048, oobsize: 64 };
    const g = MtdCharDevice.geometryFrom('/dev/mtd3', 3, info, s);
    assert.deepEqual({ ...g }, { name: 'NAND simulator partition 0', index: 3, type: 'nand', size: 524288, erasesize: 131072, writesize: 2048, oobsize: 64 });
    // Without sysfs MEMGETINFO alone is used, named after the node.
    assert.equal(MtdCharDevice.geometryFrom('/dev/mtd3', 3, info, null).name, '/dev/mtd3');
    // Disagreement means the sysfs tree is someone else's.
    throwsCode(() => MtdCharDevice.geometryFrom('/dev/mtd3', 3, { ...info, erasesize: 65536 }, s), 'EINVAL', /disagree/, /erasesize 131072 vs 65536/);
    throwsCode(() => MtdCharDevice.geometryFrom('/dev/mtd3', 3, { ...info, type: 3 }, s), 'EINVAL', /type nand vs 3/);
    // A size of 4 GiB or more only exists in sysfs: MEMGETINFO's truncated value is not held against it.
    const big = { ...s!, size: 2 ** 32 };
    assert.equal(MtdCharDevice.geometryFrom('/dev/mtd3', 3, { ...info, size: 0 }, big).size, 2 ** 32);
    throwsCode(() => MtdCharDevice.geometryFrom('/dev/mtd3', 3, { ...info, type: 7 }, null), 'EINVAL', /not supported/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a broken sysfs attribute is reported by name', () => {
  const root = fakeSysfs({ name: 'x', type: 'nor', size: 'lots', erasesize: '65536', writesize: '1' });
  try {
    throwsCode(() => readSysfsMtd(3, root), 'EINVAL', /mtd3\/size holds 'lots'/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const root2 = fakeSysfs({ name: 'x', type: 'nor', size: '65536', writesize: '1' });
  try {
    throwsCode(() => readSysfsMtd(3, root2), 'EINVAL', /erasesize is missing/);
  } finally {
    rmSync(root2, { recursive: true, force: true });
  }
});

test('device numbers decode as glibc encodes them', () => {
  assert.deepEqual(decodeDevNumber((90 << 8) | 4), { major: 90, minor: 4 });
  // Large minors live in the high bits.
  assert.deepEqual(decodeDevNumber((90 << 8) | 0x34 | (0x12 << 20)), { major: 90, minor: 0x1234 });
  assert.deepEqual(decodeDevNumber(statSync('/dev/null').rdev), { major: 1, minor: 3 });
});

test('nodes that are not MTD character devices are refused with a clear message', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'chardev-'));
  try {
    const file = path.join(dir, 'image.bin');
    writeFileSync(file, Buffer.alloc(4096, 0xff));
    throwsCode(() => MtdCharDevice.open(file), 'EINVAL', /regular file: open it as an image/);
    throwsCode(() => MtdCharDevice.open(dir), 'EINVAL', /not a device node/);
    throwsCode(() => MtdCharDevice.open('/dev/null'), 'EINVAL', /device 1:3, not an MTD character device/);
    throwsCode(() => MtdCharDevice.open(path.join(dir, 'missing')), 'ENOENT', /cannot open/);
    // openMtdPath lets callers fall back to image files.
    assert.equal(openMtdPath(file), null);
    assert.equal(openMtdPath(path.join(dir, 'missing')), null);
    assert.equal(isCharDevicePath(file), false);
    assert.equal(isCharDevicePath('/dev/null'), true);
    throwsCode(() => openMtdPath('/dev/null', { writable: true }), 'EINVAL', /not an MTD/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
