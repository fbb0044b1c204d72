/**
 * Cost of `pathguard doctor` on a big node: 10,000 routes and 5,000
 * nftables rules. Budget: under 1 s.
 *
 * 1. checks: a saved snapshot of that size is decoded (JSON.parse + the zod
 *    decoder) and every check runs on it, as `--snapshot` does and as the
 *    agent does every --doctor-interval. Median of 7 runs after a warm-up,
 *    each on a freshly decoded snapshot (nothing memoised across runs).
 * 2. end to end (root only): a network namespace holding 10,000 routes and
 *    5,000 nftables rules, and `ip netns exec NS pathguard doctor --json`
 *    timed as a whole process (start-up, rtnetlink dumps, /proc/sys, nft -j,
 *    iptables-save, checks, output). Median of 5 runs after a warm-up.
 *
 *   node dist/bench/doctor.bench.js [--json]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeSnapshot, type Snapshot } from '../src/doctor/snapshot.js';
import { runChecks } from '../src/doctor/run.js';
import { NO_INPUTS } from '../src/doctor/finding.js';
import { parsePrefix } from '../src/routes/prefix.js';

const ROUTES = 10_000;
const NFT_RULES = 5_000;
const MAIN = fileURLToPath(new URL('../test/harness/doctor-main.js', import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/** 10.x addresses rendered from an integer (bench data never reaches a network). */
function v4(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

/** nft rule expressions in the shapes a busy node has: address drops, port accepts, ct state, ICMP, jumps, logs. */
function nftRule(i: number, chain: string): Record<string, unknown> {
  const m = (left: unknown, right: unknown, op = '==') => ({ match: { op, left, right } });
  const shapes: unknown[][] = [
    [m({ payload: { protocol: 'ip', field: 'saddr' } }, { prefix: { addr: v4(i * 256), len: 24 } }), { counter: { packets: 0, bytes: 0 } }, { drop: null }],
    [m({ payload: { protocol: 'tcp', field: 'dport' } }, 1000 + (i % 60000)), { accept: null }],
    [m({ meta: { key: 'iifname' } }, `cali${i}`), m({ ct: { key: 'state' } }, ['established', 'related'], 'in'), { accept: null }],
    [m({ payload: { protocol: 'icmp', field: 'type' } }, { set: ['echo-request', 'timestamp-request'] }), { accept: null }],
    [m({ meta: { key: 'mark' } }, 0x4000 + i), { jump: { target: 'sub' } }],
    [m({ payload: { protocol: 'udp', field: 'dport' } }, 4789), { log: { group: 5 } }],
  ];
  return { rule: { family: 'inet', table: 'big', chain, handle: i + 10, expr: shapes[i % shapes.length] } };
}

function bigSnapshot(): Snapshot {
  const links: Snapshot['links'] = [
    { index: 1, name: 'lo', type: 772, mtu: 65536, up: true, lowerUp: true },
    { index: 2, name: 'eth0', type: 1, mtu: 1500, up: true, lowerUp: true },
    { index: 3, name: 'flannel.1', kind: 'vxlan', type: 1, mtu: 1450, up: true, lowerUp: true, tunnel: { id: 1, local: '192.0.2.10', port: 8472 } },
    { index: 4, name: 'cni0', kind: 'bridge', type: 1, mtu: 1450, up: true, lowerUp: true },
  ];
  for (let i = 0; i < 200; i++) links.push({ index: 5 + i, name: `veth${i}`, kind: 'veth', type: 1, mtu: 1450, up: true, lowerUp: true, master: 4, slaveKind: 'bridge' });
  const routes: Snapshot['routes'] = [
    { family: 4, table: 254, dst: '0.0.0.0/0', type: 1, protocol: 4, scope: 0, oif: 2, gateway: '192.0.2.1' },
    { family: 4, table: 254, dst: '192.0.2.0/24', type: 1, protocol: 2, scope: 253, oif: 2 },
  ];
  while (routes.length < ROUTES) {
    const i = routes.length;
    if (i % 10 === 0) routes.push({ family: 4, table: 20, dst: `${v4(i * 16)}/28`, type: 1, protocol: 186, scope: 0, nexthops: [{ oif: 2, gateway: '192.0.2.2', weight: 1 }, { oif: 2, gateway: '192.0.2.3', weight: 1 }] });
    else if (i % 10 === 1) routes.push({ family: 6, table: 254, dst: `2001:db8:${(i & 0xffff).toString(16)}::/64`, type: 1, protocol: 4, scope: 0, oif: 2, gateway: '2001:db8:1::1', priority: 1024 });
    else routes.push({ family: 4, table: 254, dst: `${v4(i)}/32`, type: 1, protocol: 4, scope: 0, oif: 3, gateway: v4(i) });
  }
  const nftables: Record<string, unknown>[] = [
    { table: { family: 'inet', name: 'big' } },
    { chain: { family: 'inet', table: 'big', name: 'input', type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
    { chain: { family: 'inet', table: 'big', name: 'forward', type: 'filter', hook: 'forward', prio: 0, policy: 'accept' } },
    { chain: { family: 'inet', table: 'big', name: 'sub' } },
  ];
  for (let i = 0; i < NFT_RULES; i++) nftables.push(nftRule(i, i % 6 === 4 ? 'input' : i % 3 === 0 ? 'input' : i % 3 === 1 ? 'forward' : 'sub'));
  const s: Snapshot = {
    version: 1,
    takenAt: new Date(0).toISOString(),
    kernel: { release: 'bench' },
    links,
    addresses: [{ ifindex: 2, family: 4, address: '192.0.2.10', prefixlen: 24, scope: 0 }, { ifindex: 1, family: 4, address: '198.51.100.200', prefixlen: 32, scope: 0 }],
    routes,
    rules: Array.from({ length: 500 }, (_, i) => ({ family: 4 as const, priority: 20, src: `${v4(i * 16)}/28`, table: 20, action: 1 })),
    neighbours: [],
    sysctls: { 'net.ipv4.conf.all.rp_filter': '1', 'net.ipv4.tcp_mtu_probing': '0', 'net.ipv4.fib_multipath_use_neigh': '0', 'net.ipv4.ip_forward': '1' },
    nftables,
    conntrack: { count: 1000, max: 262144 },
    problems: [],
  };
  return s;
}

function pure(): { decodeMs: number; checksMs: number; totalMs: number; findings: number } {
  const text = JSON.stringify(bigSnapshot());
  const inputs = { ...NO_INPUTS, bgpPools: [{ name: 'p', prefixes: [parsePrefix('10.0.0.0/20')!] }] };
  const once = () => {
    const t0 = performance.now();
    const s = decodeSnapshot(text);
    const t1 = performance.now();
    const r = runChecks(s, inputs);
    const t2 = performance.now();
    return { decode: t1 - t0, checks: t2 - t1, total: t2 - t0, findings: r.findings.length };
  };
  once();
  const runs = Array.from({ length: 7 }, once);
  return { decodeMs: median(runs.map((r) => r.decode)), checksMs: median(runs.map((r) => r.checks)), totalMs: median(runs.map((r) => r.total)), findings: runs[0]!.findings };
}

function endToEnd(): { ms: number; cpuMs: number; checksMs: number; routes: number; nftRules: number; load: number } | { skipped: string } {
  if (process.getuid?.() !== 0) return { skipped: 'needs root (network namespace)' };
  const ns = `pgt-dbench-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'pgt-dbench-'));
  try {
    execFileSync('ip', ['netns', 'add', ns]);
    const ip = (...a: string[]) => execFileSync('ip', ['-n', ns, ...a]);
    ip('link', 'add', 'name', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p'); // no dummy module on every kernel
    ip('link', 'set', 'eth0p', 'up');
    ip('link', 'set', 'eth0', 'up');
    ip('addr', 'add', '192.0.2.10/24', 'dev', 'eth0');
    const batch: string[] = ['route add default via 192.0.2.1'];
    for (let i = 1; i < ROUTES; i++) batch.push(`route add ${v4(i)}/32 via 192.0.2.1`);
    writeFileSync(join(dir, 'routes'), `${batch.join('\n')}\n`);
    execFileSync('ip', ['-n', ns, '-batch', join(dir, 'routes')]);
    const lines = ['table inet big {', ' chain input { type filter hook input priority 0; policy accept;', ' }', ' chain sub {', ' }', '}'];
    const rules: string[] = [];
    for (let i = 0; i < NFT_RULES; i++) {
      const shape = [`ip saddr ${v4(i * 256)}/24 counter drop`, `tcp dport ${1000 + (i % 60000)} accept`, `iifname "cali${i}" ct state established,related accept`, 'icmp type { echo-request, timestamp-request } accept', `meta mark ${0x4000 + i} jump sub`][i % 5];
      // jumps only from input: a jump from sub to itself is a loop nft refuses (ELOOP)
      rules.push(`add rule inet big ${i % 2 === 0 || i % 5 === 4 ? 'input' : 'sub'} ${shape}`);
    }
    writeFileSync(join(dir, 'rules.nft'), `${lines.join('\n')}\n${rules.join('\n')}\n`);
    execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', join(dir, 'rules.nft')], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 20 });
    // GNU time reports the CPU the whole process tree used (doctor, nft, iptables-save): on a loaded
    // machine that is the steadier figure; wall time is what an operator waits
    const gnuTime = existsSync('/usr/bin/time');
    const once = (): { wall: number; cpu: number } => {
      const cmd = ['ip', 'netns', 'exec', ns, process.execPath, MAIN, 'doctor', '--json', '--save-snapshot', join(dir, 'snap.json')];
      const t0 = performance.now();
      const r = gnuTime ? spawnSync('/usr/bin/time', ['-f', 'CPU %U %S', ...cmd], { encoding: 'utf8', maxBuffer: 64 << 20 }) : spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', maxBuffer: 64 << 20 });
      const wall = performance.now() - t0;
      if (r.status !== 0 && r.status !== 1) throw new Error(`doctor exited ${r.status}: ${r.stderr}`);
      const m = /CPU ([\d.]+) ([\d.]+)/.exec(r.stderr);
      return { wall, cpu: m ? (Number(m[1]) + Number(m[2])) * 1000 : Number.NaN };
    };
    once();
    const count = JSON.parse(spawnSync('ip', ['netns', 'exec', ns, 'nft', '-j', 'list', 'ruleset'], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout).nftables.filter((i: Record<string, unknown>) => 'rule' in i).length as number;
    const routes = execFileSync('ip', ['-n', ns, 'route', 'show', 'table', 'all'], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n').filter((l) => l !== '').length;
    const runs = Array.from({ length: 5 }, once);
    const checksMs = (JSON.parse(spawnSync('ip', ['netns', 'exec', ns, process.execPath, MAIN, 'doctor', '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout) as { durationMs: number }).durationMs;
    return { ms: median(runs.map((r) => r.wall)), cpuMs: median(runs.map((r) => r.cpu)), checksMs, routes, nftRules: count, load: loadavg()[0]! };
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}

const p = pure();
const e = endToEnd();
if (process.argv.includes('--json')) console.log(JSON.stringify({ pure: p, endToEnd: e }));
else {
  console.log(`doctor on ${ROUTES} routes and ${NFT_RULES} nftables rules (budget 1000 ms)`);
  console.log(`  saved snapshot: decode ${p.decodeMs.toFixed(1)} ms + checks ${p.checksMs.toFixed(1)} ms = ${p.totalMs.toFixed(1)} ms (median of 7; ${p.findings} findings)`);
  if ('skipped' in e) console.log(`  end to end: skipped (${e.skipped})`);
  else {
    console.log(`  end to end, ip netns exec ... pathguard doctor --json: ${e.ms.toFixed(0)} ms wall, ${e.cpuMs.toFixed(0)} ms CPU (median of 5; the checks' share ${e.checksMs} ms)`);
    console.log(`  namespace holds ${e.routes} routes and ${e.nftRules} nftables rules; 1-minute load average ${e.load.toFixed(1)} on ${cpus().length} CPUs`);
  }
}
