/**
 * `rp-filter`: strict reverse-path filtering where packets legitimately
 * arrive on an interface the reply would not leave through.
 *
 * fib_validate_source (net/ipv4/fib_frontend.c) drops a packet in strict
 * mode (1) unless the best route back to its source leaves through the
 * interface it came in on; loose mode (2) only asks for any route. The mode
 * used is max(conf/all/rp_filter, conf/DEV/rp_filter) (IN_DEV_RPFILTER in
 * include/linux/inetdevice.h), so a per-interface 0 or 2 does nothing while
 * conf/all is 1.
 *
 * Where that bites:
 * - decapsulating devices (ipip, ip6tnl, gre, vxlan, geneve, pathguard's
 *   TUN): the inner source is a client anywhere on the Internet whose route
 *   leaves through the uplink. When no route points into the device at all,
 *   every such packet is dropped (error); when some do (Calico IPIP, flannel
 *   VXLAN route the other nodes' pod blocks there), only sources outside
 *   those routes are (info);
 * - uplinks of a node with several default routes or return-path policy
 *   routing: a reply may come back on the other uplink (warn).
 */
import { RT_TABLE } from '../../routes/objects.js';
import type { Check } from '../check.js';
import type { Evidence, Finding } from '../finding.js';
import { confKey, defaultRoutes, ENCAP_KINDS, effectiveMax, linkEvidence, nodeFacts, routeEvidence, sysctlEvidence, sysctlWrite, tunnelInUse, uplinks } from '../node-facts.js';
import type { SnapshotLink } from '../snapshot.js';

const ID = 'rp-filter';

/** Kinds that deliver decapsulated packets (WireGuard checks its own allowed-ips instead). */
const DECAP_KINDS = new Set([...ENCAP_KINDS].filter((k) => k !== 'wireguard'));

function fixFor(dev: string, all: number | undefined, own: number | undefined): string[] {
  const out: string[] = [];
  if ((all ?? 0) === 1) out.push(sysctlWrite(confKey('ipv4', 'all', 'rp_filter'), 2));
  if ((own ?? 0) === 1) out.push(sysctlWrite(confKey('ipv4', dev, 'rp_filter'), 2, dev));
  out.push(`# persist: echo 'net.ipv4.conf.all.rp_filter = 2' > /etc/sysctl.d/90-rp-filter.conf (and the same for ${dev} if set there)`);
  return out;
}

export const rpFilter: Check = {
  id: ID,
  title: 'strict reverse-path filtering on interfaces that receive asymmetric or decapsulated traffic',
  run(s, inputs) {
    const f = nodeFacts(s);
    const out: Finding[] = [];
    const seen = new Set<number>();

    const decap: SnapshotLink[] = s.links.filter(
      // a bridge or bond port hands its packets to the master: rp_filter applies there, not on the port
      (l) => l.master === undefined && ((DECAP_KINDS.has(l.kind ?? '') && tunnelInUse(l)) || (l.kind === 'tun' && l.name === inputs.tunName && l.up)),
    );
    for (const l of decap) {
      const e = effectiveMax(s, l.name, 'rp_filter');
      if (e.value !== 1) continue;
      seen.add(l.index);
      // any main-table route through the device, connected ones included: sources it covers pass the strict check
      const routed = (f.tables.get(RT_TABLE.MAIN) ?? []).filter((p) => p.route.family === 4 && p.oifs.includes(l.index));
      const severity = routed.length === 0 ? 'error' : 'info';
      const evidence: Evidence[] = [linkEvidence(l), sysctlEvidence(s, confKey('ipv4', 'all', 'rp_filter')), sysctlEvidence(s, confKey('ipv4', l.name, 'rp_filter'))];
      evidence.push(
        routed.length === 0
          ? { type: 'value', name: 'routes via device', value: 0, text: `no IPv4 route in table main leaves through ${l.name}: every decapsulated packet fails the strict check` }
          : { type: 'value', name: 'routes via device', value: routed.length, text: `${routed.length} route(s) leave through ${l.name}; packets from other sources fail the strict check` },
      );
      for (const p of routed.slice(0, 3)) evidence.push(routeEvidence(f, p.route));
      out.push({
        id: ID,
        severity,
        subject: l.name,
        title: `${l.name} (${l.kind === 'tun' ? 'pathguard TUN' : l.kind}) has strict rp_filter (effective ${e.value} = max(all ${e.all ?? '-'}, ${l.name} ${e.dev ?? '-'}))`,
        explanation:
          `Packets that come out of ${l.name} carry their original source (a client, or another node's pod). With strict reverse-path filtering the ` +
          `kernel drops each one whose best route back does not leave through ${l.name}, silently (counted only in the rp_filter drop reason). ` +
          'The effective mode is the larger of conf/all and the interface\'s own setting, so lowering only the interface is not enough while conf/all is 1. ' +
          'Loose mode (2) keeps spoofing protection against unroutable sources.',
        evidence,
        fix: fixFor(l.name, e.all, e.dev),
      });
    }

    // uplinks of a multi-homed node or one with return-path policy routing
    const defaults = defaultRoutes(f, RT_TABLE.MAIN, 4);
    const defaultDevs = new Set(defaults.flatMap((p) => p.oifs));
    const policy = s.rules.filter(
      (r) => r.family === 4 && r.src !== undefined && !r.src.endsWith('/0') && r.action === 1 && r.table !== undefined && r.table !== RT_TABLE.MAIN && r.table !== RT_TABLE.LOCAL && r.table !== RT_TABLE.DEFAULT && defaultRoutes(f, r.table, 4).length > 0,
    );
    if (defaultDevs.size < 2 && policy.length === 0) return out;
    for (const l of uplinks(f)) {
      if (seen.has(l.index)) continue;
      const e = effectiveMax(s, l.name, 'rp_filter');
      if (e.value !== 1) continue;
      const evidence: Evidence[] = [linkEvidence(l), sysctlEvidence(s, confKey('ipv4', 'all', 'rp_filter')), sysctlEvidence(s, confKey('ipv4', l.name, 'rp_filter'))];
      for (const p of defaults.slice(0, 4)) evidence.push(routeEvidence(f, p.route));
      for (const r of policy.slice(0, 4)) evidence.push({ type: 'rule', family: 4, priority: r.priority, text: `ip rule: ${r.priority}: from ${r.src} lookup ${r.table}` });
      out.push({
        id: ID,
        severity: 'warn',
        subject: l.name,
        title: `uplink ${l.name} has strict rp_filter on a node with ${defaultDevs.size >= 2 ? 'several default-route interfaces' : 'return-path policy routing'}`,
        explanation:
          'Traffic to this node may arrive on one uplink while the best route back to its source leaves through another (ECMP upstream, policy ' +
          'routing for service addresses). Strict reverse-path filtering drops exactly those packets, including ICMP "too big" messages that PMTUD depends on.',
        evidence,
        fix: fixFor(l.name, e.all, e.dev),
      });
    }
    return out;
  },
};
