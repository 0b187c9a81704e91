/**
 * One fuzzing worker thread: runs `numRuns` fast-check cases from its own
 * seed, announcing each case to the parent before running it (so the
 * parent's watchdog can name a case that hangs), and reports statistics and
 * any failure (shrunk counterexample) at the end.
 */
import { parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { cliAvailable, runCliCase } from './cli.js';
import { ignoredCounts, ignoredTags } from './guards.js';
import { fuzzCaseArb, runLibraryCaseTimed, useWorkDir, type FuzzCase } from './oracle.js';
import { loadSeeds } from './seeds.js';

/** What the parent passes in. */
export interface WorkerInput {
  seed: number;
  numRuns: number;
  budgetMs: number;
  cliPerMille: number;
  cliTimeoutMs: number;
  ignore: string[];
  /** Self-test of the watchdog: spin forever in the first case. */
  selfTestHang?: boolean;
  /** Temporary directory owned by the parent (it survives a terminated worker and is removed by the parent). */
  tmp: string;
}

/** Messages to the parent. */
export type WorkerMessage =
  | { t: 'case'; n: number; cli: boolean; c: FuzzCase }
  | { t: 'done'; result: WorkerResult };

export interface WorkerResult {
  seed: number;
  /** Property runs, including the re-runs of shrinking. */
  runs: number;
  failed: boolean;
  message?: string;
  counterexample?: FuzzCase;
  /** fast-check replay path. */
  path?: string;
  paths: Record<string, number>;
  refusals: Record<string, number>;
  detectionChanged: number;
  cliCases: number;
  cliSkipped: number;
  cliMs: number;
  caseMs: number[];
  ignored: Record<string, number>;
  cliUnavailable?: string;
  /** Cases over budget once but not on the re-run. */
  slowRetries: number;
}

const input = workerData as WorkerInput;
useWorkDir(input.tmp);
for (const t of input.ignore) ignoredTags.add(t);
const seeds = loadSeeds();
const res: WorkerResult = {
  seed: input.seed, runs: 0, failed: false, paths: {}, refusals: {}, detectionChanged: 0,
  cliCases: 0, cliSkipped: 0, cliMs: 0, caseMs: [], ignored: {}, slowRetries: 0,
};
const bump = (o: Record<string, number>, k: string) => (o[k] = (o[k] ?? 0) + 1);
const cli = input.cliPerMille > 0 ? cliAvailable() : { ok: false, why: 'not asked for' };
if (input.cliPerMille > 0 && !cli.ok) res.cliUnavailable = cli.why;

const prop = fc.property(fuzzCaseArb(seeds, input.cliPerMille), (c) => {
  res.runs++;
  parentPort!.postMessage({ t: 'case', n: res.runs, cli: c.variant.cli !== null && cli.ok, c } satisfies WorkerMessage);
  if (input.selfTestHang) for (;;);
  const rep = runLibraryCaseTimed(seeds, c, input.budgetMs, () => res.slowRetries++);
  res.caseMs.push(rep.ms);
  for (const p of rep.paths) bump(res.paths, p);
  for (const r of rep.refusals) bump(res.refusals, r);
  if (rep.detectionChanged) res.detectionChanged++;
  if (c.variant.cli) {
    if (!cli.ok) res.cliSkipped++;
    else {
      res.cliMs += runCliCase(seeds, c, c.variant.cli, input.cliTimeoutMs);
      res.cliCases++;
      bump(res.paths, `cli-${c.variant.cli}`);
    }
  }
});
const r = fc.check(prop, { seed: input.seed, numRuns: input.numRuns });
if (r.failed) {
  res.failed = true;
  const e = r.errorInstance as Error | undefined;
  res.message = e?.message ?? `fast-check stopped: ${JSON.stringify(r).slice(0, 300)}`;
  res.counterexample = r.counterexample?.[0];
  res.path = r.counterexamplePath ?? undefined;
}
res.ignored = Object.fromEntries(ignoredCounts);
parentPort!.postMessage({ t: 'done', result: res } satisfies WorkerMessage);
