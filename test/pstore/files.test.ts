import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  recordToFile, recordsToFiles, writeFilesToDir, pstoreFileName, timespecToUtimeSeconds, type PstoreFile,
} from '../../src/pstore/files.js';
import { deflateRaw } from '../../src/pstore/compress/deflate.js';
import { lzo1xCompress } from '../../src/pstore/compress/lzo-compress.js';
import { encodeFtrace, mergeFtraceStreams, renderFtrace, parseFtrace } from '../../src/pstore/ftrace.js';
import { dmesgTotalLine, reasonString, typeName } from '../../src/pstore/names.js';
import type { PstoreRecord } from '../../src/pstore/record.js';
import { isPstoreError } from '../../src/errors.js';
import { fixtureStates, kmsgRecordsFromImage, readImage, readListing } from './fixture-records.js';

const LISTING = { sec: 1800000000, nsec: 123456789 };

function dmesg(over: Partial<PstoreRecord> = {}): PstoreRecord {
  return { type: 0, id: 0, time: { sec: 1700000000, nsec: 123456789 }, reason: 2, count: 6, compressed: false, data: Buffer.alloc(0), offset: 0, ...over };
}

const states = [...fixtureStates('blk-'), ...fixtureStates('mtdpstore-')].filter((s) => s.expected);

for (const era of ['pre-v6.6', 'v6.6+'] as const) {
  test(`kernel fixtures: files from records equal the kernel's files byte for byte (reader ${era})`, () => {
    assert.ok(states.length >= 15, 'all fixture states with expected files are covered');
    let compared = 0;
    for (const s of states) {
      const recs = kmsgRecordsFromImage(readImage(s.image), s.zoneSize, s.bigEndian);
      const files = recordsToFiles(recs, { listingTime: LISTING, decompression: { era, bufsize: s.zoneSize - 52 } });
      const listing = readListing(s.expected!);
      const onDisk = fs.readdirSync(s.expected!).filter((n) => n !== 'listing.json').sort();
      const label = `${s.scenario}/${s.name}`;
      assert.deepEqual(files.map((f) => f.name).sort(), onDisk, label);
      assert.deepEqual(files.map((f) => f.name), listing.map((l) => l.name), label);
      const meta = s.meta.states.find((m) => m.name === s.name)!.expected_files as { name: string; counter: number; reason: string; compressed_on_media: boolean }[];
      for (const [i, f] of files.entries()) {
        const l = listing[i]!;
        const want = fs.readFileSync(path.join(s.expected!, f.name));
        assert.ok(f.data.equals(want), `${label} ${f.name} content`);
        assert.equal(f.size, l.size, `${label} ${f.name} size`);
        assert.deepEqual(f.mtime, { sec: l.mtime_sec, nsec: l.mtime_nsec }, `${label} ${f.name} mtime`);
        assert.equal(f.mode, 0o444);
        assert.equal(f.encrypted, false);
        const m = meta.find((e) => e.name === f.name)!;
        assert.equal(f.compressed, m.compressed_on_media, `${label} ${f.name} compressed`);
        assert.equal(f.count, m.counter);
        assert.equal(reasonString(f.reason), m.reason);
        compared++;
      }
    }
    assert.ok(compared >= 40, `compared ${compared} files`);
  });
}

test('F1: uncompressed Oops in zone 0', () => {
  const text = 'Oops#1 Part1\n<4>[   57.123456] x\n';
  const f = recordToFile(dmesg({ data: Buffer.from(dmesgTotalLine(2, 6) + text) }), { listingTime: LISTING });
  assert.equal(f.name, 'dmesg-pstore_blk-0');
  assert.equal(f.data.toString(), 'Oops: Total 6 times\n' + text);
  assert.equal(f.size, 20 + text.length);
  assert.equal(f.mode, 0o444);
  assert.deepEqual(f.mtime, { sec: 1700000000, nsec: 123456789 });
  assert.deepEqual(f.atime, LISTING);
});

test('F2/F3: compressed record in zone 12 inflates (no Total line); a corrupt one stays .enc.z with the stored bytes', () => {
  const text = Buffer.from('Oops#2 Part1\n<4>[   58.000001] y\n'.repeat(50));
  const ok = recordToFile(dmesg({ id: 12, compressed: true, data: deflateRaw(text, 11) }), { listingTime: LISTING, decompression: { bufsize: 65484 } });
  assert.equal(ok.name, 'dmesg-pstore_blk-12');
  assert.ok(ok.data.equals(text));
  assert.equal(ok.compressed, true);
  assert.equal(ok.encrypted, false);
  const stored = Buffer.concat([deflateRaw(text).subarray(0, 20)]);
  const bad = recordToFile(dmesg({ id: 12, compressed: true, data: stored }), { listingTime: LISTING });
  assert.equal(bad.name, 'dmesg-pstore_blk-12.enc.z');
  assert.ok(bad.data.equals(stored));
  assert.equal(bad.encrypted, true);
  assert.ok(bad.decompressError && isPstoreError(bad.decompressError, 'EBADMSG'));
});

test('F4/F5: pmsg gets the listing time; a dmesg record with tv_sec 0 too', () => {
  const p = recordToFile({ type: 7, id: 0, time: null, reason: 0, count: 0, compressed: false, data: Buffer.from('user text'), offset: 0 }, { listingTime: LISTING });
  assert.equal(p.name, 'pmsg-pstore_blk-0');
  assert.deepEqual(p.mtime, LISTING);
  assert.equal(p.data.toString(), 'user text');
  const z = recordToFile(dmesg({ time: { sec: 0, nsec: 5 }, data: Buffer.from('x') }), { listingTime: LISTING });
  assert.deepEqual(z.mtime, LISTING);
  const c = recordToFile({ type: 2, id: 0, time: null, reason: 0, count: 0, compressed: false, data: Buffer.from('[    1.0] c\n'), offset: 0 }, { listingTime: LISTING, backend: 'ramoops' });
  assert.equal(c.name, 'console-ramoops-0');
});

test('decompression policy per reader era and configuration', () => {
  const text = Buffer.from('Oops#1 Part1\n' + 'line of log\n'.repeat(100));
  const lzoRec = dmesg({ compressed: true, data: lzo1xCompress(text) });
  // v6.6+ only knows deflate: an lzo record is .enc.z whatever pstore.compress says
  assert.equal(recordToFile(lzoRec, { decompression: { era: 'v6.6+', algorithm: 'lzo' } }).name, 'dmesg-pstore_blk-0.enc.z');
  const old = recordToFile(lzoRec, { decompression: { era: 'pre-v6.6', algorithm: 'lzo', bufsize: 4044 } });
  assert.equal(old.name, 'dmesg-pstore_blk-0');
  assert.ok(old.data.equals(text));
  // compression disabled: nothing is decompressed
  const defl = dmesg({ compressed: true, data: deflateRaw(text) });
  const none = recordToFile(defl, { decompression: { algorithm: 'none' } });
  assert.equal(none.name, 'dmesg-pstore_blk-0.enc.z');
  assert.ok(none.decompressError && isPstoreError(none.decompressError, 'EOPNOTSUPP'));
  // a compressed flag on a non-dmesg record is ignored: kept compressed
  const pm = recordToFile({ type: 7, id: 0, time: null, reason: 0, count: 0, compressed: true, data: deflateRaw(text), offset: 0 });
  assert.equal(pm.name, 'pmsg-pstore_blk-0.enc.z');
  // output limit: v6.6+ reader allows 3 × bufsize, pre-v6.6 its input-buffer size
  const big = Buffer.alloc(13000, 'a');
  const bigRec = dmesg({ compressed: true, data: deflateRaw(big) });
  assert.equal(recordToFile(bigRec, { decompression: { era: 'v6.6+', bufsize: 4044 } }).name, 'dmesg-pstore_blk-0.enc.z');
  assert.equal(recordToFile(bigRec, { decompression: { era: 'v6.6+', bufsize: 4400 } }).name, 'dmesg-pstore_blk-0');
  assert.equal(recordToFile(bigRec, { decompression: { era: 'pre-v6.6', bufsize: 4044 } }).name, 'dmesg-pstore_blk-0.enc.z');
});

test('names: type table, unsigned id, 63-character cut; duplicates of (type, id) are skipped', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 255].map(typeName), ['dmesg', 'mce', 'console', 'ftrace', 'rtas', 'powerpc-ofw', 'powerpc-common', 'pmsg', 'powerpc-opal', 'unknown', 'unknown']);
  assert.equal(pstoreFileName(0, 7, 'pstore_blk', true), 'dmesg-pstore_blk-7.enc.z');
  assert.equal(pstoreFileName(0, -1), 'dmesg-pstore_blk-18446744073709551615');
  assert.equal(pstoreFileName(0, 3, 'b'.repeat(80)).length, 63);
  const files = recordsToFiles([dmesg({ id: 1, data: Buffer.from('a') }), dmesg({ id: 1, data: Buffer.from('b') }), dmesg({ id: 2, data: Buffer.from('c') })], { listingTime: LISTING });
  assert.deepEqual(files.map((f) => [f.name, f.data.toString()]), [['dmesg-pstore_blk-1', 'a'], ['dmesg-pstore_blk-2', 'c']]);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 9].map(reasonString), ['Unknown', 'Panic', 'Oops', 'Emergency', 'Shutdown', 'Unknown', 'Unknown']);
  assert.equal(dmesgTotalLine(4, 0), 'Shutdown: Total 0 times\n');
  assert.equal(dmesgTotalLine(1, 0xffffffff), 'Panic: Total -1 times\n');
});

test('ftrace: per-CPU streams merge by timestamp and render as text without symbols', () => {
  const cpu0 = encodeFtrace([
    { ip: 0xffffffff81000010n, parentIp: 0xffffffff81000100n, cpu: 0, timestamp: 1n },
    { ip: 0xffffffff81000020n, parentIp: 0xffffffff81000200n, cpu: 0, timestamp: 4n },
  ]);
  const cpu1 = encodeFtrace([
    { ip: 0xffffffff81000030n, parentIp: 0xffffffff81000300n, cpu: 1, timestamp: 2n },
    { ip: 0xffffffff81000040n, parentIp: 0xffffffff81000400n, cpu: 1, timestamp: 4n },
  ]);
  // a partial leading record (5 junk bytes) is dropped
  const merged = mergeFtraceStreams([cpu0, Buffer.concat([Buffer.alloc(5, 0xee), cpu1])]);
  assert.equal(merged.length, 4 * 24);
  assert.deepEqual(parseFtrace(merged).map((e) => [e.cpu, e.timestamp]), [[0, 1n], [1, 2n], [1, 4n], [0, 4n]]);
  const rec: PstoreRecord = { type: 3, id: 0, time: null, reason: 0, count: 0, compressed: false, data: merged, offset: 0 };
  const f = recordToFile(rec, { listingTime: LISTING });
  assert.equal(f.name, 'ftrace-pstore_blk-0');
  assert.equal(f.kernelStatSize, 96);
  const lines = f.data.toString().split('\n');
  assert.equal(lines[0], 'CPU:0 ts:1 ffffffff81000010  ffffffff81000100  0xffffffff81000010 <- 0xffffffff81000100');
  assert.equal(lines[2], 'CPU:1 ts:4 ffffffff81000040  ffffffff81000400  0xffffffff81000040 <- 0xffffffff81000400');
  assert.equal(lines.length, 5);
  // 32-bit big-endian ARM-style records with the CPU in the low ip bits, and a symbolizer
  const fmt = { wordSize: 4 as const, littleEndian: false, cpuEncoding: 'ip2' as const };
  const b = encodeFtrace([{ ip: 0xc0100000n, parentIp: 0xc0200010n, cpu: 3, timestamp: 77n }], fmt);
  assert.equal(b.length, 16);
  const text = renderFtrace(b, fmt, (a, off) => (a === 0xc0200010n && off ? 'do_thing+0x10/0x40' : undefined));
  assert.equal(text, 'CPU:3 ts:77 c0100003  c0200010  0xc0100003 <- do_thing+0x10/0x40\n');
});

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pstore-files-'));
}

test('writeFilesToDir: exact bytes, mode 0444, microsecond-exact mtime, replaces old files', () => {
  const dir = tmpdir();
  try {
    const recs = [
      dmesg({ id: 3, time: { sec: 1796315053, nsec: 3039446 }, data: Buffer.from('first') }),
      dmesg({ id: 4, time: { sec: 1796315051, nsec: 822214984 }, data: Buffer.from([0, 1, 2, 255]) }),
      dmesg({ id: 5, time: { sec: 1796315054, nsec: 999999999 }, data: Buffer.alloc(0) }),
    ];
    const files = recordsToFiles(recs, { listingTime: LISTING });
    fs.writeFileSync(path.join(dir, 'dmesg-pstore_blk-3'), 'stale', { mode: 0o644 });
    const written = writeFilesToDir(files, dir);
    assert.equal(written.length, 3);
    for (const f of files) {
      const p = path.join(dir, f.name);
      assert.ok(fs.readFileSync(p).equals(f.data));
      const st = fs.statSync(p, { bigint: true });
      assert.equal(Number(st.mode & 0o777n), 0o444);
      const wantUs = BigInt(f.mtime.sec) * 1_000_000n + BigInt(Math.floor(f.mtime.nsec / 1000));
      assert.equal(st.mtimeNs / 1000n, wantUs, `${f.name} mtime to the microsecond`);
    }
    // second run over the same directory works (read-only files are replaced)
    writeFilesToDir(files, dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('timespecToUtimeSeconds survives libuv microsecond truncation for awkward values', () => {
  for (const nsec of [0, 999, 1000, 3039446, 822214984, 999999999, 500000, 123456000]) {
    for (const sec of [1, 1796315051, 4102444800]) {
      const v = timespecToUtimeSeconds({ sec, nsec });
      const s = Math.trunc(v);
      const us = Math.trunc((v - s) * 1e9 / 1000);
      assert.equal(s, sec);
      assert.equal(us, Math.floor(nsec / 1000), `${sec}.${nsec}`);
    }
  }
});

test('writeFilesToDir refuses unsafe names and never follows a planted symlink', () => {
  const dir = tmpdir();
  const outside = tmpdir();
  try {
    const victim = path.join(outside, 'victim');
    fs.writeFileSync(victim, 'precious');
    fs.symlinkSync(victim, path.join(dir, 'dmesg-pstore_blk-0'));
    const f = recordToFile(dmesg({ data: Buffer.from('crash text') }), { listingTime: LISTING });
    writeFilesToDir([f], dir);
    assert.equal(fs.readFileSync(victim, 'utf8'), 'precious', 'the symlink target is untouched');
    assert.ok(fs.lstatSync(path.join(dir, f.name)).isFile(), 'the symlink was replaced by a regular file');
    assert.equal(fs.readFileSync(path.join(dir, f.name), 'utf8'), 'crash text');
    for (const name of ['../escape', '..', '.', '', 'a/b', 'x\0y']) {
      const bad: PstoreFile = { ...f, name };
      assert.throws(() => writeFilesToDir([bad], dir), (e: unknown) => isPstoreError(e, 'EINVAL'), JSON.stringify(name));
    }
    assert.equal(fs.existsSync(path.join(path.dirname(dir), 'escape')), false);
    fs.mkdirSync(path.join(dir, 'pmsg-pstore_blk-0'));
    const p = recordToFile({ type: 7, id: 0, time: null, reason: 0, count: 0, compressed: false, data: Buffer.from('p'), offset: 0 }, { listingTime: LISTING });
    assert.throws(() => writeFilesToDir([p], dir), (e: unknown) => isPstoreError(e, 'EEXIST'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  }
});
