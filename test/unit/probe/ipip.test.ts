import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerIcmp, answerTcp, buildInnerSyn, buildIpipSyn, icmpMeaning, ipipHints, renderIpipText, type IpipSynSpec } from '../../../src/probe/ipip-run.js';
import { optionKinds, synAckFrom } from '../../../src/probe/mss-run.js';
import { decapsulate, encapsulate } from '../../../src/wire/ip-tunnel.js';
import { decodeIPv4, encodeIPv4, IPPROTO } from '../../../src/wire/ipv4.js';
import { encodeIcmpv4, ICMP } from '../../../src/wire/icmpv4.js';
import { encodeIcmpv6, ICMPV6 } from '../../../src/wire/icmpv6.js';
import { decodeTcp, TCP_FLAGS, TCPOPT } from '../../../src/wire/tcp.js';
import { parseAddress } from '../../../src/wire/ip-address.js';
import { DecodeError } from '../../../src/errors.js';
import { atOffset } from '../../harness/bytes.js';
import { IP6IP6_SYN, IP6IP6_SYN_ACK, IPIP_RST, IPIP_SYN, IPIP_SYN_ACK, MSS_SYN_ACK } from './fixtures/ipip.js';

const ETH = 14;
const V4: IpipSynSpec = {
  src: parseAddress('192.0.2.1'),
  realserver: parseAddress('192.0.2.2'),
  vip: parseAddress('203.0.113.10'),
  port: 8080,
  srcPort: 35627,
  seq: 3072138115,
  mss: 1460,
  id: 0xd734,
};
const V6: IpipSynSpec = {
  src: parseAddress('2001:db8:20::1'),
  realserver: parseAddress('2001:db8:20::2'),
  vip: parseAddress('2001:db8:f::10'),
  port: 8080,
  srcPort: 43903,
  seq: 3700644331,
  mss: 1440,
};

test('the IPIP SYN is byte for byte the packet captured on the realserver (outer header as the kernel built it)', () => {
  assert.deepEqual(buildIpipSyn(V4), IPIP_SYN.subarray(ETH));
});

test('the encapsulated RST that resets the half-open connection matches the capture', () => {
  const rst = encapsulate({ src: V4.src, dst: V4.realserver }, buildInnerSyn({ ...V4, flags: TCP_FLAGS.RST, seq: 3072138116 }));
  assert.deepEqual(rst, IPIP_RST.subarray(ETH));
});

test('the IP6IP6 SYN matches the capture but for the flow label the kernel chose', () => {
  const built = buildIpipSyn(V6);
  const wire = IP6IP6_SYN.subarray(ETH);
  assert.equal(built.length, wire.length);
  assert.equal(built[0], wire[0]);
  assert.deepEqual(built.subarray(4), wire.subarray(4));
  assert.deepEqual([built[1]! & 0x0f, built[2], built[3]], [0, 0, 0]);
});

test('decapsulate returns the inner packet of IPIP and IP6IP6, at any offset, and refuses anything else', () => {
  assert.deepEqual(decapsulate(atOffset(IPIP_SYN.subarray(ETH))).inner, buildInnerSyn(V4));
  assert.deepEqual(decapsulate(IP6IP6_SYN.subarray(ETH)).inner, buildInnerSyn(V6));
  assert.throws(() => decapsulate(IPIP_SYN_ACK.subarray(ETH)), DecodeError);
  assert.throws(() => decapsulate(IP6IP6_SYN_ACK.subarray(ETH)), DecodeError);
  assert.throws(() => decapsulate(new Uint8Array(3)), DecodeError);
});

test("the realserver's SYN-ACK is recognised by address, ports and acknowledgment, and its MSS read", () => {
  const v4 = answerTcp(4, IPIP_SYN_ACK.subarray(ETH), V4.vip, V4);
  assert.equal(v4?.mss, 1400);
  assert.equal(v4!.flags, TCP_FLAGS.SYN | TCP_FLAGS.ACK);
  assert.equal(answerTcp(4, IPIP_SYN_ACK.subarray(ETH), V4.vip, { ...V4, seq: V4.seq + 1 }), undefined);
  assert.equal(answerTcp(4, IPIP_SYN_ACK.subarray(ETH), V4.realserver, V4), undefined);
  assert.equal(answerTcp(4, IPIP_SYN_ACK.subarray(ETH), V4.vip, { ...V4, srcPort: 1 }), undefined);
  // an IPv6 raw socket reads the segment without the IPv6 header
  assert.equal(answerTcp(6, IP6IP6_SYN_ACK.subarray(ETH + 40), V6.vip, V6)?.mss, 1400);
});

test('probe mss reads the SYN-ACK of an ordinary connection: MSS and every option kind', () => {
  const t = synAckFrom(4, MSS_SYN_ACK.subarray(ETH), parseAddress('203.0.113.10'), parseAddress('203.0.113.10'), 8080);
  assert.equal(t?.mss, 1400);
  assert.deepEqual(optionKinds(t!.options), [TCPOPT.MSS, TCPOPT.SACK_PERM, TCPOPT.TIMESTAMP, TCPOPT.WINDOW]);
  assert.equal(synAckFrom(4, MSS_SYN_ACK.subarray(ETH), parseAddress('203.0.113.10'), parseAddress('203.0.113.10'), 8081), undefined);
  assert.equal(synAckFrom(4, IPIP_SYN.subarray(ETH), parseAddress('192.0.2.1'), parseAddress('192.0.2.1'), 8080), undefined);
});

test("ICMP errors about the tunnelled packet: the realserver's protocol unreachable, and what it means", () => {
  const outer = IPIP_SYN.subarray(ETH);
  const err = encodeIPv4({
    protocol: IPPROTO.ICMP,
    src: V4.realserver,
    dst: V4.src,
    payload: encodeIcmpv4({ type: ICMP.DEST_UNREACH, code: ICMP.PROT_UNREACH, body: outer }),
  });
  const h = answerIcmp(4, err, V4.realserver, V4);
  assert.equal(h?.kind, 'icmp');
  assert.match(h!.kind === 'icmp' ? h!.meaning : '', /protocol unreachable: nothing on the realserver accepts IP protocol 4/);
  // an error quoting someone else's packet is not ours
  const other = decodeIPv4(outer);
  const foreign = encodeIPv4({ protocol: IPPROTO.IPIP, src: other.src, dst: parseAddress('192.0.2.99'), payload: other.payload });
  const err2 = encodeIPv4({ protocol: IPPROTO.ICMP, src: V4.realserver, dst: V4.src, payload: encodeIcmpv4({ type: ICMP.DEST_UNREACH, code: 2, body: foreign }) });
  assert.equal(answerIcmp(4, err2, V4.realserver, V4), undefined);
  // IPv6: the realserver without ip6_tunnel answers a parameter problem, unknown next header
  const pp = encodeIcmpv6({ type: ICMPV6.PARAMPROB, code: ICMPV6.UNK_NEXTHDR, pointer: 6, body: IP6IP6_SYN.subarray(ETH) }, V6.realserver, V6.src);
  const h6 = answerIcmp(6, pp, V6.realserver, V6);
  assert.match(h6?.kind === 'icmp' ? h6.meaning : '', /next header 41/);
});

test('meanings of the ICMP errors a director can get back', () => {
  assert.match(icmpMeaning(4, ICMP.DEST_UNREACH, ICMP.PKT_FILTERED), /administratively prohibited/);
  assert.match(icmpMeaning(4, ICMP.DEST_UNREACH, ICMP.FRAG_NEEDED), /does not fit/);
  assert.match(icmpMeaning(4, ICMP.TIME_EXCEEDED, 0), /time exceeded/);
  assert.match(icmpMeaning(6, ICMPV6.DEST_UNREACH, ICMPV6.ADM_PROHIBITED), /administratively prohibited/);
  assert.match(icmpMeaning(6, ICMPV6.PKT_TOOBIG, 0), /does not fit/);
});

test('hints: a firewall for protocol 4 / 41 first, the device, rp_filter (IPv4 only), the VIP, the way back', () => {
  const h4 = ipipHints(4, 'silence', '192.0.2.1', '203.0.113.10', 443);
  assert.match(h4[0]!, /must accept IP protocol 4 \(IPIP\) from 192\.0\.2\.1/);
  assert.match(h4[1]!, /ipip0.*external\/collect-metadata.*ipip module/);
  assert.match(h4[2]!, /rp_filter.*larger of the two/);
  assert.match(h4[3]!, /203\.0\.113\.10 must be configured/);
  const h6 = ipipHints(6, 'silence', '2001:db8::1', '2001:db8:f::10', 443);
  assert.match(h6[0]!, /next header 41/);
  assert.ok(!h6.some((h) => h.includes('rp_filter')));
  assert.match(ipipHints(4, 'rst', '192.0.2.1', '203.0.113.10', 443)[0]!, /nothing listens on 203\.0\.113\.10 port 443/);
  assert.deepEqual(ipipHints(4, 'syn-ack', '192.0.2.1', '203.0.113.10', 443), []);
});

test('the text report names the encapsulation, the answer and the hints', () => {
  const text = renderIpipText({
    ok: false,
    family: 4,
    realserver: '192.0.2.2',
    vip: '203.0.113.10',
    port: 443,
    source: '192.0.2.1',
    encapsulation: 4,
    synMss: 1460,
    answer: 'silence',
    hints: ['one', 'two'],
  });
  assert.equal(text, 'IPIP 192.0.2.1 -> 192.0.2.2, inner SYN to 203.0.113.10 port 443 (MSS 1460)\nfailed: no answer\ncheck:\n  - one\n  - two');
  assert.equal(decodeTcp(buildInnerSyn(V4).subarray(20)).mss, 1460);
});
