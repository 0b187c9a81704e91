/**
 * Property tests: random write/erase/read sequences against a plain model of
 * flash (program = AND, erase = 0xFF, NAND pages limited to `nop` programs
 * per erase cycle, a failing page stops a multi-page program).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PstoreError } from '../../src/errors.js';
import { FlashSimulator } from '../../src/mtd/index.js';

type Cmd =
  | { t: 'w'; off: number; data: Uint8Array }
  | { t: 'e'; block: number; n: number }
  | { t: 'r'; off: number; len: number };

test('NOR: random writes/erases/reads agree with the AND/erase model', () => {
  const SIZE = 2048;
  const E = 512;
  const cmd: fc.Arbitrary<Cmd> = fc.oneof(
    fc
      .record({ off: fc.nat(SIZE - 1), data: fc.uint8Array({ minLength: 1, maxLength: 64 }) })
      .map(({ off, data }) => ({ t: 'w' as const, off: Math.min(off, SIZE - data.length), data })),
    fc.record({ block: fc.nat(3), n: fc.integer({ min: 1, max: 2 }) }).map(({ block, n }) => ({ t: 'e' as const, block, n: Math.min(n, 4 - block) })),
    fc.record({ off: fc.nat(SIZE - 1), len: fc.nat(128) }).map(({ off, len }) => ({ t: 'r' as const, off, len: Math.min(len, SIZE - off) })),
  );
  fc.assert(
    fc.property(fc.array(cmd, { maxLength: 40 }), (cmds) => {
      const sim = new FlashSimulator({ type: 'nor', size: SIZE, erasesize: E });
      const model = new Uint8Array(SIZE).fill(0xff);
      for (const c of cmds) {
        if (c.t === 'w') {
          sim.write(c.off, c.data);
          for (let i = 0; i < c.data.length; i++) model[c.off + i] &= c.data[i];
        } else if (c.t === 'e') {
          sim.erase(c.block * E, c.n * E);
          model.fill(0xff, c.block * E, (c.block + c.n) * E);
        } else {
          const r = sim.read(c.off, c.len);
          assert.deepEqual(new Uint8Array(r.data), model.subarray(c.off, c.off + c.len));
          assert.equal(r.status, 'ok');
        }
      }
      assert.deepEqual(new Uint8Array(sim.exportImage()), model);
    }),
    { numRuns: 150 },
  );
});

test('NAND (nop 2): random page programs/erases agree with the model, including refused reprograms', () => {
  const W = 64;
  const PPB = 4;
  const BLOCKS = 4;
  const SIZE = W * PPB * BLOCKS;
  const E = W * PPB;
  const NOP = 2;
  const cmd: fc.Arbitrary<Cmd> = fc.oneof(
    fc
      .record({ page: fc.nat(SIZE / W - 1), pages: fc.integer({ min: 1, max: 3 }), seed: fc.nat(255) })
      .map(({ page, pages, seed }) => {
        const n = Math.min(pages, SIZE / W - page);
        const data = new Uint8Array(n * W);
        for (let i = 0; i < data.length; i++) data[i] = (seed * 31 + i * 13) & 0xff | (i % 3 === 0 ? 0x81 : 0);
        return { t: 'w' as const, off: page * W, data };
      }),
    fc.record({ block: fc.nat(BLOCKS - 1), n: fc.constant(1) }).map(({ block, n }) => ({ t: 'e' as const, block, n })),
    fc.record({ off: fc.nat(SIZE - 1), len: fc.nat(200) }).map(({ off, len }) => ({ t: 'r' as const, off, len: Math.min(len, SIZE - off) })),
  );
  fc.assert(
    fc.property(fc.array(cmd, { maxLength: 50 }), (cmds) => {
      const sim = new FlashSimulator({ type: 'nand', size: SIZE, erasesize: E, writesize: W, oobsize: 8, nop: NOP, ecc: { strength: 2, stepSize: 64 } });
      const model = new Uint8Array(SIZE).fill(0xff);
      const count = new Uint8Array(SIZE / W);
      for (const c of cmds) {
        if (c.t === 'w') {
          // Expected: pages in order until the first one already programmed NOP times.
          let failAt = -1;
          for (let i = 0; i < c.data.length / W; i++) {
            const p = c.off / W + i;
            if (count[p] >= NOP) {
              failAt = i;
              break;
            }
            count[p]++;
            for (let j = 0; j < W; j++) model[p * W + j] &= c.data[i * W + j];
          }
          let err: unknown;
          try {
            sim.write(c.off, c.data);
          } catch (e) {
            err = e;
          }
          if (failAt >= 0) assert.ok(err instanceof PstoreError && err.code === 'EIO', 'over-programming must fail with EIO');
          else assert.equal(err, undefined);
        } else if (c.t === 'e') {
          sim.erase(c.block * E);
          model.fill(0xff, c.block * E, (c.block + 1) * E);
          count.fill(0, c.block * PPB, (c.block + 1) * PPB);
        } else {
          const r = sim.read(c.off, c.len);
          assert.deepEqual(new Uint8Array(r.data), model.subarray(c.off, c.off + c.len));
        }
      }
      assert.deepEqual(new Uint8Array(sim.exportImage()), model);
      for (let p = 0; p < SIZE / W; p++) assert.equal(sim.programCount(p), count[p]);
    }),
    { numRuns: 150 },
  );
});
