/**
 * How much is read to list the records of an image, against the ideal: one
 * zone-header read per zone (12 + H bytes) plus the valid data of the zones
 * that hold a record (datalen bytes after the zone header). Counted in bytes
 * and in 2 KiB pages (a read touching any byte of a page counts the page; a
 * NAND reads whole pages), for every way in:
 *
 *  - ls-explicit:  the image file, zone size/ABI given (openSource + listSource);
 *  - ls-detected:  the image file, everything detected (format detection reads count);
 *  - ls-mtd:       the image file read as NAND (erase/page size given: MTD device path);
 *  - mtdpstore-attach: the kernel-faithful mtdpstore attach and first listing
 *                  (MtdPstoreSession over a simulated NAND), counting device reads.
 *
 * Images: `full` (128 MiB, 2048 zones of 64 KiB, all records, half compressed),
 * `sparse` (128 MiB, one zone in eight with a 2–6 KiB record, the rest erased),
 * and the kernel-written fixtures (last state of each pstore scenario).
 *
 * Run: npx tsx bench/attach-reads.ts
 * Prints `bench attach-<pages|bytes>-<image>-<path>: <n> <unit> (ratio <r> vs ideal)`;
 * ratio = read ÷ ideal (1.00 = nothing superfluous read).
 * File reads are counted at the file-system call (every positional read of the image file).
 */
import fsd from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { syncBuiltinESMExports } from 'node:module';
import { fileURLToPath } from 'node:url';
import { listImage, type ListOptions } from '../src/api/read.js';
import type { MtdDevice } from '../src/mtd/device.js';
import { FlashSimulator } from '../src/mtd/simulator.js';
import { MtdPstoreSession } from '../src/mtdpstore/session.js';
import { decodeZoneHeader, decodeKmsgHeader, KMSG_MAGIC, PSZ_SIG } from '../src/zone/format.js';
import { ABI, H, writeFullImage, writeSparseImage } from './lib/images.js';

const PAGE = 2048;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURES = path.resolve(repoRoot, '../shared/fixtures');

/** Reads seen: calls, bytes, pages (per call, summed) and distinct pages. */
class Count {
  calls = 0;
  bytes = 0;
  pages = 0;
  readonly distinct = new Set<number>();
  add(off: number, len: number): void {
    this.calls++;
    this.bytes += len;
    if (len <= 0) return;
    const a = Math.floor(off / PAGE);
    const b = Math.floor((off + len - 1) / PAGE);
    this.pages += b - a + 1;
    for (let p = a; p <= b; p++) this.distinct.add(p);
  }
}

// Count every positional read of the watched file (node:fs patched once; ESM exports synced).
let watched: { file: string; fds: Set<number>; count: Count } | null = null;
{
  const f = fsd as unknown as Record<string, (...a: unknown[]) => unknown>;
  const open = f.openSync!;
  const close = f.closeSync!;
  const read = f.readSync!;
  f.openSync = function (this: unknown, ...a: unknown[]) {
    const fd = open.apply(this, a);
    if (watched && path.resolve(String(a[0])) === watched.file) watched.fds.add(fd as number);
    return fd;
  };
  f.closeSync = function (this: unknown, ...a: unknown[]) {
    watched?.fds.delete(a[0] as number);
    return close.apply(this, a);
  };
  f.readSync = function (this: unknown, ...a: unknown[]) {
    const n = read.apply(this, a) as number;
    if (watched && watched.fds.has(a[0] as number)) {
      const pos = typeof a[2] === 'object' && a[2] !== null ? Number((a[2] as { position?: number }).position) : Number(a[4]);
      watched.count.add(pos, n);
    }
    return n;
  };
  syncBuiltinESMExports();
}

function countFileReads(file: string, fn: () => void): Count {
  const count = new Count();
  watched = { file: path.resolve(file), fds: new Set(), count };
  try {
    fn();
  } finally {
    watched = null;
  }
  return count;
}

/** A device that counts its reads. */
function countingDevice(dev: MtdDevice, count: Count): MtdDevice {
  return new Proxy(dev, {
    get(target, prop, recv) {
      if (prop === 'read') {
        return (off: number, len: number) => {
          const r = target.read(off, len);
          count.add(off, r.retlen);
          return r;
        };
      }
      const v = Reflect.get(target, prop, recv) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** Ideal reads of an image: every zone's header, plus the valid data of the zones with a record. */
function ideal(image: Buffer, zoneSize: number): { bytes: number; pages: number; records: number } {
  let bytes = 0;
  let pages = 0;
  let records = 0;
  const hdr = 12 + H;
  for (let off = 0; off + zoneSize <= image.length; off += zoneSize) {
    const z = decodeZoneHeader(image, off, ABI.endian);
    const k = decodeKmsgHeader(image, off + 12, ABI);
    const valid = z.sig === PSZ_SIG && k.magic === KMSG_MAGIC && z.datalen >= H && z.datalen <= zoneSize - 12;
    const n = valid ? 12 + z.datalen : hdr;
    if (valid) records++;
    bytes += n;
    pages += Math.ceil(n / PAGE);
  }
  return { bytes, pages, records };
}

interface Row {
  image: string;
  path: string;
  count: Count;
  ideal: { bytes: number; pages: number };
  files: number;
}
const rows: Row[] = [];

function measure(name: string, file: string, image: Buffer, zoneSize: number, opts: { mtd?: boolean; session?: boolean; fixtureOnly?: boolean }): void {
  const id = ideal(image, zoneSize);
  const run = (p: string, o: ListOptions) => {
    let files = 0;
    const c = countFileReads(file, () => (files = listImage(file, o).files.length));
    if (files !== id.records) throw new Error(`${name} ${p}: ${files} files, ${id.records} records in the image`);
    rows.push({ image: name, path: p, count: c, ideal: id, files });
  };
  if (!opts.fixtureOnly) run('ls-explicit', { format: 'pstore', zoneSize, abi: ABI.cls, endian: ABI.endian });
  run('ls-detected', {});
  if (opts.mtd) run('ls-mtd', { zoneSize, erasesize: 128 * 1024, writesize: PAGE });
  if (opts.session) {
    const c = new Count();
    const sim = FlashSimulator.fromImage(image, { type: 'nand', erasesize: 128 * 1024, writesize: PAGE, oobsize: 64 });
    const s = new MtdPstoreSession(countingDevice(sim, c), { kmsgSize: zoneSize });
    s.attach();
    const l = s.list();
    if (!l.ok) throw new Error(`${name}: mtdpstore listing failed`);
    // On a full device the kernel's attach erases the block after the newest record to keep a
    // zone free (mtdpstore W5), so up to one block's zones are gone before the listing.
    const perBlock = (128 * 1024) / zoneSize;
    if (l.records.length < id.records - perBlock) throw new Error(`${name} mtdpstore: ${l.records.length} records, ${id.records} in the image`);
    rows.push({ image: name, path: 'mtdpstore-attach', count: c, ideal: id, files: l.records.length });
  }
}

const work = fsd.mkdtempSync(path.join(os.tmpdir(), 'mtdpstore-attach-'));
try {
  for (const [name, write] of [['full', writeFullImage], ['sparse', writeSparseImage]] as const) {
    const file = path.join(work, `${name}.img`);
    write(file);
    measure(name, file, fsd.readFileSync(file), 64 * 1024, { mtd: true, session: true });
    fsd.rmSync(file);
  }
  // Kernel-written fixtures: the last state of each pstore scenario.
  for (const scenario of fsd.readdirSync(FIXTURES).sort()) {
    const metaFile = path.join(FIXTURES, scenario, 'meta.json');
    if (!fsd.existsSync(metaFile)) continue;
    const meta = JSON.parse(fsd.readFileSync(metaFile, 'utf8')) as { kind: string; zone_kb?: number; abi?: unknown; states: { name: string; image?: string }[] };
    if (meta.kind === 'mtdoops' || meta.abi) continue; // the ideal above is for little-endian LP64 pstore/zone
    const st = meta.states.filter((s) => s.image).at(-1)!;
    const image = zlib.gunzipSync(fsd.readFileSync(path.join(FIXTURES, scenario, st.image!)));
    const file = path.join(work, `${scenario}.img`);
    fsd.writeFileSync(file, image);
    measure(scenario, file, image, (meta.zone_kb ?? 64) * 1024, { fixtureOnly: true, session: meta.kind === 'mtdpstore' });
  }
} finally {
  fsd.rmSync(work, { recursive: true, force: true });
}

console.error(`# page = ${PAGE} bytes; ideal = every zone header (12 + ${H} bytes) + valid data of the record zones; ${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.error('# image            path              calls    read KiB   ideal KiB  pages(sum)  distinct  ideal pages  files');
for (const r of rows) {
  console.error(
    `# ${r.image.padEnd(24)} ${r.path.padEnd(17)} ${String(r.count.calls).padStart(6)} ${(r.count.bytes / 1024).toFixed(0).padStart(10)} ${(r.ideal.bytes / 1024).toFixed(0).padStart(10)} ` +
      `${String(r.count.pages).padStart(10)} ${String(r.count.distinct.size).padStart(9)} ${String(r.ideal.pages).padStart(11)} ${String(r.files).padStart(6)}`,
  );
}
for (const r of rows) {
  const fixture = r.image !== 'full' && r.image !== 'sparse';
  console.log(`bench attach-pages-${r.image}-${r.path}: ${r.count.pages} pages (ratio ${(r.count.pages / r.ideal.pages).toFixed(2)} vs ideal)`);
  if (!fixture) console.log(`bench attach-bytes-${r.image}-${r.path}: ${(r.count.bytes / 1024).toFixed(1)} KiB (ratio ${(r.count.bytes / r.ideal.bytes).toFixed(2)} vs ideal)`);
}
