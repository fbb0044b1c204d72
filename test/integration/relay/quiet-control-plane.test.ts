// Neighbour tables change all the time (every ARP/ND state transition is an
// event). A relay whose peer set is stable must not answer that churn with
// nft processes or peer updates to its data plane: l2 (which needs peer MACs)
// hears only of its peers' entries and finds nothing changed; udp does not
// listen to neighbour events at all.
//
// Witnesses: an `nft` on the relay's PATH that logs every call before running
// the real one, and pathguard_relay_peer_refreshes_total{outcome}. The
// sentinel that the relay has read past the churn is a link event made after
// it (a new veth pair, down, no addresses): the refresh it causes comes after
// every neighbour event on the same netlink socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { labUnavailable, waitFor } from '../../harness/netns.js';
import { RelayProcess, withRelayLab } from './helpers/relay-process.js';
import { buildSegment, peersFlag, VIP_NETWORKS } from './helpers/segment.js';

const skip = labUnavailable();
const REFRESHES = 'pathguard_relay_peer_refreshes_total';

function nftCalls(log: string): number {
  return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l !== '').length : 0;
}

for (const transport of ['l2', 'udp'] as const) {
  test(`${transport}: 200 neighbour changes with a stable peer set spawn no nft and change nothing in force`, { skip, timeout: 60_000 }, async () => {
    await withRelayLab(`quiet${transport}`, async (lab, dir) => {
      const { nodes } = await buildSegment(lab, 2);
      const [n1, n2] = [nodes[0]!, nodes[1]!];
      const log = join(dir, 'nft.log');
      const nft = join(dir, 'nft');
      writeFileSync(nft, `#!/bin/sh\necho "$*" >> ${log}\nexec /usr/sbin/nft "$@"\n`);
      chmodSync(nft, 0o755);
      const savedPath = process.env.PATH;
      process.env.PATH = `${dir}:${savedPath ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`;
      let relay: RelayProcess;
      try {
        relay = RelayProcess.spawn(n1.ns, { dir, args: ['--iface', 'eth0', '--transport', transport, '--peers', peersFlag(nodes), '--vip-networks', VIP_NETWORKS] });
      } finally {
        process.env.PATH = savedPath;
      }
      await relay.ready();
      assert.ok(nftCalls(log) >= 1, 'the wrapper saw the table applied at start');
      // Sentinel: a link event (a veth pair, down, no addresses) is read after
      // everything before it on the relay's netlink socket, and changes nothing
      // the relay uses; its refresh counts as unchanged.
      let sentinels = 0;
      const sentinel = async (): Promise<void> => {
        const seen = (await relay.metrics()).get(REFRESHES, { outcome: 'unchanged' }) ?? 0;
        const n = sentinels++;
        await n1.ns.exec('ip', ['link', 'add', `pgq${n}a`, 'type', 'veth', 'peer', 'name', `pgq${n}b`]);
        await waitFor(async () => ((await relay.metrics()).get(REFRESHES, { outcome: 'unchanged' }) ?? 0) > seen, 10_000);
      };
      await sentinel(); // start-up's own address events (the TUN device's) are behind us
      const before = await relay.metrics();
      const callsBefore = nftCalls(log);

      // 200 neighbour changes: 190 on addresses that are no peer's, and 10 on
      // the peer's own entries (state only, the same MAC), in one ip -batch.
      const lines: string[] = [];
      for (let i = 0; i < 190; i++) {
        const host = 100 + (i % 50);
        lines.push(`neigh replace 192.0.2.${host} lladdr 02:00:5e:00:53:${(host % 256).toString(16).padStart(2, '0')} dev eth0 nud ${i % 2 ? 'stale' : 'reachable'}`);
      }
      for (let i = 0; i < 10; i++) {
        lines.push(`neigh replace ${i % 2 ? n2.v6 : n2.v4} lladdr ${n2.mac} dev eth0 nud ${i % 4 < 2 ? 'stale' : 'reachable'}`);
      }
      await n1.ns.exec('ip', ['-batch', '-'], { input: `${lines.join('\n')}\n` });
      await sentinel();

      const after = await relay.metrics();
      assert.equal(after.get(REFRESHES, { outcome: 'changed' }), before.get(REFRESHES, { outcome: 'changed' }), 'no refresh changed anything in force');
      assert.equal(nftCalls(log), callsBefore, `no nft process was spawned: ${readFileSync(log, 'utf8')}`);
      assert.equal(after.get('pathguard_relay_configured_peers'), 1);
      assert.equal((await relay.stop()).code, 0, relay.output);
    });
  });
}
