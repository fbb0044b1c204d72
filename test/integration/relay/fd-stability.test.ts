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
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { labUnavailable, waitFor, type Netns } from '../../harness/netns.js';
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

/** Elements of set `name` in n1's pathguard table. */
async function setElements(ns: Netns, name: string): Promise<string[]> {
  const r = await ns.exec('nft', ['-j', 'list', 'set', 'inet', 'pathguard', name]);
  const doc = JSON.parse(r.stdout) as { nftables: { set?: { elem?: unknown[] } }[] };
  return (doc.nftables.find((i) => i.set)?.set?.elem ?? []).map(String);
}

/** True when the relay runs no child process (an `nft -f` of a peer-set update holds pipes while it runs). */
function noChildren(pid: number): boolean {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim() === '';
}

/**
 * Sentinel for "the relay has finished reacting to the last address change":
 * the peer count is `peers`, and the nftables peer sets, which a refresh
 * updates last, hold n2's address and MAC exactly when n2 is a peer, with
 * no update still running.
 */
async function settled(relay: RelayProcess, n1: SegmentNode, n2: SegmentNode, peers: 1 | 2): Promise<void> {
  await relay.waitForMetric('configured_peers', peers, 5000);
  await waitFor(async () => {
    const has = (await setElements(n1.ns, 'peer_v4')).includes(n2.v4) && (await setElements(n1.ns, 'peer_mac')).includes(n2.mac);
    return has === (peers === 2) && noChildren(relay.child.pid!);
  }, 5000);
}

test(`${ROUNDS} rounds of address changes (peers re-derived, MACs re-resolved, nft sets updated) leave the relay's descriptors as they were`, { skip, timeout: 60_000 }, async () => {
  await withRelayLab('fds', async (lab, dir) => {
    const { nodes } = await buildSegment(lab, 2);
    const [n1, n2] = nodes as [SegmentNode, SegmentNode];
    const relay = await RelayProcess.start(n1.ns, { dir, args: ['--iface', 'eth0', '--transport', 'l2', '--peers', `${n2.v4},${n2.v6}`, '--vip-networks', VIP_NETWORKS] });
    const pid = relay.child.pid!;
    const round = async () => {
      await n1.ns.ip('addr', 'add', `${n2.v4}/32`, 'dev', 'lo');
      await settled(relay, n1, n2, 1);
      await n1.ns.ip('addr', 'del', `${n2.v4}/32`, 'dev', 'lo');
      await settled(relay, n1, n2, 2);
    };
    // The baseline once start-up work (first MAC resolution, peer sets) is visibly done.
    await settled(relay, n1, n2, 2);
    const before = descriptors(pid);

    for (let i = 0; i < ROUNDS; i++) await round();
    // The last update's pipes close on the relay's event loop just after its nft exits: wait for that, not for
    // a fixed time. A leak never converges, so this cannot pass by waiting.
    let after = descriptors(pid);
    await waitFor(() => {
      after = descriptors(pid);
      return JSON.stringify([...after].sort()) === JSON.stringify([...before].sort());
    }, 5000).catch(() => undefined);
    assert.deepEqual(Object.fromEntries(after), Object.fromEntries(before), 'descriptors by kind, before and after');
    assert.equal((await relay.get('/healthz')).status, 200);
    assert.deepEqual(await relay.stop(), { code: 0, signal: null });
  });
});
