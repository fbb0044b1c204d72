#!/usr/bin/env node
// Runs every compiled benchmark (dist/bench/*.bench.js) one after another.
//   npm run bench                 all benchmarks
//   npm run bench -- relay routes only those whose file name contains a filter
// Benchmarks print their own method and medians; this runner only sequences
// them (never in parallel: the machine has 2 cores and results would mix).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, 'dist', 'bench');
const filters = process.argv.slice(2);
let files;
try {
  files = readdirSync(dir).filter((f) => f.endsWith('.bench.js')).sort();
} catch {
  console.error('no benchmarks built: run `npm run build` first');
  process.exit(1);
}
files = files.filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
let status = 0;
for (const f of files) {
  console.log(`\n=== ${f.replace(/\.js$/, '')} ===`);
  const r = spawnSync(process.execPath, ['--enable-source-maps', '--expose-gc', join(dir, f)], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`${f} exited ${r.status}`);
    status = 1;
  }
}
process.exit(status);
