/**
 * Which message families a relay configuration can never deliver. Every
 * transport but `ip` carries IPv4 and IPv6 messages over either family (udp
 * in a datagram, l2 and broadcast in Ethernet). `ip` re-originates the ICMP
 * error itself, and an ICMPv6 error cannot be sent to an IPv4 address (nor
 * the other way round), so it needs a peer address of the message's family.
 *
 * A family matters when this node may be asked to relay it: a service prefix
 * of that family in --vip-networks, or, without --vip-networks, a local
 * address of that family (IPv6 link-local addresses do not count: no
 * service is reached by one).
 */
import type { Prefix } from '../wire/ip-prefix.js';
import type { Peer } from '../peers/peer-set.js';

export interface FamilyInputs {
  readonly transport: string;
  readonly vipNetworks: readonly Prefix[];
  readonly peers: readonly Peer[];
  /** This node's addresses, 4 or 16 bytes each. */
  readonly local: readonly Uint8Array[];
}

const isLinkLocalV6 = (a: Uint8Array) => a.byteLength === 16 && a[0] === 0xfe && (a[1]! & 0xc0) === 0x80;

/** The families (4, 6) the node may be asked to relay and the configuration can never deliver; empty when all is well. */
export function unrelayableFamilies(i: FamilyInputs): (4 | 6)[] {
  if (i.transport !== 'ip' || i.peers.length === 0) return [];
  const out: (4 | 6)[] = [];
  for (const family of [4, 6] as const) {
    const len = family === 4 ? 4 : 16;
    const served = i.vipNetworks.length > 0 ? i.vipNetworks.some((c) => c.address.byteLength === len) : i.local.some((a) => a.byteLength === len && !isLinkLocalV6(a));
    const reachable = i.peers.some((p) => p.addresses.some((a) => a.family === family));
    if (served && !reachable) out.push(family);
  }
  return out;
}
