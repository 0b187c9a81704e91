/**
 * Seed images for the fuzzer: every kernel-written fixture image, with the
 * facts its scenario's meta.json gives (zone or record size, byte order, ABI,
 * flash geometry), so a mutation can aim at a zone and the oracle can pass
 * the right parameters explicitly.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import type { Abi } from '../../src/zone/abi.js';
import { kmsgHeaderSize } from '../../src/zone/format.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = path.resolve(repoRoot, '../shared/fixtures');

/** One fixture image with what its scenario says about it. */
export interface Seed {
  /** `<scenario>/<state>`, for messages and reproduction. */
  readonly name: string;
  readonly image: Buffer;
  /** What the image holds as written (a blank image of either kind is still that kind). */
  readonly kind: 'pstore' | 'mtdoops';
  /** kmsg zone size (pstore) or record size (mtdoops), bytes. */
  readonly zoneSize: number;
  /** Writer ABI (mtdoops: only the byte order matters). */
  readonly abi: Abi;
  /** kmsg sub-header length for `abi` (0 for mtdoops). */
  readonly H: number;
  /** Flash geometry for mtdpstore scenarios (data-only dumps of a NAND). */
  readonly flash?: { readonly erasesize: number; readonly writesize: number; readonly oobsize: number };
}

interface MetaJson {
  kind: string;
  zone_kb?: number;
  geometry?: { erasesize?: number; writesize?: number; oobsize?: number; record_size?: number; type?: string };
  abi?: { endian?: string };
  states: { name: string; image?: string }[];
}

let cache: Seed[] | undefined;

/** All fixture images, in a stable order (scenario, then state). */
export function loadSeeds(): Seed[] {
  if (cache) return cache;
  const out: Seed[] = [];
  for (const scenario of fs.readdirSync(FIXTURES).sort()) {
    const metaPath = path.join(FIXTURES, scenario, 'meta.json');
    if (!fs.existsSync(metaPath)) continue;
    const meta = JSON.parse(fs.readFileSync(metaPath, 'utf8')) as MetaJson;
    const kind = meta.kind === 'mtdoops' ? 'mtdoops' : 'pstore';
    const abi: Abi = { cls: 'lp64', endian: meta.abi?.endian === 'big' ? 'be' : 'le' };
    const zoneSize = kind === 'mtdoops' ? (meta.geometry?.record_size ?? 4096) : (meta.zone_kb ?? 64) * 1024;
    const flash =
      meta.kind === 'mtdpstore' && meta.geometry?.erasesize && meta.geometry.writesize
        ? { erasesize: meta.geometry.erasesize, writesize: meta.geometry.writesize, oobsize: meta.geometry.oobsize ?? 64 }
        : undefined;
    for (const st of meta.states) {
      if (!st.image) continue;
      const image = zlib.gunzipSync(fs.readFileSync(path.join(FIXTURES, scenario, st.image)));
      out.push({ name: `${scenario}/${st.name}`, image, kind, zoneSize, abi, H: kind === 'pstore' ? kmsgHeaderSize(abi) : 0, flash });
    }
  }
  if (out.length === 0) throw new Error(`no fixture image found under ${FIXTURES}`);
  cache = out;
  return out;
}
