// The usual cluster shape: nodes know each other by IPv4 addresses only, while
// the service address (VIP) is dual-stack. In the ECMP black-hole lab
// (src/demo/ecmp-lab.ts) with `--peers` listing each node's IPv4 address:
//   udp, l2, broadcast  IPv4 and IPv6 downloads complete: an ICMPv6 "packet
//                       too big" reaches the owner over IPv4 (udp) or in an
//                       Ethernet frame (l2, broadcast)
//   ip                  IPv4 completes; IPv6 cannot (an ICMPv6 error cannot be
//                       re-originated to an IPv4 address), and the node that
//                       got it counts it as rejected{reason="no_peer_of_family"},
//                       never as relayed
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labUnavailable } from '../../harness/netns.js';
import { runDemo, DEMO_TRANSPORTS } from '../../../src/demo/scenario.js';
import { LAB } from '../../../src/demo/ecmp-lab.js';
import { PATHGUARD_MAIN } from './helpers/relay-process.js';

const skip = labUnavailable();
const BYTES = 2_000_000;

test('IPv4-only peers, dual-stack VIP: udp, l2 and broadcast fix IPv4 and IPv6; ip fixes IPv4 and counts IPv6 as no_peer_of_family', { skip, timeout: 150_000 }, async () => {
  const result = await runDemo({
    transports: DEMO_TRANSPORTS,
    families: [4, 6],
    peerFamilies: [4],
    bytes: BYTES,
    timeoutS: 4,
    pathguardBin: PATHGUARD_MAIN,
    say: () => undefined,
  });
  for (const r of result.runs) {
    const what = `IPv${r.family} ${r.transport ?? 'without the relay'}: ${JSON.stringify(r)}`;
    assert.equal(r.asExpected, true, what);
    if (!r.transport) continue;
    const icmpNode = Object.keys(r.relayed ?? {}).find((n) => (r.relayed![n] ?? 0) > 0 || (r.noPeerOfFamily?.[n] ?? 0) > 0);
    if (r.transport === 'ip' && r.family === 6) {
      assert.equal(r.completed, false, `${what}: nothing can carry it`);
      assert.equal(r.ownerMtu, undefined, what);
      assert.ok(icmpNode && (r.noPeerOfFamily?.[icmpNode] ?? 0) > 0, `${what}: counted as no_peer_of_family`);
      // Never relayed: had a replica of it reached the owner, the owner would have learned MTU 1400.
      // (The relayed counters may hold stray IPv4 messages: the earlier runs' server still retransmits.)
    } else {
      assert.equal(r.completed, true, what);
      assert.equal(r.ownerMtu, LAB.pathMtu, what);
    }
  }
  assert.equal(result.ok, true);
});
