// sources.ts / kubernetes-source.ts: the file source (watched, fail-static
// on unreadable files) and the Kubernetes source against the in-process API
// server (complete snapshots only, resync keeps the state, node labels).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSource, HOSTNAME_LABEL, modelFromSnapshot, parseSourceFile, type SourceState } from '../../../src/routes/sources.js';
import { KubernetesSource } from '../../../src/routes/kubernetes-source.js';
import type { MetallbSnapshot } from '../../../src/k8s/metallb-source.js';
import { FakeApiServer, RESOURCE_TYPES as T, waitFor } from '../../harness/fake-apiserver.js';

const NS = 'metallb-system';

const FILE = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: public, namespace: metallb-system}
spec: {addresses: [203.0.113.0/24]}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: all, namespace: metallb-system}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: tor, namespace: metallb-system}
spec: {peerAddress: 192.0.2.1, myASN: 64512, peerASN: 64513}
`;

const pools = (s: SourceState | undefined): string => (s?.model.pools ?? []).map((p) => `${p.name}=${p.prefixes.map((x) => x.text).join('+')}`).join(',');
const fatal = (s: SourceState | undefined): string[] => (s?.model.problems ?? []).filter((p) => p.severity === 'fatal').map((p) => p.code);

test('a file without a Node document: the node carries only its hostname label', () => {
  const { model, labels } = parseSourceFile(FILE, { nodeName: 'node-1', namespace: NS });
  assert.deepEqual(labels, { [HOSTNAME_LABEL]: 'node-1' });
  assert.equal(model.pools.length, 1);
  assert.deepEqual(model.problems, []);
});

test('a file with this node\'s Node document: its labels (an IPv6 address override included), and no "unknown kind" notice', () => {
  const text = `${FILE}---
apiVersion: v1
kind: Node
metadata:
  name: node-2
  labels: {rack: r2}
---
apiVersion: v1
kind: Node
metadata:
  name: node-1
  labels: {rack: r1, metallb-nra/address: "192.0.2.7,2001:db8::7"}
`;
  const { model, labels } = parseSourceFile(text, { nodeName: 'node-1', namespace: NS });
  assert.deepEqual(labels, { rack: 'r1', 'metallb-nra/address': '192.0.2.7,2001:db8::7' });
  assert.deepEqual(model.problems, []);
  assert.deepEqual(parseSourceFile(text, { nodeName: 'node-3' }).labels, { [HOSTNAME_LABEL]: 'node-3' });
});

test('snapshots: CRDs, the legacy ConfigMap, a missing ConfigMap (fatal), a missing Node (notice)', () => {
  const s: MetallbSnapshot = {
    pools: [{ metadata: { name: 'p', namespace: NS }, spec: { addresses: ['198.51.100.0/24'] } }],
    advertisements: [{ metadata: { name: 'a', namespace: NS } }],
    l2Advertisements: [],
    peers: [{ metadata: { name: 'tor', namespace: NS }, spec: { peerAddress: '192.0.2.1' } }],
    nodeLabels: { rack: 'r1' },
    complete: true,
  };
  const crd = modelFromSnapshot(s, { useCrds: true, namespace: NS, configMapName: 'config', nodeName: 'node-1' });
  assert.equal(crd.model.pools[0]?.name, 'p');
  assert.deepEqual(crd.labels, { rack: 'r1' });
  assert.deepEqual(crd.model.problems, []);

  const noCm = modelFromSnapshot(s, { useCrds: false, namespace: NS, configMapName: 'config', nodeName: 'node-1' });
  assert.deepEqual(noCm.model.problems.map((p) => `${p.severity} ${p.code} ${p.item}`), ['fatal source-unavailable ConfigMap metallb-system/config']);

  const cm = modelFromSnapshot(
    { ...s, configMap: { metadata: { name: 'config', namespace: NS }, data: { config: 'peers:\n- peer-address: 192.0.2.1\naddress-pools:\n- name: x\n  protocol: bgp\n  addresses: [203.0.113.0/24]\n' } } },
    { useCrds: false, namespace: NS, configMapName: 'config' },
  );
  assert.equal(cm.model.source, 'configmap');
  assert.equal(cm.model.pools[0]?.name, 'x');
  assert.deepEqual(cm.labels, {});

  const { nodeLabels: _, ...noNode } = s;
  const missing = modelFromSnapshot(noNode, { useCrds: true, namespace: NS, configMapName: 'config', nodeName: 'node-9' });
  assert.deepEqual(missing.model.problems.map((p) => `${p.severity} ${p.code}`), ['notice unknown-reference']);
});

test('file source: first read, a replace by rename, identical content, an unreadable file (fatal, fail static), then back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-routes-src-'));
  const path = join(dir, 'metallb.yaml');
  writeFileSync(path, FILE);
  const src = new FileSource(path, { nodeName: 'node-1', namespace: NS, debounceMs: 10 });
  let changes = 0;
  try {
    src.start(() => changes++);
    assert.equal(await src.loaded(2000), true);
    assert.equal(src.current()?.version, 1);
    assert.equal(pools(src.current()), 'public=203.0.113.0/24');

    // an editor / ConfigMap volume replaces the file by rename
    writeFileSync(join(dir, '.tmp'), FILE.replace('203.0.113.0/24', '203.0.113.0/25'));
    renameSync(join(dir, '.tmp'), path);
    await waitFor(() => src.current()?.version === 2, 'the re-read after the rename');
    assert.equal(pools(src.current()), 'public=203.0.113.0/25');
    const before = changes;

    // the same bytes again: no new state
    writeFileSync(path, FILE.replace('203.0.113.0/24', '203.0.113.0/25'));
    src.resync();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(src.current()?.version, 2);
    assert.equal(changes, before);

    rmSync(path);
    await waitFor(() => src.current()?.version === 3, 'the failed read');
    assert.deepEqual(fatal(src.current()), ['source-unavailable']);

    writeFileSync(path, FILE);
    await waitFor(() => src.current()?.version === 4, 'the file back');
    assert.deepEqual(fatal(src.current()), []);
    assert.equal(pools(src.current()), 'public=203.0.113.0/24');
  } finally {
    await src.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('file source: a file that does not exist at start is a state with a fatal problem, not an empty config', async () => {
  const src = new FileSource('/nonexistent-dir-pathguard/metallb.yaml', {});
  try {
    src.start(() => undefined);
    assert.equal(await src.loaded(2000), true);
    assert.deepEqual(fatal(src.current()), ['source-unavailable']);
    assert.equal(src.current()?.model.pools.length, 0);
  } finally {
    await src.stop();
  }
});

test('kubernetes source: CRDs and node labels; changes arrive; dropped watches, 410 and resync keep the state', async () => {
  const api = await FakeApiServer.start();
  api.apply(T.IPAddressPool, { metadata: { name: 'public', namespace: NS }, spec: { addresses: ['203.0.113.0/24'] } });
  api.apply(T.BGPAdvertisement, { metadata: { name: 'all', namespace: NS } });
  api.apply(T.BGPPeer, { metadata: { name: 'tor', namespace: NS }, spec: { peerAddress: '192.0.2.1', myASN: 64512, peerASN: 64513 } });
  api.apply(T.Node, { metadata: { name: 'node-1', labels: { rack: 'r1' } } });
  const src = new KubernetesSource(api.kubeConfig(), {
    useCrds: true,
    namespace: NS,
    configMapName: 'config',
    nodeName: 'node-1',
    watcher: { backoffInitialMs: 10, backoffMaxMs: 50, debounceMs: 0 },
  });
  let changes = 0;
  try {
    src.start(() => changes++);
    assert.equal(await src.loaded(5000), true);
    assert.equal(pools(src.current()), 'public=203.0.113.0/24');
    assert.deepEqual(src.current()?.labels, { rack: 'r1' });
    assert.deepEqual(src.current()?.model.problems, []);

    api.apply(T.IPAddressPool, { metadata: { name: 'second', namespace: NS }, spec: { addresses: ['198.51.100.0/24'] } });
    await waitFor(() => pools(src.current()).includes('second'), 'the new pool');
    const version = src.current()?.version;

    api.dropWatches({ abrupt: true });
    api.expire({ closeWatches: true });
    src.resync();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(pools(src.current()), 'public=203.0.113.0/24,second=198.51.100.0/24');
    assert.equal(src.current()?.version, version, 'a re-list with the same content is not a change');

    api.apply(T.Node, { metadata: { name: 'node-1', labels: { rack: 'r1', 'metallb-nra/enabled': 'false' } } });
    await waitFor(() => src.current()?.labels['metallb-nra/enabled'] === 'false', 'the relabel');
    assert.ok(changes >= 3);
  } finally {
    await src.stop();
    await api.close();
  }
});

test('kubernetes source: the legacy ConfigMap', async () => {
  const api = await FakeApiServer.start();
  api.apply(T.ConfigMap, { metadata: { name: 'config', namespace: NS }, data: { config: 'peers:\n- peer-address: 192.0.2.1\naddress-pools:\n- name: legacy\n  protocol: bgp\n  addresses: [198.51.100.0/28]\n' } });
  const src = new KubernetesSource(api.kubeConfig(), { useCrds: false, namespace: NS, configMapName: 'config', watcher: { debounceMs: 0 } });
  try {
    src.start(() => undefined);
    assert.equal(await src.loaded(5000), true);
    assert.equal(src.current()?.model.source, 'configmap');
    assert.equal(pools(src.current()), 'legacy=198.51.100.0/28');
  } finally {
    await src.stop();
    await api.close();
  }
});
