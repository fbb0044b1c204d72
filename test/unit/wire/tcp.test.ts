import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError } from '../../../src/errors.js';
import { IPPROTO } from '../../../src/wire/ipv4.js';
import { decodePorts, encodePorts, hasPorts } from '../../../src/wire/tcp.js';
import { ETH_HEADER, FRAG_NEEDED_UDP, embed } from './fixtures/packets.js';

test('the ports of the UDP datagram quoted in the captured frag-needed, at any offset', () => {
  // Ethernet 14 + outer IPv4 20 + ICMP 8 + quoted IPv4 20 = 62: the quoted UDP header.
  const l4 = FRAG_NEEDED_UDP.subarray(ETH_HEADER + 48);
  assert.deepEqual(decodePorts(l4), { srcPort: 40000, dstPort: 33434 });
  assert.deepEqual(decodePorts(embed(l4.subarray(0, 4))), { srcPort: 40000, dstPort: 33434 });
});

test('fewer than 4 bytes is a DecodeError', () => {
  assert.throws(() => decodePorts(Uint8Array.of(0x9c, 0x40, 0x82)), DecodeError);
});

test('the protocols with a leading port pair', () => {
  for (const p of [IPPROTO.TCP, IPPROTO.UDP, IPPROTO.UDPLITE, IPPROTO.SCTP, IPPROTO.DCCP]) assert.equal(hasPorts(p), true);
  for (const p of [IPPROTO.ICMP, IPPROTO.ICMPV6, IPPROTO.ESP, IPPROTO.GRE, IPPROTO.AH]) assert.equal(hasPorts(p), false);
});

test('encodePorts is the inverse of decodePorts and refuses out-of-range ports', () => {
  assert.deepEqual(decodePorts(encodePorts({ srcPort: 443, dstPort: 65535 })), { srcPort: 443, dstPort: 65535 });
  assert.throws(() => encodePorts({ srcPort: 65536, dstPort: 1 }), RangeError);
});
