import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError } from '../../../src/errors.js';
import {
  COUNTERS,
  interfaceNameProblem,
  manualRules,
  peerSetsUpdate,
  relayRuleset,
  removeTableRuleset,
  type RelayRulesetOptions,
} from '../../../src/firewall/ruleset.js';

const full: RelayRulesetOptions = {
  uplinks: ['eth0', 'bond*', 'eth0'],
  nflogGroup: 33,
  tunInterface: 'pgtun0',
  udpPort: 4791,
  peers: {
    v4: ['198.51.100.7', '192.0.2.2', '192.0.2.2'],
    v6: ['2001:DB8:0:0::2', '2001:db8::10'],
    mac: ['02:00:5E:00:53:02'],
  },
};

const FULL_REPLACE = `table inet pathguard
delete table inet pathguard
table inet pathguard {
	counter replica_tun {
	}
	counter replica_broadcast {
	}
	counter replica_peer_mac {
	}
	counter replica_peer_v4 {
	}
	counter replica_peer_v6 {
	}
	counter captured_v4 {
	}
	counter captured_v6 {
	}
	counter udp_peer {
	}
	counter udp_refused {
	}
	set peer_v4 {
		type ipv4_addr
	}
	set peer_v6 {
		type ipv6_addr
	}
	set peer_mac {
		type ether_addr
	}
	chain capture {
		type filter hook prerouting priority raw; policy accept;
		iifname "pgtun0" counter name "replica_tun" return
		iifname { "eth0", "bond*" } icmp type destination-unreachable icmp code frag-needed jump too_big
		iifname { "eth0", "bond*" } icmpv6 type packet-too-big jump too_big
	}
	chain too_big {
		ether daddr ff:ff:ff:ff:ff:ff counter name "replica_broadcast" return
		ether saddr @peer_mac counter name "replica_peer_mac" return
		ip saddr @peer_v4 counter name "replica_peer_v4" return
		ip6 saddr @peer_v6 counter name "replica_peer_v6" return
		meta nfproto ipv4 counter name "captured_v4" log group 33
		meta nfproto ipv6 counter name "captured_v6" log group 33
	}
	chain udp_relay {
		type filter hook input priority filter; policy accept;
		udp dport 4791 ip saddr @peer_v4 counter name "udp_peer" accept
		udp dport 4791 ip6 saddr @peer_v6 counter name "udp_peer" accept
		udp dport 4791 counter name "udp_refused" drop
	}
}
flush set inet pathguard peer_v4
add element inet pathguard peer_v4 { 192.0.2.2, 198.51.100.7 }
flush set inet pathguard peer_v6
add element inet pathguard peer_v6 { 2001:db8::2, 2001:db8::10 }
flush set inet pathguard peer_mac
add element inet pathguard peer_mac { 02:00:5e:00:53:02 }
`;

test('replace mode: the whole table, deleted and recreated in one transaction (golden text)', () => {
  assert.equal(relayRuleset(full), FULL_REPLACE);
  assert.equal(relayRuleset(full, { mode: 'replace' }), FULL_REPLACE);
});

test('update mode differs only in flushing instead of deleting the table', () => {
  const update = relayRuleset(full, { mode: 'update' });
  assert.equal(update, FULL_REPLACE.replace('delete table inet pathguard\n', 'flush table inet pathguard\n'));
});

const MINIMAL_UPDATE = `table inet pathguard
flush table inet pathguard
table inet pathguard {
	counter replica_broadcast {
	}
	counter replica_peer_mac {
	}
	counter replica_peer_v4 {
	}
	counter replica_peer_v6 {
	}
	counter captured_v4 {
	}
	counter captured_v6 {
	}
	set peer_v4 {
		type ipv4_addr
	}
	set peer_v6 {
		type ipv6_addr
	}
	set peer_mac {
		type ether_addr
	}
	chain capture {
		type filter hook prerouting priority raw; policy accept;
		iifname "eth1" icmp type destination-unreachable icmp code frag-needed jump too_big
		iifname "eth1" icmpv6 type packet-too-big jump too_big
	}
	chain too_big {
		ether daddr ff:ff:ff:ff:ff:ff counter name "replica_broadcast" return
		ether saddr @peer_mac counter name "replica_peer_mac" return
		ip saddr @peer_v4 counter name "replica_peer_v4" return
		ip6 saddr @peer_v6 counter name "replica_peer_v6" return
		meta nfproto ipv4 counter name "captured_v4" log group 0
		meta nfproto ipv6 counter name "captured_v6" log group 0
	}
	chain udp_relay {
		type filter hook input priority filter; policy accept;
	}
}
delete chain inet pathguard udp_relay
add counter inet pathguard replica_tun
delete counter inet pathguard replica_tun
add counter inet pathguard udp_peer
delete counter inet pathguard udp_peer
add counter inet pathguard udp_refused
delete counter inet pathguard udp_refused
flush set inet pathguard peer_v4
flush set inet pathguard peer_v6
flush set inet pathguard peer_mac
`;

test('update mode without TUN or udp removes what an earlier configuration may have created (golden text)', () => {
  assert.equal(relayRuleset({ uplinks: ['eth1'], nflogGroup: 0 }, { mode: 'update' }), MINIMAL_UPDATE);
});

test('replace mode without TUN or udp simply leaves them out', () => {
  const text = relayRuleset({ uplinks: ['eth1'], nflogGroup: 65535 });
  assert.doesNotMatch(text, /udp|replica_tun|delete chain|delete counter/);
  assert.match(text, /log group 65535\n/);
});

test('every counter a rule uses is declared, and every declared counter is a known name', () => {
  const text = relayRuleset(full);
  const declared = [...text.matchAll(/^\tcounter (\w+) \{$/gm)].map((m) => m[1]);
  const used = new Set([...text.matchAll(/counter name "(\w+)"/g)].map((m) => m[1]));
  assert.deepEqual(declared, [...COUNTERS]);
  assert.deepEqual([...used].sort(), [...COUNTERS].sort());
});

test('peer set update: flush and refill each set, canonical, sorted, deduplicated (golden text)', () => {
  assert.equal(
    peerSetsUpdate({ v4: ['203.0.113.9', '192.0.2.10', '192.0.2.9'], v6: [], mac: ['02:00:5E:00:53:0A', '02:00:5e:00:53:0a'] }),
    `flush set inet pathguard peer_v4
add element inet pathguard peer_v4 { 192.0.2.9, 192.0.2.10, 203.0.113.9 }
flush set inet pathguard peer_v6
flush set inet pathguard peer_mac
add element inet pathguard peer_mac { 02:00:5e:00:53:0a }
`,
  );
});

test('removing the table is idempotent by construction (create, then delete)', () => {
  assert.equal(removeTableRuleset(), 'table inet pathguard\ndelete table inet pathguard\n');
});

test('manual iptables rules: raw PREROUTING into a PATHGUARD chain, NFLOG group, for iptables and ip6tables (golden text)', () => {
  assert.equal(
    manualRules({ ...full, format: 'iptables' }),
    `# pathguard capture rules for iptables/ip6tables (raw table, before conntrack), NFLOG group 33.
# Peers are the ones known now; regenerate after they change.
iptables -t raw -N PATHGUARD
iptables -t raw -A PATHGUARD -m pkttype --pkt-type broadcast -j RETURN
iptables -t raw -A PATHGUARD -m mac --mac-source 02:00:5e:00:53:02 -j RETURN
iptables -t raw -A PATHGUARD -s 192.0.2.2 -j RETURN
iptables -t raw -A PATHGUARD -s 198.51.100.7 -j RETURN
iptables -t raw -A PATHGUARD -j NFLOG --nflog-group 33
iptables -t raw -A PREROUTING -i eth0 -p icmp -m icmp --icmp-type fragmentation-needed -j PATHGUARD
iptables -t raw -A PREROUTING -i bond+ -p icmp -m icmp --icmp-type fragmentation-needed -j PATHGUARD
iptables -N PATHGUARD-UDP
iptables -A PATHGUARD-UDP -s 192.0.2.2 -j RETURN
iptables -A PATHGUARD-UDP -s 198.51.100.7 -j RETURN
iptables -A PATHGUARD-UDP -j DROP
iptables -I INPUT -p udp --dport 4791 -j PATHGUARD-UDP
ip6tables -t raw -N PATHGUARD
ip6tables -t raw -A PATHGUARD -m pkttype --pkt-type broadcast -j RETURN
ip6tables -t raw -A PATHGUARD -m mac --mac-source 02:00:5e:00:53:02 -j RETURN
ip6tables -t raw -A PATHGUARD -s 2001:db8::2 -j RETURN
ip6tables -t raw -A PATHGUARD -s 2001:db8::10 -j RETURN
ip6tables -t raw -A PATHGUARD -j NFLOG --nflog-group 33
ip6tables -t raw -A PREROUTING -i eth0 -p ipv6-icmp -m icmp6 --icmpv6-type packet-too-big -j PATHGUARD
ip6tables -t raw -A PREROUTING -i bond+ -p ipv6-icmp -m icmp6 --icmpv6-type packet-too-big -j PATHGUARD
ip6tables -N PATHGUARD-UDP
ip6tables -A PATHGUARD-UDP -s 2001:db8::2 -j RETURN
ip6tables -A PATHGUARD-UDP -s 2001:db8::10 -j RETURN
ip6tables -A PATHGUARD-UDP -j DROP
ip6tables -I INPUT -p udp --dport 4791 -j PATHGUARD-UDP
`,
  );
});

test('manual nft rules are the replace-mode table behind a comment header', () => {
  const text = manualRules({ ...full, format: 'nft' });
  const [c1, c2, ...rest] = text.split('\n');
  assert.match(c1!, /^# .*nft -f FILE$/);
  assert.match(c2!, /^# /);
  assert.equal(rest.join('\n'), FULL_REPLACE);
});

function problems(fn: () => unknown): { field: string; value: unknown }[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'PG_CONFIG');
    return err.problems.map((p) => ({ field: p.field, value: p.value }));
  }
  assert.fail('expected a ConfigError');
}

test('hostile interface names never reach the text; every problem is reported at once', () => {
  const bad = problems(() =>
    relayRuleset({
      uplinks: ['eth0" accept; #', 'abcdefghijklmnop', '..', '', 'eth 0', 'ethä'],
      nflogGroup: 65536,
      tunInterface: 'tun/0',
      udpPort: 0,
      peers: { v4: ['192.0.2.1/24', '0x7f.1', '192.000.2.1'], v6: ['fe80::1%eth0', '2001:db8::zz'], mac: ['02:00:5e:00:53', 'ff:ff:ff:ff:ff:fg'] },
    }),
  );
  assert.deepEqual(
    bad.map((p) => p.field),
    [
      'uplinks[0]',
      'uplinks[1]',
      'uplinks[2]',
      'uplinks[3]',
      'uplinks[4]',
      'uplinks[5]',
      'nflogGroup',
      'tunInterface',
      'udpPort',
      'peers.v4[0]',
      'peers.v4[1]',
      'peers.v4[2]',
      'peers.v6[0]',
      'peers.v6[1]',
      'peers.mac[0]',
      'peers.mac[1]',
    ],
  );
});

test('no uplink at all is refused', () => {
  assert.deepEqual(problems(() => relayRuleset({ uplinks: [], nflogGroup: 33 })), [{ field: 'uplinks', value: [] }]);
});

test('a TUN interface that an uplink pattern matches is refused (it would recapture its own replicas)', () => {
  assert.deepEqual(problems(() => relayRuleset({ uplinks: ['pg*'], nflogGroup: 1, tunInterface: 'pgtun0' })), [
    { field: 'tunInterface', value: 'pgtun0' },
  ]);
  assert.deepEqual(problems(() => relayRuleset({ uplinks: ['pgtun0'], nflogGroup: 1, tunInterface: 'pgtun0' })), [
    { field: 'tunInterface', value: 'pgtun0' },
  ]);
});

test('interface names: IFNAMSIZ-1 characters is the limit, a wildcard only where allowed', () => {
  assert.equal(interfaceNameProblem('abcdefghijklmno'), undefined); // 15
  assert.match(interfaceNameProblem('abcdefghijklmnop')!, /at most 15/);
  assert.equal(interfaceNameProblem('eth*', { wildcard: true }), undefined);
  assert.notEqual(interfaceNameProblem('eth*'), undefined);
  assert.notEqual(interfaceNameProblem('*', { wildcard: true }), undefined);
  assert.equal(interfaceNameProblem('bond0.100'), undefined);
  assert.equal(interfaceNameProblem('br_ext-1'), undefined);
});

test('property: any string as an uplink either is refused or appears only as a plain quoted name', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 20, unit: 'binary' }), (name) => {
      let text: string;
      try {
        text = relayRuleset({ uplinks: [name], nflogGroup: 33 });
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return;
      }
      assert.match(name, /^[A-Za-z0-9_.-]{1,15}\*?$/);
      assert.ok(text.includes(`iifname "${name}" icmp type`));
      // Nothing the name contains can add a line, a statement or close the string.
      assert.equal(text.split('\n').length, relayRuleset({ uplinks: ['eth0'], nflogGroup: 33 }).split('\n').length);
    }),
    { numRuns: 300 },
  );
});

test('shards: the capture rules hash the outer source to one log chain per group (golden lines)', () => {
  const text = relayRuleset({ uplinks: ['eth0'], nflogGroup: 40, shards: 3 });
  const lines = text.split('\n').map((l) => l.trim());
  assert.ok(lines.includes('meta nfproto ipv4 counter name "captured_v4" jhash ip saddr mod 3 vmap { 0 : jump log_0, 1 : jump log_1, 2 : jump log_2 }'));
  assert.ok(lines.includes('meta nfproto ipv6 counter name "captured_v6" jhash ip6 saddr mod 3 vmap { 0 : jump log_0, 1 : jump log_1, 2 : jump log_2 }'));
  for (let i = 0; i < 3; i++) {
    const at = lines.indexOf(`chain log_${i} {`);
    assert.ok(at > 0, `chain log_${i}`);
    assert.equal(lines[at + 1], `counter log group ${40 + i}`);
  }
  assert.equal(lines.filter((l) => l.startsWith('log group') || l.includes(' log group ')).length, 3, 'no unsharded log rule left');
  // One shard is exactly the unsharded table.
  assert.equal(relayRuleset({ uplinks: ['eth0'], nflogGroup: 40, shards: 1 }), relayRuleset({ uplinks: ['eth0'], nflogGroup: 40 }));
});

test('shards: 1 to 16, with room for the consecutive groups; iptables cannot shard', () => {
  const fields = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.map((p) => p.field);
      throw err;
    }
    return [];
  };
  assert.deepEqual(fields(() => relayRuleset({ uplinks: ['eth0'], nflogGroup: 33, shards: 0 })), ['shards']);
  assert.deepEqual(fields(() => relayRuleset({ uplinks: ['eth0'], nflogGroup: 33, shards: 17 })), ['shards']);
  assert.deepEqual(fields(() => relayRuleset({ uplinks: ['eth0'], nflogGroup: 65535, shards: 2 })), ['nflogGroup']);
  assert.deepEqual(fields(() => manualRules({ uplinks: ['eth0'], nflogGroup: 33, shards: 2, format: 'iptables' })), ['workers (--workers)']);
});
