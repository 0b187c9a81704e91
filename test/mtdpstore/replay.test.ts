/** The replay runner: schema checks, payloads, snapshots, per-step counters, boots. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runReplay } from '../../src/mtdpstore/replay.js';
import { throwsCode } from '../mtd/helpers.js';
import { decodeRecords } from './fixtures.js';

const geometry = { type: 'nand', size: 524288, erasesize: 131072, writesize: 2048, oobsize: 64, badBlocks: [2] };
const config = { kmsgSize: 65536, maxReason: 2 };
const rec = (n: number, op = 'write') => ({
  op,
  ...(op === 'write' ? { reason: 'oops' } : {}),
  time: { sec: 1796313846 + n, nsec: 274529865 },
  compressed: false,
  payload: `p${n}.bin`,
});

function withDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(path.join(tmpdir(), 'replay-'));
  try {
    for (let n = 0; n < 8; n++) writeFileSync(path.join(dir, `p${n}.bin`), `Oops#${n} Part1\nline ${n}\n`);
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('replay: writes, removal, detach, reboot and panic with per-step counters and snapshot files', () => {
  withDir((dir) => {
    const script = {
      geometry,
      config,
      ops: [
        { op: 'attach' }, { op: 'recover' }, rec(0), rec(1), rec(2), { op: 'recover' },
        { op: 'remove', name: 'dmesg-pstore_blk-0' }, { op: 'detach' }, { op: 'snapshot', name: 's1' },
        { op: 'attach' }, rec(3, 'panic-write'), { op: 'reboot' }, { op: 'attach' }, { op: 'recover' }, { op: 'snapshot', name: 's2' },
      ],
    };
    const snapDir = path.join(dir, 'out');
    const r = runReplay(script, { baseDir: dir, policy: 'kernel', snapshotDir: snapDir });
    assert.equal(r.steps.length, script.ops.length);
    const w = r.steps.filter((s) => s.op === 'write' || s.op === 'panic-write');
    assert.deepEqual(w.map((s) => s.outcome!.zone), [0, 1, 2, 3], 'the panic continues at the carried kmsg_write_cnt');
    assert.deepEqual(w.map((s) => [s.delta.programs, s.delta.panicWrites, s.delta.erases]), [[1, 0, 0], [1, 0, 0], [1, 0, 0], [0, 1, 0]]);
    const detach = r.steps[7]!;
    assert.deepEqual([detach.delta.erases, detach.delta.programs, detach.delta.reads], [1, 1, 1], 'flush: read, erase, write back zone 1');
    assert.deepEqual(r.steps[5]!.files, ['dmesg-pstore_blk-0', 'dmesg-pstore_blk-1', 'dmesg-pstore_blk-2']);
    assert.deepEqual(r.steps[13]!.files, ['dmesg-pstore_blk-1', 'dmesg-pstore_blk-2', 'dmesg-pstore_blk-3']);
    assert.equal(r.steps.at(-1)!.counters.erases, 1);
    const s1 = readFileSync(path.join(snapDir, 's1.img'));
    assert.ok(s1.equals(r.snapshots.get('s1')!));
    const recs = decodeRecords(s1, 65536);
    assert.deepEqual(recs.map((x) => [x.zone, x.payload.toString()]), [[1, 'Oops#0 Part1\nline 0\n'], [2, 'Oops#2 Part1\nline 2\n']]);
    const s2 = decodeRecords(readFileSync(path.join(snapDir, 's2.img')), 65536);
    assert.deepEqual(s2.map((x) => [x.zone, x.reason, x.counter]), [[1, 2, 1], [2, 2, 3], [3, 1, 1]]);
  });
});

test('replay: hardened policy on the same script keeps the survivor and removes the record for good', () => {
  withDir((dir) => {
    const script = {
      geometry,
      config,
      ops: [{ op: 'attach' }, { op: 'recover' }, rec(0), rec(1), rec(2), { op: 'recover' }, { op: 'remove', name: 'dmesg-pstore_blk-0' }, { op: 'detach' }, { op: 'reboot' }, { op: 'attach' }, { op: 'recover' }],
    };
    const r = runReplay(script, { baseDir: dir, policy: 'hardened' });
    const texts = decodeRecords(r.image, 65536).map((x) => x.payload.toString()).sort();
    assert.deepEqual(texts, ['Oops#1 Part1\nline 1\n', 'Oops#2 Part1\nline 2\n']);
    assert.equal(r.steps.at(-1)!.files!.length, 2);
  });
});

test('replay: starts from a given image', () => {
  withDir((dir) => {
    const first = runReplay({ geometry, config, ops: [{ op: 'attach' }, { op: 'recover' }, rec(0)] }, { baseDir: dir, policy: 'kernel' });
    const second = runReplay({ geometry, config, ops: [{ op: 'attach' }, { op: 'recover' }] }, { baseDir: dir, policy: 'kernel', image: first.image });
    assert.deepEqual(second.steps[1]!.files, ['dmesg-pstore_blk-0']);
  });
});

test('replay: unknown ops and fields, bad values and missing payloads are EINVAL / ENOENT naming them', () => {
  withDir((dir) => {
    const run = (s: unknown) => () => runReplay(s, { baseDir: dir, policy: 'kernel' });
    throwsCode(run({ geometry, config, ops: [{ op: 'format' }] }), 'EINVAL', /ops\[0\]: unknown op "format"/);
    throwsCode(run({ geometry, config, ops: [{ op: 'attach', force: true }] }), 'EINVAL', /ops\[0\] \(attach\): unknown field "force"/);
    throwsCode(run({ geometry: { ...geometry, pages: 3 }, config, ops: [] }), 'EINVAL', /geometry: unknown field "pages"/);
    throwsCode(run({ geometry, config: { ...config, zone: 1 }, ops: [] }), 'EINVAL', /config: unknown field "zone"/);
    throwsCode(run({ geometry, config, ops: [], extra: 1 }), 'EINVAL', /script: unknown field "extra"/);
    throwsCode(run({ geometry, config, ops: [{ ...rec(0), reason: 'crash' }] }), 'EINVAL', /reason must be one of/);
    throwsCode(run({ geometry, config, ops: [{ op: 'write', time: { sec: 1, nsec: 0 }, compressed: false }] }), 'EINVAL', /missing field payload/);
    throwsCode(run({ geometry, config, ops: [{ op: 'snapshot', name: '../x' }] }), 'EINVAL', /without slashes/);
    throwsCode(run({ geometry, config, ops: [{ op: 'attach' }, { op: 'recover' }, { ...rec(0), payload: 'nope.bin' }] }), 'ENOENT', /ops\[2\] \(write\): cannot read payload "nope.bin"/);
    throwsCode(run({ geometry, config, ops: [{ op: 'attach' }, { op: 'remove', name: 'dmesg-pstore_blk-9' }] }), 'ENOENT', /ops\[1\] \(remove\): no file/);
    throwsCode(run({ geometry: { ...geometry, size: 65536, erasesize: 65536, badBlocks: [] }, config, ops: [{ op: 'attach' }] }), 'EINVAL', /ops\[0\] \(attach\): MTD partition 0 not big enough/);
    assert.equal(existsSync(path.join(dir, 'out')), false);
  });
});
