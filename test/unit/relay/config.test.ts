import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/errors.js';
import { relayConfig, RELAY_FIELDS, RELAY_FLAGS, rate, type RelayConfig } from '../../../src/relay/config.js';
import { decide, RelayState } from '../../../src/relay/decide.js';
import { formatPrefix as formatCidr } from '../../../src/wire/ip-prefix.js';
import { V4_UDP, V6_UDP } from './too-big-variant.js';

function problems(fn: () => unknown): { field: string; value: unknown; expected: string }[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems.map((p) => ({ ...p }));
  }
  assert.fail('expected a ConfigError');
}

test('defaults', () => {
  const c = relayConfig(undefined, {}, undefined);
  const expected: RelayConfig = {
    nflogGroup: 33,
    iface: [],
    transport: 'udp',
    relayPort: 4490,
    peers: [],
    vipNetworks: [],
    ignoreNetworks: [],
    ports: [],
    srcRate: 2,
    srcBurst: 10,
    ifaceRate: 50,
    ifaceBurst: 100,
    dedupWindow: 1000,
    ttl: 1,
    workers: 1,
    metricsAddr: { host: '', port: 9462 },
    manageFirewall: true,
    dryRun: false,
    logLevel: 'info',
    tunName: 'pathguard0',
  };
  assert.deepEqual(c, expected);
  assert.ok(Object.isFrozen(c));
});

test('precedence: flag > env > file > default', () => {
  const file = { nflogGroup: 7, transport: 'l2', relayPort: 5000 };
  const env = { PATHGUARD_NFLOG_GROUP: '8', PATHGUARD_TRANSPORT: 'broadcast' };
  const c = relayConfig({ nflogGroup: '9' }, env, file);
  assert.equal(c.nflogGroup, 9);
  assert.equal(c.transport, 'broadcast');
  assert.equal(c.relayPort, 5000);
  assert.equal(c.ttl, 1);
});

test('go-pmtud spellings: --nflog_group, --nodename, --iface_names, --metrics_port and PMTUD_* variables', () => {
  const c = relayConfig(
    { nflog_group: '40', nodename: 'node-a.example', iface_names: 'eth0,eth1', metrics_port: '30040' },
    { PMTUD_TTL: '3', PMTUD_IGNORE_NETWORKS: '192.0.2.0/24' },
    undefined,
  );
  assert.equal(c.nflogGroup, 40);
  assert.equal(c.nodeName, 'node-a.example');
  assert.deepEqual(c.iface, ['eth0', 'eth1']);
  assert.deepEqual(c.metricsAddr, { host: '', port: 30040 });
  assert.equal(c.ttl, 3);
  assert.deepEqual(c.ignoreNetworks.map(formatCidr), ['192.0.2.0/24']);
  // NODE_NAME (the downward API's usual name) before go-pmtud's PMTUD_NODENAME.
  assert.equal(relayConfig({}, { NODE_NAME: 'n1', PMTUD_NODENAME: 'n2' }, undefined).nodeName, 'n1');
});

test('an alias that contradicts its flag is a problem; agreeing is fine', () => {
  assert.equal(relayConfig({ nflogGroup: '5', nflog_group: '5' }, {}, undefined).nflogGroup, 5);
  const ps = problems(() => relayConfig({ nflogGroup: '5', nflog_group: '6' }, {}, undefined));
  assert.equal(ps.length, 1);
  assert.equal(ps[0]!.field, '--nflog_group');
});

test('--metrics-port and --metrics-addr: the higher-precedence source wins, the same source twice is a problem', () => {
  assert.deepEqual(relayConfig({ metricsPort: '9100' }, { PATHGUARD_METRICS_ADDR: '127.0.0.1:9000' }, undefined).metricsAddr, { host: '', port: 9100 });
  assert.deepEqual(relayConfig({ metricsAddr: '[::1]:9000' }, { PMTUD_METRICS_PORT: '9100' }, undefined).metricsAddr, { host: '::1', port: 9000 });
  const ps = problems(() => relayConfig({ metricsAddr: ':9000', metricsPort: '9100' }, {}, undefined));
  assert.equal(ps.length, 1);
  assert.match(ps[0]!.field, /metricsPort/);
});

test('rates: numbers and N/s, N/m, N/h; bursts are whole packets', () => {
  const c = relayConfig({ srcRate: '120/m', ifaceRate: '0.5' }, { PATHGUARD_SRC_BURST: '3' }, { ifaceBurst: 7 });
  assert.equal(c.srcRate, 2);
  assert.equal(c.ifaceRate, 0.5);
  assert.equal(c.srcBurst, 3);
  assert.equal(c.ifaceBurst, 7);
  assert.equal(relayConfig(undefined, {}, { srcRate: 3600 }).srcRate, 3600);
  assert.equal(relayConfig(undefined, { PATHGUARD_SRC_RATE: '7200/h' }, undefined).srcRate, 2);
  const r = rate();
  for (const bad of ['0', '-1', '1/d', 'fast', '1e3', '', '2000000']) assert.equal(r.safeParse(bad).success, false, bad);
});

test('lists: peers, prefixes of both families, ports with ranges', () => {
  const c = relayConfig(
    { peers: '192.0.2.11, 2001:db8::11', vipNetworks: '198.51.100.0/24,2001:db8:100::/48', ports: '443,8000-8002,443' },
    {},
    { ignoreNetworks: ['203.0.113.7/24', '2001:db8:ff::1'] },
  );
  assert.deepEqual(c.peers.map((p) => p.id), ['192.0.2.11', '2001:db8::11']);
  assert.deepEqual(c.vipNetworks.map(formatCidr), ['198.51.100.0/24', '2001:db8:100::/48']);
  assert.deepEqual(c.ignoreNetworks.map(formatCidr), ['203.0.113.0/24', '2001:db8:ff::1/128']);
  assert.deepEqual(c.ports, [443, 8000, 8001, 8002]);
});

test('--iface is repeatable (the CLI collects an array) and de-duplicated', () => {
  assert.deepEqual(relayConfig({ iface: ['eth0', 'bond0', 'eth0'] }, {}, undefined).iface, ['eth0', 'bond0']);
});

test('every problem at once, each naming field, value and expectation', () => {
  const ps = problems(() =>
    relayConfig(
      { transport: 'tcp', srcRate: 'fast', relayPort: '0', tunName: 'a/b', ttl: '256', dedupWindow: '5ms' },
      { PATHGUARD_NFLOG_GROUP: '65536', PATHGUARD_LOG_LEVEL: 'loud', PATHGUARD_MANAGE_FIREWALL: 'maybe' },
      { vipNetworks: ['192.0.2.0/24', '192.0.2.9/24', '192.0.2.0/40'], ports: ['70000'], mystery: 1 },
    ),
  );
  const byField = new Map(ps.map((p) => [p.field, p]));
  for (const f of [
    'relay.mystery',
    '--transport',
    '--src-rate',
    '--relay-port',
    '--tun-name',
    '--ttl',
    '--dedup-window',
    'PATHGUARD_NFLOG_GROUP',
    'PATHGUARD_LOG_LEVEL',
    'PATHGUARD_MANAGE_FIREWALL',
    'relay.vipNetworks[2]',
    'relay.ports[0]',
  ]) {
    assert.ok(byField.has(f), `no problem for ${f}: ${JSON.stringify(ps)}`);
  }
  assert.equal(byField.get('--transport')!.value, 'tcp');
  assert.equal(byField.get('--transport')!.expected, 'one of udp, l2, broadcast, ip');
  assert.equal(byField.get('relay.vipNetworks[2]')!.value, '192.0.2.0/40');
  for (const p of ps) assert.ok(p.expected.length > 0);
});

test('the same prefix twice is a problem', () => {
  const ps = problems(() => relayConfig({ vipNetworks: '192.0.2.0/24,192.0.2.9/24' }, {}, undefined));
  assert.equal(ps.length, 1);
  assert.equal(ps[0]!.value, '192.0.2.0/24');
});

test('--dry-run is refused in the file (it is a per-run choice)', () => {
  const ps = problems(() => relayConfig(undefined, {}, { dryRun: true }));
  assert.equal(ps[0]!.field, 'relay.dryRun');
  assert.equal(relayConfig({ dryRun: true }, {}, undefined).dryRun, true);
});

test('RELAY_FLAGS: one complete definition per field for the CLI', () => {
  assert.deepEqual(RELAY_FLAGS.map((f) => f.key), Object.keys(RELAY_FIELDS));
  for (const f of RELAY_FLAGS) {
    assert.match(f.flags, /^--[a-z][a-z0-9-]*( <[a-z]+>)?$/, f.key);
    assert.ok(f.description.length > 10, `${f.key} needs a description`);
    assert.equal(f.env[0], `PATHGUARD_${f.flags.slice(2).split(' ')[0]!.replace(/-/g, '_').toUpperCase()}`);
    for (const a of f.aliases) assert.equal(a.flags.split(' ')[0], `--${a.attribute}`);
  }
  const byKey = new Map(RELAY_FLAGS.map((f) => [f.key, f]));
  assert.equal(byKey.get('manageFirewall')!.flags, '--manage-firewall');
  assert.equal(byKey.get('manageFirewall')!.negatable, true);
  assert.equal(byKey.get('dryRun')!.flags, '--dry-run');
  assert.equal(byKey.get('iface')!.repeatable, true);
  assert.deepEqual(byKey.get('nflogGroup')!.aliases, [{ flags: '--nflog_group <group>', attribute: 'nflog_group' }]);
  assert.deepEqual(byKey.get('nodeName')!.aliases, [{ flags: '--nodename <name>', attribute: 'nodename' }]);
  assert.deepEqual(byKey.get('metricsPort')!.env, ['PATHGUARD_METRICS_PORT', 'PMTUD_METRICS_PORT']);
  assert.equal(byKey.get('relayPort')!.defaultText, '4490');
  assert.equal(byKey.get('metricsAddr')!.defaultText, ':9462');
  assert.equal(byKey.get('keyFile')!.defaultText, undefined);
});

test('a validated config builds the decision state directly', () => {
  const c = relayConfig({ vipNetworks: '192.0.2.0/24,2001:db8:1::/64', peers: '198.51.100.20' }, {}, undefined);
  const s = new RelayState({ ...c, peers: c.peers.flatMap((p) => p.addresses.map((a) => a.bytes)) });
  assert.equal(decide(V4_UDP, { ifindex: 1, now: 0 }, s).kind, 'relay');
  assert.equal(decide(V6_UDP, { ifindex: 1, now: 0 }, s).kind, 'relay');
  assert.equal(decide(V4_UDP, { ifindex: 1, now: 1 }, s).kind, 'duplicate');
});

test('--workers: 1 to 16, and room for that many consecutive NFLOG groups', () => {
  assert.equal(relayConfig({ workers: '4' }, {}, undefined).workers, 4);
  assert.equal(relayConfig(undefined, { PATHGUARD_WORKERS: '2' }, undefined).workers, 2);
  assert.match(JSON.stringify(problems(() => relayConfig({ workers: '0' }, {}, undefined))), /workers/);
  assert.match(JSON.stringify(problems(() => relayConfig({ workers: '17' }, {}, undefined))), /workers/);
  const p = problems(() => relayConfig({ workers: '2', nflogGroup: '65535' }, {}, undefined));
  assert.match(JSON.stringify(p), /groups 65535\.\.65536 must exist/);
});
