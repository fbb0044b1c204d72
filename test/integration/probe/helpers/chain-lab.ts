// The probe labs: a chain of routers with one narrow link, IPv4 and IPv6.
//
//   client ──a── r1 ──b── r2 ══c══ r3 ──d── server
//                              1400
//
// Hop 1 is r1, hop 2 is r2 (in front of the narrow link c), hop 3 r3, hop 4
// the server. Every node answers at once: the routers' ICMP rate limits
// (net.ipv4.icmp_ratelimit, net.ipv6.icmp.ratelimit) are off, so a test never
// mistakes a rate-limited answer for silence.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Lab, Netns } from '../../../harness/netns.js';

export interface ChainLab {
  readonly client: Netns;
  readonly r1: Netns;
  readonly r2: Netns;
  readonly r3: Netns;
  readonly server: Netns;
  /** The server's address per family, and the address each router answers from (towards the client). */
  readonly target: { readonly 4: string; readonly 6: string };
  readonly hop: { readonly 4: readonly string[]; readonly 6: readonly string[] };
}

export async function buildChain(lab: Lab, narrowMtu = 1400): Promise<ChainLab> {
  const [client, r1, r2, r3, server] = [await lab.ns('cl'), await lab.ns('r1'), await lab.ns('r2'), await lab.ns('r3'), await lab.ns('sv')];
  await lab.veth(client, 'eth0', r1!, 'link-a');
  await lab.veth(r1!, 'link-b', r2!, 'link-b');
  await lab.veth(r2!, 'link-c', r3!, 'link-c', { mtu: narrowMtu });
  await lab.veth(r3!, 'link-d', server!, 'eth0');
  for (const ns of [client!, r1!, r2!, r3!, server!]) {
    await ns.sysctl('net.ipv4.icmp_ratelimit', 0);
    await ns.sysctl('net.ipv6.icmp.ratelimit', 0);
  }
  for (const r of [r1!, r2!, r3!]) await r.forwarding();
  const addrs: [Netns, string, string, string][] = [
    [client!, 'eth0', '192.0.2.1/30', '2001:db8:a::1/64'],
    [r1!, 'link-a', '192.0.2.2/30', '2001:db8:a::2/64'],
    [r1!, 'link-b', '192.0.2.5/30', '2001:db8:b::1/64'],
    [r2!, 'link-b', '192.0.2.6/30', '2001:db8:b::2/64'],
    [r2!, 'link-c', '192.0.2.9/30', '2001:db8:c::1/64'],
    [r3!, 'link-c', '192.0.2.10/30', '2001:db8:c::2/64'],
    [r3!, 'link-d', '198.51.100.1/24', '2001:db8:d::1/64'],
    [server!, 'eth0', '198.51.100.2/24', '2001:db8:d::2/64'],
  ];
  for (const [ns, dev, v4, v6] of addrs) {
    await ns.addr(dev, v4);
    await ns.addr(dev, v6);
  }
  await client!.route('default', 'via', '192.0.2.2');
  await client!.route('default', 'via', '2001:db8:a::2');
  await r1!.route('default', 'via', '192.0.2.6');
  await r1!.route('default', 'via', '2001:db8:b::2');
  await r2!.route('default', 'via', '192.0.2.10');
  await r2!.route('default', 'via', '2001:db8:c::2');
  await r2!.route('192.0.2.0/30', 'via', '192.0.2.5');
  await r2!.route('2001:db8:a::/64', 'via', '2001:db8:b::1');
  await r3!.route('192.0.2.0/29', 'via', '192.0.2.9');
  await r3!.route('2001:db8:a::/64', 'via', '2001:db8:c::1');
  await r3!.route('2001:db8:b::/64', 'via', '2001:db8:c::1');
  await server!.route('default', 'via', '198.51.100.1');
  await server!.route('default', 'via', '2001:db8:d::1');
  return {
    client: client!,
    r1: r1!,
    r2: r2!,
    r3: r3!,
    server: server!,
    target: { 4: '198.51.100.2', 6: '2001:db8:d::2' },
    hop: { 4: ['192.0.2.2', '192.0.2.6', '192.0.2.10', '198.51.100.2'], 6: ['2001:db8:a::2', '2001:db8:b::2', '2001:db8:c::2', '2001:db8:d::2'] },
  };
}

/** nftables on a router: drop the too-big messages it originates (a PMTUD black hole at that hop). */
export const DROP_TOO_BIG = `table inet pgprobe {
  chain out {
    type filter hook output priority 0; policy accept;
    icmp type destination-unreachable icmp code frag-needed drop
    icmpv6 type packet-too-big drop
  }
}
`;

/**
 * nftables on a router: its too-big messages carry a useless MTU — 0 over IPv4
 * (as pre-RFC 1191 routers sent), 1500 over IPv6 (not below the probe).
 * nftables fixes the ICMP checksum after the rewrite, so they still validate.
 */
export const USELESS_TOO_BIG = `table inet pgprobe {
  chain out {
    type filter hook output priority 0; policy accept;
    icmp type destination-unreachable icmp code frag-needed icmp mtu set 0
    icmpv6 type packet-too-big icmpv6 mtu set 1500
  }
}
`;

/** nftables on a router: it originates no ICMP error at all (neighbour discovery still works). */
export const DROP_ALL_ICMP_ERRORS = `table inet pgprobe {
  chain out {
    type filter hook output priority 0; policy accept;
    icmp type { destination-unreachable, time-exceeded, parameter-problem } drop
    icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem } drop
  }
}
`;

export const PROBE_CLI = fileURLToPath(new URL('../../../../src/cli/main.js', import.meta.url));

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `pathguard ARGS` (the probe command) inside `ns`; never throws on a non-zero exit. */
export function runCli(ns: Netns, args: readonly string[], timeoutMs = 120_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', ns.name, process.execPath, PROBE_CLI, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && typeof (err as { code?: unknown }).code !== 'number') return reject(err);
      resolve({ code: err ? Number((err as { code: number }).code) : 0, stdout, stderr });
    });
  });
}
