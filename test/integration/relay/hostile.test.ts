// Hostile input at a running relay: a burst of malformed and unwanted ICMP
// (and one non-ICMP packet) is rejected and counted by reason on /metrics,
// /healthz stays 200 throughout, and valid messages sent right after are
// relayed.
//
// The relay runs with --no-manage-firewall and a rule of our own that logs
// EVERYTHING from the hostile sources to its NFLOG group: pathguard's own
// rules only log frag-needed / packet-too-big, so echo requests, a UDP
// datagram and packets whose extension headers nftables cannot walk reach
// the decoder only this way. The kernel's own input checks (IPv4 header
// checksum and lengths, a hop-by-hop header in first place) run before the
// prerouting hook, so those malformations cannot arrive here at all and are
// not sent.
//
//   rtr (injects) ── br0 ─┬─ n1 (relay)
//                         └─ n2 (the `ip` transport's peer, no relay: counts replicas)
//
// The peer is not the injecting router on purpose: frames from a peer's MAC
// are replicas by construction, and the relay would rightly count them as loops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labUnavailable, waitFor } from '../../harness/netns.js';
import { REJECT_REASONS, type RejectReason } from '../../../src/relay/validate.js';
import { encodeIPv4, IPPROTO } from '../../../src/wire/ipv4.js';
import { encodeIPv6 } from '../../../src/wire/ipv6.js';
import { parseAddress } from '../../../src/wire/ip-address.js';
import { Injector, echoRequest, quoteOf, segment, tooBig, tooBigFor, withBadIcmpChecksum, type Family, type Flow } from './helpers/packets.js';
import { RelayProcess, nftCounters, withRelayLab } from './helpers/relay-process.js';
import { buildSegment, installWitness, CLIENT, FAR_ROUTER, VIP, VIP_NETWORKS } from './helpers/segment.js';

const skip = labUnavailable();

const GROUP = 34;
const COPIES = 10;

/** Logs every packet from the hostile sources, whatever it is. */
const LOG_ALL = `
  table inet pgt_hostile {
    chain capture {
      type filter hook prerouting priority raw; policy accept;
      iifname "eth0" ip saddr ${FAR_ROUTER[4]} log group ${GROUP}
      iifname "eth0" ip6 saddr ${FAR_ROUTER[6]} log group ${GROUP}
    }
  }
`;

function flow(family: Family, dstPort: number, src: string = VIP[family]): Flow {
  return { family, src, dst: CLIENT[family], srcPort: 8080, dstPort };
}

/** A too-big from the hostile source to the VIP with `quote` as its body. */
function quoting(family: Family, quote: Uint8Array, mtu = 1400): Uint8Array {
  return tooBig({ family, from: FAR_ROUTER[family], to: VIP[family], mtu, quote });
}

const PADN = () => Uint8Array.of(0, 0, 1, 4, 0, 0, 0, 0); // next header (filled in), length 0 (8 bytes), PadN of 4

interface Case {
  readonly what: string;
  readonly reason: RejectReason;
  readonly packet: Uint8Array;
}

function hostileCases(): Case[] {
  const q4 = quoteOf(segment(flow(4, 40_001)), 4);
  const q6 = quoteOf(segment(flow(6, 40_001)), 6);
  const badIhl = q4.slice();
  badIhl[0] = 0x43; // version 4, IHL 3 words
  const v4InV6 = q6.slice();
  v4InV6[0] = 0x45; // an ICMPv6 error quoting something that is not IPv6
  // IHL 6 claims 4 bytes of options; what follows the real header is the TCP
  // source port 8080 (0x1f 0x90): option 31 "of length 144", past the header.
  const absentOptions = q4.slice();
  absentOptions[0] = 0x46;
  return [
    { what: 'IPv4, quoted IHL claims options that are not there', reason: 'bad_quote_header', packet: quoting(4, absentOptions) },
    { what: 'IPv4, MTU 1500 for a 1500-byte packet', reason: 'mtu_not_below_quoted', packet: tooBigFor(flow(4, 40_005), FAR_ROUTER[4], 1500) },
    { what: 'IPv6, MTU 9000 for a 1500-byte packet', reason: 'mtu_not_below_quoted', packet: tooBigFor(flow(6, 40_005), FAR_ROUTER[6], 9000) },
    { what: 'IPv4, no quote at all', reason: 'no_quote', packet: quoting(4, new Uint8Array(0)) },
    { what: 'IPv6, no quote at all', reason: 'no_quote', packet: quoting(6, new Uint8Array(0)) },
    { what: 'IPv4, quoted IHL 3', reason: 'bad_quote_header', packet: quoting(4, badIhl) },
    { what: 'IPv6, quoted header of version 4', reason: 'bad_quote_header', packet: quoting(6, v4InV6) },
    { what: 'IPv4, ICMP checksum wrong', reason: 'bad_checksum', packet: withBadIcmpChecksum(tooBigFor(flow(4, 40_002), FAR_ROUTER[4], 1400), 4) },
    { what: 'IPv6, ICMPv6 checksum wrong', reason: 'bad_checksum', packet: withBadIcmpChecksum(tooBigFor(flow(6, 40_002), FAR_ROUTER[6], 1400), 6) },
    { what: 'IPv4, quote of 12 bytes', reason: 'truncated_quote', packet: quoting(4, q4.subarray(0, 12)) },
    { what: 'IPv6, quote of 30 bytes', reason: 'truncated_quote', packet: quoting(6, q6.subarray(0, 30)) },
    {
      what: 'IPv6, hop-by-hop header after destination options',
      reason: 'bad_ext_header',
      packet: tooBig({
        family: 6,
        from: FAR_ROUTER[6],
        to: VIP[6],
        mtu: 1400,
        quote: q6,
        extensionHeaders: [
          { type: IPPROTO.DSTOPTS, bytes: PADN() },
          { type: IPPROTO.HOPOPTS, bytes: PADN() },
        ],
      }),
    },
    {
      what: 'IPv6, destination options header running past the payload',
      reason: 'bad_ext_header',
      packet: encodeIPv6({
        protocol: IPPROTO.DSTOPTS,
        src: parseAddress(FAR_ROUTER[6]),
        dst: parseAddress(VIP[6]),
        payload: Uint8Array.of(IPPROTO.ICMPV6, 1, 1, 4, 0, 0, 0, 0), // says 16 bytes, has 8
      }),
    },
    { what: 'IPv4, MTU 0', reason: 'mtu_out_of_range', packet: tooBigFor(flow(4, 40_003), FAR_ROUTER[4], 0) },
    { what: 'IPv6, MTU 1000 (below 1280)', reason: 'mtu_out_of_range', packet: tooBigFor(flow(6, 40_003), FAR_ROUTER[6], 1000) },
    { what: 'IPv4, quoted source not ours', reason: 'quoted_src_not_local', packet: tooBigFor(flow(4, 40_004, '203.0.113.77'), FAR_ROUTER[4], 1400) },
    { what: 'IPv6, quoted source not ours', reason: 'quoted_src_not_local', packet: tooBigFor(flow(6, 40_004, '2001:db8:ff::77'), FAR_ROUTER[6], 1400) },
    { what: 'IPv4 echo request', reason: 'not_too_big', packet: echoRequest(4, FAR_ROUTER[4], VIP[4], 1) },
    { what: 'IPv6 echo request', reason: 'not_too_big', packet: echoRequest(6, FAR_ROUTER[6], VIP[6], 1) },
    {
      what: 'IPv4, ICMP of 4 bytes',
      reason: 'truncated_icmp',
      packet: encodeIPv4({ protocol: IPPROTO.ICMP, src: parseAddress(FAR_ROUTER[4]), dst: parseAddress(VIP[4]), payload: Uint8Array.of(3, 4, 0, 0) }),
    },
    {
      what: 'IPv4 UDP datagram',
      reason: 'not_icmp',
      packet: encodeIPv4({ protocol: IPPROTO.UDP, src: parseAddress(FAR_ROUTER[4]), dst: parseAddress(VIP[4]), payload: Uint8Array.of(0x9c, 0x40, 0, 9, 0, 8, 0, 0) }),
    },
    {
      what: 'IPv4, non-first fragment of an ICMP message',
      reason: 'fragment',
      packet: encodeIPv4({
        protocol: IPPROTO.ICMP,
        src: parseAddress(FAR_ROUTER[4]),
        dst: parseAddress(VIP[4]),
        id: 0x1234,
        fragmentOffset: 100,
        payload: q4.subarray(0, 64),
      }),
    },
  ];
}

/** Valid messages for distinct flows (no dedup), one of them with a valid IPv6 extension header chain. */
function validMessages(): { packets: Uint8Array[]; v4: number; v6: number } {
  const packets: Uint8Array[] = [];
  for (let i = 0; i < 3; i++) {
    packets.push(tooBigFor(flow(4, 41_000 + i), FAR_ROUTER[4], 1400));
    packets.push(tooBigFor(flow(6, 41_000 + i), FAR_ROUTER[6], 1400));
  }
  packets.push(
    tooBig({
      family: 6,
      from: FAR_ROUTER[6],
      to: VIP[6],
      mtu: 1400,
      quote: quoteOf(segment(flow(6, 41_010)), 6),
      extensionHeaders: [{ type: IPPROTO.DSTOPTS, bytes: PADN() }],
    }),
  );
  return { packets, v4: 3, v6: 4 };
}

test('a burst of malformed ICMP is rejected and counted by reason, health stays green, valid messages are relayed right after', { skip, timeout: 60_000 }, async () => {
  await withRelayLab('hostile', async (lab, dir) => {
    const { router, nodes } = await buildSegment(lab, 2);
    const [n1, n2] = [nodes[0]!, nodes[1]!];
    await n1.ns.nft(LOG_ALL);
    await installWitness(n2.ns);
    const relay = await RelayProcess.start(n1.ns, {
      dir,
      args: [
        '--iface', 'eth0',
        '--no-manage-firewall',
        '--nflog-group', String(GROUP),
        '--transport', 'ip',
        '--peers', `${n2.v4},${n2.v6}`,
        '--vip-networks', VIP_NETWORKS,
      ],
    });
    const injector = Injector.open(router.ns);
    try {
      assert.equal((await relay.get('/healthz')).status, 200);

      // The burst, one kind after another, asking /healthz between kinds.
      const cases = hostileCases();
      let sent = 0;
      for (const c of cases) {
        injector.send(n1.mac, Array.from({ length: COPIES }, () => c.packet));
        sent += COPIES;
        const health = await relay.get('/healthz');
        assert.equal(health.status, 200, `/healthz after ${c.what}: ${health.body}`);
      }
      await relay.waitForMetric('received_packets_total', sent);
      const m = await relay.metrics();
      const expected = new Map<string, number>(REJECT_REASONS.map((r) => [r, 0]));
      for (const c of cases) expected.set(c.reason, expected.get(c.reason)! + COPIES);
      const got = new Map(REJECT_REASONS.map((r) => [r, m.get('pathguard_relay_rejected_packets_total', { reason: r })]));
      assert.deepEqual(got, expected, 'rejections by reason');
      assert.equal(m.get('pathguard_relay_relayed_messages_total'), 0);
      assert.equal(m.get('pathguard_relay_replicas_sent_total', { transport: 'ip' }), 0);
      assert.equal(m.get('pathguard_relay_nflog_overruns_total'), 0, 'the burst fit the socket buffer, so every count is exact');

      const valid = validMessages();
      injector.send(n1.mac, valid.packets);
      await relay.waitForMetric('relayed_messages_total', valid.packets.length);
      const after = await relay.metrics();
      assert.equal(after.get('pathguard_relay_received_packets_total'), sent + valid.packets.length);
      assert.equal(after.get('pathguard_relay_replicas_sent_total', { transport: 'ip' }), valid.packets.length);
      for (const r of REJECT_REASONS) {
        assert.equal(after.get('pathguard_relay_rejected_packets_total', { reason: r }), expected.get(r), `no new ${r} rejection`);
      }
      // The peer got each replica.
      await waitFor(async () => {
        const w = await nftCounters(n2.ns, 'pgt_witness');
        return w.get('eth0_v4') === valid.v4 && w.get('eth0_v6') === valid.v6;
      }, 5000);

      assert.equal((await relay.get('/healthz')).status, 200);
      assert.equal((await relay.get('/readyz')).status, 200);
      assert.deepEqual(await relay.stop(), { code: 0, signal: null });
    } finally {
      injector.close();
    }
  });
});
