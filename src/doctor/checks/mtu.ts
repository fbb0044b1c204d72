/**
 * The MTU checks: `mtu-overhead`, `pod-mtu`, `pmtud-disabled`,
 * `tcp-mtu-probing`, `mss-clamp` and `ipv6-min-mtu`. Encapsulation eats MTU
 * (IPIP 20, VXLAN 50 / 70, WireGuard 60 / 80); when nothing accounts for it,
 * full-size packets are dropped between nodes, and the ICMP that should say
 * so is often filtered or lost behind ECMP.
 */
import { AF } from '../../routes/objects.js';
import { parseAddress, type NumericAddress } from '../../routes/prefix.js';
import type { Check } from '../check.js';
import type { DoctorInputs, Evidence, Finding } from '../finding.js';
import { firewallModel } from '../firewall-model.js';
import {
  ARPHRD,
  confKey,
  defaultRoutes,
  encapOverhead,
  linkEvidence,
  lookupRoute,
  nodeFacts,
  podInterfaces,
  routeEvidence,
  servesServices,
  serviceAddresses,
  sysctlEvidence,
  sysctlInt,
  sysctlWrite,
  tunnelInUse,
  uplinks,
  type NodeFacts,
} from '../node-facts.js';
import type { SnapshotLink } from '../snapshot.js';

interface Underlay {
  readonly family: 4 | 6;
  readonly links: readonly SnapshotLink[];
  /** The smallest of the devices' MTUs and any route MTU on the way. */
  readonly mtu: number;
  readonly evidence: readonly Evidence[];
  /** How it was found, for the explanation. */
  readonly how: string;
}

function familyOf(a: NumericAddress): 4 | 6 {
  return a.family === AF.INET ? 4 : 6;
}

function isMulticast(a: NumericAddress): boolean {
  return a.family === AF.INET ? a.value >> 28n === 14n : a.value >> 120n === 0xffn;
}

/** Where a tunnel's packets leave the node: its bound device, the route to its remote, its local address's device, or the routes to the given endpoints. */
export function tunnelUnderlay(f: NodeFacts, l: SnapshotLink, inputs: DoctorInputs): Underlay | undefined {
  const t = l.tunnel;
  const local = t?.local !== undefined ? parseAddress(t.local) : undefined;
  const remote = t?.remote !== undefined ? parseAddress(t.remote) : undefined;
  const fam: 4 | 6 = remote ? familyOf(remote) : local ? familyOf(local) : l.kind === 'ip6tnl' || l.kind?.startsWith('ip6') ? 6 : 4;
  const fromLinks = (links: SnapshotLink[], how: string, extra: Evidence[] = [], routeMtu?: number): Underlay | undefined => {
    const usable = links.filter((x) => x.index !== l.index);
    if (usable.length === 0) return undefined;
    const mtu = Math.min(...usable.map((x) => x.mtu), routeMtu ?? Infinity);
    return { family: fam, links: usable, mtu, evidence: [...usable.map(linkEvidence), ...extra], how };
  };
  if (t?.underlay !== undefined) {
    const u = f.byIndex.get(t.underlay);
    if (u) return fromLinks([u], `bound to ${u.name}`);
  }
  const viaRoute = (a: NumericAddress, how: string): Underlay | undefined => {
    const r = lookupRoute(f, a);
    if (r === undefined || r.route.type !== 1) return undefined;
    const links = r.oifs.flatMap((i) => (f.byIndex.get(i) ? [f.byIndex.get(i)!] : []));
    return fromLinks(links, how, [routeEvidence(f, r.route)], r.route.mtu);
  };
  if (remote && !isMulticast(remote)) {
    const u = viaRoute(remote, `the route to its remote ${remote.text}`);
    if (u) return u;
  }
  if (local) {
    const owner = f.addresses.find((a) => a.address.text === local.text)?.link;
    if (owner && owner.type !== ARPHRD.LOOPBACK) return fromLinks([owner], `its local address ${local.text} is on ${owner.name}`);
  }
  for (const ep of inputs.tunnelEndpoints) {
    if (familyOf(ep) !== fam) continue;
    const u = viaRoute(ep, `the route to tunnel endpoint ${ep.text} (--tunnel-endpoints)`);
    if (u) return u;
  }
  const defaults = defaultRoutes(f, 254, fam);
  const links = [...new Set(defaults.flatMap((p) => p.oifs))].flatMap((i) => (f.byIndex.get(i) ? [f.byIndex.get(i)!] : []));
  const routeMtu = defaults.reduce<number | undefined>((m, p) => (p.route.mtu !== undefined ? Math.min(m ?? Infinity, p.route.mtu) : m), undefined);
  return fromLinks(links, 'the default route (the device names no remote; give --tunnel-endpoints to be exact)', defaults.slice(0, 2).map((p) => routeEvidence(f, p.route)), routeMtu);
}

export const mtuOverhead: Check = {
  id: 'mtu-overhead',
  title: 'an encapsulating device whose MTU plus its overhead exceeds its underlay MTU',
  run(s, inputs) {
    const f = nodeFacts(s);
    const out: Finding[] = [];
    for (const l of s.links) {
      if (!tunnelInUse(l)) continue;
      const u = tunnelUnderlay(f, l, inputs);
      if (u === undefined) continue;
      const o = encapOverhead(l, u.family);
      if (o === undefined || l.mtu + o.bytes <= u.mtu) continue;
      const want = u.mtu - o.bytes;
      out.push({
        id: 'mtu-overhead',
        severity: 'error',
        subject: l.name,
        title: `${l.name} (${l.kind}) has MTU ${l.mtu}, but ${l.mtu} + ${o.bytes} bytes of encapsulation exceeds the underlay's ${u.mtu}`,
        explanation:
          `Every packet ${l.name} sends grows by ${o.bytes} bytes (${o.why}) and leaves through ${u.links.map((x) => x.name).join(', ')} (${u.how}). ` +
          `A full-size ${l.mtu}-byte packet becomes ${l.mtu + o.bytes} bytes, more than the ${u.mtu} the underlay carries: the outer packet is ` +
          'fragmented (fragments many underlays, firewalls and load balancers drop) or, when its header carries DF, dropped, and the sender ' +
          'inside the tunnel is rarely told. Connections stall once they send full-size segments.',
        evidence: [
          linkEvidence(l),
          ...u.evidence,
          { type: 'value', name: 'overhead', value: o.bytes, text: `overhead ${o.bytes} bytes = ${o.why}` },
          { type: 'value', name: 'largest fitting MTU', value: want, text: `largest MTU that fits: ${u.mtu} - ${o.bytes} = ${want}` },
        ],
        fix: [`ip link set dev ${l.name} mtu ${want}`, '# and make the CNI or tunnel configuration set it (e.g. Calico/flannel MTU settings) so it survives a restart'],
      });
    }
    return out;
  },
};

export const podMtu: Check = {
  id: 'pod-mtu',
  title: "pod-facing interfaces with an MTU larger than the node's smallest tunnel MTU",
  run(s) {
    const tunnels = s.links.filter((l) => tunnelInUse(l));
    if (tunnels.length === 0) return [];
    const smallest = tunnels.reduce((a, b) => (b.mtu < a.mtu ? b : a));
    const pods = podInterfaces(s).filter((l) => l.up && l.mtu > smallest.mtu);
    if (pods.length === 0) return [];
    const evidence: Evidence[] = [linkEvidence(smallest), ...pods.slice(0, 10).map(linkEvidence)];
    if (pods.length > 10) evidence.push({ type: 'value', name: 'more interfaces', value: pods.length - 10, text: `and ${pods.length - 10} more pod interfaces` });
    return [
      {
        id: 'pod-mtu',
        severity: 'warn',
        subject: smallest.name,
        title: `${pods.length} pod-facing interface(s) have an MTU above ${smallest.name}'s ${smallest.mtu} (e.g. ${pods[0]!.name} ${pods[0]!.mtu})`,
        explanation:
          `Pods send packets as large as their interface MTU. Traffic to pods on other nodes goes through ${smallest.name} (${smallest.kind}, MTU ` +
          `${smallest.mtu}); anything larger must be fragmented or is dropped with an ICMP "too big" that pods behind NAT, NetworkPolicies or ECMP ` +
          'often never receive. TCP between pods then stalls on full-size segments.',
        evidence,
        fix: [
          `# set the CNI's MTU to ${smallest.mtu} (Calico: FELIX_IPINIPMTU / veth_mtu; flannel: derives it from the backend; Cilium: --mtu) and restart the pods, or per interface:`,
          ...pods.slice(0, 3).map((l) => `ip link set dev ${l.name} mtu ${smallest.mtu}`),
        ],
      },
    ];
  },
};

export const pmtudDisabled: Check = {
  id: 'pmtud-disabled',
  title: 'path MTU discovery turned off: ip_no_pmtu_disc, locked route MTUs, or min_pmtu above a link MTU',
  run(s) {
    const f = nodeFacts(s);
    const out: Finding[] = [];
    const nopmtu = sysctlInt(s, 'net.ipv4.ip_no_pmtu_disc');
    if (nopmtu !== undefined && nopmtu !== 0) {
      out.push({
        id: 'pmtud-disabled',
        severity: 'warn',
        subject: 'net.ipv4.ip_no_pmtu_disc',
        title: `net.ipv4.ip_no_pmtu_disc is ${nopmtu}: IPv4 path MTU discovery is ${nopmtu === 1 ? 'off' : 'partly ignored'}`,
        explanation:
          nopmtu === 1
            ? 'With 1, sockets send without DF and never learn the path MTU: routers fragment instead, and where they may not (tunnels with DF ' +
              'inherited, middleboxes dropping fragments) packets vanish.'
            : `With ${nopmtu}, the kernel ignores ICMP "fragmentation needed" for some or all protocols (ip-sysctl.rst), so a smaller path is never learned.`,
        evidence: [sysctlEvidence(s, 'net.ipv4.ip_no_pmtu_disc')],
        fix: [sysctlWrite('net.ipv4.ip_no_pmtu_disc', 0)],
      });
    }
    const locked = f.routes.filter((p) => p.route.mtuLocked === true);
    if (locked.length > 0) {
      const evidence = locked.slice(0, 10).map((p) => routeEvidence(f, p.route));
      if (locked.length > 10) evidence.push({ type: 'value', name: 'more routes', value: locked.length - 10, text: `and ${locked.length - 10} more` });
      out.push({
        id: 'pmtud-disabled',
        severity: 'warn',
        subject: 'locked route MTU',
        title: `${locked.length} route(s) have a locked MTU (\`mtu lock\`): PMTU discovery cannot lower it`,
        explanation:
          'A locked MTU metric (RTAX_LOCK) tells the kernel not to learn a smaller path MTU for destinations behind this route: over IPv4 ' +
          '__ip_rt_update_pmtu ignores "fragmentation needed" and packets go out without DF, so every smaller hop must fragment them, and ' +
          'wherever fragments are dropped (firewalls, load balancers, tunnels) large packets are lost without a word.',
        evidence,
        fix: locked.slice(0, 5).map((p) => `ip ${p.route.family === 6 ? '-6 ' : ''}route change ${p.route.dst === '0.0.0.0/0' || p.route.dst === '::/0' ? 'default' : p.route.dst}${p.route.gateway ? ` via ${p.route.gateway}` : ''}${p.route.oif !== undefined ? ` dev ${f.byIndex.get(p.route.oif)?.name ?? p.route.oif}` : ''}${p.route.table !== 254 ? ` table ${p.route.table}` : ''} mtu ${p.route.mtu ?? 1500}`),
      });
    }
    const minPmtu = sysctlInt(s, 'net.ipv4.route.min_pmtu');
    if (minPmtu !== undefined) {
      const small = s.links.filter((l) => l.up && l.type !== ARPHRD.LOOPBACK && l.mtu > 0 && l.mtu < minPmtu);
      if (small.length > 0) {
        out.push({
          id: 'pmtud-disabled',
          severity: 'warn',
          subject: 'net.ipv4.route.min_pmtu',
          title: `net.ipv4.route.min_pmtu ${minPmtu} is above the MTU of ${small.map((l) => `${l.name} (${l.mtu})`).join(', ')}`,
          explanation:
            `The kernel never learns an IPv4 path MTU below min_pmtu (${minPmtu}); "too big" messages that report less are clamped up to it ` +
            '(ip_rt_update_pmtu / __ip_rt_update_pmtu). A path through these links is smaller, so packets sized to the learned MTU are still too big.',
          evidence: [sysctlEvidence(s, 'net.ipv4.route.min_pmtu'), ...small.map(linkEvidence)],
          fix: [sysctlWrite('net.ipv4.route.min_pmtu', Math.max(68, Math.min(...small.map((l) => l.mtu))))],
        });
      }
    }
    return out;
  },
};

export const tcpMtuProbing: Check = {
  id: 'tcp-mtu-probing',
  title: 'TCP MTU probing off on a node that serves service addresses',
  run(s, inputs) {
    const v = sysctlInt(s, 'net.ipv4.tcp_mtu_probing');
    if (v === undefined || v !== 0) return [];
    const svc = servesServices(s, inputs);
    if (!svc.yes) return [];
    return [
      {
        id: 'tcp-mtu-probing',
        severity: 'warn',
        subject: 'net.ipv4.tcp_mtu_probing',
        title: 'net.ipv4.tcp_mtu_probing is 0 on a node that serves service addresses',
        explanation:
          'Behind ECMP, anycast or a load balancer, the ICMP "too big" for a connection can land on another node. Packetization-layer PMTUD ' +
          '(RFC 4821; tcp_mtu_probing=1) lets TCP detect the black hole itself after a few timeouts and lower its segment size; with 0 it never ' +
          'does and the connection stalls. It applies to IPv4 and IPv6 TCP alike.',
        evidence: [sysctlEvidence(s, 'net.ipv4.tcp_mtu_probing'), sysctlEvidence(s, 'net.ipv4.tcp_base_mss'), ...svc.evidence],
        fix: [sysctlWrite('net.ipv4.tcp_mtu_probing', 1), "# persist: echo 'net.ipv4.tcp_mtu_probing = 1' > /etc/sysctl.d/90-mtu-probing.conf"],
      },
    ];
  },
};

export const mssClamp: Check = {
  id: 'mss-clamp',
  title: 'an LVS-IPIP decapsulation device with service addresses and no MSS clamp while the uplink leaves no room for the tunnel',
  run(s, inputs) {
    const f = nodeFacts(s);
    const decap = s.links.filter((l) => (l.kind === 'ipip' || l.kind === 'ip6tnl') && l.up && l.tunnel?.remote === undefined);
    if (decap.length === 0) return [];
    const held = serviceAddresses(s, inputs).filter((a) => a.where === 'lo' || decap.some((d) => d.name === a.where));
    if (held.length === 0) return [];
    const ups = uplinks(f);
    if (ups.length === 0) return [];
    const uplinkMtu = Math.min(...ups.map((l) => l.mtu));
    const model = firewallModel(s);
    const clamps = model.rules.filter((r) => r.statements.some((st) => st.kind === 'mss-clamp'));
    if (clamps.length > 0) return [];
    const out: Finding[] = [];
    for (const d of decap) {
      const o = encapOverhead(d, d.kind === 'ip6tnl' ? 6 : 4);
      if (o === undefined) continue;
      const room = uplinkMtu - o.bytes;
      if (room >= 1500) continue;
      const v4 = held.find((h) => h.address.family === AF.INET);
      const mss = room - 40;
      out.push({
        id: 'mss-clamp',
        severity: 'warn',
        subject: d.name,
        title: `${d.name} receives IPIP from a director, but nothing clamps the MSS of replies from ${held[0]!.address.text} and the uplink (${uplinkMtu}) leaves only ${room} bytes inside the tunnel`,
        explanation:
          `Clients send packets sized to their own 1500-byte paths. The director adds ${o.bytes} bytes (${o.why}) to reach this realserver, so ` +
          `anything above ${room} bytes cannot cross the director's ${uplinkMtu}-byte link; the director's ICMP "too big" goes to the client, which ` +
          `often never gets it behind ECMP. Clamping the MSS this node announces in its SYN-ACKs (to ${mss}) keeps clients' segments small enough.`,
        evidence: [linkEvidence(d), ...held.slice(0, 4).map((h) => h.evidence), ...ups.map(linkEvidence), { type: 'value', name: 'overhead', value: o.bytes, text: `tunnel overhead ${o.bytes} = ${o.why}` }],
        fix: [
          v4 ? `iptables -t mangle -A OUTPUT -s ${v4.address.text} -p tcp --tcp-flags SYN,RST,ACK SYN,ACK -j TCPMSS --set-mss ${mss}` : `ip6tables -t mangle -A OUTPUT -s ${held[0]!.address.text} -p tcp --tcp-flags SYN,RST,ACK SYN,ACK -j TCPMSS --set-mss ${mss - 20}`,
          `# or with nftables: nft add rule inet mangle output tcp flags & (syn|ack) == syn|ack tcp option maxseg size set ${mss}`,
        ],
      });
    }
    return out;
  },
};

/** IPV6_MIN_MTU (include/linux/ipv6.h). */
const IPV6_MIN_MTU = 1280;

export const ipv6MinMtu: Check = {
  id: 'ipv6-min-mtu',
  title: 'an IPv6-enabled interface with an MTU below 1280',
  run(s) {
    const out: Finding[] = [];
    const allOff = sysctlInt(s, confKey('ipv6', 'all', 'disable_ipv6')) === 1;
    if (allOff) return out;
    for (const l of s.links) {
      if (!l.up || l.mtu >= IPV6_MIN_MTU || l.mtu === 0 || l.type === ARPHRD.TUNNEL || l.kind === 'ipip') continue;
      if (sysctlInt(s, confKey('ipv6', l.name, 'disable_ipv6')) === 1) continue;
      out.push({
        id: 'ipv6-min-mtu',
        severity: 'warn',
        subject: l.name,
        title: `${l.name} has MTU ${l.mtu}, below IPv6's minimum of 1280, while IPv6 is not disabled on it`,
        explanation:
          'IPv6 requires every link to carry 1280-byte packets (RFC 8200 §5). Below that the kernel silently removes IPv6 from the interface ' +
          '(addrconf_notify on NETDEV_CHANGEMTU): its IPv6 addresses and routes disappear, and IPv6 traffic through it is dropped.',
        evidence: [linkEvidence(l), sysctlEvidence(s, confKey('ipv6', l.name, 'disable_ipv6'))],
        fix: [`ip link set dev ${l.name} mtu ${IPV6_MIN_MTU}`, `# or, if IPv6 is not wanted there: ${sysctlWrite(confKey('ipv6', l.name, 'disable_ipv6'), 1, l.name)}`],
      });
    }
    return out;
  },
};
