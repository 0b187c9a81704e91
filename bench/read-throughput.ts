/**
 * Read-side throughput: `ls` and `extract` of a 128 MiB image full of records
 * (2048 kmsg zones of 64 KiB, every other record raw-deflate compressed),
 * through the library in this process and through the CLI as a process,
 * against reading the same bytes with `cat image > /dev/null` (a process) and
 * with fs.readFileSync (in process), all measured in the same run; and the
 * peak RSS of each against the image size.
 *
 * Run: npx tsx bench/read-throughput.ts [--rounds N]
 * Prints one line per figure:
 *   bench <name>: <figure> <unit> (ratio <r> vs <baseline>)
 * Throughput in MB/s (10^6 bytes of image per second; median of the rounds);
 * the ratio is throughput ÷ the baseline's throughput (1.00 = as fast as the
 * baseline). RSS in MiB; its ratio is peak RSS ÷ image size.
 * Library calls are compared with fs.readFileSync (the in-process way to get
 * the bytes), CLI processes with `cat` (the process way).
 *
 * The same file is also the child that measures one library call's peak RSS:
 *   npx tsx bench/read-throughput.ts --child ls|extract|readfile <image> [dir]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { listImage } from '../src/api/read.js';
import { writeFilesToDir } from '../src/pstore/files.js';
import { oopsText, writeFullImage } from './lib/images.js';

const ZONES = 2048;
const Z = 64 * 1024;
const SIZE = ZONES * Z;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = path.join(repoRoot, 'src/cli/main.ts');
/**
 * Preloaded into measured processes: report the peak RSS on exit. VmHWM (KiB)
 * from /proc, not getrusage's maxRSS: Linux carries the parent's RSS high-water
 * mark over fork+exec into the child's maxRSS, so a child of this big process
 * would report this process's peak.
 */
const RSS_HOOK =
  "data:text/javascript,import{readFileSync}from'node:fs';process.on('exit',()=>process.stderr.write('\\nmaxrss='+/VmHWM:\\s*(\\d+)/.exec(readFileSync('/proc/self/status','utf8'))[1]+'\\n'))";

/** Peak RSS of this process in KiB (VmHWM). */
function peakRssKiB(): number {
  return Number(/VmHWM:\s*(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]);
}

// ---------------------------------------------------------------- child mode

if (process.argv[2] === '--child') {
  const [op, image, dir] = process.argv.slice(3);
  if (op === 'readfile') {
    if (fs.readFileSync(image!).length !== fs.statSync(image!).size) throw new Error('short read');
  } else {
    const l = listImage(image!, {});
    if (op === 'extract') writeFilesToDir(l.files, dir!);
    if (l.files.length !== ZONES) throw new Error(`child ${op}: ${l.files.length} files`);
  }
  process.stderr.write(`\nmaxrss=${peakRssKiB()}\n`);
  process.exit(0);
}

// ---------------------------------------------------------------- measuring

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function seconds(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function spawnOk(cmd: string, args: string[], what: string): string {
  const r = spawnSync(cmd, args, { cwd: repoRoot, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}): ${r.stderr}`);
  return r.stderr;
}

function maxRssKiB(stderr: string): number {
  const m = /maxrss=(\d+)/.exec(stderr);
  if (!m) throw new Error(`no maxrss in: ${stderr.slice(-300)}`);
  return Number(m[1]);
}

const rounds = (() => {
  const i = process.argv.indexOf('--rounds');
  return i > 0 ? Math.max(1, Number(process.argv[i + 1])) : 5;
})();

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mtdpstore-bench-'));
try {
  const image = path.join(work, 'full.img');
  const built = writeFullImage(image);
  if (fs.statSync(image).size !== SIZE) throw new Error('image size');

  // Correctness before speed: every record listed, compressed ones decompressed.
  const check = listImage(image, {});
  if (check.files.length !== ZONES) throw new Error(`listed ${check.files.length} of ${ZONES} records`);
  const shown = check.files.reduce((a, f) => a + f.size, 0);
  if (shown !== built.shownBytes) throw new Error(`listed ${shown} bytes of text, expected ${built.shownBytes}`);
  if (check.files.some((f) => f.encrypted)) throw new Error('a compressed record was not decompressed');
  if (!check.files[0]!.data.equals(oopsText(0, check.files[0]!.size))) throw new Error('record 0 text differs');

  const cat = ['-c', 'cat "$0" > /dev/null', image];
  spawnOk('sh', cat, 'cat'); // warm the page cache
  const t = { cat: [] as number[], readfile: [] as number[], lsLib: [] as number[], exLib: [] as number[], lsCli: [] as number[], exCli: [] as number[] };
  const rss = { readfile: 0, lsLib: 0, exLib: 0, lsCli: 0, exCli: 0 };
  let sink = 0;
  for (let r = 0; r < rounds; r++) {
    const dir = (k: string) => path.join(work, `out-${k}-${r}`);
    t.cat.push(seconds(() => spawnOk('sh', cat, 'cat')));
    t.readfile.push(seconds(() => (sink ^= fs.readFileSync(image)[12345]!)));
    t.lsLib.push(seconds(() => (sink ^= listImage(image, {}).files.length)));
    t.exLib.push(seconds(() => writeFilesToDir(listImage(image, {}).files, dir('lib'))));
    let e = '';
    t.lsCli.push(seconds(() => (e = spawnOk(process.execPath, ['--import', 'tsx', '--import', RSS_HOOK, MAIN, 'ls', image, '--json'], 'ls --json'))));
    rss.lsCli = Math.max(rss.lsCli, maxRssKiB(e));
    t.exCli.push(seconds(() => (e = spawnOk(process.execPath, ['--import', 'tsx', '--import', RSS_HOOK, MAIN, 'extract', image, dir('cli')], 'extract'))));
    rss.exCli = Math.max(rss.exCli, maxRssKiB(e));
    if (fs.readdirSync(dir('cli')).length !== ZONES || fs.readdirSync(dir('lib')).length !== ZONES) throw new Error('extract wrote a wrong number of files');
    fs.rmSync(dir('cli'), { recursive: true });
    fs.rmSync(dir('lib'), { recursive: true });
  }
  // Peak RSS of the library calls, each in a fresh process (this one holds other state).
  const self = fileURLToPath(import.meta.url);
  const child = (op: string) => maxRssKiB(spawnOk(process.execPath, ['--import', 'tsx', self, '--child', op, image, path.join(work, `rss-${op}`)], `child ${op}`));
  rss.readfile = child('readfile');
  rss.lsLib = child('ls');
  rss.exLib = child('extract');

  const mbps = (xs: number[]) => SIZE / 1e6 / median(xs);
  const line = (name: string, xs: number[], base: number[], baseName: string) =>
    console.log(`bench ${name}: ${mbps(xs).toFixed(1)} MB/s (ratio ${(mbps(xs) / mbps(base)).toFixed(2)} vs ${baseName})`);
  const rssLine = (name: string, kib: number) =>
    console.log(`bench ${name}: ${(kib / 1024).toFixed(1)} MiB (ratio ${((kib * 1024) / SIZE).toFixed(2)} vs image-size)`);
  console.error(
    `# ${SIZE / 2 ** 20} MiB image, ${ZONES} zones of ${Z / 1024} KiB, ${built.compressed} compressed records; ` +
      `${(built.shownBytes / 2 ** 20).toFixed(1)} MiB of text shown; median of ${rounds} rounds; ${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; sink ${sink}`,
  );
  console.error(`# medians (s): ${Object.entries(t).map(([k, v]) => `${k} ${median(v).toFixed(3)}`).join(', ')}`);
  line('read-readfilesync', t.readfile, t.cat, 'cat');
  line('ls-library', t.lsLib, t.readfile, 'readFileSync');
  line('extract-library', t.exLib, t.readfile, 'readFileSync');
  line('ls-cli', t.lsCli, t.cat, 'cat');
  line('extract-cli', t.exCli, t.cat, 'cat');
  rssLine('rss-readfilesync', rss.readfile);
  rssLine('rss-ls-library', rss.lsLib);
  rssLine('rss-extract-library', rss.exLib);
  rssLine('rss-ls-cli', rss.lsCli);
  rssLine('rss-extract-cli', rss.exCli);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
