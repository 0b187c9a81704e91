import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync, readdirSync } from 'node:fs';
import { deflateRawSync, gunzipSync } from 'node:zlib';
import { ALL_ABIS, abiLabel, type Abi, type AbiClass, type Endian } from '../../src/zone/abi.js';
import { encodeKmsgZone, encodeZoneHeader, zoneSignature, PstoreType } from '../../src/zone/format.js';
import { detectFormat, type FormatDetection, type ImageReader } from '../../src/zone/detect.js';
import { PstoreError } from '../../src/errors.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = path.resolve(repoRoot, '../shared/fixtures');

interface Meta {
  kind: string;
  zone_kb?: number;
  record_size?: number;
  states: { name: string; image?: string }[];
}

function fixtureImages(): { scenario: string; state: string; meta: Meta; image: Buffer }[] {
  const out = [];
  for (const scenario of readdirSync(FIXTURES).sort()) {
    let meta: Meta;
    try {
      meta = JSON.parse(readFileSync(path.join(FIXTURES, scenario, 'meta.json'), 'utf8')) as Meta;
    } catch {
      continue;
    }
    for (const st of meta.states) {
      if (!st.image) continue;
      out.push({ scenario, state: st.name, meta, image: gunzipSync(readFileSync(path.join(FIXTURES, scenario, st.image))) });
    }
  }
  return out;
}

/** The ABI detection reports for a given truth (little-endian ILP32-A8 is byte-identical to LP64). */
function reportedAbi(abi: Abi): AbiClass {
  return abi.endian === 'le' && abi.cls === 'ilp32-a8' ? 'lp64' : abi.cls;
}

// ---------------------------------------------------------------- fixtures

test('detection on every kernel-written fixture image', () => {
  const all = fixtureImages();
  assert.ok(all.length >= 20, `found ${all.length} fixture images`);
  for (const { scenario, state, meta, image } of all) {
    const label = `${scenario}/${state}`;
    const d = detectFormat(image);
    if (state.startsWith('s0-blank')) {
      assert.equal(d.kind, 'empty', label);
      assert.equal(d.confidence, 'certain', label);
      continue;
    }
    if (meta.kind === 'mtdoops') {
      assert.equal(d.kind, 'mtdoops', label);
      assert.equal(d.zoneSize, meta.record_size, label);
      assert.equal(d.mtdoops!.recordSize, meta.record_size);
      assert.equal(d.endian, 'le', label);
      assert.deepEqual(d.mtdoops!.versions, [2], label);
      assert.equal(d.confidence, 'certain', label);
      continue;
    }
    assert.equal(d.kind, 'pstore-zone', label);
    assert.equal(d.endian, scenario === 'blk-s390x' ? 'be' : 'le', label);
    assert.equal(d.abi, 'lp64', label);
    assert.equal(d.zoneSize, meta.zone_kb! * 1024, label);
    assert.equal(d.confidence, 'certain', `${label}: ${d.evidence.join(' | ')}`);
    assert.deepEqual(d.given, { endian: false, abi: false, zoneSize: false });
    if (d.endian === 'le') assert.deepEqual(d.equivalentAbis, ['ilp32-a8'], label);
    else assert.equal(d.equivalentAbis, undefined, label);
    assert.ok(d.headers.length >= 3, label);
    assert.ok(d.headers.every((h) => h.offset % d.zoneSize! === 0), label);
  }
});

test('a reader source gives the same answer as the bytes, and is never asked outside the image', () => {
  const img = fixtureImages().find((f) => f.scenario === 'mtdpstore-small-kmsg32' && f.state === 's3-flushed')!.image;
  const reader: ImageReader = {
    size: img.length,
    read(off, len) {
      assert.ok(Number.isInteger(off) && Number.isInteger(len) && off >= 0 && len > 0 && off + len <= img.length, `read(${off}, ${len})`);
      return img.subarray(off, off + len);
    },
  };
  const a = detectFormat(reader);
  const b = detectFormat(img);
  assert.deepEqual(a, b);
  assert.equal(a.zoneSize, 32768);
});

// ---------------------------------------------------------------- synthetic images

interface Built {
  image: Buffer;
  abi: Abi;
  zoneSize: number;
}

function oopsText(n: number, len: number, seed: number): Buffer {
  let s = `Oops#${n} Part1\n`;
  let x = seed >>> 0;
  while (s.length < len) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += `<4>[${(x % 100000) / 1000}] line ${x.toString(36)}\n`;
  }
  return Buffer.from(s.slice(0, Math.max(len, 16)), 'latin1');
}

/**
 * An image as the kernel leaves it: `records` written one after the other
 * into consecutive zones from `first` (wrapping), some later erased (flash)
 * or removed (block device: header rewritten with datalen 0).
 */
function build(p: {
  abi: Abi;
  zoneSize: number;
  zones: number;
  tail: number;
  first: number;
  records: { len: number; compressed: boolean; nsec: number; removed: boolean }[];
  flash: boolean;
}): Built {
  const size = p.zones * p.zoneSize + p.tail;
  const image = Buffer.alloc(size, p.flash ? 0xff : 0x00);
  p.records.forEach((r, i) => {
    const z = (p.first + i) % p.zones;
    const off = z * p.zoneSize;
    const text = oopsText(i + 1, r.len, i * 7919 + p.zoneSize);
    let data: Buffer = text;
    let compressed = false;
    if (r.compressed) {
      const c = deflateRawSync(text, { level: 6, memLevel: 8, windowBits: 15 });
      if (c.length < p.zoneSize - 60) {
        data = c;
        compressed = true;
      }
    }
    const zone = encodeKmsgZone(p.abi, p.zoneSize, { time: { sec: 1700000000 + i * 10, nsec: r.nsec }, compressed, counter: i + 1, reason: 2, data });
    zone.copy(image, off);
    if (r.removed) {
      if (p.flash) image.fill(0xff, off, off + p.zoneSize);
      else encodeZoneHeader({ sig: zoneSignature(PstoreType.DMESG), datalen: 0, start: 0 }, p.abi.endian, image, off);
    }
  });
  return { image, abi: p.abi, zoneSize: p.zoneSize };
}

const ZONE_SIZES = [4096, 8192, 12288, 16384, 32768, 65536];

const arbImage = fc
  .record({
    abi: fc.constantFrom(...ALL_ABIS),
    zoneSize: fc.constantFrom(...ZONE_SIZES),
    zones: fc.integer({ min: 2, max: 12 }),
    tailZones: fc.integer({ min: 0, max: 1 }),
    flash: fc.boolean(),
    firstFrac: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
    recs: fc.array(
      fc.record({
        lenFrac: fc.double({ min: 0, max: 1, noNaN: true }),
        compressed: fc.boolean(),
        nsec: fc.integer({ min: 1, max: 999_999_999 }),
        removed: fc.boolean(),
      }),
      { minLength: 2, maxLength: 12 },
    ),
  })
  .map((a) => {
    const n = Math.min(a.recs.length, a.zones);
    const room = a.zoneSize - 12 - 40;
    const records = a.recs.slice(0, n).map((r) => ({
      len: 16 + Math.floor(r.lenFrac * (room - 16)),
      compressed: r.compressed,
      nsec: r.nsec,
      removed: r.removed,
    }));
    // Keep at least two records that are still there.
    if (records.filter((r) => !r.removed).length < 2) records.forEach((r) => (r.removed = false));
    const built = build({
      abi: a.abi,
      zoneSize: a.zoneSize,
      zones: a.zones,
      // Unused bytes at the end must be less than a zone, or the kernel would count one more zone.
      tail: a.tailZones && a.zoneSize > 4096 ? 4096 : 0,
      first: Math.floor(a.firstFrac * a.zones),
      records,
      flash: a.flash,
    });
    // Keep counterexamples readable: describe the image instead of dumping its bytes.
    const desc = `${abiLabel(a.abi)} zone ${a.zoneSize} x${a.zones} ${a.flash ? 'flash' : 'disk'} first ${Math.floor(a.firstFrac * a.zones)} records ${JSON.stringify(records)}`;
    return Object.assign(built, { [fc.toStringMethod]: () => desc });
  });

test('synthetic images: every ABI and several zone sizes detected exactly (property)', () => {
  let total = 0;
  let ambiguous = 0;
  fc.assert(
    fc.property(arbImage, (b) => {
      const d = detectFormat(b.image);
      const label = `${abiLabel(b.abi)} zone ${b.zoneSize}: ${d.evidence.join(' | ')}`;
      assert.equal(d.kind, 'pstore-zone', label);
      assert.equal(d.endian, b.abi.endian, label);
      assert.equal(d.abi, reportedAbi(b.abi), label);
      assert.notEqual(d.confidence, 'none', label);
      if (d.zoneSize !== b.zoneSize) {
        // Some images are genuinely ambiguous (e.g. two tiny records in the last and the first zone of a
        // zero-filled disk fit two zone sizes equally): then detection must say so and offer the truth.
        assert.notEqual(d.detail.zoneSize, 'certain', label);
        assert.ok(d.candidates?.zoneSize?.includes(b.zoneSize), label);
        ambiguous++;
      }
      total++;
    }),
    { numRuns: 150 },
  );
  // Ambiguity is the rare exception, not a way out.
  assert.ok(ambiguous <= total / 10, `${ambiguous} of ${total} ambiguous`);
});

test('two tiny records in the last and first zone of a zero-filled disk: ambiguous, and said so', () => {
  // 10 zones of 8 KiB plus 4 KiB unused: 12 KiB zones (7 of them) explain the same bytes.
  const b = build({
    abi: { cls: 'lp64', endian: 'le' },
    zoneSize: 8192,
    zones: 10,
    tail: 4096,
    first: 9,
    flash: false,
    records: [0, 1].map(() => ({ len: 16, compressed: false, nsec: 1, removed: false })),
  });
  const d = detectFormat(b.image);
  assert.equal(d.detail.zoneSize, 'likely');
  assert.deepEqual(d.candidates!.zoneSize, [12288, 8192, 4096]);
  assert.equal(d.zoneSize, 12288);
});

test('synthetic images: one deterministic case per ABI and zone size, certain', () => {
  for (const abi of ALL_ABIS) {
    for (const zoneSize of ZONE_SIZES) {
      for (const flash of [false, true]) {
        const room = zoneSize - 52;
        const b = build({
          abi,
          zoneSize,
          zones: 6,
          tail: 0,
          first: 4,
          flash,
          records: [0.2, 0.9, 0.5].map((f, i) => ({ len: Math.floor(16 + f * (room - 16)), compressed: i === 1, nsec: 1000 + i, removed: false })),
        });
        const d = detectFormat(b.image);
        const label = `${abiLabel(abi)} ${zoneSize} ${flash ? 'flash' : 'disk'}: ${d.evidence.join(' | ')}`;
        assert.equal(d.endian, abi.endian, label);
        assert.equal(d.abi, reportedAbi(abi), label);
        assert.equal(d.zoneSize, zoneSize, label);
        assert.equal(d.detail.abi, 'certain', label);
        assert.equal(d.detail.zoneSize, 'certain', label);
        assert.equal(d.detail.endian, 'certain', label);
      }
    }
  }
});

test('big-endian LP64 vs ILP32-A8 with tv_nsec 0 everywhere is reported as a guess with both candidates', () => {
  const b = build({
    abi: { cls: 'ilp32-a8', endian: 'be' },
    zoneSize: 8192,
    zones: 4,
    tail: 0,
    first: 0,
    flash: false,
    records: [0, 1].map(() => ({ len: 500, compressed: false, nsec: 0, removed: false })),
  });
  const d = detectFormat(b.image);
  assert.equal(d.abi, 'lp64');
  assert.equal(d.detail.abi, 'guess');
  assert.deepEqual(d.candidates?.abi, ['lp64', 'ilp32-a8']);
  assert.equal(d.confidence, 'guess');
  // With the class given, it is taken as is.
  const g = detectFormat(b.image, { abi: 'ilp32-a8' });
  assert.equal(g.abi, 'ilp32-a8');
  assert.equal(g.given.abi, true);
  assert.equal(g.confidence, 'certain');
  assert.ok(g.evidence.includes('ABI class ilp32-a8: given by the caller'));
});

test('a single record: zone size bounded by its fill (likely) or only guessed', () => {
  const abi: Abi = { cls: 'lp64', endian: 'le' };
  // Flash: the zero fill ends exactly at the zone end, then 0xFF.
  const flash = build({ abi, zoneSize: 16384, zones: 8, tail: 0, first: 0, flash: true, records: [{ len: 3000, compressed: false, nsec: 5, removed: false }] });
  const f = detectFormat(flash.image);
  assert.equal(f.zoneSize, 16384);
  assert.equal(f.detail.zoneSize, 'likely');
  assert.equal(f.candidates?.zoneSize?.[0] ?? f.zoneSize, 16384);
  assert.ok(f.evidence.some((e) => e.includes('zero fill ends exactly there')));
  // Block device: zeros all the way; 64 KiB is the guess, the truth is among the candidates.
  const disk = build({ abi, zoneSize: 8192, zones: 16, tail: 0, first: 0, flash: false, records: [{ len: 3000, compressed: false, nsec: 5, removed: false }] });
  const d = detectFormat(disk.image);
  assert.equal(d.kind, 'pstore-zone');
  assert.equal(d.zoneSize, 65536);
  assert.equal(d.detail.zoneSize, 'guess');
  assert.ok(d.candidates!.zoneSize!.includes(8192));
  assert.ok(!d.candidates!.zoneSize!.includes(2048));
  assert.ok(d.candidates!.zoneSize!.every((z) => z >= 3000 + 52), 'the record must fit');
  // A single record at a non-zero offset: the size divides the offset.
  const mid = build({ abi, zoneSize: 16384, zones: 8, tail: 0, first: 3, flash: false, records: [{ len: 9000, compressed: false, nsec: 5, removed: false }] });
  const m = detectFormat(mid.image);
  assert.ok(m.candidates!.zoneSize!.every((z) => (3 * 16384) % z === 0 && z >= 9052));
  assert.ok(m.candidates!.zoneSize!.includes(16384));
  // Given the size, it is certain and reported as given.
  const g = detectFormat(disk.image, { zoneSize: 8192 });
  assert.equal(g.zoneSize, 8192);
  assert.equal(g.confidence, 'certain');
  assert.ok(g.evidence.includes('zone size 8192: given by the caller'));
});

test('overrides are taken as given, and contradictions are reported', () => {
  const img = fixtureImages().find((f) => f.scenario === 'blk-s390x' && f.state === 's1-3oops-plain')!.image;
  const d = detectFormat(img, { endian: 'le', zoneSize: 24576 });
  assert.equal(d.endian, 'le');
  assert.equal(d.zoneSize, 24576);
  assert.deepEqual(d.given, { endian: true, abi: false, zoneSize: true });
  assert.ok(d.evidence.some((e) => e.startsWith('warning: no header in the given byte order le')));
  assert.ok(d.evidence.some((e) => e.startsWith('warning: 2 header(s) are not at a multiple of the given zone size')));
  assert.throws(() => detectFormat(img, { zoneSize: -5 }), (e: unknown) => e instanceof PstoreError && e.code === 'EINVAL');
  assert.throws(() => detectFormat(img, { abi: 'vax' as AbiClass }), (e: unknown) => e instanceof PstoreError && e.code === 'EINVAL');
});

test('mtdoops partitions in either byte order, v1 and v2, with the record size', () => {
  for (const endian of ['le', 'be'] as Endian[]) {
    for (const version of [1, 2] as const) {
      const rec = 8192;
      const img = Buffer.alloc(16 * rec, 0xff);
      for (let i = 0; i < 5; i++) {
        const off = ((3 + i) % 16) * rec;
        const dv = new DataView(img.buffer, img.byteOffset + off);
        dv.setUint32(0, 100 + i, endian === 'le');
        dv.setUint32(4, version === 1 ? 0x5d005d00 : 0x5d005e00, endian === 'le');
        const hdr = version === 1 ? 8 : 16;
        if (version === 2) dv.setBigInt64(8, 1700000000123456789n, endian === 'le');
        const text = Buffer.from('<4>[    1.000000] Oops: something\n'.repeat(20 + i * 40), 'latin1');
        text.copy(img, off + hdr);
        img[off + hdr + text.length] = 0;
      }
      const d = detectFormat(img);
      const label = `${endian} v${version}: ${d.evidence.join(' | ')}`;
      assert.equal(d.kind, 'mtdoops', label);
      assert.equal(d.endian, endian, label);
      assert.equal(d.zoneSize, rec, label);
      assert.deepEqual(d.mtdoops!.versions, [version]);
      assert.equal(d.mtdoops!.records.length, 5);
      assert.equal(d.confidence, 'certain', label);
    }
  }
});

test('W5 zones (erased signature, valid magic) are listed and still mark zone starts', () => {
  const abi: Abi = { cls: 'lp64', endian: 'le' };
  const b = build({ abi, zoneSize: 65536, zones: 8, tail: 0, first: 0, flash: true, records: [1, 2, 3].map(() => ({ len: 20000, compressed: false, nsec: 9, removed: false })) });
  const w5 = encodeKmsgZone(abi, 65536, { time: { sec: 1800000000, nsec: 1 }, compressed: false, counter: 4, reason: 2, data: oopsText(4, 30000, 1) }, 0xffffffff);
  w5.copy(b.image, 3 * 65536);
  const d = detectFormat(b.image);
  assert.equal(d.zoneSize, 65536);
  assert.equal(d.headers.filter((h) => h.sigErased).length, 1);
  assert.ok(d.evidence.some((e) => e.includes('erased signature')));
});

test('only pmsg/console/ftrace zones: pstore-zone with its byte order, nothing else claimed', () => {
  const img = Buffer.alloc(1 << 20, 0);
  encodeZoneHeader({ sig: zoneSignature(PstoreType.PMSG), datalen: 100, start: 100 }, 'be', img, 0);
  encodeZoneHeader({ sig: zoneSignature(PstoreType.CONSOLE), datalen: 10, start: 10 }, 'be', img, 65536);
  const d = detectFormat(img);
  assert.equal(d.kind, 'pstore-zone');
  assert.equal(d.endian, 'be');
  assert.equal(d.abi, undefined);
  assert.equal(d.zoneSize, undefined);
  assert.equal(d.confidence, 'none');
  assert.ok(d.evidence.some((e) => e.startsWith('1 pmsg zone header(s), be byte order')));
});

test('empty and unknown media; nothing ever throws on random bytes or failing readers (property)', () => {
  assert.equal(detectFormat(Buffer.alloc(0)).kind, 'empty');
  const mixed = Buffer.alloc(65536, 0xff);
  mixed.fill(0, 4096, 8192);
  assert.equal(detectFormat(mixed).kind, 'empty');
  const junk = Buffer.alloc(65536, 0xff);
  junk[30000] = 0x41;
  const u = detectFormat(junk);
  assert.equal(u.kind, 'unknown');
  assert.equal(u.confidence, 'none');

  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 20000 }), (bytes) => {
      const d: FormatDetection = detectFormat(bytes);
      assert.ok(['pstore-zone', 'mtdoops', 'empty', 'unknown'].includes(d.kind));
    }),
    { numRuns: 200 },
  );
  // Real records with random damage, and readers that fail or return short data.
  fc.assert(
    fc.property(
      arbImage,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 40 }),
      fc.constantFrom('bytes', 'throwing', 'short'),
      (b, damage, mode) => {
        const img = Buffer.from(b.image);
        for (const [pos, v] of damage) img[pos % img.length] = v;
        let calls = 0;
        const reader: ImageReader = {
          size: img.length,
          read(off, len) {
            assert.ok(off >= 0 && len > 0 && off + len <= img.length);
            calls++;
            if (mode === 'throwing' && calls % 3 === 0) throw new Error('EIO');
            return img.subarray(off, off + (mode === 'short' ? Math.ceil(len / 2) : len));
          },
        };
        detectFormat(mode === 'bytes' ? img : reader);
      },
    ),
    { numRuns: 60 },
  );
});
