/**
 * pstore/zone engine against the derived vectors of spec/test-vectors.md
 * (R1–R5, W1–W6) and the rules of spec/zone-policy.md, on an in-memory
 * backend that can answer per zone with -ENOMSG, -EIO or short counts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERRNO, isPstoreError } from '../../src/errors.js';
import type { Abi } from '../../src/zone/abi.js';
import { PstoreZone, type PstoreZoneOptions } from '../../src/zone/engine.js';
import {
  decodeKmsgHeader,
  decodeZoneHeader,
  encodeKmsgZone,
  encodeZoneHeader,
  KmsgReason,
  kmsgHeaderSize,
  PstoreType,
  ZONE_HEADER_SIZE,
} from '../../src/zone/format.js';
import { kmsgOnlyLayout, type ZoneInfo, type ZoneLayout } from '../../src/zone/layout.js';
import type { PstoreRecord } from '../../src/zone/record.js';
import { FakeBackend } from './fake-backend.js';

const LP64: Abi = { cls: 'lp64', endian: 'le' };
const ENOMSG = -ERRNO.ENOMSG;
const EIO = -ERRNO.EIO;
const EBUSY = -ERRNO.EBUSY;
const EINVAL = -ERRNO.EINVAL;
const ENOSPC = -ERRNO.ENOSPC;

interface KmsgSpec {
  sec: number;
  nsec?: number;
  reason: number;
  counter: number;
  compressed?: boolean;
  text?: string;
}

function putKmsg(mem: Buffer, off: number, zoneSize: number, s: KmsgSpec, abi: Abi = LP64): Buffer {
  const img = encodeKmsgZone(abi, zoneSize, {
    time: { sec: s.sec, nsec: s.nsec ?? 0 },
    compressed: s.compressed ?? false,
    counter: s.counter,
    reason: s.reason,
    data: Buffer.from(s.text ?? `${s.reason === 1 ? 'Panic' : 'Oops'}#1 Part1\nzone at ${off}\n`),
  });
  img.copy(mem, off);
  return img;
}

function setHeader(mem: Buffer, off: number, h: { sig?: number; datalen?: number; start?: number }, abi: Abi = LP64): void {
  const cur = decodeZoneHeader(mem, off, abi.endian);
  encodeZoneHeader({ ...cur, ...h }, abi.endian, mem, off);
}

function records(psz: PstoreZone): PstoreRecord[] {
  const l = psz.read();
  assert.ok(l.ok, `listing failed with ${l.ok ? 0 : l.error}`);
  return l.records;
}

function kmsgEngine(be: FakeBackend, zoneSize: number, extra: Partial<PstoreZoneOptions> = {}): PstoreZone {
  return new PstoreZone(be, { layout: kmsgOnlyLayout(be.totalSize, zoneSize), abi: LP64, ...extra });
}

const Z = 4096; // small kmsg zones keep the tests fast

// --------------------------------------------------------------------- R1

test('R1: newest by seconds with ties to the later zone, counters include the erased zone', () => {
  const be = new FakeBackend(5 * Z, 0xff, { panicWrite: true });
  putKmsg(be.mem, 0 * Z, Z, { sec: 100, reason: KmsgReason.OOPS, counter: 3 });
  putKmsg(be.mem, 1 * Z, Z, { sec: 300, reason: KmsgReason.PANIC, counter: 1 });
  putKmsg(be.mem, 2 * Z, Z, { sec: 300, reason: KmsgReason.OOPS, counter: 4 });
  putKmsg(be.mem, 3 * Z, Z, { sec: 200, reason: KmsgReason.OOPS, counter: 5 });
  setHeader(be.mem, 3 * Z, { datalen: 0 });
  const psz = kmsgEngine(be, Z);
  const recs = records(psz);
  assert.deepEqual(recs.map((r) => r.id), [0, 1, 2]);
  assert.equal(psz.kmsgWriteCnt, 3);
  assert.equal(psz.oopsCounter, 5);
  assert.equal(psz.panicCounter, 1);
  assert.deepEqual(
    psz.diagnostics.map((d) => [d.index, d.reason]),
    [
      [3, 'erased'],
      [4, 'no-valid-data'],
    ],
  );
  assert.match(psz.diagnostics[1]!.detail, /^no valid data/);
  assert.match(psz.diagnostics[0]!.detail, /^found erased zone/);

  be.clearLog();
  assert.equal(psz.writeKmsg({ reason: KmsgReason.OOPS, time: { sec: 400, nsec: 0 }, compressed: false, data: Buffer.from('Oops#1 Part1\n') }), 0);
  assert.deepEqual(psz.lastKmsgWrite, { result: 0, zone: 3, counter: 6, attempts: 1 });
  assert.equal(decodeKmsgHeader(be.mem, 3 * Z + 12, LP64).counter, 6);
  assert.deepEqual(be.writes().map((w) => [w.op, w.off, w.len]), [['write', 3 * Z, Z]]);

  assert.equal(psz.writeKmsg({ reason: KmsgReason.PANIC, time: { sec: 401, nsec: 0 }, compressed: false, data: Buffer.from('Panic#1 Part1\n') }), 0);
  assert.deepEqual(psz.lastKmsgWrite, { result: 0, zone: 4, counter: 2, attempts: 1 });
  assert.equal(be.writes().at(-1)!.op, 'panicWrite');
  assert.equal(psz.onPanic, true);
  const h = decodeKmsgHeader(be.mem, 4 * Z + 12, LP64);
  assert.equal(h.counter, 2);
  assert.equal(h.reason, KmsgReason.PANIC);
});

// --------------------------------------------------------------------- R2

/** Two zones: zone 0 is the case under test, zone 1 an intact record. */
function r2Device(): FakeBackend {
  const be = new FakeBackend(2 * Z);
  putKmsg(be.mem, 0, Z, { sec: 10, reason: KmsgReason.OOPS, counter: 99 });
  putKmsg(be.mem, Z, Z, { sec: 20, reason: KmsgReason.OOPS, counter: 2 });
  return be;
}

test('R2: header read answered -ENOMSG: the zone is skipped ("may be broken")', () => {
  const be = r2Device();
  be.readHook = (_b, off) => (off === 0 ? ENOMSG : undefined);
  const psz = kmsgEngine(be, Z);
  assert.deepEqual(records(psz).map((r) => r.id), [1]);
  assert.equal(psz.diagnostics[0]!.reason, 'broken');
  assert.match(psz.diagnostics[0]!.detail, /may be broken/);
  assert.equal(psz.oopsCounter, 2);
});

for (const [what, answer, expect] of [
  ['-EIO', EIO, EIO],
  ['40 of 52 bytes', 40, EIO],
] as const) {
  test(`R2: header read answered ${what}: recovery aborted, no files, retried by the next listing`, () => {
    const be = r2Device();
    be.readHook = (_b, off) => (off === 0 ? answer : undefined);
    const psz = kmsgEngine(be, Z);
    assert.deepEqual(psz.read(), { ok: false, error: expect });
    assert.equal(psz.recovered, false);
    assert.equal(psz.diagnostics.at(-1)!.reason, 'abort');
    be.readHook = undefined;
    assert.deepEqual(records(psz).map((r) => r.id), [0, 1]);
    assert.equal(psz.recovered, true);
  });
}

test('R2: signature of another type: skipped ("no valid data")', () => {
  const be = r2Device();
  setHeader(be.mem, 0, { sig: 0x43474245 });
  const psz = kmsgEngine(be, Z);
  assert.deepEqual(records(psz).map((r) => r.id), [1]);
  assert.equal(psz.diagnostics[0]!.reason, 'no-valid-data');
});

test('R2: datalen 65525 with buffer_size 65524, and datalen -1: skipped ("found overtop zone"); 65524 accepted', () => {
  const big = 65536;
  for (const [datalen, listed] of [
    [65525, false],
    [-1, false],
    [65524, true],
  ] as const) {
    const be = new FakeBackend(2 * big);
    putKmsg(be.mem, 0, big, { sec: 10, reason: KmsgReason.OOPS, counter: 1 });
    putKmsg(be.mem, big, big, { sec: 20, reason: KmsgReason.OOPS, counter: 2 });
    setHeader(be.mem, 0, { datalen });
    const psz = kmsgEngine(be, big);
    const recs = records(psz);
    assert.deepEqual(recs.map((r) => r.id), listed ? [0, 1] : [1], `datalen ${datalen}`);
    if (!listed) {
      assert.equal(psz.diagnostics[0]!.reason, 'overtop');
      assert.match(psz.diagnostics[0]!.detail, /^found overtop zone/);
    } else {
      assert.equal(recs[0]!.data.length, 'Oops: Total 1 times\n'.length + 65524 - 40);
    }
  }
});

test('R2: magic 0x4dfc3ae6: skipped ("found invalid zone"), counters untouched', () => {
  const be = r2Device();
  be.mem.writeUInt32LE(0x4dfc3ae6, 12);
  const psz = kmsgEngine(be, Z);
  assert.deepEqual(records(psz).map((r) => r.id), [1]);
  assert.equal(psz.diagnostics[0]!.reason, 'invalid-magic');
  assert.match(psz.diagnostics[0]!.detail, /^found invalid zone/);
  assert.equal(psz.oopsCounter, 2, 'the invalid zone\u2019s counter 99 is not counted');
});

test('R2: header valid but the full-zone read answered -ENOMSG: recovery aborted', () => {
  const be = r2Device();
  be.readHook = (b, off) => (off === 0 && b.length === Z ? ENOMSG : undefined);
  const psz = kmsgEngine(be, Z);
  assert.deepEqual(psz.read(), { ok: false, error: ENOMSG });
});

test('hardened skipUnreadableZones: failed reads skip the zone instead of aborting', () => {
  const be = r2Device();
  be.readHook = (b, off) => (off === 0 && b.length === Z ? EIO : undefined);
  const psz = kmsgEngine(be, Z, { hardened: { skipUnreadableZones: true } });
  assert.deepEqual(records(psz).map((r) => r.id), [1]);
  assert.equal(psz.diagnostics.find((d) => d.index === 0)!.reason, 'broken');
});

test('project rule: kmsg datalen 1..H-1 is treated as corrupt (short-datalen) but still counted like the kernel', () => {
  const be = r2Device();
  setHeader(be.mem, Z, { datalen: 39 }); // zone 1 is the newest
  const psz = kmsgEngine(be, Z);
  assert.deepEqual(records(psz).map((r) => r.id), [0]);
  assert.equal(psz.diagnostics[0]!.reason, 'short-datalen');
  assert.equal(psz.kmsgWriteCnt, 0, 'newest tracking still saw zone 1, as the kernel does');
  assert.equal(psz.oopsCounter, 99);
});

test('newest tracking: negative seconds never win, nanoseconds are ignored', () => {
  const be = new FakeBackend(4 * Z);
  putKmsg(be.mem, 0, Z, { sec: -5, reason: KmsgReason.OOPS, counter: 1 });
  putKmsg(be.mem, Z, Z, { sec: -1, reason: KmsgReason.OOPS, counter: 2 });
  const psz = kmsgEngine(be, Z, { kmsgWriteCnt: 2 });
  records(psz);
  assert.equal(psz.kmsgWriteCnt, 2, 'no zone beat the initial best of 0 s: carried value kept');

  const be2 = new FakeBackend(4 * Z);
  putKmsg(be2.mem, 0, Z, { sec: 7, nsec: 999_999_999, reason: KmsgReason.OOPS, counter: 1 });
  putKmsg(be2.mem, 2 * Z, Z, { sec: 7, nsec: 1, reason: KmsgReason.OOPS, counter: 2 });
  const psz2 = kmsgEngine(be2, Z);
  records(psz2);
  assert.equal(psz2.kmsgWriteCnt, 3);
});

// --------------------------------------------------------------------- R3

test('R3 (zone level): recovery points after the newest zone, then writes go round the ring', () => {
  const be = new FakeBackend(8 * Z);
  for (let i = 0; i < 6; i++) putKmsg(be.mem, i * Z, Z, { sec: 10 * (i + 1), reason: KmsgReason.OOPS, counter: i + 1 });
  const psz = kmsgEngine(be, Z);
  assert.equal(records(psz).length, 6);
  assert.equal(psz.kmsgWriteCnt, 6);
  const zones: (number | null)[] = [];
  for (let k = 0; k < 3; k++) {
    psz.writeKmsg({ reason: KmsgReason.OOPS, time: { sec: 100 + k, nsec: 0 }, compressed: false, data: Buffer.from(`Oops#${k + 1} Part1\n`) });
    zones.push(psz.lastKmsgWrite!.zone);
  }
  assert.deepEqual(zones, [6, 7, 0]);
  assert.equal(psz.kmsgWriteCnt, 1);
  assert.equal(psz.oopsCounter, 9);
});

// --------------------------------------------------------------------- R4

test('R4 (W5): zones read back as erased flash keep signature 0xFFFFFFFF in RAM and later writes copy it', () => {
  const be = new FakeBackend(8 * Z, 0xff, { panicWrite: true, erase: true });
  for (let i = 0; i < 7; i++) putKmsg(be.mem, i * Z, Z, { sec: 10 * (i + 1), reason: KmsgReason.OOPS, counter: i + 1 });
  // Boot 1: mounted (recovered), then a panic fills zone 7 through panic_write.
  const boot1 = kmsgEngine(be, Z);
  records(boot1);
  assert.equal(boot1.kmsgWriteCnt, 7);
  boot1.writeKmsg({ reason: KmsgReason.PANIC, time: { sec: 80, nsec: 0 }, compressed: false, data: Buffer.from('Panic#1 Part1\n') });
  assert.deepEqual(be.writes().map((w) => [w.op, w.off]), [['panicWrite', 7 * Z]]);

  // Boot 2: mtdpstore's security step erases block 0 (zones 0 and 1) while zone 7's header is read.
  be.readHook = (b, off) => {
    if (off === 7 * Z && b.length === 52) be.mem.fill(0xff, 0, 2 * Z);
    return undefined;
  };
  const boot2 = kmsgEngine(be, Z);
  const recs = records(boot2);
  assert.deepEqual(recs.map((r) => r.id), [2, 3, 4, 5, 6, 7]);
  assert.equal(boot2.kmsgWriteCnt, 0);
  const ram = boot2.zoneStates().filter((z) => z.type === 0);
  assert.equal(ram[0]!.sig, 0xffffffff);
  assert.equal(ram[1]!.sig, 0xffffffff);
  assert.deepEqual(
    boot2.diagnostics.filter((d) => d.reason === 'invalid-magic').map((d) => d.index),
    [0, 1],
  );
  be.readHook = undefined;
  boot2.writeKmsg({ reason: KmsgReason.OOPS, time: { sec: 90, nsec: 0 }, compressed: false, data: Buffer.from('Oops#1 Part1\n') });
  assert.equal(boot2.lastKmsgWrite!.zone, 0);
  assert.equal(be.mem.readUInt32LE(0), 0xffffffff, 'written with the copied signature');

  // Boot 3: the record in zone 0 is invisible.
  const boot3 = kmsgEngine(be, Z);
  assert.ok(!records(boot3).some((r) => r.id === 0));
  assert.equal(boot3.diagnostics.find((d) => d.index === 0)!.reason, 'no-valid-data');
});

// --------------------------------------------------------------------- R5

function ringLayout(sizes: { pmsg?: number; console?: number; ftrace?: number[]; kmsg?: number[] }): ZoneLayout {
  let off = 0;
  const zone = (type: number, index: number, size: number): ZoneInfo => {
    const z = { type, index, offset: off, size };
    off += size;
    return z;
  };
  const pmsg = sizes.pmsg ? zone(PstoreType.PMSG, 0, sizes.pmsg) : undefined;
  const console = sizes.console ? zone(PstoreType.CONSOLE, 0, sizes.console) : undefined;
  const ftrace = (sizes.ftrace ?? []).map((s, i) => zone(PstoreType.FTRACE, i, s));
  const kmsg = (sizes.kmsg ?? []).map((s, i) => zone(PstoreType.DMESG, i, s));
  return {
    totalSize: off,
    kmsgSize: sizes.kmsg?.[0] ?? 0,
    pmsgSize: sizes.pmsg ?? 0,
    consoleSize: sizes.console ?? 0,
    ftraceSize: (sizes.ftrace ?? []).reduce((a, b) => a + b, 0),
    ...(pmsg ? { pmsg } : {}),
    ...(console ? { console } : {}),
    ftrace,
    kmsg,
  };
}

test('R5: pmsg ring wraps with PART/PART/PART/META writes and recovers in chronological order', () => {
  const layout = ringLayout({ pmsg: 4096 });
  const be = new FakeBackend(layout.totalSize);
  const psz = new PstoreZone(be, { layout, abi: LP64 });
  assert.deepEqual(records(psz), []);
  be.clearLog();
  assert.equal(psz.writeRing('pmsg', Buffer.alloc(3000, 'A')), 0);
  assert.equal(psz.writeRing('pmsg', Buffer.alloc(2000, 'B')), 0);
  const hdr = (d: Buffer) => decodeZoneHeader(d, 0, 'le');
  const w = be.writes();
  assert.deepEqual(
    w.map((x) => [x.off, x.len]),
    [
      [12, 3000],
      [0, 12],
      [12 + 3000, 1084],
      [0, 12],
      [12, 916],
      [0, 12],
      [0, 12],
    ],
  );
  assert.deepEqual(hdr(w[1]!.data!), { sig: 0x43474243, datalen: 3000, start: 3000 });
  assert.deepEqual(hdr(w[3]!.data!), { sig: 0x43474243, datalen: 4084, start: 3000 });
  assert.deepEqual(hdr(w[5]!.data!), { sig: 0x43474243, datalen: 916, start: 916 });
  assert.deepEqual(hdr(w[6]!.data!), { sig: 0x43474243, datalen: 4084, start: 916 });
  const data = be.mem.subarray(12, 4096);
  assert.ok(data.subarray(0, 916).equals(Buffer.alloc(916, 'B')));
  assert.ok(data.subarray(916, 3000).equals(Buffer.alloc(2084, 'A')));
  assert.ok(data.subarray(3000).equals(Buffer.alloc(1084, 'B')));
  assert.deepEqual(be.mem.subarray(0, 12), Buffer.from('4342474 3f40f0000 94030000'.replace(/ /g, ''), 'hex'));

  const next = new PstoreZone(be, { layout, abi: LP64 });
  const recs = records(next);
  assert.equal(recs.length, 1);
  assert.equal(recs[0]!.type, PstoreType.PMSG);
  assert.equal(recs[0]!.id, 0);
  assert.equal(recs[0]!.time, null);
  assert.ok(recs[0]!.data.equals(Buffer.concat([Buffer.alloc(2084, 'A'), Buffer.alloc(2000, 'B')])));
  // The current boot's writes never show: files show the previous boot only.
  next.writeRing('pmsg', Buffer.from('new'));
  assert.equal(records(next)[0]!.data.length, 4084);
});

test('ring zones: corrupt headers are skipped; a header read error aborts recovery (kernel) or skips (hardened)', () => {
  const layout = ringLayout({ pmsg: 1024, console: 1024, kmsg: [Z] });
  const be = new FakeBackend(layout.totalSize);
  encodeZoneHeader({ sig: 0x43474243, datalen: 10, start: 11 }, 'le', be.mem, 0); // start beyond datalen
  encodeZoneHeader({ sig: 0x43474246, datalen: 1013, start: 0 }, 'le', be.mem, 1024); // overtop (B = 1012)
  putKmsg(be.mem, 2048, Z, { sec: 1, reason: KmsgReason.OOPS, counter: 1 });
  const psz = new PstoreZone(be, { layout, abi: LP64 });
  assert.deepEqual(records(psz).map((r) => r.type), [0]);
  assert.deepEqual(
    psz.diagnostics.map((d) => [d.type, d.reason]),
    [
      [7, 'overtop'],
      [2, 'overtop'],
    ],
  );

  be.readHook = (b, off) => (off === 1024 && b.length === 12 ? ENOMSG : undefined);
  assert.deepEqual(new PstoreZone(be, { layout, abi: LP64 }).read(), { ok: false, error: ENOMSG });
  const hard = new PstoreZone(be, { layout, abi: LP64, hardened: { skipUnreadableZones: true } });
  assert.deepEqual(records(hard).map((r) => r.type), [0]);
});

test('listing order: kmsg zones, merged ftrace, pmsg, console', () => {
  const layout = ringLayout({ pmsg: 512, console: 512, ftrace: [512, 512], kmsg: [Z, Z] });
  const be = new FakeBackend(layout.totalSize);
  const psz = new PstoreZone(be, { layout, abi: LP64 });
  records(psz);
  psz.writeRing('pmsg', Buffer.from('pmsg bytes'));
  psz.writeRing('console', Buffer.from('console bytes'));
  const rec = Buffer.alloc(24);
  rec.writeBigUInt64LE((5n << 8n) | 1n, 16);
  psz.writeRing('ftrace', rec, 1);
  psz.writeKmsg({ reason: KmsgReason.OOPS, time: { sec: 5, nsec: 6 }, compressed: true, data: Buffer.from([1, 2, 3]) });
  const next = new PstoreZone(be, { layout, abi: LP64 });
  const recs = records(next);
  assert.deepEqual(
    recs.map((r) => [r.type, r.id, r.offset]),
    [
      [0, 0, 512 * 4],
      [3, 0, 1024],
      [7, 0, 0],
      [2, 0, 512],
    ],
  );
  assert.deepEqual([...recs[0]!.data], [1, 2, 3], 'compressed data is returned as stored, without a Total line');
  assert.equal(recs[2]!.data.toString(), 'pmsg bytes');
  assert.equal(recs[3]!.data.toString(), 'console bytes');
});

test('ftrace: per-CPU zones merge by timestamp; ties put the later zone first; partial leading bytes dropped', () => {
  for (const abi of [LP64, { cls: 'ilp32-a8', endian: 'be' } as Abi]) {
    const rs = abi.cls === 'lp64' ? 24 : 16;
    const tsOff = rs - 8;
    const mk = (ip: number, ts: bigint) => {
      const b = Buffer.alloc(rs);
      if (abi.endian === 'le') b.writeBigUInt64LE(ts, tsOff);
      else b.writeBigUInt64BE(ts, tsOff);
      b[abi.endian === 'le' ? 0 : rs / 2 - 1] = ip;
      return b;
    };
    const layout = ringLayout({ ftrace: [1024, 1024], kmsg: [Z] });
    const be = new FakeBackend(layout.totalSize);
    const psz = new PstoreZone(be, { layout, abi });
    records(psz);
    // CPU number in the low 8 bits of ts; the counter above it.
    psz.writeRing('ftrace', Buffer.concat([mk(1, (1n << 8n) | 0n), mk(2, (3n << 8n) | 0n), mk(3, (4n << 8n) | 0n)]), 0);
    psz.writeRing('ftrace', Buffer.concat([Buffer.from([0xee, 0xee]), mk(4, (2n << 8n) | 1n), mk(5, (3n << 8n) | 1n)]), 1);
    const recs = records(new PstoreZone(be, { layout, abi }));
    assert.equal(recs.length, 1);
    const ft = recs[0]!;
    assert.equal(ft.type, PstoreType.FTRACE);
    assert.equal(ft.data.length, 5 * rs);
    const ips = [];
    for (let o = 0; o < ft.data.length; o += rs) ips.push(ft.data[o + (abi.endian === 'le' ? 0 : rs / 2 - 1)]);
    assert.deepEqual(ips, [1, 4, 5, 2, 3], `merge order for ${abi.cls}`);
  }
});

// --------------------------------------------------------------------- W

function recoveredW(): { be: FakeBackend; psz: PstoreZone } {
  // oops_counter 5 and kmsg_write_cnt 3 on a 5-zone device.
  const be = new FakeBackend(5 * Z);
  putKmsg(be.mem, 0, Z, { sec: 1, reason: KmsgReason.OOPS, counter: 3 });
  putKmsg(be.mem, Z, Z, { sec: 2, reason: KmsgReason.OOPS, counter: 4 });
  putKmsg(be.mem, 2 * Z, Z, { sec: 3, reason: KmsgReason.OOPS, counter: 5 });
  const psz = kmsgEngine(be, Z);
  records(psz);
  assert.equal(psz.oopsCounter, 5);
  assert.equal(psz.kmsgWriteCnt, 3);
  be.clearLog();
  return { be, psz };
}
const oops = (sec = 10) => ({ reason: KmsgReason.OOPS, time: { sec, nsec: 0 }, compressed: false, data: Buffer.from('Oops#1 Part1\ntext\n') });

test('W1: part 2 of a dump is refused with -ENOSPC and nothing is written', () => {
  const { be, psz } = recoveredW();
  assert.equal(psz.writeKmsg({ ...oops(), part: 2 }), ENOSPC);
  assert.deepEqual(be.writes(), []);
  assert.equal(psz.oopsCounter, 5);
  assert.equal(psz.kmsgWriteCnt, 3);
});

test('W2: zones answering -ENOMSG are passed over and every attempt increments the counter', () => {
  const { be, psz } = recoveredW();
  be.writeHook = (_b, off) => (off === 3 * Z || off === 4 * Z ? ENOMSG : undefined);
  assert.equal(psz.writeKmsg(oops()), 0);
  assert.deepEqual(psz.lastKmsgWrite, { result: 0, zone: 0, counter: 8, attempts: 3 });
  assert.equal(decodeKmsgHeader(be.mem, 12, LP64).counter, 8);
  assert.equal(psz.kmsgWriteCnt, 1);
  assert.deepEqual(be.writes().map((w) => w.off), [3 * Z, 4 * Z, 0]);
  const st = psz.zoneStates();
  assert.equal(st[3]!.datalen, 0, 'the refused zone keeps its previous RAM image');
  assert.equal(st[3]!.dirty, false);
});

test('W3: every zone answers -ENOMSG: record lost, counter incremented N times, pstore core still told 0', () => {
  const { be, psz } = recoveredW();
  be.writeHook = () => ENOMSG;
  assert.equal(psz.writeKmsg(oops()), 0);
  assert.deepEqual(psz.lastKmsgWrite, { result: EBUSY, zone: null, counter: 10, attempts: 5 });
  assert.equal(psz.oopsCounter, 10);
  assert.equal(psz.kmsgWriteCnt, 3);
  assert.ok(psz.zoneStates().every((z) => !z.dirty));
  be.writeHook = undefined;
  assert.deepEqual(records(psz).map((r) => r.count), [3, 4, 5]);
});

test('W4: a write answered -EIO leaves the zone dirty, tries no other zone, and advances', () => {
  const { be, psz } = recoveredW();
  be.writeHook = () => EIO;
  assert.equal(psz.writeKmsg(oops()), 0);
  assert.deepEqual(psz.lastKmsgWrite, { result: EBUSY, zone: 3, counter: 6, attempts: 1 });
  assert.equal(be.writes().length, 1);
  assert.equal(psz.kmsgWriteCnt, 4);
  assert.equal(psz.zoneStates()[3]!.dirty, true);
  assert.equal(psz.pendingFlush, false, 'only -EBUSY schedules the delayed flush');
  // The record is in RAM and listed; a later flush writes it.
  assert.ok(records(psz).some((r) => r.id === 3));
  be.writeHook = () => EBUSY;
  psz.writeKmsg(oops(11));
  assert.equal(psz.pendingFlush, true);
  be.writeHook = undefined;
  assert.equal(psz.flushAll(), 0);
  assert.equal(psz.pendingFlush, false);
  assert.ok(psz.zoneStates().every((z) => !z.dirty));
  assert.equal(decodeKmsgHeader(be.mem, 3 * Z + 12, LP64).counter, 6);
  assert.equal(decodeKmsgHeader(be.mem, 4 * Z + 12, LP64).counter, 7);
});

test('W5: Emergency, Shutdown and unknown reasons get counter 0 and their reason string', () => {
  const { psz } = recoveredW();
  psz.writeKmsg({ reason: KmsgReason.EMERG, time: { sec: 20, nsec: 0 }, compressed: false, data: Buffer.from('Emergency#1 Part1\n') });
  psz.writeKmsg({ reason: KmsgReason.SHUTDOWN, time: { sec: 21, nsec: 0 }, compressed: false, data: Buffer.from('Shutdown#1 Part1\n') });
  psz.writeKmsg({ reason: 9, time: { sec: 22, nsec: 0 }, compressed: false, data: Buffer.from('Unknown#1 Part1\n') });
  const recs = records(psz);
  const byId = (id: number) => recs.find((r) => r.id === id)!;
  assert.equal(byId(3).data.toString(), 'Emergency: Total 0 times\nEmergency#1 Part1\n');
  assert.equal(byId(4).data.toString(), 'Shutdown: Total 0 times\nShutdown#1 Part1\n');
  assert.equal(byId(0).data.toString(), 'Unknown: Total 0 times\nUnknown#1 Part1\n');
  assert.equal(byId(3).count, 0);
  assert.equal(psz.oopsCounter, 5);
});

test('W6: a dump before recovery stays in RAM (dirty), advances the position, and blocks every recovery (kernel)', () => {
  const be = new FakeBackend(4 * Z);
  putKmsg(be.mem, Z, Z, { sec: 50, reason: KmsgReason.OOPS, counter: 7 });
  const psz = kmsgEngine(be, Z);
  assert.equal(psz.writeKmsg(oops(60)), 0);
  assert.deepEqual(be.writes(), []);
  assert.deepEqual(psz.lastKmsgWrite, { result: EBUSY, zone: 0, counter: 1, attempts: 1 });
  assert.equal(psz.zoneStates()[0]!.dirty, true);
  assert.equal(psz.kmsgWriteCnt, 1);
  for (let attempt = 0; attempt < 2; attempt++) {
    assert.deepEqual(psz.read(), { ok: false, error: EBUSY });
    assert.match(psz.diagnostics.at(-1)!.detail, /^move zone from 0 to 2 failed/);
  }
  assert.deepEqual(be.writes(), []);
});

test('W6 derived: when the move target is the dirty zone itself, the failed move drops the record and the retry succeeds', () => {
  const be = new FakeBackend(2 * Z);
  putKmsg(be.mem, Z, Z, { sec: 50, reason: KmsgReason.OOPS, counter: 7 }); // newest in the last zone → position 0
  const psz = kmsgEngine(be, Z);
  psz.writeKmsg(oops(60)); // lands in zone 0 (position 0 at boot)
  assert.deepEqual(psz.read(), { ok: false, error: EBUSY });
  const recs = records(psz);
  assert.deepEqual(recs.map((r) => r.id), [1]);
});

test('hardened moveDirtyBeforeRecovery: records written before recovery are moved after the newest zone', () => {
  const be = new FakeBackend(4 * Z);
  putKmsg(be.mem, 0, Z, { sec: 40, reason: KmsgReason.OOPS, counter: 6 });
  putKmsg(be.mem, Z, Z, { sec: 50, reason: KmsgReason.OOPS, counter: 7 });
  const psz = kmsgEngine(be, Z, { hardened: { moveDirtyBeforeRecovery: true } });
  psz.writeKmsg(oops(60)); // zone 0 in RAM, counter 1
  psz.writeKmsg(oops(61)); // zone 1 in RAM, counter 2
  const recs = records(psz);
  assert.deepEqual(
    recs.map((r) => [r.id, r.count, r.time!.sec]),
    [
      [0, 6, 40],
      [1, 7, 50],
      [2, 1, 60],
      [3, 2, 61],
    ],
  );
  // Both records were moved to the device, in the order they were written.
  assert.equal(decodeKmsgHeader(be.mem, 2 * Z + 12, LP64).sec, 60);
  assert.equal(decodeKmsgHeader(be.mem, 3 * Z + 12, LP64).sec, 61);
  assert.equal(psz.kmsgWriteCnt, 0);
  // A fresh engine finds all four.
  assert.equal(records(kmsgEngine(be, Z)).length, 4);
});

test('panic before recovery: panic_write to the current position, other frontends refused, nothing flushed', () => {
  const layout = ringLayout({ pmsg: 1024, kmsg: [Z, Z] });
  const be = new FakeBackend(layout.totalSize, 0xff, { panicWrite: true });
  putKmsg(be.mem, 1024, Z, { sec: 5, reason: KmsgReason.OOPS, counter: 1 });
  const psz = new PstoreZone(be, { layout, abi: LP64 });
  assert.equal(psz.writeRing('pmsg', Buffer.from('before')), 0); // dirty, not written
  assert.equal(psz.writeKmsg({ reason: KmsgReason.PANIC, time: { sec: 9, nsec: 0 }, compressed: false, data: Buffer.from('Panic#1 Part1\n') }), 0);
  assert.deepEqual(be.writes().map((w) => [w.op, w.off, w.len]), [['panicWrite', 1024, Z]], 'zone 0 overwritten (W9)');
  assert.equal(psz.onPanic, true);
  assert.equal(psz.writeRing('pmsg', Buffer.from('x')), EBUSY);
  assert.equal(psz.pendingFlush, true, 'the flush after the panic write failed (not recovered) and was rescheduled');
  assert.equal(psz.zoneStates()[0]!.dirty, true);
});

test('panic write on a backend without panic_write (pstore/blk v5.14+): the record stays in RAM', () => {
  const be = new FakeBackend(2 * Z);
  const psz = kmsgEngine(be, Z);
  records(psz);
  psz.writeKmsg({ reason: KmsgReason.PANIC, time: { sec: 9, nsec: 0 }, compressed: false, data: Buffer.from('Panic#1 Part1\n') });
  assert.deepEqual(be.writes(), []);
  assert.equal(psz.lastKmsgWrite!.result, EBUSY);
  assert.equal(psz.zoneStates()[0]!.dirty, true);
});

test('a kmsg write of 0 bytes leaves datalen 0 (kernel copies nothing), so the zone reads as erased', () => {
  const be = new FakeBackend(2 * Z);
  const psz = kmsgEngine(be, Z);
  records(psz);
  psz.writeKmsg({ ...oops(), data: Buffer.alloc(0) });
  assert.equal(decodeZoneHeader(be.mem, 0, 'le').datalen, 0);
  assert.deepEqual(records(psz), []);
  assert.equal(records(kmsgEngine(be, Z)).length, 0);
});

test('a record longer than the zone is clipped to buffer_size - H', () => {
  const be = new FakeBackend(2 * Z);
  const psz = kmsgEngine(be, Z);
  records(psz);
  psz.writeKmsg({ ...oops(), compressed: true, data: Buffer.alloc(10000, 7) });
  assert.equal(decodeZoneHeader(be.mem, 0, 'le').datalen, Z - 12);
  assert.equal(records(kmsgEngine(be, Z))[0]!.data.length, Z - 12 - kmsgHeaderSize(LP64));
});

// ------------------------------------------------------------------ erase

test('erase dmesg: id check, already-updated check, backend erase or header rewrite', () => {
  for (const withErase of [false, true]) {
    const be = new FakeBackend(3 * Z, 0xff, { erase: withErase });
    putKmsg(be.mem, 0, Z, { sec: 1, reason: KmsgReason.OOPS, counter: 1 });
    putKmsg(be.mem, Z, Z, { sec: 2, reason: KmsgReason.OOPS, counter: 2 });
    const psz = kmsgEngine(be, Z);
    const recs = records(psz);
    be.clearLog();
    assert.equal(psz.erase(0, 3, 1), EINVAL);
    assert.equal(psz.erase(0, 2, 0), 0, 'empty zone: nothing to do');
    assert.equal(psz.erase(0, 0, 5), 0, 'counter differs: already updated');
    assert.deepEqual(be.log.filter((l) => l.op !== 'read'), []);
    const datalen = decodeZoneHeader(be.mem, 0, 'le').datalen;
    assert.equal(psz.erase(0, 0, recs[0]!.count), 0);
    if (withErase) {
      assert.deepEqual(be.log.map((l) => [l.op, l.off, l.len]), [['erase', 0, datalen + 12]], 'erase(datalen + 12, zone offset)');
    } else {
      assert.deepEqual(be.writes().map((w) => [w.off, w.len]), [[0, 12]]);
      assert.deepEqual(decodeZoneHeader(be.mem, 0, 'le'), { sig: 0x43474244, datalen: 0, start: 0 });
    }
    assert.deepEqual(records(psz).map((r) => r.id), [1]);
    assert.equal(psz.erase(0, 0, recs[0]!.count), 0, 'second removal is a no-op');
  }
});

test('erase pmsg/console/ftrace: old data forgotten, empty header written; ftrace only for the given CPU zone', () => {
  const layout = ringLayout({ pmsg: 512, console: 512, ftrace: [512, 512], kmsg: [Z] });
  const be = new FakeBackend(layout.totalSize);
  const first = new PstoreZone(be, { layout, abi: LP64 });
  records(first);
  first.writeRing('pmsg', Buffer.from('p'));
  first.writeRing('console', Buffer.from('c'));
  const rec = Buffer.alloc(24);
  first.writeRing('ftrace', rec, 0);
  first.writeRing('ftrace', rec, 1);
  const psz = new PstoreZone(be, { layout, abi: LP64 });
  assert.deepEqual(records(psz).map((r) => r.type), [3, 7, 2]);
  be.clearLog();
  assert.equal(psz.erase(PstoreType.PMSG, 0, 0), 0);
  assert.deepEqual(be.writes().map((w) => [w.off, w.len]), [[0, 12]]);
  assert.equal(decodeZoneHeader(be.mem, 0, 'le').datalen, 0);
  psz.writeRing('console', Buffer.from('new console data'));
  be.clearLog();
  assert.equal(psz.erase(PstoreType.CONSOLE, 0, 0), 0);
  assert.deepEqual(be.writes(), [], 'new data in RAM: nothing to erase, nothing dirty');
  assert.equal(psz.erase(PstoreType.FTRACE, 2, 0), EINVAL);
  assert.equal(psz.erase(PstoreType.FTRACE, 0, 0), 0);
  assert.equal(psz.erase(99, 0, 0), EINVAL);
  assert.deepEqual(records(psz).map((r) => r.type), [3]);
  // Next "boot": the CPU 1 zone still holds data, so the merged ftrace file comes back.
  const again = records(new PstoreZone(be, { layout, abi: LP64 }));
  assert.deepEqual(again.map((r) => [r.type, r.data.length]), [[3, 24], [2, 16]]);
});

// ----------------------------------------------------------- unregister

test('unregister flushes dirty zones, resets state, and the write position can be carried (§10)', () => {
  const be = new FakeBackend(4 * Z, 0xff, { erase: true });
  const a = kmsgEngine(be, Z);
  records(a);
  a.writeKmsg(oops(1));
  a.writeKmsg(oops(2));
  for (const r of records(a)) a.erase(r.type, r.id, r.count);
  be.writeHook = () => EBUSY;
  a.writeKmsg(oops(3)); // zone 2, dirty
  be.writeHook = undefined;
  assert.equal(a.kmsgWriteCnt, 3);
  a.unregister();
  assert.equal(a.dirtyZonesLostAtUnregister, 0);
  assert.equal(decodeKmsgHeader(be.mem, 2 * Z + 12, LP64).sec, 3, 'flushed at unregister');
  assert.equal(a.recovered, false);
  assert.equal(a.oopsCounter, 0);
  assert.equal(a.kmsgWriteCnt, 3);
  assert.throws(() => a.read(), (e: unknown) => isPstoreError(e, 'EINVAL'));
  // Remove the last record too, via a second engine, then reload with the carried position.
  const b = kmsgEngine(be, Z, { kmsgWriteCnt: a.kmsgWriteCnt });
  for (const r of records(b)) b.erase(r.type, r.id, r.count);
  b.unregister();
  const c = kmsgEngine(be, Z, { kmsgWriteCnt: b.kmsgWriteCnt });
  assert.deepEqual(records(c), []);
  c.writeKmsg(oops(4));
  assert.deepEqual(psLast(c), { zone: 3, counter: 1 });
});
function psLast(p: PstoreZone) {
  return { zone: p.lastKmsgWrite!.zone, counter: p.lastKmsgWrite!.counter };
}

test('unregister before recovery: dirty zones cannot be flushed and are reported lost', () => {
  const be = new FakeBackend(2 * Z);
  const psz = kmsgEngine(be, Z);
  psz.writeKmsg(oops());
  psz.unregister();
  assert.equal(psz.dirtyZonesLostAtUnregister, 1);
  assert.deepEqual(be.writes(), []);
});

test('flushZone / flushAll before recovery answer -EBUSY and keep asking for a retry', () => {
  const be = new FakeBackend(2 * Z);
  const psz = kmsgEngine(be, Z);
  assert.equal(psz.flushZone(PstoreType.DMESG, 0), EBUSY);
  assert.equal(psz.flushZone(PstoreType.PMSG, 0), EINVAL);
  assert.equal(psz.flushAll(), EBUSY);
  assert.equal(psz.pendingFlush, true);
  records(psz);
  assert.equal(psz.flushAll(), 0);
  assert.equal(psz.pendingFlush, false);
});

test('constructor rejects zones too small for their headers', () => {
  const be = new FakeBackend(2 * Z);
  assert.throws(() => new PstoreZone(be, { layout: kmsgOnlyLayout(100, 50), abi: LP64 }), (e: unknown) => isPstoreError(e, 'EINVAL'));
});
