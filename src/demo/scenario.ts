/**
 * The demo's story: build the ECMP lab, show a download from the VIP stalling
 * without the relay, then completing with the relay running on every node,
 * for IPv4 and IPv6 and each transport asked for. One result object feeds
 * both the text and the JSON renderers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, waitFor } from './netns-lab.js';
import { buildEcmpLab, download, flushPmtu, learnedMtu, routeGet, startHttpServer, LAB, type EcmpLab, type Family, type LabNode } from './ecmp-lab.js';

export const DEMO_TRANSPORTS = ['udp', 'l2', 'broadcast', 'ip'] as const;
export type DemoTransport = (typeof DEMO_TRANSPORTS)[number];

export interface DemoRun {
  readonly family: Family;
  /** Undefined for the run without the relay. */
  readonly transport?: DemoTransport;
  readonly completed: boolean;
  readonly bytes: number;
  readonly seconds: number;
  /** `ip route get` on the owner after the download. */
  readonly ownerRoute: string;
  /** The path MTU the owner learned, if any. */
  readonly ownerMtu?: number;
  /** Messages each node's relay relayed (its pathguard_relay_relayed_messages_total), by node name. */
  readonly relayed?: Readonly<Record<string, number>>;
  /** Messages each node's relay could send to no peer (rejected{reason="no_peer_of_family"}), by node name. */
  readonly noPeerOfFamily?: Readonly<Record<string, number>>;
  /**
   * What was expected: a stall without the relay, completion with it; with
   * `--transport ip` and no peer address of the run's family, a stall that the
   * ICMP's node explains as no_peer_of_family.
   */
  readonly asExpected: boolean;
}

export interface DemoResult {
  readonly runs: readonly DemoRun[];
  readonly ok: boolean;
  readonly bytes: number;
  /** What `pathguard doctor` said on the node that gets the ICMP, before any relay ran. */
  readonly doctor?: readonly { readonly id: string; readonly severity: string; readonly title: string }[];
}

export interface DemoOptions {
  readonly transports: readonly DemoTransport[];
  readonly families: readonly Family[];
  /** Bytes served by the download. */
  readonly bytes: number;
  /** How long a download may take before it counts as stalled. */
  readonly timeoutS: number;
  /** The pathguard launcher to run on the nodes. */
  readonly pathguardBin: string;
  /** Progress lines for people (the text renderer prints them as they come). */
  readonly say: (line: string) => void;
  /** Lets Ctrl-C tear the lab down. */
  readonly onLab?: (lab: Lab) => void;
  /**
   * The families of the node addresses the relays know each other by
   * (default both: each node is one dual-stack peer, `v4+v6`). [4] is the
   * common cluster shape: IPv4 node addresses, dual-stack service addresses.
   */
  readonly peerFamilies?: readonly Family[];
}

interface RelayFleet {
  stop(): Promise<void>;
}

async function startRelays(l: EcmpLab, transport: DemoTransport, bin: string, peerFamilies: readonly Family[]): Promise<RelayFleet> {
  const dir = mkdtempSync(join(tmpdir(), 'pathguard-demo-'));
  // One peer per node: its addresses of the chosen families joined with +.
  const peers = l.nodes.map((n) => peerFamilies.map((f) => (f === 4 ? n.v4 : n.v6)).join('+')).join(',');
  const children: { node: LabNode; child: ChildProcess; stderr: string[] }[] = [];
  for (const n of l.nodes) {
    const ready = join(dir, `${n.name}.ready`);
    const args = [
      'netns', 'exec', n.ns.name, process.execPath, bin, 'relay',
      '--iface', n.dev,
      '--peers', peers,
      '--vip-networks', `${LAB.vipV4}/32,${LAB.vipV6}/128`,
      '--transport', transport,
      '--ready-file', ready,
      '--metrics-addr', '127.0.0.1:9462',
      '--log-level', 'warn',
    ];
    const child = spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const stderr: string[] = [];
    child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
    children.push({ node: n, child, stderr });
  }
  const stop = async (): Promise<void> => {
    await Promise.all(
      children.map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const t = setTimeout(() => child.kill('SIGKILL'), 3000);
            child.once('close', () => {
              clearTimeout(t);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(() => {
      for (const c of children) {
        if (c.child.exitCode !== null) {
          throw new Error(`the relay on ${c.node.name} exited (${c.child.exitCode}): ${c.stderr.join('').trim()}`);
        }
      }
      return children.every((c) => existsSync(join(dir, `${c.node.name}.ready`)));
    }, 10_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop };
}

/** Reads one series from each relay's own /metrics (inside its namespace), by node name. */
async function metricByNode(l: EcmpLab, series: RegExp): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const n of l.nodes) {
    try {
      const r = await n.ns.exec('curl', ['-s', '--max-time', '2', 'http://127.0.0.1:9462/metrics']);
      const m = series.exec(r.stdout);
      out[n.name] = m ? Number(m[1]) : 0;
    } catch {
      out[n.name] = 0; // a relay that does not answer counted nothing we can vouch for
    }
  }
  return out;
}

const RELAYED = /^pathguard_relay_relayed_messages_total (\d+)/m;
const NO_PEER_OF_FAMILY = /^pathguard_relay_rejected_packets_total\{reason="no_peer_of_family"\} (\d+)/m;

async function once(l: EcmpLab, family: Family, transport: DemoTransport | undefined, opts: DemoOptions): Promise<DemoRun> {
  await flushPmtu(l);
  const peerFamilies = opts.peerFamilies ?? [4, 6];
  const fleet = transport ? await startRelays(l, transport, opts.pathguardBin, peerFamilies) : undefined;
  try {
    const d = await download(l, family, opts.timeoutS);
    const ownerRoute = await routeGet(l.owner, family);
    const ownerMtu = await learnedMtu(l.owner, family);
    const completed = d.ok && d.bytes === opts.bytes;
    const relayed = fleet ? await metricByNode(l, RELAYED) : undefined;
    // Only `ip` needs a peer address of the message's family; the others carry both over either.
    const unrelayable = transport === 'ip' && !peerFamilies.includes(family);
    const noPeerOfFamily = unrelayable ? await metricByNode(l, NO_PEER_OF_FAMILY) : undefined;
    const run: DemoRun = {
      family,
      ...(transport ? { transport } : {}),
      completed,
      bytes: d.bytes,
      seconds: d.seconds,
      ownerRoute,
      ...(ownerMtu !== undefined ? { ownerMtu } : {}),
      ...(relayed ? { relayed } : {}),
      ...(noPeerOfFamily ? { noPeerOfFamily } : {}),
      // With the relay: the download completed, the owner learned the MTU, and the node that got the ICMP says it relayed it.
      asExpected: !transport
        ? !completed
        : unrelayable
          ? // relayed may count stray IPv4 messages (the earlier runs' server still retransmits): the
            // IPv6 ones show as no_peer_of_family, and the owner never learns the IPv6 path MTU.
            !completed && ownerMtu === undefined && (noPeerOfFamily?.[l.icmpTarget.name] ?? 0) > 0
          : completed && ownerMtu === LAB.pathMtu && (relayed?.[l.icmpTarget.name] ?? 0) > 0,
    };
    return run;
  } finally {
    await fleet?.stop();
  }
}

/** `pathguard doctor --json` inside a node's namespace; its warn and error findings, or undefined when it could not run. */
async function doctorOn(n: LabNode, bin: string): Promise<DemoResult['doctor']> {
  try {
    const r = await n.ns.exec(process.execPath, [bin, 'doctor', '--json', '--vip-networks', `${LAB.vipV4}/32,${LAB.vipV6}/128`], { timeoutMs: 30_000 }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
    const doc = JSON.parse(r.stdout) as { findings: { id: string; severity: string; title: string }[] };
    return doc.findings.filter((f) => f.severity !== 'info').map((f) => ({ id: f.id, severity: f.severity, title: f.title }));
  } catch {
    return undefined;
  }
}

function describeRelayed(relayed: Readonly<Record<string, number>> | undefined): string {
  const who = Object.entries(relayed ?? {}).filter(([, n]) => n > 0);
  if (who.length === 0) return 'no relay counted a relayed message';
  return who.map(([name, n]) => `${name} relayed ${n} message${n === 1 ? '' : 's'} to its peers`).join(', ');
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const lab = new Lab('demo', 'pgd-');
  opts.onLab?.(lab);
  const runs: DemoRun[] = [];
  let doctor: DemoResult['doctor'];
  try {
    opts.say('Building the lab: client ── r1 ══1400══ ecmp ── LAN ── node-a, node-b, node-c (all hold the VIP).');
    const l = await buildEcmpLab(lab);
    const server = startHttpServer(l.owner, opts.bytes);
    await server.ready;
    opts.say(`The ecmp router sends TCP for the VIP to ${l.owner.name} and ICMP errors to ${l.icmpTarget.name}.`);
    doctor = await doctorOn(l.icmpTarget, opts.pathguardBin);
    opts.say('');
    opts.say(`pathguard doctor on ${l.icmpTarget.name}, before any relay runs:`);
    for (const f of doctor ?? []) opts.say(`  ${f.severity.padEnd(5)} ${f.id}: ${f.title}`);
    if (doctor === undefined) opts.say('  (doctor could not run)');
    for (const family of opts.families) {
      const vip = family === 4 ? LAB.vipV4 : LAB.vipV6;
      const icmp = family === 4 ? 'ICMP "fragmentation needed"' : 'ICMPv6 "packet too big"';
      opts.say('');
      opts.say(`IPv${family}: downloading ${opts.bytes} bytes from ${vip} without the relay (giving up after ${opts.timeoutS} s) ...`);
      const without = await once(l, family, undefined, opts);
      runs.push(without);
      opts.say(
        without.completed
          ? `  unexpected: the download completed (${without.seconds.toFixed(2)} s).`
          : `  stalled after ${without.bytes} bytes: ${l.owner.name} sent 1500-byte segments, the ecmp router answered with ${icmp} (MTU ${LAB.pathMtu}), but that went to ${l.icmpTarget.name}.`,
      );
      opts.say(`  ${l.owner.name}: ip route get → ${without.ownerRoute}`);
      opts.say(`  (no "mtu ${LAB.pathMtu}": the owner never learned the path MTU, so its retransmissions are dropped too)`);
      for (const transport of opts.transports) {
        opts.say(`IPv${family}: the same download with pathguard relay --transport ${transport} on every node ...`);
        const run = await once(l, family, transport, opts);
        runs.push(run);
        opts.say(
          run.completed
            ? `  completed: ${run.bytes} bytes in ${run.seconds.toFixed(2)} s. ${describeRelayed(run.relayed)}; ${l.owner.name} lowered its MTU.`
            : run.noPeerOfFamily
              ? `  did not complete, as expected: --transport ip re-originates the ICMPv${family === 6 ? '6' : ''} message and no peer has an IPv${family} address (${l.icmpTarget.name} counted ${run.noPeerOfFamily[l.icmpTarget.name] ?? 0} as no_peer_of_family; udp, l2 and broadcast carry it).`
              : `  did not complete (${run.bytes} bytes in ${run.seconds.toFixed(2)} s).`,
        );
        opts.say(`  ${l.owner.name}: ip route get → ${run.ownerRoute}`);
      }
    }
  } finally {
    opts.say('');
    opts.say('Tearing the lab down.');
    await lab.teardown();
  }
  return { runs, ok: runs.length > 0 && runs.every((r) => r.asExpected), bytes: opts.bytes, ...(doctor ? { doctor } : {}) };
}

