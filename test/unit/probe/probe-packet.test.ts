import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildProbe, matchAnswer, minimumProbeSize, type ProbeSpec } from '../../../src/probe/probe-packet.js';
import { decodeIPv4, encodeIPv4, IPPROTO } from '../../../src/wire/ipv4.js';
import { decodeIcmpv4, encodeIcmpv4, ICMP } from '../../../src/wire/icmpv4.js';
import { decodeIcmpv6, ICMPV6 } from '../../../src/wire/icmpv6.js';
import { decodeTcp, encodeTcp, TCP_FLAGS } from '../../../src/wire/tcp.js';
import { parseAddress } from '../../../src/wire/ip-address.js';
import { verifyIcmpv4Checksum, verifyIcmpv6Checksum } from '../../../src/wire/checksum.js';
import { atOffset } from '../../harness/bytes.js';
import {
  ETH_HLEN,
  V4_FRAG_NEEDED,
  V4_PORT_UNREACHABLE,
  V4_TIME_EXCEEDED,
  V6_PACKET_TOO_BIG,
  V6_PORT_UNREACHABLE,
  V6_TIME_EXCEEDED,
} from './fixtures/answers.js';

const v4 = (srcPort: number): ProbeSpec => ({
  family: 4,
  proto: 'udp',
  src: parseAddress('192.0.2.1'),
  dst: parseAddress('198.51.100.2'),
  srcPort,
  dstPort: 33434,
  ident: 1,
});
const v6 = (srcPort: number): ProbeSpec => ({
  family: 6,
  proto: 'udp',
  src: parseAddress('2001:db8:a::1'),
  dst: parseAddress('2001:db8:d::2'),
  srcPort,
  dstPort: 33434,
  ident: 1,
});
/** What a raw ICMP socket reads: IPv4 from the IP header, IPv6 from the ICMPv6 header. */
const ip4 = (frame: Uint8Array) => frame.subarray(ETH_HLEN);
const icmp6 = (frame: Uint8Array) => frame.subarray(ETH_HLEN + 40);

test('IPv4 time exceeded from hop 1 answers exactly the probe it quotes (port, size and sequence number)', () => {
  const spec = v4(38221);
  const from = parseAddress('192.0.2.2');
  assert.deepEqual(matchAnswer(spec, buildProbe(spec, 128, 3), 'icmp', ip4(V4_TIME_EXCEEDED), from), { kind: 'time-exceeded', from: '192.0.2.2' });
  assert.deepEqual(matchAnswer(spec, buildProbe(spec, 128, 3), 'icmp', atOffset(ip4(V4_TIME_EXCEEDED)), from), { kind: 'time-exceeded', from: '192.0.2.2' });
  // a late answer to probe 3 is not the answer to probe 4, nor to a probe of another size or port
  assert.equal(matchAnswer(spec, buildProbe(spec, 128, 4), 'icmp', ip4(V4_TIME_EXCEEDED), from), undefined);
  assert.equal(matchAnswer(spec, buildProbe(spec, 1400, 3), 'icmp', ip4(V4_TIME_EXCEEDED), from), undefined);
  assert.equal(matchAnswer(v4(38222), buildProbe(v4(38222), 128, 3), 'icmp', ip4(V4_TIME_EXCEEDED), from), undefined);
});

test('IPv4 port unreachable from the target is the reply; from anywhere else it is unreachable', () => {
  const spec = v4(38221);
  assert.deepEqual(matchAnswer(spec, buildProbe(spec, 128, 9), 'icmp', ip4(V4_PORT_UNREACHABLE), parseAddress('198.51.100.2')), {
    kind: 'reply',
    from: '198.51.100.2',
  });
  // the same message re-originated by a middlebox (source rewritten, checksum redone)
  const p = decodeIPv4(ip4(V4_PORT_UNREACHABLE));
  const moved = encodeIPv4({ protocol: IPPROTO.ICMP, src: parseAddress('192.0.2.6'), dst: p.dst, payload: p.payload });
  assert.deepEqual(matchAnswer(spec, buildProbe(spec, 128, 9), 'icmp', moved, parseAddress('192.0.2.6')), { kind: 'unreachable', from: '192.0.2.6', code: 3 });
});

test("IPv4 fragmentation needed, checked with the relay's decoder: valid, mtu 1400; a corrupted copy is ptb-bad material", () => {
  const spec = v4(56571);
  const probe = buildProbe(spec, 1500, 1);
  const frame = ip4(V4_FRAG_NEEDED);
  assert.ok(verifyIcmpv4Checksum(frame.subarray(20)));
  assert.deepEqual(matchAnswer(spec, probe, 'icmp', frame, parseAddress('192.0.2.6')), { kind: 'too-big', from: '192.0.2.6', mtu: 1400, valid: true });
  const bad = frame.slice();
  bad[bad.length - 1]! ^= 0xff; // a byte of the quote: the ICMP checksum no longer verifies
  assert.deepEqual(matchAnswer(spec, probe, 'icmp', bad, parseAddress('192.0.2.6')), {
    kind: 'too-big',
    from: '192.0.2.6',
    mtu: 1400,
    valid: false,
    reason: 'bad_checksum',
  });
});

test('IPv6 time exceeded, port unreachable and packet too big, as the raw ICMPv6 socket reads them', () => {
  const spec = v6(40520);
  assert.deepEqual(matchAnswer(spec, buildProbe(spec, 128, 3), 'icmp', icmp6(V6_TIME_EXCEEDED), parseAddress('2001:db8:a::2')), {
    kind: 'time-exceeded',
    from: '2001:db8:a::2',
  });
  assert.equal(matchAnswer(spec, buildProbe(spec, 128, 2), 'icmp', icmp6(V6_TIME_EXCEEDED), parseAddress('2001:db8:a::2')), undefined);
  assert.deepEqual(matchAnswer(spec, buildProbe(spec, 128, 9), 'icmp', icmp6(V6_PORT_UNREACHABLE), parseAddress('2001:db8:d::2')), {
    kind: 'reply',
    from: '2001:db8:d::2',
  });
  const tbSpec = v6(39852);
  const msg = icmp6(V6_PACKET_TOO_BIG);
  assert.ok(verifyIcmpv6Checksum(parseAddress('2001:db8:b::2'), tbSpec.src, msg));
  assert.equal(decodeIcmpv6(msg).type, ICMPV6.PKT_TOOBIG);
  assert.deepEqual(matchAnswer(tbSpec, buildProbe(tbSpec, 1500, 1), 'icmp', msg, parseAddress('2001:db8:b::2')), {
    kind: 'too-big',
    from: '2001:db8:b::2',
    mtu: 1400,
    valid: true,
  });
  // claimed by another sender, the checksum over the pseudo-header fails
  assert.deepEqual(matchAnswer(tbSpec, buildProbe(tbSpec, 1500, 1), 'icmp', msg, parseAddress('2001:db8:b::3')), {
    kind: 'too-big',
    from: '2001:db8:b::3',
    mtu: 1400,
    valid: false,
    reason: 'bad_checksum',
  });
});

test('probes have the size asked for and carry their sequence number', () => {
  const udp = buildProbe(v4(40000), 1400, 0x1234);
  assert.equal(udp.data.length, 1400 - 28);
  assert.deepEqual([...udp.data.subarray(0, 4)], [0x12, 0x34, 0, 0]);
  assert.ok(udp.data.subarray(2).every((b) => b === 0));
  const echo = buildProbe({ ...v4(0), proto: 'icmp', ident: 0xbeef }, 1400, 7);
  assert.equal(echo.data.length, 1400 - 20);
  const m = decodeIcmpv4(echo.data);
  assert.deepEqual([m.type, m.echo], [ICMP.ECHO, { id: 0xbeef, sequence: 7 }]);
  assert.ok(verifyIcmpv4Checksum(echo.data));
  const syn = buildProbe({ ...v6(45000), proto: 'tcp', dstPort: 443, ident: 1000 }, 1280, 5);
  const t = decodeTcp(syn.data);
  assert.equal(syn.data.length, 1280 - 40);
  assert.deepEqual([t.flags, t.seq, t.srcPort, t.dstPort, t.payload.length], [TCP_FLAGS.SYN, 1005, 45000, 443, 1280 - 60]);
  assert.throws(() => buildProbe(v4(1), minimumProbeSize(4, 'udp') - 1, 1), RangeError);
});

test("a TCP probe's answer: the SYN-ACK acknowledges the SYN alone, a RST the padding too", () => {
  const spec: ProbeSpec = { ...v4(45000), proto: 'tcp', dstPort: 80, ident: 5000 };
  const probe = buildProbe(spec, 1400, 1);
  const answer = (flags: number, ack: number) =>
    encodeIPv4({
      protocol: IPPROTO.TCP,
      src: spec.dst,
      dst: spec.src,
      payload: encodeTcp({ srcPort: 80, dstPort: 45000, seq: 9, ack, flags }, { src: spec.dst, dst: spec.src }),
    });
  const target = spec.dst;
  assert.equal(matchAnswer(spec, probe, 'tcp', answer(TCP_FLAGS.SYN | TCP_FLAGS.ACK, 5002), target)?.kind, 'reply');
  assert.equal(matchAnswer(spec, probe, 'tcp', answer(TCP_FLAGS.RST | TCP_FLAGS.ACK, 5002 + 1400 - 40), target)?.kind, 'reply');
  assert.equal(matchAnswer(spec, probe, 'tcp', answer(TCP_FLAGS.RST | TCP_FLAGS.ACK, 5003), target), undefined);
  assert.equal(matchAnswer(spec, probe, 'tcp', answer(TCP_FLAGS.ACK, 5002), target), undefined);
  assert.equal(matchAnswer(spec, probe, 'tcp', answer(TCP_FLAGS.SYN | TCP_FLAGS.ACK, 5002), parseAddress('192.0.2.99')), undefined);
});

test('an ICMP echo probe: the echo reply from the target with our id and sequence', () => {
  const spec: ProbeSpec = { ...v4(0), proto: 'icmp', ident: 77 };
  const probe = buildProbe(spec, 200, 3);
  const reply = (id: number, seq: number) =>
    encodeIPv4({ protocol: IPPROTO.ICMP, src: spec.dst, dst: spec.src, payload: encodeIcmpv4({ type: ICMP.ECHOREPLY, code: 0, echo: { id, sequence: seq }, body: new Uint8Array(172) }) });
  assert.deepEqual(matchAnswer(spec, probe, 'icmp', reply(77, 3), spec.dst), { kind: 'reply', from: '198.51.100.2' });
  assert.equal(matchAnswer(spec, probe, 'icmp', reply(78, 3), spec.dst), undefined);
  assert.equal(matchAnswer(spec, probe, 'icmp', reply(77, 2), spec.dst), undefined);
});

test('property: arbitrary or truncated bytes never make the matcher throw', () => {
  const spec = v4(38221);
  const probe = buildProbe(spec, 128, 3);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom<'icmp' | 'tcp'>('icmp', 'tcp'), (bytes, source) => {
      const a = matchAnswer(spec, probe, source, bytes, parseAddress('192.0.2.2'));
      assert.ok(a === undefined || typeof a.kind === 'string');
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: V4_TIME_EXCEEDED.length - ETH_HLEN }), (cut) => {
      // every truncation of a real answer is either still recognised or ignored, never an exception
      matchAnswer(spec, probe, 'icmp', ip4(V4_TIME_EXCEEDED).subarray(0, cut), parseAddress('192.0.2.2'));
    }),
  );
});
