/**
 * TooBigDecoder (the relay's allocation-free decode) against decodeTooBig
 * (the reference): the same verdict and the same values for every input,
 * with its results owned (not views) and reused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checksumWithFieldZeroed, ipv6PseudoHeaderSumAt } from '../../../src/wire/checksum.js';
import { decodeTooBig, TooBigDecoder } from '../../../src/wire/too-big-decode.js';
import type { TooBigResult } from '../../../src/wire/too-big.js';
import {
  ECHO_REQUEST_V4,
  ETH_HEADER,
  FRAG_NEEDED_PING,
  FRAG_NEEDED_UDP,
  PACKET_TOO_BIG_PING,
  PACKET_TOO_BIG_UDP,
  PACKET_TOO_BIG_UDP_DSTOPTS,
  UDP_V6_HOP_BY_HOP,
  embed,
} from './fixtures/packets.js';

const CAPTURES = [FRAG_NEEDED_PING, FRAG_NEEDED_UDP, PACKET_TOO_BIG_PING, PACKET_TOO_BIG_UDP, PACKET_TOO_BIG_UDP_DSTOPTS, ECHO_REQUEST_V4, UDP_V6_HOP_BY_HOP].map(
  (frame) => frame.slice(ETH_HEADER),
);

/** A plain snapshot (arrays copied), so a reused result can be compared after the fact. */
function snapshot(r: TooBigResult): unknown {
  if (!r.ok) return r;
  const v = r.value;
  return { ...v, outerSrc: [...v.outerSrc], outerDst: [...v.outerDst], flow: { ...v.flow, src: [...v.flow.src], dst: [...v.flow.dst] } };
}

function assertSame(packet: Uint8Array, decoder: TooBigDecoder): void {
  assert.deepEqual(snapshot(decoder.decode(packet)), snapshot(decodeTooBig(packet)));
}

/** Recomputes the ICMP checksum of a v4 or v6 capture, so edits inside the quote still verify. */
function refreshIcmp(b: Uint8Array): Uint8Array {
  if (b[0]! >> 4 === 4) {
    const ihl = (b[0]! & 0x0f) * 4;
    const total = (b[2]! << 8) | b[3]!;
    b.set([0, 0], ihl + 2);
    const c = checksumWithFieldZeroed(b, ihl + 2, 0, ihl, total);
    b.set([c >> 8, c & 0xff], ihl + 2);
  } else {
    const end = 40 + ((b[4]! << 8) | b[5]!);
    const icmp = 40 + (b[6] === 58 ? 0 : 8 * (b[41]! + 1)); // no extension header, or one (the dest-opts capture)
    const c = checksumWithFieldZeroed(b, icmp + 2, ipv6PseudoHeaderSumAt(b, 0, 58, end - icmp), icmp, end);
    b.set([c >> 8, c & 0xff], icmp + 2);
  }
  return b;
}

test('every capture and every prefix of it: the same verdict and values as decodeTooBig', () => {
  const d = new TooBigDecoder();
  for (const ip of CAPTURES) {
    for (let n = 0; n <= ip.length; n++) assertSame(ip.subarray(0, n), d);
    assertSame(embed(ip), d);
  }
});

test('property: arbitrary bytes, and captures with their quote rewritten (checksum fixed), decode alike', () => {
  const d = new TooBigDecoder();
  const toBig = CAPTURES.slice(0, 5);
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.record({
          which: fc.nat({ max: toBig.length - 1 }),
          edits: fc.array(fc.record({ at: fc.nat(), value: fc.nat({ max: 255 }) }), { maxLength: 6 }),
        }).map(({ which, edits }) => {
          const b = toBig[which]!.slice();
          const v4 = b[0]! >> 4 === 4;
          const quote = v4 ? 28 : 48; // after the outer IP and ICMP headers: the quote, and the dest-opts header of that capture
          for (const e of edits) b[quote + (e.at % (b.length - quote))] = e.value;
          return refreshIcmp(b);
        }),
      ),
      (packet) => assertSame(packet, d),
    ),
    { numRuns: 1500 },
  );
});

test('results are owned copies: changing the packet afterwards does not change them', () => {
  const d = new TooBigDecoder();
  const packet = FRAG_NEEDED_UDP.slice(ETH_HEADER);
  const r = d.decode(packet);
  assert.equal(r.ok, true);
  if (!r.ok) return;
  const before = snapshot(r);
  packet.fill(0);
  assert.deepEqual(snapshot(r), before);
});

test('storage is reused per family, and a flow without ports has no port properties', () => {
  const d = new TooBigDecoder();
  const udp = d.decode(FRAG_NEEDED_UDP.slice(ETH_HEADER));
  const ping = d.decode(FRAG_NEEDED_PING.slice(ETH_HEADER));
  assert.ok(udp.ok && ping.ok);
  assert.equal(udp, ping, 'one result object per family');
  assert.equal('srcPort' in ping.value.flow, false);
  assert.equal('dstPort' in ping.value.flow, false);
  const v6 = d.decode(PACKET_TOO_BIG_UDP.slice(ETH_HEADER));
  assert.ok(v6.ok);
  assert.notEqual(v6, ping);
  assert.equal(v6.value.outerSrc.length, 16);
  assert.equal(v6.value.flow.srcPort, 40000);
});
