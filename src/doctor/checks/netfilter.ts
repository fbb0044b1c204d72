/**
 * The netfilter state checks: `double-snat` and `conntrack-full`.
 */
import type { Check } from '../check.js';
import type { Evidence, Finding } from '../finding.js';
import { firewallModel, type FwRule } from '../firewall-model.js';
import { firewallEvidence } from './icmp-filtered.js';
import { linkEvidence, sysctlEvidence, sysctlWrite, tunnelInUse } from '../node-facts.js';

/** kube-proxy's masquerade mark (--iptables-masquerade-bit 14). */
const KUBE_MARK = 0x4000;

function marksMasq(r: FwRule): boolean {
  return r.matches.some((m) => m.kind === 'mark' && m.op === '==' && (m.mask & KUBE_MARK) !== 0 && (m.value & KUBE_MARK) !== 0);
}

function returnsUnmarked(r: FwRule): boolean {
  return r.verdict.kind === 'return' && r.matches.some((m) => m.kind === 'mark' && m.op === '!=' && (m.mask & KUBE_MARK) !== 0 && (m.value & KUBE_MARK) !== 0);
}

export const doubleSnat: Check = {
  id: 'double-snat',
  title: "kube-proxy masquerades marked packets with --random-fully without clearing the mark, on a node with a VXLAN device",
  run(s) {
    const vxlan = s.links.filter((l) => l.kind === 'vxlan' && tunnelInUse(l));
    if (vxlan.length === 0) return [];
    const model = firewallModel(s);
    const out: Finding[] = [];
    for (const c of model.chains.values()) {
      if (c.table !== 'nat') continue;
      let cleared = false;
      let guarded = false;
      for (const r of c.rules) {
        if (returnsUnmarked(r)) guarded = true;
        if (r.statements.some((st) => st.kind === 'mark-set' && (st.clears & KUBE_MARK) !== 0)) cleared = true;
        const masq = r.statements.find((st) => st.kind === 'masquerade');
        if (masq === undefined || masq.kind !== 'masquerade' || !masq.randomFully) continue;
        if (cleared || !(marksMasq(r) || guarded)) continue;
        out.push({
          id: 'double-snat',
          severity: 'warn',
          subject: `${c.table}/${c.name}`,
          title: `${c.name} masquerades packets marked 0x4000 with --random-fully and leaves the mark set (node has ${vxlan.map((l) => l.name).join(', ')})`,
          explanation:
            'kube-proxy marks packets for masquerading with 0x4000. When the mark is still set as the packet leaves through the VXLAN device, its ' +
            'encapsulated copy passes POSTROUTING again, matches the same rule and is masqueraded a second time; with --random-fully the outer ' +
            'UDP source port is rewritten after the VXLAN checksum was computed, and receivers drop the packets as corrupt ' +
            '(kubernetes/kubernetes#92035). kube-proxy 1.20+ clears the mark (MARK --xor-mark 0x4000) before MASQUERADE.',
          evidence: [...vxlan.map(linkEvidence), firewallEvidence(r)],
          fix: [
            '# upgrade kube-proxy (>= 1.20 clears the mark before masquerading), or insert the clearing rule before the MASQUERADE:',
            `iptables -t nat -I ${c.name} ${r.position} -j MARK --xor-mark 0x4000`,
            '# on kernels without the VXLAN checksum fix, also turn off checksum offload on the device: ethtool -K ' + vxlan[0]!.name + ' tx-checksum-ip-generic off',
          ],
        });
      }
    }
    return out;
  },
};

export const conntrackFull: Check = {
  id: 'conntrack-full',
  title: 'the conntrack table at 90% of nf_conntrack_max or more',
  run(s) {
    const c = s.conntrack;
    if (c?.count === undefined || c.max === undefined || c.max <= 0) return [];
    const ratio = c.count / c.max;
    if (ratio < 0.9) return [];
    const evidence: Evidence[] = [
      sysctlEvidence(s, 'net.netfilter.nf_conntrack_count'),
      sysctlEvidence(s, 'net.netfilter.nf_conntrack_max'),
      { type: 'value', name: 'usage', value: `${Math.round(ratio * 1000) / 10}%`, text: `${c.count} of ${c.max} entries in use (${Math.round(ratio * 1000) / 10}%)` },
    ];
    const full = c.count >= c.max;
    const findings: Finding[] = [
      {
        id: 'conntrack-full',
        severity: full ? 'error' : 'warn',
        subject: 'nf_conntrack',
        title: full ? `the conntrack table is full (${c.count} / ${c.max}): new connections are being dropped` : `the conntrack table is ${Math.round(ratio * 100)}% full (${c.count} / ${c.max})`,
        explanation:
          'Every new flow through a node with connection tracking (kube-proxy, NAT, stateful rules) needs a table entry. When the table is full ' +
          'the kernel drops the first packet of each new flow ("nf_conntrack: table full, dropping packet"): connections time out at random, and ' +
          'ICMP errors that match no entry are no longer related to their flows.',
        evidence,
        fix: [sysctlWrite('net.netfilter.nf_conntrack_max', Math.max(c.max * 2, 262144)), '# and find what fills it: conntrack -L -o extended | awk \'{print $3}\' | sort | uniq -c | sort -rn | head'],
      },
    ];
    return findings;
  },
};
