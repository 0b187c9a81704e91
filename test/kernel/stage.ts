/**
 * The kernel conformance stage: our CLI against Debian's real Linux kernel
 * (6.1, under QEMU/TCG), in both directions, on every medium we support.
 * Prints one line per scenario, `PASS <scenario>: …` or
 * `FAIL <scenario>: <what differed>`, and exits 1 when any failed.
 *
 *   node --import tsx test/kernel/stage.ts [--only a,b] [--jobs N] [--out DIR]
 *
 * Normally started by `bash test/kernel/run-stage.sh` (npm run test:kernel),
 * which runs setup.sh first. Five VM boots in all; up to `--jobs` (default
 * 2) run at once.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { diffCaptures, kernelDir, repoRoot, runScenario, type Capture, type ListingEntry, type ScenarioRun } from './harness.js';

// ---------------------------------------------------------------------------
// plumbing

/** A scenario's verdict: `detail` says what was proven, or what differed. */
interface Verdict {
  scenario: string;
  ok: boolean;
  detail: string;
}

class Fail extends Error {}
/** Stop the scenario with a FAIL line saying `what`. */
function fail(what: string): never {
  throw new Fail(what);
}
function expect(cond: unknown, what: string): asserts cond {
  if (!cond) fail(what);
}

const args = process.argv.slice(2);
function argValue(name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}
const only = argValue('--only')?.split(',');
const jobs = Math.max(1, Number(argValue('--jobs') ?? 2));
const outRoot = path.resolve(argValue('--out') ?? path.join(kernelDir, 'out', 'stage'));

/** Run `fn`s with at most `jobs` at a time. */
function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}
const vmSlot = limiter(jobs);

/** One VM boot through the shared slot limit; a boot that failed fails the scenario. */
async function boot(label: string, opts: Parameters<typeof runScenario>[0], tolerateFail = false): Promise<ScenarioRun> {
  const run = await vmSlot(() => runScenario({ timeoutSec: 300, ...opts }));
  if (!run.ok && !tolerateFail) {
    fail(`${label}: ${run.status}; last events: ${run.events.slice(-4).join(' | ')}`);
  }
  return run;
}

interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}
/** Our CLI on the host, exactly as a user runs it. */
function cli(argv: string[]): CliResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), ...argv], {
    cwd: repoRoot,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
function cliOk(argv: string[]): string {
  const r = cli(argv);
  if (r.status !== 0) fail(`mtdpstore ${argv.join(' ')} exited ${r.status}: ${lastLines(r.stderr)}`);
  return r.stdout;
}
/** The last `n` meaningful lines of an output (stack frames and blank lines left out). */
function lastLines(s: string, n = 3): string {
  return s
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^\s+at /.test(l) && !/^Node\.js v/.test(l))
    .slice(-n)
    .join(' | ');
}

/** One entry of `ls --json` (the fields the stage looks at). */
interface LsEntry {
  name: string;
  reason?: string;
  count?: number;
  compressed?: boolean;
  seq?: number;
  slot?: number;
  time: { sec: number; nsec: number };
  size: number;
  offset: number;
}
function lsJson(image: string, extra: string[] = []): LsEntry[] {
  return JSON.parse(cliOk(['ls', image, '--json', ...extra])) as LsEntry[];
}

/** Our `extract` of an image, as a Capture (mtimes from the files written). */
function ourView(image: string, dir: string, extra: string[] = []): Capture {
  rmSync(dir, { recursive: true, force: true });
  cliOk(['extract', image, dir, ...extra]);
  const listing: ListingEntry[] = [];
  const files = new Map<string, Buffer>();
  for (const name of readdirSync(dir).sort()) {
    const f = path.join(dir, name);
    const st = statSync(f, { bigint: true });
    listing.push({
      name,
      size: Number(st.size),
      mtime_sec: Number(st.mtimeNs / 1_000_000_000n),
      mtime_nsec: Number(st.mtimeNs % 1_000_000_000n),
      mtime_str: '',
    });
    files.set(name, readFileSync(f));
  }
  return { listing, files };
}

/**
 * Differences between our view and the kernel's: names, sizes, bytes, and
 * mtimes to the microsecond (Node cannot set finer file times).
 */
function diffViews(ours: Capture, kernel: Capture): string[] {
  const d = diffCaptures(ours, kernel, { ignoreMtime: true });
  const k = new Map(kernel.listing.map((e) => [e.name, e]));
  for (const o of ours.listing) {
    const e = k.get(o.name);
    if (!e) continue;
    const us = (x: ListingEntry) => `${x.mtime_sec}.${String(Math.floor(x.mtime_nsec / 1000)).padStart(6, '0')}`;
    if (us(o) !== us(e)) d.push(`${o.name}: mtime ${us(o)}, kernel ${us(e)}`);
  }
  return d;
}

/** Our view must equal the kernel's capture; returns the file count. */
function sameView(what: string, image: string, run: ScenarioRun, cap: string, extractDir: string, extra: string[] = []): number {
  const kernel = run.capture(cap);
  const ours = ourView(image, extractDir, extra);
  const d = diffViews(ours, kernel);
  if (d.length) fail(`${what}: our extract differs from the kernel's pstore (${d.slice(0, 4).join('; ')}${d.length > 4 ? `; +${d.length - 4} more` : ''})`);
  return kernel.listing.length;
}

/** The kernel's file times equal our records' times to the nanosecond (what `ls --json` reports). */
function sameTimesNs(what: string, ls: LsEntry[], kernel: Capture): void {
  const k = new Map(kernel.listing.map((e) => [e.name, e]));
  for (const e of ls) {
    const ke = k.get(e.name);
    expect(ke, `${what}: the kernel shows no ${e.name}`);
    expect(ke.mtime_sec === e.time.sec && ke.mtime_nsec === e.time.nsec, `${what}: ${e.name} has time ${e.time.sec}.${e.time.nsec} in ls --json, the kernel shows mtime ${ke.mtime_sec}.${ke.mtime_nsec}`);
  }
}

function secs(...runs: ScenarioRun[]): string {
  return runs.map((r) => `${r.wallSeconds.toFixed(1)}s`).join('+');
}

/** A kernel log as `dump` takes it: JSON [{level, timeUs, text}]. */
function logFile(file: string, tag: string, lines: number, startUs: number): string {
  const entries = [];
  for (let i = 0; i < lines; i++) {
    entries.push({ level: i % 3 === 0 ? 4 : 6, timeUs: startUs + i * 1234, text: `${tag}: line ${i} of a test log ${'x'.repeat(i % 40)}` });
  }
  entries.push({ level: 1, timeUs: startUs + lines * 1234, text: `${tag}: the end` });
  writeFileSync(file, JSON.stringify(entries));
  return file;
}

const BLK = (extra = '') => `mod=pstore_blk blkdev=/dev/vda best_effort=y kmsg_size=64 ${extra}`.trim();
const NANDSIM = 'mod=nandsim id_bytes=0xec,0xf1,0x00,0x15 overridesize=2';
const NAND_GEOM = ['--erasesize', '128k', '--writesize', '2048', '--kmsg-size', '64'];

// ---------------------------------------------------------------------------
// 1. the kernel writes, we read (pstore_blk on a virtio disk)

async function kernelWritesBlk(): Promise<string> {
  const dir = path.join(outRoot, 'kernel-writes-blk');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const disk = path.join(dir, 'disk.img');
  // 192 KiB with 64 KiB zones: 3 kmsg zones, and 4 oopses in all wrap round.
  const a = await boot('boot 1', {
    out: path.join(dir, 'boot1'),
    disk,
    diskSize: '192K',
    append: 'pstore.compress=none',
    actions: ['mount', BLK('max_reason=2'), 'oops=null', 'oops=bug'],
  });
  const b = await boot('boot 2', {
    out: path.join(dir, 'boot2'),
    disk,
    actions: [
      'mount', BLK('max_reason=2'), 'cap=boot1', 'oops=null', 'oops=bug',
      'umount', 'rmmod=pstore_blk', BLK('max_reason=2'), 'mount', 'cap=boot2', 'snap=/dev/vda:boot2',
    ],
  });
  const n1 = sameView('after boot 1', path.join(b.out, 'disk-before.img'), b, 'boot1', path.join(dir, 'ours-boot1'));
  expect(n1 === 2, `after boot 1 the kernel showed ${n1} records, expected 2`);
  const snap = path.join(b.out, 'snap', 'boot2.img');
  const n2 = sameView('after boot 2', snap, b, 'boot2', path.join(dir, 'ours-boot2'));
  const ls = lsJson(snap);
  sameTimesNs('after boot 2', ls, b.capture('boot2'));
  const comp = ls.filter((e) => e.compressed).length;
  expect(n2 === 3 && comp >= 1 && comp < 3, `after boot 2: ${n2} records, ${comp} compressed; expected 3 records, compressed and plain`);
  return `our extract = kernel's pstore (names, bytes, mtimes to the µs; ls --json times to the ns) after boot 1 (${n1} plain) and boot 2 (${n2}: ${comp} deflate, ${n2 - comp} plain, 4 oopses wrapped round 3 zones) (boots ${secs(a, b)})`;
}

// ---------------------------------------------------------------------------
// 2a. we write, the kernel reads (pstore_blk image made by our CLI)

async function weWriteBlk(): Promise<string> {
  const dir = path.join(outRoot, 'we-write-blk');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const img = path.join(dir, 'ours.img');
  cliOk(['create', img, '--size', '256k', '--medium', 'block', '--kmsg-size', '64', '--max-reason', '4', '--write']);
  const dumps: [string, string, string[]][] = [
    ['oops', '1790000000.123456789', ['--oops-count', '1']],
    ['emerg', '1790000100.000001999', ['--compress']],
    ['shutdown', '1790000200.5', []],
  ];
  for (const [i, [reason, time, extra]] of dumps.entries()) {
    const log = logFile(path.join(dir, `log${i}.json`), `we-write-blk ${reason}`, 30 + i * 25, 1_000_000 * (i + 1));
    cliOk(['dump', img, log, '--reason', reason, '--time', time, '--write', ...extra]);
  }
  const ours = lsJson(img);
  expect(ours.length === 3, `our CLI stored ${ours.length} of 3 dumps`);
  const disk = path.join(dir, 'disk.img');
  copyFileSync(img, disk);
  const run = await boot('boot', {
    out: path.join(dir, 'boot'),
    disk,
    actions: [
      'mount', BLK('max_reason=4'), 'cap=ours', 'oops=null',
      'umount', 'rmmod=pstore_blk', BLK('max_reason=4'), 'mount', 'cap=after', 'snap=/dev/vda:after',
    ],
  });
  const n1 = sameView('our image', img, run, 'ours', path.join(dir, 'ours-before'));
  expect(n1 === 3, `the kernel showed ${n1} of our 3 records`);
  sameTimesNs('our image', ours, run.capture('ours'));
  const reasons = run.capture('ours').files;
  const heads = [...reasons.values()].map((b) => b.toString('latin1').split('\n')[0]);
  for (const want of ['Oops', 'Emergency', 'Shutdown']) {
    expect(heads.some((h) => h.startsWith(want)), `no ${want} record in the kernel's view (first lines: ${heads.join(' / ')})`);
  }
  const snap = path.join(run.out, 'snap', 'after.img');
  const n2 = sameView('after the kernel added an oops', snap, run, 'after', path.join(dir, 'ours-after'));
  const after = lsJson(snap);
  sameTimesNs('after the kernel added an oops', after, run.capture('after'));
  expect(n2 === 4 && after.filter((e) => e.reason === 'Oops').length === 2, `after the kernel's oops: ${n2} records (${after.map((e) => e.reason).join(',')}), expected ours + 1 Oops`);
  return `kernel shows exactly our oops+emerg(deflate)+shutdown records, times to the ns; its added oops reads back identically (${n1}+1 files, boot ${secs(run)})`;
}

// ---------------------------------------------------------------------------
// 2b + 4. nandsim: our NAND image read by mtdpstore, and our CLI on /dev/mtd0
// through MtdCharDevice (one boot)

interface NandPlan {
  dir: string;
  image: string;
  logs: string[];
  dumpArgs: string[][];
  rmName: string;
  mirrorAfterDumps: string;
  mirrorAfterRm: string;
}

function planNand(): NandPlan {
  const dir = path.join(outRoot, 'nand');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const image = path.join(dir, 'ours.img');
  cliOk(['create', image, '--size', '512k', '--medium', 'mtd', '--erasesize', '128k', '--writesize', '2048', '--kmsg-size', '64', '--write']);
  const specs: [string, string, string[]][] = [
    ['oops', '1790001000.000123456', []],
    ['panic', '1790001001.75', ['--compress']],
    ['oops', '1790001002.999999999', ['--oops-count', '2', '--compress']],
  ];
  const logs: string[] = [];
  const dumpArgs: string[][] = [];
  for (const [i, [reason, time, extra]] of specs.entries()) {
    logs.push(logFile(path.join(dir, `log${i}.json`), `nand ${reason}`, 40 + i * 30, 2_000_000 * (i + 1)));
    dumpArgs.push(['--reason', reason, '--time', time, '--medium', 'mtd', '--kmsg-size', '64', '--policy', 'kernel', '--write', ...extra]);
  }
  for (const [i, a] of dumpArgs.entries()) cliOk(['dump', image, logs[i], ...a]);
  const listed = lsJson(image);
  expect(listed.length === 3, `our CLI stored ${listed.length} of 3 dumps on the NAND image`);
  // The same operations on a file mirror what the guest does on /dev/mtd0.
  const mirrorAfterDumps = path.join(dir, 'mirror-dumps.img');
  copyFileSync(image, mirrorAfterDumps);
  const mirrorAfterRm = path.join(dir, 'mirror-rm.img');
  copyFileSync(image, mirrorAfterRm);
  copyFileSync(`${image}.mtdpstore.json`, `${mirrorAfterRm}.mtdpstore.json`);
  const rmName = listed[0].name;
  cliOk(['rm', mirrorAfterRm, rmName, '--write', '--policy', 'kernel']);
  return { dir, image, logs, dumpArgs, rmName, mirrorAfterDumps, mirrorAfterRm };
}

/** Why the node bundle could not be built (the nandsim boot then runs without Node: only we-write-mtd can pass). */
let bundleError: string | undefined;

async function nandBoot(plan: NandPlan, bundle: Promise<string>): Promise<ScenarioRun> {
  const bundleImg = await bundle.catch((e: unknown) => {
    bundleError = (e as Error).message;
    return undefined;
  });
  const guestLog = (i: number) => `/in/files/log${i}`;
  const inputs: Record<string, string> = { ours: plan.image };
  plan.logs.forEach((l, i) => (inputs[`log${i}`] = l));
  const cliDumps = plan.dumpArgs.map((a, i) => `-cli=dump${i} dump /dev/mtd0 ${guestLog(i)} ${a.join(' ')}`);
  return boot(
    'nandsim boot',
    {
      out: path.join(plan.dir, 'boot'),
      nodeBundle: bundleImg,
      saveDisk: false,
      inputs,
      actions: [
        // 4. the device backend itself (destructive: nandsim is reloaded after it)
        NANDSIM,
        'info=mtd0',
        '-node=chardev guest/chardev-check.mjs /dev/mtd0',
        'rmmod=nandsim',
        NANDSIM,
        // 4. our CLI writes through /dev/mtd0, then the kernel reads it
        ...cliDumps,
        '-cli=ls1 ls /dev/mtd0 --json',
        'snap=/dev/mtd0:cli-dumps',
        `-cli=rm rm /dev/mtd0 ${plan.rmName} --write --policy kernel --medium mtd --kmsg-size 64`,
        '-cli=ls2 ls /dev/mtd0 --json',
        'snap=/dev/mtd0:cli-rm',
        'mod=pstore_blk blkdev=0 kmsg_size=64 max_reason=2',
        'mod=mtdpstore', 'mount', 'cap=cli', 'umount', 'rmmod=mtdpstore',
        // 2b. the kernel reads our NAND image, adds an oops, reads again
        'rmmod=nandsim', NANDSIM,
        'load=/dev/mtd0:ours',
        'mod=mtdpstore', 'mount', 'cap=ours', 'oops=null',
        'umount', 'rmmod=mtdpstore', 'mod=mtdpstore', 'mount', 'cap=after', 'snap=/dev/mtd0:after',
      ],
    },
    true,
  );
}

function bootFailedBefore(run: ScenarioRun, cap: string): void {
  if (!run.ok && !existsSync(path.join(run.out, cap, 'listing.json'))) {
    fail(`nandsim boot: ${run.status}; last events: ${run.events.slice(-4).join(' | ')}`);
  }
}

async function weWriteMtd(runP: Promise<ScenarioRun>, plan: NandPlan): Promise<string> {
  const run = await runP;
  bootFailedBefore(run, 'after');
  const n1 = sameView('our NAND image', plan.image, run, 'ours', path.join(plan.dir, 'ours-before'), NAND_GEOM);
  expect(n1 === 3, `mtdpstore showed ${n1} of our 3 records`);
  sameTimesNs('our NAND image', lsJson(plan.image), run.capture('ours'));
  const heads = [...run.capture('ours').files.values()].map((b) => b.toString('latin1').split('\n')[0]);
  expect(heads.some((h) => h.startsWith('Panic')), `no Panic record in mtdpstore's view (${heads.join(' / ')})`);
  const snap = path.join(run.out, 'snap', 'after.img');
  const n2 = sameView('after mtdpstore added an oops', snap, run, 'after', path.join(plan.dir, 'ours-after'), NAND_GEOM);
  expect(n2 === 4, `after the kernel's oops mtdpstore showed ${n2} records, expected 4`);
  return `mtdpstore (nandsim 512 KiB, 2 KiB pages) shows exactly our oops+panic+oops (plain and deflate), times to the ns; its added oops reads back identically (${n1}+1 files, boot ${secs(run)})`;
}

function guestOut(run: ScenarioRun, name: string): { rc: number; out: string; err: string } {
  const base = path.join(run.out, 'node', name);
  const read = (ext: string) => (existsSync(`${base}.${ext}`) ? readFileSync(`${base}.${ext}`, 'utf8') : '');
  return { rc: existsSync(`${base}.rc`) ? Number(read('rc').trim()) : -1, out: read('out'), err: read('err') };
}

async function charDevice(runP: Promise<ScenarioRun>, plan: NandPlan): Promise<string> {
  const run = await runP;
  bootFailedBefore(run, 'cli');
  if (bundleError) fail(`no Node.js in the VM: ${bundleError}`);
  // The device backend's own checks.
  const chk = guestOut(run, 'chardev');
  const checks = chk.out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { check: string; ok: boolean; detail: string });
  const bad = checks.filter((c) => !c.ok);
  expect(checks.length > 5 && chk.rc === 0 && bad.length === 0, `MtdCharDevice checks in the VM: ${bad.map((c) => `${c.check} (${c.detail})`).join('; ') || lastLines(chk.err)}`);
  // Our CLI on /dev/mtd0.
  for (const name of ['dump0', 'dump1', 'dump2', 'ls1', 'rm', 'ls2']) {
    const r = guestOut(run, name);
    expect(r.rc === 0, `in the VM, mtdpstore ${name} on /dev/mtd0 exited ${r.rc}: ${lastLines(r.err, 2)}`);
  }
  // What the CLI wrote through the device equals what it writes into a file.
  const snapDumps = run.snapshot('cli-dumps');
  const mirror = readFileSync(plan.mirrorAfterDumps);
  expect(snapDumps.equals(mirror), `/dev/mtd0 after our dumps differs from the same dumps on an image file (first difference at byte ${firstDiff(snapDumps, mirror)})`);
  const snapRm = run.snapshot('cli-rm');
  const mirrorRm = readFileSync(plan.mirrorAfterRm);
  expect(snapRm.equals(mirrorRm), `/dev/mtd0 after our rm differs from rm on an image file (first difference at byte ${firstDiff(snapRm, mirrorRm)})`);
  // ls on the device = ls on the host copy of the device.
  const ls1 = JSON.parse(guestOut(run, 'ls1').out) as LsEntry[];
  const ls2 = JSON.parse(guestOut(run, 'ls2').out) as LsEntry[];
  const hostLs1 = lsJson(path.join(run.out, 'snap', 'cli-dumps.img'), NAND_GEOM);
  const hostLs2 = lsJson(path.join(run.out, 'snap', 'cli-rm.img'), NAND_GEOM);
  expect(sameLs(ls1, hostLs1), `ls --json of /dev/mtd0 in the VM differs from ls --json of its copy: ${JSON.stringify(ls1).slice(0, 300)} vs ${JSON.stringify(hostLs1).slice(0, 300)}`);
  expect(sameLs(ls2, hostLs2), `ls --json of /dev/mtd0 after rm differs from its copy's`);
  // The kernel's mtdpstore reads what our CLI wrote through the device.
  const n = sameView('kernel reading what our CLI wrote on /dev/mtd0', path.join(run.out, 'snap', 'cli-rm.img'), run, 'cli', path.join(plan.dir, 'ours-cli'), NAND_GEOM);
  const passed = checks.filter((c) => c.check !== 'summary').length;
  return `MtdCharDevice on nandsim: ${passed} checks (geometry=sysfs, erase/write/read, EUCLEAN/EBADMSG from ECC stats, bad blocks); CLI dump×3+rm on /dev/mtd0 = same ops on a file byte for byte, ls --json equal, mtdpstore then shows our ${n} files exactly (boot ${secs(run)})`;
}

function firstDiff(a: Buffer, b: Buffer): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** ls entries equal on the fields that do not depend on how the medium was opened. */
function sameLs(a: LsEntry[], b: LsEntry[]): boolean {
  const key = (l: LsEntry[]) =>
    JSON.stringify(l.map((e) => [e.name, e.reason, e.count, e.compressed, e.time.sec, e.time.nsec, e.size, e.offset]));
  return key(a) === key(b);
}

// ---------------------------------------------------------------------------
// 3. mtdoops on block2mtd: our importer against what the guest saw

async function mtdoops(): Promise<string> {
  const dir = path.join(outRoot, 'mtdoops');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const run = await boot('boot', {
    out: path.join(dir, 'boot'),
    diskSize: '256K',
    actions: [
      'mod=block2mtd block2mtd=/dev/vda,64KiB', 'mod=mtdoops mtddev=0 record_size=4096',
      'oops=null', 'oops=bug', 'oops=null', 'sleep=1',
      'rmmod=mtdoops', 'snap=/dev/mtd0:after', 'rmmod=block2mtd',
    ],
  });
  const snap = path.join(run.out, 'snap', 'after.img');
  const ls = lsJson(snap, ['--format', 'mtdoops', '--record-size', '4096']);
  expect(ls.length === 3, `our importer found ${ls.length} mtdoops records, the guest caused 3 oopses`);
  const seqs = ls.map((e) => e.seq ?? -1);
  expect(seqs.every((s, i) => s === seqs[0] + i) && ls.every((e, i) => e.slot === i), `sequence numbers ${seqs.join(',')} / slots ${ls.map((e) => e.slot).join(',')} are not consecutive from slot 0`);
  const triggers = run.events.filter((l) => / trigger (null|bug)$/.test(l)).map((l) => Number(l.split(' ')[0]));
  expect(triggers.length === 3, `events.txt has ${triggers.length} triggers`);
  ls.forEach((e, i) => {
    const dt = e.time.sec - triggers[i];
    expect(dt >= 0 && dt <= 3, `record ${e.name}: time ${e.time.sec} is ${dt}s from its trigger at ${triggers[i]}`);
  });
  const texts = ourView(snap, path.join(dir, 'ours'), ['--format', 'mtdoops', '--record-size', '4096']);
  // Every line of every record is a line of the guest's kernel log, in order.
  const dmesg = run.dmesg.split('\n');
  const at = new Map<string, number>();
  dmesg.forEach((l, i) => at.has(l) || at.set(l, i));
  let lines = 0;
  ls.forEach((e, i) => {
    const text = texts.files.get(e.name);
    expect(text, `extract wrote no file ${e.name}`);
    const recLines = text.toString('latin1').split('\n').filter((l) => l !== '');
    let prev = -1;
    for (const l of recLines) {
      const plain = l.replace(/^<\d+>/, '');
      const j = at.get(plain);
      expect(j !== undefined && j > prev, `${e.name}: line '${plain.slice(0, 80)}' is not the next line of the guest's dmesg`);
      prev = j;
      lines++;
    }
    expect(recLines.some((l) => l.includes(`pstore_crash: trigger #${i + 1} `)), `${e.name} does not hold trigger #${i + 1}`);
    expect(/end trace/.test(recLines[recLines.length - 1] ?? '') || recLines.some((l) => /---\[ end trace/.test(l)), `${e.name} does not end with the oops' end-trace line`);
  });
  return `3 records, seq ${seqs.join(',')}, times within 3 s of their triggers, all ${lines} text lines are the guest's dmesg lines in order (boot ${secs(run)})`;
}

// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  const t0 = Date.now();
  mkdirSync(outRoot, { recursive: true });
  const want = (s: string) => !only || only.includes(s);
  const results: Promise<Verdict>[] = [];
  const verdict = (scenario: string, p: () => Promise<string>): void => {
    if (!want(scenario)) return;
    results.push(
      p().then(
        (detail) => ({ scenario, ok: true, detail }),
        (e: unknown) => ({ scenario, ok: false, detail: e instanceof Fail ? e.message : `internal error: ${(e as Error).stack ?? String(e)}` }),
      ),
    );
  };
  const needNand = want('we-write-mtd') || want('chardev');
  let bundle: Promise<string> = Promise.resolve('');
  if (needNand) {
    bundle = new Promise((resolve, reject) => {
      const c = spawn(path.join(kernelDir, 'build-node-bundle.sh'), [], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr.on('data', (d: Buffer) => (out += d.toString()));
      c.on('close', (code) => (code === 0 ? resolve(out.trim().split('\n').pop() as string) : reject(new Fail(`build-node-bundle.sh failed: ${lastLines(out)}`))));
    });
  }
  verdict('kernel-writes-blk', kernelWritesBlk);
  verdict('we-write-blk', weWriteBlk);
  verdict('mtdoops', mtdoops);
  if (needNand) {
    let plan: NandPlan | undefined;
    let planError: unknown;
    try {
      plan = planNand();
    } catch (e) {
      planError = e;
    }
    const runP = plan ? nandBoot(plan, bundle) : Promise.reject(planError);
    runP.catch(() => undefined);
    verdict('we-write-mtd', () => runP.then(() => weWriteMtd(runP, plan as NandPlan)));
    verdict('chardev', () => runP.then(() => charDevice(runP, plan as NandPlan)));
  }
  let failed = 0;
  for (const r of results) {
    const v = await r;
    if (!v.ok) failed++;
    console.log(`${v.ok ? 'PASS' : 'FAIL'} ${v.scenario}: ${v.detail}`);
  }
  console.log(`kernel stage: ${results.length - failed}/${results.length} passed in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  process.exitCode = failed ? 1 : 0;
}

await main();
