#!/usr/bin/env node
// Finds test files and hands them to node's own test runner through tsx.
// Node 20's `--test` cannot glob TypeScript files itself, hence this script.
// Usage: node scripts/run-tests.mjs [dir-or-file ...]   (default: test/, without test/kernel, which has its own stage)
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const roots = args.length ? args : ['test'];
const skip = args.length ? new Set() : new Set(['test/kernel']);
const files = [];
function walk(p) {
  if (skip.has(p)) return;
  const st = statSync(p);
  if (st.isDirectory()) for (const e of readdirSync(p).sort()) walk(join(p, e));
  else if (/\.test\.ts$/.test(p)) files.push(p);
}
for (const r of roots) walk(r);
if (files.length === 0) {
  console.error(`no test files under ${roots.join(', ')}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
