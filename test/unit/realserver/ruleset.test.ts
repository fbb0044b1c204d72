// The realserver nftables table text: what reaches nft is validated, ports merge into ranges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseListing, realserverRuleset, realserverTable, removeRealserverRuleset, wantsTable } from '../../../src/firewall/realserver-ruleset.js';
import { ConfigError } from '../../../src/errors.js';

const BASE = { lvsV4: ['192.0.2.0/28'], lvsV6: ['2001:db8:1::5'], vipsV4: ['198.51.100.10'], vipsV6: ['2001:db8:f::10'], mssV4: 1400, mssV6: 1400 };

test('accept rules per family and a clamp that only lowers', () => {
  const t = realserverTable(BASE);
  assert.match(t, /meta l4proto 4 ip saddr @lvs_v4 counter accept/);
  assert.match(t, /meta l4proto 41 ip6 saddr @lvs_v6 counter accept/);
  assert.match(t, /ip saddr @vip_v4 tcp flags & \(syn \| ack\) == \(syn \| ack\) tcp option maxseg size > 1400 counter tcp option maxseg size set 1400/);
  assert.match(t, /hook postrouting priority srcnat \+ 10/);
  assert.ok(realserverRuleset(BASE).startsWith('table inet pathguard_realserver\ndelete table inet pathguard_realserver\ntable inet pathguard_realserver {'));
  assert.equal(removeRealserverRuleset(), 'table inet pathguard_realserver\ndelete table inet pathguard_realserver\n');
});

test('ports: consecutive ones become ranges', () => {
  assert.match(realserverTable({ ...BASE, ports: [443, 80, 81, 82, 8443] }), /tcp sport \{ 80-82, 443, 8443 \} tcp flags/);
  assert.throws(() => realserverTable({ ...BASE, ports: [0] }), ConfigError);
});

test('no sources: no accept rules or sets; no VIPs and no sources: no table at all', () => {
  const t = realserverTable({ ...BASE, lvsV4: [], lvsV6: [] });
  assert.doesNotMatch(t, /lvs_v/);
  assert.equal(wantsTable({ lvsV4: [], lvsV6: [], vipsV4: [], vipsV6: [] }), false);
  assert.equal(wantsTable({ lvsV4: [], lvsV6: [], vipsV4: ['198.51.100.1'], vipsV6: [] }), false, 'no clamp asked');
});

test('nothing unchecked reaches the text', () => {
  assert.throws(() => realserverTable({ ...BASE, vipsV4: ['198.51.100.1 } accept; #'] }), ConfigError);
  assert.throws(() => realserverTable({ ...BASE, lvsV6: ['x'] }), ConfigError);
  assert.throws(() => realserverTable({ ...BASE, mssV4: 1.5 }), ConfigError);
});

test('normaliseListing: counter values and handles do not count as changes', () => {
  const a = 'table inet t {\n\tchain c {\n\t\tcounter packets 12 bytes 800 accept # handle 4\n\t}\n}\n';
  const b = 'table inet t {\n\n\tchain c {\n\t\tcounter packets 0 bytes 0 accept\n\t}\n}';
  assert.equal(normaliseListing(a), normaliseListing(b));
});
