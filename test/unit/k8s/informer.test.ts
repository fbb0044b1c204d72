// ResourceWatcher against the in-process API server (test/harness/fake-apiserver.ts):
// real HTTP on 127.0.0.1, the client's own Watch, no mocks of the client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  ResourceWatcher,
  metallbResource,
  nodeResource,
  nodesResource,
  nodeEssentials,
  configMapResource,
  type KubeObject,
  type WatcherError,
  type WatcherOptions,
} from '../../../src/k8s/informer.js';
import { ControlledSleep, FakeApiServer, RESOURCE_TYPES as T, waitFor, type StoredObject } from '../../harness/fake-apiserver.js';

const NS = 'metallb-system';

function pool(name: string, addresses: string[]): StoredObject {
  return { metadata: { name, namespace: NS }, spec: { addresses } };
}

const names = (objs: readonly KubeObject[]): string[] => objs.map((o) => o.metadata.name);

/** Starts a fake server and a watcher, records everything the consumer sees, cleans up after `body`. */
async function withWatcher(
  spec: Parameters<typeof makeWatcher>[1],
  body: (ctx: { api: FakeApiServer; w: ResourceWatcher; clock: ControlledSleep; seen: (readonly KubeObject[])[]; errors: WatcherError[] }) => Promise<void>,
  opts: { setup?: (api: FakeApiServer) => void; watcher?: WatcherOptions } = {},
): Promise<void> {
  const api = await FakeApiServer.start();
  const clock = new ControlledSleep();
  opts.setup?.(api);
  const w = makeWatcher(api, spec, { sleep: clock.sleep, random: () => 0.5, debounceMs: 0, ...opts.watcher });
  const seen: (readonly KubeObject[])[] = [];
  const errors: WatcherError[] = [];
  w.onSnapshot((s) => seen.push(s));
  w.onChange((s) => seen.push(s));
  w.onError((e) => errors.push(e));
  try {
    w.start();
    await body({ api, w, clock, seen, errors });
  } finally {
    clock.release();
    await w.stop();
    await api.close();
  }
}

function makeWatcher(api: FakeApiServer, spec: ReturnType<typeof metallbResource>, opts: WatcherOptions): ResourceWatcher {
  return new ResourceWatcher(api.kubeConfig(), spec, opts);
}

const watchRequests = (api: FakeApiServer) => api.requests.filter((r) => r.watch);
const listRequests = (api: FakeApiServer) => api.requests.filter((r) => !r.watch);

test('list, then watch from the list resourceVersion: initial snapshot, then each change', async () => {
  await withWatcher(
    metallbResource('IPAddressPool', NS),
    async ({ api, w, seen }) => {
      assert.equal(await w.synced, true);
      assert.deepEqual(names(w.snapshot()), ['pool-a', 'pool-b']);
      assert.deepEqual(names(seen[0] ?? []), ['pool-a', 'pool-b'], 'the first thing seen is the full list');
      const first = w.snapshot()[0];
      assert.equal(first?.kind, 'IPAddressPool');
      assert.equal(first?.apiVersion, 'metallb.io/v1beta1');
      assert.deepEqual(first?.['spec'], { addresses: ['192.0.2.0/28'] });

      await waitFor(() => api.openWatches() === 1, 'the watch');
      const listRv = api.resourceVersion(); // nothing written since the list
      const [watch] = watchRequests(api);
      assert.equal(watch?.path, '/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools');
      assert.equal(watch?.query['watch'], 'true');
      assert.equal(watch?.query['resourceVersion'], listRv);
      assert.equal(watch?.query['allowWatchBookmarks'], 'true');

      api.apply(T.IPAddressPool, pool('pool-c', ['203.0.113.0/24']));
      await waitFor(() => names(w.snapshot()).includes('pool-c'), 'ADDED pool-c');
      const modified = api.apply(T.IPAddressPool, pool('pool-a', ['192.0.2.128/25']));
      await waitFor(() => w.snapshot()[0]?.metadata.resourceVersion === modified.metadata.resourceVersion, 'MODIFIED pool-a');
      assert.deepEqual(w.snapshot()[0]?.['spec'], { addresses: ['192.0.2.128/25'] });
      api.remove(T.IPAddressPool, NS, 'pool-b');
      await waitFor(() => names(w.snapshot()).join() === 'pool-a,pool-c', 'DELETED pool-b');
      await waitFor(() => names(seen.at(-1) ?? []).join() === 'pool-a,pool-c', 'onChange after the delete');

      assert.equal(listRequests(api).length, 1, 'no second list');
      assert.deepEqual({ lists: w.stats().lists, relists: w.stats().relists, errors: w.stats().errors }, { lists: 1, relists: 0, errors: 0 });
      assert.equal(w.stats().resourceVersion, api.resourceVersion());
    },
    {
      setup: (api) => {
        api.apply(T.IPAddressPool, pool('pool-b', ['198.51.100.0/24']));
        api.apply(T.IPAddressPool, pool('pool-a', ['192.0.2.0/28']));
        // Another namespace's pool is not ours.
        api.apply(T.IPAddressPool, { metadata: { name: 'other', namespace: 'default' }, spec: {} });
      },
    },
  );
});

for (const abrupt of [false, true]) {
  test(`a dropped watch (${abrupt ? 'socket reset' : 'clean end'}) resumes from the last resourceVersion without a re-list`, async () => {
    await withWatcher(
      metallbResource('IPAddressPool', NS),
      async ({ api, w, clock, seen }) => {
        await w.synced;
        await waitFor(() => api.openWatches() === 1, 'the watch');
        const changed = api.apply(T.IPAddressPool, pool('pool-a', ['192.0.2.64/26']));
        await waitFor(() => w.stats().resourceVersion === changed.metadata.resourceVersion, 'the MODIFIED event');

        // Hold the reconnect (if the watcher backs off) and change things while it is away.
        clock.hold();
        assert.equal(api.dropWatches({ abrupt }), 1);
        api.apply(T.IPAddressPool, pool('pool-b', ['198.51.100.0/25']));
        clock.release();

        await waitFor(() => names(w.snapshot()).join() === 'pool-a,pool-b', 'the change made while disconnected');
        const watches = watchRequests(api);
        assert.equal(watches.length, 2);
        assert.equal(watches[1]?.query['resourceVersion'], changed.metadata.resourceVersion, 'resumed from the last event');
        assert.equal(listRequests(api).length, 1, 'no re-list after a drop');
        assert.equal(w.stats().relists, 0);
        for (const s of seen) assert.ok(s.length >= 1, 'never an empty set');
      },
      { setup: (api) => api.apply(T.IPAddressPool, pool('pool-a', ['192.0.2.0/28'])) },
    );
  });
}

test('a BOOKMARK moves the resume point forward', async () => {
  await withWatcher(
    metallbResource('IPAddressPool', NS),
    async ({ api, w }) => {
      await w.synced;
      await waitFor(() => api.openWatches() === 1, 'the watch');
      // Writes elsewhere advance the global resourceVersion; the bookmark carries it.
      api.apply(T.ConfigMap, { metadata: { name: 'unrelated', namespace: 'default' }, data: {} });
      api.bookmark();
      await waitFor(() => w.stats().resourceVersion === api.resourceVersion(), 'the bookmark');
      api.dropWatches();
      await waitFor(() => watchRequests(api).length === 2 && api.openWatches() === 1, 'the second watch');
      assert.equal(watchRequests(api)[1]?.query['resourceVersion'], api.resourceVersion());
      assert.equal(listRequests(api).length, 1);
    },
    { setup: (api) => api.apply(T.IPAddressPool, pool('pool-a', ['192.0.2.0/28'])) },
  );
});

test('410 Gone on an open watch: re-list, and every snapshot seen is complete (never empty, never a mix)', async () => {
  const before = ['pool-a', 'pool-b', 'pool-c'];
  const after = ['pool-b', 'pool-c', 'pool-d'];
  await withWatcher(
    metallbResource('IPAddressPool', NS),
    async ({ api, w, seen }) => {
      await w.synced;
      await waitFor(() => api.openWatches() === 1, 'the watch');
      // Disconnect silently: changes made now are only visible to a fresh list.
      api.dropWatches();
      api.expire();
      api.remove(T.IPAddressPool, NS, 'pool-a');
      api.apply(T.IPAddressPool, pool('pool-d', ['203.0.113.0/24']));
      api.expire();

      await waitFor(() => names(w.snapshot()).join() === after.join(), 'the re-listed set');
      await waitFor(() => api.openWatches() === 1, 'the watch after the re-list');
      assert.equal(w.stats().relists, 1);
      assert.equal(w.stats().lists, 2);
      assert.equal(listRequests(api).length, 2);
      // The watch from the stale version came before the second list.
      const kinds = api.requests.map((r) => (r.watch ? `watch@${r.query['resourceVersion']}` : 'list'));
      assert.equal(kinds[0], 'list');
      assert.match(kinds[1] ?? '', /^watch@\d+$/);
      assert.equal(kinds.filter((k) => k === 'list').length, 2);

      const allowed = new Set([before.join(), after.join()]);
      assert.ok(seen.length >= 2);
      for (const s of seen) assert.ok(allowed.has(names(s).join()), `unexpected intermediate set ${names(s).join()}`);
      assert.equal(names(seen.at(-1) ?? []).join(), after.join());
    },
    { setup: (api) => before.forEach((n, i) => api.apply(T.IPAddressPool, pool(n, [`192.0.2.${i * 16}/28`]))) },
  );
});

test('410 as an ERROR event on the open stream (watch cache dropped us) also re-lists', async () => {
  await withWatcher(
    nodesResource(),
    async ({ api, w, seen }) => {
      await w.synced;
      await waitFor(() => api.openWatches() === 1, 'the watch');
      api.expire({ closeWatches: true });
      await waitFor(() => w.stats().relists === 1 && api.openWatches() === 1, 're-list and a new watch');
      assert.equal(listRequests(api).length, 2);
      assert.equal(w.stats().errors, 0, '410 is protocol, not an error');
      for (const s of seen) assert.deepEqual(names(s), ['node-1', 'node-2']);
      // Core-group list items get kind/apiVersion from the list, like watch objects.
      assert.equal(w.snapshot()[0]?.kind, 'Node');
      assert.equal(w.snapshot()[0]?.apiVersion, 'v1');
    },
    {
      setup: (api) => {
        api.apply(T.Node, { metadata: { name: 'node-2' }, status: { addresses: [{ type: 'InternalIP', address: '192.0.2.2' }] } });
        api.apply(T.Node, { metadata: { name: 'node-1' }, status: { addresses: [{ type: 'InternalIP', address: '192.0.2.1' }] } });
      },
    },
  );
});

test('fail static: a re-list that keeps failing leaves the last snapshot in place', async () => {
  await withWatcher(
    metallbResource('IPAddressPool', NS),
    async ({ api, w, clock, seen, errors }) => {
      await w.synced;
      await waitFor(() => api.openWatches() === 1, 'the watch');
      clock.hold();
      api.failNext(3, { on: 'list', status: 503 });
      api.expire({ closeWatches: true });
      // Three failed lists, each followed by a held back-off (released one by one).
      for (let i = 1; i <= 3; i++) {
        await waitFor(() => clock.waiting() === 1, `back-off ${i}`);
        assert.deepEqual(names(w.snapshot()), ['pool-a'], 'the old set stays while the API is failing');
        clock.release();
        clock.hold();
      }
      clock.release();
      await waitFor(() => w.stats().lists === 2 && api.openWatches() === 1, 'the successful re-list');
      assert.equal(w.stats().errors, 3);
      assert.deepEqual(errors.map((e) => [e.phase, e.status]), [['list', 503], ['list', 503], ['list', 503]]);
      for (const s of seen) assert.deepEqual(names(s), ['pool-a']);
    },
    { setup: (api) => api.apply(T.IPAddressPool, pool('pool-a', ['192.0.2.0/28'])) },
  );
});

test('back-off: delays come from the injected sleep, double from 1 s, cap at 30 s, with jitter from the injected random', async () => {
  for (const [random, expected] of [
    [0.5, [1000, 2000, 4000, 8000, 16000, 30000, 30000]], // factor 1.0
    [0, [1000, 1500, 3000, 6000, 12000, 22500, 22500]], // factor 0.75, never below 1 s
    [0.9, [1200, 2400, 4800, 9600, 19200, 30000, 30000]], // factor 1.2, never above 30 s
  ] as const) {
    await withWatcher(
      metallbResource('IPAddressPool', NS),
      async ({ api, w, clock, errors }) => {
        assert.equal(await w.synced, true);
        assert.deepEqual(clock.delays, expected);
        assert.deepEqual(errors.map((e) => e.retryInMs), expected);
        assert.ok(errors.every((e) => e.status === 500 && e.phase === 'list' && /injected failure/.test(e.message)));
        assert.equal(w.stats().errors, 7);
        assert.equal(listRequests(api).length, 8);
      },
      { setup: (api) => api.failNext(7, { on: 'list' }), watcher: { random: () => random } },
    );
  }
});

test('a failing watch backs off and retries from the same resourceVersion', async () => {
  await withWatcher(
    metallbResource('IPAddressPool', NS),
    async ({ api, w, clock, errors }) => {
      await w.synced;
      await waitFor(() => api.openWatches() === 1, 'the watch');
      const rv = w.stats().resourceVersion;
      assert.deepEqual(clock.delays, [1000, 2000]);
      assert.equal(watchRequests(api).length, 3);
      assert.deepEqual(errors.map((e) => [e.phase, e.status, e.retryInMs]), [['watch', 500, 1000], ['watch', 500, 2000]]);
      assert.deepEqual(watchRequests(api).map((r) => r.query['resourceVersion']), [rv, rv, rv]);
      assert.equal(listRequests(api).length, 1);
    },
    {
      setup: (api) => {
        api.apply(T.IPAddressPool, pool('pool-a', ['192.0.2.0/28']));
        api.failNext(2, { on: 'watch' });
      },
    },
  );
});

test('a CRD that is not installed is an empty, synced set, polled every 30 s until it appears', async () => {
  await withWatcher(
    metallbResource('L2Advertisement', NS),
    async ({ api, w, clock }) => {
      assert.equal(await w.synced, true);
      assert.deepEqual(w.snapshot(), []);
      assert.equal(w.stats().served, false);
      await waitFor(() => clock.delays.length > 0, 'the poll');
      assert.equal(clock.delays[0], 30000);
      api.serve(T.L2Advertisement);
      api.apply(T.L2Advertisement, { metadata: { name: 'l2', namespace: NS }, spec: {} });
      await waitFor(() => names(w.snapshot()).join() === 'l2', 'the CRD once served');
      assert.equal(w.stats().served, true);
      assert.equal(w.stats().errors, 0);
    },
    { setup: (api) => api.unserve(T.L2Advertisement) },
  );
});

test('fail static: a CRD that was served and answers 404 on re-list keeps its objects', async () => {
  await withWatcher(
    metallbResource('IPAddressPool', NS),
    async ({ api, w, seen }) => {
      await w.synced;
      await waitFor(() => api.openWatches() === 1, 'the watch');
      api.unserve(T.IPAddressPool);
      api.expire({ closeWatches: true });
      await waitFor(() => w.stats().served === false, 'the 404');
      assert.deepEqual(names(w.snapshot()), ['pool-a']);
      for (const s of seen) assert.deepEqual(names(s), ['pool-a']);
    },
    { setup: (api) => api.apply(T.IPAddressPool, pool('pool-a', ['192.0.2.0/28'])) },
  );
});

test('BGPPeer falls back to v1beta1 when v1beta2 is not served', async () => {
  await withWatcher(
    metallbResource('BGPPeer', NS),
    async ({ api, w }) => {
      await w.synced;
      assert.deepEqual(names(w.snapshot()), ['peer-1']);
      assert.equal(w.snapshot()[0]?.apiVersion, 'metallb.io/v1beta1');
      await waitFor(() => api.openWatches() === 1, 'the watch');
      assert.equal(watchRequests(api)[0]?.path, '/apis/metallb.io/v1beta1/namespaces/metallb-system/bgppeers');
    },
    {
      setup: (api) => {
        api.unserve(T.BGPPeer);
        api.apply(T.BGPPeerV1beta1, { metadata: { name: 'peer-1', namespace: NS }, spec: { peerAddress: '192.0.2.254', peerASN: 64512, myASN: 64513 } });
      },
    },
  );
});

test('one object by name: ConfigMap and Node use a metadata.name field selector on list and watch', async () => {
  await withWatcher(
    configMapResource(NS, 'config'),
    async ({ api, w }) => {
      await w.synced;
      assert.deepEqual(names(w.snapshot()), ['config']);
      await waitFor(() => api.openWatches() === 1, 'the watch');
      for (const r of api.requests) assert.equal(r.query['fieldSelector'], 'metadata.name=config');
      api.apply(T.ConfigMap, { metadata: { name: 'other', namespace: NS }, data: {} });
      api.apply(T.ConfigMap, { metadata: { name: 'config', namespace: NS }, data: { config: 'address-pools: []\n' } });
      await waitFor(() => w.snapshot()[0]?.['data'] !== undefined && (w.snapshot()[0]?.['data'] as Record<string, string>)['config'] !== undefined, 'the update');
      assert.deepEqual(names(w.snapshot()), ['config']);
    },
    { setup: (api) => api.apply(T.ConfigMap, { metadata: { name: 'config', namespace: NS }, data: {} }) },
  );
  await withWatcher(
    nodeResource('node-2'),
    async ({ api, w }) => {
      await w.synced;
      assert.deepEqual(names(w.snapshot()), ['node-2']);
      assert.deepEqual(w.snapshot()[0]?.metadata.labels, { zone: 'b' });
      assert.equal(api.requests[0]?.path, '/api/v1/nodes');
      assert.equal(api.requests[0]?.query['fieldSelector'], 'metadata.name=node-2');
    },
    {
      setup: (api) => {
        api.apply(T.Node, { metadata: { name: 'node-1', labels: { zone: 'a' } } });
        api.apply(T.Node, { metadata: { name: 'node-2', labels: { zone: 'b' } } });
      },
    },
  );
});

test('onChange is debounced: a burst of events is reported once', async () => {
  await withWatcher(
    nodesResource(),
    async ({ api, w }) => {
      await w.synced;
      await waitFor(() => api.openWatches() === 1, 'the watch');
      await new Promise((resolve) => setTimeout(resolve, 80)); // let the first list's report pass
      const changes: number[] = [];
      w.onChange((s) => changes.push(s.length));
      for (let i = 1; i <= 20; i++) api.apply(T.Node, { metadata: { name: `node-${i}` } });
      await waitFor(() => w.snapshot().length === 20, 'the burst');
      await new Promise((resolve) => setTimeout(resolve, 80));
      assert.deepEqual(changes, [20]);
    },
    { watcher: { debounceMs: 40 } },
  );
});

test('stop() before the first list resolves synced to false', async () => {
  const api = await FakeApiServer.start();
  try {
    const clock = new ControlledSleep();
    clock.hold();
    api.failNext(1, { on: 'list' });
    const w = new ResourceWatcher(api.kubeConfig(), nodesResource(), { sleep: clock.sleep });
    w.start();
    await waitFor(() => clock.waiting() === 1, 'the back-off');
    await w.stop();
    assert.equal(await w.synced, false);
    assert.deepEqual(w.snapshot(), []);
  } finally {
    await api.close();
  }
});

test('stop() leaves no open handles: a process that stops its watchers exits by itself', () => {
  // Run in a child so that a leaked socket or timer shows up as a hang.
  const informer = new URL('../../../src/k8s/informer.js', import.meta.url).href;
  const harness = new URL('../../harness/fake-apiserver.js', import.meta.url).href;
  const script = `
    import { ResourceWatcher, nodesResource, metallbResource } from ${JSON.stringify(informer)};
    import { FakeApiServer, RESOURCE_TYPES } from ${JSON.stringify(harness)};
    const api = await FakeApiServer.start();
    api.apply(RESOURCE_TYPES.Node, { metadata: { name: 'node-1' } });
    api.unserve(RESOURCE_TYPES.L2Advertisement);
    const kc = api.kubeConfig();
    // Default (real) sleep: one watcher is mid-watch, the other in its 30 s poll.
    const a = new ResourceWatcher(kc, nodesResource());
    const b = new ResourceWatcher(kc, metallbResource('L2Advertisement', 'x'));
    a.start(); b.start();
    await Promise.all([a.synced, b.synced]);
    while (api.openWatches() < 1) await new Promise((r) => setTimeout(r, 5));
    await Promise.all([a.stop(), b.stop()]);
    await api.close();
    console.log('stopped');
  `;
  const started = Date.now();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.signal, null, `the child hung (killed by ${r.signal}); stderr: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'stopped');
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
});

test('keep: the cache holds only what is kept, and an update that changes nothing kept (a heartbeat) is no change', async () => {
  const node = (address: string, heartbeat: string): StoredObject => ({
    metadata: { name: 'n2', labels: { rack: 'r1' } },
    status: { addresses: [{ type: 'InternalIP', address }], conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: heartbeat }], images: [{ names: ['a'], sizeBytes: 1 }] },
  });
  await withWatcher(
    nodesResource(),
    async ({ api, w, seen }) => {
      await w.synced;
      await waitFor(() => seen.length === 2, 'the first list and its change report');
      const kept = w.snapshot()[0] as KubeObject & { status?: Record<string, unknown> };
      assert.deepEqual(Object.keys(kept.status ?? {}), ['addresses'], 'conditions and images are not cached');
      assert.deepEqual(kept.metadata.labels, { rack: 'r1' });
      const before = seen.length;
      api.apply(T.Node, node('192.0.2.12', '2026-01-01T00:00:10Z'));
      api.apply(T.Node, node('192.0.2.22', '2026-01-01T00:00:20Z'));
      await waitFor(() => seen.length > before && (seen.at(-1)![0] as { status?: { addresses?: { address: string }[] } }).status?.addresses?.[0]?.address === '192.0.2.22', 'the address change');
      assert.equal(seen.length, before + 1, 'the heartbeat alone was not reported');
    },
    { setup: (api) => api.apply(T.Node, node('192.0.2.12', '2026-01-01T00:00:00Z')), watcher: { keep: nodeEssentials } },
  );
});
