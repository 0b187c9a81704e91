/**
 * Runs the fuzzer in worker threads with a watchdog: each worker announces
 * every case before running it; a case that runs longer than its limit is a
 * hang — the worker is terminated (that works even inside an endless
 * synchronous loop) and the case is reported as it was generated, ready to
 * replay. Used by `npm test` (test/fuzz/fuzz.test.ts, bounded) and by
 * `npx tsx test/fuzz/run.ts` (long runs).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FuzzCase } from './oracle.js';
import type { WorkerInput, WorkerMessage, WorkerResult } from './worker.js';

export interface FuzzOptions {
  /** Total cases over all workers. */
  cases: number;
  workers: number;
  /** Base fast-check seed; worker i uses seed + i. */
  seed: number;
  /** Time budget of one library case (ms); over it is a failure. */
  budgetMs: number;
  /** A library case running longer than this (ms) is a hang: the worker is stopped. */
  hangMs: number;
  /** Share of cases (per mille) that also run the CLI. */
  cliPerMille: number;
  /** Time limit of one CLI process (ms). */
  cliTimeoutMs: number;
  /** Failure tags to count instead of failing on. */
  ignore: string[];
  /** Progress callback, called about every `progressEvery` cases. */
  progress?: (done: number, total: number, elapsedMs: number) => void;
  progressEvery?: number;
  /** Stop after this many failures/hangs (default 1); a long run can collect several. */
  maxFindings?: number;
  /** Self-test of the watchdog: the workers spin forever in their first case. */
  selfTestHang?: boolean;
}

export interface Hang {
  worker: number;
  ms: number;
  c: FuzzCase;
}

export interface FuzzSummary {
  ms: number;
  /** Cases completed (shrinking re-runs included), in every worker, hung ones too. */
  runs: number;
  results: WorkerResult[];
  hangs: Hang[];
  /** Workers that died for another reason (out of memory, uncaught error). */
  crashes: string[];
}

/** True if the run found nothing. */
export function passed(s: FuzzSummary): boolean {
  return s.hangs.length === 0 && s.crashes.length === 0 && s.results.every((r) => !r.failed);
}

function execArgv(): string[] {
  const a = [...process.execArgv].filter((x) => !x.startsWith('--test'));
  // Workers need the TypeScript loader too.
  return a.some((x) => x.includes('tsx')) ? a : [...a, '--import', 'tsx'];
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzSummary> {
  const t0 = performance.now();
  const hangs: Hang[] = [];
  const crashes: string[] = [];
  const results: WorkerResult[] = [];
  let done = 0;
  let nextReport = o.progressEvery ?? Infinity;
  const maxFindings = o.maxFindings ?? 1;
  const findings = () => hangs.length + crashes.length + results.filter((r) => r.failed).length;

  /** Run one worker for `numRuns` cases; resolves with the cases it finished. */
  const runWorker = (slot: number, seed: number, numRuns: number): Promise<number> => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mtdpstore-fuzz-w-'));
    const input: WorkerInput = { tmp, seed, numRuns, budgetMs: o.budgetMs, cliPerMille: o.cliPerMille, cliTimeoutMs: o.cliTimeoutMs, ignore: o.ignore, selfTestHang: o.selfTestHang };
    const w = new Worker(new URL('./worker-boot.mjs', import.meta.url), { workerData: input, execArgv: execArgv() });
    let current: { at: number; limit: number; c: FuzzCase } | null = null;
    let finished = false;
    let completed = 0;
    const dog = setInterval(() => {
      if (!current || finished) return;
      const ms = performance.now() - current.at;
      if (ms > current.limit) {
        hangs.push({ worker: slot, ms, c: current.c });
        finished = true;
        void w.terminate();
      }
    }, 200);
    return new Promise<number>((resolve) => {
      w.on('message', (m: WorkerMessage) => {
        if (current) {
          done++;
          completed++;
        }
        if (m.t === 'case') {
          current = { at: performance.now(), limit: m.cli ? o.hangMs + 2 * o.cliTimeoutMs : o.hangMs, c: m.c };
          if (o.progress && done >= nextReport) {
            o.progress(done, o.cases, performance.now() - t0);
            nextReport += o.progressEvery ?? Infinity;
          }
        } else {
          current = null;
          finished = true;
          results.push(m.result);
        }
      });
      w.on('error', (e) => {
        if (!finished) crashes.push(`worker ${slot}: ${e.stack ?? e.message}`);
        finished = true;
      });
      w.on('exit', () => {
        clearInterval(dog);
        fs.rmSync(tmp, { recursive: true, force: true });
        resolve(completed);
      });
    });
  };

  // Each slot runs its share; after a finding (failure, hang, crash) it goes on with a fresh
  // worker and seed for the cases left, until `maxFindings` findings were collected.
  const per = Math.ceil(o.cases / o.workers);
  const slots = Array.from({ length: o.workers }, async (_, i) => {
    let left = Math.min(per, o.cases - i * per);
    for (let attempt = 0; left > 0; attempt++) {
      const ran = await runWorker(i, o.seed + i + attempt * 1000, left);
      left -= Math.max(1, ran);
      if (findings() >= maxFindings) break;
    }
  });
  await Promise.all(slots);
  return { ms: performance.now() - t0, runs: done, results, hangs, crashes };
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** A human-readable report of a run (several lines). */
export function describeSummary(s: FuzzSummary, o: Pick<FuzzOptions, 'seed' | 'workers'>): string {
  const sum = (k: 'paths' | 'refusals' | 'ignored') => {
    const out: Record<string, number> = {};
    for (const r of s.results) for (const [x, n] of Object.entries(r[k])) out[x] = (out[x] ?? 0) + n;
    return Object.entries(out).map(([x, n]) => `${x} ${n}`).join(', ') || 'none';
  };
  const ms = s.results.flatMap((r) => r.caseMs);
  const cli = s.results.reduce((a, r) => a + r.cliCases, 0);
  const cliMs = s.results.reduce((a, r) => a + r.cliMs, 0);
  const lines = [
    `fuzz: ${s.runs} cases in ${(s.ms / 1000).toFixed(1)} s on ${o.workers} worker(s) (seed ${o.seed})`,
    `  library case time: median ${quantile(ms, 0.5).toFixed(1)} ms, p99 ${quantile(ms, 0.99).toFixed(1)} ms, max ${quantile(ms, 1).toFixed(1)} ms`,
    `  paths: ${sum('paths')}`,
    `  library refusals (PstoreError codes): ${sum('refusals')}`,
    `  cases over the time budget once, fine when re-run: ${s.results.reduce((a, r) => a + r.slowRetries, 0)}`,
    `  detection changed by the mutation: ${s.results.reduce((a, r) => a + r.detectionChanged, 0)}`,
    `  CLI cases: ${cli}${cli ? ` (mean ${(cliMs / cli).toFixed(0)} ms per process)` : ''}`,
  ];
  const skipped = s.results.reduce((a, r) => a + r.cliSkipped, 0);
  const why = s.results.find((r) => r.cliUnavailable)?.cliUnavailable;
  if (why) lines.push(`  CLI unavailable, ${skipped} CLI case(s) skipped: ${why}`);
  const ign = sum('ignored');
  if (ign !== 'none') lines.push(`  ignored failures (--ignore): ${ign}`);
  for (const r of s.results.filter((x) => x.failed)) {
    lines.push(`FAILURE (seed ${r.seed}, path ${r.path}): ${r.message}`);
    lines.push(`  replay: npx tsx test/fuzz/run.ts --replay '${JSON.stringify(r.counterexample)}'`);
  }
  for (const h of s.hangs) {
    lines.push(`HANG (worker ${h.worker}, stopped after ${h.ms.toFixed(0)} ms)`);
    lines.push(`  replay: npx tsx test/fuzz/run.ts --replay '${JSON.stringify(h.c)}'`);
  }
  for (const c of s.crashes) lines.push(`WORKER CRASH: ${c}`);
  return lines.join('\n');
}
