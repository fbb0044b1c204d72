// A long-running relay must not leak sockets: every address change on the
// node makes it re-read its addresses, re-derive its peers (its own
// addresses are never peers), re-resolve peer MACs (l2) and update the
// nftables peer sets. After many such rounds the process holds exactly the
// file descriptors it held when it became ready.
//
//   rtr ── br0 ─┬─ n1  relay --transport l2 --peers n2
//               └─ n2
// Each round adds n2's IPv4 address to n1's loopback (the peer count drops
// to 1: it is now a local address) and removes it again (back to 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { labUnavailable } from '../../harness/netns.js';
import { RelayProcess, withRelayLab } from './helpers/relay-process.js';
import { buildSegment, VIP_NETWORKS, type SegmentNode } from './helpers/segment.js';

const skip = labUnavailable();

const ROUNDS = 8;

/** The relay's open descriptors by kind ("socket", "anon_inode:[eventfd]", "/dev/net/tun", ...). */
function descriptors(pid: number): Map<string, number> {
  const kinds = new Map<string, number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed while listing
    }
    const kind = target.replace(/:\[\d+\]$/, '').replace(/^\/proc\/.*/, '/proc');
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return kinds;
}

test(`${ROUNDS} rounds of address changes (peers re-derived, MACs re-resolved, nft sets updated) leave the relay's descriptors as they were`, { skip, timeout: 60_000 }, async () => {
  await withRelayLab('fds', async (lab, dir) => {
    const { nodes } = await buildSegment(lab, 2);
    const [n1, n2] = nodes as [SegmentNode, SegmentNode];
    const relay = await RelayProcess.start(n1.ns, { dir, args: ['--iface', 'eth0', '--transport', 'l2', '--peers', `${n2.v4},${n2.v6}`, '--vip-networks', VIP_NETWORKS] });
    const pid = relay.child.pid!;
    await relay.waitForMetric('configured_peers', 2);
    // Let start-up work (first MAC resolution, timers) settle before the baseline.
    await new Promise((r) => setTimeout(r, 500));
    const before = descriptors(pid);

    for (let i = 0; i < ROUNDS; i++) {
      await n1.ns.ip('addr', 'add', `${n2.v4}/32`, 'dev', 'lo');
      await relay.waitForMetric('configured_peers', 1, 5000);
      await n1.ns.ip('addr', 'del', `${n2.v4}/32`, 'dev', 'lo');
      await relay.waitForMetric('configured_peers', 2, 5000);
    }
    await new Promise((r) => setTimeout(r, 500));
    const after = descriptors(pid);
    assert.deepEqual(Object.fromEntries(after), Object.fromEntries(before), 'descriptors by kind, before and after');
    assert.equal((await relay.get('/healthz')).status, 200);
    assert.deepEqual(await relay.stop(), { code: 0, signal: null });
  });
});
