// A test LVS-IPIP realserver, built by hand (src/realserver/ is the product's
// own set-up): the VIPs on lo, rp_filter off, a TCP listener on the VIPs, the
// decapsulation helper (decap.ts) and, optionally, an nftables MSS clamp on the
// SYN-ACKs and a firewall that drops IPIP / IP6IP6.
//
//   client 192.0.2.1 / 2001:db8:20::1 ──── rs 192.0.2.2 / 2001:db8:20::2
//                                            lo: 203.0.113.10, 2001:db8:f::10
import { fileURLToPath } from 'node:url';
import { waitFor, type Lab, type Netns } from '../../../harness/netns.js';

export const VIP = { 4: '203.0.113.10', 6: '2001:db8:f::10' } as const;
export const RS = { 4: '192.0.2.2', 6: '2001:db8:20::2' } as const;
export const CLIENT = { 4: '192.0.2.1', 6: '2001:db8:20::1' } as const;
export const PORT = 8080;
export const DECAP_DEV = 'pgdecap';

export interface RealserverLab {
  readonly client: Netns;
  readonly rs: Netns;
  /** Lines the decap helper printed so far. */
  decapLines(): string[];
}

/** `tcp option maxseg size set` on the SYN-ACKs leaving the realserver. */
export function mssClamp(mss: number): string {
  return `table inet pgprobe-mss {
  chain out {
    type filter hook output priority mangle; policy accept;
    tcp flags & (syn | ack) == syn | ack tcp option maxseg size set ${mss}
  }
}
`;
}

/** The realserver's firewall refuses IPIP (protocol 4) and IPv6-in-IPv6 (next header 41). */
export const DROP_TUNNELS = `table inet pgprobe-fw {
  chain in {
    type filter hook input priority 0; policy accept;
    meta l4proto { 4, 41 } drop
  }
}
`;

export async function buildRealserver(lab: Lab): Promise<RealserverLab> {
  const client = await lab.ns('cl');
  const rs = await lab.ns('rs');
  await lab.veth(client, 'eth0', rs, 'eth0');
  await client.addr('eth0', `${CLIENT[4]}/24`);
  await client.addr('eth0', `${CLIENT[6]}/64`);
  await rs.addr('eth0', `${RS[4]}/24`);
  await rs.addr('eth0', `${RS[6]}/64`);
  await rs.addr('lo', `${VIP[4]}/32`);
  await rs.addr('lo', `${VIP[6]}/128`);
  // `probe mss` connects to the VIP directly, as a client behind the director would
  await client.route(`${VIP[4]}/32`, 'via', RS[4]);
  await client.route(`${VIP[6]}/128`, 'via', RS[6]);
  await rs.sysctl('net.ipv4.conf.all.rp_filter', 0);
  await rs.sysctl('net.ipv4.conf.default.rp_filter', 0);

  const listener = rs.spawn(process.execPath, ['-e', `require('node:net').createServer((s) => s.destroy()).listen(${PORT}, '::', () => console.log('listening'))`]);
  let listening = '';
  listener.stdout!.on('data', (d) => (listening += d));
  const decap = rs.spawn(process.execPath, [fileURLToPath(new URL('./decap.js', import.meta.url)), DECAP_DEV]);
  let decapOut = '';
  let decapErr = '';
  decap.stdout!.on('data', (d) => (decapOut += d));
  decap.stderr!.on('data', (d) => (decapErr += d));
  await waitFor(() => listening.includes('listening'), 10_000);
  await waitFor(() => {
    if (decap.exitCode !== null) throw new Error(`decap helper exited ${decap.exitCode}: ${decapErr}`);
    return decapOut.includes('ready');
  }, 10_000);
  await rs.sysctl(`net.ipv4.conf.${DECAP_DEV}.rp_filter`, 0);
  return { client, rs, decapLines: () => decapOut.trim().split('\n') };
}
