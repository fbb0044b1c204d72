/**
 * Peer churn: `pathguard relay --transport udp` with its peers from 5,000
 * Node objects (no --peers), then 500 Node status updates a second for 60 s,
 * while a steady flood runs through the data plane.
 *
 *   node dist/bench/peer-churn.bench.js [--nodes 5000] [--updates 500] [--seconds 60]
 *        [--move-every 0] [--rate 40] [--step-ms 2000] [--quiet-steps 5] [--relay-log FILE]
 *        [--relay-node-args "--cpu-prof --cpu-prof-dir=DIR"]
 *
 * Lab: the one of bench/relay-fanout.bench.ts (gen -veth- node -veth- far,
 * every peer prefix routed via far, replicas counted at far's ingress), plus
 * the in-process API server (test/harness/fake-apiserver.ts) as its own
 * process in node (bench/churn-apiserver.ts), so the relay reaches it on
 * 127.0.0.1 with a kubeconfig (KUBECONFIG, as on a node). The relay runs
 * as `--node-name node-self`, which is not listed, so all --nodes are peers:
 * 508 dual-stack (198.51.100.0/24 and 203.0.113.0/24 plus 2001:db8:1::/64),
 * the rest IPv6-only.
 *
 * Start-up: time and relay CPU from spawning the relay to
 * pathguard_relay_configured_peers = --nodes (list of every Node, peer set,
 * nftables peer sets, workers told).
 *
 * Phases, each a series of --step-ms steps at --rate messages/s (so
 * rate × nodes replicas/s) of the frag-needed pool of
 * bench/lib/frag-needed-pool.ts:
 *   before  --quiet-steps steps, no churn
 *   churn   the API server applies --updates MODIFIED events a second for
 *           --seconds (every condition's lastHeartbeatTime moves, as in a
 *           kubelet's status update; with --move-every N every Nth update
 *           also moves that node's IPv6 address, so the peer set changes)
 *   after   --quiet-steps steps, no churn
 * Per step: replicas on the wire (far's counters) per second, the relay's
 * CPU split by thread (/proc/PID/task/TID/stat: the main thread runs the
 * control plane, the watch and the HTTP server; the busiest other thread is
 * the data-plane worker, shown with the share of the step it was runnable but
 * waiting for a CPU, from /proc/PID/task/TID/schedstat; the rest is V8's and
 * libuv's helpers), VmRSS, and
 * the relay's pathguard_relay_peer_refreshes_total. "Does the data plane's
 * throughput drop" is the median wire rate of the churn steps against the
 * before and after steps; with --rate above what the data plane can send,
 * the wire rate is its throughput.
 *
 * Needs root and nft; prints why and exits 0 otherwise.
 */
import { appendFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { withLab, sleep, waitFor } from '../test/harness/netns.js';
import { withNetns } from '../src/sys/netns.js';
import { PacketSender } from '../src/net/packet-socket.js';
import { parseMac } from '../src/wire/ethernet.js';
import { fmt, median, pad } from './lib/figures.js';
import { CLK_TCK, cpuTicks, memoryKb, threadTicks } from './lib/proc.js';
import { Probe, sumSeries } from './lib/relay-metrics.js';
import { netlinkDrops } from './lib/lab-counters.js';
import { FrameGenerator } from './lib/frame-generator.js';
import { buildFanoutLab, wireReplicas } from './lib/fanout-lab.js';
import { benchUnavailable } from './lib/preflight.js';
import { catchInterrupt, checkInterrupt } from './lib/interruption.js';
import { fragNeededPool } from './lib/frag-needed-pool.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const NODES = Number(option('nodes', '5000'));
const UPDATES = Number(option('updates', '500'));
const SECONDS = Number(option('seconds', '60'));
const MOVE_EVERY = Number(option('move-every', '0'));
const RATE = Number(option('rate', '40'));
const STEP_MS = Number(option('step-ms', '2000'));
const QUIET_STEPS = Number(option('quiet-steps', '5'));
const RELAY_LOG = option('relay-log', '');
/** Extra node flags for the relay process, e.g. "--cpu-prof --cpu-prof-dir=DIR" to see where the control plane's CPU goes. */
const RELAY_NODE_ARGS = option('relay-node-args', '').split(' ').filter((a) => a !== '');
const POOL = 4096;
const VIP = '192.0.2.1';
const METRICS = { host: '127.0.0.1', port: 9462 };

const here = fileURLToPath(new URL('.', import.meta.url));
const MAIN_JS = join(here, '..', 'src', 'cli', 'main.js');
const PROBE_JS = join(here, 'relay-probe.js');
const APISERVER_JS = join(here, 'churn-apiserver.js');

const M = {
  peers: 'pathguard_relay_configured_peers',
  changed: 'pathguard_relay_peer_refreshes_total{outcome="changed"}',
  unchanged: 'pathguard_relay_peer_refreshes_total{outcome="unchanged"}',
  received: 'pathguard_relay_received_packets_total',
  relayed: 'pathguard_relay_relayed_messages_total',
  sendErrors: 'pathguard_relay_send_errors_total',
} as const;


type Phase = 'before' | 'churn' | 'after';

interface StepResult {
  phase: Phase;
  seconds: number;
  wirePerS: number;
  received: number;
  relayed: number;
  offered: number;
  sendErrors: number;
  nlDrops: number;
  /** Share of one core, per thread group. */
  mainPct: number;
  workerPct: number;
  /** Share of the step the data-plane worker was runnable but waiting for a CPU (schedstat). */
  workerWaitPct: number;
  otherPct: number;
  rssKb: number;
  changed: number;
  unchanged: number;
  load1: number;
}

/** Lines from a child's stdout, awaited one at a time. */
class Lines {
  private readonly queue: string[] = [];
  private wake: (() => void) | undefined;
  private ended = false;

  constructor(stream: NodeJS.ReadableStream) {
    const rl = createInterface({ input: stream });
    rl.on('line', (l) => {
      this.queue.push(l);
      this.wake?.();
    });
    rl.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
  }

  /** The next line, or undefined when none came within `ms` (or the stream ended). */
  async next(ms: number): Promise<string | undefined> {
    const deadline = Date.now() + ms;
    while (this.queue.length === 0 && !this.ended && Date.now() < deadline) {
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, Math.max(1, deadline - Date.now()));
      });
      this.wake = undefined;
    }
    return this.queue.shift();
  }

  /** A line that is already there, without waiting. */
  poll(): string | undefined {
    return this.queue.shift();
  }
}

async function main(): Promise<void> {
  const why = await benchUnavailable([['nft', 'nftables']]);
  if (why) {
    console.log(`peer-churn: skipped: ${why}`);
    return;
  }
  if (![MAIN_JS, PROBE_JS, APISERVER_JS].every((f) => existsSync(f))) {
    console.log(`peer-churn: skipped: ${MAIN_JS}, ${PROBE_JS} or ${APISERVER_JS} is not built (npm run build)`);
    return;
  }
  for (const [name, v, max] of [['nodes', NODES, 0xfffe], ['updates', UPDATES, 100_000], ['seconds', SECONDS, 3600], ['rate', RATE, 1_000_000]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > max) {
      console.error(`peer-churn: --${name}: ${v} is not an integer in 1..${max}`);
      process.exit(2);
    }
  }
  console.log(
    [
      `peer-churn: pathguard relay --transport udp with peers from ${fmt(NODES)} Node objects, end to end in network namespaces`,
      '  lab: gen -veth- node -veth- far (as relay-fanout); the fake API server as a process in node, the relay reading it with KUBECONFIG',
      `  churn: ${fmt(UPDATES)} Node status updates/s for ${SECONDS} s` + (MOVE_EVERY > 0 ? `, every ${MOVE_EVERY}th moving the node's IPv6 address` : ' (heartbeats: the peer set stays the same)'),
      `  data plane: ${fmt(RATE)} msg/s offered (${fmt(RATE * NODES)} replicas/s) in ${STEP_MS} ms steps: ${QUIET_STEPS} before, during the churn, ${QUIET_STEPS} after`,
      '  CPU per relay thread from /proc/PID/task/TID/stat (main thread = control plane, busiest other = data-plane worker)',
      `  node ${process.version}, load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`,
    ].join('\n'),
  );

  catchInterrupt('peer-churn');
  const tmp = mkdtempSync(join(tmpdir(), 'pg-churn-bench-'));
  try {
    await withLab('churn', async (lab) => {
      const { gen, node, far, nodeMac } = await buildFanoutLab(lab);

      const kubeconfig = join(tmp, 'kubeconfig');
      const api = node.spawn(process.execPath, ['--max-old-space-size=4096', APISERVER_JS, kubeconfig, String(NODES)]);
      let apiErr = '';
      api.stderr!.on('data', (d: Buffer) => (apiErr += d.toString()));
      const apiLines = new Lines(api.stdout!);
      const hello = await apiLines.next(60_000);
      if (hello !== 'ready') throw new Error(`the API server did not start (said ${String(hello)}):\n${apiErr}`);

      const ready = join(tmp, 'relay.ready');
      const t0 = performance.now();
      const relay = node.spawn(
        process.execPath,
        [
          ...RELAY_NODE_ARGS, MAIN_JS, 'relay',
          '--node-name', 'node-self', '--iface', 'eth0', '--transport', 'udp', '--vip-networks', `${VIP}/32`,
          '--src-rate', '1000000', '--src-burst', '1000000', '--iface-rate', '1000000', '--iface-burst', '1000000',
          '--dedup-window', '0', '--log-level', 'warn', '--metrics-addr', `${METRICS.host}:${METRICS.port}`, '--ready-file', ready,
        ],
        { env: { ...process.env, KUBECONFIG: kubeconfig } },
      );
      let relayErr = '';
      const keep = (d: Buffer): void => {
        if (relayErr.length < 1 << 20) relayErr += d.toString();
        if (RELAY_LOG !== '') appendFileSync(RELAY_LOG, d);
      };
      relay.stderr!.on('data', keep);
      relay.stdout!.on('data', keep);
      const started = await waitFor(() => existsSync(ready) || relay.exitCode !== null, 60_000).then(
        () => existsSync(ready),
        () => false,
      );
      if (!started) throw new Error(`the relay did not become ready within 60 s (exit code ${relay.exitCode}):\n${relayErr}`);
      const pid = relay.pid!;
      const probe = new Probe(node.spawn(process.execPath, [PROBE_JS, METRICS.host, String(METRICS.port)]));
      const sender = withNetns(gen.path, () => PacketSender.open({ device: 'eth0', batch: 64 }));
      try {
        const peersOf = async (): Promise<number> => (await probe.metrics()).get(M.peers) ?? 0;
        await waitFor(async () => (await peersOf()) === NODES, 120_000, 100).catch(async () => {
          throw new Error(`the relay has ${await peersOf()} peers, not ${NODES}, after 120 s:\n${relayErr}`);
        });
        const syncedMs = performance.now() - t0;
        const startCpuS = cpuTicks(`/proc/${pid}/stat`).ticks / CLK_TCK;
        await sleep(1000);
        const idle = memoryKb(pid);

        const pool = fragNeededPool({ size: POOL, vip: VIP, outerSources: Array.from({ length: 16 }, (_, i) => `192.0.2.${2 + i}`) });
        const generator = new FrameGenerator(sender, pool, parseMac(nodeMac));
        const snapshot = async () => ({
          m: await probe.metrics(),
          wire: await wireReplicas(far),
          nlDrops: await netlinkDrops(node),
          threads: threadTicks(pid),
          t: performance.now(),
        });
        type Snap = Awaited<ReturnType<typeof snapshot>>;
        let last: Snap = await snapshot();
        const step = async (phase: Phase): Promise<StepResult> => {
          checkInterrupt();
          const g = generator.run(RATE, STEP_MS);
          const b = await snapshot();
          const a = last;
          last = b;
          const s = (b.t - a.t) / 1000;
          let main = 0;
          let worker = 0;
          let workerWaitNs = 0;
          let all = 0;
          for (const [tid, t] of b.threads) {
            const dt = t.ticks - (a.threads.get(tid)?.ticks ?? 0);
            all += dt;
            if (tid === pid) main = dt;
            else if (dt > worker) {
              worker = dt;
              workerWaitNs = t.waitNs - (a.threads.get(tid)?.waitNs ?? 0);
            }
          }
          const d = (k: string) => (b.m.get(k) ?? 0) - (a.m.get(k) ?? 0);
          const share = (ticks: number) => (100 * ticks) / CLK_TCK / s;
          return {
            phase,
            seconds: s,
            wirePerS: (b.wire - a.wire) / s,
            received: d(M.received),
            relayed: d(M.relayed),
            offered: g.sent,
            sendErrors: sumSeries(b.m, M.sendErrors) - sumSeries(a.m, M.sendErrors),
            nlDrops: b.nlDrops - a.nlDrops,
            mainPct: share(main),
            workerPct: share(worker),
            workerWaitPct: (100 * workerWaitNs) / 1e9 / s,
            otherPct: share(all - main - worker),
            rssKb: memoryKb(pid).rss,
            changed: d(M.changed),
            unchanged: d(M.unchanged),
            load1: loadavg()[0]!,
          };
        };
        const log = (r: StepResult) =>
          console.log(
            `  ${r.phase.padEnd(6)} ${fmt(r.wirePerS).padStart(9)} replicas/s on the wire; offered ${fmt(r.offered)} received ${fmt(r.received)} relayed ${fmt(r.relayed)}, ` +
              `NFLOG drops ${fmt(r.nlDrops)}, send errors ${fmt(r.sendErrors)}; ` +
              `relay main ${r.mainPct.toFixed(0)}%, data plane ${r.workerPct.toFixed(0)}% (waited for a CPU ${r.workerWaitPct.toFixed(0)}%), other ${r.otherPct.toFixed(0)}% of a core; ` +
              `RSS ${(r.rssKb / 1024).toFixed(1)} MB; refreshes changed ${r.changed} unchanged ${r.unchanged}; load ${r.load1.toFixed(1)}`,
          );

        generator.run(RATE, 1000); // warm-up: JIT, first page faults
        await sleep(200);
        last = await snapshot();
        const steps: StepResult[] = [];
        for (let i = 0; i < QUIET_STEPS; i++) {
          steps.push(await step('before'));
          log(steps[steps.length - 1]!);
        }
        api.stdin!.write(`churn ${UPDATES} ${SECONDS} ${MOVE_EVERY}\n`);
        let churned: { updates: number; seconds: number; cpuMs: number } | undefined;
        const churnDeadline = Date.now() + SECONDS * 1000 + 60_000;
        while (churned === undefined) {
          if (Date.now() > churnDeadline) throw new Error(`the API server did not finish the churn:\n${apiErr}`);
          steps.push(await step('churn'));
          log(steps[steps.length - 1]!);
          const line = apiLines.poll();
          if (line !== undefined) churned = JSON.parse(line) as typeof churned;
        }
        for (let i = 0; i < QUIET_STEPS; i++) {
          steps.push(await step('after'));
          log(steps[steps.length - 1]!);
        }
        const final = await probe.metrics();
        const peersAtEnd = final.get(M.peers) ?? 0;
        const hwm = memoryKb(pid).hwm;

        console.log('\nsummary (medians of the steps in each phase):');
        const W = [7, 6, 14, 10, 11, 8, 12, 8, 8, 6];
        console.log(pad(['phase', 'steps', 'wire/s', 'vs before', 'relay main', 'worker', 'worker wait', 'other', 'RSS MB', 'load'], W));
        const before = median(steps.filter((r) => r.phase === 'before').map((r) => r.wirePerS));
        for (const phase of ['before', 'churn', 'after'] as const) {
          const rs = steps.filter((r) => r.phase === phase);
          const med = (f: (r: StepResult) => number) => median(rs.map(f));
          console.log(
            pad(
              [
                phase,
                String(rs.length),
                fmt(med((r) => r.wirePerS)),
                `${((100 * med((r) => r.wirePerS)) / before).toFixed(0)}%`,
                `${med((r) => r.mainPct).toFixed(1)}%`,
                `${med((r) => r.workerPct).toFixed(0)}%`,
                `${med((r) => r.workerWaitPct).toFixed(0)}%`,
                `${med((r) => r.otherPct).toFixed(1)}%`,
                (med((r) => r.rssKb) / 1024).toFixed(1),
                med((r) => r.load1).toFixed(1),
              ],
              W,
            ),
          );
        }
        const churnSteps = steps.filter((r) => r.phase === 'churn');
        console.log(
          `  start-up: ${fmt(NODES)} peers in force ${(syncedMs / 1000).toFixed(1)} s after spawning the relay, ` +
            `relay CPU by then ${startCpuS.toFixed(2)} s; idle VmRSS ${(idle.rss / 1024).toFixed(1)} MB`,
        );
        console.log(
          `  churn: ${fmt(churned.updates)} updates in ${churned.seconds.toFixed(1)} s (API server CPU ${(churned.cpuMs / 1000).toFixed(1)} s); ` +
            `relay refreshes during it: changed ${churnSteps.reduce((s, r) => s + r.changed, 0)}, unchanged ${churnSteps.reduce((s, r) => s + r.unchanged, 0)}; ` +
            `peers at the end ${fmt(peersAtEnd)}`,
        );
        console.log(
          `  control plane (relay main thread) during churn: median ${median(churnSteps.map((r) => r.mainPct)).toFixed(1)}% of a core, ` +
            `max ${Math.max(...churnSteps.map((r) => r.mainPct)).toFixed(1)}%; RSS max ${(Math.max(...churnSteps.map((r) => r.rssKb)) / 1024).toFixed(1)} MB, VmHWM ${(hwm / 1024).toFixed(1)} MB`,
        );
        console.log(`  load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
      } finally {
        sender.close();
        probe.close();
        api.stdin!.end();
        const exited = new Promise<void>((r) => (relay.exitCode !== null ? r() : relay.once('close', () => r())));
        relay.kill('SIGTERM');
        await Promise.race([exited, sleep(5000)]);
      }
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
