import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ALL_ABIS, abiLabel } from '../../src/zone/abi.js';
import { layoutStruct, decodeStruct, encodeStruct, type StructDecl } from '../../src/zone/struct.js';
import { kmsgHeaderLayout, kmsgHeaderSize } from '../../src/zone/format.js';

test('kmsg sub-header offsets follow format.md §4 for every ABI class', () => {
  const want = {
    lp64: { magic: 0, 'time.tv_sec': 8, 'time.tv_nsec': 16, compressed: 24, counter: 28, reason: 32, size: 40, nsec: 8 },
    'ilp32-a8': { magic: 0, 'time.tv_sec': 8, 'time.tv_nsec': 16, compressed: 24, counter: 28, reason: 32, size: 40, nsec: 4 },
    'ilp32-a4': { magic: 0, 'time.tv_sec': 4, 'time.tv_nsec': 12, compressed: 16, counter: 20, reason: 24, size: 28, nsec: 4 },
    m68k: { magic: 0, 'time.tv_sec': 4, 'time.tv_nsec': 12, compressed: 16, counter: 18, reason: 22, size: 26, nsec: 4 },
  } as const;
  for (const abi of ALL_ABIS) {
    const l = kmsgHeaderLayout(abi);
    const w = want[abi.cls];
    assert.equal(l.size, w.size, abiLabel(abi));
    assert.equal(kmsgHeaderSize(abi), w.size);
    for (const f of l.fields) assert.equal(f.offset, w[f.name as keyof typeof w], `${abiLabel(abi)} ${f.name}`);
    assert.equal(l.fields.find((f) => f.name === 'time.tv_nsec')!.size, w.nsec);
  }
});

const DECL: StructDecl = {
  name: 'probe',
  members: [
    ['a', 'u8'],
    ['b', 'u32'],
    ['c', { name: 'inner', members: [['t', 'time64'], ['l', 'long']] }],
    ['d', 's32'],
  ],
};

test('encode then decode is the identity for every ABI and byte order', () => {
  for (const abi of ALL_ABIS) {
    const l = layoutStruct(DECL, abi);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }),
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        (a, b, t, lg, d) => {
          const buf = Buffer.alloc(l.size + 3);
          const v = { a, b, 'c.t': t, 'c.l': lg, d };
          encodeStruct(l, v, buf, 3, abi.endian);
          assert.deepEqual(decodeStruct(l, buf, 3, abi.endian), v);
        },
      ),
      { numRuns: 200 },
    );
  }
});
