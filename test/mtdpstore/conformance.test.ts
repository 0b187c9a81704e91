/**
 * Replay conformance: the kernel's own action sequence of each mtdpstore
 * fixture, replayed from blank flash through the replay runner in kernel
 * mode, must leave byte-identical images at every snapshot and make exactly
 * the kernel's number of mtd_erase / mtd_write / mtd_panic_write calls
 * (kprobe_hits_cumulative). Record contents (payload, time, compressed flag,
 * reason) are taken from the kernel's images; counters are computed by our
 * pstore/zone and must match what the kernel stored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FlashSimulator } from '../../src/mtd/simulator.js';
import type { MtdDevice } from '../../src/mtd/device.js';
import { MtdPstoreSession } from '../../src/mtdpstore/session.js';
import { runReplay, type ReplayOp } from '../../src/mtdpstore/replay.js';
import { kibToBytes } from '../../src/zone/config.js';
import { decodeRecords, loadImage, loadMeta, type StoredRecord } from './fixtures.js';

interface Plan {
  script: { geometry: object; config: { kmsgSize: number; maxReason: number }; ops: ReplayOp[] };
  /** Snapshot name → state name it must equal. */
  compare: Map<string, string>;
  /** trace name → number of ops emitted before it. */
  traces: Map<string, number>;
  dir: string;
}

function plan(scenario: string): Plan {
  const meta = loadMeta(scenario);
  const boot = meta.boots[0]!;
  const blk = boot.actions.find((a) => a.startsWith('mod=pstore_blk'))!;
  const kib = Number(/kmsg_size=(\d+)/.exec(blk)![1]);
  const maxReason = Number(/max_reason=(\d+)/.exec(blk)?.[1] ?? 2);
  const Z = kibToBytes('kmsg_size', kib).bytes;
  assert.equal(Z, meta.geometry.zone_size);
  // Every record the kernel left in any image, by oops counter.
  const byCounter = new Map<number, StoredRecord>();
  for (const st of meta.states) {
    for (const r of decodeRecords(loadImage(scenario, st.image), Z)) if (!byCounter.has(r.counter)) byCounter.set(r.counter, r);
  }
  const dir = mkdtempSync(path.join(tmpdir(), `replay-${scenario}-`));
  const ops: ReplayOp[] = [];
  const compare = new Map<string, string>();
  const traces = new Map<string, number>();
  let oops = 0;
  for (const a of boot.actions) {
    if (a === 'mod=mtdpstore') ops.push({ op: 'attach' });
    else if (a === 'mount') ops.push({ op: 'recover' });
    else if (a === 'rmmod=mtdpstore') ops.push({ op: 'detach' });
    else if (a.startsWith('rm=')) ops.push({ op: 'remove', name: a.slice(3) });
    else if (a.startsWith('oops=')) {
      oops++;
      let r = byCounter.get(oops);
      if (!r) {
        // Erased by the kernel before any snapshot (the security step): its content never reaches
        // an image, so any record will do; the time keeps the sequence increasing.
        const next = [...byCounter.values()].sort((x, y) => x.counter - y.counter)[0]!;
        r = { zone: -1, sec: next.sec - 10 + oops, nsec: 0, compressed: false, counter: oops, reason: 2, payload: Buffer.from(`Oops#${oops} Part1\nplaceholder\n`) };
      }
      const file = `rec${oops}.bin`;
      writeFileSync(path.join(dir, file), r.payload);
      ops.push({ op: 'write', reason: r.reason, time: { sec: r.sec, nsec: r.nsec }, compressed: r.compressed, payload: file });
    } else if (a.startsWith('snap=')) {
      const img = a.split(':')[1]!;
      const state = meta.states.find((s) => s.source.endsWith(`/${img}.gz`));
      assert.ok(state, `no state for ${a}`);
      ops.push({ op: 'snapshot', name: img });
      compare.set(img, state.name);
    } else if (a.startsWith('ktrace_save=')) traces.set(a.slice('ktrace_save='.length), ops.length);
    else assert.match(a, /^(mod=nandsim|info=|ktrace$|mod=pstore_blk|cap=|umount$)/, `unhandled action ${a}`);
  }
  const g = meta.geometry;
  return {
    script: {
      geometry: { type: 'nand', size: g.size, erasesize: g.erasesize, writesize: g.writesize, oobsize: g.oobsize },
      config: { kmsgSize: Z, maxReason },
      ops,
    },
    compare,
    traces,
    dir,
  };
}

for (const scenario of ['mtdpstore-small-wrap', 'mtdpstore-small-kmsg32']) {
  test(`replay of ${scenario} reproduces the kernel's images and mtd call counts`, () => {
    const meta = loadMeta(scenario);
    const p = plan(scenario);
    try {
      // Round-trip through JSON: the runner takes exactly what a script file holds.
      const script = JSON.parse(JSON.stringify(p.script));
      const snapDir = path.join(p.dir, 'snaps');
      const res = runReplay(script, { baseDir: p.dir, policy: 'kernel', snapshotDir: snapDir });
      assert.ok(p.compare.size >= 3);
      for (const [snap, stateName] of p.compare) {
        const state = meta.states.find((s) => s.name === stateName)!;
        const want = loadImage(scenario, state.image);
        const got = readFileSync(path.join(snapDir, `${snap}.img`));
        assert.equal(got.length, want.length);
        if (!got.equals(want)) {
          let first = 0;
          while (got[first] === want[first]) first++;
          assert.fail(`${scenario} ${stateName}: image differs first at byte ${first} (zone ${Math.floor(first / p.script.config.kmsgSize)})`);
        }
      }
      const hits = meta.boots[0]!.kprobe_hits_cumulative;
      assert.ok(Object.keys(hits).length >= 2);
      for (const [trace, nOps] of p.traces) {
        const c = nOps === 0 ? { erases: 0, programs: 0, panicWrites: 0 } : res.steps[nOps - 1]!.counters;
        assert.deepEqual(
          { mtd_erase: c.erases, mtd_write: c.programs, mtd_panic_write: c.panicWrites },
          hits[trace],
          `${scenario} ${trace}: mtd call counts`,
        );
      }
      // Our pstore/zone gave every oops the counter the kernel stored.
      const writes = res.steps.filter((s) => s.op === 'write');
      writes.forEach((s, i) => assert.equal(s.outcome?.counter, i + 1));
      assert.ok(res.log.some((l) => l === 'mtd mtd0: mtdoops-pstore: Attached to MTD device 0'));
    } finally {
      rmSync(p.dir, { recursive: true, force: true });
    }
  });
}

test('kmsg32: the detach flush writes the first zone of block 0 into every surviving zone (W2, kernel mode)', () => {
  const p = plan('mtdpstore-small-kmsg32');
  try {
    const res = runReplay(p.script, { baseDir: p.dir, policy: 'kernel' });
    const recs = decodeRecords(res.snapshots.get('img3')!, 32768);
    assert.deepEqual(recs.map((r) => r.zone), [0, 2, 3]);
    assert.ok(recs.every((r) => r.counter === 1 && r.payload.equals(recs[0]!.payload)));
    // The flush at detach: one erase of block 0, then 3 writes (zones 0, 2, 3).
    const detach = res.steps.filter((s) => s.op === 'detach')[1]!;
    assert.deepEqual([detach.delta.erases, detach.delta.programs], [1, 3]);
  } finally {
    rmSync(p.dir, { recursive: true, force: true });
  }
});

/** Delegates to a device and records erase and write calls made outside an oops. */
class Tracer implements MtdDevice {
  calls: string[] = [];
  inOops = false;
  constructor(private readonly dev: MtdDevice) {}
  get geometry() {
    return this.dev.geometry;
  }
  read(off: number, len: number) {
    return this.dev.read(off, len);
  }
  write(off: number, data: Uint8Array) {
    if (!this.inOops) this.calls.push(`mtd_write to=${off} len=${data.length}`);
    return this.dev.write(off, data);
  }
  panicWrite(off: number, data: Uint8Array) {
    return this.dev.panicWrite(off, data);
  }
  erase(off: number, len?: number) {
    if (!this.inOops) this.calls.push(`mtd_erase addr=${off} len=${len ?? this.geometry.erasesize}`);
    this.dev.erase(off, len);
  }
  isBad(off: number) {
    return this.dev.isBad(off);
  }
  markBad(off: number) {
    this.dev.markBad(off);
  }
  sync() {}
  close() {}
}

test('kmsg32: the mtd_erase / mtd_write calls outside the oops path are the kernel\'s, in order, with the same addresses', () => {
  const meta = loadMeta('mtdpstore-small-kmsg32');
  const p = plan('mtdpstore-small-kmsg32');
  try {
    const g = meta.geometry;
    const dev = new Tracer(new FlashSimulator({ type: 'nand', size: g.size, erasesize: g.erasesize, writesize: g.writesize, oobsize: g.oobsize }));
    const s = new MtdPstoreSession(dev, { kmsgSize: p.script.config.kmsgSize });
    for (const op of p.script.ops) {
      dev.inOops = op.op === 'write';
      if (op.op === 'attach') s.attach();
      else if (op.op === 'recover') assert.ok(s.list().ok);
      else if (op.op === 'remove') s.remove(op.name);
      else if (op.op === 'detach') s.detach();
      else if (op.op === 'write') {
        s.write({ reason: Number(op.reason), time: op.time, compressed: op.compressed, data: readFileSync(path.join(p.dir, op.payload)) });
      }
    }
    const want = meta.boots[0]!.traced_mtd_ops_outside_oops_context.map((t) => `${t.op} ${t.args}`);
    assert.equal(want.length, 5);
    assert.deepEqual(dev.calls, want);
  } finally {
    rmSync(p.dir, { recursive: true, force: true });
  }
});
