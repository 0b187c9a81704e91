#!/usr/bin/env node
// Runs every benchmark in bench/ (or the ones named) one after the other, so
// they do not compete for the two cores, and passes their output through.
// Usage: node scripts/run-bench.mjs [name ...]   e.g. sim-throughput policy-workload
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const want = process.argv.slice(2);
const all = readdirSync('bench').filter((f) => f.endsWith('.ts')).sort();
const chosen = want.length ? all.filter((f) => want.some((w) => f.startsWith(w))) : all;
if (chosen.length === 0) {
  console.error(`no benchmark matches ${want.join(', ')}; available: ${all.join(', ')}`);
  process.exit(1);
}
let failed = 0;
for (const f of chosen) {
  console.error(`# bench/${f}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', `bench/${f}`], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
