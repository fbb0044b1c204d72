// The relay's rate limits on real traffic: a stream of distinct valid
// messages (distinct flows, so dedup never applies) four times faster than
// the limit is relayed no more than burst + rate x elapsed, clearly more
// than the burst alone (the bucket refills), and the rest is counted as
// rate limited.
//
//   rtr (injects) ── br0 ─┬─ n1 relay --src-rate 5 --src-burst 10       (all from one source)
//                         ├─ n2 relay --iface-rate 5 --iface-burst 10   (a new source per message)
//                         └─ n3 the peer both relay to (`ip` transport), counting replicas
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { labUnavailable, sleep, waitFor } from '../../harness/netns.js';
import { Injector, tooBigFor, type Flow } from './helpers/packets.js';
import { RelayProcess, nftCounters, withRelayLab } from './helpers/relay-process.js';
import { buildSegment, installWitness, CLIENT, FAR_ROUTER, VIP, VIP_NETWORKS } from './helpers/segment.js';

const skip = labUnavailable();

const RATE = 5;
const BURST = 10;
/** Messages per relay, one every STEP_MS: 20/s for about 2 s, four times the rate. */
const N = 40;
const STEP_MS = 50;

function flow(i: number): Flow {
  return { family: 4, src: VIP[4], dst: CLIENT[4], srcPort: 8080, dstPort: 42_000 + i };
}

test('--src-rate and --iface-rate bound what is relayed to burst + rate x elapsed', { skip, timeout: 60_000 }, async () => {
  await withRelayLab('rate', async (lab, dir) => {
    const { router, nodes } = await buildSegment(lab, 3);
    const [n1, n2, n3] = [nodes[0]!, nodes[1]!, nodes[2]!];
    await installWitness(n3.ns);
    const common = ['--iface', 'eth0', '--transport', 'ip', '--peers', `${n3.v4},${n3.v6}`, '--vip-networks', VIP_NETWORKS];
    const [bySource, byIface] = await Promise.all([
      RelayProcess.start(n1.ns, { dir, args: [...common, '--src-rate', String(RATE), '--src-burst', String(BURST)] }),
      // The per-source limit is set out of the way, so only the interface's can bind.
      RelayProcess.start(n2.ns, {
        dir,
        args: [...common, '--iface-rate', String(RATE), '--iface-burst', String(BURST), '--src-rate', '1000', '--src-burst', '1000'],
      }),
    ]);
    const injector = Injector.open(router.ns);
    try {
      const t0 = performance.now();
      for (let i = 0; i < N; i++) {
        injector.send(n1.mac, [tooBigFor(flow(i), FAR_ROUTER[4], 1400)]);
        injector.send(n2.mac, [tooBigFor(flow(i), `203.0.113.${100 + i}`, 1400)]);
        await sleep(STEP_MS);
      }
      const sendSpan = (performance.now() - t0) / 1000;
      await bySource.waitForMetric('received_packets_total', N);
      await byIface.waitForMetric('received_packets_total', N);
      // Every decision was made between t0 and now: an upper bound on the time the buckets had to refill.
      const elapsed = (performance.now() - t0) / 1000;

      const relayedTotal: number[] = [];
      for (const [relay, limit] of [
        [bySource, 'src_rate'],
        [byIface, 'global_rate'],
      ] as const) {
        const m = await relay.metrics();
        const relayed = m.get('pathguard_relay_relayed_messages_total');
        const limited = m.get('pathguard_relay_rate_limited_messages_total', { limit });
        const ceiling = Math.floor(BURST + RATE * elapsed);
        const floor = BURST + Math.floor((RATE * sendSpan) / 2);
        assert.ok(relayed <= ceiling, `${limit}: relayed ${relayed} > burst ${BURST} + rate ${RATE} x ${elapsed.toFixed(2)} s`);
        assert.ok(relayed >= floor, `${limit}: relayed ${relayed} < ${floor}: the bucket did not refill over ${sendSpan.toFixed(2)} s`);
        assert.equal(relayed + limited, N, `${limit}: every message was relayed or rate limited`);
        assert.equal(m.get('pathguard_relay_rate_limited_messages_total', { limit: limit === 'src_rate' ? 'global_rate' : 'src_rate' }), 0);
        assert.equal(m.get('pathguard_relay_deduplicated_messages_total'), 0, 'distinct flows are never deduplicated');
        assert.equal(m.get('pathguard_relay_replicas_sent_total', { transport: 'ip' }), relayed, 'one replica per relayed message');
        relayedTotal.push(relayed);
      }
      // What the peer received is what the limits let through.
      const total = relayedTotal[0]! + relayedTotal[1]!;
      await waitFor(async () => (await nftCounters(n3.ns, 'pgt_witness')).get('eth0_v4') === total, 5000);
    } finally {
      injector.close();
    }
  });
});
