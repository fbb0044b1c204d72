// Ring-buffer records captured from this kernel (Linux 6.18) while a router
// namespace dropped a 1500-byte DF ping for a 1400-byte link:
//   pathguard trace dst 203.0.113.0/24 icmp   +   ip netns exec C ping -M do -s 1472 -c1 203.0.113.4
// printed with Buffer.toString('hex') from the BpfRingBuffer callback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEventRecord, flowOf, icmpErrorOf } from '../../../src/trace/event.js';
import { parseKallsyms } from '../../../src/trace/kallsyms.js';
import { dropReasonsFromFormat } from '../../../src/trace/kernel-layout.js';
import { atOffset, hex } from '../../harness/bytes.js';

const DROP = hex(`
  94636646ea000000 0087b3048188ffff   // time (ktime ns), skb address
  80dd0482ffffffff                    // location: ip_forward+0x2c0
  03000000 5d000000                   // kind 3 (drop), reason 93
  9b0200f0 71010000                   // netns inode 4026532507, ifindex 369
  dc050000 00000000                   // len 1500, mark 0
  0800 0000 00000000                  // protocol ETH_P_IP (network order), pad, cpu 0
  65746830000000000000000000000000    // dev "eth0"
  450005dc00004000 4001cee7c6336401 cb007104          // IPv4 198.51.100.1 > 203.0.113.4, DF, ICMP
  0800116674080001 18d6146b00000000 f02c080000000000  // echo request and its data
  101112131415161718191a1b1c1d1e1f 202122232425262728292a2b2c2d2e2f
  303132333435363738393a3b3c3d3e3f 404142434445464748494a4b4c4d4e4f
  505152535455565758595a5b5c5d5e5f 60616263
`);

const ICMP = hex(`
  b05c6646ea000000 0088b3048188ffff   // time, skb of the ICMP error itself
  0000000000000000                    // no location
  05000000 00000000                   // kind 5 (icmp), no reason
  9b0200f0 71010000                   // netns, ifindex 369
  4e020000 00000000                   // len 590 (with the Ethernet header), mark
  0800 0000 00000000                  // protocol, pad, cpu
  65746830000000000000000000000000    // "eth0"
  45c002405d460000 4001c550c63364fe c6336401          // IPv4 198.51.100.254 > 198.51.100.1 ICMP
  0304f056 00000578                   // type 3 code 4, next-hop MTU 1400
  450005dc000040004001cee7c6336401cb007104            // the quoted packet
  0800116674080001 18d6146b00000000 f02c080000000000 101112131415161718191a1b1c1d1e1f
  202122232425262728292a2b2c2d2e2f 303132333435363738393a3b3c3d3e3f 4041424344454647
`);

// from the kfree_skb format file's print fmt (trimmed)
const FORMAT = 'print fmt: "skbaddr=%p reason: %s", REC->skbaddr, __print_symbolic(REC->reason, { 2, "NOT_SPECIFIED" }, { 93, "PKT_TOO_BIG" }, { 130, "MAX" })';
const reasons = dropReasonsFromFormat(FORMAT);
const symbols = parseKallsyms('ffffffff8204dac0 T ip_forward\nffffffff8204e240 t ip_forward_finish\n0000000000000000 T hidden\n');

test('the format file gives reason names', () => {
  assert.equal(reasons.get(93), 'PKT_TOO_BIG');
  assert.equal(reasons.size, 3);
});

for (const [name, at] of [
  ['plain', (b: Uint8Array) => b],
  ['at offset 7', (b: Uint8Array) => atOffset(b)],
] as const) {
  test(`a captured drop record (${name})`, () => {
    const e = decodeEventRecord(at(DROP), reasons, (a) => symbols.symbolize(a))!;
    assert.equal(e.event, 'drop');
    assert.equal(e.reason, 'PKT_TOO_BIG');
    assert.equal(e.reasonCode, 93);
    assert.equal(e.location, 'ip_forward+0x2c0');
    assert.equal(e.netns, 4026532507);
    assert.equal(e.dev, 'eth0');
    assert.equal(e.ifindex, 369);
    assert.equal(e.len, 1500);
    assert.equal(e.skb, 0xffff888104b38700n);
    assert.deepEqual(e.flow, { family: 4, src: '198.51.100.1', dst: '203.0.113.4', proto: 1, ipId: 0 });
  });

  test(`a captured ICMP record joins the quoted flow (${name})`, () => {
    const e = decodeEventRecord(at(ICMP), reasons, (a) => symbols.symbolize(a))!;
    assert.equal(e.event, 'icmp');
    assert.deepEqual(e.icmp, { type: 3, code: 4, mtu: 1400, src: '198.51.100.254', dst: '198.51.100.1' });
    assert.equal(e.flow?.dst, '203.0.113.4');
    assert.equal(e.location, undefined);
  });
}

test('unknown reason numbers still print', () => {
  const r = DROP.slice();
  r[28] = 200;
  assert.equal(decodeEventRecord(r, reasons, () => '?')!.reason, 'REASON_200');
});

test('short or unknown records are skipped', () => {
  assert.equal(decodeEventRecord(DROP.subarray(0, 100), reasons, () => '?'), undefined);
  const r = DROP.slice();
  r[24] = 9;
  assert.equal(decodeEventRecord(r, reasons, () => '?'), undefined);
});

test('IPv6 packet too big: MTU from the 32-bit field, ports of the quote', () => {
  // IPv6 2001:db8:1::fe > 2001:db8:1::1 ICMPv6 type 2 mtu 1400, quoting UDP [2001:db8:1::1]:40000 > [2001:db8:2::1]:9
  const p = hex(`
    60000000 0038 3a 40                    // payload 56, ICMPv6, hop limit 64
    20010db80001000000000000000000fe       // source 2001:db8:1::fe
    20010db8000100000000000000000001       // destination 2001:db8:1::1
    02 00 0000 00000578                    // type 2 code 0, MTU 1400
    60000000 0008 11 40                    // the quote: payload 8, UDP
    20010db8000100000000000000000001 20010db8000200000000000000000001
    9c40 0009 0008 0000                    // ports 40000 > 9
  `);
  const e = icmpErrorOf(p)!;
  assert.equal(e.mtu, 1400);
  assert.equal(e.type, 2);
  assert.deepEqual(e.quoted, { family: 6, src: '2001:db8:1::1', dst: '2001:db8:2::1', proto: 17, sport: 40000, dport: 9 });
});

test('garbage headers give no flow rather than an error', () => {
  assert.equal(flowOf(new Uint8Array([0x45, 1, 2])), undefined);
  assert.equal(flowOf(new Uint8Array(0)), undefined);
  assert.equal(flowOf(new Uint8Array([0x12])), undefined);
});

test('kallsyms: nearest preceding text symbol, hidden addresses skipped', () => {
  assert.equal(symbols.size, 2);
  assert.equal(symbols.symbolize(0xffffffff8204dac0n), 'ip_forward');
  assert.equal(symbols.symbolize(0xffffffff8204e250n), 'ip_forward_finish+0x10');
  assert.equal(symbols.symbolize(0x10n), '0x10');
});
