/**
 * Reads the node once into a Snapshot. Nothing here changes the node:
 * rtnetlink dumps (links with their tunnel parameters, addresses, routes of
 * every table, rules, neighbours), /proc/sys files, `nft -j list ruleset`,
 * `iptables-save` / `ip6tables-save`, the conntrack counters, /proc/net/ip_vs
 * and the kernel release.
 *
 * Everything is read in the caller's network namespace, so
 * `ip netns exec NS pathguard doctor` reads NS (`ip netns exec` also
 * remounts /sys; /proc/sys/net is per-namespace by itself).
 *
 * A source that cannot be read (no nft binary, no conntrack module, no
 * permission) becomes an entry of `problems` and the field stays absent; the
 * checks that need it say so instead of reporting a healthy node.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { NetlinkSocket } from '../net/netlink-socket.js';
import { listRulesetJson } from '../firewall/nft.js';
import { NETLINK } from '../wire/netlink.js';
import { IFF, RTM, RTM_F, RTNL_FAMILY, FIB_RULE, type RtnlRequest } from '../wire/rtnetlink.js';
import { decodeLink, decodeTunnelInfo, dumpLinks, type Link } from '../wire/rtnl-link.js';
import { decodeAddress, dumpAddresses } from '../wire/rtnl-address.js';
import { decodeRoute, dumpRoutes, RTAX, type Route } from '../wire/rtnl-route.js';
import { decodeRule, dumpRules, type Rule } from '../wire/rtnl-rule.js';
import { decodeNeighbour, dumpNeighbours } from '../wire/rtnl-neighbour.js';
import { formatAddress } from '../wire/ip-address.js';
import { SNAPSHOT_VERSION, type IpvsService, type IptablesSource, type Snapshot, type SnapshotLink, type SnapshotRoute, type SnapshotRule } from './snapshot.js';

/** IFF_LOWER_UP (include/uapi/linux/if.h): the driver signals carrier. */
const IFF_LOWER_UP = 1 << 16;

/** Global sysctls the checks read. */
export const GLOBAL_SYSCTLS = [
  'net.ipv4.ip_forward',
  'net.ipv4.ip_no_pmtu_disc',
  'net.ipv4.route.min_pmtu',
  'net.ipv4.tcp_mtu_probing',
  'net.ipv4.tcp_base_mss',
  'net.ipv4.fib_multipath_use_neigh',
  'net.ipv4.fib_multipath_hash_policy',
  'net.ipv4.icmp_ratelimit',
  'net.ipv4.icmp_ratemask',
  'net.ipv6.icmp.ratelimit',
  'net.ipv6.route.mtu_expires',
  'net.netfilter.nf_conntrack_max',
  'net.netfilter.nf_conntrack_count',
  'net.bridge.bridge-nf-call-iptables',
  'net.core.rmem_max',
] as const;

/** Per-interface sysctls (also read for `all` and `default`). */
export const IPV4_CONF_SYSCTLS = ['rp_filter', 'arp_ignore', 'arp_announce', 'forwarding', 'accept_local', 'src_valid_mark'] as const;
export const IPV6_CONF_SYSCTLS = ['disable_ipv6', 'forwarding', 'mtu'] as const;

/** How a sysctl's dotted name maps to its /proc/sys file: an interface name may itself hold dots (eth0.100). */
export function sysctlKey(parts: readonly string[]): string {
  return parts.join('.');
}

function procPath(parts: readonly string[]): string {
  return `/proc/sys/${parts.join('/')}`;
}

/** A /proc/sys file's text; undefined when the key does not exist here (a module not loaded, another kernel). */
async function readText(path: string, problems?: { source: string; message: string }[]): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') problems?.push({ source: path, message: (err as Error).message });
    return undefined;
  }
}

/** Files read at once: a node with thousands of pod veths has tens of thousands of per-interface sysctls. */
const READ_BATCH = 64;

export interface ReadNodeOptions {
  /** Run subprocesses (nft, iptables-save) with this timeout; default 10 s. */
  readonly timeoutMs?: number;
  /** Where to find pathguard's agent /status (http://127.0.0.1:9462/status); not read when absent. */
  readonly statusUrl?: string;
}

function run(cmd: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args as string[], { timeout: timeoutMs, maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const e = err as NodeJS.ErrnoException;
        reject(new Error(e.code === 'ENOENT' ? `${cmd} is not installed` : `${cmd} ${args.join(' ')}: ${String(stderr).trim() || e.message}`));
      } else resolve(stdout);
    });
  });
}

function linkOf(l: Link): SnapshotLink | undefined {
  if (l.name === undefined) return undefined;
  const out: { -readonly [K in keyof SnapshotLink]: SnapshotLink[K] } = {
    index: l.index,
    name: l.name,
    type: l.type,
    mtu: l.mtu ?? 0,
    up: (l.flags & IFF.UP) !== 0,
    lowerUp: (l.flags & IFF_LOWER_UP) !== 0,
  };
  if (l.linkinfo?.kind !== undefined) out.kind = l.linkinfo.kind;
  if (l.linkinfo?.slaveKind !== undefined) out.slaveKind = l.linkinfo.slaveKind;
  if (l.operstate !== undefined) out.operstate = l.operstate;
  if (l.master !== undefined && l.master !== 0) out.master = l.master;
  if (l.link !== undefined && l.link !== 0) out.link = l.link;
  if (out.kind !== undefined) {
    const t = decodeTunnelInfo(out.kind, l.linkinfo?.data);
    if (t !== undefined) {
      const tunnel: { -readonly [K in keyof NonNullable<SnapshotLink['tunnel']>]: NonNullable<SnapshotLink['tunnel']>[K] } = {};
      if (t.id !== undefined) tunnel.id = t.id;
      if (t.local !== undefined) tunnel.local = formatAddress(t.local);
      if (t.remote !== undefined) tunnel.remote = formatAddress(t.remote);
      if (t.port !== undefined) tunnel.port = t.port;
      if (t.underlay !== undefined && t.underlay !== 0) tunnel.underlay = t.underlay;
      if (t.greFlags !== undefined) tunnel.greFlags = t.greFlags;
      if (t.encapLimit !== undefined) tunnel.encapLimit = t.encapLimit;
      out.tunnel = tunnel;
    }
  }
  return out;
}

function prefixText(family: 4 | 6, bytes: Uint8Array | undefined, len: number): string {
  if (bytes === undefined) return family === 4 ? `0.0.0.0/${len}` : `::/${len}`;
  return `${formatAddress(bytes)}/${len}`;
}

/** RTAX_MTU's bit in RTAX_LOCK (`ip route ... mtu lock N`). */
const MTU_LOCK_BIT = 1 << RTAX.MTU;

function routeOf(r: Route): SnapshotRoute | undefined {
  if ((r.flags & RTM_F.CLONED) !== 0) return undefined; // PMTU exceptions and the like are not the FIB
  const family = r.family === RTNL_FAMILY.INET ? 4 : r.family === RTNL_FAMILY.INET6 ? 6 : undefined;
  if (family === undefined) return undefined;
  const out: { -readonly [K in keyof SnapshotRoute]: SnapshotRoute[K] } = {
    family,
    table: r.table ?? 254,
    dst: prefixText(family, r.dst, r.dstLen),
    type: r.type,
    protocol: r.protocol,
    scope: r.scope,
  };
  if (r.oif !== undefined) out.oif = r.oif;
  if (r.gateway !== undefined) out.gateway = formatAddress(r.gateway);
  else if (r.via !== undefined && (r.via.address.length === 4 || r.via.address.length === 16)) out.gateway = formatAddress(r.via.address);
  if (r.prefsrc !== undefined) out.prefsrc = formatAddress(r.prefsrc);
  if (r.priority !== undefined) out.priority = r.priority;
  if (r.multipath !== undefined) {
    out.nexthops = r.multipath.map((n) => {
      const h: { oif?: number; gateway?: string; weight: number } = { weight: n.weight };
      if (n.ifindex !== 0) h.oif = n.ifindex;
      if (n.gateway !== undefined) h.gateway = formatAddress(n.gateway);
      else if (n.via !== undefined && (n.via.address.length === 4 || n.via.address.length === 16)) h.gateway = formatAddress(n.via.address);
      return h;
    });
  }
  if (r.metrics?.mtu !== undefined) out.mtu = r.metrics.mtu;
  if (r.metrics?.lock !== undefined && (r.metrics.lock & MTU_LOCK_BIT) !== 0) out.mtuLocked = true;
  return out;
}

function ruleOf(r: Rule): SnapshotRule | undefined {
  const family = r.family === RTNL_FAMILY.INET ? 4 : r.family === RTNL_FAMILY.INET6 ? 6 : undefined;
  if (family === undefined) return undefined;
  const out: { -readonly [K in keyof SnapshotRule]: SnapshotRule[K] } = { family, priority: r.priority ?? 0, action: r.action };
  if (r.table !== undefined) out.table = r.table;
  if (r.src !== undefined) out.src = prefixText(family, r.src, r.srcLen);
  if (r.dst !== undefined) out.dst = prefixText(family, r.dst, r.dstLen);
  if (r.fwmark !== undefined) out.fwmark = r.fwmark;
  if (r.fwmask !== undefined) out.fwmask = r.fwmask;
  if (r.iifname !== undefined) out.iif = r.iifname;
  if (r.oifname !== undefined) out.oif = r.oifname;
  if ((r.flags & FIB_RULE.INVERT) !== 0) out.invert = true;
  // the kernel reports an unset suppress_prefixlength as -1 (0xffffffff)
  if (r.suppressPrefixlen !== undefined && r.suppressPrefixlen >= 0 && r.suppressPrefixlen <= 128) out.suppressPrefixlen = r.suppressPrefixlen;
  return out;
}

/** iptables-save's header names its backend: "iptables-nft-save ... (nf_tables)" or plain/legacy. */
export function iptablesBackend(text: string): IptablesSource['backend'] {
  const header = /^# Generated by (\S+) (.*)$/m.exec(text);
  if (header === null) return 'unknown';
  if (/nf_tables/.test(header[2]!) || /-nft-/.test(header[1]!)) return 'nf_tables';
  return 'legacy';
}

/**
 * /proc/net/ip_vs (net/netfilter/ipvs/ip_vs_ctl.c ip_vs_info_seq_show):
 *   TCP  C0000264:0050 rr
 *     -> C0000265:0050      Tunnel  1      0          0
 * Addresses are hex in network order (IPv6 as [....]).
 */
export function parseIpvs(text: string): IpvsService[] {
  const out: { protocol: IpvsService['protocol']; address?: string; port?: number; fwmark?: number; realservers: IpvsService['realservers'][number][] }[] = [];
  const hexAddr = (h: string): string | undefined => {
    const t = h.replace(/^\[|\]$/g, '').replace(/:/g, '');
    if (!/^[0-9A-Fa-f]+$/.test(t) || (t.length !== 8 && t.length !== 32)) return undefined;
    const bytes = new Uint8Array(t.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(t.slice(2 * i, 2 * i + 2), 16);
    return formatAddress(bytes);
  };
  const split = (s: string): [string, number] | undefined => {
    const i = s.lastIndexOf(':');
    if (i < 0) return undefined;
    const a = hexAddr(s.slice(0, i));
    const p = parseInt(s.slice(i + 1), 16);
    return a === undefined || !Number.isInteger(p) ? undefined : [a, p];
  };
  for (const line of text.split('\n')) {
    const svc = /^(TCP|UDP|SCTP)\s+(\S+)\s/.exec(line);
    if (svc) {
      const ap = split(svc[2]!);
      if (ap) out.push({ protocol: svc[1] as IpvsService['protocol'], address: ap[0], port: ap[1], realservers: [] });
      continue;
    }
    const fwm = /^FWM\s+([0-9A-Fa-f]+)\s/.exec(line);
    if (fwm) {
      out.push({ protocol: 'FWM', fwmark: parseInt(fwm[1]!, 16), realservers: [] });
      continue;
    }
    const rs = /^\s+->\s+(\S+)\s+(\S+)/.exec(line);
    if (rs && out.length > 0) {
      const ap = split(rs[1]!);
      if (ap) out[out.length - 1]!.realservers.push({ address: ap[0], port: ap[1], forward: rs[2]! });
    }
  }
  return out;
}

/** Reads the node. Never throws for a source it cannot read; only for an rtnetlink socket it cannot open. */
export async function readNode(opts: ReadNodeOptions = {}): Promise<Snapshot> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const problems: { source: string; message: string }[] = [];
  // The firewall listings are other processes: they run while this one dumps rtnetlink
  // (nft -j on 5,000 rules alone is about a third of a second).
  const settle = <T>(p: Promise<T>) => p.then((value) => ({ ok: true as const, value }), (err: unknown) => ({ ok: false as const, err: err as Error }));
  const nftListing = settle(listRulesetJson({ timeoutMs }));
  const iptablesListings = (['iptables-save', 'ip6tables-save'] as const).map((cmd) => ({ cmd, result: settle(run(cmd, [], timeoutMs)) }));
  const nl = NetlinkSocket.open(NETLINK.ROUTE);
  const links: SnapshotLink[] = [];
  const addresses: Snapshot['addresses'] = [];
  const routes: SnapshotRoute[] = [];
  const rules: SnapshotRule[] = [];
  const neighbours: Snapshot['neighbours'] = [];
  try {
    const dump = (req: RtnlRequest) => nl.dump(req.type, req.fixed, req.attrs);
    for (const m of await dump(dumpLinks())) {
      if (m.type !== RTM.NEWLINK) continue;
      const l = linkOf(decodeLink(m));
      if (l) links.push(l);
    }
    for (const [fam, af] of [[4, RTNL_FAMILY.INET], [6, RTNL_FAMILY.INET6]] as const) {
      for (const m of await dump(dumpAddresses(af))) {
        if (m.type !== RTM.NEWADDR) continue;
        const a = decodeAddress(m);
        const addr = a.local ?? a.address;
        if (addr === undefined) continue;
        addresses.push({ ifindex: a.index, family: fam, address: formatAddress(addr), prefixlen: a.prefixlen, scope: a.scope });
      }
      for (const m of await dump(dumpRoutes(af))) {
        if (m.type !== RTM.NEWROUTE) continue;
        const r = routeOf(decodeRoute(m));
        if (r) routes.push(r);
      }
      for (const m of await dump(dumpRules(af))) {
        if (m.type !== RTM.NEWRULE) continue;
        const r = ruleOf(decodeRule(m));
        if (r) rules.push(r);
      }
      for (const m of await dump(dumpNeighbours(af))) {
        if (m.type !== RTM.NEWNEIGH) continue;
        const n = decodeNeighbour(m);
        if (n.ifindex < 1 || n.dst === undefined || (n.dst.length !== 4 && n.dst.length !== 16)) continue;
        const e: Snapshot['neighbours'][number] = { ifindex: n.ifindex, family: fam, address: formatAddress(n.dst), state: n.state };
        if (n.lladdr !== undefined) (e as { lladdr?: string }).lladdr = [...n.lladdr].map((b) => b.toString(16).padStart(2, '0')).join(':');
        neighbours.push(e);
      }
    }
  } finally {
    nl.close();
  }

  const sysctls: Record<string, string> = {};
  const wanted: string[][] = GLOBAL_SYSCTLS.map((k) => k.split('.'));
  for (const dev of ['all', 'default', ...links.map((l) => l.name)]) {
    for (const k of IPV4_CONF_SYSCTLS) wanted.push(['net', 'ipv4', 'conf', dev, k]);
    for (const k of IPV6_CONF_SYSCTLS) wanted.push(['net', 'ipv6', 'conf', dev, k]);
  }
  const values: (string | undefined)[] = [];
  for (let i = 0; i < wanted.length; i += READ_BATCH) {
    values.push(...(await Promise.all(wanted.slice(i, i + READ_BATCH).map((parts) => readText(procPath(parts), problems)))));
  }
  wanted.forEach((parts, i) => {
    const v = values[i];
    if (v !== undefined) sysctls[sysctlKey(parts)] = v;
  });

  const snapshot: { -readonly [K in keyof Snapshot]: Snapshot[K] } = {
    version: SNAPSHOT_VERSION,
    takenAt: new Date().toISOString(),
    hostname: hostname(),
    kernel: { release: (await readText('/proc/sys/kernel/osrelease')) ?? 'unknown' },
    links,
    addresses,
    routes,
    rules,
    neighbours,
    sysctls,
    problems,
  };
  const kversion = await readText('/proc/sys/kernel/version');
  if (kversion !== undefined) snapshot.kernel = { ...snapshot.kernel, version: kversion };

  const nft = await nftListing;
  if (nft.ok) snapshot.nftables = nft.value;
  else problems.push({ source: 'nftables', message: nft.err.message });

  const iptables: { v4?: IptablesSource; v6?: IptablesSource } = {};
  for (const [i, key] of (['v4', 'v6'] as const).entries()) {
    const { cmd, result } = iptablesListings[i]!;
    const r = await result;
    if (r.ok) iptables[key] = { text: r.value, backend: iptablesBackend(r.value) };
    else problems.push({ source: cmd, message: r.err.message });
  }
  if (iptables.v4 !== undefined || iptables.v6 !== undefined) snapshot.iptables = iptables;

  const count = sysctls['net.netfilter.nf_conntrack_count'];
  const max = sysctls['net.netfilter.nf_conntrack_max'];
  if (count !== undefined || max !== undefined) {
    const c: { count?: number; max?: number } = {};
    if (count !== undefined && /^\d+$/.test(count)) c.count = Number(count);
    if (max !== undefined && /^\d+$/.test(max)) c.max = Number(max);
    snapshot.conntrack = c;
  } else {
    problems.push({ source: 'conntrack', message: 'net.netfilter.nf_conntrack_count is absent: connection tracking is not loaded in this namespace' });
  }

  const ipvs = await readText('/proc/net/ip_vs');
  if (ipvs !== undefined) snapshot.ipvs = parseIpvs(ipvs);

  if (opts.statusUrl !== undefined) {
    try {
      const res = await fetch(opts.statusUrl, { signal: AbortSignal.timeout(Math.min(timeoutMs, 2000)) });
      if (res.ok) snapshot.agent = (await res.json()) as unknown;
      else problems.push({ source: 'agent status', message: `${opts.statusUrl}: HTTP ${res.status}` });
    } catch (err) {
      problems.push({ source: 'agent status', message: `${opts.statusUrl}: ${(err as Error).message}` });
    }
  }
  return snapshot;
}
