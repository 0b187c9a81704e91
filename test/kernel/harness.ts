/**
 * Typed wrapper around run-scenario.sh for conformance tests against a real
 * Linux kernel (Debian's, booted under QEMU/TCG).  A test describes one VM
 * boot as a list of actions, gets back what the kernel's pstore mount showed,
 * and compares that with what our own reader produces for the same image.
 *
 * Nothing here boots anything by itself at import time; every boot costs
 * ~10-15 s of wall time, so tests should pack several steps into one boot.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Directory of this file: test/kernel. */
export const kernelDir = path.dirname(fileURLToPath(import.meta.url));
/** The repository root (where package.json is). */
export const repoRoot = path.resolve(kernelDir, '..', '..');
/** The shared kernel-written fixtures, beside the repository. */
export const fixturesDir = path.resolve(repoRoot, '../shared/fixtures');

/** One boot of the test VM. */
export interface ScenarioOptions {
  /** Results directory; emptied first. */
  out: string;
  /** Actions in run order, e.g. `['mount', 'mod=pstore_blk blkdev=/dev/vda best_effort=y', 'cap=c1']`. */
  actions: readonly string[];
  /** Medium attached as /dev/vda, modified in place; default `<out>/disk.img`. */
  disk?: string;
  /** Size for a newly created (zero-filled) disk: bytes, or a string with K/M suffix. Default 512K. */
  diskSize?: number | string;
  /** Extra kernel command line, e.g. `pstore.compress=none`. */
  append?: string;
  /** Files for `load=DEV:NAME`, as NAME -> host path. */
  inputs?: Readonly<Record<string, string>>;
  /** Hard limit for the VM in seconds (default 120). */
  timeoutSec?: number;
  /** QEMU `-rtc base=` value, e.g. `2026-01-01T00:00:00`, to pin the guest clock. */
  rtcBase?: string;
  /** Copy the disk to disk-before.img / disk-after.img in `out` (default true). */
  saveDisk?: boolean;
  /** Image from build-node-bundle.sh: Node.js + our CLI in the VM, for `node=` / `cli=` actions. */
  nodeBundle?: string;
}

/** One entry of a listing.json, the same shape as the fixtures' ones. */
export interface ListingEntry {
  name: string;
  size: number;
  mtime_sec: number;
  mtime_nsec: number;
  mtime_str: string;
}

/** What the kernel's pstore mount showed at one `cap=` action (or a fixture's expected/<state>). */
export interface Capture {
  /** Entries sorted by name. */
  listing: ListingEntry[];
  /** File contents by name. */
  files: Map<string, Buffer>;
}

/** Outcome of one boot. */
export interface ScenarioRun {
  /** True when the VM powered off by itself and every action succeeded. */
  ok: boolean;
  /** `ok` or `fail: <why>`. */
  status: string;
  /** Wall time of the QEMU process in seconds. */
  wallSeconds: number;
  /** The results directory. */
  out: string;
  /** The guest's event log lines (`<epoch> <uptime> <what>`). */
  events: string[];
  /** The whole kernel log of the boot (empty if the VM wrote no results). */
  dmesg: string;
  /** What `cap=NAME` captured; throws if that capture does not exist. */
  capture(name: string): Capture;
  /** Bytes saved by `snap=DEV:NAME`; throws if absent. */
  snapshot(name: string): Buffer;
}

/** Whether this machine can boot the test VM, and if not, why (for `test(..., { skip })`). */
export function kernelHarnessAvailable(): { ok: true } | { ok: false; why: string } {
  if (process.platform !== 'linux') return { ok: false, why: 'needs Linux' };
  const q = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64'], { encoding: 'utf8' });
  if (q.status !== 0) return { ok: false, why: 'qemu-system-x86_64 not installed (run test/kernel/setup.sh)' };
  const boot = existsSync('/boot') ? readdirSync('/boot').filter((f) => f.startsWith('vmlinuz-')) : [];
  if (boot.length === 0) return { ok: false, why: 'no /boot/vmlinuz-* (run test/kernel/setup.sh)' };
  return { ok: true };
}

/** Run `setup.sh` (idempotent; installs Debian packages only when missing). */
export function ensureSetup(): void {
  const r = spawnSync(path.join(kernelDir, 'setup.sh'), ['--quiet'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`test/kernel/setup.sh failed:\n${r.stderr}${r.stdout}`);
}

/** Boot the VM once with the given actions; resolves (never rejects) once QEMU is gone. */
export function runScenario(opts: ScenarioOptions): Promise<ScenarioRun> {
  const args = ['--out', opts.out];
  if (opts.disk !== undefined) args.push('--disk', opts.disk);
  if (opts.diskSize !== undefined) args.push('--disk-size', String(opts.diskSize));
  if (opts.append) args.push('--append', opts.append);
  if (opts.timeoutSec !== undefined) args.push('--timeout', String(opts.timeoutSec));
  if (opts.rtcBase) args.push('--rtc-base', opts.rtcBase);
  if (opts.saveDisk === false) args.push('--no-save-disk');
  if (opts.nodeBundle) args.push('--node-bundle', opts.nodeBundle);
  for (const [name, file] of Object.entries(opts.inputs ?? {})) args.push('--input', `${name}=${file}`);
  for (const a of opts.actions) args.push('-a', a);
  return new Promise((resolve) => {
    const child = spawn(path.join(kernelDir, 'run-scenario.sh'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    child.on('close', () => resolve(loadRun(opts.out, log)));
  });
}

function readText(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

/** Read the results of a finished run from its directory. */
export function loadRun(out: string, log = ''): ScenarioRun {
  let status = 'fail: no run.json';
  let wallSeconds = Number.NaN;
  const runJson = path.join(out, 'run.json');
  if (existsSync(runJson)) {
    const r = JSON.parse(readFileSync(runJson, 'utf8')) as { status: string; wall_seconds: number };
    status = r.status;
    wallSeconds = r.wall_seconds;
  } else if (log) {
    status = `fail: ${log.trim()}`;
  }
  return {
    ok: status === 'ok',
    status,
    wallSeconds,
    out,
    events: readText(path.join(out, 'events.txt')).split('\n').filter((l) => l !== ''),
    dmesg: readText(path.join(out, 'dmesg.txt')),
    capture: (name) => readCapture(path.join(out, name)),
    snapshot: (name) => {
      const f = path.join(out, 'snap', `${name}.img`);
      if (!existsSync(f)) throw new Error(`no snapshot '${name}' in ${out}`);
      return readFileSync(f);
    },
  };
}

/**
 * Read a capture directory: either a run's `<out>/<cap>/` (files in `files/`)
 * or a fixture's `expected/<state>/` (files beside listing.json).
 */
export function readCapture(dir: string): Capture {
  const listingFile = path.join(dir, 'listing.json');
  if (!existsSync(listingFile)) throw new Error(`no capture at ${dir} (listing.json missing)`);
  const listing = (JSON.parse(readFileSync(listingFile, 'utf8')) as ListingEntry[]).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  const filesDir = existsSync(path.join(dir, 'files')) ? path.join(dir, 'files') : dir;
  const files = new Map<string, Buffer>();
  for (const name of readdirSync(filesDir).sort()) {
    const f = path.join(filesDir, name);
    if (name === 'listing.json' || !statSync(f).isFile()) continue;
    files.set(name, readFileSync(f));
  }
  return { listing, files };
}

/**
 * Differences between two captures, one human-readable line each (empty when
 * equal): names, sizes, contents and, unless `ignoreMtime`, mtimes to the nanosecond.
 */
export function diffCaptures(actual: Capture, expected: Capture, opts: { ignoreMtime?: boolean } = {}): string[] {
  const out: string[] = [];
  const byName = (l: ListingEntry[]) => new Map(l.map((e) => [e.name, e]));
  const a = byName(actual.listing);
  const e = byName(expected.listing);
  for (const name of e.keys()) if (!a.has(name)) out.push(`missing ${name}`);
  for (const name of a.keys()) if (!e.has(name)) out.push(`unexpected ${name}`);
  for (const [name, ee] of e) {
    const ae = a.get(name);
    if (!ae) continue;
    if (ae.size !== ee.size) out.push(`${name}: size ${ae.size}, expected ${ee.size}`);
    if (!opts.ignoreMtime && (ae.mtime_sec !== ee.mtime_sec || ae.mtime_nsec !== ee.mtime_nsec)) {
      out.push(`${name}: mtime ${ae.mtime_sec}.${ae.mtime_nsec}, expected ${ee.mtime_sec}.${ee.mtime_nsec}`);
    }
    const af = actual.files.get(name);
    const ef = expected.files.get(name);
    if (af && ef && !af.equals(ef)) {
      let i = 0;
      while (i < af.length && i < ef.length && af[i] === ef[i]) i++;
      out.push(`${name}: contents differ from byte ${i}`);
    }
  }
  return out;
}

/** Split the fixtures' compact action form (`a;b+c`) into actions (`['a', 'b c']`). */
export function parseCompactActions(list: string): string[] {
  return list
    .split(';')
    .filter((s) => s !== '')
    .map((s) => s.replace(/\+/g, ' '));
}
