/**
 * Self-test of the kernel harness against ground truth: every kernel-written
 * fixture image (x86_64 ones) is put back on a medium inside the VM, the
 * same kernel recovers it, and what its pstore mount shows must equal the
 * fixture's expected/<state>/ byte for byte, mtimes included.  The kernel
 * must also write nothing while only reading (the medium is snapshotted
 * after each read and compared with the image).
 *
 * One boot per fixture scenario.  Run with:
 *   node scripts/run-tests.mjs test/kernel
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  diffCaptures,
  ensureSetup,
  fixturesDir,
  kernelDir,
  kernelHarnessAvailable,
  parseCompactActions,
  readCapture,
  runScenario,
} from './harness.js';

interface FixtureState {
  name: string;
  image: string;
  expected?: string | null;
}
interface FixtureBoot {
  kernel_cmdline: string;
  actions: string[];
}
interface FixtureMeta {
  scenario: string;
  kind: 'pstore-blk' | 'mtdpstore' | 'mtdoops';
  geometry: { size: number };
  boots: FixtureBoot[];
  states: FixtureState[];
}

const available = kernelHarnessAvailable();
const skip = available.ok ? false : available.why;
const SCENARIOS = ['blk-deflate', 'blk-plain', 'blk-small-zones', 'mtdpstore-small-wrap', 'mtdpstore-small-kmsg32'];

/** Kernel parameters of a fixture boot other than the harness's own. */
function extraCmdline(boot: FixtureBoot): string {
  return boot.kernel_cmdline
    .split(' ')
    .filter((t) => !/^(console=|panic=|panic_on_oops=|oracle\.)/.test(t))
    .join(' ');
}

function haveMtdpstore(): boolean {
  const env = path.join(kernelDir, '.cache', 'env.sh');
  return existsSync(env) && /HAVE_MTDPSTORE=1/.test(readFileSync(env, 'utf8'));
}

for (const scenario of SCENARIOS) {
  test(`kernel replays fixture ${scenario}`, { skip }, async (t) => {
    ensureSetup();
    const meta = JSON.parse(readFileSync(path.join(fixturesDir, scenario, 'meta.json'), 'utf8')) as FixtureMeta;
    if (meta.kind === 'mtdpstore' && !haveMtdpstore()) {
      t.skip('mtdpstore.ko not built (run test/kernel/setup.sh --with-mtdpstore)');
      return;
    }
    const out = path.join(kernelDir, 'out', 'replay', scenario);
    const imgDir = path.join(kernelDir, 'out', 'replay', `${scenario}-images`);
    rmSync(imgDir, { recursive: true, force: true });
    mkdirSync(imgDir, { recursive: true });

    const states = meta.states.filter((s) => s.expected);
    const inputs: Record<string, string> = {};
    const images = new Map<string, Buffer>();
    for (const s of states) {
      const img = gunzipSync(readFileSync(path.join(fixturesDir, scenario, s.image)));
      images.set(s.name, img);
      inputs[s.name] = path.join(imgDir, `${s.name}.img`);
      writeFileSync(inputs[s.name], img);
    }

    const first = meta.boots[0].actions;
    const actions: string[] = [];
    let device: string;
    let perState: (name: string) => string[];
    if (meta.kind === 'pstore-blk') {
      device = '/dev/vda';
      const mod = first.find((a) => a.startsWith('mod=pstore_blk'));
      assert.ok(mod, 'fixture boot 1 loads pstore_blk');
      perState = (n) => [`load=${device}:${n}`, mod, 'mount', `cap=${n}`, 'umount', 'rmmod=pstore_blk', `snap=${device}:${n}`];
    } else {
      device = '/dev/mtd0';
      const nand = first.find((a) => a.startsWith('mod=nandsim'));
      const blk = first.find((a) => a.startsWith('mod=pstore_blk'));
      assert.ok(nand && blk, 'fixture boot 1 loads nandsim and pstore_blk');
      actions.push(nand, blk);
      perState = (n) => [`load=${device}:${n}`, 'mod=mtdpstore', 'mount', `cap=${n}`, 'umount', 'rmmod=mtdpstore', `snap=${device}:${n}`];
    }
    for (const s of states) actions.push(...perState(s.name));

    // Blk fixtures were read back at the start of the boot after the one that
    // wrote them; every boot of a scenario uses the same parameters, so the
    // last boot's command line stands for all of them.
    const append = extraCmdline(meta.boots[meta.boots.length - 1]);
    const run = await runScenario({ out, actions, inputs, append, diskSize: meta.geometry.size, saveDisk: false });
    assert.ok(run.ok, `${run.status}\n${run.events.slice(-8).join('\n')}`);
    t.diagnostic(`boot: ${run.wallSeconds}s`);

    for (const s of states) {
      const expected = readCapture(path.join(fixturesDir, scenario, s.expected as string));
      const diffs = diffCaptures(run.capture(s.name), expected);
      assert.deepEqual(diffs, [], `${scenario}/${s.name}: the kernel's view differs from the fixture`);
      assert.ok(run.snapshot(s.name).equals(images.get(s.name) as Buffer), `${scenario}/${s.name}: reading changed the medium`);
    }
  });
}

test('compact action form matches the fixtures', () => {
  assert.deepEqual(parseCompactActions('mount;mod=pstore_blk+blkdev=/dev/vda;cap=c1;'), [
    'mount',
    'mod=pstore_blk blkdev=/dev/vda',
    'cap=c1',
  ]);
});

test('diffCaptures sees every kind of difference between fixture views', () => {
  const dir = path.join(fixturesDir, 'blk-deflate', 'expected');
  const s1 = readCapture(path.join(dir, 's1-3oops'));
  const s2 = readCapture(path.join(dir, 's2-rm1-1oops'));
  assert.deepEqual(diffCaptures(s1, s1), []);
  const d = diffCaptures(s1, s2);
  assert.ok(d.includes('missing dmesg-pstore_blk-3'), d.join('\n'));
  assert.ok(d.includes('unexpected dmesg-pstore_blk-1'), d.join('\n'));
  // Same name and content, other mtime: only the mtime line, and only when asked.
  const shifted = { ...s1, listing: s1.listing.map((e) => ({ ...e, mtime_nsec: e.mtime_nsec + 1 })) };
  assert.equal(diffCaptures(shifted, s1).length, s1.listing.length);
  assert.deepEqual(diffCaptures(shifted, s1, { ignoreMtime: true }), []);
  // One flipped byte is reported with its offset.
  const files = new Map(s1.files);
  const f0 = Buffer.from(files.get('dmesg-pstore_blk-0') as Buffer);
  f0[100] ^= 1;
  files.set('dmesg-pstore_blk-0', f0);
  assert.deepEqual(diffCaptures({ ...s1, files }, s1), ['dmesg-pstore_blk-0: contents differ from byte 100']);
});
