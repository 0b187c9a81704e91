/**
 * Property tests of the zone codec and engine, for every ABI class and byte
 * order: header codecs round-trip; whatever a live engine writes and removes
 * on a block device, a fresh engine recovers the same records and state;
 * damaged or truncated images never make the engine throw, and every intact
 * zone is still returned.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ALL_ABIS, abiLabel, type Abi, ABI_FACTS } from '../../src/zone/abi.js';
import type { ZoneBackend } from '../../src/zone/backend.js';
import { BlockZoneBackend } from '../../src/zone/block-backend.js';
import { PstoreZone } from '../../src/zone/engine.js';
import {
  decodeKmsgHeader,
  decodeZoneHeader,
  encodeKmsgHeader,
  encodeZoneHeader,
  KMSG_MAGIC,
  KmsgReason,
  kmsgHeaderLayout,
  kmsgHeaderSize,
  ZONE_HEADER_SIZE,
  zoneSignature,
} from '../../src/zone/format.js';
import { kmsgOnlyLayout } from '../../src/zone/layout.js';
import type { PstoreRecord } from '../../src/zone/record.js';

const RUNS = Number(process.env.FC_RUNS ?? 40);

// ------------------------------------------------------------------ codecs

for (const abi of ALL_ABIS) {
  test(`codec ${abiLabel(abi)}: kmsg header and zone header encode → decode is the identity`, () => {
    const long4 = ABI_FACTS[abi.cls].longSize === 4;
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    const s32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
    fc.assert(
      fc.property(
        fc.record({
          magic: u32,
          sec: fc.maxSafeInteger(),
          nsec: long4 ? s32 : fc.maxSafeInteger(),
          compressed: fc.integer({ min: 0, max: 255 }),
          counter: u32,
          reason: u32,
        }),
        fc.record({ sig: u32, datalen: s32, start: s32 }),
        (k, z) => {
          const kb = encodeKmsgHeader(k, abi, Buffer.alloc(kmsgHeaderSize(abi) + 3), 3);
          assert.deepEqual(decodeKmsgHeader(kb, 3, abi), { ...k });
          const zb = encodeZoneHeader(z, abi.endian);
          assert.equal(zb.length, ZONE_HEADER_SIZE);
          assert.deepEqual(decodeZoneHeader(zb, 0, abi.endian), { ...z });
        },
      ),
      { numRuns: RUNS * 5 },
    );
  });
}

// --------------------------------------------------- write/remove → recover

type Op =
  | { kind: 'write'; reason: number; dsec: number; nsec: number; compressed: boolean; len: number; seed: number }
  | { kind: 'remove'; pick: number; exactCount: boolean };

const opArb = (maxLen: number): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('write' as const),
        reason: fc.integer({ min: 0, max: 6 }),
        dsec: fc.integer({ min: 0, max: 3 }),
        nsec: fc.integer({ min: 0, max: 999_999_999 }),
        compressed: fc.boolean(),
        len: fc.integer({ min: 0, max: maxLen }),
        seed: fc.integer({ min: 0, max: 255 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat(), exactCount: fc.boolean() }) },
  );

/** A block device that also offers panic_write, so Panic dumps reach the device too. */
function blockWithPanic(buf: Buffer): ZoneBackend {
  const be = new BlockZoneBackend(buf, { writable: true });
  return {
    totalSize: be.totalSize,
    read: (b, o) => be.read(b, o),
    write: (b, o) => be.write(b, o),
    panicWrite: (b, o) => be.write(b, o),
  };
}

function list(psz: PstoreZone): PstoreRecord[] {
  const l = psz.read();
  assert.ok(l.ok, `listing failed: ${l.ok ? '' : l.error}`);
  return l.records;
}

interface Scenario {
  zoneSize: number;
  n: number;
  fill: number;
  strictTime: boolean;
  ops: Op[];
}

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({ zoneSize: fc.constantFrom(512, 1024), n: fc.integer({ min: 1, max: 6 }), fill: fc.constantFrom(0, 0xff), strictTime: fc.boolean() })
  .chain((s) => fc.record({ zoneSize: fc.constant(s.zoneSize), n: fc.constant(s.n), fill: fc.constant(s.fill), strictTime: fc.constant(s.strictTime), ops: fc.array(opArb(s.zoneSize), { maxLength: 20 }) }));

/** Run the ops on a live engine over a fresh device; return the device and the live engine. */
function runLive(abi: Abi, s: Scenario): { disk: Buffer; live: PstoreZone } {
  const disk = Buffer.alloc(s.n * s.zoneSize, s.fill);
  const live = new PstoreZone(blockWithPanic(disk), { layout: kmsgOnlyLayout(disk.length, s.zoneSize), abi });
  list(live);
  let sec = 1_700_000_000;
  for (const op of s.ops) {
    if (op.kind === 'write') {
      sec += s.strictTime ? op.dsec + 1 : op.dsec;
      const data = Buffer.alloc(op.len);
      for (let i = 0; i < op.len; i++) data[i] = (op.seed + i * 31) & 0xff;
      assert.equal(live.writeKmsg({ reason: op.reason, time: { sec, nsec: op.nsec }, compressed: op.compressed, data }), 0);
      assert.equal(live.lastKmsgWrite!.result, 0);
    } else {
      const recs = list(live);
      if (recs.length === 0) continue;
      const r = recs[op.pick % recs.length]!;
      live.erase(r.type, r.id, op.exactCount ? r.count : r.count + 1);
    }
  }
  return { disk, live };
}

/** Headers on the device that pass pstore/zone's validity checks (removed ones included). */
function validHeaders(disk: Buffer, abi: Abi, zoneSize: number) {
  const out: { index: number; sec: bigint; reason: number; counter: number }[] = [];
  const secOff = ZONE_HEADER_SIZE + kmsgHeaderLayout(abi).fields.find((f) => f.name === 'time.tv_sec')!.offset;
  for (let i = 0; i * zoneSize < disk.length; i++) {
    const off = i * zoneSize;
    const zh = decodeZoneHeader(disk, off, abi.endian);
    if (zh.sig !== zoneSignature(0) || zh.datalen >>> 0 > zoneSize - ZONE_HEADER_SIZE) continue;
    const h = decodeKmsgHeader(disk, off + ZONE_HEADER_SIZE, abi);
    if (h.magic !== KMSG_MAGIC) continue;
    const sec = abi.endian === 'le' ? disk.readBigInt64LE(off + secOff) : disk.readBigInt64BE(off + secOff);
    out.push({ index: i, sec, reason: h.reason, counter: h.counter });
  }
  return out;
}

for (const abi of ALL_ABIS) {
  test(`engine ${abiLabel(abi)}: a fresh recovery of what a live engine wrote and removed yields the same records and state`, () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const { disk, live } = runLive(abi, s);
        const fresh = new PstoreZone(new BlockZoneBackend(Buffer.from(disk)), { layout: kmsgOnlyLayout(disk.length, s.zoneSize), abi });
        const got = list(fresh);
        assert.deepEqual(got, list(live));

        const headers = validHeaders(disk, abi, s.zoneSize);
        const anyOops = headers.some((h) => h.reason === KmsgReason.OOPS);
        const anyPanic = headers.some((h) => h.reason === KmsgReason.PANIC);
        assert.equal(fresh.oopsCounter, anyOops ? live.oopsCounter : 0);
        assert.equal(fresh.panicCounter, anyPanic ? live.panicCounter : 0);
        if (s.strictTime) {
          assert.equal(fresh.kmsgWriteCnt, live.kmsgWriteCnt);
        } else if (headers.length > 0) {
          // Equal seconds: the kernel takes the highest zone index among the newest.
          const max = headers.reduce((m, h) => (h.sec > m ? h.sec : m), headers[0]!.sec);
          const last = Math.max(...headers.filter((h) => h.sec === max).map((h) => h.index));
          assert.equal(fresh.kmsgWriteCnt, (last + 1) % s.n);
        } else {
          assert.equal(fresh.kmsgWriteCnt, 0);
        }
      }),
      { numRuns: RUNS },
    );
  });
}

// ------------------------------------------------------------ damaged input

type Damage =
  | { kind: 'flips'; bits: number[] }
  | { kind: 'random'; seed: number }
  | { kind: 'field'; field: 'datalen' | 'start' | 'counter' | 'sec' | 'nsec' | 'sig' | 'magic' | 'reason'; value: number };

const EXTREMES = [0, 1, -1, 2, 39, 40, 41, 0x7fffffff, -0x80000000, 0xffffffff, 511, 512, 1012, 1013];

const damageArb: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ kind: fc.constant('flips' as const), bits: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('random' as const), seed: fc.nat() }),
  fc.record({
    kind: fc.constant('field' as const),
    field: fc.constantFrom('datalen', 'start', 'counter', 'sec', 'nsec', 'sig', 'magic', 'reason'),
    value: fc.constantFrom(...EXTREMES),
  }),
);

function damageZone(disk: Buffer, off: number, size: number, abi: Abi, d: Damage): void {
  const z = disk.subarray(off, off + size);
  const le = abi.endian === 'le';
  const kl = kmsgHeaderLayout(abi);
  const field = (name: string) => ZONE_HEADER_SIZE + kl.fields.find((f) => f.name === name)!.offset;
  switch (d.kind) {
    case 'flips':
      // Flips concentrated on the headers, where they matter most.
      for (const b of d.bits) {
        const bit = b % ((ZONE_HEADER_SIZE + kmsgHeaderSize(abi)) * 8 * 2);
        const byte = Math.floor(bit / 8) % size;
        z[byte]! ^= 1 << bit % 8;
      }
      return;
    case 'random': {
      let x = d.seed | 1;
      for (let i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        z[i] = x & 0xff;
      }
      return;
    }
    case 'field': {
      const v = d.value;
      const w32 = (p: number) => (le ? z.writeUInt32LE(v >>> 0, p) : z.writeUInt32BE(v >>> 0, p));
      if (d.field === 'sig') w32(0);
      else if (d.field === 'datalen') w32(4);
      else if (d.field === 'start') w32(8);
      else if (d.field === 'magic') w32(field('magic'));
      else if (d.field === 'counter') w32(field('counter'));
      else if (d.field === 'reason') w32(field('reason'));
      else {
        const name = d.field === 'sec' ? 'time.tv_sec' : 'time.tv_nsec';
        const f = kl.fields.find((x) => x.name === name)!;
        const p = ZONE_HEADER_SIZE + f.offset;
        if (f.size === 8) {
          const big = v === 0x7fffffff ? 0x7fffffffffffffffn : v === -0x80000000 ? -0x8000000000000000n : BigInt(v | 0);
          if (le) z.writeBigInt64LE(big, p);
          else z.writeBigInt64BE(big, p);
        } else w32(p);
      }
    }
  }
}

/** Every zone is either listed or explained by a diagnostic. */
function assertAccounted(psz: PstoreZone, recs: PstoreRecord[], n: number): void {
  for (let i = 0; i < n; i++) {
    const listed = recs.some((r) => r.id === i);
    const diagnosed = psz.diagnostics.some((d) => d.type === 0 && d.index === i);
    assert.ok(listed || diagnosed, `zone ${i} neither listed nor diagnosed`);
  }
}

for (const abi of ALL_ABIS) {
  test(`engine ${abiLabel(abi)}: damaged zones are skipped with a diagnostic and every intact zone is still returned`, () => {
    fc.assert(
      fc.property(
        scenarioArb,
        fc.array(fc.tuple(fc.nat(), damageArb), { minLength: 1, maxLength: 4 }),
        (s, damages) => {
          const { disk } = runLive(abi, s);
          const layout = kmsgOnlyLayout(disk.length, s.zoneSize);
          const baseline = list(new PstoreZone(new BlockZoneBackend(Buffer.from(disk)), { layout, abi }));
          const hurt = new Set<number>();
          for (const [pick, d] of damages) {
            const i = pick % s.n;
            hurt.add(i);
            damageZone(disk, i * s.zoneSize, s.zoneSize, abi, d);
          }
          const psz = new PstoreZone(new BlockZoneBackend(disk), { layout, abi });
          const recs = list(psz);
          for (const r of baseline) {
            if (hurt.has(r.id)) continue;
            assert.deepEqual(
              recs.find((x) => x.id === r.id),
              r,
              `intact zone ${r.id} lost or changed`,
            );
          }
          assertAccounted(psz, recs, s.n);
          for (const r of recs) assert.ok(r.data.length <= s.zoneSize + 64);
        },
      ),
      { numRuns: RUNS },
    );
  });
}

test('engine: random bytes as a device never throw, and every zone is accounted for', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...ALL_ABIS),
      fc.constantFrom(512, 1024),
      fc.uint8Array({ minLength: 512, maxLength: 6 * 1024 }),
      (abi, zoneSize, bytes) => {
        const disk = Buffer.from(bytes);
        const layout = kmsgOnlyLayout(disk.length, zoneSize);
        const psz = new PstoreZone(new BlockZoneBackend(disk), { layout, abi });
        const recs = list(psz);
        assertAccounted(psz, recs, layout.kmsg.length);
      },
    ),
    { numRuns: RUNS * 3 },
  );
});

test('engine: a valid header planted in random bytes is recovered and listed', () => {
  fc.assert(
    fc.property(fc.constantFrom(...ALL_ABIS), fc.uint8Array({ minLength: 2048, maxLength: 2048 }), fc.integer({ min: 0, max: 3 }), (abi, bytes, zone) => {
      const disk = Buffer.from(bytes);
      const H = kmsgHeaderSize(abi);
      const off = zone * 512;
      encodeZoneHeader({ sig: zoneSignature(0), datalen: H + 100, start: 0 }, abi.endian, disk, off);
      disk.fill(0, off + ZONE_HEADER_SIZE, off + ZONE_HEADER_SIZE + H);
      encodeKmsgHeader({ magic: KMSG_MAGIC, sec: 5, nsec: 6, compressed: 1, counter: 3, reason: KmsgReason.OOPS }, abi, disk, off + ZONE_HEADER_SIZE);
      const psz = new PstoreZone(new BlockZoneBackend(disk), { layout: kmsgOnlyLayout(2048, 512), abi });
      const r = list(psz).find((x) => x.id === zone);
      assert.ok(r);
      assert.ok(r.data.equals(disk.subarray(off + ZONE_HEADER_SIZE + H, off + ZONE_HEADER_SIZE + H + 100)));
    }),
    { numRuns: RUNS },
  );
});

// -------------------------------------------------------------- truncation

for (const abi of [ALL_ABIS[0]!, ALL_ABIS[1]!, ALL_ABIS[4]!]) {
  test(`engine ${abiLabel(abi)}: a truncated image still yields every zone wholly inside it (hardened), or -EIO (kernel)`, () => {
    fc.assert(
      fc.property(scenarioArb, fc.double({ min: 0, max: 1, noNaN: true }), (s, frac) => {
        const { disk } = runLive(abi, s);
        const layout = kmsgOnlyLayout(disk.length, s.zoneSize);
        const baseline = list(new PstoreZone(new BlockZoneBackend(Buffer.from(disk)), { layout, abi }));
        const cut = Math.floor(frac * disk.length);
        const short = disk.subarray(0, cut);
        const inside = baseline.filter((r) => r.offset + s.zoneSize <= cut);

        const hard = new PstoreZone(new BlockZoneBackend(short), { layout, abi, hardened: { skipUnreadableZones: true } });
        assert.deepEqual(list(hard), inside);
        assertAccounted(hard, list(hard), s.n);

        const kernel = new PstoreZone(new BlockZoneBackend(short), { layout, abi });
        const l = kernel.read();
        if (l.ok) assert.deepEqual(l.records, inside);
        else {
          assert.equal(l.error, -5);
          assert.equal(kernel.diagnostics.at(-1)!.reason, 'abort');
        }
      }),
      { numRuns: RUNS },
    );
  });
}
