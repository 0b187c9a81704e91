/**
 * For every kernel-written fixture: `extract` recreates the directory the
 * kernel showed (names, bytes, file times to the microsecond), and
 * `ls --json` agrees with the fixture's meta.json — through the CLI process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli, fixtureImage, fixtureStates, fixturesDir, pool, sha256, tmpDir } from './helpers.js';

const states = fixtureStates();

test('fixtures exist (the conformance tests below cannot pass vacuously)', () => {
  assert.ok(states.length >= 12, `only ${states.length} fixture states found in ${fixturesDir}`);
});

test('extract and ls --json agree with what the kernel showed, for every fixture state', { timeout: 240_000 }, async () => {
  const dir = tmpDir();
  await pool(states, 2, async (st) => {
    const label = `${st.scenario}/${st.name}`;
    const img = fixtureImage(st.scenario, st.name, dir);
    const before = sha256(img);
    const out = path.join(dir, `${st.scenario}-${st.name}.out`);
    const ex = await cli(['extract', img, out]);
    assert.equal(ex.code, 0, `${label}: extract failed: ${ex.stderr}`);
    const expDir = path.join(fixturesDir, st.scenario, st.expected!);
    const listing = JSON.parse(fs.readFileSync(path.join(expDir, 'listing.json'), 'utf8')) as { name: string; size: number; mtime?: number }[];
    const want = fs.readdirSync(expDir).filter((n) => n !== 'listing.json').sort();
    assert.deepEqual(fs.readdirSync(out).sort(), want, `${label}: file names`);
    for (const n of want) {
      assert.ok(fs.readFileSync(path.join(out, n)).equals(fs.readFileSync(path.join(expDir, n))), `${label}/${n}: bytes differ`);
      const ef = st.expected_files!.find((f) => f.name === n)!;
      const stt = fs.statSync(path.join(out, n), { bigint: true });
      const gotUs = stt.mtimeNs / 1000n;
      const wantUs = BigInt(ef.mtime_sec) * 1_000_000n + BigInt(Math.floor(ef.mtime_nsec / 1000));
      assert.equal(gotUs, wantUs, `${label}/${n}: mtime to the microsecond`);
      assert.equal(stt.mode & 0o777n, 0o444n, `${label}/${n}: mode`);
    }
    assert.equal(listing.length, want.length);

    const ls = await cli(['ls', img, '--json']);
    assert.equal(ls.code, 0, `${label}: ls failed: ${ls.stderr}`);
    const arr = JSON.parse(ls.stdout.toString('utf8')) as Record<string, unknown>[];
    assert.deepEqual(
      arr.map((f) => f.name),
      st.expected_files!.map((f) => f.name),
      `${label}: ls names`,
    );
    for (const ef of st.expected_files!) {
      const f = arr.find((x) => x.name === ef.name)!;
      assert.equal(f.type, 'dmesg');
      assert.equal(f.id, ef.zone, `${label} ${ef.name} id`);
      assert.equal(f.reason, ef.reason);
      assert.equal(f.count, ef.counter);
      assert.deepEqual(f.time, { sec: ef.mtime_sec, nsec: ef.mtime_nsec });
      assert.equal(f.compressed, ef.compressed_on_media);
      assert.equal(f.size, ef.size, `${label} ${ef.name} size`);
      assert.equal(f.offset, (f.id as number) * zoneSizeOf(st.scenario), `${label} ${ef.name} offset`);
    }
    assert.equal(sha256(img), before, `${label}: read-only commands changed the image`);
  });
});

function zoneSizeOf(scenario: string): number {
  const meta = JSON.parse(fs.readFileSync(path.join(fixturesDir, scenario, 'meta.json'), 'utf8')) as { zone_kb?: number; geometry?: { zone_size?: number } };
  return meta.geometry?.zone_size ?? (meta.zone_kb ?? 64) * 1024;
}

test('mtdoops fixture: ls --json lists the records with format, seq and time', async () => {
  const dir = tmpDir();
  const img = fixtureImage('mtdoops-block2mtd', 's2-2oops', dir);
  const meta = JSON.parse(fs.readFileSync(path.join(fixturesDir, 'mtdoops-block2mtd', 'meta.json'), 'utf8')) as {
    states: { name: string; records_derived: { slot: number; seq: number; timestamp_ns: number }[] }[];
  };
  const want = meta.states.find((s) => s.name === 's2-2oops')!.records_derived;
  const r = await cli(['ls', img, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const arr = JSON.parse(r.stdout.toString()) as { format: string; seq: number; slot: number; time: { sec: number; nsec: number } }[];
  assert.deepEqual(arr.map((x) => x.seq), want.map((x) => x.seq));
  for (const [i, w] of want.entries()) {
    assert.equal(arr[i]!.format, 'mtdoops');
    assert.equal(arr[i]!.slot, w.slot);
    // timestamp_ns is stored as a JSON number (not exact beyond 2^53): compare to the microsecond.
    assert.equal(Math.floor(arr[i]!.time.sec * 1e6 + arr[i]!.time.nsec / 1e3), Math.floor(w.timestamp_ns / 1e3));
  }
});
