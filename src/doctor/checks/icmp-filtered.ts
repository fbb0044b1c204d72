/**
 * `icmp-filtered`: a filter rule (or a chain policy) on the receive or
 * forward path drops the ICMP messages PMTU discovery lives on: IPv4
 * "fragmentation needed" (RFC 1191) and ICMPv6 "packet too big" (RFC 8201),
 * before any accept lets them through. A sender that never hears them keeps
 * sending packets too big for the path: the connection stalls after the
 * handshake (a PMTUD black hole, RFC 2923).
 *
 * Every base chain is evaluated on its own: in nftables an accept ends only
 * the current base chain, and a later one on the same hook may still drop.
 */
import type { Check } from '../check.js';
import { firewallModel, ruleLocation, type FwChain, type FwRule } from '../firewall-model.js';
import { evaluate, PROBES, receiveChains, type Probe } from '../firewall-eval.js';
import type { Evidence, Finding } from '../finding.js';

const ID = 'icmp-filtered';

export function firewallEvidence(r: FwRule): Evidence {
  return {
    type: 'firewall',
    source: r.source,
    family: r.family,
    table: r.table,
    chain: r.chain,
    handle: r.handle ?? null,
    position: r.position,
    text: `${ruleLocation(r)}: ${r.text}`,
  };
}

function chainEvidence(c: FwChain): Evidence {
  return {
    type: 'firewall',
    source: c.source,
    family: c.family,
    table: c.table,
    chain: c.name,
    handle: null,
    position: null,
    text: c.source === 'nftables' ? `table ${c.family} ${c.table} chain ${c.name}: hook ${c.hook} policy ${c.policy}` : `${c.family === 'ip6' ? 'ip6tables' : 'iptables'} -t ${c.table} ${c.name}: policy ${(c.policy ?? '').toUpperCase()}`,
  };
}

function fixFor(c: FwChain, p: Probe, rule: FwRule | undefined): string[] {
  const out: string[] = [];
  if (c.source === 'nftables') {
    const m = p.family === 4 ? 'icmp type destination-unreachable icmp code frag-needed' : 'icmpv6 type packet-too-big';
    out.push(`nft insert rule ${c.family} ${c.table} ${c.name} ${m} accept`);
    if (rule?.handle !== undefined && rule.chain === c.name) out.push(`# or remove the rule: nft delete rule ${rule.family} ${rule.table} ${rule.chain} handle ${rule.handle}`);
  } else {
    const cmd = p.family === 4 ? 'iptables' : 'ip6tables';
    const m = p.family === 4 ? '-p icmp --icmp-type fragmentation-needed' : '-p ipv6-icmp --icmpv6-type packet-too-big';
    out.push(`${cmd} -t ${c.table} -I ${c.name} 1 ${m} -j ACCEPT`);
    if (rule !== undefined) out.push(`# or remove the rule: ${cmd} -t ${rule.table} -D ${rule.chain} ${rule.position}`);
  }
  out.push('# Kubernetes NetworkPolicies and cloud firewalls that generate such rules need the same exception.');
  return out;
}

export const icmpFiltered: Check = {
  id: ID,
  title: 'a filter rule drops ICMP fragmentation-needed / packet-too-big before any accept',
  run(s) {
    const model = firewallModel(s);
    const out: Finding[] = [];
    for (const p of PROBES) {
      for (const c of receiveChains(model, p)) {
        const o = evaluate(model, c, p);
        if (o.verdict !== 'drop') continue;
        const evidence: Evidence[] = [chainEvidence(c)];
        for (const j of o.via) evidence.push(firewallEvidence(j));
        if (o.rule) evidence.push(firewallEvidence(o.rule));
        const where = c.source === 'nftables' ? `table ${c.family} ${c.table} chain ${c.name}` : `${c.family === 'ip6' ? 'ip6tables' : 'iptables'} ${c.table}/${c.name}`;
        out.push({
          id: ID,
          severity: 'error',
          subject: `${where} ${p.family === 4 ? 'icmp' : 'icmpv6'}`,
          title: o.rule
            ? `${where} drops ${p.name}: ${o.rule.text}`
            : `${where} drops ${p.name} by its policy (nothing accepts it first)`,
          explanation:
            `Path MTU discovery depends on ${p.name}: a router that cannot forward a packet sends it back, and the sender lowers its segment size. ` +
            `This ${c.hook} chain drops it before any rule accepts it, so the sender keeps sending packets too big for the path and the ` +
            'connection stalls after the handshake (a PMTUD black hole). Accepting these messages, or `ct state related` ahead of the drop, is safe: ' +
            'they are errors about flows this node already has.',
          evidence,
          fix: fixFor(c, p, o.rule),
        });
      }
    }
    return out;
  },
};
