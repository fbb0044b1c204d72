/**
 * Counters a benchmark reads inside a lab namespace: named nft counters,
 * NFLOG drops at full netlink sockets, and interface packet counts.
 */
import type { Netns } from '../../test/harness/netns.js';

/** Named nft counters of a namespace: "table/name" → packets. */
export async function nftCounters(ns: Netns): Promise<Map<string, number>> {
  const r = await ns.exec('nft', ['-j', 'list', 'counters']);
  const doc = JSON.parse(r.stdout) as { nftables: { counter?: { table: string; name: string; packets: number } }[] };
  const out = new Map<string, number>();
  for (const o of doc.nftables) if (o.counter) out.set(`${o.counter.table}/${o.counter.name}`, o.counter.packets);
  return out;
}

/** Sum of the Drops column of NETLINK_NETFILTER sockets (/proc/net/netlink) in `ns`. */
export async function netlinkDrops(ns: Netns): Promise<number> {
  const lines = (await ns.exec('cat', ['/proc/net/netlink'])).stdout.trim().split('\n');
  const head = lines[0]!.trim().split(/\s+/);
  const eth = head.indexOf('Eth');
  const drops = head.indexOf('Drops');
  let sum = 0;
  for (const l of lines.slice(1)) {
    const f = l.trim().split(/\s+/);
    if (f[eth] === '12') sum += Number(f[drops]); // NETLINK_NETFILTER
  }
  return sum;
}

export async function rxPackets(ns: Netns, dev: string): Promise<number> {
  const r = await ns.exec('cat', [`/sys/class/net/${dev}/statistics/rx_packets`]);
  return Number(r.stdout.trim());
}
