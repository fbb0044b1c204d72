/**
 * Cost of the pure part of a routes reconcile: MetalLB model → desired state
 * → plan, for 1,000 and 10,000 pools, from an empty kernel and against a
 * kernel that already matches (the no-op every periodic reconcile is).
 * Median of 7 runs after one warm-up. The whole reconcile, kernel I/O
 * included, has a budget of 100 ms from empty and 20 ms for a no-op at
 * 1,000 pools; this part must be a small fraction of that.
 *
 *   node dist/bench/routes-plan.bench.js [--json]
 */
import { parseResources, type MetallbModel } from '../src/routes/metallb.js';
import { desiredState, type DesiredOptions } from '../src/routes/desired.js';
import { plan, isNoop, type Snapshot } from '../src/routes/plan.js';
import { AF, DEFAULT_METRIC, type KernelRoute, type KernelRule } from '../src/routes/objects.js';

const RUNS = 7;
const OPTS: DesiredOptions = { table: 20, priority: 20, suppress: true, peerWeight: { default: 100 } };
const NODE = { name: 'node-1', labels: { 'kubernetes.io/hostname': 'node-1', rack: 'r1' } };

/** n pools: mostly one IPv4 /28 each (from 10.0.0.0/8 arithmetic spread over the test ranges' shape), every 4th a range, every 5th an IPv6 /120 too. */
function resources(n: number) {
  const ipAddressPools = [];
  for (let i = 0; i < n; i++) {
    // 16 addresses per pool, spread over 100.64.0.0/10-sized space rendered from integers
    const base = (0xc6120000 + i * 16) >>> 0; // 198.18.0.0/15 (benchmarking range, RFC 2544) and up
    const a = (x: number) => `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;
    const addresses = i % 4 === 0 ? [`${a(base + 1)}-${a(base + 14)}`] : [`${a(base)}/28`];
    if (i % 5 === 0) addresses.push(`2001:db8:${(i >> 8).toString(16)}:${(i & 255).toString(16)}::/120`);
    ipAddressPools.push({ metadata: { name: `pool-${i}`, labels: { team: `t${i % 7}` } }, spec: { addresses } });
  }
  return {
    ipAddressPools,
    bgpAdvertisements: [{ metadata: { name: 'all' } }, { metadata: { name: 'teams' }, spec: { ipAddressPoolSelectors: [{ matchExpressions: [{ key: 'team', operator: 'In', values: ['t1', 't2'] }] }] } }],
    bgpPeers: [
      { metadata: { name: 'tor-a' }, spec: { peerAddress: '192.0.2.1' } },
      { metadata: { name: 'tor-b' }, spec: { peerAddress: '192.0.2.2' } },
      { metadata: { name: 'tor-a6' }, spec: { peerAddress: '2001:db8::1' } },
      { metadata: { name: 'tor-b6' }, spec: { peerAddress: '2001:db8::2' } },
    ],
    l2Advertisements: [],
  };
}

/**
 * A rule the way a decoder builds it: fixed fields first, then each
 * attribute found, one assignment at a time; the kernel reports an unset
 * suppress_prefixlength as 0xffffffff. (Not with object spread: V8 in Node 20
 * makes reads of absent properties on spread-built objects ~40x slower.)
 */
function decodedRule(r: KernelRule): KernelRule {
  const k: { -readonly [K in keyof KernelRule]: KernelRule[K] } = { family: r.family, priority: r.priority, table: r.table, protocol: r.protocol };
  if (r.src !== undefined) k.src = r.src;
  if (r.fwmark !== undefined) k.fwmark = r.fwmark;
  if (r.fwmask !== undefined) k.fwmask = r.fwmask;
  k.suppressPrefixlen = r.suppressPrefixlen ?? 0xffffffff;
  return k;
}

/** The kernel's view after the desired state was applied, as a dump reports it, plus unrelated main-table routes and default rules. */
function kernelMatching(model: MetallbModel): Snapshot {
  const d = desiredState(model, NODE, OPTS);
  const rules: KernelRule[] = [
    { family: AF.INET, priority: 0, table: 255, protocol: 2 },
    { family: AF.INET, priority: 32766, table: 254, protocol: 2 },
    { family: AF.INET, priority: 32767, table: 253, protocol: 2 },
    ...d.rules.map(decodedRule),
  ];
  const routes: KernelRoute[] = d.routes.map((r) => ({
    family: r.family,
    table: r.table,
    dst: r.dst,
    nexthops: r.nexthops.map((h) => ({ gateway: h.gateway, weight: h.weight, oif: 2 })),
    protocol: r.protocol,
    metric: DEFAULT_METRIC[r.family],
  }));
  for (let i = 0; i < 200; i++) routes.push({ family: AF.INET, table: 254, dst: `192.0.2.${i}/32`, nexthops: [{ gateway: '192.0.2.1', weight: 1, oif: 2 }], protocol: 2 });
  return { rules, routes };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/** Median wall time and median CPU time (user + system) of RUNS runs: on a shared machine CPU time is the steadier of the two. */
function time(fn: () => void): { wall: number; cpu: number } {
  fn(); // warm-up
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

interface Row {
  pools: number;
  rules: number;
  parse: { wall: number; cpu: number };
  fromEmpty: { wall: number; cpu: number };
  noop: { wall: number; cpu: number };
}

const rows: Row[] = [];
for (const n of [1000, 10000]) {
  const res = resources(n);
  const model = parseResources(res);
  if (model.problems.length > 0) throw new Error(`bench input has problems: ${JSON.stringify(model.problems[0])}`);
  const empty: Snapshot = { rules: [], routes: [] };
  const matching = kernelMatching(model);
  const check = plan(desiredState(model, NODE, OPTS), matching, { table: 20 });
  if (!isNoop(check)) throw new Error('the matching kernel state does not plan to a no-op');
  rows.push({
    pools: n,
    rules: desiredState(model, NODE, OPTS).rules.length,
    parse: time(() => parseResources(res)),
    fromEmpty: time(() => plan(desiredState(model, NODE, OPTS), empty, { table: 20 })),
    noop: time(() => plan(desiredState(model, NODE, OPTS), matching, { table: 20 })),
  });
}

if (process.argv.includes('--json')) console.log(JSON.stringify(rows));
else {
  console.log(`routes pure reconcile, median of ${RUNS} runs, ms wall / ms CPU`);
  console.log('pools   rules          parse   desired+plan from empty   desired+plan no-op');
  const f = (t: { wall: number; cpu: number }, w: number) => `${t.wall.toFixed(2)} / ${t.cpu.toFixed(2)}`.padStart(w);
  for (const r of rows) console.log(`${String(r.pools).padStart(5)}  ${String(r.rules).padStart(6)}  ${f(r.parse, 13)}  ${f(r.fromEmpty, 24)}  ${f(r.noop, 19)}`);
}
