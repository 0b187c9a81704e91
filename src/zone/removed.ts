/**
 * Records that were removed but whose bytes are still on the medium.
 *
 * On a backend without an erase operation (pstore/blk on a disk) removal
 * rewrites only the zone header with datalen 0: the kmsg sub-header and the
 * record text stay behind, zero-filled to the end of the zone. pstore/zone
 * ignores such zones; a forensic reader may still want them. The record
 * length is lost with datalen, so it is taken as "up to the last non-zero
 * byte" — exact for text, and harmless for deflate streams, which end by
 * themselves.
 *
 * mtdpstore never writes anything on removal (its removal state lives in RAM
 * until the block is erased), so there is nothing on flash that tells a
 * lazily removed record from a live one.
 */
import type { Abi } from './abi.js';
import type { ZoneBackend } from './backend.js';
import { KMSG_MAGIC, PstoreType, ZONE_HEADER_SIZE, decodeKmsgHeader, decodeZoneHeader, kmsgHeaderSize, reasonString, zoneSignature } from './format.js';
import type { ZoneLayout } from './layout.js';
import type { PstoreRecord } from './record.js';

/** A removed kmsg record found in a zone whose header says datalen 0. */
export interface RemovedRecord extends PstoreRecord {
  removed: true;
}

/** Scan the kmsg zones for removed records. Never throws on bad data; unreadable zones are skipped. */
export function findRemovedRecords(backend: ZoneBackend, layout: ZoneLayout, abi: Abi): RemovedRecord[] {
  const h = kmsgHeaderSize(abi);
  const out: RemovedRecord[] = [];
  for (const z of layout.kmsg) {
    if (z.size < ZONE_HEADER_SIZE + h) continue;
    const buf = Buffer.alloc(z.size);
    const n = backend.read(buf, z.offset);
    if (n !== z.size) continue;
    const zh = decodeZoneHeader(buf, 0, abi.endian);
    if (zh.sig !== zoneSignature(PstoreType.DMESG) || zh.datalen !== 0) continue;
    const kh = decodeKmsgHeader(buf, ZONE_HEADER_SIZE, abi);
    if (kh.magic !== KMSG_MAGIC) continue;
    let end = buf.length;
    while (end > ZONE_HEADER_SIZE + h && buf[end - 1] === 0) end--;
    const stored = buf.subarray(ZONE_HEADER_SIZE + h, end);
    if (stored.length === 0) continue;
    // Same shape as a live record: uncompressed text gets pstore/zone's "Total" line.
    const data =
      kh.compressed !== 0
        ? Buffer.from(stored)
        : Buffer.concat([Buffer.from(`${reasonString(kh.reason)}: Total ${kh.counter | 0} times\n`), stored]);
    out.push({
      type: PstoreType.DMESG,
      id: z.index,
      time: { sec: kh.sec, nsec: kh.nsec },
      reason: kh.reason,
      count: kh.counter,
      compressed: kh.compressed !== 0,
      data,
      offset: z.offset,
      removed: true,
    });
  }
  return out;
}
