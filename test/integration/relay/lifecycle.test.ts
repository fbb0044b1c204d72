// The relay's life as a process: readiness, clean shutdown, start-up
// failures that explain themselves, and --dry-run.
//
//   rtr (injects) ── br0 ─┬─ n1 (relay under test)
//                         └─ n2 (its peer, no relay: counts what reaches it)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { labOwner, labsOwnedBy, labUnavailable, waitFor } from '../../harness/netns.js';
import { NflogReader } from '../../../src/net/nflog-reader.js';
import { Injector, tooBigFor, type Flow } from './helpers/packets.js';
import { RelayProcess, nftCounters, nftTableExists, withRelayLab } from './helpers/relay-process.js';
import { buildSegment, installWitness, pathDrained, CLIENT, FAR_ROUTER, VIP, VIP_NETWORKS, type SegmentNode } from './helpers/segment.js';

const skip = labUnavailable();

const GROUP = 33;

function relayArgs(peer: SegmentNode, ...extra: string[]): string[] {
  return ['--iface', 'eth0', '--transport', 'ip', '--peers', `${peer.v4},${peer.v6}`, '--vip-networks', VIP_NETWORKS, ...extra];
}

function flow(family: 4 | 6, dstPort: number): Flow {
  return { family, src: VIP[family], dst: CLIENT[family], srcPort: 8080, dstPort };
}

/** True when the NFLOG group is free in `n`'s namespace (a reader can bind it). */
function groupFree(n: SegmentNode): boolean {
  let reader: NflogReader | undefined;
  try {
    reader = NflogReader.open(GROUP, { netns: n.ns.path });
    return true;
  } catch (err) {
    if (/already bound/.test(String(err))) return false;
    throw err;
  } finally {
    reader?.close();
  }
}

test('the ready file appears only when the relay is ready; SIGTERM removes the table and the ready file and exits 0', { skip, timeout: 30_000 }, async () => {
  await withRelayLab('life', async (lab, dir) => {
    const { nodes } = await buildSegment(lab, 2);
    const [n1, n2] = [nodes[0]!, nodes[1]!];
    assert.equal(groupFree(n1), true);
    const relay = RelayProcess.spawn(n1.ns, { dir, args: relayArgs(n2) });
    // Watch closely: the moment the file exists, everything it promises must already hold.
    await waitFor(() => existsSync(relay.readyFile) || relay.child.exitCode !== null, 15_000, 5);
    assert.equal(relay.child.exitCode, null, relay.output);
    const [readyz, healthz, table] = await Promise.all([relay.get('/readyz'), relay.get('/healthz'), nftTableExists(n1.ns, 'pathguard')]);
    assert.equal(readyz.status, 200, `/readyz when the ready file appeared: ${readyz.body}`);
    assert.equal(healthz.status, 200, `/healthz when the ready file appeared: ${healthz.body}`);
    assert.equal(table, true, 'the nftables table is in place');
    assert.equal(groupFree(n1), false, 'the NFLOG group is bound');
    const content = JSON.parse(readFileSync(relay.readyFile, 'utf8')) as { pid: number; component: string; metrics: { port: number } };
    assert.equal(content.pid, relay.child.pid);
    assert.equal(content.component, 'relay');
    assert.equal(content.metrics.port, relay.metricsPort);

    assert.deepEqual(await relay.stop('SIGTERM'), { code: 0, signal: null });
    assert.equal(existsSync(relay.readyFile), false, 'the ready file is removed');
    assert.equal(await nftTableExists(n1.ns, 'pathguard'), false, 'the nftables table is removed');
    assert.equal(groupFree(n1), true, 'the NFLOG group is released');
  });
});

test('a nonexistent --iface fails start-up with a message naming the field, and leaves nothing behind', { skip, timeout: 30_000 }, async () => {
  await withRelayLab('life', async (lab, dir) => {
    const { nodes } = await buildSegment(lab, 2);
    const [n1, n2] = [nodes[0]!, nodes[1]!];
    const relay = RelayProcess.spawn(n1.ns, { dir, args: relayArgs(n2, '--iface', 'nosuch0') });
    const exit = await relay.exited;
    assert.notEqual(exit.code, 0, relay.output);
    assert.match(relay.output, /iface \(--iface\)/, 'the message names the field and its flag');
    assert.match(relay.output, /"nosuch0"/, 'the message quotes the bad value');
    assert.match(relay.output, /existing interface/, 'the message says what was expected');
    assert.equal(existsSync(relay.readyFile), false);
    assert.equal(await nftTableExists(n1.ns, 'pathguard'), false);
  });
});

test('a second relay on the same NFLOG group fails with a clear message and leaves the running relay working', { skip, timeout: 30_000 }, async () => {
  await withRelayLab('life', async (lab, dir) => {
    const { router, nodes } = await buildSegment(lab, 2);
    const [n1, n2] = [nodes[0]!, nodes[1]!];
    await installWitness(n2.ns);
    const first = await RelayProcess.start(n1.ns, { dir, args: relayArgs(n2) });
    const second = RelayProcess.spawn(n1.ns, { dir, name: 'second', metricsPort: 9463, args: relayArgs(n2) });
    const exit = await second.exited;
    assert.equal(exit.code, 1, second.output);
    assert.match(second.output, new RegExp(`NFLOG group ${GROUP} is already bound by another process`));
    assert.equal(existsSync(second.readyFile), false, 'the failed relay never announced readiness');

    // The first relay's table and capture survive the second one's clean-up.
    assert.equal(await nftTableExists(n1.ns, 'pathguard'), true, 'the running relay\'s table is still there');
    assert.equal((await first.get('/readyz')).status, 200);
    const injector = Injector.open(router.ns);
    try {
      injector.send(n1.mac, [tooBigFor(flow(4, 43_000), FAR_ROUTER[4], 1400)]);
      await first.waitForMetric('relayed_messages_total', 1);
      await waitFor(async () => (await nftCounters(n2.ns, 'pgt_witness')).get('eth0_v4') === 1, 5000);
    } finally {
      injector.close();
    }
    assert.deepEqual(await first.stop(), { code: 0, signal: null });
  });
});

test('--dry-run captures, decides and counts what it would relay, but sends (and so relays) nothing', { skip, timeout: 30_000 }, async () => {
  await withRelayLab('life', async (lab, dir) => {
    const { router, nodes } = await buildSegment(lab, 2);
    const [n1, n2] = [nodes[0]!, nodes[1]!];
    await installWitness(n2.ns);
    const relay = await RelayProcess.start(n1.ns, { dir, args: relayArgs(n2, '--dry-run') });
    const injector = Injector.open(router.ns);
    try {
      injector.send(n1.mac, [tooBigFor(flow(4, 43_001), FAR_ROUTER[4], 1400), tooBigFor(flow(6, 43_001), FAR_ROUTER[6], 1400)]);
      await relay.waitForMetric('dry_run_messages_total', 2);
      // A replica, had one been sent, went out before the relay counted the message; a later packet from n1 to n2 must then find it counted.
      await pathDrained(n1, n2);
      const m = await relay.metrics();
      assert.equal(m.get('pathguard_relay_received_packets_total'), 2);
      assert.equal(m.get('pathguard_relay_replicas_sent_total', { transport: 'ip' }), 0);
      assert.equal(m.get('pathguard_relay_relayed_messages_total'), 0, 'nothing reached the kernel, so nothing was relayed');
      const w = await nftCounters(n2.ns, 'pgt_witness');
      assert.equal(w.get('eth0_v4'), 0, 'no IPv4 replica reached the peer');
      assert.equal(w.get('eth0_v6'), 0, 'no IPv6 replica reached the peer');
    } finally {
      injector.close();
    }
    assert.deepEqual(await relay.stop(), { code: 0, signal: null });
  });
});

test('a relay killed with SIGKILL mid-run, and a process the lab never tracked, leave no namespace behind', { skip, timeout: 30_000 }, async () => {
  let names: readonly string[] = [];
  let strayExit: Promise<NodeJS.Signals | null> | undefined;
  await withRelayLab('kill', async (lab, dir) => {
    const { router, nodes } = await buildSegment(lab, 2);
    const [n1, n2] = [nodes[0]!, nodes[1]!];
    const relay = await RelayProcess.start(n1.ns, { dir, args: relayArgs(n2) });
    const injector = Injector.open(router.ns);
    try {
      injector.send(n1.mac, [tooBigFor(flow(4, 43_002), FAR_ROUTER[4], 1400)]);
      await relay.waitForMetric('relayed_messages_total', 1);
    } finally {
      injector.close();
    }
    // Started with a plain `ip netns exec`: the lab does not know this process.
    const stray = spawn('ip', ['netns', 'exec', n2.ns.name, 'sleep', '600'], { stdio: 'ignore' });
    strayExit = new Promise((r) => stray.once('exit', (_code, signal) => r(signal)));
    await waitFor(async () => (await n2.ns.exec('ip', ['netns', 'identify', String(stray.pid)])).stdout.trim() === n2.ns.name, 5000);

    relay.child.kill('SIGKILL');
    assert.deepEqual(await relay.exited, { code: null, signal: 'SIGKILL' });
    assert.equal(await nftTableExists(n1.ns, 'pathguard'), true, 'killed uncleanly, the relay left its table: only deleting the namespace removes it');
    names = lab.names;
  });
  assert.ok(names.length >= 3);
  for (const n of names) assert.equal(existsSync(`/run/netns/${n}`), false, `${n} was deleted`);
  assert.equal(await strayExit, 'SIGKILL', 'the untracked process was ended by the teardown');
  assert.deepEqual(labsOwnedBy(labOwner()).filter((l) => names.includes(l.name)), []);
});
