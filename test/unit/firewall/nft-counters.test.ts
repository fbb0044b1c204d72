import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DecodeError } from '../../../src/errors.js';
import { parseCounters } from '../../../src/firewall/nft.js';

// Captured on this machine: the relay table (relayRuleset with a TUN, the udp
// chain and peers) applied in a lab namespace, 20 pings of 1428 bytes with DF
// through a router whose next link has MTU 1280, then
//   ip netns exec pgt-fy-node nft -j list table inet pathguard
// (nftables v1.0.6). The objects are verbatim; of the sets, chains and
// rules only peer_v4, the capture chain and the captured_v4 rule are kept.
const CAPTURED = `{"nftables": [
  {"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
  {"table": {"family": "inet", "name": "pathguard", "handle": 2}},
  {"counter": {"family": "inet", "name": "replica_tun", "table": "pathguard", "handle": 4, "packets": 0, "bytes": 0}},
  {"counter": {"family": "inet", "name": "replica_broadcast", "table": "pathguard", "handle": 5, "packets": 0, "bytes": 0}},
  {"counter": {"family": "inet", "name": "replica_peer_mac", "table": "pathguard", "handle": 6, "packets": 0, "bytes": 0}},
  {"counter": {"family": "inet", "name": "replica_peer_v4", "table": "pathguard", "handle": 7, "packets": 0, "bytes": 0}},
  {"counter": {"family": "inet", "name": "replica_peer_v6", "table": "pathguard", "handle": 8, "packets": 0, "bytes": 0}},
  {"counter": {"family": "inet", "name": "captured_v4", "table": "pathguard", "handle": 9, "packets": 20, "bytes": 11520}},
  {"counter": {"family": "inet", "name": "captured_v6", "table": "pathguard", "handle": 10, "packets": 0, "bytes": 0}},
  {"counter": {"family": "inet", "name": "udp_peer", "table": "pathguard", "handle": 11, "packets": 0, "bytes": 0}},
  {"counter": {"family": "inet", "name": "udp_refused", "table": "pathguard", "handle": 12, "packets": 0, "bytes": 0}},
  {"set": {"family": "inet", "name": "peer_v4", "table": "pathguard", "type": "ipv4_addr", "handle": 13, "elem": ["192.0.2.2", "198.51.100.7"]}},
  {"chain": {"family": "inet", "table": "pathguard", "name": "capture", "handle": 1, "type": "filter", "hook": "prerouting", "prio": -300, "policy": "accept"}},
  {"rule": {"family": "inet", "table": "pathguard", "chain": "too_big", "handle": 23, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv4"}}, {"counter": "captured_v4"}, {"log": {"group": 33}}]}}
]}`;

test('named counters are read from nft -j output; rule counter references are not mistaken for counters', () => {
  const m = parseCounters(CAPTURED);
  assert.deepEqual([...m.keys()], ['replica_tun', 'replica_broadcast', 'replica_peer_mac', 'replica_peer_v4', 'replica_peer_v6', 'captured_v4', 'captured_v6', 'udp_peer', 'udp_refused']);
  // 20 frag-needed messages of 576 bytes (RFC 1812 §4.3.2.3: as much of the original as fits in 576).
  assert.deepEqual(m.get('captured_v4'), { packets: 20, bytes: 11520 });
  assert.deepEqual(m.get('replica_tun'), { packets: 0, bytes: 0 });
});

test('counters of other tables are ignored', () => {
  const doc = { nftables: [{ counter: { family: 'ip', table: 'pathguard', name: 'x', packets: 1, bytes: 2 } }, { counter: { family: 'inet', table: 'other', name: 'y', packets: 1, bytes: 2 } }] };
  assert.equal(parseCounters(JSON.stringify(doc)).size, 0);
});

test('malformed output is a DecodeError', () => {
  assert.throws(() => parseCounters('not json'), DecodeError);
  assert.throws(() => parseCounters('{}'), DecodeError);
  assert.throws(() => parseCounters('null'), DecodeError);
  assert.throws(
    () => parseCounters(JSON.stringify({ nftables: [{ counter: { family: 'inet', table: 'pathguard', name: 'c', packets: '1', bytes: 0 } }] })),
    DecodeError,
  );
});

test('property: arbitrary JSON yields a map or a DecodeError, nothing else', () => {
  fc.assert(
    fc.property(fc.oneof(fc.json(), fc.jsonValue().map((v) => JSON.stringify({ nftables: [v, { counter: v }] }))), (text) => {
      try {
        parseCounters(text);
      } catch (err) {
        assert.ok(err instanceof DecodeError, String(err));
      }
    }),
    { numRuns: 300 },
  );
});
