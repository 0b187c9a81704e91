import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const fixturesDir = path.resolve(repoRoot, '../shared/fixtures');
const MAIN_TS = path.join(repoRoot, 'src/cli/main.ts');
const MAIN_JS = path.join(repoRoot, 'dist/cli/main.js');

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

/**
 * The built CLI starts several times faster than the TypeScript source
 * through tsx; use it whenever it is up to date with src/ (`npm test` builds first).
 */
const CLI_ARGS: string[] =
  fs.existsSync(MAIN_JS) && fs.statSync(MAIN_JS).mtimeMs >= newestMtime(path.join(repoRoot, 'src')) ? [MAIN_JS] : ['--import', 'tsx', MAIN_TS];

export interface CliResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Run the CLI as a user would (a separate process). */
export function cli(args: string[], opts: { input?: Buffer | string; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...CLI_ARGS, ...args], { cwd: opts.cwd ?? repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => err.push(d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }));
    p.stdin.end(opts.input ?? '');
  });
}

export function tmpDir(prefix = 'mtdpstore-cli-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Gunzip a fixture image into a temp file and return its path. */
export function fixtureImage(scenario: string, state: string, dir: string): string {
  const p = path.join(dir, `${scenario}-${state}.img`);
  fs.writeFileSync(p, gunzipSync(fs.readFileSync(path.join(fixturesDir, scenario, 'images', `${state}.img.gz`))));
  return p;
}

export function sha256(p: string): string {
  return createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}

export interface ExpectedFile {
  name: string;
  size: number;
  mtime_sec: number;
  mtime_nsec: number;
  zone: number;
  counter: number;
  reason: string;
  compressed_on_media: boolean;
}

export interface FixtureState {
  scenario: string;
  name: string;
  expected?: string;
  expected_files?: ExpectedFile[];
}

/** Every fixture state that has a kernel-read view. */
export function fixtureStates(): FixtureState[] {
  const out: FixtureState[] = [];
  for (const sc of fs.readdirSync(fixturesDir).sort()) {
    const metaPath = path.join(fixturesDir, sc, 'meta.json');
    if (!fs.existsSync(metaPath)) continue;
    const meta = JSON.parse(fs.readFileSync(metaPath, 'utf8')) as { states: FixtureState[] };
    for (const st of meta.states) if (st.expected) out.push({ ...st, scenario: sc });
  }
  return out;
}

/** Run async jobs with a small concurrency (2 cores). */
export async function pool<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}
