/**
 * decide() on real captured packets (test/unit/wire/fixtures/packets.ts),
 * rewritten where a test needs another MTU, source or port (too-big-variant.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decide, DECISION_KINDS, RelayState, type Decision, type RelayStateOptions } from '../../../src/relay/decide.js';
import { parseCidrs } from '../../../src/relay/prefix-set.js';
import { RATE_LIMIT } from '../../../src/relay/rate-limiter.js';
import { REJECT_REASONS } from '../../../src/relay/validate.js';
import { parseAddress } from '../../../src/wire/ip-address.js';
import { tooBigKey } from '../../../src/wire/too-big-decode.js';
import { ECHO_REQUEST_V4, embed, ETH_HEADER, UDP_V4, UDP_V6_HOP_BY_HOP } from '../wire/fixtures/packets.js';
import { V4_PING, V4_UDP, V6_PING, V6_UDP, variant } from './too-big-variant.js';

const KEY = new Uint32Array([1, 2, 3, 4, 5]);

function state(o: RelayStateOptions = {}): RelayState {
  return new RelayState({
    vipNetworks: parseCidrs(['192.0.2.0/24', '2001:db8:1::/64'], 'vip'),
    hashKey: KEY,
    ...o,
  });
}

function total(s: RelayState): number {
  const c = s.counters;
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  return c.accepted + c.duplicate + c.loop + sum(c.rateLimited) + sum(c.rejected);
}

test('the captured frag-needed and packet-too-big are relayed, with the flow they quote', () => {
  const s = state();
  // The flows the captures quote: UDP 40000 → 33434 and an echo, both families.
  const flows = [
    '4|17|192.0.2.1|198.51.100.2|40000|33434|1400',
    '6|17|20010db8000100000000000000000001|20010db8000200000000000000000002|40000|33434|1400',
    '4|1|192.0.2.1|198.51.100.2|||1400',
    '6|58|20010db8000100000000000000000001|20010db8000200000000000000000002|||1400',
  ];
  for (const [i, pkt] of [V4_UDP, V6_UDP, V4_PING, V6_PING].entries()) {
    const d = decide(embed(pkt), { ifindex: 2, now: i }, s);
    assert.equal(d.kind, 'relay');
    if (d.kind !== 'relay') continue;
    assert.equal(d.tooBig.mtu, 1400);
    assert.equal(tooBigKey(d.tooBig.flow, d.tooBig.mtu), flows[i]);
  }
  assert.equal(s.counters.accepted, 4);
});

test('decoder rejections come through with their reason', () => {
  const s = state();
  const badSum = Uint8Array.from(V4_UDP);
  badSum[40] = badSum[40]! ^ 0xff; // a byte of the quote: the ICMP checksum no longer verifies
  const table: [Uint8Array, string][] = [
    [new Uint8Array(0), 'truncated_ip'],
    [V4_UDP.subarray(0, 10), 'truncated_ip'],
    [Uint8Array.of(0x50, ...new Uint8Array(30)), 'bad_ip_version'],
    [badSum, 'bad_checksum'],
    [ECHO_REQUEST_V4.subarray(ETH_HEADER), 'not_too_big'],
    [UDP_V4.subarray(ETH_HEADER), 'not_icmp'],
    [UDP_V6_HOP_BY_HOP.subarray(ETH_HEADER), 'not_icmp'],
  ];
  for (const [pkt, reason] of table) {
    assert.deepEqual(decide(pkt, { ifindex: 1, now: 0 }, s), { kind: 'reject', reason });
  }
  assert.equal(s.counters.rejected.bad_checksum, 1);
  assert.equal(s.counters.rejected.truncated_ip, 2);
  assert.equal(total(s), table.length);
});

test('policy rejections come through with their reason', () => {
  const s = state({ ports: [40000], ignoreNetworks: parseCidrs(['203.0.113.0/24'], 'ignore') });
  const cases: [Uint8Array, string][] = [
    [variant(V4_UDP, { outerSrc: '203.0.113.1' }), 'ignored_source'],
    [variant(V4_UDP, { mtu: 67 }), 'mtu_out_of_range'],
    [variant(V6_UDP, { mtu: 1279 }), 'mtu_out_of_range'],
    [variant(V4_UDP, { quotedSrc: '198.51.100.3' }), 'quoted_src_not_local'],
    [variant(V6_UDP, { quotedSrcPort: 1 }), 'port_not_allowed'],
  ];
  for (const [pkt, reason] of cases) assert.deepEqual(decide(pkt, { ifindex: 1, now: 0 }, s), { kind: 'reject', reason });
  assert.equal(s.counters.rejected.mtu_out_of_range, 2);
});

test('replicas are loops: marked by the capture layer, or sent from a peer address', () => {
  const s = state({ peers: [parseAddress('198.51.100.20'), parseAddress('2001:db8:1::20')] });
  assert.deepEqual(decide(V4_UDP, { ifindex: 1, now: 0, fromPeer: true }, s), { kind: 'loop' });
  assert.deepEqual(decide(variant(V4_UDP, { outerSrc: '198.51.100.20' }), { ifindex: 1, now: 0 }, s), { kind: 'loop' });
  assert.deepEqual(decide(variant(V6_UDP, { outerSrc: '2001:db8:1::20' }), { ifindex: 1, now: 0 }, s), { kind: 'loop' });
  assert.equal(s.counters.loop, 3);
  // A loop was not relayed, so it does not make the original a duplicate.
  assert.equal(decide(V4_UDP, { ifindex: 1, now: 1 }, s).kind, 'relay');
  // Peers change at run time.
  s.setPeers([]);
  assert.equal(decide(variant(V6_UDP, { outerSrc: '2001:db8:1::20' }), { ifindex: 1, now: 2 }, s).kind, 'relay');
});

test('order: validation comes before the loop check', () => {
  const s = state();
  const d = decide(variant(V4_UDP, { quotedSrc: '198.51.100.3' }), { ifindex: 1, now: 0, fromPeer: true }, s);
  assert.deepEqual(d, { kind: 'reject', reason: 'quoted_src_not_local' });
});

test('order: duplicates are dropped before the rate limiter and spend no token', () => {
  const s = state({ srcBurst: 2, srcRate: 1 });
  assert.equal(decide(V4_UDP, { ifindex: 1, now: 0 }, s).kind, 'relay');
  for (let i = 1; i <= 5; i++) assert.equal(decide(V4_UDP, { ifindex: 1, now: i }, s).kind, 'duplicate');
  // Same router, another flow: the second token is still there.
  assert.equal(decide(variant(V4_UDP, { quotedSrcPort: 40001 }), { ifindex: 1, now: 6 }, s).kind, 'relay');
  assert.deepEqual(decide(variant(V4_UDP, { quotedSrcPort: 40002 }), { ifindex: 1, now: 7 }, s), { kind: 'rate_limited', limit: 'src_rate' });
  assert.equal(s.counters.duplicate, 5);
});

test('a rate-limited message is not remembered as relayed: its next copy is tried again', () => {
  const s = state({ srcBurst: 1, srcRate: 2 });
  const other = variant(V4_UDP, { mtu: 1300 });
  assert.equal(decide(V4_UDP, { ifindex: 1, now: 0 }, s).kind, 'relay');
  assert.deepEqual(decide(other, { ifindex: 1, now: 1 }, s), { kind: 'rate_limited', limit: 'src_rate' });
  assert.deepEqual(decide(other, { ifindex: 1, now: 2 }, s), { kind: 'rate_limited', limit: 'src_rate' });
  assert.equal(decide(other, { ifindex: 1, now: 500 }, s).kind, 'relay'); // a token is back (2/s)
  assert.equal(decide(other, { ifindex: 1, now: 501 }, s).kind, 'duplicate');
});

test('the interface limit applies after the source limit', () => {
  const s = state({ srcBurst: 5, ifaceRate: 1, ifaceBurst: 2 });
  const kinds = [1, 2, 3].map((i) => decide(variant(V4_UDP, { quotedSrcPort: 40000 + i }), { ifindex: 4, now: 0 }, s));
  assert.deepEqual(kinds.map((d) => d.kind), ['relay', 'relay', 'rate_limited']);
  assert.deepEqual(kinds[2], { kind: 'rate_limited', limit: 'global_rate' });
});

test('a nanosecond clock: dedup window and rates scale with unitsPerSecond', () => {
  const s = state({ unitsPerSecond: 1e9, dedupWindow: 1000 });
  const t0 = 7_000_000_000;
  assert.equal(decide(V6_UDP, { ifindex: 1, now: t0 }, s).kind, 'relay');
  assert.equal(decide(V6_UDP, { ifindex: 1, now: t0 + 999_999_999 }, s).kind, 'duplicate');
  assert.equal(decide(V6_UDP, { ifindex: 1, now: t0 + 1_000_000_000 }, s).kind, 'relay');
});

test('local addresses make a quoted source ours at run time', () => {
  const s = state({ vipNetworks: [] });
  assert.deepEqual(decide(V4_UDP, { ifindex: 1, now: 0 }, s), { kind: 'reject', reason: 'quoted_src_not_local' });
  s.setLocalAddresses([parseAddress('192.0.2.1')]);
  assert.equal(decide(V4_UDP, { ifindex: 1, now: 1 }, s).kind, 'relay');
});

const KINDS = new Set<string>(DECISION_KINDS);
const REASONS = new Set<string>(REJECT_REASONS);
const LIMITS = new Set<string>(RATE_LIMIT);

function wellFormed(d: Decision): boolean {
  if (!KINDS.has(d.kind)) return false;
  if (d.kind === 'reject') return REASONS.has(d.reason);
  if (d.kind === 'rate_limited') return LIMITS.has(d.limit);
  if (d.kind === 'relay') return d.tooBig.family === 4 || d.tooBig.family === 6;
  return true;
}

test('property: decide never throws on arbitrary bytes and always returns a Decision', () => {
  const s = state({ srcRate: 1e6, srcBurst: 1e6, ifaceRate: 1e6, ifaceBurst: 1e6 });
  let now = 0;
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, fromPeer) => {
      const d = decide(bytes, { ifindex: 1, now: now++, fromPeer }, s);
      return wellFormed(d);
    }),
    { numRuns: 2000 },
  );
});

test('property: decide never throws on corrupted real packets (byte flips, truncation, at an offset)', () => {
  const s = state();
  const bases = [V4_UDP, V4_PING, V6_UDP, V6_PING];
  let now = 0;
  fc.assert(
    fc.property(
      fc.nat(3),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }),
      fc.nat(),
      (which, flips, cut) => {
        const b = Uint8Array.from(bases[which]!);
        for (const [at, x] of flips) b[at % b.length] = b[at % b.length]! ^ x;
        const pkt = embed(b.subarray(0, cut % (b.length + 1)));
        return wellFormed(decide(pkt, { ifindex: 1, now: now++ }, s));
      },
    ),
    { numRuns: 2000 },
  );
  assert.equal(total(s), 2000);
});
