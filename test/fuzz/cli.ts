/**
 * The fuzzer's properties through the command-line program (a real process:
 * `node --import tsx src/cli/main.ts`):
 *
 *  - `ls --json` and `extract` never crash: the exit code is 0 or one of the
 *    documented failure codes, never "internal error" or a signal, and it is
 *    the code for the error the library raises on the same input and flags;
 *  - `ls --json` prints exactly the library's listing (names, sizes);
 *  - `extract` writes exactly the listed files, byte for byte, and nothing
 *    outside its target directory; symlinks planted in the target directory
 *    under the expected names (pointing at a file and at a directory outside)
 *    are replaced, never followed: the outside file and directory stay as
 *    they were;
 *  - neither command changes its input image (sha256, mtime).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listImage, type Listing } from '../../src/api/read.js';
import { exitCodeFor } from '../../src/cli/exit-codes.js';
import { sourceOptions, type SourceFlags } from '../../src/cli/options.js';
import { PropertyFailure, onlyPstoreError, type Outcome } from './guards.js';
import { applyMutations } from './mutate.js';
import { fingerprint, workDir, type FlagSet, type FuzzCase } from './oracle.js';
import { repoRoot, type Seed } from './seeds.js';

const MAIN = path.join(repoRoot, 'src/cli/main.ts');

/** Exit codes a reading command may end with on hostile input (exit-codes.ts): ok, not found, bad input, I/O. */
const ALLOWED = new Set([0, 3, 4, 5]);

/** Run the CLI; `timeoutMs` bounds the whole process (a hang is a failure). */
export function runCli(args: string[], timeoutMs: number): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 256 << 20,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms: performance.now() - t0 };
}

let available: { ok: boolean; why: string } | undefined;
/** Whether the CLI starts at all (`--version`); while the CLI is being written some commands may be missing. */
export function cliAvailable(): { ok: boolean; why: string } {
  if (!available) {
    const r = runCli(['--version'], 60_000);
    available = r.status === 0 ? { ok: true, why: '' } : { ok: false, why: (r.stderr.split('\n').find((l) => /Error|error/.test(l)) ?? r.stderr).slice(0, 300) };
  }
  return available;
}

/** Command-line flags for a case: the seed's parameters given explicitly, nothing (detection), or a hostile set. */
export function cliFlags(seed: Seed, c: FuzzCase): string[] {
  const f: string[] = [];
  if (c.variant.removed) f.push('--removed');
  const fl = c.variant.flags;
  if (fl) return [...f, ...hostileFlags(fl)];
  if ((c.muts.length + c.seed) % 2 === 0) {
    if (seed.kind === 'mtdoops') f.push('--format', 'mtdoops', '--record-size', String(seed.zoneSize), '--endian', seed.abi.endian);
    else f.push('--format', 'pstore', '--kmsg-size', `${seed.zoneSize / 1024}k`, '--abi', seed.abi.cls, '--endian', seed.abi.endian);
  }
  return f;
}

function num(n: number | undefined): string | undefined {
  if (n === undefined) return undefined;
  if (Number.isSafeInteger(n) && n >= 0) return n % 2 === 0 ? `${n}b` : String(n);
  return String(n); // "-1", "NaN", "Infinity", "1.5": the parser must refuse them
}

function hostileFlags(fl: FlagSet): string[] {
  const f: string[] = [];
  const add = (name: string, v: string | undefined) => {
    if (v !== undefined) f.push(name, v);
  };
  if (fl.zoneSize !== undefined) add(fl.format === 'mtdoops' ? '--record-size' : '--kmsg-size', num(fl.zoneSize));
  add('--abi', fl.abi);
  add('--endian', fl.endian);
  add('--format', fl.format);
  if (fl.oob === true) f.push('--oob');
  if (fl.oob === false) f.push('--no-oob');
  add('--type', fl.type);
  add('--erasesize', num(fl.erasesize));
  add('--writesize', num(fl.writesize));
  add('--oobsize', num(fl.oobsize));
  if (fl.badBlocks?.length) add('--bad-blocks', fl.badBlocks.join(','));
  if (fl.skippedBadBlocks?.length) add('--skipped-bad-blocks', fl.skippedBadBlocks.join(','));
  return f;
}

/** What the library says for the same flags (parsed by the CLI's own option code). */
function libraryOutcome(file: string, flags: string[]): Outcome<Listing> | 'usage' {
  // Parse the flags the way commander hands them over.
  const sf: SourceFlags & { removed?: boolean } = {};
  const rec = sf as Record<string, string | boolean>;
  for (let i = 0; i < flags.length; i++) {
    const a = flags[i]!;
    if (a === '--removed' || a === '--oob') rec[a === '--oob' ? 'oob' : 'removed'] = true;
    else if (a === '--no-oob') sf.oob = false;
    else {
      const key = a.slice(2).replace(/-([a-z])/g, (_m, ch: string) => ch.toUpperCase());
      rec[key] = flags[++i]!;
    }
  }
  // commander itself rejects values outside --endian/--type/--format choices (usage error).
  if (sf.endian && !['le', 'be'].includes(sf.endian)) return 'usage';
  return onlyPstoreError('library for CLI flags', () => listImage(file, { ...sourceOptions(file, sf), removed: sf.removed }));
}

function checkStatus(what: string, r: ReturnType<typeof runCli>, lib: Outcome<Listing> | 'usage'): void {
  if (r.status === null) throw new PropertyFailure(`${what}: the process did not finish (signal ${r.signal}, ${r.ms.toFixed(0)} ms): hang or crash`, { tag: 'cli-hang' });
  if (/internal error/i.test(r.stderr) || r.status === 1) throw new PropertyFailure(`${what}: internal error (exit ${r.status}): ${r.stderr.slice(0, 1500)}`, { tag: 'cli-crash' });
  if (lib === 'usage') {
    if (r.status !== 2) throw new PropertyFailure(`${what}: exit ${r.status}, expected the usage error 2`);
    return;
  }
  if (!ALLOWED.has(r.status)) throw new PropertyFailure(`${what}: exit code ${r.status} is not one a reading command should give: ${r.stderr.slice(0, 500)}`);
  const want = lib.ok ? 0 : exitCodeFor(lib.error);
  if (r.status !== want) {
    throw new PropertyFailure(`${what}: exit ${r.status}, but the library ${lib.ok ? 'lists fine' : `raises ${lib.error.code} (${lib.error.message})`} → ${want}; stderr: ${r.stderr.slice(0, 500)}`);
  }
  if (r.status !== 0 && !/error: .+\[E[A-Z]+\]/.test(r.stderr)) throw new PropertyFailure(`${what}: exit ${r.status} without an error message naming the errno: ${r.stderr.slice(0, 300)}`);
}

/** Names planted as symlinks in the extract target, besides the expected names. */
const DECOYS = ['dmesg-pstore_blk-0', 'dmesg-pstore_blk-1', 'dmesg-pstore_blk-7', 'dmesg-pstore_blk-3.enc.z', 'mtdoops-1', 'mtdoops-2'];

function dirState(dir: string): string {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .map((e) => `${e.name}:${e.isSymbolicLink() ? 'l' : e.isDirectory() ? 'd' : 'f'}`)
    .sort()
    .join(',');
}

/**
 * Run `ls --json` or `extract` on a case and check every CLI property.
 * Returns the milliseconds the CLI took.
 */
export function runCliCase(seeds: readonly Seed[], c: FuzzCase, command: 'ls' | 'extract', timeoutMs: number): number {
  const seed = seeds[c.seed]!;
  const m = applyMutations(seed, c.muts);
  const base = path.join(workDir(), `cli-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e9)}`);
  fs.mkdirSync(base);
  try {
    const image = path.join(base, 'image.img');
    fs.writeFileSync(image, m.image);
    const before = fingerprint(image);
    const flags = cliFlags(seed, c);
    const lib = libraryOutcome(image, flags);
    if (command === 'ls') {
      const r = runCli(['ls', image, '--json', ...flags], timeoutMs);
      checkStatus(`ls --json ${flags.join(' ')}`, r, lib);
      if (r.status === 0 && lib !== 'usage' && lib.ok) {
        let out: { name: string; size: number }[];
        try {
          out = JSON.parse(r.stdout) as { name: string; size: number }[];
        } catch {
          throw new PropertyFailure(`ls --json printed something that is not JSON: ${r.stdout.slice(0, 200)}`);
        }
        const want = lib.value.files.map((f) => `${f.name}:${f.size}${f.removed ? ':removed' : ''}`);
        const got = out.map((f) => `${f.name}:${f.size}${(f as { removed?: boolean }).removed ? ':removed' : ''}`);
        if (JSON.stringify(got) !== JSON.stringify(want)) throw new PropertyFailure(`ls --json lists ${got.join(' ')}; the library lists ${want.join(' ')}`);
      }
      if (fingerprint(image) !== before) throw new PropertyFailure('ls changed its input image');
      return r.ms;
    }

    // extract, with symlinks planted under every name it may write.
    const outside = path.join(base, 'outside');
    fs.mkdirSync(outside);
    const victim = path.join(outside, 'victim.txt');
    fs.writeFileSync(victim, 'must stay\n');
    const victimDir = path.join(outside, 'victim-dir');
    fs.mkdirSync(victimDir);
    const target = path.join(base, 'target');
    fs.mkdirSync(target);
    const expected = lib !== 'usage' && lib.ok ? lib.value.files.map((f) => (f.removed ? `${f.name}.removed` : f.name)) : [];
    const planted = [...new Set([...expected, ...DECOYS])];
    planted.forEach((n, i) => fs.symlinkSync(i % 3 === 2 ? victimDir : victim, path.join(target, n)));
    const outsideBefore = `${fingerprint(victim)}|${dirState(outside)}|${dirState(victimDir)}`;
    const baseBefore = dirState(base);
    const r = runCli(['extract', image, target, ...flags], timeoutMs);
    checkStatus(`extract ${flags.join(' ')}`, r, lib);
    const outsideAfter = `${fingerprint(victim)}|${dirState(outside)}|${dirState(victimDir)}`;
    if (outsideAfter !== outsideBefore) throw new PropertyFailure(`extract changed something outside its target directory (a planted symlink was followed): ${outsideBefore} -> ${outsideAfter}`, { tag: 'extract-escape' });
    if (dirState(base) !== baseBefore) throw new PropertyFailure(`extract created or removed entries beside its target directory: ${baseBefore} -> ${dirState(base)}`, { tag: 'extract-escape' });
    if (r.status === 0 && lib !== 'usage' && lib.ok) {
      const files = lib.value.files;
      for (const f of files) {
        const p = path.join(target, f.removed ? `${f.name}.removed` : f.name);
        const st = fs.lstatSync(p);
        if (!st.isFile()) throw new PropertyFailure(`extract left ${path.basename(p)} as a ${st.isSymbolicLink() ? 'symlink' : 'non-file'}`, { tag: 'extract-escape' });
        if (!fs.readFileSync(p).equals(f.data)) throw new PropertyFailure(`extract wrote different bytes into ${path.basename(p)} than the listing holds`);
        if ((st.mode & 0o777) !== 0o444) throw new PropertyFailure(`extract wrote ${path.basename(p)} with mode ${(st.mode & 0o777).toString(8)}, expected 444`);
      }
      const leftovers = fs.readdirSync(target).filter((n) => !planted.includes(n));
      if (leftovers.length) throw new PropertyFailure(`extract wrote unexpected entries: ${leftovers.join(', ')}`);
    }
    if (fingerprint(image) !== before) throw new PropertyFailure('extract changed its input image');
    return r.ms;
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
}
