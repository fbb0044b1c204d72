/**
 * The node snapshot the doctor's checks read: everything the checks need,
 * taken once, as plain JSON (so it can be saved with --save-snapshot, sent
 * in a support bundle, and read back with --snapshot, and so fixtures can
 * describe what this kernel cannot create: ipip, ip6tnl, gre, WireGuard,
 * IPVS).
 *
 * Addresses and prefixes are canonical text ("192.0.2.1", "2001:db8::/64");
 * kernel enumerations keep their numeric values (ARPHRD_*, RTN_*, RTPROT_*,
 * RT_SCOPE_*, FR_ACT_*, NUD_*), named in the comments. A source that could
 * not be read is absent and named in `problems`, never an empty list that
 * would look healthy.
 *
 * decodeSnapshot validates a saved snapshot with zod; what does not validate
 * is a ConfigError naming each field (`snapshot.links[2].mtu`), the value
 * found and what was expected.
 */
import { z } from 'zod';
import { problemsFromIssues, throwIfProblems } from '../config/problems.js';
import { parseAddress, parsePrefix } from '../routes/prefix.js';

/** The snapshot format; bumped when a field changes meaning. */
export const SNAPSHOT_VERSION = 1;

const int = (min = 0, max = 0xffff_ffff) => z.number().int().min(min).max(max);
const family = z.literal([4, 6]);
const address = z.string().refine((s) => parseAddress(s) !== undefined, { message: 'an IPv4 or IPv6 address' });
const prefix = z.string().refine((s) => parsePrefix(s) !== undefined, { message: 'a prefix ADDRESS/LENGTH' });

const tunnel = z.object({
  /** VNI (vxlan, geneve). */
  id: int().optional(),
  local: address.optional(),
  remote: address.optional(),
  /** Destination UDP port (vxlan, geneve). */
  port: int(0, 65535).optional(),
  /** ifindex of the device the tunnel is bound to. */
  underlay: int().optional(),
  /** GRE_* output flags (key, checksum, sequence: 4 bytes each). */
  greFlags: int(0, 0xffff).optional(),
  /** ip6tnl / ip6gre add the 8-byte encapsulation limit option. */
  encapLimit: z.boolean().optional(),
});

const link = z.object({
  index: int(1),
  name: z.string().min(1),
  /** IFLA_INFO_KIND: "veth", "bridge", "vxlan", "ipip", "wireguard", "tun"...; absent for physical NICs and lo. */
  kind: z.string().optional(),
  /** IFLA_INFO_SLAVE_KIND: the master's kind when this is a port ("bridge", "bond"). */
  slaveKind: z.string().optional(),
  /** ifi_type, ARPHRD_* (1 Ethernet, 768 IPIP, 769 IPv6-in-IPv6, 772 loopback, 778 GRE, 65534 none). */
  type: int(0, 0xffff),
  mtu: int(),
  /** IFF_UP: administratively up. */
  up: z.boolean(),
  /** IFF_LOWER_UP: carrier. */
  lowerUp: z.boolean(),
  operstate: z.string().optional(),
  /** IFLA_MASTER: ifindex of the bridge or bond. */
  master: int().optional(),
  /** IFLA_LINK: lower device (or a veth's peer, possibly in another namespace). */
  link: int().optional(),
  tunnel: tunnel.optional(),
});

const addressEntry = z.object({
  ifindex: int(1),
  family,
  address,
  prefixlen: int(0, 128),
  /** RT_SCOPE_*: 0 universe, 253 link, 254 host. */
  scope: int(0, 255),
});

const nexthop = z.object({
  oif: int().optional(),
  gateway: address.optional(),
  weight: int(1, 256),
});

const route = z.object({
  family,
  table: int(),
  /** Destination prefix; "0.0.0.0/0" or "::/0" for a default route. */
  dst: prefix,
  /** RTN_*: 1 unicast, 2 local, 3 broadcast, 6 blackhole, 7 unreachable, 8 prohibit... */
  type: int(0, 255),
  /** RTPROT_*: 2 kernel, 3 boot, 4 static, 112 pathguard, 186 BGP... */
  protocol: int(0, 255),
  scope: int(0, 255),
  oif: int().optional(),
  gateway: address.optional(),
  prefsrc: address.optional(),
  /** RTA_PRIORITY: the metric. */
  priority: int().optional(),
  nexthops: z.array(nexthop).optional(),
  /** RTAX_MTU */
  mtu: int().optional(),
  /** RTAX_LOCK has 1 << RTAX_MTU: path MTU discovery may not change this route's MTU. */
  mtuLocked: z.boolean().optional(),
});

const rule = z.object({
  family,
  priority: int(),
  table: int().optional(),
  src: prefix.optional(),
  dst: prefix.optional(),
  fwmark: int().optional(),
  fwmask: int().optional(),
  iif: z.string().optional(),
  oif: z.string().optional(),
  /** FR_ACT_*: 1 to table, 2 goto, 3 nop, 6 blackhole, 7 unreachable, 8 prohibit. */
  action: int(0, 255),
  /** FIB_RULE_INVERT: `not`. */
  invert: z.boolean().optional(),
  suppressPrefixlen: int().optional(),
});

const neighbour = z.object({
  ifindex: int(1),
  family,
  address,
  lladdr: z.string().optional(),
  /** NUD_* bits. */
  state: int(0, 0xffff),
});

const iptablesSource = z.object({
  /** `iptables-save` / `ip6tables-save` output. */
  text: z.string(),
  /** Which kernel API the iptables binary drives: nf_tables (iptables-nft) or legacy x_tables. */
  backend: z.enum(['nf_tables', 'legacy', 'unknown']),
});

const ipvsService = z.object({
  protocol: z.enum(['TCP', 'UDP', 'SCTP', 'FWM']),
  /** Virtual address (absent for firewall-mark services). */
  address: address.optional(),
  port: int(0, 65535).optional(),
  fwmark: int().optional(),
  realservers: z.array(
    z.object({
      address,
      port: int(0, 65535),
      /** "Tunnel" (IPIP), "Route" (direct routing), "Masq" (NAT). */
      forward: z.string(),
    }),
  ),
});

export const SNAPSHOT_SCHEMA = z.object({
  version: z.literal(SNAPSHOT_VERSION),
  /** ISO 8601 time the snapshot was taken. */
  takenAt: z.string(),
  hostname: z.string().optional(),
  kernel: z.object({ release: z.string(), version: z.string().optional() }),
  links: z.array(link),
  addresses: z.array(addressEntry),
  routes: z.array(route),
  rules: z.array(rule),
  neighbours: z.array(neighbour),
  /** Dotted sysctl names ("net.ipv4.conf.eth0.rp_filter") to their text value, as /proc/sys holds them. */
  sysctls: z.record(z.string(), z.string()),
  /** The `nftables` array of `nft -j list ruleset` (metainfo, table, chain, rule, set... objects). */
  nftables: z.array(z.record(z.string(), z.unknown())).optional(),
  iptables: z.object({ v4: iptablesSource.optional(), v6: iptablesSource.optional() }).optional(),
  conntrack: z.object({ count: int().optional(), max: int().optional() }).optional(),
  ipvs: z.array(ipvsService).optional(),
  /** pathguard's own /status document when an agent runs on the node. */
  agent: z.unknown().optional(),
  /** Sources that could not be read, and why (checks that need them say so). */
  problems: z.array(z.object({ source: z.string(), message: z.string() })),
});

export type Snapshot = z.infer<typeof SNAPSHOT_SCHEMA>;
export type SnapshotLink = Snapshot['links'][number];
export type SnapshotAddress = Snapshot['addresses'][number];
export type SnapshotRoute = Snapshot['routes'][number];
export type SnapshotRule = Snapshot['rules'][number];
export type SnapshotNexthop = NonNullable<SnapshotRoute['nexthops']>[number];
export type TunnelParameters = NonNullable<SnapshotLink['tunnel']>;
export type IptablesSource = z.infer<typeof iptablesSource>;
export type IpvsService = z.infer<typeof ipvsService>;

/**
 * Validates a snapshot (parsed JSON, or the text of a saved one). Throws a
 * ConfigError naming every field that does not validate, with the value
 * found and what was expected; returns the typed snapshot.
 */
export function decodeSnapshot(json: unknown, source = 'snapshot'): Snapshot {
  let doc = json;
  if (typeof json === 'string') {
    try {
      doc = JSON.parse(json) as unknown;
    } catch (err) {
      throwIfProblems([{ field: source, value: json.slice(0, 40), expected: `JSON text (${(err as Error).message})` }]);
    }
  }
  const parsed = SNAPSHOT_SCHEMA.safeParse(doc, { reportInput: true });
  if (!parsed.success) {
    throwIfProblems(problemsFromIssues(parsed.error.issues, { field: source, value: doc }));
  }
  return parsed.data!;
}
