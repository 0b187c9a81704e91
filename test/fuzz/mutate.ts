/**
 * Hostile mutations of a seed image, as plain JSON values (so a failing case
 * can be printed and replayed), their fast-check generators, and their
 * application. Applying a list of mutations also tells which byte ranges were
 * touched, which is what the "intact records survive" property needs.
 */
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { ALL_ABIS, type Abi, type Endian } from '../../src/zone/abi.js';
import { KMSG_MAGIC, PSZ_SIG, encodeKmsgZone, kmsgHeaderLayout, zoneSignature } from '../../src/zone/format.js';
import type { Seed } from './seeds.js';

/** Where bytes of a run come from: zeros, erased flash, or a deterministic pseudo-random stream. */
export type Fill = 'zero' | 'ff' | { prng: number };

/** kmsg sub-header fields a mutation may set (values are decimal strings: some need 64 bits). */
export type KmsgField = 'magic' | 'sec' | 'nsec' | 'compressed' | 'counter' | 'reason';

export type Payload = 'text' | 'deflate' | 'bomb' | 'garbage' | 'empty';

export type Mutation =
  /** Flip one bit anywhere. */
  | { op: 'flip'; off: number; bit: number }
  /** Overwrite a run of bytes. */
  | { op: 'run'; off: number; len: number; fill: Fill }
  /** Cut the image at `len` bytes. */
  | { op: 'truncate'; len: number }
  /** Add `len` bytes at the end. */
  | { op: 'append'; len: number; fill: Fill }
  /** Set the zone header's datalen or start (s32) of a zone, in either byte order. */
  | { op: 'zoneField'; zone: number; field: 'datalen' | 'start'; value: number; endian: Endian }
  /** Set one kmsg sub-header field of a zone (laid out for `abi`). */
  | { op: 'kmsgField'; zone: number; field: KmsgField; value: string; abi: Abi }
  /** Replace the zone signature (other types, the other byte order, erased, mtdoops magics...). */
  | { op: 'sig'; zone: number; value: number; endian: Endian }
  /** Pseudo-random bytes from `from` (a zone offset) to the end of the zone. */
  | { op: 'zoneNoise'; zone: number; from: number; prng: number }
  /** Copy a whole zone over another (duplicates, the mtdpstore unload bug). */
  | { op: 'copyZone'; from: number; to: number }
  /** Write a complete, well-formed (or deliberately odd) kmsg zone of any ABI. */
  | {
      op: 'plant';
      zone: number;
      abi: Abi;
      sig: number;
      payload: Payload;
      textLen: number;
      sec: number;
      nsec: number;
      counter: number;
      reason: number;
      compressed: boolean;
      /** Override datalen after encoding (s32), or null to keep the encoded one. */
      datalen: number | null;
      prng: number;
    }
  /** Write an mtdoops record header (and some text) at a record slot (4 KiB grid). */
  | { op: 'mtdoops'; slot: number; seq: number; magic: number; endian: Endian; textLen: number; stamp: string }
  /** Replace the whole image with noise (keeps the length). */
  | { op: 'noiseImage'; prng: number };

/** A generated case: which seed, what to do to it. */
export interface MutationCase {
  seed: number;
  muts: Mutation[];
}

/** The mutated image and what was touched. */
export interface Mutated {
  image: Buffer;
  /** Byte ranges [start, end) that were changed or removed; end may be Infinity. */
  touched: [number, number][];
}

// ----------------------------------------------------------------- bytes

/** xorshift32: a tiny deterministic stream, so cases stay small and replayable. */
export function prngBytes(seed: number, len: number): Buffer {
  const out = Buffer.alloc(len);
  let x = (seed | 0) || 0x9e3779b9;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function fillBytes(f: Fill, len: number): Buffer {
  if (f === 'zero') return Buffer.alloc(len);
  if (f === 'ff') return Buffer.alloc(len, 0xff);
  return prngBytes(f.prng, len);
}

let bombCache: Buffer | undefined;
/** 16 MiB of zeros as raw deflate (~16 KiB): far beyond any output limit. */
function bomb(): Buffer {
  bombCache ??= zlib.deflateRawSync(Buffer.alloc(16 << 20), { level: 9 });
  return bombCache;
}

function oopsText(len: number, prng: number): Buffer {
  const head = `Oops#1 Part1\n<4>[    1.000000] fuzz line ${prng}\n`;
  const body = Buffer.alloc(Math.max(0, len - head.length));
  const letters = prngBytes(prng, body.length);
  for (let i = 0; i < body.length; i++) body[i] = i % 64 === 63 ? 0x0a : 0x20 + (letters[i]! % 95);
  return Buffer.concat([Buffer.from(head, 'latin1'), body]).subarray(0, Math.max(len, 0));
}

function payloadBytes(m: Extract<Mutation, { op: 'plant' }>): Buffer {
  switch (m.payload) {
    case 'text':
      return oopsText(m.textLen, m.prng);
    case 'deflate':
      return zlib.deflateRawSync(oopsText(m.textLen, m.prng), { windowBits: 11 });
    case 'bomb':
      return bomb();
    case 'garbage':
      return prngBytes(m.prng, m.textLen);
    case 'empty':
      return Buffer.alloc(0);
  }
}

function writeS32(b: Buffer, off: number, v: number, e: Endian): void {
  if (e === 'le') b.writeInt32LE(v | 0, off);
  else b.writeInt32BE(v | 0, off);
}
function writeU32(b: Buffer, off: number, v: number, e: Endian): void {
  if (e === 'le') b.writeUInt32LE(v >>> 0, off);
  else b.writeUInt32BE(v >>> 0, off);
}

/** Bytes of an integer of `size` bytes (1, 2, 4, 8) in the byte order, two's complement. */
function intBytes(value: bigint, size: number, e: Endian): Buffer {
  const b = Buffer.alloc(size);
  const v = BigInt.asUintN(size * 8, value);
  for (let i = 0; i < size; i++) {
    const byte = Number((v >> BigInt(8 * i)) & 0xffn);
    b[e === 'le' ? i : size - 1 - i] = byte;
  }
  return b;
}

// ----------------------------------------------------------------- applying

/** Apply the mutations in order to a copy of the seed image. */
export function applyMutations(seed: Seed, muts: readonly Mutation[]): Mutated {
  let img = Buffer.from(seed.image);
  const touched: [number, number][] = [];
  const Z = seed.zoneSize;
  /** Write bytes at `off`, clipped to the current image, and remember the range. */
  const put = (off: number, bytes: Uint8Array): void => {
    const start = Math.max(0, off);
    const end = Math.min(img.length, off + bytes.length);
    if (end <= start) return;
    img.set(bytes.subarray(start - off, end - off), start);
    touched.push([start, end]);
  };
  for (const m of muts) {
    switch (m.op) {
      case 'flip': {
        if (m.off < img.length) put(m.off, Buffer.of(img[m.off]! ^ (1 << m.bit)));
        break;
      }
      case 'run':
        put(m.off, fillBytes(m.fill, m.len));
        break;
      case 'truncate':
        if (m.len < img.length) {
          img = img.subarray(0, m.len);
          touched.push([m.len, Infinity]);
        }
        break;
      case 'append':
        touched.push([img.length, Infinity]);
        img = Buffer.concat([img, fillBytes(m.fill, m.len)]);
        break;
      case 'zoneField': {
        const b = Buffer.alloc(4);
        writeS32(b, 0, m.value, m.endian);
        put(m.zone * Z + (m.field === 'datalen' ? 4 : 8), b);
        break;
      }
      case 'kmsgField': {
        const layout = kmsgHeaderLayout(m.abi);
        const name = m.field === 'sec' ? 'time.tv_sec' : m.field === 'nsec' ? 'time.tv_nsec' : m.field;
        const f = layout.fields.find((x) => x.name === name)!;
        put(m.zone * Z + 12 + f.offset, intBytes(BigInt(m.value), f.size, m.abi.endian));
        break;
      }
      case 'sig': {
        const b = Buffer.alloc(4);
        writeU32(b, 0, m.value, m.endian);
        put(m.zone * Z, b);
        break;
      }
      case 'zoneNoise':
        put(m.zone * Z + m.from, prngBytes(m.prng, Math.max(0, Z - m.from)));
        break;
      case 'copyZone': {
        if ((m.from + 1) * Z <= img.length) put(m.to * Z, Buffer.from(img.subarray(m.from * Z, (m.from + 1) * Z)));
        break;
      }
      case 'plant': {
        if (Z < 12 + 40 + 1) break;
        const zone = encodeKmsgZone(
          m.abi,
          Z,
          { time: { sec: m.sec, nsec: m.nsec }, compressed: m.compressed, counter: m.counter, reason: m.reason, data: payloadBytes(m) },
          m.sig,
        );
        if (m.datalen !== null) writeS32(zone, 4, m.datalen, m.abi.endian);
        put(m.zone * Z, zone);
        break;
      }
      case 'mtdoops': {
        const hdr = Buffer.alloc(m.magic === 0x5d005e00 ? 16 : 8);
        writeU32(hdr, 0, m.seq, m.endian);
        writeU32(hdr, 4, m.magic, m.endian);
        if (hdr.length === 16) hdr.set(intBytes(BigInt(m.stamp), 8, m.endian), 8);
        const text = Buffer.from(`<0>[ 1.0] mtdoops fuzz ${'x'.repeat(Math.max(0, m.textLen))}\n\0`, 'latin1');
        put(m.slot * 4096, Buffer.concat([hdr, text]));
        break;
      }
      case 'noiseImage':
        put(0, prngBytes(m.prng, img.length));
        break;
    }
  }
  return { image: img, touched };
}

/** Whether [start, end) is untouched by the mutations and still wholly inside the image. */
export function intact(m: Mutated, start: number, end: number): boolean {
  if (end > m.image.length) return false;
  return m.touched.every(([a, b]) => b <= start || a >= end);
}

// ----------------------------------------------------------------- generators

const I32_MIN = -(2 ** 31);
const I32_MAX = 2 ** 31 - 1;

function extremeLengths(seed: Seed): number[] {
  const Z = seed.zoneSize;
  const B = Z - 12; // buffer_size
  const H = seed.H || 40;
  return [0, 1, H - 1, H, H + 1, B - 1, B, B + 1, Z, I32_MAX, -1, I32_MIN, 2 ** 30];
}

const SEC_VALUES = ['0', '1', '-1', String(I32_MAX), String(2 ** 32), String(2 ** 53), String(2n ** 63n - 1n), String(-(2n ** 63n)), '1700000000'];
const NSEC_VALUES = ['0', '999999999', '1000000000', '-1', String(I32_MAX), String(2n ** 63n - 1n), String(-(2n ** 63n))];
const U32_VALUES = ['0', '1', String(I32_MAX), String(2 ** 31), String(2 ** 32 - 1)];
const REASON_VALUES = ['0', '1', '2', '3', '4', '5', '6', '255', String(2 ** 31), String(2 ** 32 - 1)];
const COMPRESSED_VALUES = ['0', '1', '2', '128', '255'];
const MAGIC_VALUES = [String(KMSG_MAGIC), '3895397453' /* byte-swapped magic */, '0', String(2 ** 32 - 1), String(KMSG_MAGIC ^ 1)];

const SIG_VALUES = [
  ...[0, 1, 2, 3, 4, 5, 6, 7, 8, 0xff].map((t) => zoneSignature(t)),
  0x44424743, // "DBGC" read in the other byte order
  0xffffffff,
  0,
  0x5d005d00,
  0x5d005e00,
];

const fillArb: fc.Arbitrary<Fill> = fc.oneof(fc.constant('zero' as const), fc.constant('ff' as const), fc.integer().map((prng) => ({ prng })));
const endianArb = (seed: Seed): fc.Arbitrary<Endian> =>
  fc.oneof({ weight: 4, arbitrary: fc.constant(seed.abi.endian) }, { weight: 1, arbitrary: fc.constant<Endian>(seed.abi.endian === 'le' ? 'be' : 'le') });
const abiArb = (seed: Seed): fc.Arbitrary<Abi> =>
  fc.oneof({ weight: 4, arbitrary: fc.constant(seed.abi) }, { weight: 1, arbitrary: fc.constantFrom(...ALL_ABIS) });

/** Mutations for one seed: positions and zone numbers are drawn inside (or just past) its image. */
export function mutationArb(seed: Seed): fc.Arbitrary<Mutation> {
  const S = seed.image.length;
  const Z = seed.zoneSize;
  const nZ = Math.max(1, Math.floor(S / Z));
  const H = seed.H || 40;
  const zone = fc.oneof({ weight: 9, arbitrary: fc.nat(nZ - 1) }, { weight: 1, arbitrary: fc.constant(nZ) });
  const headerByte = fc.oneof(fc.nat(12 + H - 1), fc.nat(Z - 1));
  const boundaries = [0, 1, 12, 12 + H, Z - 1, Z, Z + 1, S - Z, S - 1, Math.floor(S / 2), 4095, 4096, 2048].filter((x) => x >= 0 && x <= S);
  const i32 = fc.oneof(fc.constantFrom(...extremeLengths(seed)), fc.integer({ min: I32_MIN, max: I32_MAX }));
  const kmsgField = fc.oneof(
    fc.record({ field: fc.constant<KmsgField>('sec'), value: fc.oneof(fc.constantFrom(...SEC_VALUES), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String)) }),
    fc.record({ field: fc.constant<KmsgField>('nsec'), value: fc.constantFrom(...NSEC_VALUES) }),
    fc.record({ field: fc.constant<KmsgField>('counter'), value: fc.oneof(fc.constantFrom(...U32_VALUES), fc.nat().map(String)) }),
    fc.record({ field: fc.constant<KmsgField>('reason'), value: fc.constantFrom(...REASON_VALUES) }),
    fc.record({ field: fc.constant<KmsgField>('compressed'), value: fc.constantFrom(...COMPRESSED_VALUES) }),
    fc.record({ field: fc.constant<KmsgField>('magic'), value: fc.constantFrom(...MAGIC_VALUES) }),
  );
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant('flip' as const), off: fc.oneof(fc.nat(S - 1), zone.chain((z) => headerByte.map((b) => Math.min(S - 1, z * Z + b)))), bit: fc.nat(7) }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('run' as const), off: fc.nat(S - 1), len: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: Z })), fill: fillArb }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('truncate' as const), len: fc.oneof(fc.nat(S), fc.constantFrom(...boundaries)) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('append' as const), len: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constantFrom(1, 4095, 4096, Z, Z + 1)), fill: fillArb }) },
    { weight: 6, arbitrary: fc.record({ op: fc.constant('zoneField' as const), zone, field: fc.constantFrom<'datalen' | 'start'>('datalen', 'start'), value: i32, endian: endianArb(seed) }) },
    { weight: 6, arbitrary: fc.tuple(zone, kmsgField, abiArb(seed)).map(([z, f, abi]) => ({ op: 'kmsgField' as const, zone: z, field: f.field, value: f.value, abi })) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('sig' as const), zone, value: fc.oneof(fc.constantFrom(...SIG_VALUES), fc.nat({ max: 2 ** 32 - 1 })), endian: endianArb(seed) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('zoneNoise' as const), zone, from: fc.oneof(fc.constant(0), fc.constant(12), fc.constant(12 + H), fc.nat(Z - 1)), prng: fc.integer() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('copyZone' as const), from: fc.nat(nZ - 1), to: zone }) },
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant('plant' as const),
        zone,
        abi: abiArb(seed),
        sig: fc.oneof({ weight: 5, arbitrary: fc.constant(PSZ_SIG) }, { weight: 1, arbitrary: fc.constantFrom(...SIG_VALUES) }),
        payload: fc.constantFrom<Payload>('text', 'deflate', 'bomb', 'garbage', 'empty'),
        textLen: fc.oneof(fc.nat(256), fc.nat(Z + 64)),
        sec: fc.oneof(fc.constantFrom(0, 1, 1_700_000_000, 2 ** 31 - 1, 2 ** 40), fc.nat()),
        nsec: fc.oneof(fc.constantFrom(0, 999_999_999), fc.nat(999_999_999)),
        counter: fc.oneof(fc.constantFrom(0, 1, 2 ** 32 - 1), fc.nat()),
        reason: fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 255),
        compressed: fc.boolean(),
        datalen: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: i32 }),
        prng: fc.integer(),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('mtdoops' as const),
        slot: fc.nat(Math.max(0, Math.floor(S / 4096) - 1)),
        seq: fc.oneof(fc.constantFrom(0, 1, 2, 0xfffffffe, 0xffffffff, 2 ** 31), fc.nat()),
        magic: fc.constantFrom(0x5d005d00, 0x5d005e00, 0x5d005d01),
        endian: fc.constantFrom<Endian>('le', 'be'),
        textLen: fc.oneof(fc.nat(64), fc.constant(5000)),
        stamp: fc.constantFrom('0', '-1', String(2n ** 63n - 1n), String(-(2n ** 63n)), '1700000000000000000'),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('noiseImage' as const), prng: fc.integer() }) },
  );
}

/** A case: a seed and 1–3 mutations of it. */
export function caseArb(seeds: readonly Seed[]): fc.Arbitrary<MutationCase> {
  return fc.nat(seeds.length - 1).chain((i) => fc.record({ seed: fc.constant(i), muts: fc.array(mutationArb(seeds[i]!), { minLength: 1, maxLength: 3 }) }));
}
