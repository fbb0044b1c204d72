/**
 * Fan-out: `pathguard relay --transport udp` to hundreds and thousands of
 * peer nodes, every message to every one of them, measured from outside.
 *
 *   node dist/bench/relay-fanout.bench.js [--peers 100,1000] [--replica-rates 25000,50000,...]
 *        [--reps 3] [--step-ms 3000] [--latency-rate 20] [--latency-ms 5000] [--relay-log FILE]
 *
 * Lab (three namespaces, two veths, no bridge):
 *
 *      gen eth0 ──── eth0 node fan0 ──── eth0 far
 *
 *   gen   sends the originals with AF_PACKET, unicast to node's MAC.
 *   node  runs the real CLI: captures on eth0 (nftables prerouting → NFLOG
 *         group 33), sends one udp datagram per peer node to port 4490.
 *         Routes send every peer prefix via far: 198.51.100.0/24 and
 *         203.0.113.0/24 via 192.0.2.66, 2001:db8:1::/64 via 2001:db8:f0::2.
 *   far   answers ARP/ND for the one next hop and counts the replicas at the
 *         ingress of its eth0 (netdev hook: before routing, so the peers'
 *         addresses need not exist anywhere) and drops them.
 *
 * Peers (--peers 192.0.2.x style list, one entry per node): the first 254
 * are 198.51.100.1-254, the next 254 are 203.0.113.1-254, the rest are
 * IPv6-only nodes 2001:db8:1::1... So 100 peers are IPv4 only, and of 1,000
 * peers 492 get the IPv4 messages over IPv6 (a peer is a node; udp carries
 * either family over either).
 *
 * Traffic: a pool of 4,096 distinct valid 576-byte ICMPv4 frag-needed
 * messages (bench/lib/frag-needed-pool.ts) from 16 outer sources
 * 192.0.2.2-17, quoting 192.0.2.1 (= --vip-networks); limits at the maximum
 * the config allows, --dedup-window 0. Offered message rates are
 * --replica-rates divided by the peer count, so both sizes are tried at the
 * same replica rates; a sweep stops climbing after a step that loses 10% or
 * more, or whose backlog takes more than 1.5 s to send (higher rates only do
 * worse, and each step at 1,000 peers costs a core for seconds). A step
 * waits for the relay to finish (up to 10 s) before the next begins.
 *
 * Per step, deltas of: frames the generator's sendmmsg accepted (offered),
 * the relay's received/relayed/replicas_sent/send_errors counters, the Drops
 * of node's NETLINK_NETFILTER sockets, and far's counters (replicas on the
 * wire). replica loss = 1 - wire / (offered × peers); the throughput figure
 * is the highest message rate whose median replica loss (over --reps sweeps)
 * is below 1% and whose median drain (how long the relay went on sending
 * after the flood ended, to 100 ms) is at most 300 ms: the NFLOG socket
 * buffer holds seconds of messages at these rates, so a rate the relay
 * cannot sustain can still lose nothing in one step. CPU per replica = the
 * relay process's utime+stime (/proc/PID/stat) over the step and its drain /
 * wire replicas; it includes the kernel's send path and far's ingress
 * (softirq run in the relay's sendmmsg).
 *
 * Latency at --latency-rate msg/s: tcpdump on node's eth0 timestamps each
 * original as it arrives and tcpdump on fan0 each replica as it leaves
 * (kernel ns timestamps, one clock); per message "first replica" and "last
 * replica" are the earliest and latest replica carrying its quoted port and
 * MTU, minus the original's arrival. tcpdump on fan0 clones every replica
 * inside the relay's sendmmsg, so it lengthens the burst it times: the
 * relay's own histogram (pathguard_relay_latency_microseconds, NFLOG read to
 * the last sendmmsg returned) is shown for that run and for one at the same
 * rate without tcpdump.
 *
 * Needs root, nft and tcpdump; prints why and exits 0 otherwise.
 */
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { withLab, sleep, waitFor } from '../test/harness/netns.js';
import { withNetns } from '../src/sys/netns.js';
import { PacketSender } from '../src/net/packet-socket.js';
import { parseMac } from '../src/wire/ethernet.js';
import { RELAY_HEADER_LEN } from '../src/wire/relay-datagram.js';
import { fmt, histogramQuantile, median, pad, percentile } from './lib/figures.js';
import { CLK_TCK, cpuTicks, memoryKb, systemCpu } from './lib/proc.js';
import { Probe, sumSeries, type Metrics } from './lib/relay-metrics.js';
import { netlinkDrops } from './lib/lab-counters.js';
import { FrameGenerator } from './lib/frame-generator.js';
import { buildFanoutLab, RELAY_PORT, wireReplicas } from './lib/fanout-lab.js';
import { benchUnavailable } from './lib/preflight.js';
import { catchInterrupt, checkInterrupt } from './lib/interruption.js';
import { readPcap } from './lib/pcap.js';
import { fragNeededKey, fragNeededPool } from './lib/frag-needed-pool.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const PEER_COUNTS = option('peers', '100,1000').split(',').map(Number);
const REPLICA_RATES = option('replica-rates', '25000,50000,100000,200000,300000,400000,600000,800000,1000000,1200000').split(',').map(Number);
const REPS = Number(option('reps', '3'));
const STEP_MS = Number(option('step-ms', '3000'));
const LATENCY_RATE = Number(option('latency-rate', '20'));
const LATENCY_MS = Number(option('latency-ms', '5000'));
const RELAY_LOG = option('relay-log', '');
/** A rate counts as sustained only if the relay had sent everything this soon after the flood ended. */
const DRAIN_MAX_MS = 300;
/** A step that loses this much, or drains this long, ends its sweep. */
const GIVE_UP_LOSS = 0.1;
const GIVE_UP_DRAIN_MS = 1500;
const POOL = 4096;
const VIP = '192.0.2.1';
const METRICS = { host: '127.0.0.1', port: 9462 };
const MAX_PEERS = 254 + 254 + 0xfffe;

const here = fileURLToPath(new URL('.', import.meta.url));
const MAIN_JS = join(here, '..', 'src', 'cli', 'main.js');
const PROBE_JS = join(here, 'relay-probe.js');

const M = {
  received: 'pathguard_relay_received_packets_total',
  relayed: 'pathguard_relay_relayed_messages_total',
  sent: 'pathguard_relay_replicas_sent_total{transport="udp"}',
  sendErrors: 'pathguard_relay_send_errors_total',
  latency: 'pathguard_relay_latency_microseconds',
} as const;

/** Peer node i (0-based): 198.51.100.0/24, then 203.0.113.0/24, then IPv6-only in 2001:db8:1::/64. */
function peerAddress(i: number): string {
  if (i < 254) return `198.51.100.${i + 1}`;
  if (i < 508) return `203.0.113.${i - 253}`;
  return `2001:db8:1::${(i - 507).toString(16)}`;
}


/**
 * The frag-needed key of a replica frame seen on fan0: Ethernet, outer IPv4
 * or IPv6, UDP to the relay port, the relay header, then the original packet.
 */
function replicaKey(f: Uint8Array): number | undefined {
  const type = (f[12]! << 8) | f[13]!;
  const ip = 14;
  let udp: number;
  if (type === 0x0800 && f[ip + 9] === 17) udp = ip + (f[ip]! & 0x0f) * 4;
  else if (type === 0x86dd && f[ip + 6] === 17) udp = ip + 40;
  else return undefined;
  if (f.byteLength < udp + 8 || ((f[udp + 2]! << 8) | f[udp + 3]!) !== RELAY_PORT) return undefined;
  return fragNeededKey(f, udp + 8 + RELAY_HEADER_LEN);
}

interface StepResult {
  rate: number;
  offered: number;
  offeredRate: number;
  received: number;
  relayed: number;
  sent: number;
  sendErrors: number;
  wire: number;
  nlDrops: number;
  replicaLoss: number;
  /** How long the relay went on sending after the generator stopped (its backlog), ms. */
  drainMs: number;
  relayCorePct: number;
  usPerReplica: number;
  userUsPerReplica: number;
  genCorePct: number;
  sysBusyPct: number;
  load1: number;
}

interface HistogramFigures {
  p50: number;
  p99: number;
  count: number;
}

/** p50, p99 and count of pathguard_relay_latency_microseconds between two scrapes. */
function histogramDelta(h0: Metrics, h1: Metrics): HistogramFigures {
  const bounds = [...h1.keys()]
    .filter((k) => k.startsWith(`${M.latency}_bucket`))
    .map((k) => {
      const le = /le="([^"]+)"/.exec(k)![1]!;
      return { key: k, le: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le) };
    })
    .sort((x, y) => x.le - y.le);
  const cum = bounds.map((b) => (h1.get(b.key) ?? 0) - (h0.get(b.key) ?? 0));
  const les = bounds.map((b) => b.le);
  return {
    p50: histogramQuantile(les, cum, 0.5).value,
    p99: histogramQuantile(les, cum, 0.99).value,
    count: (h1.get(`${M.latency}_count`) ?? 0) - (h0.get(`${M.latency}_count`) ?? 0),
  };
}

interface SizeResult {
  peers: number;
  steps: StepResult[];
  best: number;
  latency: { matched: number; sent: number; first: number[]; last: number[]; replicas: number; dumpDrops: string };
  histogram: HistogramFigures;
  /** The same, in a run without tcpdump. */
  quietHistogram: HistogramFigures;
  hwmKb: number;
  idleRssKb: number;
  loadAfter: number[];
}

async function runSize(peerCount: number, tmp: string): Promise<SizeResult> {
  return withLab(`fan${peerCount}`, async (lab) => {
    const { gen, node, far, nodeMac } = await buildFanoutLab(lab);
    const peers = Array.from({ length: peerCount }, (_, i) => peerAddress(i));

    const ready = join(tmp, `relay-${peerCount}.ready`);
    const relay = node.spawn(process.execPath, [
      MAIN_JS, 'relay',
      '--iface', 'eth0', '--transport', 'udp', '--peers', peers.join(','), '--vip-networks', `${VIP}/32`,
      '--src-rate', '1000000', '--src-burst', '1000000', '--iface-rate', '1000000', '--iface-burst', '1000000',
      '--dedup-window', '0', '--log-level', 'warn', '--metrics-addr', `${METRICS.host}:${METRICS.port}`, '--ready-file', ready,
    ]);
    let relayErr = '';
    const keep = (d: Buffer): void => {
      if (relayErr.length < 1 << 20) relayErr += d.toString();
      if (RELAY_LOG !== '') appendFileSync(RELAY_LOG, d);
    };
    relay.stderr!.on('data', keep);
    relay.stdout!.on('data', keep);
    const started = await waitFor(() => existsSync(ready) || relay.exitCode !== null, 30_000).then(
      () => existsSync(ready),
      () => false,
    );
    if (!started) throw new Error(`the relay did not become ready within 30 s (exit code ${relay.exitCode}):\n${relayErr}`);
    const pid = relay.pid!;
    const probe = new Probe(node.spawn(process.execPath, [PROBE_JS, METRICS.host, String(METRICS.port)]));
    const sender = withNetns(gen.path, () => PacketSender.open({ device: 'eth0', batch: 64 }));
    try {
      await sleep(500); // let start-up settle before taking the idle figure
      const idleRssKb = memoryKb(pid).rss;
      const pool = fragNeededPool({ size: POOL, vip: VIP, outerSources: Array.from({ length: 16 }, (_, i) => `192.0.2.${2 + i}`) });
      const generator = new FrameGenerator(sender, pool, parseMac(nodeMac));

      const snapshot = async () => ({
        m: await probe.metrics(),
        wire: await wireReplicas(far),
        cpu: cpuTicks(`/proc/${pid}/stat`),
        nlDrops: await netlinkDrops(node),
        sys: systemCpu(),
      });
      /** Waits until the wire count stops moving (the relay has sent what it read); returns how long that took, ms. */
      const settle = async (): Promise<number> => {
        const t0 = performance.now();
        let last = -1;
        for (let i = 0; i < 100; i++) {
          const w = await wireReplicas(far);
          if (w === last) break;
          last = w;
          await sleep(100);
        }
        // The last 100 ms were spent confirming that nothing moved.
        return Math.max(0, performance.now() - t0 - 100);
      };

      const step = async (rate: number): Promise<StepResult> => {
        checkInterrupt();
        const a = await snapshot();
        const g = generator.run(rate, STEP_MS);
        const drainMs = await settle();
        const b = await snapshot();
        const d = (k: string) => sumSeries(b.m, k) - sumSeries(a.m, k);
        const wire = b.wire - a.wire;
        const cpuS = (b.cpu.ticks - a.cpu.ticks) / CLK_TCK;
        const sysS = (b.cpu.system - a.cpu.system) / CLK_TCK;
        return {
          rate,
          offered: g.sent,
          offeredRate: g.sent / (g.ns / 1e9),
          received: d(M.received),
          relayed: d(M.relayed),
          sent: d(M.sent),
          sendErrors: d(M.sendErrors),
          wire,
          nlDrops: b.nlDrops - a.nlDrops,
          drainMs,
          replicaLoss: g.sent > 0 ? 1 - wire / (g.sent * peerCount) : Number.NaN,
          relayCorePct: (100 * cpuS) / (g.ns / 1e9),
          usPerReplica: wire > 0 ? (cpuS * 1e6) / wire : Number.NaN,
          userUsPerReplica: wire > 0 ? ((cpuS - sysS) * 1e6) / wire : Number.NaN,
          genCorePct: (100 * g.cpuUs) / (g.ns / 1e3),
          sysBusyPct: (100 * (b.sys.busy - a.sys.busy)) / Math.max(1, b.sys.total - a.sys.total),
          load1: loadavg()[0]!,
        };
      };

      // Warm-up: JIT of the relay's data plane and of the generator, first page faults.
      generator.run(Math.max(10, Math.round(20_000 / peerCount)), 1000);
      await settle();

      const rates = REPLICA_RATES.map((r) => Math.max(1, Math.round(r / peerCount)));
      const steps: StepResult[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        for (const rate of rates) {
          const r = await step(rate);
          steps.push(r);
          console.log(
            `  ${fmt(peerCount)} peers, sweep ${rep + 1}, ${fmt(rate).padStart(6)} msg/s (${fmt(rate * peerCount)} replicas/s): ` +
              `offered ${fmt(r.offered)} relayed ${fmt(r.relayed)} replicas sent ${fmt(r.sent)} wire ${fmt(r.wire)} ` +
              `(replica loss ${(100 * r.replicaLoss).toFixed(2)}%) send errors ${fmt(r.sendErrors)} NFLOG drops ${fmt(r.nlDrops)}, drained in ${fmt(r.drainMs)} ms; ` +
              `relay ${r.relayCorePct.toFixed(0)}% core, ${r.usPerReplica.toFixed(2)} µs/replica (user ${r.userUsPerReplica.toFixed(2)}), ` +
              `gen ${r.genCorePct.toFixed(0)}% core, system ${r.sysBusyPct.toFixed(0)}%, load ${r.load1.toFixed(1)}`,
          );
          // Losing, or a backlog that takes seconds to send: higher rates only do worse.
          if (r.replicaLoss >= GIVE_UP_LOSS || r.drainMs > GIVE_UP_DRAIN_MS) break;
        }
      }
      let best = 0;
      for (const rate of rates) {
        const rs = steps.filter((r) => r.rate === rate);
        // A rate a sweep never reached (it gave up below) counts as lost in that sweep.
        const losses = [...rs.map((r) => r.replicaLoss), ...Array<number>(REPS - rs.length).fill(1)];
        // Kept up: under 1% lost, and what it read was sent within DRAIN_MAX_MS of the flood's end (a
        // backlog in the NFLOG socket buffer hides a rate that could not be sustained for long).
        const drains = [...rs.map((r) => r.drainMs), ...Array<number>(REPS - rs.length).fill(Number.POSITIVE_INFINITY)];
        if (median(losses) < 0.01 && median(drains) <= DRAIN_MAX_MS) best = Math.max(best, rate);
      }

      // The relay's own histogram at the low rate without tcpdump: a capture on fan0 clones every
      // replica inside the relay's sendmmsg, which lengthens the very burst being timed.
      const q0 = await probe.metrics();
      generator.run(LATENCY_RATE, LATENCY_MS);
      await settle();
      const quiet = histogramDelta(q0, await probe.metrics());

      // Latency at a low rate: the original arriving on eth0, its replicas leaving by fan0.
      const inPcap = join(tmp, `in-${peerCount}.pcap`);
      const outPcap = join(tmp, `out-${peerCount}.pcap`);
      const dumps = [
        { pcap: inPcap, dev: 'eth0', filter: 'icmp' },
        { pcap: outPcap, dev: 'fan0', filter: `udp dst port ${RELAY_PORT}` },
      ].map(({ pcap, dev, filter }) => {
        const p = node.spawn('tcpdump', ['-i', dev, '-nn', '-p', '-U', '--immediate-mode', '-s', '200', '-B', '65536', '--time-stamp-precision=nano', '-w', pcap, filter]);
        const d = { p, err: '' };
        p.stderr!.on('data', (x: Buffer) => (d.err += x.toString()));
        return d;
      });
      await waitFor(() => dumps.every((d) => d.err.includes('listening on')), 10_000);
      const h0 = await probe.metrics();
      const lg = generator.run(LATENCY_RATE, LATENCY_MS);
      await settle();
      const h1 = await probe.metrics();
      for (const d of dumps) {
        const closed = new Promise<void>((r) => d.p.once('close', () => r()));
        d.p.kill('SIGINT');
        await closed;
      }
      const dumpDrops = dumps.map((d) => /(\d+) packets dropped by kernel/.exec(d.err)?.[1] ?? '?').join('/');
      const arrivals = new Map<number, number>();
      for (const rec of readPcap(readFileSync(inPcap))) {
        const key = rec.frame[12] === 0x08 && rec.frame[13] === 0x00 ? fragNeededKey(rec.frame, 14) : undefined;
        if (key !== undefined && !arrivals.has(key)) arrivals.set(key, rec.t);
      }
      // Both files count time from their own first record: rebase on absolute time.
      const base = (pcap: string) => {
        const b = readFileSync(pcap);
        return b.byteLength >= 24 + 16 ? b.readUInt32LE(24) : 0;
      };
      const shift = (base(outPcap) - base(inPcap)) * 1e9;
      const spans = new Map<number, { first: number; last: number; n: number }>();
      let replicas = 0;
      for (const rec of readPcap(readFileSync(outPcap))) {
        const key = replicaKey(rec.frame);
        if (key === undefined) continue;
        replicas++;
        const t = rec.t + shift;
        const s = spans.get(key);
        if (!s) spans.set(key, { first: t, last: t, n: 1 });
        else {
          s.first = Math.min(s.first, t);
          s.last = Math.max(s.last, t);
          s.n++;
        }
      }
      const first: number[] = [];
      const last: number[] = [];
      for (const [key, t] of arrivals) {
        const s = spans.get(key);
        // Only messages all of whose replicas were captured give a "last replica" time.
        if (s && s.n === peerCount) {
          first.push((s.first - t) / 1000);
          last.push((s.last - t) / 1000);
        }
      }
      return {
        peers: peerCount,
        steps,
        best,
        latency: { matched: last.length, sent: lg.sent, first, last, replicas, dumpDrops },
        histogram: histogramDelta(h0, h1),
        quietHistogram: quiet,
        hwmKb: memoryKb(pid).hwm,
        idleRssKb,
        loadAfter: loadavg(),
      };
    } finally {
      sender.close();
      probe.close();
      const exited = new Promise<void>((r) => (relay.exitCode !== null ? r() : relay.once('close', () => r())));
      relay.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
    }
  });
}

function report(r: SizeResult): void {
  console.log(`\n${fmt(r.peers)} peers (median of the sweeps per offered rate):`);
  const W = [10, 12, 10, 9, 8, 8, 8, 9, 6, 6, 5, 5, 5];
  console.log(pad(['msg/s', 'replicas/s', 'achieved/s', 'relayed', 'wire', 'loss', 'nl-drop', 'send-err', 'drain', 'µs/rep', 'user', 'relay%', 'load'], W));
  const rates = [...new Set(r.steps.map((s) => s.rate))].sort((a, b) => a - b);
  for (const rate of rates) {
    const rs = r.steps.filter((s) => s.rate === rate);
    const med = (f: (s: StepResult) => number) => median(rs.map(f));
    console.log(
      pad(
        [
          fmt(rate),
          fmt(rate * r.peers),
          fmt(med((s) => s.offeredRate)),
          `${((100 * med((s) => s.relayed / s.offered)) || 0).toFixed(1)}%`,
          `${((100 * med((s) => s.wire / (s.offered * r.peers))) || 0).toFixed(1)}%`,
          `${(100 * med((s) => s.replicaLoss)).toFixed(2)}%`,
          fmt(med((s) => s.nlDrops)),
          fmt(med((s) => s.sendErrors)),
          fmt(med((s) => s.drainMs)),
          med((s) => s.usPerReplica).toFixed(2),
          med((s) => s.userUsPerReplica).toFixed(2),
          fmt(med((s) => s.relayCorePct)),
          med((s) => s.load1).toFixed(1),
        ],
        W,
      ) + (rs.length < REPS ? `   (${rs.length} of ${REPS} sweeps reached it)` : ''),
    );
  }
  console.log(
    '  (relayed = messages with a replica handed to the kernel, wire = replicas counted at far, both as % of what was\n' +
      '   offered; drain = ms the relay went on sending after the flood; µs/rep = relay CPU per replica on the wire, user =\n' +
      '   its user-space part; relay% = relay CPU over the step and its drain / flood time, above 100 when it drained a backlog)',
  );
  const atBest = r.steps.filter((s) => s.rate === r.best);
  const l = r.latency;
  console.log(
    `  highest message rate with median replica loss < 1% and drained within ${DRAIN_MAX_MS} ms: ${fmt(r.best)} msg/s = ${fmt(r.best * r.peers)} replicas/s`,
  );
  if (atBest.length > 0) {
    console.log(
      `  CPU per replica at that rate: ${median(atBest.map((s) => s.usPerReplica)).toFixed(2)} µs ` +
        `(user ${median(atBest.map((s) => s.userUsPerReplica)).toFixed(2)} µs), relay at ${median(atBest.map((s) => s.relayCorePct)).toFixed(0)}% of a core`,
    );
  }
  console.log(
    `  latency at ${LATENCY_RATE} msg/s, original in on eth0 → replicas out on fan0: ${l.matched}/${l.sent} messages with all ${fmt(r.peers)} replicas captured ` +
      `(${fmt(l.replicas)} replica frames; tcpdump drops in/out ${l.dumpDrops})`,
  );
  console.log(
    `    first replica p50 ${percentile(l.first, 50).toFixed(0)} µs, p99 ${percentile(l.first, 99).toFixed(0)} µs; ` +
      `last replica p50 ${percentile(l.last, 50).toFixed(0)} µs, p99 ${percentile(l.last, 99).toFixed(0)} µs, max ${percentile(l.last, 100).toFixed(0)} µs`,
  );
  const h = r.histogram;
  const q = r.quietHistogram;
  console.log(
    `    relay histogram (NFLOG read → last sendmmsg returned): with tcpdump ${h.count} messages, p50 ${h.p50.toFixed(0)} µs, p99 ${h.p99.toFixed(0)} µs; ` +
      `without ${q.count} messages, p50 ${q.p50.toFixed(0)} µs, p99 ${q.p99.toFixed(0)} µs`,
  );
  console.log(`  memory: VmRSS idle ${(r.idleRssKb / 1024).toFixed(1)} MB, VmHWM at the end ${(r.hwmKb / 1024).toFixed(1)} MB`);
  console.log(`  load average after: ${r.loadAfter.map((x) => x.toFixed(2)).join(' ')}`);
}

async function main(): Promise<void> {
  const why = await benchUnavailable([['nft', 'nftables'], ['tcpdump', 'tcpdump']]);
  if (why) {
    console.log(`relay-fanout: skipped: ${why}`);
    return;
  }
  if (!existsSync(MAIN_JS) || !existsSync(PROBE_JS)) {
    console.log(`relay-fanout: skipped: ${MAIN_JS} or ${PROBE_JS} is not built (npm run build)`);
    return;
  }
  for (const n of PEER_COUNTS) {
    if (!Number.isInteger(n) || n < 1 || n > MAX_PEERS) {
      console.error(`relay-fanout: --peers: ${n} is not a peer count in 1..${MAX_PEERS}`);
      process.exit(2);
    }
  }
  console.log(
    [
      'relay-fanout: pathguard relay --transport udp to N peer nodes, end to end in network namespaces',
      '  lab: gen -veth- node -veth- far; every peer prefix routed via far, where a netdev ingress counter counts the replicas',
      `  peers: ${PEER_COUNTS.map((n) => fmt(n)).join(' and ')} (198.51.100.1-254, 203.0.113.1-254, then IPv6-only 2001:db8:1::N)`,
      `  traffic: ${POOL} distinct valid ICMPv4 frag-needed (576-byte IP packets), relay limits at max, --dedup-window 0`,
      `  steps: ${REPLICA_RATES.map((r) => fmt(r)).join(', ')} replicas/s offered (message rate = that / peers), ${STEP_MS} ms each, ` +
        `${REPS} sweeps, a sweep ends after a step losing ≥ ${100 * GIVE_UP_LOSS}% or draining > ${GIVE_UP_DRAIN_MS} ms; medians per rate`,
      '  replica loss = 1 - wire / (offered × peers); CPU = relay process utime+stime (/proc/PID/stat) around the step',
      `  latency: ${LATENCY_RATE} msg/s for ${LATENCY_MS} ms, tcpdump on node eth0 (original in) and fan0 (replicas out), kernel timestamps`,
      `  node ${process.version}, load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`,
    ].join('\n'),
  );
  catchInterrupt('relay-fanout');
  const tmp = mkdtempSync(join(tmpdir(), 'pg-fanout-bench-'));
  try {
    const results: SizeResult[] = [];
    for (const n of PEER_COUNTS) results.push(await runSize(n, tmp));
    for (const r of results) report(r);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
