// Packet numbering, rendering and the summary; and the tracefs fallback's
// parsing of lines captured from this kernel's trace buffer
// (instances/pgcap with skb:kfree_skb and icmp:icmp_send enabled, trace_clock mono,
// while a router namespace dropped a DF ping too big for its next link).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TraceEvent } from '../../../src/trace/event.js';
import { Clock, Summary, Timeline, renderJson, renderText } from '../../../src/trace/timeline.js';
import { FallbackJoiner, parseTraceLine } from '../../../src/trace/tracefs-fallback.js';

const CAPTURED = [
  '            ping-29780   [001] b.s2.  1011.461881: icmp_send: icmp_send: type=3, code=4. From 198.51.100.1:0 to 203.0.113.5:0 ulen=0 skbaddr=00000000dff5ff05',
  '            ping-29780   [001] ..s1.  1011.461891: kfree_skb: skbaddr=00000000dff5ff05 rx_sk=0000000000000000 protocol=2048 location=ip_forward+0x2c0/0x780 reason: PKT_TOO_BIG',
  '     ksoftirqd/1-24      [001] ..s..  1011.488116: kfree_skb: skbaddr=00000000dff5ff05 rx_sk=0000000000000000 protocol=2048 location=inet_sock_destruct+0x57/0x1a0 reason: QUEUE_PURGE',
];

test('fallback: the ICMP error joins the PKT_TOO_BIG drop of the same skb, once', () => {
  const j = new FallbackJoiner();
  const out = CAPTURED.map((l) => j.feed(parseTraceLine(l)!)).filter((e): e is TraceEvent => e !== undefined);
  assert.equal(out.length, 2);
  assert.equal(out[0]!.reason, 'PKT_TOO_BIG');
  assert.equal(out[0]!.location, 'ip_forward+0x2c0');
  assert.equal(out[0]!.monoNs, 1011_461891_000n);
  assert.deepEqual(out[0]!.icmp, { type: 3, code: 4, src: '?', dst: '198.51.100.1' });
  assert.equal(out[0]!.flow?.dst, '203.0.113.5');
  assert.equal(out[1]!.reason, 'QUEUE_PURGE');
  assert.equal(out[1]!.icmp, undefined);
  assert.equal(parseTraceLine('CPU:1 [LOST 12 EVENTS]'), undefined);
});

const base = { monoNs: 5_000_000_000n, netns: 4026532507, ifindex: 2, dev: 'eth0', len: 1500, mark: 0, cpu: 0 };
const flow = { family: 4 as const, src: '198.51.100.1', dst: '203.0.113.9', proto: 17, sport: 40000, dport: 9, ipId: 7 };

test('one skb is one packet until it is freed; the ICMP error joins its quote', () => {
  const t = new Timeline();
  const rx: TraceEvent = { ...base, event: 'receive', skb: 1n, flow };
  const icmp: TraceEvent = { ...base, event: 'icmp', skb: 2n, flow, icmp: { type: 3, code: 4, mtu: 1400, src: '198.51.100.254', dst: '198.51.100.1' } };
  const drop: TraceEvent = { ...base, event: 'drop', skb: 1n, flow, reason: 'PKT_TOO_BIG', location: 'ip_forward+0x2c0' };
  const reused: TraceEvent = { ...base, event: 'receive', skb: 1n, flow: { ...flow, ipId: 8 } };
  assert.deepEqual([rx, icmp, drop, reused].map((e) => t.assign(e)), [1, 1, 1, 2]);
});

test('a route lookup joins the packet of its flow in flight; a sender\'s lookup before the packet starts its own number', () => {
  const t = new Timeline();
  const lookup = (proto: number): TraceEvent => ({ ...base, event: 'fib', skb: 0n, flow: { family: 4, src: flow.src, dst: flow.dst, proto }, fib: { table: 254, err: 0, oif: 0, iif: 2 } });
  assert.equal(t.assign(lookup(17)), 1); // before any packet
  assert.equal(t.assign({ ...base, event: 'receive', skb: 5n, flow }), 2);
  assert.equal(t.assign(lookup(0)), 2); // input route: addresses only
  assert.equal(t.assign({ ...base, event: 'drop', skb: 5n, flow, reason: 'X' }), 2);
  assert.equal(t.assign(lookup(0)), 3); // the packet is gone
  const line = renderText({ ...lookup(0), fib: { table: 254, err: -101, oif: 0, iif: 2 } }, 3, new Clock(0, 0n));
  assert.match(line, /fib +table 254 +198\.51\.100\.1 > 203\.0\.113\.9 +err ENETUNREACH iif 2$/);
});

test('text marks the drop; JSON carries the documented fields', () => {
  const clock = new Clock(0, 0n);
  const drop: TraceEvent = { ...base, event: 'drop', skb: 1n, flow, reason: 'PKT_TOO_BIG', reasonCode: 93, location: 'ip_forward+0x2c0' };
  const line = renderText(drop, 3, clock);
  assert.match(line, /^#3 .* netns 4026532507 eth0\(2\) .*198\.51\.100\.1:40000 > 203\.0\.113\.9:9 udp +DROP PKT_TOO_BIG at ip_forward\+0x2c0 +<== dropped$/);
  const j = renderJson(drop, 3, clock);
  assert.deepEqual(
    { event: j.event, time: j.time, netns: j.netns, dev: j.dev, len: j.len, reason: j.reason, location: j.location, src: j.src, dst: j.dst, proto: j.proto, sport: j.sport, dport: j.dport },
    { event: 'drop', time: '1970-01-01T00:00:05.000000Z', netns: 4026532507, dev: 'eth0', len: 1500, reason: 'PKT_TOO_BIG', location: 'ip_forward+0x2c0', src: '198.51.100.1', dst: '203.0.113.9', proto: 'udp', sport: 40000, dport: 9 },
  );
  const icmp = renderJson({ ...base, event: 'icmp', skb: 2n, flow, icmp: { type: 3, code: 4, mtu: 1400, src: 'a', dst: 'b' } }, 3, clock);
  assert.deepEqual([icmp.type, icmp.code, icmp.mtu], [3, 4, 1400]);
});

test('the summary counts drops by reason and location, most frequent first', () => {
  const s = new Summary();
  const d = (reason: string, location: string): TraceEvent => ({ ...base, event: 'drop', skb: 1n, reason, location });
  for (const e of [d('NO_SOCKET', 'udp_rcv+0x1'), d('PKT_TOO_BIG', 'ip_forward+0x2c0'), d('PKT_TOO_BIG', 'ip_forward+0x2c0')]) s.add(e);
  s.add({ ...base, event: 'receive', skb: 3n });
  assert.deepEqual(s.rows(), [
    { reason: 'PKT_TOO_BIG', location: 'ip_forward+0x2c0', count: 2 },
    { reason: 'NO_SOCKET', location: 'udp_rcv+0x1', count: 1 },
  ]);
  assert.match(s.renderText('t'), /events: drop 3, receive 1/);
});
