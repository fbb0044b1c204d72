import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unrelayableFamilies } from '../../../src/relay/families.js';
import { parseCidrs } from '../../../src/relay/prefix-set.js';
import { parsePeerList } from '../../../src/peers/peer-set.js';
import { parseAddress } from '../../../src/wire/ip-address.js';

const DUAL_VIPS = parseCidrs(['198.51.100.0/24', '2001:db8:f::/48'], 'vip');
const V4_PEERS = parsePeerList('192.0.2.11,192.0.2.12');

test('ip with IPv4-only peers and an IPv6 service prefix can never relay IPv6', () => {
  assert.deepEqual(unrelayableFamilies({ transport: 'ip', vipNetworks: DUAL_VIPS, peers: V4_PEERS, local: [] }), [6]);
});

test('one dual-stack peer is enough; the other transports carry every family', () => {
  const peers = parsePeerList('192.0.2.11,192.0.2.12+2001:db8::12');
  assert.deepEqual(unrelayableFamilies({ transport: 'ip', vipNetworks: DUAL_VIPS, peers, local: [] }), []);
  for (const transport of ['udp', 'l2', 'broadcast']) {
    assert.deepEqual(unrelayableFamilies({ transport, vipNetworks: DUAL_VIPS, peers: V4_PEERS, local: [] }), [], transport);
  }
});

test('without --vip-networks, the local addresses say which families matter (IPv6 link-local does not)', () => {
  const v4only = [parseAddress('192.0.2.11'), parseAddress('fe80::1')];
  assert.deepEqual(unrelayableFamilies({ transport: 'ip', vipNetworks: [], peers: V4_PEERS, local: v4only }), []);
  const dual = [...v4only, parseAddress('2001:db8::11')];
  assert.deepEqual(unrelayableFamilies({ transport: 'ip', vipNetworks: [], peers: V4_PEERS, local: dual }), [6]);
  const v6peers = parsePeerList('2001:db8::12');
  assert.deepEqual(unrelayableFamilies({ transport: 'ip', vipNetworks: DUAL_VIPS, peers: v6peers, local: [] }), [4]);
});

test('no peers at all is reported elsewhere (no_peers), not as a family problem', () => {
  assert.deepEqual(unrelayableFamilies({ transport: 'ip', vipNetworks: DUAL_VIPS, peers: [], local: [] }), []);
});
