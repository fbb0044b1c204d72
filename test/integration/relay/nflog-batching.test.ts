// The NFLOG queue threshold follows the rate (src/relay/queue-threshold.ts):
// one message per datagram while quiet, more under a flood, and back to one
// when the flood ends; nothing is lost on the way.
//
//   rtr ── br0 ─┬─ n1  relay (--dry-run: only receiving and deciding are under test)
//               └─ n2  its peer
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labUnavailable, sleep, waitFor } from '../../harness/netns.js';
import { Injector, tooBigFor, type Flow } from './helpers/packets.js';
import { RelayProcess, withRelayLab } from './helpers/relay-process.js';
import { buildSegment, CLIENT, FAR_ROUTER, VIP, VIP_NETWORKS, type SegmentNode } from './helpers/segment.js';

const skip = labUnavailable();

const GAUGE = 'pathguard_relay_nflog_queue_threshold_messages';
const CHUNKS = 60;
const PER_CHUNK = 1000;
const CHUNK_MS = 20; // about 50,000 messages/s for about 1.2 s

function flow(i: number): Flow {
  return { family: 4, src: VIP[4], dst: CLIENT[4], srcPort: 1024 + (i % 60_000), dstPort: 43_000 };
}

test('the NFLOG queue threshold is 1 while quiet, rises under a flood, and returns to 1 after it; every message is read', { skip, timeout: 60_000 }, async () => {
  await withRelayLab('qthr', async (lab, dir) => {
    const { router, nodes } = await buildSegment(lab, 2);
    const [n1, n2] = nodes as [SegmentNode, SegmentNode];
    const relay = await RelayProcess.start(n1.ns, {
      dir,
      args: [
        '--iface', 'eth0', '--transport', 'ip', '--peers', `${n2.v4},${n2.v6}`, '--vip-networks', VIP_NETWORKS, '--dry-run',
        '--src-rate', '1000000', '--src-burst', '1000000', '--iface-rate', '1000000', '--iface-burst', '1000000', '--dedup-window', '0',
      ],
    });
    const packets = Array.from({ length: PER_CHUNK * CHUNKS }, (_, i) => tooBigFor(flow(i), FAR_ROUTER[4], 576 + (i % 800)));
    const injector = Injector.open(router.ns);
    try {
      assert.equal((await relay.metrics()).get(GAUGE), 1, 'quiet: one message per datagram');

      // Scrape until the threshold rises or the relay has read the whole flood (the sentinel that the
      // moment has passed), not for a fixed number of scrapes that a slow machine could spend too early.
      let highest = 1;
      let read = 0;
      const watching = (async () => {
        const giveUp = Date.now() + 30_000; // a relay that stops reading fails below, not by the test's timeout
        while (highest === 1 && read < PER_CHUNK * CHUNKS && Date.now() < giveUp) {
          const m = await relay.metrics();
          highest = Math.max(highest, m.get(GAUGE));
          read = m.get('pathguard_relay_received_packets_total');
          await sleep(20);
        }
      })();
      const t0 = performance.now();
      for (let c = 0; c < CHUNKS; c++) {
        injector.send(n1.mac, packets.slice(c * PER_CHUNK, (c + 1) * PER_CHUNK));
        const next = t0 + (c + 1) * CHUNK_MS;
        await sleep(Math.max(0, next - performance.now()));
      }
      await watching;
      assert.ok(highest > 1, `under ~${Math.round((PER_CHUNK * 1000) / CHUNK_MS)} msg/s the threshold rose (highest seen ${highest})`);

      await relay.waitForMetric('received_packets_total', PER_CHUNK * CHUNKS, 10_000);
      const m = await relay.metrics();
      assert.equal(m.get('pathguard_relay_nflog_overruns_total'), 0, 'the kernel dropped no log message');
      assert.equal(m.get('pathguard_relay_dry_run_messages_total'), PER_CHUNK * CHUNKS, 'every message decided relay (dry run)');

      await waitFor(async () => (await relay.metrics()).get(GAUGE) === 1, 2000);
    } finally {
      injector.close();
    }
    assert.deepEqual(await relay.stop(), { code: 0, signal: null });
  });
});
