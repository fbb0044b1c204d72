// Peer discovery from Node objects, against the in-process API server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubernetesPeers, peersFromNodes } from '../../../src/peers/kubernetes.js';
import { FakeApiServer, RESOURCE_TYPES as T, waitFor } from '../../harness/fake-apiserver.js';

function node(name: string, addresses: [string, string][]) {
  return { metadata: { name }, status: { addresses: addresses.map(([type, address]) => ({ type, address })) } };
}

const ids = (ps: readonly { addresses: readonly { address: string }[] }[]) => ps.map((p) => p.addresses.map((a) => a.address).join('+'));

test('peersFromNodes makes one peer per other node with its InternalIPs, canonical and sorted, and skips unusable ones', () => {
  const peers = peersFromNodes(
    [
      node('a', [['InternalIP', '192.0.2.11'], ['Hostname', 'a'], ['InternalIP', '2001:db8:1:0::11']]),
      node('b', [['InternalIP', '192.0.2.12'], ['ExternalIP', '203.0.113.12']]),
      node('c', [['InternalIP', '127.0.0.1'], ['InternalIP', 'not-an-ip'], ['InternalIP', '192.0.2.13']]),
      node('d', [['InternalIP', '2001:db8:1::14'], ['InternalIP', '192.0.2.14']]),
      node('e', [['InternalIP', '::1']]),
    ],
    { nodeName: 'a' },
  );
  assert.deepEqual(
    peers.map((p) => [ids([p])[0], p.name, p.id]),
    [
      ['192.0.2.12', 'b', 'b'],
      ['192.0.2.13', 'c', 'c'],
      ['192.0.2.14+2001:db8:1::14', 'd', 'd'],
    ],
    'a dual-stack node is one peer; a node with no usable address is none',
  );
  const withExternal = peersFromNodes([node('b', [['InternalIP', '192.0.2.12'], ['ExternalIP', '203.0.113.12']])], { addressTypes: ['ExternalIP'] });
  assert.deepEqual(ids(withExternal), ['203.0.113.12']);
});

test('KubernetesPeers follows nodes joining and leaving, never lists itself, and excludes local addresses', async () => {
  const api = await FakeApiServer.start();
  api.apply(T.Node, node('self', [['InternalIP', '192.0.2.11']]));
  api.apply(T.Node, node('b', [['InternalIP', '192.0.2.12']]));
  const peers = new KubernetesPeers(api.kubeConfig(), { nodeName: 'self' });
  const seen: string[][] = [];
  peers.subscribe((p) => seen.push(ids(p)));
  try {
    assert.equal(await peers.start(), true);
    assert.deepEqual(ids(peers.current()), ['192.0.2.12']);
    api.apply(T.Node, node('c', [['InternalIP', '192.0.2.13'], ['InternalIP', '2001:db8:1::13']]));
    await waitFor(() => peers.current().length === 2, 'node c to join');
    assert.deepEqual(ids(peers.current()), ['192.0.2.12', '192.0.2.13+2001:db8:1::13']);
    peers.excludeLocal(['2001:db8:1::13']);
    assert.deepEqual(ids(peers.current()), ['192.0.2.12'], 'a node holding a local address is this node');
    peers.excludeLocal([]);
    api.remove(T.Node, undefined, 'b');
    await waitFor(() => peers.current().length === 1, 'node b to leave');
    assert.deepEqual(ids(peers.current()), ['192.0.2.13+2001:db8:1::13']);
    // Every update the relay heard was a real change.
    for (let i = 1; i < seen.length; i++) assert.notDeepEqual(seen[i], seen[i - 1]);
  } finally {
    await peers.stop();
    await api.close();
  }
});

test('peersFromNodes with a cache derives a node again only when its addresses changed, and forgets nodes that left', () => {
  const cache = new Map();
  const a = node('a', [['InternalIP', '192.0.2.11']]);
  const b = node('b', [['InternalIP', '192.0.2.12']]);
  const first = peersFromNodes([a, b], {}, cache);
  const again = peersFromNodes([{ ...a, metadata: { ...a.metadata, resourceVersion: '2' } }, b], {}, cache);
  assert.equal(again[0], first[0], 'the same peer object: nothing was parsed again');
  const moved = peersFromNodes([node('a', [['InternalIP', '192.0.2.21']]), b], {}, cache);
  assert.deepEqual(ids(moved), ['192.0.2.12', '192.0.2.21']);
  peersFromNodes([b], {}, cache);
  assert.deepEqual([...cache.keys()], ['b']);
  assert.deepEqual(ids(peersFromNodes([a, b], {}, cache)), ids(peersFromNodes([a, b], {})), 'cached and uncached agree');
});
