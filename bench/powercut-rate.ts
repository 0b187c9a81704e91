/**
 * Power-cut campaign throughput: campaign cases per second (restore, cut
 * run, reboot checks with a fresh session, next-dump check), against the
 * rate at which the same workload runs uncut from a fresh device, measured
 * in the same process. The ratio says what one cut point costs compared
 * with one run of the whole workload (cases start from the snapshot of the
 * boot that contains the cut, so a case costs about one boot, not the
 * whole prefix).
 *
 * Workload: the default campaign's NAND one (1 MiB, 128 KiB blocks, 2 KiB
 * pages, 64 KiB zones; 24 boots, seed 1), hardened policy, three tear
 * shapes per operation.
 *
 * Run: npx tsx bench/powercut-rate.ts [boots] [seed] [policy]
 */
import { runCampaign, runUncut } from '../test/powercut/campaign.js';
import { GEOMETRIES } from '../test/powercut/workload.js';
import type { MtdPstorePolicy } from '../src/mtdpstore/backend.js';

function main(): void {
  const boots = Number(process.argv[2] ?? 24);
  const seed = Number(process.argv[3] ?? 1);
  const policy = (process.argv[4] ?? 'hardened') as MtdPstorePolicy;
  const g = GEOMETRIES.nand!;

  // Baseline: uncut workload runs per second, measured before and after the campaign (at least 1 s and
  // 5 runs each, after one warm-up run) so that load changes on a shared machine hit both figures alike.
  const baseline = (): { runs: number; ms: number } => {
    let runs = 0;
    const t = performance.now();
    while (runs < 5 || performance.now() - t < 1000) {
      runUncut(g, policy, seed, boots);
      runs++;
    }
    return { runs, ms: performance.now() - t };
  };
  runUncut(g, policy, seed, boots);
  const b1 = baseline();
  const t0 = performance.now();
  const r = runCampaign({ geometry: g, policy, seed, boots });
  const sec = (performance.now() - t0) / 1000;
  const b2 = baseline();
  const runs = b1.runs + b2.runs;
  const runsPerSec = runs / ((b1.ms + b2.ms) / 1000);
  const casesPerSec = r.cases / sec;
  if (r.unexpected.length) throw new Error(`campaign failed: ${r.unexpected[0]}`);

  console.log(`bench powercut-cases: ${casesPerSec.toFixed(1)} cases/s (ratio ${(casesPerSec / runsPerSec).toFixed(3)} vs ${runsPerSec.toFixed(1)})`);
  console.log(`# ${g.name} ${policy} seed ${seed}, ${boots} boots: ${r.ops} operations, ${r.cases} cases in ${sec.toFixed(1)} s (lost ${r.lost}, resurrected ${r.resurrected}, wedged ${r.wedged}); baseline ${runs} uncut runs`);
}

main();
