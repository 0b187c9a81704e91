/**
 * Command-line entry of the hostile-input fuzzer.
 *
 *   npx tsx test/fuzz/run.ts --full                 100,000 cases on 2 workers
 *   npx tsx test/fuzz/run.ts --cases 5000 --seed 7  a shorter run
 *   npx tsx test/fuzz/run.ts --replay '<case JSON>' re-run one printed case
 *
 * Options: --cases N, --workers N (default 2), --seed N (default: time),
 * --budget MS (per library case, default 2000), --hang MS (default 10000),
 * --cli-permille N (share of cases that also spawn the CLI, default 5 = 0.5%),
 * --ignore TAG (repeatable: count failures of that property instead of stopping,
 * e.g. duplicate-name), --max-findings N (default 10: after a failure or hang a
 * fresh worker goes on with a new seed until N findings were collected).
 * Exit code 0 when nothing was found, 1 otherwise.
 */
import { cliAvailable, runCliCase } from './cli.js';
import { describeSummary, passed, runFuzz, type FuzzOptions } from './driver.js';
import { runLibraryCase, type FuzzCase } from './oracle.js';
import { loadSeeds } from './seeds.js';

function parse(argv: string[]): { o: FuzzOptions; replay?: string } {
  const o: FuzzOptions = {
    cases: 2000,
    workers: 2,
    seed: Date.now() % 2 ** 31,
    budgetMs: 2000,
    hangMs: 10_000,
    cliPerMille: 5,
    cliTimeoutMs: 60_000,
    ignore: [],
    progressEvery: 5000,
    maxFindings: 10,
  };
  let replay: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const int = (): number => {
      const v = Number(val());
      if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${a} needs a whole number`);
      return v;
    };
    if (a === '--full') o.cases = Math.max(o.cases, 100_000);
    else if (a === '--cases') o.cases = int();
    else if (a === '--workers') o.workers = Math.max(1, int());
    else if (a === '--seed') o.seed = int();
    else if (a === '--budget') o.budgetMs = int();
    else if (a === '--hang') o.hangMs = int();
    else if (a === '--cli-permille') o.cliPerMille = Math.min(1000, int());
    else if (a === '--ignore') o.ignore.push(val());
    else if (a === '--max-findings') o.maxFindings = Math.max(1, int());
    else if (a === '--replay') replay = val();
    else throw new Error(`unknown option ${a} (see the header of test/fuzz/run.ts)`);
  }
  return { o, replay };
}

const { o, replay } = parse(process.argv.slice(2));
if (replay) {
  const seeds = loadSeeds();
  const c = JSON.parse(replay) as FuzzCase;
  console.log(`replaying on seed image ${seeds[c.seed]!.name}`);
  const rep = runLibraryCase(seeds, c, o.budgetMs);
  console.log(`library: ok in ${rep.ms.toFixed(1)} ms (paths ${rep.paths.join(', ')}; refusals ${rep.refusals.join(', ') || 'none'})`);
  if (c.variant.cli) {
    if (!cliAvailable().ok) console.log(`CLI unavailable: ${cliAvailable().why}`);
    else console.log(`cli ${c.variant.cli}: ok in ${runCliCase(seeds, c, c.variant.cli, o.cliTimeoutMs).toFixed(0)} ms`);
  }
} else {
  console.log(`fuzz: ${o.cases} cases, ${o.workers} worker(s), seed ${o.seed}, CLI share ${o.cliPerMille / 10}%`);
  const s = await runFuzz({ ...o, progress: (d, t, ms) => console.log(`  ${d}/${t} cases, ${(ms / 1000).toFixed(0)} s`) });
  console.log(describeSummary(s, o));
  process.exitCode = passed(s) ? 0 : 1;
}
