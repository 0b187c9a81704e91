/**
 * Access to the kernel-written mtdpstore fixtures (../shared/fixtures) and a
 * decoder of the records the kernel left in their images.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { DEFAULT_ABI } from '../../src/zone/abi.js';
import { KMSG_MAGIC, PSZ_SIG, ZONE_HEADER_SIZE, decodeKmsgHeader, decodeZoneHeader, kmsgHeaderSize } from '../../src/zone/format.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const fixturesDir = path.resolve(repoRoot, '../shared/fixtures');

export interface FixtureMeta {
  scenario: string;
  geometry: { size: number; erasesize: number; writesize: number; oobsize: number; zone_size: number; zones: number; type: string };
  zone_kb: number;
  boots: Array<{
    actions: string[];
    kprobe_hits_cumulative: Record<string, { mtd_erase: number; mtd_write: number; mtd_panic_write: number }>;
    traced_mtd_ops_outside_oops_context: Array<{ op: string; args: string }>;
  }>;
  states: Array<{ name: string; image: string; source: string; expected_files?: Array<{ name: string; zone: number; counter: number }> }>;
}

export function loadMeta(scenario: string): FixtureMeta {
  return JSON.parse(readFileSync(path.join(fixturesDir, scenario, 'meta.json'), 'utf8')) as FixtureMeta;
}

export function loadImage(scenario: string, rel: string): Buffer {
  return gunzipSync(readFileSync(path.join(fixturesDir, scenario, rel)));
}

/** A kmsg record as the kernel stored it in a zone. */
export interface StoredRecord {
  zone: number;
  sec: number;
  nsec: number;
  compressed: boolean;
  counter: number;
  reason: number;
  /** Bytes after the kmsg sub-header (datalen − H). */
  payload: Buffer;
}

/** Every valid kmsg record of an LP64 little-endian image with zones of `zoneSize` bytes. */
export function decodeRecords(img: Buffer, zoneSize: number): StoredRecord[] {
  const H = kmsgHeaderSize(DEFAULT_ABI);
  const out: StoredRecord[] = [];
  for (let z = 0; (z + 1) * zoneSize <= img.length; z++) {
    const off = z * zoneSize;
    const zh = decodeZoneHeader(img, off, 'le');
    if (zh.sig >>> 0 !== PSZ_SIG || zh.datalen < H || zh.datalen > zoneSize - ZONE_HEADER_SIZE) continue;
    const kh = decodeKmsgHeader(img, off + ZONE_HEADER_SIZE, DEFAULT_ABI);
    if (kh.magic >>> 0 !== KMSG_MAGIC) continue;
    const start = off + ZONE_HEADER_SIZE + H;
    out.push({
      zone: z,
      sec: kh.sec,
      nsec: kh.nsec,
      compressed: kh.compressed !== 0,
      counter: kh.counter,
      reason: kh.reason,
      payload: Buffer.from(img.subarray(start, start + zh.datalen - H)),
    });
  }
  return out;
}
