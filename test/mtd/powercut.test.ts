/**
 * Power cuts at every operation of small workloads: the torn-operation model.
 *
 * For each cut point k, the device state must be one the model allows:
 * every unit (NAND page; NOR byte for programs, 512-byte granule for NOR
 * erases) either as before the operation or as after it, units done in
 * order, and at most one unit a mix whose bits lie between "before" and
 * "after" (bits on which both agree are untouched). Every later call throws
 * PowerCut until reboot().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PowerCut, PstoreError } from '../../src/errors.js';
import { FlashSimulator, type SimulatorOptions } from '../../src/mtd/index.js';
import { pattern, throwsCode, throwsPowerCut } from './helpers.js';

interface Op {
  /** Range the operation may touch, and its tear unit. */
  off: number;
  len: number;
  unit: number;
  run(s: FlashSimulator): void;
}

interface RefStep {
  before: Buffer;
  after: Buffer;
  badBefore: number[];
  badAfter: number[];
}

function reference(opts: SimulatorOptions, ops: Op[]): { steps: RefStep[]; ops: number } {
  const s = new FlashSimulator(opts);
  const steps: RefStep[] = [];
  for (const op of ops) {
    const before = s.exportImage({ raw: true });
    const badBefore = s.badBlocks();
    const n0 = s.opCount;
    try {
      op.run(s);
    } catch (e) {
      if (!(e instanceof PstoreError)) throw e;
    }
    assert.equal(s.opCount, n0 + 1, 'each workload step is exactly one counted operation');
    steps.push({ before, after: s.exportImage({ raw: true }), badBefore, badAfter: s.badBlocks() });
  }
  return { steps, ops: s.opCount };
}

type Kind = 'same' | 'old' | 'new' | 'mixed';

/** Check `got` against the torn-operation model; return the mixed units' offsets. */
function checkTorn(got: Buffer, ref: RefStep, op: Op): number[] {
  const { before, after } = ref;
  // Outside the operation nothing may change.
  assert.ok(got.subarray(0, op.off).equals(before.subarray(0, op.off)), 'bytes before the op range changed');
  assert.ok(got.subarray(op.off + op.len).equals(before.subarray(op.off + op.len)), 'bytes after the op range changed');
  const kinds: Kind[] = [];
  const mixed: number[] = [];
  for (let a = op.off; a < op.off + op.len; a += op.unit) {
    const g = got.subarray(a, a + op.unit);
    const b = before.subarray(a, a + op.unit);
    const n = after.subarray(a, a + op.unit);
    let k: Kind;
    if (g.equals(b) && g.equals(n)) k = 'same';
    else if (g.equals(b)) k = 'old';
    else if (g.equals(n)) k = 'new';
    else {
      k = 'mixed';
      mixed.push(a);
      for (let i = 0; i < op.unit; i++) {
        assert.equal((g[i] ^ b[i]) & ~(b[i] ^ n[i]) & 0xff, 0, `mixed unit at ${a}: byte ${i} changed a bit the op does not change`);
      }
    }
    kinds.push(k);
  }
  assert.ok(mixed.length <= 1, `at most one mixed unit, got ${mixed.length}`);
  // Done in order: no "new" unit after an "old" or "mixed" one.
  let stopped = false;
  for (const k of kinds) {
    if (k === 'old' || k === 'mixed') stopped = true;
    else if (k === 'new') assert.ok(!stopped, `units not done in order: ${kinds.join(',')}`);
  }
  return mixed;
}

function enumerateCuts(opts: SimulatorOptions, ops: Op[], seeds: number[]): { cuts: number; mixedSeen: number; shapes: Set<string> } {
  let cuts = 0;
  let mixedSeen = 0;
  const shapes = new Set<string>();
  for (const seed of seeds) {
    const o = { ...opts, seed };
    const ref = reference(o, ops);
    const sim = new FlashSimulator(o);
    const snap0 = sim.snapshot();
    for (let k = 1; k <= ref.ops; k++) {
      sim.restore(snap0);
      sim.armPowerCut(k);
      let cutAt = -1;
      for (let i = 0; i < ops.length; i++) {
        try {
          ops[i].run(sim);
        } catch (e) {
          if (e instanceof PowerCut) {
            cutAt = i;
            assert.equal(e.operation, k);
            break;
          }
          if (!(e instanceof PstoreError)) throw e;
        }
      }
      assert.equal(cutAt, k - 1, `cut fired at op ${cutAt + 1}, armed for ${k}`);
      cuts++;
      // Dead until reboot.
      assert.equal(sim.poweredOff, true);
      throwsPowerCut(() => sim.read(0, 1));
      throwsPowerCut(() => sim.write(0, Buffer.alloc(sim.geometry.writesize)));
      throwsPowerCut(() => sim.panicWrite(0, Buffer.alloc(sim.geometry.writesize)));
      throwsPowerCut(() => sim.erase(0));
      throwsPowerCut(() => sim.isBad(0));
      throwsPowerCut(() => sim.sync());
      const opsAtCut = sim.opCount;
      const got = sim.exportImage({ raw: true });
      const step = ref.steps[k - 1];
      const mixed = checkTorn(got, step, ops[k - 1]);
      const same = (a: Buffer, b: Buffer): boolean => a.equals(b);
      shapes.add(same(got, step.before) ? 'before' : same(got, step.after) ? 'after' : mixed.length ? 'mixed' : 'partial');
      mixedSeen += mixed.length;
      sim.reboot();
      assert.equal(sim.opCount, opsAtCut, 'calls while off are not operations');
      const bad = sim.badBlocks();
      assert.ok(
        JSON.stringify(bad) === JSON.stringify(step.badBefore) || JSON.stringify(bad) === JSON.stringify(step.badAfter),
        `bad blocks ${bad} neither before ${step.badBefore} nor after ${step.badAfter}`,
      );
      // After reboot the device works; a mixed NAND page reads uncorrectable, the others clean.
      if (sim.geometry.type === 'nand') {
        const W = sim.geometry.writesize;
        const op = ops[k - 1];
        for (let a = op.off; a < op.off + op.len; a += W) {
          const r = sim.read(a, W);
          assert.equal(r.status, mixed.includes(a) ? 'EBADMSG' : 'ok', `page at ${a}`);
          assert.deepEqual(r.data, got.subarray(a, a + W));
        }
      } else {
        assert.deepEqual(sim.read(0, sim.geometry.size).data, got);
      }
      // Same seed, same cut → same state.
      if (k === Math.ceil(ref.ops / 2)) {
        const twin = new FlashSimulator(o);
        twin.armPowerCut(k);
        for (const op of ops) {
          try {
            op.run(twin);
          } catch (e) {
            if (e instanceof PowerCut) break;
          }
        }
        assert.deepEqual(twin.exportImage({ raw: true }), got);
      }
    }
  }
  return { cuts, mixedSeen, shapes };
}

// NAND: 512-byte pages (bad-block marker in OOB byte 5), 4 pages per block, 4 blocks.
const NW = 512;
const NE = 4 * NW;
const nandOpts: SimulatorOptions = { type: 'nand', size: 4 * NE, erasesize: NE, writesize: NW, oobsize: 16 };
const w = (off: number, data: Buffer): Op => ({ off, len: data.length, unit: NW, run: (s) => void s.write(off, data) });
const nandOps: Op[] = [
  w(0, pattern(3 * NW, 1)),
  w(NE, pattern(NE, 2)),
  { off: 3 * NW, len: NW, unit: NW, run: (s) => void s.panicWrite(3 * NW, pattern(NW, 3)) },
  { off: 0, len: 2 * NE, unit: NW, run: (s) => s.erase(0, 2 * NE) },
  w(0, pattern(2 * NW, 4)),
  w(NW, pattern(NW, 5)), // page 1 already programmed: fails (EIO) without changing anything
  w(2 * NW, pattern(2 * NW, 6)),
  { off: 2 * NE, len: NE, unit: NW, run: (s) => s.erase(2 * NE) }, // erasing an erased block
  w(2 * NE, pattern(NE, 7)),
  { off: NE, len: 2 * NE, unit: NW, run: (s) => s.erase(NE, 2 * NE) },
  { off: 0, len: 0, unit: NW, run: (s) => s.markBad(3 * NE) },
  w(3 * NE, pattern(NW, 8)), // bad block: EIO
  w(NE, pattern(2 * NE, 9)), // spans blocks 1 and 2
  { off: 0, len: NE, unit: NW, run: (s) => s.erase(0) },
];

test('NAND: a power cut at every operation leaves a state the torn-operation model allows', () => {
  const r = enumerateCuts(nandOpts, nandOps, [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(r.cuts, 8 * nandOps.length);
  assert.ok(r.mixedSeen > 0, 'some cuts leave a half-programmed / half-erased page');
  for (const s of ['before', 'after', 'mixed', 'partial']) assert.ok(r.shapes.has(s), `shape ${s} reached`);
});

// NOR: byte programs (tear unit 1 byte), erases torn in 512-byte granules.
const norOpts: SimulatorOptions = { type: 'nor', size: 4096, erasesize: 1024 };
const nw = (off: number, data: Buffer): Op => ({ off, len: data.length, unit: 1, run: (s) => void s.write(off, data) });
const norOps: Op[] = [
  nw(5, pattern(300, 1)),
  nw(200, pattern(40, 0x55)), // overlaps: AND
  { off: 0, len: 1024, unit: 512, run: (s) => s.erase(0) },
  nw(1000, pattern(100, 3)), // crosses a block boundary
  { off: 1100, len: 7, unit: 1, run: (s) => void s.panicWrite(1100, pattern(7, 4)) },
  { off: 0, len: 4096, unit: 512, run: (s) => s.erase(0, 4096) },
  nw(4000, pattern(96, 5)),
];

test('NOR: a power cut at every operation leaves a state the torn-operation model allows', () => {
  const r = enumerateCuts(norOpts, norOps, [1, 2, 3, 4, 5]);
  assert.equal(r.cuts, 5 * norOps.length);
  assert.ok(r.mixedSeen > 0);
});

test('tear shape can be forced: nothing done, everything done, or an exact prefix', () => {
  const data = pattern(NE, 2);
  const s = new FlashSimulator(nandOpts);
  const snap = s.snapshot();
  s.armPowerCut(1, { completed: 0, partial: false });
  throwsPowerCut(() => s.write(NE, data));
  assert.ok(s.exportImage().every((b) => b === 0xff), 'cut before: nothing programmed');
  s.restore(snap);
  s.armPowerCut(1, { completed: 4 });
  throwsPowerCut(() => s.write(NE, data));
  s.reboot();
  assert.deepEqual(s.read(NE, NE).data, data, 'cut after: all programmed, yet the caller saw the cut');
  s.restore(snap);
  s.armPowerCut(1, { completed: 1, partial: true });
  throwsPowerCut(() => s.write(NE, data));
  s.reboot();
  assert.deepEqual(s.read(NE, NW).data, data.subarray(0, NW));
  assert.equal(s.read(NE + NW, NW).status, 'EBADMSG');
  assert.equal(s.programCount(5), 1, 'the half-programmed page counts as programmed');
  assert.ok(s.read(NE + 2 * NW, 2 * NW).data.every((b) => b === 0xff));
});

test('power cut bookkeeping: absolute numbering, reads counted only on request, reboot disarms', () => {
  const s = new FlashSimulator(nandOpts);
  s.write(0, pattern(NW, 1));
  throwsCode(() => s.armPowerCut(1), 'EINVAL', /opCount is 1/);
  s.armPowerCut(3);
  s.read(0, 10); // reads are not counted by default
  s.erase(NE);
  assert.equal(s.opCount, 2);
  throwsPowerCut(() => s.erase(2 * NE));
  s.reboot();
  s.erase(2 * NE);
  assert.equal(s.poweredOff, false);

  const r = new FlashSimulator({ ...nandOpts, countReads: true });
  r.write(0, pattern(NW, 1));
  r.armPowerCut(2);
  const e = throwsPowerCut(() => r.read(0, NW));
  assert.equal(e.operation, 2);
  r.reboot();
  assert.deepEqual(r.read(0, NW).data, pattern(NW, 1), 'a cut read changes nothing');

  const m = new FlashSimulator(nandOpts);
  m.armPowerCut(1);
  throwsPowerCut(() => m.markBad(NE));
  m.reboot();
  assert.equal(m.isBad(NE), false, 'a cut markBad did not happen');
  m.disarmPowerCut();
});
