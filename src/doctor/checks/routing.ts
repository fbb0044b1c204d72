/**
 * The routing checks: `multipath-neigh`, `return-route` and `forwarding`.
 */
import { AF, RT_TABLE, RTN } from '../../routes/objects.js';
import { containsAddress, parsePrefix, type NumericPrefix } from '../../routes/prefix.js';
import type { Check } from '../check.js';
import type { Evidence, Finding } from '../finding.js';
import { confKey, defaultRoutes, linkEvidence, nodeFacts, podInterfaces, routeEvidence, sysctlEvidence, sysctlInt, sysctlWrite, tunnelInUse, type ParsedRoute } from '../node-facts.js';

export const multipathNeigh: Check = {
  id: 'multipath-neigh',
  title: 'IPv4 multipath routes while fib_multipath_use_neigh is 0',
  run(s) {
    const f = nodeFacts(s);
    if (sysctlInt(s, 'net.ipv4.fib_multipath_use_neigh') !== 0) return [];
    const mp = f.routes.filter((p) => p.route.family === 4 && (p.route.nexthops?.length ?? 0) >= 2 && p.route.type === RTN.UNICAST);
    if (mp.length === 0) return [];
    const evidence: Evidence[] = [sysctlEvidence(s, 'net.ipv4.fib_multipath_use_neigh'), ...mp.slice(0, 5).map((p) => routeEvidence(f, p.route))];
    if (mp.length > 5) evidence.push({ type: 'value', name: 'more routes', value: mp.length - 5, text: `and ${mp.length - 5} more multipath routes` });
    return [
      {
        id: 'multipath-neigh',
        severity: 'warn',
        subject: 'net.ipv4.fib_multipath_use_neigh',
        title: `${mp.length} IPv4 multipath route(s) while net.ipv4.fib_multipath_use_neigh is 0`,
        explanation:
          'With fib_multipath_use_neigh=0 the kernel keeps hashing flows onto a next hop whose neighbour entry has FAILED (fib_select_multipath ' +
          'only skips dead links): when one BGP peer or router goes away without the link going down, the flows hashed to it are black-holed ' +
          'until the route is withdrawn. With 1, next hops with a failed neighbour are skipped.',
        evidence,
        fix: [sysctlWrite('net.ipv4.fib_multipath_use_neigh', 1), "# persist: echo 'net.ipv4.fib_multipath_use_neigh = 1' > /etc/sysctl.d/90-multipath.conf"],
      },
    ];
  },
};

/** Rule source prefixes, parsed once each (a node may hold thousands of rules). */
const prefixCache = new Map<string, NumericPrefix | undefined>();
function parsePrefixCached(t: string): NumericPrefix | undefined {
  if (!prefixCache.has(t)) {
    if (prefixCache.size > 10_000) prefixCache.clear();
    prefixCache.set(t, parsePrefix(t));
  }
  return prefixCache.get(t);
}

/** Whether a rule's `from` prefix contains the whole pool prefix. */
function covers(rulePrefix: string | undefined, pool: NumericPrefix): boolean {
  if (rulePrefix === undefined) return false;
  const p = parsePrefixCached(rulePrefix);
  return p !== undefined && p.family === pool.family && p.length <= pool.length && containsAddress(p, pool.family, pool.value);
}

export const returnRoute: Check = {
  id: 'return-route',
  title: 'MetalLB BGP pools without a `from <pool>` rule to a table whose default route leaves via the BGP peers',
  run(s, inputs) {
    if (inputs.bgpPools.length === 0) return [];
    const f = nodeFacts(s);
    const peers = new Set(inputs.bgpPeers.map((p) => p.text));
    const viaPeers = (routes: readonly ParsedRoute[]): boolean => routes.some((p) => p.gateways.some((g) => peers.has(g)) || (peers.size === 0 && p.gateways.length > 0));
    const out: Finding[] = [];
    for (const pool of inputs.bgpPools) {
      const missing: { prefix: NumericPrefix; why: string }[] = [];
      for (const prefix of pool.prefixes) {
        const fam = prefix.family === AF.INET ? 4 : 6;
        const mainDefaults = defaultRoutes(f, RT_TABLE.MAIN, fam);
        // a node whose own default route already leaves via the peers needs no policy routing
        if (peers.size > 0 && mainDefaults.length > 0 && mainDefaults.every((p) => p.gateways.length > 0 && p.gateways.every((g) => peers.has(g)))) continue;
        const rules = s.rules.filter(
          (r) => r.family === fam && r.action === 1 && !r.invert && r.table !== undefined && r.table !== RT_TABLE.MAIN && r.table !== RT_TABLE.LOCAL && r.table !== RT_TABLE.DEFAULT && covers(r.src, prefix),
        );
        if (rules.length === 0) {
          missing.push({ prefix, why: 'no rule' });
          continue;
        }
        const good = rules.some((r) => viaPeers(defaultRoutes(f, r.table!, fam)));
        if (!good) missing.push({ prefix, why: `rule to table ${rules.map((r) => r.table).join(', ')}, but no default route there via ${peers.size > 0 ? 'the BGP peers' : 'a gateway'}` });
      }
      if (missing.length === 0) continue;
      const evidence: Evidence[] = [
        { type: 'input', name: 'MetalLB BGP pool', value: `${pool.name}: ${pool.prefixes.map((p) => p.text).join(', ')}`, text: `MetalLB BGP pool ${pool.name}: ${pool.prefixes.map((p) => p.text).join(', ')}` },
        ...(peers.size > 0 ? [{ type: 'input' as const, name: 'BGP peers', value: [...peers].join(','), text: `BGP peers: ${[...peers].join(', ')}` }] : []),
        ...missing.map((m): Evidence => ({ type: 'value', name: 'missing', value: m.prefix.text, text: `${m.prefix.text}: ${m.why}` })),
        ...defaultRoutes(f, RT_TABLE.MAIN).slice(0, 2).map((p) => routeEvidence(f, p.route)),
      ];
      out.push({
        id: 'return-route',
        severity: 'warn',
        subject: pool.name,
        title: `replies from MetalLB BGP pool ${pool.name} (${missing.map((m) => m.prefix.text).join(', ')}) leave through the main table, not the BGP peers`,
        explanation:
          'Traffic to a LoadBalancer address arrives from the BGP peers, but the reply, sourced from the pool address, follows the node\'s main ' +
          'default route. Where that is another path (a management network, another router), upstream reverse-path filters or stateful firewalls ' +
          'drop the replies, and ICMP about them comes back the wrong way. A `from <pool> lookup <table>` rule with a default route via the peers ' +
          'sends replies back the way requests came (`pathguard routes` keeps exactly that).',
        evidence,
        fix: [
          `pathguard routes --once --metallb-file <metallb.yaml> --node-name <node>`,
          `# or by hand: ip rule add from ${missing[0]!.prefix.text} lookup 20 priority 20; ip route add default table 20${[...peers].filter((p) => !p.includes(':')).map((p) => ` nexthop via ${p}`).join('') || ' via <peer>'}`,
        ],
      });
    }
    return out;
  },
};

export const forwarding: Check = {
  id: 'forwarding',
  title: 'routes to pods exist while IPv4 ip_forward or IPv6 forwarding is 0',
  run(s, inputs) {
    const f = nodeFacts(s);
    const podLinks = new Set(podInterfaces(s).map((l) => l.index));
    for (const l of s.links) if ((l.kind === 'vxlan' || l.kind === 'geneve') && tunnelInUse(l)) podLinks.add(l.index);
    const out: Finding[] = [];
    for (const fam of [4, 6] as const) {
      const key = fam === 4 ? 'net.ipv4.ip_forward' : confKey('ipv6', 'all', 'forwarding');
      if (sysctlInt(s, key) !== 0) continue;
      const podRoutes = (f.tables.get(RT_TABLE.MAIN) ?? []).filter(
        (p) =>
          p.route.family === fam &&
          p.route.type === RTN.UNICAST &&
          p.prefix.length > 0 &&
          !(fam === 6 && p.prefix.length === 64 && p.prefix.address.startsWith('fe80')) &&
          (p.oifs.some((i) => podLinks.has(i)) || inputs.podNetworks.some((n) => n.family === p.prefix.family && n.length <= p.prefix.length && containsAddress(n, p.prefix.family, p.prefix.value))),
      );
      if (podRoutes.length === 0) continue;
      const devs = [...new Set(podRoutes.flatMap((p) => p.oifs))].flatMap((i) => (f.byIndex.get(i) ? [f.byIndex.get(i)!] : []));
      out.push({
        id: 'forwarding',
        severity: 'error',
        subject: key,
        title: `${podRoutes.length} IPv${fam} route(s) lead to pods, but ${key} is 0`,
        explanation:
          `Packets for pods arrive addressed to the pods, not to the node; the node must forward them. With ${key} = 0 the kernel drops every ` +
          `one of them in ip${fam === 6 ? '6' : ''}_forward (drop reason: forwarding disabled), so services and cross-node pod traffic fail.`,
        evidence: [sysctlEvidence(s, key), ...podRoutes.slice(0, 5).map((p) => routeEvidence(f, p.route)), ...devs.slice(0, 3).map(linkEvidence)],
        fix: [sysctlWrite(key, 1), `# persist: echo '${key} = 1' > /etc/sysctl.d/90-forwarding.conf`],
      });
    }
    return out;
  },
};
