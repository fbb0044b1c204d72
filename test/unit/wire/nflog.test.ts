// nfnetlink_log codec: a packet message captured from the kernel, config
// encodings against hand-written bytes, and totality on arbitrary input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DecodeError } from '../../../src/errors.js';
import {
  NFLOG_MSG_TYPE,
  NFULA,
  NFULNL_CFG_CMD,
  NFULNL_CFG_F,
  NFULNL_COPY,
  type NflogPacket,
  copyNflogPacket,
  decodeNfgenmsg,
  decodeNflogConfig,
  decodeNflogDatagram,
  decodeNflogPacket,
  encodeNfgenmsg,
  encodeNflogConfig,
  encodeNflogPacket,
  nflogConfig,
} from '../../../src/wire/nflog.js';
import { atOffset, hex } from '../../harness/bytes.js';

const atOffset7 = (bytes: Uint8Array): Uint8Array => atOffset(bytes, 7);

/*
 * Golden vector: one NFULNL_MSG_PACKET datagram read from the kernel (Linux 6.18).
 * Produced with:
 *   ip netns add pgt-gold-a; ip netns add pgt-gold-b
 *   ip link add pvgolda type veth peer name pvgoldb   (moved to a/b as eth0,
 *     MACs 02:00:00:00:00:01 (a) and 02:00:00:00:00:02 (b), up)
 *   ip -n pgt-gold-a addr add 192.0.2.1/24 dev eth0; ip -n pgt-gold-b addr add 192.0.2.2/24 dev eth0
 *   ip netns exec pgt-gold-b nft -f - <<< 'table inet pg { chain input {
 *       type filter hook input priority 0;
 *       ip daddr 192.0.2.2 icmp type echo-request log group 5 prefix "pg" } }'
 *   ip netns exec pgt-gold-b python3 capture.py   # AF_NETLINK/NETLINK_NETFILTER socket:
 *       # NFULNL_CFG_CMD_BIND group 5, NFULA_CFG_MODE copy packet 0xffff, then
 *       # `ip netns exec pgt-gold-a ping -c1 -s 8 192.0.2.2`, recv(), print(d.hex())
 */
const GOLDEN = hex(`
  9c000000 0004 0000 00000000 00000000   # nlmsghdr: len 156, type 0x0400 (ULOG/PACKET), flags 0, seq 0, pid 0
  02 00 0005                             # nfgenmsg: family AF_INET, NFNETLINK_V0, res_id 5 (group, big-endian)
  0800 0100 0800 01 00                   # NFULA_PACKET_HDR: hw_protocol 0x0800, hook 1 (NF_INET_LOCAL_IN), pad
  0700 0a00 706700 00                    # NFULA_PREFIX "pg\\0" (+1 pad)
  0800 0400 00000039                     # NFULA_IFINDEX_INDEV 57
  1000 0800 0006 0000 020000000001 0000  # NFULA_HWADDR: hw_addrlen 6, pad, 02:00:00:00:00:01, hw_addr[6..8]
  0600 0f00 0001 0000                    # NFULA_HWTYPE 1 (ARPHRD_ETHER) (+2 pad)
  0600 1100 000e 0000                    # NFULA_HWLEN 14 (+2 pad)
  1200 1000 020000000002 020000000001 0800 0000   # NFULA_HWHEADER: dst, src, EtherType (+2 pad)
  1400 0300 000000006b03adc0 00000000000b1687     # NFULA_TIMESTAMP: sec 1795403200, usec 726663
  2800 0900                              # NFULA_PAYLOAD, 36 bytes: the IPv4 packet
    45000024f83c40004001be98c0000201c0000202      # IPv4 192.0.2.1 -> 192.0.2.2, ICMP, DF, ttl 64
    0800b91432da0001 0001020304050607             # ICMP echo request id 0x32da seq 1, 8 bytes of data
`);

for (const [name, view] of [
  ['as received', (b: Uint8Array) => b],
  ['at offset 7', atOffset7],
] as const) {
  test(`golden NFLOG packet decodes field by field (${name})`, () => {
    const p = decodeNflogPacket(view(GOLDEN));
    assert.equal(p.family, 2);
    assert.equal(p.group, 5);
    assert.equal(p.hwProtocol, 0x0800);
    assert.equal(p.hook, 1);
    assert.equal(p.prefix, 'pg');
    assert.equal(p.indev, 57);
    assert.equal(p.outdev, undefined);
    assert.equal(p.physindev, undefined);
    assert.equal(p.physoutdev, undefined);
    assert.equal(p.mark, undefined, 'NFULA_MARK is only sent for a non-zero mark');
    assert.deepEqual(p.hwaddr, hex('020000000001'));
    assert.equal(p.hwType, 1);
    assert.equal(p.hwLen, 14);
    assert.deepEqual(p.hwHeader, hex('020000000002 020000000001 0800'));
    assert.equal(p.timestamp, 0x6b03adc0 * 1e6 + 0x0b1687);
    assert.equal(p.uid, undefined, 'a received packet has no local socket');
    assert.equal(p.gid, undefined);
    assert.equal(p.seq, undefined);
    assert.equal(p.seqGlobal, undefined);
    assert.equal(p.attributes, undefined);
    const payload = p.payload!;
    assert.equal(payload.byteLength, 36);
    assert.equal(payload[0], 0x45);
    assert.deepEqual(payload.subarray(12, 16), Uint8Array.of(192, 0, 2, 1));
    assert.deepEqual(payload.subarray(16, 20), Uint8Array.of(192, 0, 2, 2));
    assert.equal(payload[20], 8, 'ICMP echo request');
  });

  test(`golden datagram through decodeNflogDatagram (${name})`, () => {
    const out: NflogPacket[] = [];
    assert.equal(decodeNflogDatagram(view(GOLDEN), out), 1);
    assert.equal(out[0]!.prefix, 'pg');
    assert.equal(out[0]!.payload!.byteLength, 36);
  });
}

for (const [name, make] of [
  ['Uint8Array', (b: Uint8Array) => b.slice()],
  // Receive buffers are often Node Buffers, whose slice() is a view, not a copy.
  ['Buffer', (b: Uint8Array) => Buffer.from(b)],
] as const) {
  test(`the payload is a view into the datagram (zero copy); copyNflogPacket detaches it (${name})`, () => {
    const buf = make(GOLDEN);
    const p = decodeNflogPacket(buf);
    const kept = copyNflogPacket(p);
    buf.fill(0);
    assert.equal(p.payload![0], 0, 'the view sees the overwritten buffer');
    assert.equal(kept.payload![0], 0x45);
    assert.deepEqual([...kept.hwaddr!], [2, 0, 0, 0, 0, 1]);
    assert.deepEqual([...kept.hwHeader!].length, 14);
    assert.equal(kept.hwHeader![0], 2);
  });
}

test('golden packet re-encodes byte for byte (kernel attribute order, zero padding)', () => {
  assert.deepEqual(encodeNflogPacket(decodeNflogPacket(GOLDEN)), GOLDEN);
});

test('a batched datagram: packets, then the NLMSG_DONE the kernel appends, all decoded', () => {
  const a = encodeNflogPacket({ family: 2, group: 33, hwProtocol: 0x0800, hook: 1, seq: 7, payload: Uint8Array.of(0x45, 1, 2) });
  const b = encodeNflogPacket({ family: 10, group: 33, hwProtocol: 0x86dd, hook: 0, mark: 0xdeadbeef, uid: 0, gid: 0, payload: Uint8Array.of(0x60) });
  // NLMSG_DONE with an nfgenmsg, as __nfulnl_send() writes it when qlen > 1.
  const done = hex('14000000 0300 0000 00000000 00000000  00 00 0000');
  const pad = (m: Uint8Array): number => (m.byteLength + 3) & ~3;
  const dgram = new Uint8Array(pad(a) + pad(b) + done.byteLength);
  dgram.set(a, 0);
  dgram.set(b, pad(a));
  dgram.set(done, pad(a) + pad(b));
  const out: NflogPacket[] = [];
  assert.equal(decodeNflogDatagram(atOffset7(dgram), out), 2);
  assert.equal(out[0]!.seq, 7);
  assert.deepEqual(out[0]!.payload, Uint8Array.of(0x45, 1, 2));
  assert.equal(out[1]!.family, 10);
  assert.equal(out[1]!.mark, 0xdeadbeef);
  assert.equal(out[1]!.uid, 0);
});

test('hostile packet messages are DecodeErrors', () => {
  // Every truncation of the golden vector: the header's nlmsg_len no longer fits.
  for (let n = 0; n < GOLDEN.byteLength; n++) {
    assert.throws(() => decodeNflogPacket(GOLDEN.subarray(0, n)), DecodeError, `length ${n}`);
  }
  const noHeader = encodeNflogPacket({ family: 2, group: 1, hwProtocol: 0, hook: 0 }).slice();
  noHeader[22] = NFULA.MARK; // retype NFULA_PACKET_HDR
  assert.throws(() => decodeNflogPacket(noHeader), /NFULA_PACKET_HDR is missing/);
  const longAddr = GOLDEN.slice();
  longAddr[49] = 9; // hw_addrlen 9 > hw_addr[8]
  assert.throws(() => decodeNflogPacket(longAddr), /hw_addrlen 9/);
  const shortIfindex = GOLDEN.slice();
  shortIfindex[36] = 6; // NFULA_IFINDEX_INDEV with 2 bytes
  assert.throws(() => decodeNflogPacket(shortIfindex), /NFULA_IFINDEX_INDEV has 2 bytes/);
  const wrongType = GOLDEN.slice();
  wrongType[4] = 1; // NFULNL_MSG_CONFIG
  assert.throws(() => decodeNflogPacket(wrongType), /not NFULNL_MSG_PACKET/);
});

test('unknown and nested attributes are kept, so the round trip is lossless', () => {
  const p: NflogPacket = {
    family: 7,
    group: 9,
    hwProtocol: 0x0800,
    hook: 0,
    attributes: [
      { type: NFULA.L2HDR, flags: 0, value: hex('ffffffffffff 020000000001 0800') },
      { type: NFULA.VLAN, flags: 0x8000, value: hex('0600 0200 0064 0000') },
      { type: 63, flags: 0, value: Uint8Array.of(1, 2, 3) },
    ],
    payload: Uint8Array.of(0x45),
  };
  const d = decodeNflogPacket(encodeNflogPacket(p));
  assert.deepEqual(d, p);
});

// ---- config messages, byte for byte ----

test('config messages encode byte for byte as the kernel expects them', () => {
  const cases: [string, Uint8Array, Uint8Array][] = [
    [
      'bind group 33',
      encodeNflogConfig(nflogConfig.bind(33), 1),
      hex(`
        1c000000 0104 0500 01000000 00000000   # len 28, type 0x0401 (ULOG/CONFIG), REQUEST|ACK, seq 1, pid 0
        00 00 0021                             # nfgenmsg: AF_UNSPEC, v0, res_id 33
        0500 0100 01 000000                    # NFULA_CFG_CMD: NFULNL_CFG_CMD_BIND (+3 pad)
      `),
    ],
    [
      'unbind group 33',
      encodeNflogConfig(nflogConfig.unbind(33), 2),
      hex('1c000000 0104 0500 02000000 00000000  00 00 0021  0500 0100 02 000000'),
    ],
    [
      'PF_BIND AF_INET6',
      encodeNflogConfig(nflogConfig.pfBind(10), 3),
      hex('1c000000 0104 0500 03000000 00000000  0a 00 0000  0500 0100 03 000000'),
    ],
    [
      'PF_UNBIND AF_INET',
      encodeNflogConfig(nflogConfig.pfUnbind(2), 4),
      hex('1c000000 0104 0500 04000000 00000000  02 00 0000  0500 0100 04 000000'),
    ],
    [
      'copy mode packet, range 0xffff',
      encodeNflogConfig(nflogConfig.mode(33, NFULNL_COPY.PACKET, 0xffff), 5),
      hex(`
        20000000 0104 0500 05000000 00000000   # len 32
        00 00 0021
        0a00 0200 0000ffff 02 00 0000          # NFULA_CFG_MODE: copy_range (be32), copy_mode 2, _pad (+2 pad)
      `),
    ],
    [
      'nlbufsiz 65536',
      encodeNflogConfig(nflogConfig.nlbufsiz(33, 65536), 6),
      hex('1c000000 0104 0500 06000000 00000000  00 00 0021  0800 0300 00010000'),
    ],
    [
      'timeout 1/100 s',
      encodeNflogConfig(nflogConfig.timeout(33, 1), 7),
      hex('1c000000 0104 0500 07000000 00000000  00 00 0021  0800 0400 00000001'),
    ],
    [
      'qthresh 32',
      encodeNflogConfig(nflogConfig.qthresh(33, 32), 8),
      hex('1c000000 0104 0500 08000000 00000000  00 00 0021  0800 0500 00000020'),
    ],
    [
      'flags SEQ|SEQ_GLOBAL',
      encodeNflogConfig(nflogConfig.flags(33, NFULNL_CFG_F.SEQ | NFULNL_CFG_F.SEQ_GLOBAL), 9),
      hex('1c000000 0104 0500 09000000 00000000  00 00 0021  0600 0600 0003 0000'),
    ],
  ];
  for (const [name, got, want] of cases) {
    assert.deepEqual(got, want, name);
    // ... and they decode back to what was meant.
    const d = decodeNflogConfig(atOffset7(got));
    assert.deepEqual(encodeNflogConfig(d, 1 + cases.findIndex((c) => c[0] === name)), want, `${name} round trip`);
  }
  assert.equal(decodeNflogConfig(encodeNflogConfig(nflogConfig.bind(33))).command, NFULNL_CFG_CMD.BIND);
  assert.equal(NFLOG_MSG_TYPE.CONFIG, 0x0401);
});

test('one config message may carry several parameters', () => {
  const cfg = { family: 0, group: 65535, nlbufsiz: 131072, qthresh: 1, timeout: 100, flags: 1 };
  assert.deepEqual(decodeNflogConfig(encodeNflogConfig(cfg)), cfg);
});

test('nfgenmsg res_id is big-endian', () => {
  assert.deepEqual(encodeNfgenmsg(2, 0x1234), Uint8Array.of(2, 0, 0x12, 0x34));
  assert.deepEqual(decodeNfgenmsg(atOffset7(Uint8Array.of(10, 0, 0xab, 0xcd))), { family: 10, version: 0, resId: 0xabcd });
  assert.throws(() => decodeNfgenmsg(Uint8Array.of(1, 2, 3)), DecodeError);
});

// ---- properties ----

function decodesOrDecodeError(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch (err) {
    if (err instanceof DecodeError) return true;
    throw err;
  }
}

test('arbitrary bytes decode to a value or a DecodeError, never anything else', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
      const out: NflogPacket[] = [];
      return (
        decodesOrDecodeError(() => decodeNflogPacket(bytes)) &&
        decodesOrDecodeError(() => decodeNflogDatagram(bytes, out)) &&
        decodesOrDecodeError(() => decodeNflogConfig(bytes))
      );
    }),
    { numRuns: 2000 },
  );
});

test('arbitrary bytes behind a valid packet header decode to a value or a DecodeError', () => {
  // Shape the header so the fuzzer reaches the attribute walk.
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (attrs, withHdr) => {
      const pre = withHdr ? hex('0800 0100 0800 01 00') : new Uint8Array(0);
      const len = 20 + pre.byteLength + attrs.byteLength;
      const m = new Uint8Array(len);
      new DataView(m.buffer).setUint32(0, len, true);
      m[4] = 0x00;
      m[5] = 0x04;
      m.set(pre, 20);
      m.set(attrs, 20 + pre.byteLength);
      return decodesOrDecodeError(() => decodeNflogPacket(m));
    }),
    { numRuns: 2000 },
  );
});

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const arbPacket: fc.Arbitrary<NflogPacket> = fc.record(
  {
    family: fc.integer({ min: 0, max: 255 }),
    group: u16,
    hwProtocol: u16,
    hook: fc.integer({ min: 0, max: 255 }),
    prefix: fc.string({ maxLength: 20 }).filter((s) => !s.includes('\0')),
    indev: u32,
    outdev: u32,
    physindev: u32,
    physoutdev: u32,
    mark: u32,
    hwaddr: fc.uint8Array({ maxLength: 8 }),
    hwType: u16,
    hwLen: u16,
    hwHeader: fc.uint8Array({ maxLength: 20 }),
    timestamp: fc.integer({ min: 0, max: 2 ** 52 }),
    uid: u32,
    gid: u32,
    seq: u32,
    seqGlobal: u32,
    payload: fc.uint8Array({ maxLength: 64 }),
  },
  { requiredKeys: ['family', 'group', 'hwProtocol', 'hook'], noNullPrototype: true },
);

test('generated packets survive encode -> decode, and re-encode identically', () => {
  fc.assert(
    fc.property(arbPacket, (p) => {
      const bytes = encodeNflogPacket(p);
      const d = decodeNflogPacket(bytes);
      assert.deepEqual(d, p);
      assert.deepEqual(encodeNflogPacket(d), bytes);
    }),
    { numRuns: 500 },
  );
});

test('a rule without a prefix sends an empty NFULA_PREFIX ("\\0"), decoded as the empty string', () => {
  const p: NflogPacket = { family: 2, group: 33, hwProtocol: 0x0800, hook: 0, prefix: '', payload: Uint8Array.of(0x45) };
  const bytes = encodeNflogPacket(p);
  assert.deepEqual(decodeNflogPacket(bytes), p);
  assert.equal(decodeNflogPacket(bytes).prefix, '');
});

test('a config message without NLM_F_ACK, for a group already being read', () => {
  const withAck = encodeNflogConfig(nflogConfig.qthresh(33, 16), 7);
  const without = encodeNflogConfig(nflogConfig.qthresh(33, 16), 7, 0, false);
  // nlmsg_flags (u16, host order) at offset 6: NLM_F_REQUEST 0x1, NLM_F_ACK 0x4.
  assert.equal(withAck[6], 0x05);
  assert.equal(without[6], 0x01);
  assert.deepEqual(without.subarray(8), withAck.subarray(8), 'only the flags differ');
  assert.equal(decodeNflogConfig(without).qthresh, 16);
});
