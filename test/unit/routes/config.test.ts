import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/errors.js';
import { routesConfig, desiredOptions, ROUTES_FIELDS, type RoutesConfig } from '../../../src/routes/config.js';
import { flagName } from '../../../src/config/field.js';

const NODE = { NODE_NAME: 'node-1' };

function cfg(flags: Record<string, unknown> = {}, env: Record<string, string> = {}, file?: unknown): Readonly<RoutesConfig> {
  return routesConfig(flags, { ...NODE, ...env }, file);
}
function problemsOf(fn: () => unknown): { field: string; value: unknown; expected: string }[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return [...e.problems];
  }
  assert.fail('expected a ConfigError');
}

test('defaults are documented values', () => {
  const c = cfg();
  assert.deepEqual(
    { ...c, peerWeight: { default: c.peerWeight.default, perPeer: [...(c.peerWeight.perPeer ?? [])] } },
    {
      nodeName: 'node-1', table: 20, rulePriority: 20, peerWeight: { default: 100, perPeer: [] }, suppress: true, removeForeign: false,
      metallbNamespace: 'metallb-system', metallbConfigmap: 'config', useCrds: true, once: false, clean: false, dryRun: false,
      debounce: 250, resyncInterval: 300_000, maxReconcileWait: 60_000, scriptTimeout: 30_000, logLevel: 'info',
    },
  );
  assert.ok(Object.isFrozen(c));
  assert.ok(Object.isFrozen(c.peerWeight));
});

// [name, flags, env, file, field, expected value]
const valueCases: [string, Record<string, unknown>, Record<string, string>, unknown, keyof RoutesConfig, unknown][] = [
  ['TABLE_WEIGHT is the table id', {}, { TABLE_WEIGHT: '30' }, undefined, 'table', 30],
  ['PATHGUARD_TABLE beats TABLE_WEIGHT', {}, { TABLE_WEIGHT: '30', PATHGUARD_TABLE: '31' }, undefined, 'table', 31],
  ['--table beats env', { table: '32' }, { PATHGUARD_TABLE: '31' }, undefined, 'table', 32],
  ['env beats file', {}, { TABLE_WEIGHT: '30' }, { table: 40 }, 'table', 30],
  ['file beats default', {}, {}, { table: 40 }, 'table', 40],
  ['table in hex', { table: '0x64' }, {}, undefined, 'table', 100],
  ['largest table id', { table: '4294967295' }, {}, undefined, 'table', 4294967295],
  ['table 252 (compat) is a table like any other', { table: '252' }, {}, undefined, 'table', 252],
  ['RULE_PRIORITY', {}, { RULE_PRIORITY: '100' }, undefined, 'rulePriority', 100],
  ['decimal fwmark is valid', {}, { RULE_FWMARK: '20' }, undefined, 'fwmark', { value: 20 }],
  ['hex fwmark as ip prints it', {}, { RULE_FWMARK: '0x14' }, undefined, 'fwmark', { value: 20 }],
  ['fwmark with mask', { fwmark: '0x100/0xf00' }, {}, undefined, 'fwmark', { value: 256, mask: 3840 }],
  ['fwmark from the file as a number', {}, {}, { fwmark: 20 }, 'fwmark', { value: 20 }],
  ['--no-suppress', { suppress: false }, {}, undefined, 'suppress', false],
  ['PATHGUARD_SUPPRESS=no', {}, { PATHGUARD_SUPPRESS: 'no' }, undefined, 'suppress', false],
  ['--remove-foreign', { removeForeign: true }, {}, undefined, 'removeForeign', true],
  ['METALLB_STATIC_FILE', {}, { METALLB_STATIC_FILE: '/etc/metallb.yaml' }, undefined, 'metallbFile', '/etc/metallb.yaml'],
  ['METALLB_NAMESPACE', {}, { METALLB_NAMESPACE: 'lb' }, undefined, 'metallbNamespace', 'lb'],
  ['METALLB_CONFIGMAP_NAME', {}, { METALLB_CONFIGMAP_NAME: 'metallb-config' }, undefined, 'metallbConfigmap', 'metallb-config'],
  ['METALLB_USE_CRDS=0', {}, { METALLB_USE_CRDS: '0' }, undefined, 'useCrds', false],
  ['ONESHOT=1', {}, { ONESHOT: '1' }, undefined, 'once', true],
  ['CLEANANDEXIT=1 needs no node name', {}, { CLEANANDEXIT: '1', NODE_NAME: '' }, undefined, 'clean', true],
  ['MAX_RECONCILE_WAIT in plain milliseconds', {}, { MAX_RECONCILE_WAIT: '5000' }, undefined, 'maxReconcileWait', 5000],
  ['MAX_RECONCILE_WAIT=0 disables', {}, { MAX_RECONCILE_WAIT: '0' }, undefined, 'maxReconcileWait', 0],
  ['--max-reconcile-wait as a duration', { maxReconcileWait: '2m' }, {}, undefined, 'maxReconcileWait', 120_000],
  ['--debounce', { debounce: '1s' }, {}, undefined, 'debounce', 1000],
  ['--debounce 0 (no coalescing)', { debounce: '0' }, {}, undefined, 'debounce', 0],
  ['--resync-interval 0 disables', { resyncInterval: '0' }, {}, undefined, 'resyncInterval', 0],
  ['PRE_RECONCILE_SCRIPT_PATH', {}, { PRE_RECONCILE_SCRIPT_PATH: '/opt/pre.sh' }, undefined, 'preScript', '/opt/pre.sh'],
  ['POST_RECONCILE_SCRIPT_PATH', {}, { POST_RECONCILE_SCRIPT_PATH: '/opt/post.sh' }, undefined, 'postScript', '/opt/post.sh'],
  ['--script-timeout', { scriptTimeout: '90s' }, {}, undefined, 'scriptTimeout', 90_000],
  ['--ready-file', { readyFile: '/run/ready' }, {}, undefined, 'readyFile', '/run/ready'],
  ['--metrics-addr', { metricsAddr: ':9472' }, {}, undefined, 'metricsAddr', { host: '', port: 9472 }],
  ['--log-level is case-insensitive', { logLevel: 'DEBUG' }, {}, undefined, 'logLevel', 'debug'],
  ['--dry-run', { dryRun: true }, {}, undefined, 'dryRun', true],
  ['--node-name beats NODE_NAME', { nodeName: 'node-2' }, {}, undefined, 'nodeName', 'node-2'],
];

for (const [name, flags, env, file, key, want] of valueCases) {
  test(`value: ${name}`, () => {
    assert.deepEqual(cfg(flags, env, file)[key], want);
  });
}

test('peer weights: default, per-peer, IPv6 with colons', () => {
  const w = (s: string) => {
    const c = cfg({}, { PEER_WEIGHT: s });
    return [c.peerWeight.default, [...(c.peerWeight.perPeer ?? [])]];
  };
  assert.deepEqual(w('50'), [50, []]);
  assert.deepEqual(w('256'), [256, []]);
  assert.deepEqual(w('100,192.0.2.1=50'), [100, [['192.0.2.1', 50]]]);
  assert.deepEqual(w('192.0.2.1=1, 2001:DB8::1=7'), [100, [['192.0.2.1', 1], ['2001:db8::1', 7]]]);
  const fromFile = cfg({}, {}, { peerWeight: [10, '192.0.2.2=20'] });
  assert.deepEqual([fromFile.peerWeight.default, [...(fromFile.peerWeight.perPeer ?? [])]], [10, [['192.0.2.2', 20]]]);
});

// [name, flags, env, file, fields named by the problems]
const errorCases: [string, Record<string, unknown>, Record<string, string>, unknown, string[]][] = [
  ['table 0 (unspec)', { table: '0' }, {}, undefined, ['--table']],
  ['table 253 (default)', {}, { TABLE_WEIGHT: '253' }, undefined, ['TABLE_WEIGHT']],
  ['table 254 (main)', {}, {}, { table: 254 }, ['routes.table']],
  ['table 255 (local)', { table: '255' }, {}, undefined, ['--table']],
  ['table above 2^32-1', { table: '4294967296' }, {}, undefined, ['--table']],
  ['table by name', { table: 'main' }, {}, undefined, ['--table']],
  ['rule priority 0', { rulePriority: '0' }, {}, undefined, ['--rule-priority']],
  ['rule priority negative', {}, { RULE_PRIORITY: '-5' }, undefined, ['RULE_PRIORITY']],
  ['fwmark 0 alone', {}, { RULE_FWMARK: '0' }, undefined, ['RULE_FWMARK']],
  ['fwmark not a number', {}, { RULE_FWMARK: 'lb' }, undefined, ['RULE_FWMARK']],
  ['fwmark value outside mask', { fwmark: '0x1ff/0xff' }, {}, undefined, ['--fwmark']],
  ['peer weight 0', {}, { PEER_WEIGHT: '0' }, undefined, ['PEER_WEIGHT']],
  ['peer weight 257', {}, { PEER_WEIGHT: '257' }, undefined, ['PEER_WEIGHT']],
  ['peer weight for a name', {}, { PEER_WEIGHT: 'tor-a=5' }, undefined, ['PEER_WEIGHT']],
  ['peer weight twice for one peer', {}, { PEER_WEIGHT: '192.0.2.1=5,192.0.2.1=6' }, undefined, ['PEER_WEIGHT']],
  ['two default weights', {}, { PEER_WEIGHT: '5,6' }, undefined, ['PEER_WEIGHT']],
  ['namespace not a DNS label', {}, { METALLB_NAMESPACE: 'Metal_LB' }, undefined, ['METALLB_NAMESPACE']],
  ['configmap name with a slash', { metallbConfigmap: 'a/b' }, {}, undefined, ['--metallb-configmap']],
  ['ONESHOT=maybe', {}, { ONESHOT: 'maybe' }, undefined, ['ONESHOT']],
  ['MAX_RECONCILE_WAIT below a second', {}, { MAX_RECONCILE_WAIT: '500' }, undefined, ['MAX_RECONCILE_WAIT']],
  ['debounce longer than the max wait', { debounce: '30s' }, { MAX_RECONCILE_WAIT: '10s' }, undefined, ['debounce (--debounce, PATHGUARD_DEBOUNCE)']],
  ['script timeout 0', { scriptTimeout: '0' }, {}, undefined, ['--script-timeout']],
  ['metrics address without port', { metricsAddr: 'localhost' }, {}, undefined, ['--metrics-addr']],
  ['unknown log level', { logLevel: 'verbose' }, {}, undefined, ['--log-level']],
  ['missing node name', {}, { NODE_NAME: '' }, undefined, ['nodeName (--node-name, PATHGUARD_NODE_NAME, NODE_NAME)']],
  ['node name not a DNS name', {}, { NODE_NAME: 'Node_1' }, undefined, ['NODE_NAME']],
  ['--once with --clean', { once: true, clean: true }, {}, undefined, ['once / clean']],
  ['unknown key in the file', {}, {}, { tabel: 20 }, ['routes.tabel']],
  ['once cannot come from the file', {}, {}, { once: true }, ['routes.once']],
  ['file section not a mapping', {}, {}, 'table: 20', ['routes']],
];

for (const [name, flags, env, file, fields] of errorCases) {
  test(`error: ${name}`, () => {
    const problems = problemsOf(() => routesConfig(flags, { ...NODE, ...env }, file));
    assert.deepEqual(problems.map((p) => p.field), fields);
    for (const p of problems) assert.ok(p.expected.length > 0, 'says what was expected');
  });
}

test('problems name the field, the value and the expectation', () => {
  const [p] = problemsOf(() => cfg({}, { TABLE_WEIGHT: '254' }));
  assert.deepEqual(p, { field: 'TABLE_WEIGHT', value: '254', expected: 'a decimal or 0x hex integer in 1..4294967295, not 0 (unspec), 253 (default), 254 (main), 255 (local)' });
});

test('every problem is reported at once', () => {
  const problems = problemsOf(() => routesConfig({ table: '254', fwmark: 'x' }, { PEER_WEIGHT: '0', ONESHOT: 'maybe' }, { tabel: 1 }));
  assert.deepEqual(problems.map((p) => p.field).sort(), ['--fwmark', '--table', 'ONESHOT', 'PEER_WEIGHT', 'nodeName (--node-name, PATHGUARD_NODE_NAME, NODE_NAME)', 'routes.tabel'].sort());
  try {
    routesConfig({ table: '254' }, NODE, undefined);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /--table: got "254", expected/);
  }
});

test('every field has help text and a kebab-case flag', () => {
  for (const [key, spec] of Object.entries(ROUTES_FIELDS)) {
    assert.ok(spec.help && spec.help.length > 10, key);
    assert.match(flagName(key), /^[a-z]+(-[a-z]+)*$/);
  }
});

test('desiredOptions maps the config onto the planner', () => {
  const c = cfg({ fwmark: '0x14', rulePriority: '30', table: '40', suppress: false });
  const reach = { onLink: [{ prefix: '192.0.2.0/24', ifindex: 2 }], local: ['192.0.2.10'] };
  const o = desiredOptions(c, reach);
  assert.deepEqual({ ...o, peerWeight: o.peerWeight.default }, { table: 40, priority: 30, suppress: false, peerWeight: 100, fwmark: { value: 20 }, reachability: reach });
  assert.equal(desiredOptions(cfg()).fwmark, undefined);
});
