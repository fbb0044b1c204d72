// --workers N: the capture rules hash each message's outer source to one of
// N NFLOG groups, one data-plane worker each. Every message is relayed once,
// every worker gets a share, metrics add up, and with the udp transport the
// workers that do not receive replicas still send them.
//
//   rtr ── br0 ─┬─ n1  relay --workers 2 (messages from 16 routers arrive here)
//               └─ n2  witness (ip), or a second relay (udp)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labUnavailable, waitFor, type Netns } from '../../harness/netns.js';
import { Injector, tooBigFor, type Flow } from './helpers/packets.js';
import { killRelays, nftCounters, PATHGUARD_MAIN, RelayProcess, startRelays, withRelayLab } from './helpers/relay-process.js';
import { buildSegment, installWitness, pathDrained, peersFlag, CLIENT, VIP, VIP_NETWORKS, type SegmentNode } from './helpers/segment.js';

const skip = labUnavailable();

const SOURCES = 16;
const PER_SOURCE = 4;
const RAISED = ['--src-rate', '1000', '--src-burst', '1000', '--iface-rate', '100000', '--iface-burst', '100000', '--dedup-window', '0'];

/** `perSource` messages from each of the SOURCES routers; `round` keeps their flows apart from other rounds'. */
function messages(perSource = PER_SOURCE, round = 0): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let s = 0; s < SOURCES; s++) {
    for (let k = 0; k < perSource; k++) {
      const flow: Flow = { family: 4, src: VIP[4], dst: CLIENT[4], srcPort: 8080 + round, dstPort: 44_000 + s * perSource + k };
      out.push(tooBigFor(flow, `203.0.113.${100 + s}`, 1400));
    }
  }
  return out;
}

/** Packets the log_N chain of pathguard's table has seen (its anonymous counter). */
async function logChainPackets(ns: Netns, i: number): Promise<number> {
  const r = await ns.exec('nft', ['list', 'chain', 'inet', 'pathguard', `log_${i}`]);
  const m = /counter packets (\d+)/.exec(r.stdout);
  assert.ok(m, r.stdout);
  return Number(m[1]);
}

/** NFLOG groups bound in the namespace (first column of /proc/net/netfilter/nfnetlink_log). */
async function boundGroups(ns: Netns): Promise<number[]> {
  const r = await ns.exec('cat', ['/proc/net/netfilter/nfnetlink_log']);
  return r.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => Number(l.trim().split(/\s+/)[0])).sort((a, b) => a - b);
}

test('--workers 2: both groups bound, every message relayed once, both workers used, counters summed', { skip, timeout: 60_000 }, async () => {
  await withRelayLab('wrk', async (lab, dir) => {
    const { router, nodes } = await buildSegment(lab, 2);
    const [n1, n2] = nodes as [SegmentNode, SegmentNode];
    await installWitness(n2.ns);
    const relay = await RelayProcess.start(n1.ns, {
      dir,
      args: ['--iface', 'eth0', '--transport', 'ip', '--peers', `${n2.v4},${n2.v6}`, '--vip-networks', VIP_NETWORKS, '--workers', '2', ...RAISED],
    });
    const injector = Injector.open(router.ns);
    try {
      assert.deepEqual(await boundGroups(n1.ns), [33, 34]);
      const first = messages();
      injector.send(n1.mac, first);
      await relay.waitForMetric('relayed_messages_total', first.length);
      await waitFor(async () => (await nftCounters(n2.ns, 'pgt_witness')).get('eth0_v4') === first.length, 5000);
      // Sentinel: one more message from every router. A worker handles its routers' messages in order, so
      // once these are relayed both workers are past the first round: a second replica of any first-round
      // message has been sent by then, and the later ping from n1 to n2 finds it counted.
      const all = [...first, ...messages(1, 1)];
      injector.send(n1.mac, all.slice(first.length));
      await relay.waitForMetric('relayed_messages_total', all.length);
      await pathDrained(n1, n2);
      const m = await relay.metrics();
      assert.equal(m.get('pathguard_relay_received_packets_total'), all.length, 'the workers\' counters add up');
      assert.equal(m.get('pathguard_relay_replicas_sent_total', { transport: 'ip' }), all.length);
      assert.equal((await nftCounters(n2.ns, 'pgt_witness')).get('eth0_v4'), all.length, 'each message reached the peer once');
      const shares = [await logChainPackets(n1.ns, 0), await logChainPackets(n1.ns, 1)];
      assert.equal(shares[0]! + shares[1]!, all.length);
      assert.ok(shares[0]! > 0 && shares[1]! > 0, `both workers got messages: ${shares.join(' / ')}`);
      assert.ok(shares.every((n) => n % (PER_SOURCE + 1) === 0), `a source's messages all go to one worker: ${shares.join(' / ')}`);
      assert.equal((await relay.get('/healthz')).status, 200);
    } finally {
      injector.close();
    }
    assert.deepEqual(await relay.stop(), { code: 0, signal: null });
    assert.deepEqual(await boundGroups(n1.ns), [], 'both groups released');
  });
});

test('--workers 2 keeps --src-rate exact: one router\'s messages all meet the same bucket', { skip, timeout: 60_000 }, async () => {
  await withRelayLab('wrk', async (lab, dir) => {
    const { router, nodes } = await buildSegment(lab, 2);
    const [n1, n2] = nodes as [SegmentNode, SegmentNode];
    const BURST = 5;
    const relay = await RelayProcess.start(n1.ns, {
      dir,
      args: [
        '--iface', 'eth0', '--transport', 'ip', '--peers', `${n2.v4},${n2.v6}`, '--vip-networks', VIP_NETWORKS, '--workers', '2',
        '--src-rate', '1/h', '--src-burst', String(BURST), '--iface-rate', '100000', '--iface-burst', '100000', '--dedup-window', '0',
      ],
    });
    const injector = Injector.open(router.ns);
    try {
      const routers = ['203.0.113.201', '203.0.113.202', '203.0.113.203'];
      const each = 40;
      const all = routers.flatMap((from, r) =>
        Array.from({ length: each }, (_, k) => tooBigFor({ family: 4, src: VIP[4], dst: CLIENT[4], srcPort: 8080, dstPort: 45_000 + r * each + k }, from, 1400)),
      );
      injector.send(n1.mac, all);
      await relay.waitForMetric('received_packets_total', all.length);
      const m = await relay.metrics();
      // Sharded round-robin, each router would get a burst per worker (2 x 5).
      assert.equal(m.get('pathguard_relay_relayed_messages_total'), routers.length * BURST, 'a burst per router, not per worker');
      assert.equal(m.get('pathguard_relay_rate_limited_messages_total', { limit: 'src_rate' }), all.length - routers.length * BURST);
    } finally {
      injector.close();
    }
    assert.deepEqual(await relay.stop(), { code: 0, signal: null });
  });
});

test('--workers 2 with the udp transport: replicas from every worker reach the peer relay and are injected', { skip, timeout: 60_000 }, async () => {
  await withRelayLab('wrk', async (lab, dir) => {
    const { router, nodes } = await buildSegment(lab, 2);
    const [n1, n2] = nodes as [SegmentNode, SegmentNode];
    const args = ['--iface', 'eth0', '--transport', 'udp', '--peers', peersFlag(nodes), '--vip-networks', VIP_NETWORKS, '--workers', '2', ...RAISED];
    const relays = await startRelays([
      { ns: n1.ns, dir, args },
      { ns: n2.ns, dir, args },
    ]);
    const injector = Injector.open(router.ns);
    try {
      const [r1, r2] = relays as [RelayProcess, RelayProcess];
      const all = messages();
      injector.send(n1.mac, all);
      await r1.waitForMetric('relayed_messages_total', all.length);
      await r2.waitForMetric('replicas_injected_packets_total', all.length);
      assert.ok((await logChainPackets(n1.ns, 1)) > 0, 'worker 1 (no receiving socket of its own) sent some of them');
      assert.equal((await r2.metrics()).get('pathguard_relay_replicas_rejected_datagrams_total', { reason: 'unknown_peer' }), 0);
    } finally {
      injector.close();
      await killRelays(relays);
    }
  });
});

test('--workers 2 cannot print iptables rules (they cannot hash sources to groups), and says so', { skip, timeout: 30_000 }, async () => {
  await withRelayLab('wrk', async (lab) => {
    const { nodes } = await buildSegment(lab, 1);
    const r = await nodes[0]!.ns
      .exec(process.execPath, [PATHGUARD_MAIN, 'relay', '--print-rules', 'iptables', '--workers', '2', '--iface', 'eth0', '--peers', '192.0.2.99'])
      .then(
        () => undefined,
        (err: Error) => err.message,
      );
    assert.match(r ?? 'exited 0', /workers.*iptables/s);
  });
});
