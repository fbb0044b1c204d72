import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError } from '../../../src/errors.js';
import { verifyIcmpv4Checksum } from '../../../src/wire/checksum.js';
import { decodeEthernet } from '../../../src/wire/ethernet.js';
import { ICMP, decodeIcmpv4, encodeIcmpv4, isIcmpv4Error } from '../../../src/wire/icmpv4.js';
import { formatIPv4 } from '../../../src/wire/ip-address.js';
import { IPPROTO, decodeIPv4 } from '../../../src/wire/ipv4.js';
import { decodePorts } from '../../../src/wire/tcp.js';
import { ECHO_REQUEST_V4, ETH_HEADER, FRAG_NEEDED_PING, FRAG_NEEDED_UDP, embed } from './fixtures/packets.js';

for (const [name, at] of [
  ['plain', (b: Uint8Array) => b],
  ['at offset 7', embed],
] as const) {
  test(`captured frag-needed quoting an echo request (${name}): ethernet -> ipv4 -> icmp -> quote`, () => {
    const ip = decodeIPv4(decodeEthernet(at(FRAG_NEEDED_PING)).payload);
    const m = decodeIcmpv4(ip.payload);
    assert.equal(m.type, ICMP.DEST_UNREACH);
    assert.equal(m.code, ICMP.FRAG_NEEDED);
    assert.equal(m.checksum, 0xf056);
    assert.equal(m.restOfHeader, 1400);
    assert.equal(m.nextHopMtu, 1400); // the 1400-byte link behind the router
    assert.equal(m.echo, undefined);
    assert.equal(m.body.length, 548); // 576 - 20 - 8
    assert.equal(verifyIcmpv4Checksum(ip.payload), true);

    const quoted = decodeIPv4(m.body, { quoted: true });
    assert.equal(quoted.protocol, IPPROTO.ICMP);
    assert.equal(formatIPv4(quoted.src), '192.0.2.1');
    assert.equal(formatIPv4(quoted.dst), '198.51.100.2');
    const echo = decodeIcmpv4(quoted.payload);
    assert.equal(echo.type, ICMP.ECHO);
    assert.deepEqual(echo.echo, { id: 0x2fa1, sequence: 1 });
  });

  test(`captured frag-needed quoting a UDP datagram (${name}): the quoted ports`, () => {
    const ip = decodeIPv4(at(FRAG_NEEDED_UDP).subarray(ETH_HEADER));
    const m = decodeIcmpv4(ip.payload);
    assert.equal(m.nextHopMtu, 1400);
    const quoted = decodeIPv4(m.body, { quoted: true });
    assert.equal(quoted.protocol, IPPROTO.UDP);
    assert.equal(quoted.totalLength, 1500);
    assert.deepEqual(decodePorts(quoted.payload), { srcPort: 40000, dstPort: 33434 });
  });

  test(`captured echo request (${name})`, () => {
    const ip = decodeIPv4(at(ECHO_REQUEST_V4).subarray(ETH_HEADER));
    const m = decodeIcmpv4(ip.payload);
    assert.equal(m.type, ICMP.ECHO);
    assert.equal(m.code, 0);
    assert.equal(m.checksum, 0x8d23);
    assert.deepEqual(m.echo, { id: 12534, sequence: 1 }); // tcpdump: "id 12534, seq 1"
    assert.equal(m.nextHopMtu, undefined);
    assert.equal(m.body.length, 24);
  });
}

test('captured messages re-encode byte for byte (checksum recomputed)', () => {
  for (const frame of [FRAG_NEEDED_PING, FRAG_NEEDED_UDP, ECHO_REQUEST_V4]) {
    const icmp = frame.subarray(ETH_HEADER + 20);
    assert.deepEqual(encodeIcmpv4(decodeIcmpv4(embed(icmp))), icmp);
  }
});

test('encodeIcmpv4 builds a frag-needed from fields: MTU in bytes 6-7, checksum that verifies', () => {
  const quote = FRAG_NEEDED_UDP.subarray(ETH_HEADER + 28, ETH_HEADER + 28 + 28);
  const bytes = encodeIcmpv4({ type: ICMP.DEST_UNREACH, code: ICMP.FRAG_NEEDED, nextHopMtu: 1280, body: quote });
  assert.deepEqual(bytes.subarray(0, 2), Uint8Array.of(3, 4));
  assert.deepEqual(bytes.subarray(4, 8), Uint8Array.of(0, 0, 0x05, 0x00));
  assert.equal(verifyIcmpv4Checksum(bytes), true);
  const m = decodeIcmpv4(bytes);
  assert.equal(m.nextHopMtu, 1280);
  assert.deepEqual(m.body, quote);
  // The derived fields override the raw rest of header.
  const echo = encodeIcmpv4({ type: ICMP.ECHOREPLY, code: 0, restOfHeader: 0xffffffff, echo: { id: 0xbeef, sequence: 7 }, body: new Uint8Array(0) });
  assert.equal(decodeIcmpv4(echo).restOfHeader, 0xbeef0007);
});

test('error types are the ones that quote a packet', () => {
  for (const t of [ICMP.DEST_UNREACH, ICMP.SOURCE_QUENCH, ICMP.REDIRECT, ICMP.TIME_EXCEEDED, ICMP.PARAMETERPROB]) assert.equal(isIcmpv4Error(t), true);
  for (const t of [ICMP.ECHO, ICMP.ECHOREPLY, ICMP.TIMESTAMP]) assert.equal(isIcmpv4Error(t), false);
});

test('fewer than 8 bytes is a DecodeError', () => {
  for (let n = 0; n < 8; n++) assert.throws(() => decodeIcmpv4(FRAG_NEEDED_PING.subarray(ETH_HEADER + 20, ETH_HEADER + 20 + n)), DecodeError);
  assert.equal(decodeIcmpv4(FRAG_NEEDED_PING.subarray(ETH_HEADER + 20, ETH_HEADER + 28)).body.length, 0);
});
