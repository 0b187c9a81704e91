/**
 * Test-only helper: a deliberately tiny parse of kmsg zones in the kernel-
 * written fixture images, so pstore core can be tested against the kernel's
 * files without depending on src/zone. LP64 layout only (H = 40): sig @0,
 * datalen @4, magic @12, tv_sec @20, tv_nsec @28, compressed @36, counter @40,
 * reason @44, record data @52. Like pstore/zone, it prepends the
 * "<Reason>: Total <n> times" line to uncompressed records.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import type { PstoreRecord } from '../../src/pstore/record.js';
import { dmesgTotalLine } from '../../src/pstore/names.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const fixturesDir = path.resolve(repoRoot, '../shared/fixtures');

export interface FixtureState {
  scenario: string;
  name: string;
  image: string;
  expected: string | null;
  zoneSize: number;
  bigEndian: boolean;
  meta: FixtureMeta;
}

export interface FixtureMeta {
  kind: string;
  geometry: { zone_size?: number; record_size?: number };
  abi?: { endian: string };
  states: { name: string; image: string; expected?: string | null; records_derived?: unknown[]; expected_files?: unknown[] }[];
}

export function loadMeta(scenario: string): FixtureMeta {
  return JSON.parse(fs.readFileSync(path.join(fixturesDir, scenario, 'meta.json'), 'utf8')) as FixtureMeta;
}

export function fixtureStates(prefix: string): FixtureState[] {
  const out: FixtureState[] = [];
  for (const scenario of fs.readdirSync(fixturesDir).sort()) {
    if (!scenario.startsWith(prefix)) continue;
    const meta = loadMeta(scenario);
    for (const s of meta.states) {
      out.push({
        scenario,
        name: s.name,
        image: path.join(fixturesDir, scenario, s.image),
        expected: s.expected ? path.join(fixturesDir, scenario, s.expected) : null,
        zoneSize: meta.geometry.zone_size ?? 0,
        bigEndian: meta.abi?.endian === 'big',
        meta,
      });
    }
  }
  return out;
}

export function readImage(p: string): Buffer {
  return zlib.gunzipSync(fs.readFileSync(p));
}

const PSZ_SIG = 0x43474244;
const KMSG_MAGIC = 0x4dfc3ae5;
const H = 40;

/** kmsg zones of an image → records as pstore/zone would hand them over (valid zones only, zone order). */
export function kmsgRecordsFromImage(img: Buffer, zoneSize: number, bigEndian: boolean): PstoreRecord[] {
  const u32 = (o: number): number => (bigEndian ? img.readUInt32BE(o) : img.readUInt32LE(o));
  const s64 = (o: number): number => Number(bigEndian ? img.readBigInt64BE(o) : img.readBigInt64LE(o));
  const bufferSize = zoneSize - 12;
  const records: PstoreRecord[] = [];
  for (let z = 0; (z + 1) * zoneSize <= img.length; z++) {
    const at = z * zoneSize;
    const datalen = u32(at + 4);
    if (u32(at) !== PSZ_SIG || datalen > bufferSize || datalen === 0 || u32(at + 12) !== KMSG_MAGIC || datalen < H) continue;
    const compressed = img[at + 36] !== 0;
    const count = u32(at + 40);
    const reason = u32(at + 44);
    const stored = Buffer.from(img.subarray(at + 12 + H, at + 12 + datalen));
    records.push({
      type: 0,
      id: z,
      time: { sec: s64(at + 20), nsec: s64(at + 28) },
      reason,
      count,
      compressed,
      data: compressed ? stored : Buffer.concat([Buffer.from(dmesgTotalLine(reason, count)), stored]),
      offset: at,
    });
  }
  return records;
}

export interface ListingEntry {
  name: string;
  size: number;
  mtime_sec: number;
  mtime_nsec: number;
}

export function readListing(expectedDir: string): ListingEntry[] {
  return JSON.parse(fs.readFileSync(path.join(expectedDir, 'listing.json'), 'utf8')) as ListingEntry[];
}
