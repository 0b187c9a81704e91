import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { archiveFiles, archiveKey, joinDmesg } from '../../src/pstore/archive.js';
import { recordsToFiles, recordToFile, type PstoreFile } from '../../src/pstore/files.js';
import { isPstoreError } from '../../src/errors.js';
import { fixtureStates, kmsgRecordsFromImage, readImage } from './fixture-records.js';

const LISTING = { sec: 1800000000, nsec: 0 };

function fixtureFiles(scenario: string, state: string): PstoreFile[] {
  const s = fixtureStates(scenario).find((x) => x.name === state)!;
  return recordsToFiles(kmsgRecordsFromImage(readImage(s.image), s.zoneSize, s.bigEndian), { listingTime: LISTING, decompression: { era: 'pre-v6.6', bufsize: s.zoneSize - 52 } });
}

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pstore-archive-'));
}

/** Every file under dir with its bytes and mtime, for before/after comparisons. */
function snapshot(dir: string): Map<string, string> {
  const m = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else m.set(path.relative(dir, p), `${fs.statSync(p, { bigint: true }).mtimeNs}:${fs.readFileSync(p).toString('base64')}`);
    }
  };
  walk(dir);
  return m;
}

test('archive of kernel fixture files: one directory per dump (UTC time), file + dmesg.txt; second run changes nothing', () => {
  const dir = tmp();
  try {
    const files = fixtureFiles('blk-plain', 's2-rm0-7oops-wrap');
    assert.equal(files.length, 8);
    const removed: string[] = [];
    const r1 = archiveFiles(files, dir, { onArchived: (f) => removed.push(f.name) });
    assert.deepEqual(r1.entries.map((e) => e.status), Array(8).fill('archived'));
    assert.deepEqual(removed, files.map((f) => f.name));
    assert.equal(r1.dmesgTxtWritten.length, 8);
    for (const [i, f] of files.entries()) {
      const e = r1.entries[i]!;
      assert.match(e.dir, /^\d{8}-\d{6}\.\d{9}$/);
      assert.equal(e.dir, archiveKey(f));
      assert.ok(fs.readFileSync(e.path).equals(f.data));
      const st = fs.statSync(e.path, { bigint: true });
      assert.equal(st.mtimeNs / 1000n, BigInt(f.mtime.sec) * 1_000_000n + BigInt(Math.floor(f.mtime.nsec / 1000)));
      assert.equal(Number(st.mode & 0o777n), 0o600);
      const txt = fs.readFileSync(path.join(dir, e.dir, 'dmesg.txt'));
      assert.ok(txt.equals(Buffer.concat([Buffer.from(`${f.name}:\n`), f.data])));
    }
    const first = files[0]!;
    const d = new Date(first.mtime.sec * 1000).toISOString(); // e.g. 2026-12-03T16:..
    assert.equal(r1.entries[0]!.dir.slice(0, 15), d.slice(0, 10).replace(/-/g, '') + '-' + d.slice(11, 19).replace(/:/g, ''));
    const before = snapshot(dir);
    const r2 = archiveFiles(files, dir);
    assert.deepEqual(r2.entries.map((e) => e.status), Array(8).fill('already-archived'));
    assert.deepEqual(r2.dmesgTxtWritten, []);
    assert.deepEqual(snapshot(dir), before);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('identical records (the kmsg32 flush bug) share a directory; dmesg.txt joins them in reverse name order', () => {
  const dir = tmp();
  try {
    const files = fixtureFiles('mtdpstore-small-kmsg32', 's3-flushed');
    assert.equal(files.length, 3);
    const r = archiveFiles(files, dir);
    const dirs = new Set(r.entries.map((e) => e.dir));
    assert.equal(dirs.size, 1, 'three copies of one dump');
    const [only] = [...dirs];
    const txt = fs.readFileSync(path.join(dir, only!, 'dmesg.txt'));
    const sorted = [...files].sort((a, b) => (a.name < b.name ? 1 : -1));
    assert.ok(txt.equals(joinDmesg(files)));
    assert.ok(txt.subarray(0, sorted[0]!.name.length + 2).equals(Buffer.from(`${sorted[0]!.name}:\n`)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('interrupted run: leftover temp files are removed and the archive completes', () => {
  const dir = tmp();
  try {
    const files = fixtureFiles('blk-deflate', 's1-3oops');
    const key = archiveKey(files[0]!);
    fs.mkdirSync(path.join(dir, key), { recursive: true });
    const stale = path.join(dir, key, `.${files[0]!.name}.tmp-999-deadbeef`);
    fs.writeFileSync(stale, files[0]!.data.subarray(0, 100)); // half-written copy
    const r = archiveFiles(files, dir);
    assert.deepEqual(r.removedTempFiles, [stale]);
    assert.equal(fs.existsSync(stale), false);
    assert.deepEqual(r.entries.map((e) => e.status), ['archived', 'archived', 'archived']);
    assert.ok(fs.readFileSync(path.join(dir, key, files[0]!.name)).equals(files[0]!.data));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('records without a stored time are keyed by content; a clash of time and name with other bytes goes to key~2', () => {
  const dir = tmp();
  try {
    const pm = recordToFile({ type: 7, id: 0, time: null, reason: 0, count: 0, compressed: false, data: Buffer.from('pmsg bytes'), offset: 0 }, { listingTime: LISTING });
    const later = { ...pm, mtime: { sec: LISTING.sec + 100, nsec: 0 } };
    assert.match(archiveKey(pm), /^pmsg-[0-9a-f]{16}$/);
    assert.equal(archiveKey(pm), archiveKey(later), 'listing time does not change the key');
    archiveFiles([pm], dir);
    assert.equal(archiveFiles([later], dir).entries[0]!.status, 'already-archived');
    const t = { sec: 1700000000, nsec: 1 };
    const a = recordToFile({ type: 0, id: 0, time: t, reason: 2, count: 1, compressed: false, data: Buffer.from('A'), offset: 0 });
    const b = recordToFile({ type: 0, id: 0, time: t, reason: 2, count: 1, compressed: false, data: Buffer.from('B'), offset: 0 });
    const r = archiveFiles([a, b], dir);
    assert.deepEqual(r.entries.map((e) => e.dir), ['20231114-221320.000000001', '20231114-221320.000000001~2']);
    assert.deepEqual(archiveFiles([a, b], dir).entries.map((e) => e.status), ['already-archived', 'already-archived']);
    const thrower = archiveFiles([a], dir, { onArchived: () => { throw new Error('erase failed'); } });
    assert.equal(thrower.entries[0]!.removeError, 'erase failed');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('refuses a symlink where an archive directory should be, and unsafe names', () => {
  const dir = tmp();
  const elsewhere = tmp();
  try {
    const f = recordToFile({ type: 0, id: 1, time: { sec: 1700000000, nsec: 2 }, reason: 2, count: 1, compressed: false, data: Buffer.from('x'), offset: 0 });
    fs.symlinkSync(elsewhere, path.join(dir, archiveKey(f)));
    assert.throws(() => archiveFiles([f], dir), (e: unknown) => isPstoreError(e, 'EEXIST'));
    assert.deepEqual(fs.readdirSync(elsewhere), []);
    assert.throws(() => archiveFiles([{ ...f, name: '../x' }], dir), (e: unknown) => isPstoreError(e, 'EINVAL'));
    assert.throws(() => archiveFiles([{ ...f, name: 'dmesg.txt' }], dir), (e: unknown) => isPstoreError(e, 'EINVAL'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(elsewhere, { recursive: true, force: true });
  }
});
