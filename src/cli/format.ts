/** Human-readable rendering of listings. */
import type { ListedFile, Listing } from '../api/read.js';
import { typeName } from '../pstore/names.js';
import { reasonString } from '../zone/format.js';

export function isoTime(t: { sec: number; nsec: number } | null): string {
  if (!t) return '-';
  const d = new Date(t.sec * 1000);
  if (Number.isNaN(d.getTime())) return `${t.sec}.${String(t.nsec).padStart(9, '0')}`;
  return d.toISOString().replace(/\.\d{3}Z$/, `.${String(t.nsec).padStart(9, '0')}Z`);
}

/** The JSON object `ls --json` prints for a file. */
export function fileJson(f: ListedFile, l: Listing): Record<string, unknown> {
  if (l.format === 'mtdoops') {
    return {
      name: f.name,
      format: 'mtdoops',
      seq: f.count,
      slot: f.id,
      time: f.time,
      size: f.size,
      offset: f.offset,
    };
  }
  return {
    name: f.name,
    type: typeName(f.type),
    id: f.id,
    reason: f.type === 0 ? reasonString(f.reason) : null,
    count: f.count,
    time: f.time,
    compressed: f.compressed,
    decompressed: f.compressed && !f.encrypted,
    size: f.size,
    offset: f.offset,
    mtime: f.mtime,
    ...(f.removed ? { removed: true } : {}),
    ...(f.decompressError ? { decompressError: f.decompressError.message } : {}),
  };
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** A plain table: columns padded to their widest cell. */
export function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : pad(c, w[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

export function listingTable(l: Listing): string {
  if (l.format === 'mtdoops') {
    return table(
      ['NAME', 'SEQ', 'SLOT', 'TIME', 'SIZE'],
      l.files.map((f) => [f.name, String(f.count), String(f.id), isoTime(f.time), String(f.size)]),
    );
  }
  return table(
    ['NAME', 'REASON', 'COUNT', 'TIME', 'SIZE', 'STORED', 'OFFSET'],
    l.files.map((f) => [
      f.name + (f.removed ? ' (removed)' : ''),
      f.type === 0 ? reasonString(f.reason) : typeName(f.type),
      String(f.count),
      isoTime(f.time),
      String(f.size),
      f.compressed ? (f.encrypted ? 'deflate (undecodable)' : 'deflate') : 'plain',
      '0x' + f.offset.toString(16),
    ]),
  );
}
