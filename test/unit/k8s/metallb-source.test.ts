// MetallbSource against the in-process API server: it emits only complete
// snapshots, with every MetalLB resource, the legacy ConfigMap and this node's labels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetallbSource, type MetallbSnapshot } from '../../../src/k8s/metallb-source.js';
import type { KubeObject } from '../../../src/k8s/informer.js';
import { ControlledSleep, FakeApiServer, RESOURCE_TYPES as T, waitFor } from '../../harness/fake-apiserver.js';

const NS = 'metallb-system';
const names = (objs: readonly KubeObject[]): string => objs.map((o) => o.metadata.name).join();

function seed(api: FakeApiServer): void {
  api.apply(T.IPAddressPool, { metadata: { name: 'public', namespace: NS }, spec: { addresses: ['203.0.113.0/24', '2001:db8:1::/64'] } });
  api.apply(T.IPAddressPool, { metadata: { name: 'internal', namespace: NS }, spec: { addresses: ['198.51.100.0/24'] } });
  api.apply(T.BGPAdvertisement, { metadata: { name: 'adv', namespace: NS }, spec: { ipAddressPools: ['public'] } });
  api.apply(T.L2Advertisement, { metadata: { name: 'l2', namespace: NS }, spec: { ipAddressPools: ['internal'] } });
  api.apply(T.BGPPeer, { metadata: { name: 'tor-a', namespace: NS }, spec: { peerAddress: '192.0.2.1', peerASN: 64512, myASN: 64513 } });
  api.apply(T.BGPPeer, { metadata: { name: 'tor-b', namespace: NS }, spec: { peerAddress: '192.0.2.2', peerASN: 64512, myASN: 64513 } });
  api.apply(T.ConfigMap, { metadata: { name: 'config', namespace: NS }, data: { config: 'peers: []\n' } });
  api.apply(T.Node, { metadata: { name: 'node-1', labels: { 'kubernetes.io/hostname': 'node-1', rack: 'r1' } } });
  api.apply(T.Node, { metadata: { name: 'node-2', labels: { 'kubernetes.io/hostname': 'node-2', rack: 'r2' } } });
}

test('emits nothing until every watcher has synced, then one complete snapshot', async () => {
  const api = await FakeApiServer.start();
  const clock = new ControlledSleep();
  const src = new MetallbSource(api.kubeConfig(), { nodeName: 'node-1', sleep: clock.sleep, random: () => 0.5, debounceMs: 0 });
  const seen: MetallbSnapshot[] = [];
  src.onSnapshot((s) => seen.push(s));
  try {
    seed(api);
    // The BGPPeer list fails once and its retry is held: everything else syncs meanwhile.
    clock.hold();
    api.failNext(1, { on: 'list', path: '/bgppeers' });
    src.start();
    await waitFor(() => clock.waiting() === 1, 'the peers back-off');
    await waitFor(() => api.requests.filter((r) => r.watch).length === 5, 'the other five watches');
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(seen.length, 0, 'no snapshot while the peers are unknown');
    const partial = src.snapshot();
    assert.equal(partial.complete, false);
    assert.equal(names(partial.pools), 'internal,public');
    assert.equal(names(partial.peers), '');

    clock.release();
    assert.equal(await src.synced, true);
    await waitFor(() => seen.length >= 1, 'the first snapshot');
    const s = seen[0];
    assert.ok(s !== undefined);
    assert.equal(s.complete, true);
    assert.equal(names(s.pools), 'internal,public');
    assert.deepEqual(s.pools[1]?.['spec'], { addresses: ['203.0.113.0/24', '2001:db8:1::/64'] });
    assert.equal(names(s.advertisements), 'adv');
    assert.equal(names(s.l2Advertisements), 'l2');
    assert.equal(names(s.peers), 'tor-a,tor-b');
    assert.equal(s.peers[0]?.apiVersion, 'metallb.io/v1beta2');
    assert.equal(s.configMap?.metadata.name, 'config');
    assert.equal(s.configMap?.kind, 'ConfigMap');
    assert.deepEqual(s.nodeLabels, { 'kubernetes.io/hostname': 'node-1', rack: 'r1' });
    assert.deepEqual(Object.keys(src.stats()).sort(), ['advertisements', 'configMap', 'l2Advertisements', 'node', 'peers', 'pools']);
    assert.equal(src.stats()['peers']?.errors, 1);
  } finally {
    clock.release();
    await src.stop();
    await api.close();
  }
});

test('changes, node relabels and a 410 on every watch: every snapshot is complete and never loses the pools', async () => {
  const api = await FakeApiServer.start();
  const clock = new ControlledSleep();
  const src = new MetallbSource(api.kubeConfig(), { nodeName: 'node-1', sleep: clock.sleep, random: () => 0.5, debounceMs: 0 });
  const seen: MetallbSnapshot[] = [];
  src.onSnapshot((s) => seen.push(s));
  try {
    seed(api);
    src.start();
    await src.synced;
    await waitFor(() => api.openWatches() === 6, 'six watches');

    api.apply(T.Node, { metadata: { name: 'node-1', labels: { 'kubernetes.io/hostname': 'node-1', rack: 'r9' } } });
    await waitFor(() => seen.at(-1)?.nodeLabels?.['rack'] === 'r9', 'the relabel');
    api.apply(T.Node, { metadata: { name: 'node-2', labels: { rack: 'r7' } } }); // not this node

    api.expire({ closeWatches: true });
    api.remove(T.BGPPeer, NS, 'tor-b');
    await waitFor(() => Object.values(src.stats()).every((st) => st.relists === 1) && api.openWatches() === 6, 're-lists');
    await waitFor(() => names(seen.at(-1)?.peers ?? []) === 'tor-a', 'the peer removal');

    for (const s of seen) {
      assert.equal(s.complete, true);
      assert.equal(names(s.pools), 'internal,public', 'pools are never dropped, not even during the re-list');
      assert.equal(names(s.advertisements), 'adv');
      assert.ok(s.peers.length >= 1);
      assert.ok(s.configMap !== undefined);
      assert.equal(s.nodeLabels?.['kubernetes.io/hostname'], 'node-1');
    }
    assert.equal(src.snapshot().nodeLabels?.['rack'], 'r9');
  } finally {
    await src.stop();
    await api.close();
  }
});

test('without a node name or the legacy ConfigMap it watches the four CRDs only', async () => {
  const api = await FakeApiServer.start();
  const src = new MetallbSource(api.kubeConfig(), { namespace: 'lb', configMapName: false, debounceMs: 0 });
  try {
    api.apply(T.IPAddressPool, { metadata: { name: 'p', namespace: 'lb' }, spec: { addresses: ['192.0.2.0/24'] } });
    api.apply(T.IPAddressPool, { metadata: { name: 'elsewhere', namespace: NS }, spec: {} });
    src.start();
    assert.equal(await src.synced, true);
    const s = src.snapshot();
    assert.equal(s.complete, true);
    assert.equal(names(s.pools), 'p');
    assert.equal(s.configMap, undefined);
    assert.equal(s.nodeLabels, undefined);
    assert.deepEqual(Object.keys(src.stats()).sort(), ['advertisements', 'l2Advertisements', 'peers', 'pools']);
    assert.ok(api.requests.every((r) => r.path.startsWith('/apis/metallb.io/') && r.path.includes('/namespaces/lb/')));
  } finally {
    await src.stop();
    await api.close();
  }
});
