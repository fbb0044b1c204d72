import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipipConfig, mssConfig, pmtuConfig } from '../../../src/probe/config.js';
import { ConfigError } from '../../../src/errors.js';

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems.map((p) => `${p.field}=${JSON.stringify(p.value)}: ${p.expected}`);
  }
  assert.fail('no ConfigError');
}

test('pmtu defaults: UDP to 33434, 2 attempts, 1 s wait, 120 s bound, 30 hops; TCP defaults to 443', () => {
  const c = pmtuConfig('198.51.100.7', { flags: {}, env: {} });
  assert.deepEqual([c.proto, c.port, c.attempts, c.waitMs, c.timeoutMs, c.maxHops, c.json], ['udp', 33434, 2, 1000, 120_000, 30, false]);
  assert.equal(pmtuConfig('2001:db8::7', { flags: { proto: 'tcp' }, env: {} }).port, 443);
  assert.equal(pmtuConfig('2001:db8::7', { flags: { proto: 'tcp', port: '8443' }, env: {} }).port, 8443);
  assert.equal(pmtuConfig('2001:db8::7', { flags: {}, env: { PATHGUARD_WAIT: '250ms' } }).waitMs, 250);
});

test('pmtu: every bad value is named at once', () => {
  const p = problems(() => pmtuConfig('example', { flags: { proto: 'sctp', attempts: '11', wait: '5', maxHops: '0' }, env: {} }));
  assert.deepEqual(p.map((x) => x.split('=')[0]).sort(), ['--attempts', '--max-hops', '--proto', '--wait', 'TARGET'].sort());
  assert.ok(p.some((x) => x.startsWith('TARGET="example": an IPv4 or IPv6 address')));
});

test('mss: ADDRESS:PORT and [ADDRESS]:PORT', () => {
  assert.equal(mssConfig('203.0.113.10:443', { flags: {}, env: {} }).port, 443);
  assert.equal(mssConfig('[2001:db8:f::10]:443', { flags: {}, env: {} }).target.length, 16);
  for (const bad of ['203.0.113.10', '2001:db8::1:443', '203.0.113.10:0', '[2001:db8::1]:70000', 'host:80']) {
    assert.ok(problems(() => mssConfig(bad, { flags: {}, env: {} }))[0]!.startsWith('VIP:PORT='), bad);
  }
});

test('ipip: --vip and --port are required, of the realserver family; MSS defaults by family', () => {
  const p = problems(() => ipipConfig('192.0.2.21', { flags: {}, env: {} }));
  assert.deepEqual(p.map((x) => x.split('=')[0]), ['--vip', '--port']);
  const mixed = problems(() => ipipConfig('192.0.2.21', { flags: { vip: '2001:db8:f::10', port: '443' }, env: {} }));
  assert.match(mixed[0]!, /--vip="2001:db8:f::10": an IPv4 address like REALSERVER/);
  assert.equal(ipipConfig('192.0.2.21', { flags: { vip: '198.51.100.10', port: '443' }, env: {} }).mss, 1460);
  assert.equal(ipipConfig('2001:db8::21', { flags: { vip: '2001:db8:f::10', port: '443' }, env: {} }).mss, 1440);
  assert.equal(ipipConfig('2001:db8::21', { flags: { vip: '2001:db8:f::10', port: '443', mss: '1400' }, env: {} }).mss, 1400);
});
