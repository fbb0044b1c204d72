import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DecodeError } from '../../../src/errors.js';
import { decodeTcp, decodeTcpOptions, encodeTcp, encodeTcpOptions, mssOption, TCP_FLAGS, TCPOPT, verifyTcpChecksum } from '../../../src/wire/tcp.js';
import { parseAddress } from '../../../src/wire/ip-address.js';
import { atOffset, hex } from '../../harness/bytes.js';

// The SYN-ACK of an ordinary connection to 203.0.113.10:8080 whose realserver clamps the MSS to 1400,
// captured with `tcpdump -xx -ni eth0 tcp` (test/integration/probe/helpers/realserver-lab.ts); TCP header only:
const SYN_ACK = hex(`
  1f90 b176               // ports 8080 -> 45430
  7f96 a6fb               // seq 2140579579
  b5fa ff62               // ack 3053125474
  a012                    // data offset 10 (40 bytes), flags SYN|ACK
  fe88                    // window 65160
  fe3a 0000               // checksum as captured on the sending side (not checked here), urgent 0
  0204 0578               // MSS 1400
  0402                    // SACK permitted
  080a f3df 96c1 63bb 6b44 // timestamps
  01                      // NOP
  0303 0a                 // window scale 10
`);

test('a captured SYN-ACK decodes field by field, at any offset', () => {
  for (const bytes of [SYN_ACK, atOffset(SYN_ACK)]) {
    const t = decodeTcp(bytes);
    assert.deepEqual(
      [t.srcPort, t.dstPort, t.seq, t.ack, t.dataOffset, t.flags, t.window, t.urgent, t.mss, t.payload.length],
      [8080, 45430, 2140579579, 3053125474, 10, TCP_FLAGS.SYN | TCP_FLAGS.ACK, 65160, 0, 1400, 0],
    );
    assert.deepEqual(
      decodeTcpOptions(t.options).map((o) => o.kind),
      [TCPOPT.MSS, TCPOPT.SACK_PERM, TCPOPT.TIMESTAMP, TCPOPT.NOP, TCPOPT.WINDOW],
    );
  }
});

test('encodeTcp computes the checksum over the pseudo-header; verifyTcpChecksum agrees, for both families', () => {
  for (const [s, d] of [
    ['192.0.2.1', '203.0.113.10'],
    ['2001:db8::1', '2001:db8:f::10'],
  ] as const) {
    const src = parseAddress(s);
    const dst = parseAddress(d);
    const seg = encodeTcp({ srcPort: 40000, dstPort: 443, seq: 1, flags: TCP_FLAGS.SYN, options: [mssOption(1460)], payload: Uint8Array.of(1, 2, 3) }, { src, dst });
    assert.ok(verifyTcpChecksum(src, dst, seg));
    seg[seg.length - 1]! ^= 1;
    assert.ok(!verifyTcpChecksum(src, dst, seg));
  }
});

test('options are padded with EOL to 4 bytes and limited to 40', () => {
  assert.deepEqual([...encodeTcpOptions([mssOption(1400), { kind: TCPOPT.NOP, data: new Uint8Array(0) }])], [2, 4, 5, 120, 1, 0, 0, 0]);
  assert.throws(() => encodeTcpOptions(Array.from({ length: 11 }, () => mssOption(1))), RangeError);
  assert.throws(() => mssOption(70000), RangeError);
});

test('malformed headers and option areas', () => {
  assert.throws(() => decodeTcp(SYN_ACK.subarray(0, 19)), DecodeError);
  const short = SYN_ACK.slice();
  short[12] = 0x40; // data offset 4
  assert.throws(() => decodeTcp(short), DecodeError);
  const long = SYN_ACK.slice(0, 30);
  assert.throws(() => decodeTcp(long), DecodeError); // data offset 10 but 30 bytes
  // an option whose length runs past the area ends the walk; what came before stays
  assert.deepEqual(decodeTcpOptions(Uint8Array.of(2, 4, 5, 120, 8, 10, 0)).map((o) => o.kind), [TCPOPT.MSS]);
  assert.deepEqual(decodeTcpOptions(Uint8Array.of(3, 1, 0)), []);
  const noMss = decodeTcp(encodeTcp({ srcPort: 1, dstPort: 2, seq: 0, flags: TCP_FLAGS.RST }));
  assert.equal(noMss.mss, undefined);
});

test('property: encode -> decode keeps every field; decoding arbitrary bytes succeeds or throws DecodeError', () => {
  fc.assert(
    fc.property(
      fc.record({
        srcPort: fc.integer({ min: 0, max: 65535 }),
        dstPort: fc.integer({ min: 0, max: 65535 }),
        seq: fc.integer({ min: 0, max: 0xffffffff }),
        ack: fc.integer({ min: 0, max: 0xffffffff }),
        flags: fc.integer({ min: 0, max: 0x1ff }),
        window: fc.integer({ min: 0, max: 65535 }),
        mss: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
        payload: fc.uint8Array({ maxLength: 64 }),
      }),
      (f) => {
        const seg = encodeTcp({ ...f, options: f.mss === undefined ? [] : [mssOption(f.mss)] });
        const t = decodeTcp(atOffset(seg));
        assert.deepEqual([t.srcPort, t.dstPort, t.seq, t.ack, t.flags, t.window, t.mss], [f.srcPort, f.dstPort, f.seq, f.ack, f.flags, f.window, f.mss]);
        assert.deepEqual(t.payload, f.payload);
      },
    ),
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      try {
        decodeTcp(bytes);
      } catch (err) {
        assert.ok(err instanceof DecodeError);
      }
    }),
  );
});
