/**
 * The relay's policy, on real captured packets (test/unit/wire/fixtures/packets.ts)
 * with fields rewritten by too-big-variant.ts: router 192.0.2.254 /
 * 2001:db8:1::fe reporting MTU 1400 for a UDP flow from 192.0.2.1:40000 /
 * [2001:db8:1::1]:40000.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/errors.js';
import { parseCidrs } from '../../../src/relay/prefix-set.js';
import { MIN_MTU, Policy, REJECT_REASONS, RELAY_REJECT, validate, type PolicyOptions } from '../../../src/relay/validate.js';
import { decodeTooBig } from '../../../src/wire/too-big-decode.js';
import { TOO_BIG_REJECT, type TooBig } from '../../../src/wire/too-big.js';
import { parseAddress } from '../../../src/wire/ip-address.js';
import { V4_PING, V4_UDP, V6_PING, V6_UDP, variant, type Change } from './too-big-variant.js';

function tooBig(base: Uint8Array, change: Change = {}): TooBig {
  const r = decodeTooBig(variant(base, change));
  assert.ok(r.ok, `fixture variant must decode, got ${r.ok ? '' : r.reason}`);
  return r.value;
}

const VIPS: PolicyOptions = { vipNetworks: parseCidrs(['192.0.2.0/24', '2001:db8:1::/64'], 'vip') };

test('the captured packets pass a policy that covers their quoted source', () => {
  const p = new Policy(VIPS);
  for (const base of [V4_UDP, V4_PING, V6_UDP, V6_PING]) assert.equal(validate(tooBig(base), p), undefined);
});

test('MTU boundaries per family', () => {
  const p = new Policy(VIPS);
  const table: [Uint8Array, number, string | undefined][] = [
    [V4_UDP, 0, 'mtu_out_of_range'], // RFC 1191 §5: routers before it sent 0
    [V4_UDP, 67, 'mtu_out_of_range'],
    [V4_UDP, 68, undefined],
    [V4_UDP, 576, undefined],
    [V4_UDP, 1279, undefined],
    [V4_UDP, 1499, undefined], // the quoted packet is 1500 bytes
    [V4_UDP, 1500, 'mtu_not_below_quoted'],
    [V4_UDP, 65535, 'mtu_not_below_quoted'], // no IPv4 packet is longer than 65535
    [V6_UDP, 67, 'mtu_out_of_range'],
    [V6_UDP, 68, 'mtu_out_of_range'],
    [V6_UDP, 1279, 'mtu_out_of_range'],
    [V6_UDP, 1280, undefined],
    [V6_UDP, 1499, undefined],
    [V6_UDP, 1500, 'mtu_not_below_quoted'],
    [V6_UDP, 65536, 'mtu_out_of_range'], // ICMPv6 carries 32 bits
    [V6_UDP, 0xffffffff, 'mtu_out_of_range'],
  ];
  for (const [base, mtu, want] of table) {
    const tb = tooBig(base, { mtu });
    assert.equal(tb.quotedLength, 1500);
    assert.equal(tb.mtu, mtu);
    assert.equal(validate(tb, p), want, `IPv${tb.family} mtu ${mtu}`);
  }
  assert.deepEqual(MIN_MTU, { 4: 68, 6: 1280 });
});

test('quoted_src_not_local: the quoted source must be local or inside --vip-networks, per family', () => {
  const p = new Policy(VIPS);
  assert.equal(validate(tooBig(V4_UDP, { quotedSrc: '192.0.2.200' }), p), undefined);
  assert.equal(validate(tooBig(V4_UDP, { quotedSrc: '198.51.100.1' }), p), 'quoted_src_not_local');
  assert.equal(validate(tooBig(V6_UDP, { quotedSrc: '2001:db8:1::ffff' }), p), undefined);
  assert.equal(validate(tooBig(V6_UDP, { quotedSrc: '2001:db8:2::1' }), p), 'quoted_src_not_local');
  // Without any VIP network or local address nothing is ours.
  assert.equal(validate(tooBig(V4_UDP), new Policy()), 'quoted_src_not_local');
  assert.equal(validate(tooBig(V6_UDP), new Policy()), 'quoted_src_not_local');
});

test('local addresses are replaced at run time', () => {
  const p = new Policy();
  const tb = tooBig(V4_UDP, { quotedSrc: '203.0.113.10' });
  const tb6 = tooBig(V6_UDP, { quotedSrc: '2001:db8:3::10' });
  assert.equal(validate(tb, p), 'quoted_src_not_local');
  p.setLocalAddresses([parseAddress('203.0.113.10'), parseAddress('2001:db8:3::10')]);
  assert.equal(validate(tb, p), undefined);
  assert.equal(validate(tb6, p), undefined);
  p.setLocalAddresses([parseAddress('203.0.113.11')]);
  assert.equal(validate(tb, p), 'quoted_src_not_local');
  assert.equal(validate(tb6, p), 'quoted_src_not_local');
});

test('port_not_allowed: --ports allow-list on the quoted source port', () => {
  const p = new Policy({ ...VIPS, ports: [443, 40000] });
  assert.equal(validate(tooBig(V4_UDP), p), undefined);
  assert.equal(validate(tooBig(V6_UDP), p), undefined);
  assert.equal(validate(tooBig(V4_UDP, { quotedSrcPort: 443 }), p), undefined);
  assert.equal(validate(tooBig(V4_UDP, { quotedSrcPort: 444 }), p), 'port_not_allowed');
  assert.equal(validate(tooBig(V6_UDP, { quotedSrcPort: 40001 }), p), 'port_not_allowed');
  // The destination port does not count.
  assert.equal(validate(tooBig(V4_UDP, { quotedSrcPort: 1, quotedDstPort: 443 }), p), 'port_not_allowed');
  // A quote without ports (an echo request) cannot pass an allow-list...
  assert.equal(tooBig(V4_PING).flow.srcPort, undefined);
  assert.equal(validate(tooBig(V4_PING), p), 'port_not_allowed');
  assert.equal(validate(tooBig(V6_PING), p), 'port_not_allowed');
  // ...but passes when there is none.
  assert.equal(validate(tooBig(V4_PING), new Policy(VIPS)), undefined);
  assert.throws(() => new Policy({ ports: [70000] }), ConfigError);
});

test('ignored_source: outer sources inside --ignore-networks', () => {
  const p = new Policy({ ...VIPS, ignoreNetworks: parseCidrs(['192.0.2.254/32', '2001:db8:1::/120'], 'ignore') });
  assert.equal(validate(tooBig(V4_UDP), p), 'ignored_source');
  assert.equal(validate(tooBig(V4_UDP, { outerSrc: '192.0.2.253' }), p), undefined);
  assert.equal(validate(tooBig(V6_UDP), p), 'ignored_source'); // 2001:db8:1::fe
  assert.equal(validate(tooBig(V6_UDP, { outerSrc: '2001:db8:1::1:fe' }), p), undefined);
});

test('checks run in order: ignored source, MTU, quoted source, port', () => {
  const p = new Policy({ ...VIPS, ports: [443], ignoreNetworks: parseCidrs(['192.0.2.254'], 'ignore') });
  const all = { mtu: 10, quotedSrc: '198.51.100.1', quotedSrcPort: 1 };
  assert.equal(validate(tooBig(V4_UDP, all), p), 'ignored_source');
  assert.equal(validate(tooBig(V4_UDP, { ...all, outerSrc: '192.0.2.1' }), p), 'mtu_out_of_range');
  assert.equal(validate(tooBig(V4_UDP, { ...all, outerSrc: '192.0.2.1', mtu: 1400 }), p), 'quoted_src_not_local');
  assert.equal(validate(tooBig(V4_UDP, { outerSrc: '192.0.2.1', quotedSrcPort: 1 }), p), 'port_not_allowed');
});

test('REJECT_REASONS is the decoder reasons then the policy reasons, each once', () => {
  assert.deepEqual(REJECT_REASONS, [...TOO_BIG_REJECT, ...RELAY_REJECT]);
  assert.equal(new Set(REJECT_REASONS).size, REJECT_REASONS.length);
  for (const r of REJECT_REASONS) assert.match(r, /^[a-z0-9_]+$/); // usable as metric label values
});
