/**
 * The service-address checks: `relay-missing` and `arp-vip`.
 */
import { AF } from '../../routes/objects.js';
import { containsAddress, prefixOf } from '../../routes/prefix.js';
import { PATHGUARD_TABLE } from '../../firewall/ruleset.js';
import type { Check } from '../check.js';
import type { Evidence, Finding } from '../finding.js';
import { firewallModel } from '../firewall-model.js';
import { PROBES, ruleAnswer } from '../firewall-eval.js';
import { ARPHRD, confKey, effectiveMax, linkEvidence, nodeFacts, servesServices, serviceAddresses, sysctlEvidence, sysctlWrite } from '../node-facts.js';

export const relayMissing: Check = {
  id: 'relay-missing',
  title: 'the node serves service addresses and nothing captures ICMP "too big" messages for relaying',
  run(s, inputs) {
    const svc = servesServices(s, inputs);
    if (!svc.yes) return [];
    const model = firewallModel(s);
    const table = `${PATHGUARD_TABLE.family} ${PATHGUARD_TABLE.name}`;
    if (model.nftTables.includes(table)) return [];
    if (s.nftables === undefined && s.iptables === undefined) {
      return [
        {
          id: 'relay-missing',
          severity: 'info',
          subject: 'capture',
          title: 'cannot tell whether "too big" messages are captured: neither nftables nor iptables could be read',
          explanation: 'The node serves service addresses, so ICMP "too big" messages for its flows may arrive at other nodes. Whether a relay captures them here could not be read.',
          evidence: [...svc.evidence, ...s.problems.filter((p) => /nft|iptables/.test(p.source)).map((p): Evidence => ({ type: 'value', name: p.source, value: p.message, text: `${p.source}: ${p.message}` }))],
          fix: ['# run the doctor as root with nft and iptables-save installed'],
        },
      ];
    }
    const missing = PROBES.filter((p) => {
      const fam = p.family === 4 ? AF.INET : AF.INET6;
      const held = serviceAddresses(s, inputs).some((a) => a.address.family === fam) || inputs.bgpPools.some((b) => b.prefixes.some((x) => x.family === fam)) || inputs.vipNetworks.some((x) => x.family === fam);
      if (!held) return false;
      // an NFLOG group (`log group N`, `-j NFLOG`) on a rule about ICMP: what a relay reads; a syslog LOG relays nothing
      return !model.rules.some(
        (r) => r.statements.some((st) => st.kind === 'log' && st.group !== undefined) && ruleAnswer(r, p) !== 'no' && r.matches.some((m) => m.kind === 'l4proto' || m.kind === 'icmp-type'),
      );
    });
    if (missing.length === 0) return [];
    return [
      {
        id: 'relay-missing',
        severity: 'warn',
        subject: 'capture',
        title: `the node serves service addresses but nothing captures ${missing.map((p) => p.name).join(' or ')} for relaying`,
        explanation:
          'Behind ECMP or anycast, the router hashes the ICMP "too big" message about a flow independently of the flow, so it often reaches a ' +
          'node that does not own the connection. Unless each node captures these messages (an NFLOG rule) and relays them to the others, the ' +
          'owner never learns the path MTU and the transfer stalls: a PMTUD black hole. No pathguard table and no log/NFLOG rule for these ' +
          'messages was found.',
        evidence: [
          ...svc.evidence,
          { type: 'value', name: 'nftables tables', value: model.nftTables.join(', ') || '(none)', text: `nftables tables: ${model.nftTables.join(', ') || '(none)'}; no table ${table}` },
        ],
        fix: [
          'pathguard relay --vip-networks <service prefixes> --peers <other nodes>',
          "# or capture by hand: nft add table inet pmtud; nft add chain inet pmtud c '{ type filter hook prerouting priority raw; }'; " +
            "nft add rule inet pmtud c icmp type destination-unreachable icmp code frag-needed log group 33; nft add rule inet pmtud c icmpv6 type packet-too-big log group 33",
        ],
      },
    ];
  },
};

export const arpVip: Check = {
  id: 'arp-vip',
  title: 'service addresses on lo while arp_ignore < 1 or arp_announce < 2 (a realserver answering ARP for the VIP)',
  run(s, inputs) {
    const f = nodeFacts(s);
    const vips = serviceAddresses(s, inputs).filter((v) => v.where === 'lo' && v.address.family === AF.INET);
    if (vips.length === 0) return [];
    const out: Finding[] = [];
    const arpLinks = s.links.filter((l) => l.up && l.type === ARPHRD.ETHER);
    for (const l of arpLinks) {
      // only a VIP inside a subnet on this link is ever ARPed for here (the LVS-DR layout); elsewhere nobody asks
      const subnets = f.addresses.filter((a) => a.link === l && a.address.family === AF.INET && a.scope === 0 && a.prefixlen < 32);
      const exposed = vips.filter((v) => subnets.some((a) => containsAddress(prefixOf(AF.INET, a.address.value, a.prefixlen), AF.INET, v.address.value)));
      if (exposed.length === 0) continue;
      const ign = effectiveMax(s, l.name, 'arp_ignore');
      const ann = effectiveMax(s, l.name, 'arp_announce');
      const badIgnore = (ign.value ?? 0) < 1;
      const badAnnounce = (ann.value ?? 0) < 2;
      if (!badIgnore && !badAnnounce) continue;
      const fix: string[] = [];
      if (badIgnore) fix.push(sysctlWrite(confKey('ipv4', 'all', 'arp_ignore'), 1), sysctlWrite(confKey('ipv4', l.name, 'arp_ignore'), 1, l.name));
      if (badAnnounce) fix.push(sysctlWrite(confKey('ipv4', 'all', 'arp_announce'), 2), sysctlWrite(confKey('ipv4', l.name, 'arp_announce'), 2, l.name));
      out.push({
        id: 'arp-vip',
        severity: 'error',
        subject: l.name,
        title: `${l.name} answers ARP for the service address ${exposed[0]!.address.text} held on lo (arp_ignore ${ign.value ?? '?'}, arp_announce ${ann.value ?? '?'})`,
        explanation:
          `The service address sits on lo and inside ${l.name}'s subnet, where the director or router resolves it by ARP. With arp_ignore 0 the ` +
          'kernel answers ARP for any local address on any interface, and with arp_announce below 2 it uses the VIP as the source of its own ' +
          'ARP requests: neighbours learn this realserver\'s MAC for the VIP and send it traffic meant for the director. The effective value is ' +
          'max(conf/all, conf/IFACE).',
        evidence: [
          ...exposed.slice(0, 4).map((v) => v.evidence),
          linkEvidence(l),
          sysctlEvidence(s, confKey('ipv4', 'all', 'arp_ignore')),
          sysctlEvidence(s, confKey('ipv4', l.name, 'arp_ignore')),
          sysctlEvidence(s, confKey('ipv4', 'all', 'arp_announce')),
          sysctlEvidence(s, confKey('ipv4', l.name, 'arp_announce')),
        ],
        fix,
      });
    }
    return out;
  },
};
