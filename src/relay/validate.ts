/**
 * The relay's policy on a decoded "too big" message (src/wire/too-big.ts):
 * what decodeTooBig() accepts is a well-formed ICMP error; what this module
 * accepts is one worth relaying to every node.
 *
 * Checks, in order (the first failure is the reason):
 *   ignored_source        the outer source (the router) is inside
 *                         --ignore-networks (go-pmtud's flag of that name)
 *   mtu_out_of_range      the next-hop MTU is below the family's minimum link
 *                         MTU (IPv4 68, RFC 791 / RFC 1191 §3; IPv6 1280,
 *                         RFC 8200 §5) or above 65535. The kernel itself
 *                         clamps a learned PMTU (min_pmtu, 552 by default;
 *                         IPv6 ignores < 1280, RFC 8201 §4), but nothing below
 *                         the minimum can be genuine, so it is not worth
 *                         sending N times; ICMPv6 carries 32 bits and a
 *                         value above 65535 only makes sense for jumbograms.
 *   mtu_not_below_quoted  the next-hop MTU is not smaller than the packet the
 *                         router quotes (its own length field: IPv4 total
 *                         length, IPv6 payload length + 40). Such a message
 *                         cannot lower anyone's path MTU: a packet that size
 *                         fits. RFC 8201 §4 (a PTB never raises the PMTU
 *                         estimate), RFC 8899 §4.6.2 (a PTB whose size is
 *                         larger than the packet it quotes is discarded);
 *                         the owner's kernel ignores it too (__ip_rt_update_pmtu
 *                         keeps a smaller cached MTU). A quote whose length
 *                         field says 0 (BIG TCP, jumbograms) is not judged.
 *   quoted_src_not_local  the packet the router quotes was not sent by this
 *                         cluster: its source is neither a local address of
 *                         this node nor inside --vip-networks. Only such
 *                         messages can concern a flow another node owns.
 *   port_not_allowed      --ports is set and the quoted L4 source port (our
 *                         service port) is not in it, or the quote carries no
 *                         ports (not TCP/UDP/UDP-Lite/SCTP/DCCP, or a quoted
 *                         non-first fragment), so the port cannot be checked.
 *
 * All matching is on raw address bytes through PrefixSet; the local address
 * set is replaced whole when the agent sees addresses change (rtnetlink).
 */
import { ConfigError } from '../errors.js';
import { TOO_BIG_REJECT, type TooBig, type TooBigReject } from '../wire/too-big.js';
import { PrefixSet } from './prefix-set.js';
import type { Prefix } from '../wire/ip-prefix.js';

export const RELAY_REJECT = [
  'ignored_source',
  'mtu_out_of_range',
  'mtu_not_below_quoted',
  'quoted_src_not_local',
  'port_not_allowed',
  // Decided by the data plane after validate(): the message is fine, but the transport has nowhere to send it.
  'no_peers', // no peer to send to (none configured or discovered; l2: no peer MAC resolved yet)
  'no_peer_of_family', // ip transport: no peer has an address of the message's family
] as const;
export type RelayReject = (typeof RELAY_REJECT)[number];

/** Every reason a captured packet is not relayed: decoding, then policy. Bounded metric label values. */
export const REJECT_REASONS = [...TOO_BIG_REJECT, ...RELAY_REJECT] as const;
export type RejectReason = TooBigReject | RelayReject;

/** Smallest MTU a link may have: IPv4 (RFC 791: every module forwards 68 octets unfragmented), IPv6 (RFC 8200 §5). */
export const MIN_MTU = { 4: 68, 6: 1280 } as const;
/** Largest next-hop MTU relayed (the IPv4 field's 16-bit ceiling; beyond it only jumbograms, RFC 2675). */
export const MAX_MTU = 65_535;

export interface PolicyOptions {
  /** Service addresses announced by the cluster (both families). */
  readonly vipNetworks?: readonly Prefix[];
  /** Outer sources whose messages are dropped. */
  readonly ignoreNetworks?: readonly Prefix[];
  /** Allowed quoted L4 source ports; absent or empty allows all. */
  readonly ports?: readonly number[];
  /** This node's addresses at start; see setLocalAddresses(). */
  readonly localAddresses?: readonly Uint8Array[];
}

/** The compiled policy: prefix sets and the port bitmap. Only the local address set changes at run time. */
export class Policy {
  readonly vipNetworks: PrefixSet;
  readonly ignoreNetworks: PrefixSet;
  /** One bit per port when an allow-list is set. */
  private readonly portBits: Uint32Array | undefined;
  private local: PrefixSet;

  constructor(opts: PolicyOptions = {}) {
    this.vipNetworks = new PrefixSet(opts.vipNetworks ?? []);
    this.ignoreNetworks = new PrefixSet(opts.ignoreNetworks ?? []);
    this.local = PrefixSet.ofAddresses(opts.localAddresses ?? []);
    const ports = opts.ports ?? [];
    if (ports.length > 0) {
      const bits = new Uint32Array(65_536 / 32);
      const bad = ports.filter((p) => !Number.isInteger(p) || p < 0 || p > 65_535);
      if (bad.length > 0) throw new ConfigError(bad.map((p) => ({ field: 'ports', value: p, expected: 'an integer in 0..65535' })));
      for (const p of ports) bits[p >>> 5]! |= 1 << (p & 31);
      this.portBits = bits;
    }
  }

  /** Replaces this node's local addresses (4- or 16-byte each); the agent calls it on RTM_NEWADDR/RTM_DELADDR. */
  setLocalAddresses(addresses: readonly Uint8Array[]): void {
    this.local = PrefixSet.ofAddresses(addresses);
  }

  /** True when `address` is a local address of this node or inside --vip-networks. */
  isOurs(address: Uint8Array): boolean {
    return this.local.has(address) || this.vipNetworks.has(address);
  }

  /** True when `port` passes the --ports allow-list (always, without one). */
  portAllowed(port: number | undefined): boolean {
    const bits = this.portBits;
    if (bits === undefined) return true;
    if (port === undefined) return false;
    return ((bits[port >>> 5]! >>> (port & 31)) & 1) === 1;
  }
}

/** The policy verdict on a decoded message: undefined to relay it, or the reason not to. */
export function validate(tb: TooBig, policy: Policy): RelayReject | undefined {
  if (policy.ignoreNetworks.has(tb.outerSrc)) return 'ignored_source';
  if (tb.mtu < MIN_MTU[tb.family] || tb.mtu > MAX_MTU) return 'mtu_out_of_range';
  if (tb.quotedLength !== undefined && tb.mtu >= tb.quotedLength) return 'mtu_not_below_quoted';
  if (!policy.isOurs(tb.flow.src)) return 'quoted_src_not_local';
  if (!policy.portAllowed(tb.flow.srcPort)) return 'port_not_allowed';
  return undefined;
}
