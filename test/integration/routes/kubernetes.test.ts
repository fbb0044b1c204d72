// The routes agent reading MetalLB from the Kubernetes API (the in-process
// API server, list+watch) and writing a lab namespace's kernel: CRD changes
// arrive as rule changes, dropped watches and 410 re-lists never wipe
// anything, node labels override the peers or switch the node off, the
// legacy ConfigMap works, and --once gives up on an unreachable API in
// bounded time instead of hanging.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../src/obs/log.js';
import { routesOnce } from '../../../src/routes/component.js';
import { startRoutes } from '../../../src/agent/standalone.js';
import { KubernetesSource } from '../../../src/routes/kubernetes-source.js';
import type { ReconcileReport } from '../../../src/routes/reconciler.js';
import { FakeApiServer, RESOURCE_TYPES as T } from '../../harness/fake-apiserver.js';
import { labUnavailable, waitFor, withLab } from '../../harness/netns.js';
import { expectedRules, ipRoutes, NODE, ourRules, PEERS4, PEERS6, routesLab, testConfig } from './helpers/routes-lab.js';

const skip = labUnavailable();
const NS = 'metallb-system';
const log = createLogger({ level: 'silent' });
const quick = { backoffInitialMs: 20, backoffMaxMs: 100, debounceMs: 0 };

function seed(api: FakeApiServer): void {
  api.apply(T.IPAddressPool, { metadata: { name: 'public', namespace: NS }, spec: { addresses: ['203.0.113.0/28', '2001:db8:1::/64'] } });
  api.apply(T.IPAddressPool, { metadata: { name: 'l2-only', namespace: NS }, spec: { addresses: ['198.51.100.128/25'] } });
  api.apply(T.BGPAdvertisement, { metadata: { name: 'bgp', namespace: NS }, spec: { ipAddressPools: ['public'] } });
  api.apply(T.L2Advertisement, { metadata: { name: 'l2', namespace: NS }, spec: { ipAddressPools: ['l2-only'] } });
  api.apply(T.BGPPeer, { metadata: { name: 'tor-a', namespace: NS }, spec: { peerAddress: PEERS4[0], myASN: 64512, peerASN: 64513 } });
  api.apply(T.BGPPeer, { metadata: { name: 'tor-a6', namespace: NS }, spec: { peerAddress: PEERS6[0], myASN: 64512, peerASN: 64513 } });
  api.apply(T.BGPPeer, {
    metadata: { name: 'tor-b', namespace: NS },
    spec: { peerAddress: PEERS4[1], myASN: 64512, peerASN: 64513, nodeSelectors: [{ matchLabels: { rack: 'r1' } }] },
  });
  api.apply(T.Node, { metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE, rack: 'r1' } } });
}

test('CRDs from the API become rules and routes; changes follow; watch drops and 410 re-lists never wipe; node labels apply', { skip, timeout: 60_000 }, async () => {
  const api = await FakeApiServer.start();
  try {
    seed(api);
    await withLab('k8s', async (lab) => {
      const { node } = await routesLab(lab);
      const cfg = testConfig();
      const source = new KubernetesSource(api.kubeConfig(), { useCrds: true, namespace: NS, configMapName: 'config', nodeName: NODE, watcher: quick });
      const agent = await startRoutes(cfg, log, { netns: node.path, source, installSignals: false });
      const reports: ReconcileReport[] = [];
      agent.reconciler.onReport((r) => reports.push(r));
      const rules4 = (prefixes: string[]) => async () => JSON.stringify(await ourRules(node, 4)) === JSON.stringify(expectedRules(prefixes, 4));
      try {
        await waitFor(rules4(['203.0.113.0/28']), 10_000);
        assert.deepEqual(await ourRules(node, 6), expectedRules(['2001:db8:1::/64'], 6));
        assert.deepEqual(await ipRoutes(node, 4), [`default proto 112: ${PEERS4[0]}*100 ${PEERS4[1]}*100`], 'tor-b selects this node by its rack label');

        // a new pool advertised over BGP
        api.apply(T.IPAddressPool, { metadata: { name: 'second', namespace: NS }, spec: { addresses: ['198.51.100.16/29'] } });
        api.apply(T.BGPAdvertisement, { metadata: { name: 'bgp', namespace: NS }, spec: { ipAddressPools: ['public', 'second'] } });
        await waitFor(rules4(['203.0.113.0/28', '198.51.100.16/29']), 5000);

        // watches dropped, history compacted (410 on resume), and a full re-list: nothing is removed meanwhile
        const n = reports.length;
        const watching = api.openWatches();
        const requests = api.requests.length;
        assert.ok(watching > 0, 'the source watches the API');
        api.dropWatches({ abrupt: true });
        api.expire({ closeWatches: true });
        // Sentinels instead of a pause: every watch is open again, each after a fresh list ...
        await waitFor(() => api.openWatches() === watching && api.requests.slice(requests).filter((r) => !r.watch).length >= watching, 10_000);
        // ... and a change made after that reaches the kernel, so every snapshot the re-lists produced was reconciled before it.
        api.apply(T.IPAddressPool, { metadata: { name: 'sentinel', namespace: NS }, spec: { addresses: ['198.51.100.24/29'] } });
        api.apply(T.BGPAdvertisement, { metadata: { name: 'bgp', namespace: NS }, spec: { ipAddressPools: ['public', 'second', 'sentinel'] } });
        await waitFor(rules4(['203.0.113.0/28', '198.51.100.16/29', '198.51.100.24/29']), 5000);
        assert.ok(reports.slice(n).every((r) => r.outcome !== 'applied' || (r.plan?.remove.length ?? 0) === 0), 'no removal during re-lists');
        api.apply(T.BGPAdvertisement, { metadata: { name: 'bgp', namespace: NS }, spec: { ipAddressPools: ['public', 'second'] } });
        api.remove(T.IPAddressPool, NS, 'sentinel');
        await waitFor(rules4(['203.0.113.0/28', '198.51.100.16/29']), 5000);

        // node label override of the IPv4 peers
        api.apply(T.Node, { metadata: { name: NODE, labels: { rack: 'r1', 'metallb-nra/address': `${PEERS4[2]}_${PEERS4[3]}` } } });
        await waitFor(async () => JSON.stringify(await ipRoutes(node, 4)) === JSON.stringify([`default proto 112: ${PEERS4[2]}*100 ${PEERS4[3]}*100`]), 5000);
        assert.deepEqual(await ipRoutes(node, 6), [`default proto 112: ${PEERS6[0]}`]);

        // the node opts out: everything pathguard installed goes, on purpose
        api.apply(T.Node, { metadata: { name: NODE, labels: { rack: 'r1', 'metallb-nra/enabled': 'false' } } });
        await waitFor(async () => (await ourRules(node, 4)).length === 0 && (await ourRules(node, 6)).length === 0, 5000);
        assert.deepEqual(await ipRoutes(node, 4), []);
        assert.deepEqual(await ipRoutes(node, 6), []);

        // and back in
        api.apply(T.Node, { metadata: { name: NODE, labels: { rack: 'r1' } } });
        await waitFor(rules4(['203.0.113.0/28', '198.51.100.16/29']), 5000);
      } finally {
        assert.equal(await agent.stop('test done'), 0);
      }
      assert.deepEqual(await ourRules(node, 4), expectedRules(['203.0.113.0/28', '198.51.100.16/29'], 4), 'stopping leaves the kernel as it is');
    });
  } finally {
    await api.close();
  }
});

test('--once with the legacy ConfigMap from the API; --once gives up on an unreachable API in bounded time', { skip, timeout: 60_000 }, async () => {
  const api = await FakeApiServer.start();
  try {
    api.apply(T.ConfigMap, {
      metadata: { name: 'config', namespace: NS },
      data: { config: `peers:\n- peer-address: ${PEERS4[0]}\naddress-pools:\n- name: legacy\n  protocol: bgp\n  addresses: [198.51.100.32/28]\n- name: l2\n  protocol: layer2\n  addresses: [198.51.100.64/28]\n` },
    });
    await withLab('k8s1', async (lab) => {
      const { node } = await routesLab(lab);
      const cfg = testConfig({ useCrds: false, once: true });
      const out: string[] = [];
      const io = { stdout: (s: string) => out.push(s), stderr: (s: string) => out.push(s) };
      const source = new KubernetesSource(api.kubeConfig(), { useCrds: false, namespace: NS, configMapName: 'config', nodeName: NODE, watcher: quick });
      assert.equal(await routesOnce(cfg, log, io, { netns: node.path, source }), 0, out.join('\n'));
      // the Node object does not exist: a notice only; the peer has no selector, so it applies
      assert.deepEqual(await ourRules(node, 4), expectedRules(['198.51.100.32/28'], 4));
      assert.deepEqual(await ipRoutes(node, 4), [`default proto 112: ${PEERS4[0]}`]);

      // every request fails: --once must end, saying why, and change nothing
      api.failNext(1_000_000, { status: 503 });
      const t0 = Date.now();
      const lines: string[] = [];
      const failing = new KubernetesSource(api.kubeConfig(), { useCrds: false, namespace: NS, configMapName: 'config', nodeName: NODE, watcher: quick });
      const code = await routesOnce(cfg, log, { stdout: (s) => lines.push(s), stderr: (s) => lines.push(s) }, { netns: node.path, source: failing, sourceTimeoutMs: 1000 });
      assert.equal(code, 1);
      assert.ok(Date.now() - t0 < 5000);
      assert.match(lines.join('\n'), /could not be read within 1 s; nothing changed/);
      assert.deepEqual(await ourRules(node, 4), expectedRules(['198.51.100.32/28'], 4));
    });
  } finally {
    await api.close();
  }
});
