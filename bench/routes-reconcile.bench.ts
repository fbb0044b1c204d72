/**
 * A whole routes reconcile against a real kernel, in a lab network
 * namespace: dump rules, routes and addresses over rtnetlink, compute the
 * desired state, plan, apply the batch. For 1,000 pools (1,000 IPv4
 * prefixes: every aligned /32../24 of 198.51.100.0/24 and 203.0.113.0/24)
 * and 10,000 pools (those 1,022 IPv4 prefixes plus 8,978 IPv6 /128s from
 * 2001:db8:1::/48), four peers per family on the node's veth.
 *
 * - from empty: the kernel holds none of pathguard's objects (removed, not
 *   timed, before each run); the reconcile adds 2 routes and every rule;
 * - no-op: the kernel already matches; the reconcile dumps, plans, changes nothing;
 * - whole process: `pathguard routes --once` as a new process (Node start-up,
 *   module loading, file read and parse included), from empty and no-op; and
 *   `pathguard --version` alone, the start-up floor under that figure.
 *
 * In-process figures are the Reconciler's own durationMs (from the start of
 * the kernel dump to the last ACK), with logging off; median of RUNS runs
 * after one warm-up. Targets: 1,000 pools from empty <= 100 ms, no-op
 * <= 20 ms; 10,000 pools from empty <= 1 s. Needs root (network namespaces).
 *
 *   node dist/bench/routes-reconcile.bench.js [--json] [--runs N]
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../src/obs/log.js';
import { RoutesKernel, operations } from '../src/routes/kernel.js';
import { plan } from '../src/routes/plan.js';
import { Reconciler, type ReconcileReport } from '../src/routes/reconciler.js';
import { labUnavailable, withLab } from '../test/harness/netns.js';
import { metallbYaml, NODE, PEERS4, PEERS6, poolPrefixes, poolsOf, routesLab, StaticSource, testConfig } from '../test/integration/routes/helpers/routes-lab.js';

const argRuns = process.argv.indexOf('--runs');
const RUNS = argRuns > 0 ? Number(process.argv[argRuns + 1]) : 7;
const PROCESS_RUNS = 5;
const SIZES = [1000, 10000];
const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

interface Row {
  pools: number;
  rules: number;
  fromEmpty: number;
  noop: number;
  fromEmptyCpu: number;
  noopCpu: number;
  processFromEmpty: number;
  processNoop: number;
}

/** Wall time of `pathguard --version`: Node start-up and loading every command's modules, the floor under any whole-process figure. */
function startupFloor(): number {
  const runs: number[] = [];
  for (let i = 0; i < PROCESS_RUNS; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [MAIN, '--version'], { encoding: 'utf8' });
    runs.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`--version exited ${r.status}: ${r.stderr}`);
  }
  return median(runs);
}

async function clean(kernel: RoutesKernel): Promise<void> {
  const p = plan({ rules: [], routes: [] }, await kernel.snapshot(20), { table: 20 });
  const failed = (await kernel.apply(operations(p))).filter((r) => !r.ok);
  if (failed.length > 0) throw new Error(`cleaning failed: ${failed.length} errors`);
}

function check(r: ReconcileReport, want: ReconcileReport['outcome']): ReconcileReport {
  if (r.outcome !== want || r.problems.some((p) => p.severity !== 'notice')) {
    throw new Error(`expected ${want}, got ${r.outcome}: ${JSON.stringify(r.problems.slice(0, 3))} ${r.failures.slice(0, 3).map((f) => f.error.message)}`);
  }
  return r;
}

async function timed(fn: () => Promise<ReconcileReport>): Promise<{ ms: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const r = await fn();
  const c = process.cpuUsage(c0);
  return { ms: r.durationMs, cpu: (c.user + c.system) / 1000 };
}

async function main(): Promise<void> {
  const why = labUnavailable();
  if (why) {
    console.log(`routes-reconcile: skipped (${why})`);
    return;
  }
  const load0 = loadavg();
  const rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'pg-bench-routes-'));
  try {
    await withLab('bench', async (lab) => {
      const { node } = await routesLab(lab);
      const kernel = RoutesKernel.open({ netns: node.path });
      const log = createLogger({ level: 'silent' });
      try {
        for (const n of SIZES) {
          const text = metallbYaml({ pools: poolsOf(poolPrefixes(n)), peers: [...PEERS4, ...PEERS6] });
          const file = join(dir, `metallb-${n}.yaml`);
          writeFileSync(file, text);
          const source = new StaticSource(text);
          const reconciler = new Reconciler({ cfg: testConfig(), kernel, source, log });
          const fromEmpty: { ms: number; cpu: number }[] = [];
          const noop: { ms: number; cpu: number }[] = [];
          let rules = 0;
          for (let i = 0; i <= RUNS; i++) {
            await clean(kernel);
            const t = await timed(async () => check(await reconciler.reconcile('bench'), 'applied'));
            const u = await timed(async () => check(await reconciler.reconcile('bench'), 'unchanged'));
            if (i === 0) continue; // warm-up
            fromEmpty.push(t);
            noop.push(u);
          }
          const last = await reconciler.reconcile('bench');
          rules = (last.installed?.rules.ipv4 ?? 0) + (last.installed?.rules.ipv6 ?? 0);

          // whole process: `pathguard routes --once` inside the namespace
          const once = (): number => {
            const t0 = performance.now();
            const r = spawnSync('ip', ['netns', 'exec', node.name, process.execPath, MAIN, 'routes', '--once', '--node-name', NODE, '--metallb-file', file, '--log-level', 'warn'], { encoding: 'utf8' });
            const ms = performance.now() - t0;
            if (r.status !== 0) throw new Error(`routes --once exited ${r.status}: ${r.stderr}`);
            return ms;
          };
          const pFrom: number[] = [];
          const pNoop: number[] = [];
          for (let i = 0; i < PROCESS_RUNS; i++) {
            await clean(kernel);
            pFrom.push(once());
            pNoop.push(once());
          }
          rows.push({
            pools: n,
            rules,
            fromEmpty: median(fromEmpty.map((x) => x.ms)),
            noop: median(noop.map((x) => x.ms)),
            fromEmptyCpu: median(fromEmpty.map((x) => x.cpu)),
            noopCpu: median(noop.map((x) => x.cpu)),
            processFromEmpty: median(pFrom),
            processNoop: median(pNoop),
          });
          await clean(kernel);
        }
      } finally {
        kernel.close();
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const floor = startupFloor();
  const load1 = loadavg();
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ runs: RUNS, processRuns: PROCESS_RUNS, loadavg: { before: load0, after: load1 }, startupFloorMs: floor, rows }));
    return;
  }
  console.log(`routes reconcile against the kernel (lab namespace, rtnetlink), median of ${RUNS} runs after a warm-up;`);
  console.log(`in-process = Reconciler durationMs (dump + desired + plan + apply), logging off; process = \`routes --once\` wall time, median of ${PROCESS_RUNS}`);
  console.log(`load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${load1.map((x) => x.toFixed(2)).join(' ')} (${process.env['CI'] ? 'CI' : 'shared machine'}, 2 cores)`);
  console.log('pools   rules   from empty ms (cpu)   no-op ms (cpu)   process from empty ms   process no-op ms');
  for (const r of rows) {
    console.log(
      `${String(r.pools).padStart(5)}  ${String(r.rules).padStart(6)}  ${`${r.fromEmpty.toFixed(1)} (${r.fromEmptyCpu.toFixed(1)})`.padStart(20)}  ${`${r.noop.toFixed(1)} (${r.noopCpu.toFixed(1)})`.padStart(15)}  ${r.processFromEmpty.toFixed(0).padStart(22)}  ${r.processNoop.toFixed(0).padStart(17)}`,
    );
  }
  console.log(`process start-up floor (\`pathguard --version\`: Node and every command's modules): ${floor.toFixed(0)} ms`);
  const t1k = rows.find((r) => r.pools === 1000);
  const t10k = rows.find((r) => r.pools === 10000);
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  if (t1k) console.log(`targets: 1,000 from empty <= 100 ms ${verdict(t1k.fromEmpty <= 100)}; 1,000 no-op <= 20 ms ${verdict(t1k.noop <= 20)}`);
  if (t10k) console.log(`         10,000 from empty <= 1 s ${verdict(t10k.fromEmpty <= 1000)}`);
}

await main();
