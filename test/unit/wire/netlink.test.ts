// Netlink framing, attributes and NLMSG_ERROR decoding, with hand-written byte
// tables (include/uapi/linux/netlink.h; host order = little-endian here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DecodeError } from '../../../src/errors.js';
import {
  NLMSG,
  NLM_F,
  NLMSGERR_ATTR,
  type NetlinkMessage,
  decodeErrorPayload,
  decodeMessages,
  encodeMessage,
  setSequence,
} from '../../../src/wire/netlink.js';
import {
  type Attribute,
  NLA_F_NESTED,
  NLA_F_NET_BYTEORDER,
  decodeAttributes,
  encodeAttributes,
  nla,
  nlaNested,
  nlaString,
  nlaU32,
  nlaU32be,
} from '../../../src/wire/netlink-attribute.js';
import { atOffset, hex } from '../../harness/bytes.js';

const atOffset7 = (bytes: Uint8Array): Uint8Array => atOffset(bytes, 7);

const views = [
  ['plain', (b: Uint8Array) => b],
  ['at offset 7', atOffset7],
] as const;

// An error for an RTM_NEWADDR (type 20, seq 0x1234, pid 0x4d2) with extended ACK,
// NETLINK_CAP_ACK on: only the request header is quoted (NLM_F_CAPPED).
const ERROR_WITH_TLVS = hex(`
  3c000000 0200 0003 34120000 d2040000   # nlmsghdr: len 60, NLMSG_ERROR, CAPPED|ACK_TLVS, seq 0x1234, pid 1234
  eaffffff                               # error -22 (EINVAL)
  28000000 1400 0506 34120000 00000000   # quoted request: len 40, RTM_NEWADDR, REQUEST|ACK|EXCL|CREATE, seq 0x1234
  0f00 0100 6261642070726566697800 00    # NLMSGERR_ATTR_MSG "bad prefix\\0" (+1 pad)
  0800 0200 18000000                     # NLMSGERR_ATTR_OFFS 24
`);

// The same, without NETLINK_CAP_ACK: the whole 24-byte request is quoted before the TLVs.
const ERROR_UNCAPPED = hex(`
  3c000000 0200 0002 07000000 d2040000   # len 60, NLMSG_ERROR, ACK_TLVS only
  feffffff                               # error -2 (ENOENT)
  18000000 1900 0500 07000000 00000000   # quoted header: len 24, RTM_DELROUTE, REQUEST|ACK, seq 7
  02 20 00 00 fe 04 00 01                # quoted rtmsg (the rest of the request)
  0d00 0100 6e6f20726f75746500 000000    # NLMSGERR_ATTR_MSG "no route\\0" (+3 pad)
`);

const ACK = hex(`
  24000000 0200 0001 05000000 d2040000   # len 36, NLMSG_ERROR, CAPPED, seq 5
  00000000                               # error 0: ACK
  1c000000 1000 0506 05000000 00000000   # quoted header of an RTM_NEWLINK
`);

// A dump reply: two RTM_NEWLINK parts flagged MULTI|DUMP_INTR and the closing NLMSG_DONE, in one datagram.
const DUMP_INTR = hex(`
  18000000 1000 1200 09000000 d2040000   # len 24, RTM_NEWLINK, MULTI|DUMP_INTR, seq 9
  00000000 01000000                      # 8 bytes of (truncated) ifinfomsg
  16000000 1000 1200 09000000 d2040000   # len 22 (not a multiple of 4), RTM_NEWLINK, MULTI|DUMP_INTR
  00000000 0200                          # 6 bytes ...
  00 00                                  # ... and 2 bytes of alignment padding
  14000000 0300 1200 09000000 d2040000   # len 20, NLMSG_DONE, MULTI|DUMP_INTR
  00000000                               # int error 0
`);

for (const [name, view] of views) {
  test(`NLMSG_ERROR with extended ACK: errno, quoted header, message and offset (${name})`, () => {
    const msgs = decodeMessages(view(ERROR_WITH_TLVS));
    assert.equal(msgs.length, 1);
    const m = msgs[0]!;
    assert.equal(m.type, NLMSG.ERROR);
    assert.equal(m.flags, NLM_F.CAPPED | NLM_F.ACK_TLVS);
    assert.equal(m.seq, 0x1234);
    assert.equal(m.pid, 1234);
    assert.equal(m.payload.byteLength, 44);
    const e = decodeErrorPayload(m);
    assert.equal(e.errno, 22);
    assert.deepEqual(e.request, { type: 20, flags: 0x605, seq: 0x1234, pid: 0 });
    assert.equal(e.ackText, 'bad prefix');
    assert.equal(e.ackOffset, 24);
    assert.deepEqual(
      e.attributes.map((a) => a.type),
      [NLMSGERR_ATTR.MSG, NLMSGERR_ATTR.OFFS],
    );
  });

  test(`NLMSG_ERROR quoting the whole request skips it to reach the TLVs (${name})`, () => {
    const e = decodeErrorPayload(decodeMessages(view(ERROR_UNCAPPED))[0]!);
    assert.equal(e.errno, 2);
    assert.equal(e.request.type, 25);
    assert.equal(e.request.seq, 7);
    assert.equal(e.ackText, 'no route');
    assert.equal(e.ackOffset, undefined);
  });

  test(`an ACK is an NLMSG_ERROR with error 0 and no TLVs (${name})`, () => {
    const e = decodeErrorPayload(decodeMessages(view(ACK))[0]!);
    // `===`, not Object.is: decodeErrorPayload negates the kernel's int, which gives -0 for an ACK.
    assert.ok(e.errno === 0, `errno ${e.errno}`);
    assert.equal(e.request.type, 16);
    assert.equal(e.ackText, undefined);
    assert.deepEqual(e.attributes, []);
  });

  test(`a multi-part dump with DUMP_INTR, unaligned lengths and NLMSG_DONE (${name})`, () => {
    const msgs = decodeMessages(view(DUMP_INTR));
    assert.deepEqual(
      msgs.map((m) => [m.type, m.flags, m.seq, m.payload.byteLength]),
      [
        [16, NLM_F.MULTI | NLM_F.DUMP_INTR, 9, 8],
        [16, NLM_F.MULTI | NLM_F.DUMP_INTR, 9, 6],
        [NLMSG.DONE, NLM_F.MULTI | NLM_F.DUMP_INTR, 9, 4],
      ],
    );
    assert.deepEqual(msgs[1]!.payload, Uint8Array.of(0, 0, 0, 0, 2, 0));
    const done = msgs[2]!.payload;
    assert.equal(new DataView(done.buffer, done.byteOffset, 4).getInt32(0, true), 0);
  });
}

test('framing errors are DecodeErrors naming the offset', () => {
  // nlmsg_len shorter than the header.
  assert.throws(() => decodeMessages(hex('0f000000 1000 0000 00000000 00000000')), (e: unknown) => e instanceof DecodeError && e.offset === 0);
  // nlmsg_len past the end of the datagram (second message).
  const two = new Uint8Array(36);
  two.set(hex('14000000 0300 0200 01000000 00000000 00000000'), 0);
  two.set(hex('40000000 1000'), 20);
  assert.throws(() => decodeMessages(two), (e: unknown) => e instanceof DecodeError && e.offset === 20 && /runs past the end/.test(e.message));
  // Trailing bytes that cannot be a header.
  assert.throws(() => decodeMessages(hex('14000000 0300 0200 01000000 00000000 00000000 0102')), /trailing bytes/);
  // An NLMSG_ERROR too short to quote a header.
  const short: NetlinkMessage = { type: NLMSG.ERROR, flags: 0, seq: 0, pid: 0, payload: hex('eaffffff 1000') };
  assert.throws(() => decodeErrorPayload(short), DecodeError);
  // ACK_TLVS set but the quoted request runs past the payload.
  const lying: NetlinkMessage = { type: NLMSG.ERROR, flags: NLM_F.ACK_TLVS, seq: 0, pid: 0, payload: hex('eaffffff 00010000 1000 0000 00000000 00000000') };
  assert.throws(() => decodeErrorPayload(lying), DecodeError);
  assert.deepEqual(decodeMessages(new Uint8Array(0)), []);
});

// ---- attributes ----

const ATTRS = hex(`
  0800 0300 01000000                     # type 3, u32 1
  0900 0100 6c6f000000 000000            # type 1, 5 bytes: "lo\\0" and 2 more value bytes (len 9), +3 pad
  1400 1280                              # type 0x12 | NLA_F_NESTED, len 20
    0800 0100 c0000201                   #   nested type 1, 4 bytes (an address)
    0800 0240 000005dc                   #   nested type 2 | NLA_F_NET_BYTEORDER, be32 1500
  0600 0700 4142                         # type 7, 2 bytes, last attribute without its padding
`);

for (const [name, view] of views) {
  test(`attributes: types, flags, nesting, unpadded last attribute (${name})`, () => {
    const attrs = decodeAttributes(view(ATTRS));
    assert.deepEqual(
      attrs.map((a) => [a.type, a.flags, a.value.byteLength]),
      [
        [3, 0, 4],
        [1, 0, 5],
        [0x12, NLA_F_NESTED, 16],
        [7, 0, 2],
      ],
    );
    assert.equal(nlaU32(attrs[0]!), 1);
    assert.equal(nlaString(attrs[1]!), 'lo');
    const inner = nlaNested(attrs[2]!);
    assert.deepEqual(inner[0]!.value, Uint8Array.of(192, 0, 2, 1));
    assert.equal(inner[1]!.flags, NLA_F_NET_BYTEORDER);
    assert.equal(nlaU32be(inner[1]!), 1500);
    assert.deepEqual(attrs[3]!.value, Uint8Array.of(0x41, 0x42));
  });
}

test('attribute errors: short header, short length, length past the end, non-zero trailing bytes', () => {
  assert.throws(() => decodeAttributes(hex('0300 0100')), /shorter than the header/);
  assert.throws(() => decodeAttributes(hex('0c00 0100 01020304')), /runs past the end/);
  assert.throws(() => decodeAttributes(hex('0800 0100 01020304 0102')), /trailing bytes/);
  // Up to 3 zero bytes of trailing padding are tolerated, as the kernel does.
  assert.equal(decodeAttributes(hex('0800 0100 01020304 000000')).length, 1);
  assert.throws(() => nlaU32({ type: 1, flags: 0, value: Uint8Array.of(1, 2) }), DecodeError);
});

test('encodeMessage writes header, padded family header and attributes; setSequence patches in place', () => {
  const msg = encodeMessage({ type: 20, flags: NLM_F.REQUEST | NLM_F.ACK, seq: 3, pid: 0 }, Uint8Array.of(2, 24, 0, 0, 1, 0, 0, 0), [
    nla.bytes(2, Uint8Array.of(192, 0, 2, 1)),
    nla.string(3, 'eth0'),
  ]);
  assert.deepEqual(
    msg,
    hex(`
      2c000000 1400 0500 03000000 00000000   # len 44, RTM_NEWADDR, REQUEST|ACK, seq 3
      02 18 00 00 01000000                   # ifaddrmsg: AF_INET, /24, flags 0, scope 0, ifindex 1
      0800 0200 c0000201                     # IFA_LOCAL 192.0.2.1
      0900 0300 6574683000 000000            # IFA_LABEL "eth0\\0" (+3 pad)
    `),
  );
  setSequence(msg, 0xfffffffe, 77);
  const m = decodeMessages(msg)[0]!;
  assert.equal(m.seq, 0xfffffffe);
  assert.equal(m.pid, 77);
});

// ---- properties ----

function totalOrDecodeError(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch (err) {
    if (err instanceof DecodeError) return true;
    throw err;
  }
}

test('decodeMessages, decodeAttributes and decodeErrorPayload are total on arbitrary bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 0xffff }), (bytes, flags) => {
      return (
        totalOrDecodeError(() => decodeMessages(bytes)) &&
        totalOrDecodeError(() => decodeAttributes(bytes)) &&
        totalOrDecodeError(() => decodeErrorPayload({ type: NLMSG.ERROR, flags, seq: 0, pid: 0, payload: bytes }))
      );
    }),
    { numRuns: 2000 },
  );
});

const arbAttr: fc.Arbitrary<Attribute> = fc.record(
  {
    type: fc.integer({ min: 0, max: 0x3fff }),
    flags: fc.constantFrom(0, NLA_F_NESTED, NLA_F_NET_BYTEORDER),
    value: fc.uint8Array({ maxLength: 40 }),
  },
  { noNullPrototype: true },
);

test('attributes round trip: encode -> decode gives the same attributes; re-encoding is identical', () => {
  fc.assert(
    fc.property(fc.array(arbAttr, { maxLength: 8 }), (attrs) => {
      const bytes = encodeAttributes(attrs);
      const back = decodeAttributes(bytes);
      assert.deepEqual(
        back.map((a) => ({ type: a.type, flags: a.flags, value: a.value.slice() })),
        attrs,
      );
      assert.deepEqual(encodeAttributes(back), bytes);
    }),
    { numRuns: 500 },
  );
});

test('messages round trip: several encoded messages in one datagram decode back in order', () => {
  const arbMsg = fc.record({
    type: fc.integer({ min: 0, max: 0xffff }),
    flags: fc.integer({ min: 0, max: 0xffff }),
    seq: fc.integer({ min: 0, max: 0xffffffff }),
    pid: fc.integer({ min: 0, max: 0xffffffff }),
    fixed: fc.uint8Array({ maxLength: 13 }),
    attrs: fc.array(arbAttr, { maxLength: 4 }),
  });
  fc.assert(
    fc.property(fc.array(arbMsg, { minLength: 1, maxLength: 5 }), (specs) => {
      const parts = specs.map((s) => encodeMessage(s, s.fixed, s.attrs));
      const total = parts.reduce((n, p) => n + p.byteLength, 0);
      const dgram = new Uint8Array(total);
      let off = 0;
      for (const p of parts) {
        dgram.set(p, off);
        off += p.byteLength; // encodeMessage lengths are already multiples of 4
      }
      const msgs = decodeMessages(atOffset7(dgram));
      assert.equal(msgs.length, specs.length);
      msgs.forEach((m, i) => {
        const s = specs[i]!;
        assert.deepEqual([m.type, m.flags, m.seq, m.pid], [s.type, s.flags, s.seq, s.pid]);
        const fixedLen = (s.fixed.byteLength + 3) & ~3;
        assert.deepEqual(m.payload.subarray(0, s.fixed.byteLength), s.fixed);
        assert.deepEqual(encodeAttributes(decodeAttributes(m.payload.subarray(fixedLen))), encodeAttributes(s.attrs));
      });
    }),
    { numRuns: 300 },
  );
});
