#!/usr/bin/env node
// Runs the compiled tests with Node's own test runner.
//   node scripts/run-tests.mjs            unit, then integration (integration skips itself without root)
//   node scripts/run-tests.mjs unit       only unit tests
//   node scripts/run-tests.mjs integration
// Extra arguments after the suite name are passed as file filters (substring match).
// Around the integration suite, scripts/lab-guard.mjs removes network
// namespaces of earlier runs that are over and fails the run when one of its
// own is left behind.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterIntegration, beforeIntegration } from './lab-guard.mjs';

const root = new URL('..', import.meta.url).pathname;
const [suite, ...filters] = process.argv.slice(2);
const suites = suite ? [suite] : ['unit', 'integration'];

function walk(dir) {
  let out = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out; // suite folder not built yet: nothing to run
  }
  for (const name of entries.sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

// Ctrl-C or a TERM: pass it on to the test process and wait for it, so the
// leftover check below still runs and deletes what the interrupted tests left.
let interrupted;
let running;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    interrupted ??= sig;
    running?.kill(sig);
  });
}

/** Runs node with `args`; resolves with its exit status (1 when it died by a signal). */
function run(args, env) {
  return new Promise((resolve) => {
    running = spawn(process.execPath, args, { stdio: 'inherit', env });
    running.once('error', (err) => {
      console.error(`cannot start the test runner: ${err.message}`);
      resolve(1);
    });
    running.once('exit', (code) => resolve(code ?? 1));
  });
}

let status = 0;
for (const s of suites) {
  if (interrupted) break;
  const files = walk(join(root, 'dist', 'test', s)).filter(
    (f) => filters.length === 0 || filters.some((x) => f.includes(x)),
  );
  if (files.length === 0) {
    console.error(`no ${s} tests found under dist/test/${s} (did the build run?)`);
    status = 1;
    continue;
  }
  // Integration tests build network namespaces; running them one file at a time
  // keeps their lab names and kernel state from interfering.
  const args = ['--enable-source-maps', '--test', '--test-reporter=spec'];
  if (s === 'integration') args.push('--test-concurrency=1');
  const log = (line) => console.error(line);
  const env = s === 'integration' ? { ...process.env, ...(await beforeIntegration(root, log)) } : process.env;
  const code = await run([...args, ...files], env);
  if (code !== 0) status = code;
  if (s === 'integration' && !(await afterIntegration(root, log, { interrupted }))) status = 1;
}
process.exit(interrupted ? 130 : status);
