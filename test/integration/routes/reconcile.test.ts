// The routes reconciler against a real kernel, in network namespaces: the
// kernel state equals the configuration for 1, 100 and 1,000 pools in both
// families (read back with `ip -j`, not with pathguard's own decoder), a
// second run changes nothing, a new peer set replaces the route in one step,
// foreign objects are left alone, a link flap is repaired within a second
// without any configuration event, and a broken configuration keeps the
// last good state (fail static) while drift is still repaired.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../src/obs/log.js';
import { RoutesKernel, type KernelEvent } from '../../../src/routes/kernel.js';
import { Reconciler, type ReconcileReport } from '../../../src/routes/reconciler.js';
import { routesClean } from '../../../src/routes/component.js';
import { labUnavailable, waitFor, withLab, type Netns } from '../../harness/netns.js';
import {
  expectedRules,
  ipRoutes,
  ipRules,
  ipv4Prefixes,
  ipv6Prefixes,
  metallbYaml,
  ourRules,
  PEERS4,
  PEERS6,
  poolsOf,
  routesLab,
  StaticSource,
  testConfig,
} from './helpers/routes-lab.js';

const skip = labUnavailable();
const log = createLogger({ level: 'silent' });

function setup(node: Netns, text: string, flags: Record<string, unknown> = {}) {
  const kernel = RoutesKernel.open({ netns: node.path });
  const source = new StaticSource(text);
  const reconciler = new Reconciler({ cfg: testConfig(flags), kernel, source, log, retryMs: { initial: 100, max: 200 } });
  return { kernel, source, reconciler };
}

/**
 * Sentinel for "every notification so far has been read": a route added to
 * and removed from a table no one else uses, and its removal seen. The
 * kernel queues a socket's notifications in order, so all earlier ones are
 * in `events` by then.
 */
async function eventsDrained(node: Netns, events: readonly KernelEvent[]): Promise<void> {
  const seen = events.filter((e) => e.kind === 'route' && e.table === 99 && e.removed).length;
  await node.ip('route', 'add', 'blackhole', '203.0.113.99/32', 'table', '99');
  await node.ip('route', 'del', 'blackhole', '203.0.113.99/32', 'table', '99');
  await waitFor(() => events.filter((e) => e.kind === 'route' && e.table === 99 && e.removed).length > seen, 2000);
}

function assertClean(r: ReconcileReport, outcome: ReconcileReport['outcome']): void {
  assert.equal(r.outcome, outcome, `${r.outcome}: ${r.held?.reason ?? ''} ${r.failures.map((f) => f.error.message).join('; ')} ${r.problems.map((p) => p.message).join('; ')}`);
  assert.deepEqual(r.failures, []);
}

for (const family of [4, 6] as const) {
  test(`IPv${family}: kernel state equals the config for 1, 100 and 1000 pools; a second run changes nothing`, { skip, timeout: 120_000 }, async () => {
    await withLab(`sz${family}`, async (lab) => {
      const { node } = await routesLab(lab);
      const peers = family === 4 ? PEERS4.slice(0, 2) : PEERS6.slice(0, 2);
      const all = family === 4 ? ipv4Prefixes().slice(0, 1000) : ipv6Prefixes(1000);
      const { kernel, source, reconciler } = setup(node, metallbYaml({ pools: [], peers }));
      try {
        for (const n of [1, 100, 1000, 100]) {
          const prefixes = all.slice(0, n);
          source.set(metallbYaml({ pools: poolsOf(prefixes), peers }), false);
          const t0 = performance.now();
          const first = await reconciler.reconcile('test');
          const ms = performance.now() - t0;
          assertClean(first, 'applied');
          assert.deepEqual(first.problems, []);
          assert.deepEqual(await ourRules(node, family), expectedRules(prefixes, family), `${n} pools`);
          assert.deepEqual(await ipRoutes(node, family), [`default proto 112: ${peers.map((p) => `${p}*100`).join(' ')}`]);
          // the other family is untouched: no pools there, so nothing of ours
          assert.deepEqual(await ourRules(node, family === 4 ? 6 : 4), []);
          if (n === 1000) assert.ok(ms < 5000, `1,000 pools took ${ms.toFixed(0)} ms`);

          const before = [await ipRules(node, 4), await ipRules(node, 6), await ipRoutes(node, family)];
          const second = await reconciler.reconcile('test');
          assertClean(second, 'unchanged');
          assert.equal(second.plan?.unchanged, n + 2, 'every rule, the companion and the route in place');
          assert.deepEqual([await ipRules(node, 4), await ipRules(node, 6), await ipRoutes(node, family)], before);
        }
      } finally {
        kernel.close();
      }
    });
  });
}

test('a changed peer set swaps the route in one step (RTM_NEWROUTE replace, no moment without a route), both families', { skip }, async () => {
  await withLab('swap', async (lab) => {
    const { node } = await routesLab(lab);
    const prefixes = [...ipv4Prefixes().slice(0, 10), ...ipv6Prefixes(10)];
    const text = (peers: string[]) => metallbYaml({ pools: poolsOf(prefixes), peers });
    const { kernel, source, reconciler } = setup(node, text([PEERS4[0]!, PEERS4[1]!, PEERS6[0]!, PEERS6[1]!]), { peerWeight: `100,${PEERS4[2]}=7,${PEERS6[2]}=9` });
    const watcher = RoutesKernel.open({ netns: node.path });
    const events: KernelEvent[] = [];
    const sub = watcher.subscribe((e) => events.push(...e));
    try {
      assertClean(await reconciler.reconcile('test'), 'applied');
      await eventsDrained(node, events);
      events.length = 0;

      source.set(text([PEERS4[1]!, PEERS4[2]!, PEERS6[1]!, PEERS6[2]!]), false);
      const r = await reconciler.reconcile('test');
      assertClean(r, 'applied');
      assert.equal(r.plan?.replace.length, 2);
      assert.equal(r.plan?.add.length, 0);
      assert.equal(r.plan?.remove.length, 0);
      assert.deepEqual(await ipRoutes(node, 4), [`default proto 112: ${PEERS4[1]}*100 ${PEERS4[2]}*7`]);
      assert.deepEqual(await ipRoutes(node, 6), [`default proto 112: ${PEERS6[1]}*100 ${PEERS6[2]}*9`]);

      await eventsDrained(node, events);
      const table20 = events.filter((e) => e.kind === 'route' && e.table === 20);
      assert.deepEqual(
        table20.map((e) => (e.kind === 'route' ? `${e.family} ${e.removed ? 'del' : 'new'}` : '')),
        ['2 new', '10 new'],
        'the kernel announced each route replaced, and never a removal',
      );
    } finally {
      sub.close();
      watcher.close();
      kernel.close();
    }
  });
});

test('the kernel\'s own lookups: replies from a pool address leave through the peers, except to on-link (in-cluster) destinations', { skip }, async () => {
  await withLab('lookup', async (lab) => {
    const { node } = await routesLab(lab);
    // the LoadBalancer addresses, as kube-proxy / the CNI would have them locally
    await node.ip('addr', 'add', '198.51.100.1/32', 'dev', 'lo');
    await node.ip('-6', 'addr', 'add', '2001:db8:1::1/128', 'dev', 'lo', 'nodad');
    await node.ip('route', 'add', 'default', 'via', '192.0.2.4');
    await node.ip('-6', 'route', 'add', 'default', 'via', '2001:db8::4');
    const { kernel, reconciler } = setup(node, metallbYaml({ pools: poolsOf(['198.51.100.1/32', '2001:db8:1::1/128']), peers: [PEERS4[0]!, PEERS6[0]!] }));
    const get = async (...args: string[]): Promise<string> => (await node.ip(...args)).stdout;
    try {
      assertClean(await reconciler.reconcile('test'), 'applied');
      // a remote client: table 20, through the BGP peer instead of the node's default route (192.0.2.4)
      assert.match(await get('route', 'get', '203.0.113.99', 'from', '198.51.100.1'), /via 192\.0\.2\.1 dev eth0 table 20 /);
      assert.match(await get('-6', 'route', 'get', '2001:db8:ffff::99', 'from', '2001:db8:1::1'), /via 2001:db8::1 dev eth0 table 20 /);
      // an in-cluster peer on the node's own subnet: main, directly, no hairpin through the router
      assert.doesNotMatch(await get('route', 'get', '192.0.2.50', 'from', '198.51.100.1'), /via|table 20/);
      assert.doesNotMatch(await get('-6', 'route', 'get', '2001:db8::50', 'from', '2001:db8:1::1'), /via|table 20/);
      // traffic not from a pool address keeps the node's default route
      assert.match(await get('route', 'get', '203.0.113.99', 'from', '192.0.2.10'), /via 192\.0\.2\.4 /);
    } finally {
      kernel.close();
    }
  });
});

test('foreign rules and routes are reported and left alone; --clean removes only pathguard\'s; --remove-foreign removes those pointing at the table', { skip }, async () => {
  await withLab('foreign', async (lab) => {
    const { node } = await routesLab(lab);
    const prefixes = ['198.51.100.1/32', '198.51.100.2/32', '2001:db8:1::1/128'];
    // a twin of one of ours with another protocol, a rule for another table, a foreign route in table 20
    await node.ip('rule', 'add', 'priority', '20', 'from', '198.51.100.1/32', 'lookup', '20', 'proto', 'static');
    await node.ip('rule', 'add', 'priority', '100', 'from', '203.0.113.0/24', 'lookup', '100', 'proto', 'static');
    await node.ip('route', 'add', '203.0.113.0/24', 'via', '192.0.2.3', 'table', '20', 'proto', 'static');
    const foreign4 = ['20 from 198.51.100.1/32 lookup 20 proto static', '100 from 203.0.113.0/24 lookup 100 proto static'];
    const { kernel, reconciler } = setup(node, metallbYaml({ pools: poolsOf(prefixes), peers: [PEERS4[0]!, PEERS6[0]!] }));
    try {
      const r = await reconciler.reconcile('test');
      assertClean(r, 'applied');
      assert.deepEqual(
        r.plan?.foreign.map((f) => (f.kind === 'rule' ? `rule ${f.rule.src}` : `route ${f.route.dst}`)).sort(),
        ['route 203.0.113.0/24', 'rule 198.51.100.1/32'],
      );
      const rules4 = await ipRules(node, 4);
      for (const f of foreign4) assert.ok(rules4.includes(f), f);
      assert.deepEqual(await ourRules(node, 4), expectedRules(prefixes, 4));
      assert.deepEqual(await ipRoutes(node, 4), ['default proto 112: 192.0.2.1', '203.0.113.0/24 proto static: 192.0.2.3']);
      assertClean(await reconciler.reconcile('test'), 'unchanged');

      // --clean: exactly pathguard's objects, both families
      const out: string[] = [];
      const code = await routesClean(testConfig(), log, { stdout: (s) => out.push(s), stderr: (s) => out.push(s) }, { netns: node.path });
      assert.equal(code, 0, out.join('\n'));
      assert.deepEqual(await ourRules(node, 4), []);
      assert.deepEqual(await ourRules(node, 6), []);
      const after = await ipRules(node, 4);
      for (const f of foreign4) assert.ok(after.includes(f), `${f} survived --clean`);
      assert.deepEqual(await ipRoutes(node, 4), ['203.0.113.0/24 proto static: 192.0.2.3']);
      assert.deepEqual(await ipRoutes(node, 6), []);
      assert.match(out.join('\n'), /removed 5 rule\(s\) and 2 route\(s\)/);

      // --remove-foreign: what points at table 20 goes, the rule for table 100 stays
      const rf = setup(node, metallbYaml({ pools: poolsOf(prefixes), peers: [PEERS4[0]!, PEERS6[0]!] }), { removeForeign: true });
      try {
        assertClean(await rf.reconciler.reconcile('test'), 'applied');
        const rules = await ipRules(node, 4);
        assert.ok(!rules.includes(foreign4[0]!), 'the foreign rule pointing at table 20 is removed');
        assert.ok(rules.includes(foreign4[1]!), 'the rule for table 100 is not pathguard\'s business');
        assert.deepEqual(await ipRoutes(node, 4), ['default proto 112: 192.0.2.1']);
        assert.deepEqual(await ourRules(node, 4), expectedRules(prefixes, 4));
      } finally {
        rf.kernel.close();
      }
    } finally {
      kernel.close();
    }
  });
});

test('a link down/up is repaired within 1 s with no configuration event (IPv4 drops the route without a notification)', { skip, timeout: 30_000 }, async (t) => {
  await withLab('flap', async (lab) => {
    const { node } = await routesLab(lab);
    // keep the IPv6 address across the flap, as node network managers do
    await node.sysctl('net.ipv6.conf.eth0.keep_addr_on_down', 1);
    const prefixes = [...ipv4Prefixes().slice(0, 50), ...ipv6Prefixes(50)];
    const peers = [PEERS4[0]!, PEERS4[1]!, PEERS6[0]!, PEERS6[1]!];
    const { kernel, source, reconciler } = setup(node, metallbYaml({ pools: poolsOf(prefixes), peers }), { debounce: '250ms' });
    const reports: ReconcileReport[] = [];
    reconciler.onReport((r) => reports.push(r));
    const want4 = [`default proto 112: ${PEERS4[0]}*100 ${PEERS4[1]}*100`];
    const want6 = [`default proto 112: ${PEERS6[0]}*100 ${PEERS6[1]}*100`];
    try {
      await reconciler.start();
      await waitFor(() => reports.some((r) => r.outcome === 'applied'), 5000);
      assert.deepEqual(await ipRoutes(node, 4), want4);
      assert.deepEqual(await ipRoutes(node, 6), want6);
      const configVersion = source.current()?.version;

      await node.ip('link', 'set', 'eth0', 'down');
      await waitFor(async () => (await ipRoutes(node, 4)).length === 0, 2000);
      await waitFor(() => reports.some((r) => r.trigger.includes('link')), 3000);
      const t0 = Date.now();
      await node.ip('link', 'set', 'eth0', 'up');
      await waitFor(async () => JSON.stringify(await ipRoutes(node, 4)) === JSON.stringify(want4) && JSON.stringify(await ipRoutes(node, 6)) === JSON.stringify(want6), 3000, 20);
      const repairedMs = Date.now() - t0;
      t.diagnostic(`routes back ${repairedMs} ms after the link came up (debounce 250 ms)`);
      assert.ok(repairedMs <= 1000, `repaired after ${repairedMs} ms`);
      assert.deepEqual(await ourRules(node, 4), expectedRules(prefixes, 4));
      assert.deepEqual(await ourRules(node, 6), expectedRules(prefixes, 6));
      assert.equal(source.current()?.version, configVersion);
      assert.ok(!reports.slice(1).some((r) => r.trigger.includes('config')), reports.map((r) => r.trigger).join(' | '));
      const repair = reports.find((r) => r.drift > 0);
      assert.ok(repair, 'the repair counts as drift repaired');
    } finally {
      await reconciler.stop();
      kernel.close();
    }
  });
});

test('fail static: a broken configuration keeps the last good state, and drift is still repaired with it', { skip, timeout: 30_000 }, async () => {
  await withLab('static', async (lab) => {
    const { node } = await routesLab(lab);
    const prefixes = ipv4Prefixes().slice(0, 20);
    const good = metallbYaml({ pools: poolsOf(prefixes), peers: [PEERS4[0]!] });
    const { kernel, source, reconciler } = setup(node, good);
    const reports: ReconcileReport[] = [];
    reconciler.onReport((r) => reports.push(r));
    try {
      await reconciler.start();
      await waitFor(() => reports.some((r) => r.outcome === 'applied'), 5000);
      const want = expectedRules(prefixes, 4);
      assert.deepEqual(await ourRules(node, 4), want);

      const broken = [
        ['no BGPPeer at all', metallbYaml({ pools: poolsOf(prefixes), peers: [], noPeers: true }), 'missing-key'],
        ['not YAML', 'apiVersion: [unclosed\n', 'yaml-syntax'],
        ['every peer off-link', metallbYaml({ pools: poolsOf(prefixes), peers: ['203.0.113.1'] }), 'off-link-peer'],
      ] as const;
      for (const [what, text, code] of broken) {
        const n = reports.length;
        source.set(text);
        await waitFor(() => reports.length > n, 3000);
        const r = reports[reports.length - 1]!;
        assert.ok(r.problems.some((p) => p.code === code), `${what}: ${r.problems.map((p) => p.code)}`);
        assert.ok(r.outcome === 'unchanged' && r.keptLastGood, `${what}: ${r.outcome} keptLastGood=${r.keptLastGood}`);
        assert.deepEqual(await ourRules(node, 4), want, what);
      }

      // drift while the config is broken: the last good state is put back
      await node.ip('rule', 'del', 'priority', '20', 'from', prefixes[3]!, 'lookup', '20', 'proto', '112');
      await waitFor(async () => JSON.stringify(await ourRules(node, 4)) === JSON.stringify(want), 3000);
      const repair = reports[reports.length - 1]!;
      assert.equal(repair.keptLastGood, true);
      assert.equal(repair.drift, 1);
      assert.deepEqual(await ipRoutes(node, 4), ['default proto 112: 192.0.2.1']);
    } finally {
      await reconciler.stop();
      kernel.close();
    }
  });
});
