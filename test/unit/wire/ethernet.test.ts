import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError } from '../../../src/errors.js';
import {
  BROADCAST_MAC,
  ETH_P,
  decodeEthernet,
  encodeEthernet,
  formatMac,
  isBroadcastMac,
  parseMac,
} from '../../../src/wire/ethernet.js';
import {
  ECHO_REQUEST_V4,
  FRAG_NEEDED_PING,
  FRAG_NEEDED_UDP,
  PACKET_TOO_BIG_PING,
  PACKET_TOO_BIG_UDP,
  PACKET_TOO_BIG_UDP_DSTOPTS,
  UDP_V4,
  UDP_V6_HOP_BY_HOP,
  embed,
  hex,
} from './fixtures/packets.js';

const ROUTER_MAC = '5a:b3:bb:3b:de:08'; // router eth0 in the capture lab
const SENDER_MAC = 'c2:10:0d:f6:3f:56'; // sender eth0

for (const [name, frame] of [
  ['plain', FRAG_NEEDED_PING],
  ['at offset 7', embed(FRAG_NEEDED_PING)],
] as const) {
  test(`captured frag-needed frame (${name}): router -> sender, IPv4, untagged`, () => {
    const f = decodeEthernet(frame);
    assert.equal(formatMac(f.dst), SENDER_MAC);
    assert.equal(formatMac(f.src), ROUTER_MAC);
    assert.deepEqual(f.tags, []);
    assert.equal(f.etherType, ETH_P.IP);
    assert.equal(f.payload.length, 576);
    assert.equal(f.payload[0], 0x45);
    assert.equal(f.payload.byteOffset, frame.byteOffset + 14, 'payload is a view, not a copy');
  });
}

for (const [name, frame] of [
  ['plain', PACKET_TOO_BIG_PING],
  ['at offset 7', embed(PACKET_TOO_BIG_PING)],
] as const) {
  test(`captured packet-too-big frame (${name}): IPv6, 1280-byte packet`, () => {
    const f = decodeEthernet(frame);
    assert.equal(formatMac(f.dst), SENDER_MAC);
    assert.equal(formatMac(f.src), ROUTER_MAC);
    assert.equal(f.etherType, ETH_P.IPV6);
    assert.equal(f.payload.length, 1280);
    assert.equal(f.payload[0]! >> 4, 6);
  });
}

test('captured echo request and UDP frames go sender -> router', () => {
  for (const frame of [ECHO_REQUEST_V4, embed(UDP_V4)]) {
    const f = decodeEthernet(frame);
    assert.equal(formatMac(f.dst), ROUTER_MAC);
    assert.equal(formatMac(f.src), SENDER_MAC);
    assert.equal(f.etherType, ETH_P.IP);
  }
  assert.equal(decodeEthernet(UDP_V6_HOP_BY_HOP).etherType, ETH_P.IPV6);
});

test('every captured frame re-encodes to the same bytes', () => {
  for (const frame of [FRAG_NEEDED_PING, FRAG_NEEDED_UDP, PACKET_TOO_BIG_PING, PACKET_TOO_BIG_UDP, PACKET_TOO_BIG_UDP_DSTOPTS, ECHO_REQUEST_V4, UDP_V4, UDP_V6_HOP_BY_HOP]) {
    assert.deepEqual(encodeEthernet(decodeEthernet(embed(frame))), frame);
  }
});

// Hand-built: this kernel has no CONFIG_VLAN_8021Q, so no tagged frame could be captured.
// The captured echo request with an 802.1Q tag (PCP 3, VID 100) inserted after the addresses.
const VLAN_ECHO = hex(`
  5ab3 bb3b de08 c210 0df6 3f56  // dst, src as captured
  8100 6064                      // TPID 802.1Q, TCI: PCP 3 (011), DEI 0, VID 100 (0x064)
  0800                           // EtherType IPv4
`);
// QinQ: an 802.1ad service tag (DEI set, VID 200) outside an 802.1Q tag (VID 300).
const QINQ_ECHO = hex(`
  5ab3 bb3b de08 c210 0df6 3f56  // dst, src
  88a8 10c8                      // TPID 802.1ad, TCI: PCP 0, DEI 1, VID 200 (0x0c8)
  8100 012c                      // TPID 802.1Q, TCI: PCP 0, DEI 0, VID 300 (0x12c)
  0800                           // EtherType IPv4
`);

function withIp(head: Uint8Array): Uint8Array {
  const ip = ECHO_REQUEST_V4.subarray(14);
  const out = new Uint8Array(head.length + ip.length);
  out.set(head);
  out.set(ip, head.length);
  return out;
}

test('an 802.1Q tag is decoded and kept (hand-built)', () => {
  const frame = withIp(VLAN_ECHO);
  for (const f of [decodeEthernet(frame), decodeEthernet(embed(frame))]) {
    assert.deepEqual(f.tags, [{ tpid: ETH_P['8021Q'], pcp: 3, dei: false, vid: 100 }]);
    assert.equal(f.etherType, ETH_P.IP);
    assert.deepEqual(f.payload, ECHO_REQUEST_V4.subarray(14));
  }
  assert.deepEqual(encodeEthernet(decodeEthernet(frame)), frame);
});

test('QinQ: the 802.1ad outer tag comes first, then the 802.1Q inner tag (hand-built)', () => {
  const frame = withIp(QINQ_ECHO);
  const f = decodeEthernet(embed(frame));
  assert.deepEqual(f.tags, [
    { tpid: ETH_P['8021AD'], pcp: 0, dei: true, vid: 200 },
    { tpid: ETH_P['8021Q'], pcp: 0, dei: false, vid: 300 },
  ]);
  assert.equal(f.etherType, ETH_P.IP);
  assert.deepEqual(encodeEthernet(f), frame);
});

test('short frames and a tag cut off by the end of the buffer are DecodeErrors', () => {
  assert.throws(() => decodeEthernet(new Uint8Array(13)), DecodeError);
  assert.throws(() => decodeEthernet(VLAN_ECHO.subarray(0, 16)), DecodeError);
  assert.throws(() => decodeEthernet(QINQ_ECHO.subarray(0, 20)), DecodeError);
  // A frame that is nothing but headers has an empty payload, not an error.
  assert.equal(decodeEthernet(VLAN_ECHO).payload.length, 0);
});

test('encodeEthernet refuses addresses of the wrong size and out-of-range tags', () => {
  const mac = parseMac(SENDER_MAC);
  assert.throws(() => encodeEthernet({ dst: new Uint8Array(5), src: mac, tags: [], etherType: ETH_P.IP, payload: new Uint8Array(0) }), RangeError);
  assert.throws(
    () => encodeEthernet({ dst: mac, src: mac, tags: [{ tpid: 0x8100, pcp: 0, dei: false, vid: 4096 }], etherType: ETH_P.IP, payload: new Uint8Array(0) }),
    RangeError,
  );
});

test('MAC addresses format and parse', () => {
  assert.deepEqual(parseMac('C2-10-0D-F6-3F-56'), parseMac(SENDER_MAC));
  assert.equal(formatMac(parseMac('00:00:5e:00:53:01')), '00:00:5e:00:53:01');
  assert.equal(isBroadcastMac(parseMac(BROADCAST_MAC)), true);
  assert.equal(isBroadcastMac(parseMac(SENDER_MAC)), false);
  for (const bad of ['', '00:00:5e:00:53', '00:00:5e:00:53:01:02', '00:00:5e-00:53:01', '0:00:5e:00:53:01', 'zz:00:5e:00:53:01']) {
    assert.throws(() => parseMac(bad), DecodeError, bad);
  }
  assert.throws(() => formatMac(new Uint8Array(4)), DecodeError);
});
