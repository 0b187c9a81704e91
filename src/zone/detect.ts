/**
 * Format detection over a raw image (spec/format.md §11, a **Project note**):
 * the on-flash format has no byte-order marker, no ABI marker and no zone
 * size field, so they are inferred from what the kernel leaves behind:
 *
 *  - byte order: the zone signature ("DBGC" little-endian, "CGBD" big-endian)
 *    with the kmsg magic at zone offset 12 in the same order;
 *  - ABI class: which sub-header layout gives sane fields (zero padding,
 *    compressed 0/1, reason 0–5, tv_nsec < 10^9) and puts the record text
 *    ("Oops#…", "Panic#…") or an inflatable deflate stream at 12 + H;
 *  - zone size: kmsg zones start at multiples of the zone size from offset 0
 *    (mtdpstore, dmesg-only pstore/blk), so the size divides every header
 *    offset; the kernel writes each record with zero fill up to the end of
 *    its zone, which bounds the size from above; records are written into
 *    consecutive zones, which singles out the size when several divide.
 *
 * mtdoops partitions (magic 0x5d005d00 / 0x5d005e00 at offset 4 of each
 * record, either byte order) are recognised too.
 *
 * Reads only inside the image, and never throws because of the image's
 * content: a random image yields kind 'unknown' with confidence 'none'.
 */
import { inflateRawSync, constants as zc } from 'node:zlib';
import { PstoreError, hex } from '../errors.js';
import { ABI_CLASSES, type AbiClass, type Endian } from './abi.js';
import { KMSG_MAGIC, PSZ_SIG, PstoreType, ZONE_HEADER_SIZE, decodeKmsgHeader, kmsgHeaderLayout, kmsgHeaderSize } from './format.js';

/** How sure a detected value is. 'certain': only one reading fits; 'likely': the best of several, well supported; 'guess': a default among equals; 'none': nothing found. */
export type Confidence = 'certain' | 'likely' | 'guess' | 'none';

/** What the image holds. */
export type ImageKind = 'pstore-zone' | 'mtdoops' | 'empty' | 'unknown';

/** A random-access view of an image. `read` may return fewer bytes than asked (treated as the end of the data). */
export interface ImageReader {
  readonly size: number;
  read(off: number, len: number): Uint8Array;
}

/** An image: the bytes themselves or a reader. */
export type ImageSource = Uint8Array | ImageReader;

/** Caller overrides and tuning. Every given value is taken as is and reported as given. */
export interface DetectOptions {
  /** Zone size in bytes (for mtdoops: the record size). */
  zoneSize?: number;
  abi?: AbiClass;
  endian?: Endian;
  /** Alignment at which zone headers are searched; zone sizes are multiples of it. Default 4096 (pstore/blk sizes are multiples of 4 KiB). */
  scanStep?: number;
}

/** A kmsg zone header found in the image. */
export interface KmsgHeaderHit {
  readonly offset: number;
  readonly endian: Endian;
  /** datalen as stored (signed). */
  readonly datalen: number;
  /** The signature is 0xFFFFFFFF (a zone written after its block was erased under it: mtdpstore W5); the kernel ignores it. */
  readonly sigErased: boolean;
}

/** mtdoops facts when kind is 'mtdoops'. */
export interface MtdoopsInfo {
  readonly recordSize: number;
  /** Header versions seen (1: 8-byte header; 2: 16-byte header with timestamp, v5.19+). */
  readonly versions: readonly (1 | 2)[];
  /** Record offsets. */
  readonly records: readonly number[];
}

/** Result of {@link detectFormat}. */
export interface FormatDetection {
  readonly kind: ImageKind;
  readonly endian?: Endian;
  /** ABI class; little-endian LP64 and ILP32-A8 are byte-identical and reported as 'lp64' (see `equivalentAbis`). */
  readonly abi?: AbiClass;
  /** kmsg zone size (mtdoops: record size). */
  readonly zoneSize?: number;
  /** Overall confidence: the weakest of the parts that were detected (given parts count as certain). */
  readonly confidence: Confidence;
  /** Confidence of each part. */
  readonly detail: { readonly endian: Confidence; readonly abi: Confidence; readonly zoneSize: Confidence };
  /** Which values the caller gave. */
  readonly given: { readonly endian: boolean; readonly abi: boolean; readonly zoneSize: boolean };
  /** What was found and why, in words. */
  readonly evidence: readonly string[];
  /** Other values that fit the data, best first (when not certain). */
  readonly candidates?: { readonly zoneSize?: readonly number[]; readonly abi?: readonly AbiClass[] };
  /** ABI classes that write the same bytes as `abi` for this image (['ilp32-a8'] for little-endian LP64). */
  readonly equivalentAbis?: readonly AbiClass[];
  /** kmsg zone headers found (signature and magic), in offset order. */
  readonly headers: readonly KmsgHeaderHit[];
  readonly mtdoops?: MtdoopsInfo;
}

// ---------------------------------------------------------------------------
// Safe reading

class SafeImage {
  readonly size: number;
  private readonly src: ImageSource;
  readFailures = 0;
  constructor(src: ImageSource) {
    this.src = src;
    const n = src instanceof Uint8Array ? src.length : Number(src.size);
    this.size = Number.isSafeInteger(n) && n > 0 ? n : 0;
  }
  /** Bytes [off, off+len) clipped to the image; shorter (possibly empty) if the reader gives less. */
  get(off: number, len: number): Uint8Array {
    const start = Math.max(0, Math.min(off, this.size));
    const end = Math.max(start, Math.min(off + len, this.size));
    if (end === start) return new Uint8Array(0);
    if (this.src instanceof Uint8Array) return this.src.subarray(start, end);
    try {
      const b = this.src.read(start, end - start);
      if (!(b instanceof Uint8Array)) {
        this.readFailures++;
        return new Uint8Array(0);
      }
      return b.length > end - start ? b.subarray(0, end - start) : b;
    } catch {
      this.readFailures++;
      return new Uint8Array(0);
    }
  }
  /** Offset of the first byte ≠ `byte` in [from, to), or `to`. Unreadable bytes count as different. */
  firstNot(byte: number, from: number, to: number): number {
    const CH = 65536;
    for (let p = from; p < to; p += CH) {
      const want = Math.min(CH, to - p);
      const b = this.get(p, want);
      for (let i = 0; i < b.length; i++) if (b[i] !== byte) return p + i;
      if (b.length < want) return p + b.length;
    }
    return to;
  }
}

function u32(b: Uint8Array, off: number, e: Endian): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return dv.getUint32(off, e === 'le');
}
function s32(b: Uint8Array, off: number, e: Endian): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return dv.getInt32(off, e === 'le');
}

const ENDIANS: readonly Endian[] = ['le', 'be'];
const MTDOOPS_V1 = 0x5d005d00;
const MTDOOPS_V2 = 0x5d005e00;
/** How the stored text of an uncompressed record begins (pstore core's "<Reason>#<n> Part1" line). */
const TEXT_START = /^(Panic|Oops|Emergency|Shutdown|Unknown)#\d/;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

const rank: Record<Confidence, number> = { none: 0, guess: 1, likely: 2, certain: 3 };
function weakest(...cs: Confidence[]): Confidence {
  return cs.reduce((a, b) => (rank[b] < rank[a] ? b : a), 'certain');
}

function validateOptions(o: DetectOptions): void {
  if (o.zoneSize !== undefined && (!Number.isSafeInteger(o.zoneSize) || o.zoneSize < ZONE_HEADER_SIZE + 26)) {
    throw new PstoreError('EINVAL', `zone size ${o.zoneSize}: must be a whole number of bytes, at least large enough for the headers (e.g. 65536)`);
  }
  if (o.abi !== undefined && !ABI_CLASSES.includes(o.abi)) {
    throw new PstoreError('EINVAL', `ABI class '${String(o.abi)}' unknown: use one of ${ABI_CLASSES.join(', ')}`);
  }
  if (o.endian !== undefined && o.endian !== 'le' && o.endian !== 'be') {
    throw new PstoreError('EINVAL', `byte order '${String(o.endian)}' unknown: use le or be`);
  }
  if (o.scanStep !== undefined && (!Number.isSafeInteger(o.scanStep) || o.scanStep < 512 || o.scanStep % 512 !== 0)) {
    throw new PstoreError('EINVAL', `scan step ${o.scanStep}: must be a multiple of 512`);
  }
}

// ---------------------------------------------------------------------------
// ABI analysis of one header

interface AbiCheck {
  structural: boolean;
  /** The text start or a deflate stream confirms the header length. */
  strong: boolean;
  why?: string;
}

function checkAbi(img: SafeImage, hit: KmsgHeaderHit, cls: AbiClass, allowInflate: boolean): AbiCheck {
  const abi = { cls, endian: hit.endian };
  const h = kmsgHeaderSize(abi);
  const head = img.get(hit.offset, ZONE_HEADER_SIZE + h + 16);
  if (head.length < ZONE_HEADER_SIZE + h) return { structural: false, strong: false, why: 'truncated' };
  const layout = kmsgHeaderLayout(abi);
  // Padding: every byte of the sub-header no field covers must be zero (the kernel zero-fills the buffer).
  const covered = new Uint8Array(h);
  for (const f of layout.fields) covered.fill(1, f.offset, f.offset + f.size);
  for (let i = 0; i < h; i++) {
    if (!covered[i] && head[ZONE_HEADER_SIZE + i] !== 0) return { structural: false, strong: false, why: `padding byte ${i} is not zero` };
  }
  const k = decodeKmsgHeader(head, ZONE_HEADER_SIZE, abi);
  if (k.compressed > 1) return { structural: false, strong: false, why: 'compressed flag not 0/1' };
  if (k.reason > 5) return { structural: false, strong: false, why: `reason ${k.reason} out of range` };
  if (!(k.nsec >= 0 && k.nsec < 1e9)) return { structural: false, strong: false, why: 'tv_nsec out of range' };
  if (!(k.sec >= 0)) return { structural: false, strong: false, why: 'negative tv_sec' };
  const datalen = hit.datalen;
  if (datalen !== 0 && datalen < h) return { structural: false, strong: false, why: `datalen ${datalen} shorter than the ${h}-byte sub-header` };
  // Text start (also present in a removed block-device zone, whose old bytes stay).
  const textBytes = head.subarray(ZONE_HEADER_SIZE + h);
  const text = Buffer.from(textBytes).toString('latin1');
  if (k.compressed === 0 && TEXT_START.test(text)) return { structural: true, strong: true, why: 'text start' };
  if (k.compressed === 1 && allowInflate && datalen > h) {
    const len = Math.min(datalen - h, img.size - (hit.offset + ZONE_HEADER_SIZE + h));
    const data = img.get(hit.offset + ZONE_HEADER_SIZE + h, len);
    if (inflatesToText(data)) return { structural: true, strong: true, why: 'deflate stream' };
  }
  return { structural: true, strong: false };
}

function inflatesToText(data: Uint8Array): boolean {
  for (const opts of [{}, { finishFlush: zc.Z_SYNC_FLUSH }]) {
    try {
      const out = inflateRawSync(data, { ...opts, maxOutputLength: 4 << 20 });
      if (out.length > 0 && TEXT_START.test(out.subarray(0, 32).toString('latin1'))) return true;
    } catch {
      // not a stream at this offset
    }
  }
  return false;
}

// ---------------------------------------------------------------------------
// Detection

interface ScanResult {
  kmsg: KmsgHeaderHit[];
  sigOnly: number;
  ring: Map<string, number>;
  mtdoops: { offset: number; endian: Endian; version: 1 | 2; seq: number }[];
  ffSamples: number;
  zeroSamples: number;
  samples: number;
}

function scan(img: SafeImage, step: number): ScanResult {
  const r: ScanResult = { kmsg: [], sigOnly: 0, ring: new Map(), mtdoops: [], ffSamples: 0, zeroSamples: 0, samples: 0 };
  const ringNames = new Map<number, string>([
    [PstoreType.PMSG, 'pmsg'],
    [PstoreType.CONSOLE, 'console'],
    [PstoreType.FTRACE, 'ftrace'],
  ]);
  for (let off = 0; off + 16 <= img.size; off += step) {
    const h = img.get(off, 16);
    if (h.length < 16) break;
    r.samples++;
    if (h.every((b) => b === 0xff)) {
      r.ffSamples++;
      continue;
    }
    if (h.every((b) => b === 0)) {
      r.zeroSamples++;
      continue;
    }
    let found = false;
    for (const e of ENDIANS) {
      const sig = u32(h, 0, e);
      const magic = u32(h, 12, e);
      if (sig === PSZ_SIG && magic === KMSG_MAGIC) {
        r.kmsg.push({ offset: off, endian: e, datalen: s32(h, 4, e), sigErased: false });
        found = true;
      } else if (sig === 0xffffffff && magic === KMSG_MAGIC) {
        r.kmsg.push({ offset: off, endian: e, datalen: s32(h, 4, e), sigErased: true });
        found = true;
      } else if (sig === PSZ_SIG) {
        r.sigOnly++;
      } else {
        const t = ringNames.get((sig ^ PSZ_SIG) >>> 0);
        if (t) r.ring.set(`${t}-${e}`, (r.ring.get(`${t}-${e}`) ?? 0) + 1);
      }
    }
    if (found) continue;
    for (const e of ENDIANS) {
      const m = u32(h, 4, e);
      const seq = u32(h, 0, e);
      if ((m === MTDOOPS_V1 || m === MTDOOPS_V2) && seq !== 0xffffffff) {
        r.mtdoops.push({ offset: off, endian: e, version: m === MTDOOPS_V1 ? 1 : 2, seq });
      }
    }
  }
  return r;
}

interface SizeChoice {
  size?: number;
  confidence: Confidence;
  candidates: number[];
}

/** Divisors of n (ascending). */
function divisors(n: number): number[] {
  const small: number[] = [];
  const large: number[] = [];
  for (let d = 1; d * d <= n; d++) {
    if (n % d === 0) {
      small.push(d);
      if (d * d !== n) large.unshift(n / d);
    }
  }
  return [...small, ...large];
}

/**
 * How many time-consecutive record pairs sit in consecutive zones (mod the
 * zone count) under zone size z: pstore/zone writes each record into the zone
 * after the previous one.
 */
function sequentialPairs(items: { offset: number; key: number }[], z: number, imageSize: number): number {
  const n = Math.max(1, Math.floor(imageSize / z));
  const sorted = [...items].sort((a, b) => a.key - b.key || a.offset - b.offset);
  let pairs = 0;
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.key === sorted[i - 1]!.key) continue;
    const d = (((sorted[i]!.offset - sorted[i - 1]!.offset) / z) % n + n) % n;
    if (d === 1) pairs++;
  }
  return pairs;
}

/**
 * Zone size from header offsets and fill. `lower` is the smallest size every
 * record fits in; `upper(o)` the largest size the zero fill after the record
 * at o allows; `phantom(z)` whether size z would put an all-zero zone on
 * erased (0xFF) media, which the kernel never writes.
 */
function chooseSize(a: {
  offsets: number[];
  step: number;
  imageSize: number;
  lower: number;
  upperAt: Map<number, number>;
  tight?: number;
  order: { offset: number; key: number }[];
  phantom: (z: number) => boolean;
  preferred: number;
  evidence: string[];
  what: string;
}): SizeChoice {
  const { offsets, step, imageSize, lower, upperAt, order, evidence, what } = a;
  const distinct = [...new Set(offsets)].sort((x, y) => x - y);
  const g = distinct.reduce((acc, o) => gcd(acc, o), 0);
  const fits = (z: number) =>
    z >= lower && z <= imageSize && distinct.every((o) => o % z === 0 && o + z <= imageSize && o + z <= (upperAt.get(o) ?? Infinity));
  let cands: number[];
  if (g > 0) {
    cands = g % step === 0 ? divisors(g / step).map((d) => d * step) : [];
  } else {
    // Only offset 0: any multiple of the step up to the bounds; keep the plausible ones.
    const maxZ = Math.min(imageSize, upperAt.get(0) ?? imageSize);
    const set = new Set<number>();
    for (let z = step; z <= maxZ && set.size < 64; z *= 2) set.add(z);
    if (a.tight !== undefined) set.add(a.tight);
    if (a.preferred <= maxZ) set.add(a.preferred);
    set.add(Math.ceil(lower / step) * step);
    cands = [...set];
  }
  cands = cands.filter(fits).sort((x, y) => y - x);
  if (cands.length === 0) {
    evidence.push(`no ${what} size fits every header offset, record length and fill: the image looks damaged or truncated`);
    return { confidence: 'none', candidates: [] };
  }
  const clean = cands.filter((z) => !a.phantom(z));
  if (clean.length > 0 && clean.length < cands.length) {
    evidence.push(`${what} sizes ${cands.filter((z) => a.phantom(z)).join(', ')} would put zone starts into zero fill on erased (0xFF) media, where every zone is either erased or starts with a header: ruled out`);
    cands = clean;
  }
  if (distinct.length >= 2) {
    const best = cands[0]!;
    if (cands.length === 1) {
      evidence.push(`${what} size ${best}: the only size that divides every header offset (gcd ${hex(g)}) and holds every record with its zero fill`);
      return { size: best, confidence: 'certain', candidates: cands };
    }
    const scores = cands.map((z) => sequentialPairs(order, z, imageSize));
    const bestScore = scores[0]!;
    if (bestScore > 0 && scores.slice(1).every((s) => s < bestScore)) {
      evidence.push(`${what} size ${best}: the largest size dividing every header offset; records were written into consecutive zones only at this size (${bestScore} consecutive pair(s)); smaller sizes ${cands.slice(1).join(', ')} would imply skipped zones`);
      return { size: best, confidence: 'certain', candidates: cands };
    }
    evidence.push(`${what} size ${best}: the largest size dividing every header offset; ${cands.slice(1).join(', ')} also fit`);
    return { size: best, confidence: 'likely', candidates: cands };
  }
  // A single header: ambiguous by nature.
  if (a.tight !== undefined && cands.includes(a.tight)) {
    evidence.push(`${what} size ${a.tight}: a single record, whose zero fill ends exactly there (bounds ${lower}…${a.tight})`);
    return { size: a.tight, confidence: 'likely', candidates: [a.tight, ...cands.filter((z) => z !== a.tight)] };
  }
  if (cands.length === 1) {
    evidence.push(`${what} size ${cands[0]}: the only size that fits the single record`);
    return { size: cands[0], confidence: 'likely', candidates: cands };
  }
  const pick = cands.includes(a.preferred)
    ? a.preferred
    : ([...cands].reverse().find((z) => (z & (z - 1)) === 0) ?? cands[cands.length - 1]!);
  evidence.push(`${what} size ${pick}: a guess — a single record only bounds it (${lower} … ${cands[0]}); other candidates ${cands.filter((z) => z !== pick).slice(0, 8).join(', ')}`);
  return { size: pick, confidence: 'guess', candidates: [pick, ...cands.filter((z) => z !== pick)] };
}

/**
 * Find the byte order, ABI class and kmsg zone size of a pstore/zone image
 * (or recognise an mtdoops partition, or an empty medium), and say how sure
 * each value is and why. Overrides in `opts` are taken as given.
 *
 * @throws PstoreError EINVAL only for invalid options — never because of the image.
 */
export function detectFormat(image: ImageSource, opts: DetectOptions = {}): FormatDetection {
  validateOptions(opts);
  const img = new SafeImage(image);
  const step = opts.scanStep ?? 4096;
  const evidence: string[] = [];
  const given = { endian: opts.endian !== undefined, abi: opts.abi !== undefined, zoneSize: opts.zoneSize !== undefined };
  if (given.endian) evidence.push(`byte order ${opts.endian}: given by the caller`);
  if (given.abi) evidence.push(`ABI class ${opts.abi}: given by the caller`);
  if (given.zoneSize) evidence.push(`zone size ${opts.zoneSize}: given by the caller`);

  const result = (r: PartialDetection): FormatDetection => {
    if (img.readFailures) evidence.push(`${img.readFailures} read(s) of the image failed and were treated as missing bytes`);
    const confidence =
      r.confidence ?? weakest(given.endian ? 'certain' : r.detail.endian, given.abi ? 'certain' : r.detail.abi, given.zoneSize ? 'certain' : r.detail.zoneSize);
    return { ...r, confidence, given, evidence };
  };

  if (img.size === 0) {
    evidence.push('the image is empty (0 bytes)');
    return result({
      kind: 'empty', endian: opts.endian, abi: opts.abi, zoneSize: opts.zoneSize, confidence: 'certain',
      detail: { endian: 'none', abi: 'none', zoneSize: 'none' }, headers: [],
    });
  }

  const s = scan(img, step);
  for (const [k, n] of s.ring) evidence.push(`${n} ${k.replace('-', ' zone header(s), ')} byte order: the image has other pstore frontends (zone sizes assume a dmesg-only layout)`);
  if (s.sigOnly) evidence.push(`${s.sigOnly} dmesg signature(s) without the kmsg magic (not records)`);

  if (s.kmsg.length === 0 && s.mtdoops.length > 0) return result(detectMtdoops(img, s, opts, step, evidence));
  if (s.kmsg.length === 0 && s.ring.size > 0) {
    // Only pmsg/console/ftrace zones: the byte order shows, the kmsg layout does not.
    let le = 0;
    let be = 0;
    for (const [k, n] of s.ring) k.endsWith('-le') ? (le += n) : (be += n);
    const endian: Endian = opts.endian ?? (le >= be ? 'le' : 'be');
    evidence.push('no kmsg zone: the ABI class and kmsg zone size cannot be detected (give them)');
    return result({
      kind: 'pstore-zone', endian, abi: opts.abi, zoneSize: opts.zoneSize,
      detail: { endian: opts.endian ? 'certain' : le && be ? 'guess' : 'likely', abi: 'none', zoneSize: 'none' }, headers: [],
    });
  }
  if (s.kmsg.length === 0) {
    // Empty if every byte is erased (0xFF) or zero.
    const ffEnd = img.firstNot(0xff, 0, img.size);
    const zeroEnd = ffEnd === img.size ? img.size : img.firstNot(0x00, 0, img.size);
    let blank = ffEnd === img.size || zeroEnd === img.size;
    let what = ffEnd === img.size ? 'every byte is 0xFF (erased flash)' : 'every byte is 0x00 (a fresh block device)';
    if (!blank) {
      // A mix of 0xFF and 0x00 only also counts as blank.
      blank = true;
      for (let p = 0; p < img.size && blank; p += 65536) {
        const b = img.get(p, 65536);
        if (b.length === 0) blank = false;
        for (let i = 0; i < b.length; i++) {
          if (b[i] !== 0 && b[i] !== 0xff) {
            blank = false;
            break;
          }
        }
      }
      what = 'every byte is 0xFF or 0x00';
    }
    if (blank && img.readFailures === 0) {
      evidence.push(`no records: ${what}`);
      return result({
        kind: 'empty', endian: opts.endian, abi: opts.abi, zoneSize: opts.zoneSize, confidence: 'certain',
        detail: { endian: 'none', abi: 'none', zoneSize: 'none' }, headers: [],
      });
    }
    evidence.push('no pstore/zone header (signature + kmsg magic) and no mtdoops record at any ' + `${step}-byte boundary`);
    return result({
      kind: 'unknown', endian: opts.endian, abi: opts.abi, zoneSize: opts.zoneSize, confidence: 'none',
      detail: { endian: 'none', abi: 'none', zoneSize: 'none' }, headers: [],
    });
  }

  // ---- byte order
  const byEndian = { le: s.kmsg.filter((h) => h.endian === 'le'), be: s.kmsg.filter((h) => h.endian === 'be') };
  let endian: Endian;
  let endianConf: Confidence;
  const strongLe = byEndian.le.filter((h) => !h.sigErased).length;
  const strongBe = byEndian.be.filter((h) => !h.sigErased).length;
  if (given.endian) {
    endian = opts.endian!;
    endianConf = 'certain';
    const other = endian === 'le' ? byEndian.be.length : byEndian.le.length;
    if (byEndian[endian].length === 0) evidence.push(`warning: no header in the given byte order ${endian}; ${other} in the other`);
  } else {
    endian = strongLe + byEndian.le.length >= strongBe + byEndian.be.length ? 'le' : 'be';
    const mine = byEndian[endian].length;
    const other = s.kmsg.length - mine;
    endianConf = other === 0 ? 'certain' : 'likely';
    evidence.push(
      `byte order ${endian}: ${mine} zone header(s) with signature ${endian === 'le' ? '44 42 47 43 ("DBGC")' : '43 47 42 44'} and kmsg magic 0x4dfc3ae5 in that order` +
        (other ? `; but ${other} in the other order (mixed image?)` : ''),
    );
  }
  const hits = byEndian[endian].length ? byEndian[endian] : s.kmsg;
  const erased = hits.filter((h) => h.sigErased).length;
  if (erased) evidence.push(`${erased} zone(s) carry the kmsg magic under an erased signature 0xFFFFFFFF (invisible to the kernel; mtdpstore W5)`);

  // ---- ABI class
  const analysed = hits.slice(0, 32);
  const tally = new Map<AbiClass, { structural: number; strong: number }>();
  for (const cls of ABI_CLASSES) tally.set(cls, { structural: 0, strong: 0 });
  analysed.forEach((h, i) => {
    for (const cls of ABI_CLASSES) {
      const c = checkAbi(img, { ...h, endian }, cls, i < 8);
      const t = tally.get(cls)!;
      if (c.structural) t.structural++;
      if (c.strong) t.strong++;
    }
  });
  // Little-endian LP64 and ILP32-A8 are byte-identical: keep one.
  const competing = endian === 'le' ? ABI_CLASSES.filter((c) => c !== 'ilp32-a8') : [...ABI_CLASSES];
  const maxStruct = Math.max(...competing.map((c) => tally.get(c)!.structural));
  let abi: AbiClass;
  let abiConf: Confidence;
  let abiCands: AbiClass[] | undefined;
  const ordered = competing
    .filter((c) => tally.get(c)!.structural === maxStruct)
    .sort((x, y) => tally.get(y)!.strong - tally.get(x)!.strong || competing.indexOf(x) - competing.indexOf(y));
  if (given.abi) {
    abi = opts.abi!;
    abiConf = 'certain';
    const t = tally.get(abi)!;
    if (t.structural < analysed.length) evidence.push(`warning: the given ABI ${abi} does not fit ${analysed.length - t.structural} of ${analysed.length} header(s)`);
  } else if (maxStruct === 0) {
    abi = 'lp64';
    abiConf = 'guess';
    abiCands = [...competing];
    evidence.push('no ABI layout gives sane sub-header fields: lp64 assumed');
  } else {
    abi = ordered[0]!;
    const t = tally.get(abi)!;
    const rivalsStrong = ordered.slice(1).filter((c) => tally.get(c)!.strong > 0);
    if (t.strong > 0 && rivalsStrong.length === 0) {
      abiConf = t.structural === analysed.length ? 'certain' : 'likely';
    } else if (ordered.length === 1) {
      abiConf = 'likely';
    } else {
      abiConf = 'guess';
    }
    if (ordered.length > 1) abiCands = ordered;
    const H = kmsgHeaderSize({ cls: abi, endian });
    evidence.push(
      `ABI ${abi}: ${t.structural} of ${analysed.length} header(s) have sane fields with the ${H}-byte sub-header` +
        (t.strong ? `, ${t.strong} confirmed by the record text or a deflate stream at zone offset ${ZONE_HEADER_SIZE + H}` : ''),
    );
    if (abiConf === 'guess') {
      evidence.push(
        endian === 'be' && ordered.includes('lp64') && ordered.includes('ilp32-a8')
          ? 'tv_nsec is zero in every record: big-endian LP64 and ILP32-A8 cannot be told apart (choose with --abi)'
          : `${ordered.join(' and ')} fit equally well (choose with --abi)`,
      );
    }
  }
  const equivalentAbis: AbiClass[] | undefined = endian === 'le' && abi === 'lp64' ? ['ilp32-a8'] : endian === 'le' && abi === 'ilp32-a8' ? ['lp64'] : undefined;
  if (equivalentAbis && !given.abi) evidence.push('little-endian ILP32-A8 (32-bit ARM EABI and others) writes the same bytes as LP64: reported as lp64');

  // ---- zone size
  const H = kmsgHeaderSize({ cls: abi, endian });
  let zoneSize: number | undefined;
  let sizeConf: Confidence;
  let sizeCands: number[] | undefined;
  if (given.zoneSize) {
    zoneSize = opts.zoneSize!;
    sizeConf = 'certain';
    const off = hits.filter((h) => h.offset % zoneSize! !== 0).length;
    if (off) evidence.push(`warning: ${off} header(s) are not at a multiple of the given zone size`);
  } else {
    // A header whose record runs past the end of the image (a truncated dump)
    // says nothing about the zone size: leave it out of the size constraints.
    const whole = hits.filter((h) => h.datalen >= 0 && h.offset + ZONE_HEADER_SIZE + h.datalen <= img.size);
    if (whole.length > 0 && whole.length < hits.length) {
      evidence.push(`${hits.length - whole.length} header(s) hold records that run past the end of the image (truncated?): not used to find the zone size`);
    }
    const offsets = (whole.length > 0 ? whole : hits).map((h) => h.offset);
    const distinct = [...new Set(offsets)].sort((x, y) => x - y);
    const g = distinct.reduce((acc, o) => gcd(acc, o), 0);
    let lower = ZONE_HEADER_SIZE + H + 1;
    const upperAt = new Map<number, number>();
    let tight: number | undefined;
    const flash = s.ffSamples > 0;
    for (const h of hits) {
      if (h.datalen < 0 || h.offset + ZONE_HEADER_SIZE + h.datalen > img.size) {
        evidence.push(`header at ${hex(h.offset)}: datalen ${h.datalen} is impossible (the kernel skips it as "overtop")`);
        continue;
      }
      lower = Math.max(lower, ZONE_HEADER_SIZE + h.datalen);
      if (h.datalen === 0) continue; // removed on a block device: old bytes stay after the header
      const fillFrom = h.offset + ZONE_HEADER_SIZE + h.datalen;
      const limit = Math.min(img.size, h.offset + (g > 0 ? g : img.size));
      const end = img.firstNot(0, fillFrom, limit);
      upperAt.set(h.offset, Math.min(upperAt.get(h.offset) ?? Infinity, end));
      if (distinct.length === 1 && end < limit && (end - h.offset) % step === 0) tight = end - h.offset;
    }
    const order = hits.slice(0, 256).flatMap((h) => {
      const b = img.get(h.offset, ZONE_HEADER_SIZE + H);
      if (b.length < ZONE_HEADER_SIZE + H) return [];
      const k = decodeKmsgHeader(b, ZONE_HEADER_SIZE, { cls: abi, endian });
      return [{ offset: h.offset, key: k.sec * 1e9 + k.nsec }];
    });
    const hitSet = new Set(distinct);
    // On erased (0xFF) media every zone the kernel did not write is 0xFF, and
    // every zone it wrote starts with a header: a zone starting with zero
    // bytes means the size is wrong (it points into some record's zero fill).
    const phantom = (z: number): boolean => {
      if (!flash) return false;
      let checked = 0;
      for (let p = 0; p + z <= img.size && checked < 4096; p += z) {
        if (hitSet.has(p)) continue;
        checked++;
        const h = img.get(p, 16);
        if (h.length === 16 && h.every((b) => b === 0)) return true;
      }
      return false;
    };
    const c = chooseSize({ offsets, step, imageSize: img.size, lower, upperAt, tight, order, phantom, preferred: 65536, evidence, what: 'zone' });
    zoneSize = c.size;
    sizeConf = c.confidence;
    if (c.confidence !== 'certain' && c.candidates.length > 1) sizeCands = c.candidates;
  }

  const candidates = abiCands || sizeCands ? { ...(sizeCands ? { zoneSize: sizeCands } : {}), ...(abiCands ? { abi: abiCands } : {}) } : undefined;
  return result({
    kind: 'pstore-zone',
    endian,
    abi,
    zoneSize,
    detail: { endian: endianConf, abi: abiConf, zoneSize: sizeConf },
    candidates,
    equivalentAbis,
    headers: s.kmsg,
  });
}

type PartialDetection = Omit<FormatDetection, 'given' | 'evidence' | 'confidence'> & { confidence?: Confidence };

function detectMtdoops(img: SafeImage, s: ScanResult, opts: DetectOptions, step: number, evidence: string[]): PartialDetection {
  const le = s.mtdoops.filter((h) => h.endian === 'le');
  const be = s.mtdoops.filter((h) => h.endian === 'be');
  const endian: Endian = opts.endian ?? (le.length >= be.length ? 'le' : 'be');
  const mine = endian === 'le' ? le : be;
  const recs = mine.length ? mine : s.mtdoops;
  const versions = [...new Set(recs.map((r) => r.version))].sort() as (1 | 2)[];
  evidence.push(
    `mtdoops: ${recs.length} record header(s) with magic ${versions.map((v) => (v === 1 ? '0x5d005d00 (v1)' : '0x5d005e00 (v2)')).join(' and ')} at offset 4, ${endian === 'le' ? 'little' : 'big'}-endian`,
  );
  const endianConf: Confidence = opts.endian ? 'certain' : le.length && be.length ? 'likely' : 'certain';
  let recordSize: number | undefined;
  let conf: Confidence;
  let cands: number[] | undefined;
  if (opts.zoneSize !== undefined) {
    recordSize = opts.zoneSize;
    conf = 'certain';
  } else {
    // A record: header, text up to the first 0x00/0xFF, then fill; the size must hold the text.
    let lower = step;
    for (const r of recs) {
      const hdr = r.version === 1 ? 8 : 16;
      const body = img.get(r.offset + hdr, 1 << 20);
      let n = 0;
      while (n < body.length && body[n] !== 0 && body[n] !== 0xff) n++;
      lower = Math.max(lower, hdr + n);
    }
    const c = chooseSize({
      offsets: recs.map((r) => r.offset),
      step,
      imageSize: img.size,
      lower,
      upperAt: new Map(),
      order: recs.map((r) => ({ offset: r.offset, key: r.seq })),
      phantom: () => false,
      preferred: 4096,
      evidence,
      what: 'record',
    });
    recordSize = c.size;
    conf = c.confidence;
    if (c.confidence !== 'certain' && c.candidates.length > 1) cands = c.candidates;
  }
  return {
    kind: 'mtdoops',
    endian,
    abi: opts.abi,
    zoneSize: recordSize,
    detail: { endian: endianConf, abi: 'none', zoneSize: conf },
    confidence: weakest(endianConf, conf),
    candidates: cands ? { zoneSize: cands } : undefined,
    headers: [],
    mtdoops: recordSize !== undefined ? { recordSize, versions, records: recs.map((r) => r.offset) } : undefined,
  };
}
