import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ALL_ABIS, abiLabel, type Abi } from '../../src/zone/abi.js';
import {
  KMSG_MAGIC,
  PSZ_SIG,
  PstoreType,
  decodeKmsgHeader,
  decodeZoneHeader,
  encodeKmsgZone,
  encodeZoneHeader,
  kmsgDataOffset,
  zoneSignature,
} from '../../src/zone/format.js';

/** Parse the hex dump lines of format.md §9 ("zone+0010: 00 00 ..."), up to a "[" marker. */
function dump(text: string): Buffer {
  const bytes: number[] = [];
  for (const line of text.trim().split('\n')) {
    const body = line.replace(/^\s*zone\+[0-9a-f]+:/, '').split('[')[0]!;
    for (const t of body.trim().split(/\s+/)) if (t) bytes.push(parseInt(t, 16));
  }
  return Buffer.from(bytes);
}

// format.md §9: panic, 1700000000.123456789, uncompressed, counter 1, 1000-byte record.
const REC = { time: { sec: 1700000000, nsec: 123456789 }, compressed: false, counter: 1, reason: 1, data: Buffer.alloc(1000, 0x41) };

const LP64_LE = dump(`
    zone+0000: 44 42 47 43  10 04 00 00  00 00 00 00  e5 3a fc 4d
    zone+0010: 00 00 00 00  00 f1 53 65  00 00 00 00  15 cd 5b 07
    zone+0020: 00 00 00 00  00 00 00 00  01 00 00 00  01 00 00 00
    zone+0030: 00 00 00 00  [record]`);
const LP64_BE = dump(`
    zone+0000: 43 47 42 44  00 00 04 10  00 00 00 00  4d fc 3a e5
    zone+0010: 00 00 00 00  00 00 00 00  65 53 f1 00  00 00 00 00
    zone+0020: 07 5b cd 15  00 00 00 00  00 00 00 01  00 00 00 01
    zone+0030: 00 00 00 00  [record]`);
const ILP32_A8_BE = dump(`
    zone+0000: 43 47 42 44  00 00 04 10  00 00 00 00  4d fc 3a e5
    zone+0010: 00 00 00 00  00 00 00 00  65 53 f1 00  07 5b cd 15
    zone+0020: 00 00 00 00  00 00 00 00  00 00 00 01  00 00 00 01
    zone+0030: 00 00 00 00  [record]`);
const I386_LE = dump(`
    zone+0000: 44 42 47 43  04 04 00 00  00 00 00 00  e5 3a fc 4d
    zone+0010: 00 f1 53 65  00 00 00 00  15 cd 5b 07  00 00 00 00
    zone+0020: 01 00 00 00  01 00 00 00  [record]`);

const cases: Array<[Abi, Buffer]> = [
  [{ cls: 'lp64', endian: 'le' }, LP64_LE],
  [{ cls: 'lp64', endian: 'be' }, LP64_BE],
  [{ cls: 'ilp32-a8', endian: 'le' }, LP64_LE], // identical bytes to LP64-LE
  [{ cls: 'ilp32-a8', endian: 'be' }, ILP32_A8_BE],
  [{ cls: 'ilp32-a4', endian: 'le' }, I386_LE],
];

test('H / format.md §9: kmsg zone header bytes, byte for byte, per ABI', () => {
  for (const [abi, want] of cases) {
    const zone = encodeKmsgZone(abi, 4096, REC);
    assert.equal(want.length, kmsgDataOffset(abi), abiLabel(abi));
    assert.deepEqual(zone.subarray(0, want.length), want, abiLabel(abi));
    // Record bytes follow, then zero fill to the zone end.
    assert.deepEqual(zone.subarray(want.length, want.length + 1000), REC.data);
    assert.ok(zone.subarray(want.length + 1000).every((b) => b === 0));
    // And the dump decodes back to the same fields.
    const zh = decodeZoneHeader(want, 0, abi.endian);
    assert.deepEqual(zh, { sig: PSZ_SIG, datalen: want.length - 12 + 1000, start: 0 });
    const kh = decodeKmsgHeader(want, 12, abi);
    assert.deepEqual(kh, { magic: KMSG_MAGIC, sec: 1700000000, nsec: 123456789, compressed: 0, counter: 1, reason: 1 });
  }
});

test('format.md §9: the pmsg example header (wrapped, next write at 916)', () => {
  const h = encodeZoneHeader({ sig: zoneSignature(PstoreType.PMSG), datalen: 4084, start: 916 }, 'le');
  assert.deepEqual(Buffer.from(h), dump('zone+0000: 43 42 47 43  f4 0f 00 00  94 03 00 00'));
  assert.deepEqual(decodeZoneHeader(h, 0, 'le'), { sig: 0x43474243, datalen: 4084, start: 916 });
});

test('format.md §3: signature bytes of every pstore type, both byte orders', () => {
  const table: Array<[number, string, string]> = [
    [0, '44 42 47 43', '43 47 42 44'],
    [1, '45 42 47 43', '43 47 42 45'],
    [2, '46 42 47 43', '43 47 42 46'],
    [3, '47 42 47 43', '43 47 42 47'],
    [4, '40 42 47 43', '43 47 42 40'],
    [5, '41 42 47 43', '43 47 42 41'],
    [6, '42 42 47 43', '43 47 42 42'],
    [7, '43 42 47 43', '43 47 42 43'],
    [8, '4C 42 47 43', '43 47 42 4C'],
  ];
  for (const [type, le, be] of table) {
    const sig = zoneSignature(type);
    assert.equal(sig, (0x43474244 ^ type) >>> 0);
    for (const [endian, hexs] of [['le', le], ['be', be]] as const) {
      const h = encodeZoneHeader({ sig, datalen: 0, start: 0 }, endian);
      assert.deepEqual(Buffer.from(h.subarray(0, 4)), Buffer.from(hexs.replace(/ /g, ''), 'hex'), `type ${type} ${endian}`);
    }
  }
  assert.equal(Buffer.from(encodeZoneHeader({ sig: PSZ_SIG, datalen: 0, start: 0 }, 'le').subarray(0, 4)).toString('latin1'), 'DBGC');
});

test('kmsg zone encode/decode round trip for every ABI (property)', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...ALL_ABIS),
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.integer({ min: 0, max: 999_999_999 }),
      fc.boolean(),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 5 }),
      fc.uint8Array({ maxLength: 300 }),
      (abi, sec, nsec, compressed, counter, reason, data) => {
        const zone = encodeKmsgZone(abi, 512, { time: { sec, nsec }, compressed, counter, reason, data });
        const off = kmsgDataOffset(abi);
        const len = Math.min(data.length, 512 - off);
        assert.equal(decodeZoneHeader(zone, 0, abi.endian).datalen, off - 12 + len);
        assert.deepEqual(decodeKmsgHeader(zone, 12, abi), { magic: KMSG_MAGIC, sec, nsec, compressed: compressed ? 1 : 0, counter, reason });
        assert.deepEqual(zone.subarray(off, off + len), Buffer.from(data.subarray(0, len)));
      },
    ),
    { numRuns: 300 },
  );
});
