/**
 * Conformance with real kernels: every pstore-blk fixture image (written by
 * Linux 6.1 through pstore_blk on a virtio disk) decodes through
 * BlockZoneBackend + PstoreZone to exactly the files the kernel showed, and
 * replaying each boot's actions on the previous image reproduces the next
 * image byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { BlockZoneBackend } from '../../src/zone/block-backend.js';
import { PstoreZone } from '../../src/zone/engine.js';
import { kmsgOnlyLayout } from '../../src/zone/layout.js';
import { decodeKmsgHeader, decodeZoneHeader, KMSG_MAGIC, kmsgHeaderSize, reasonString, ZONE_HEADER_SIZE } from '../../src/zone/format.js';
import type { Abi } from '../../src/zone/abi.js';
import type { PstoreRecord } from '../../src/zone/record.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = path.resolve(repoRoot, '../shared/fixtures');

interface ExpectedFile {
  name: string;
  size: number;
  mtime_sec: number;
  mtime_nsec: number;
  zone: number;
  counter: number;
  reason: string;
  compressed_on_media: boolean;
}
interface State {
  name: string;
  image: string;
  image_size: number;
  source: string;
  expected?: string;
  expected_files?: ExpectedFile[];
}
interface Meta {
  scenario: string;
  kind: string;
  zone_kb: number;
  boots: { boot: string; actions: string[] }[];
  states: State[];
  abi?: { endian: string };
}

const scenarios = fs
  .readdirSync(FIXTURES)
  .filter((d) => d.startsWith('blk-'))
  .sort();

function loadMeta(s: string): Meta {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, s, 'meta.json'), 'utf8')) as Meta;
}
function loadImage(s: string, st: State): Buffer {
  return zlib.gunzipSync(fs.readFileSync(path.join(FIXTURES, s, st.image)));
}
function abiOf(meta: Meta): Abi {
  return { cls: 'lp64', endian: meta.abi?.endian === 'big' ? 'be' : 'le' };
}
function engineFor(meta: Meta, image: Buffer, writable = false): { psz: PstoreZone; be: BlockZoneBackend } {
  const be = new BlockZoneBackend(image, { writable });
  const psz = new PstoreZone(be, { layout: kmsgOnlyLayout(image.length, meta.zone_kb * 1024), abi: abiOf(meta) });
  return { psz, be };
}
function listOk(psz: PstoreZone): PstoreRecord[] {
  const l = psz.read();
  assert.ok(l.ok, `listing failed: ${l.ok ? '' : l.error}`);
  return l.records;
}

test('there are pstore-blk fixtures to check', () => {
  assert.deepEqual(scenarios, ['blk-deflate', 'blk-plain', 'blk-s390x', 'blk-small-zones']);
});

for (const scenario of scenarios) {
  const meta = loadMeta(scenario);
  for (const st of meta.states) {
    if (!st.expected || !st.expected_files) continue;
    test(`${scenario}/${st.name}: records equal the files the kernel showed`, () => {
      const image = loadImage(scenario, st);
      assert.equal(image.length, st.image_size);
      const { psz } = engineFor(meta, image);
      const records = listOk(psz);
      assert.ok(records.every((r) => r.type === 0), 'kmsg-only device');
      const want = st.expected_files!;
      assert.deepEqual(
        records.map((r) => `dmesg-pstore_blk-${r.id}`).sort(),
        want.map((f) => f.name).sort(),
      );
      for (const f of want) {
        const r = records.find((x) => x.id === f.zone)!;
        assert.equal(r.offset, f.zone * meta.zone_kb * 1024);
        assert.equal(reasonString(r.reason), f.reason, f.name);
        assert.equal(r.count, f.counter, f.name);
        assert.deepEqual(r.time, { sec: f.mtime_sec, nsec: f.mtime_nsec }, f.name);
        assert.equal(r.compressed, f.compressed_on_media, f.name);
        const file = fs.readFileSync(path.join(FIXTURES, scenario, st.expected!, f.name));
        assert.equal(file.length, f.size);
        const shown = r.compressed ? zlib.inflateRawSync(r.data) : r.data;
        assert.ok(shown.equals(file), `${f.name}: content differs from the kernel's file`);
        if (!r.compressed) assert.ok(r.data.toString('latin1').startsWith(`${f.reason}: Total ${f.counter} times\nOops#`));
      }
      // Nothing was skipped for a reason other than an empty or removed zone.
      for (const d of psz.diagnostics) assert.ok(d.reason === 'no-valid-data' || d.reason === 'erased', `${d.reason}: ${d.detail}`);
    });
  }
}

test('blk-deflate s2: the removed zone keeps its header with datalen 0 and is not listed', () => {
  const meta = loadMeta('blk-deflate');
  const st = meta.states.find((s) => s.name === 's2-rm1-1oops')!;
  const image = loadImage('blk-deflate', st);
  const abi = abiOf(meta);
  const zone1 = 64 * 1024;
  assert.deepEqual(decodeZoneHeader(image, zone1, 'le'), { sig: 0x43474244, datalen: 0, start: 0 });
  const h = decodeKmsgHeader(image, zone1 + ZONE_HEADER_SIZE, abi);
  assert.equal(h.magic, KMSG_MAGIC);
  assert.equal(h.counter, 2);
  const { psz } = engineFor(meta, image);
  const ids = listOk(psz).map((r) => r.id);
  assert.ok(!ids.includes(1));
  assert.deepEqual(
    psz.diagnostics.filter((d) => d.reason === 'erased').map((d) => d.index),
    [1],
  );
  // Recovery state the kernel derived from this image: newest is zone 3; counters include the erased one.
  assert.equal(psz.kmsgWriteCnt, 4);
  assert.equal(psz.oopsCounter, 4);
  assert.equal(psz.panicCounter, 0);
});

/** The records of `after` that are new or rewritten compared with `before`, oldest first. */
function newRecords(before: Buffer, after: Buffer, zoneSize: number, abi: Abi) {
  const out: { zone: number; sec: number; nsec: number; reason: number; compressed: boolean; data: Buffer }[] = [];
  const H = kmsgHeaderSize(abi);
  for (let off = 0; off + zoneSize <= after.length; off += zoneSize) {
    const a = after.subarray(off, off + zoneSize);
    if (a.equals(before.subarray(off, off + zoneSize))) continue;
    const zh = decodeZoneHeader(a, 0, abi.endian);
    if (zh.datalen === 0) continue; // a removal, not a new record
    const h = decodeKmsgHeader(a, ZONE_HEADER_SIZE, abi);
    assert.equal(h.magic, KMSG_MAGIC);
    out.push({
      zone: off / zoneSize,
      sec: h.sec,
      nsec: h.nsec,
      reason: h.reason,
      compressed: h.compressed !== 0,
      data: Buffer.from(a.subarray(ZONE_HEADER_SIZE + H, ZONE_HEADER_SIZE + zh.datalen)),
    });
  }
  return out.sort((x, y) => x.sec - y.sec || x.nsec - y.nsec);
}

for (const scenario of scenarios) {
  const meta = loadMeta(scenario);
  for (let k = 0; k + 1 < meta.states.length; k++) {
    const prev = meta.states[k]!;
    const next = meta.states[k + 1]!;
    for (const deferred of [false, true]) {
      test(`${scenario}: replaying boot ${next.source.split('/')[0]} on ${prev.name} gives ${next.name} byte for byte${deferred ? ' (writes deferred as from the oops path)' : ''}`, () => {
        const before = loadImage(scenario, prev);
        const after = loadImage(scenario, next);
        const bootId = next.source.split('/')[0]!;
        const boot = meta.boots.find((b) => b.boot === bootId)!;
        const zoneSize = meta.zone_kb * 1024;
        const abi = abiOf(meta);
        const fresh = newRecords(before, after, zoneSize, abi);
        const oopses = boot.actions.filter((a) => a.startsWith('oops=')).length;
        assert.equal(fresh.length, oopses, 'one new record per oops of the boot');

        const disk = Buffer.from(before);
        const { psz, be } = engineFor(meta, disk, true);
        const listed = listOk(psz); // mount + register: recovery and a listing
        let written = 0;
        for (const action of boot.actions) {
          if (action.startsWith('rm=')) {
            const name = action.slice(3);
            const r = listed.find((x) => `dmesg-pstore_blk-${x.id}` === name);
            assert.ok(r, `${name} was listed`);
            assert.equal(psz.erase(r.type, r.id, r.count), 0);
          } else if (action.startsWith('oops=')) {
            const rec = fresh[written++]!;
            be.atomicContext = deferred;
            assert.equal(psz.writeKmsg({ reason: rec.reason, time: { sec: rec.sec, nsec: rec.nsec }, compressed: rec.compressed, data: rec.data }), 0);
            assert.equal(psz.lastKmsgWrite?.zone, rec.zone, 'the engine chose the zone the kernel chose');
            if (deferred) {
              assert.equal(psz.lastKmsgWrite?.result, -16);
              assert.equal(psz.pendingFlush, true);
              be.atomicContext = false;
              assert.equal(psz.flushAll(), 0);
              assert.equal(psz.pendingFlush, false);
            }
          }
        }
        assert.ok(disk.equals(after), 'replayed image differs from the kernel-written one');
      });
    }
  }
}
