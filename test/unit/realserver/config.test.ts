// realserver configuration: precedence, canonical forms, and errors that name field, value and expectation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { realserverConfig, mssProblem } from '../../../src/realserver/config.js';
import { ConfigError } from '../../../src/errors.js';

function problemsOf(fn: () => unknown): { field: string; value: unknown; expected: string }[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  assert.fail('expected a ConfigError');
}

test('flags, env and file: flag wins, then env, then file; addresses and prefixes come out canonical', () => {
  const cfg = realserverConfig(
    { vips: '198.51.100.10, 2001:DB8:F:0::10,198.51.100.10' },
    { PATHGUARD_MSS: '1380', PATHGUARD_LVS_SOURCES: '192.0.2.7/28,2001:db8:1::5' },
    { mss: 1300, ports: [443, '80-81'], 'rp-filter-all': true },
  );
  assert.deepEqual(cfg.vips, ['198.51.100.10', '2001:db8:f::10']);
  assert.equal(cfg.mss, 1380);
  assert.deepEqual(cfg.lvsSources, ['192.0.2.0/28', '2001:db8:1::5/128']);
  assert.deepEqual(cfg.ports, [80, 81, 443]);
  assert.equal(cfg.rpFilterAll, true);
  assert.equal(cfg.ipipDevice, 'ipip0');
  assert.equal(cfg.ip6tnlDevice, 'ipip60');
  assert.equal(cfg.stateFile, '/run/pathguard/realserver.json');
  assert.ok(Object.isFrozen(cfg));
});

test('defaults: every port, MSS 1400, no lowering of conf/all', () => {
  const cfg = realserverConfig({ vipsFile: '/etc/pathguard/vips' }, {}, undefined);
  assert.equal(cfg.ports, undefined);
  assert.equal(cfg.mss, 1400);
  assert.equal(cfg.rpFilterAll, false);
  assert.equal(cfg.partial, false);
  assert.deepEqual(cfg.vips, []);
});

test('no VIPs at all is an error except with --clean', () => {
  const p = problemsOf(() => realserverConfig({}, {}, undefined));
  assert.equal(p.length, 1);
  assert.match(p[0]!.field, /--vips/);
  assert.match(p[0]!.expected, /at least one service address/);
  assert.equal(realserverConfig({ clean: true }, {}, undefined).clean, true);
});

test('every bad value is reported at once, naming the field and the value', () => {
  const p = problemsOf(() =>
    realserverConfig({ vips: '198.51.100.300', mss: '1500', lvsSources: 'nope', ports: '0', ipipDevice: 'a/b' }, { PATHGUARD_CHECK_INTERVAL: '10' }, { bogus: 1 }),
  );
  const fields = p.map((x) => x.field);
  for (const f of ['--vips[0]', '--mss', '--lvs-sources[0]', '--ports[0]', '--ipip-device', 'PATHGUARD_CHECK_INTERVAL', 'realserver.bogus']) {
    assert.ok(fields.includes(f), `${f} in ${fields.join(', ')}`);
  }
  assert.deepEqual(p.find((x) => x.field === '--vips[0]')?.value, '198.51.100.300');
  assert.match(p.find((x) => x.field === '--mss')!.expected, /536\.\.1460/);
});

test('MSS bounds per family: 1450 is fine for IPv4 VIPs and refused with IPv6 ones', () => {
  assert.equal(realserverConfig({ vips: '198.51.100.10', mss: '1450' }, {}, undefined).mss, 1450);
  const p = problemsOf(() => realserverConfig({ vips: '198.51.100.10,2001:db8::1', mss: '1450' }, {}, undefined));
  assert.equal(p.length, 1);
  assert.match(p[0]!.expected, /1220\.\.1440 for IPv6/);
  assert.equal(mssProblem(536, 4), undefined);
  assert.equal(mssProblem(535, 4)?.includes('536..1460'), true);
  assert.equal(mssProblem(1220, 6), undefined);
  assert.equal(mssProblem(1219, 6)?.includes('1220..1440'), true);
});

test('conflicting choices: the same device twice, lo as a device, --once with --clean', () => {
  const p = problemsOf(() => realserverConfig({ vips: '198.51.100.10', ipipDevice: 'lo', ip6tnlDevice: 'lo', once: true, clean: true }, {}, undefined));
  assert.equal(p.length, 3);
});
