import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { withLab, labUnavailable, assertDocAddress } from '../../harness/netns.js';

const skip = labUnavailable();

test('a lab builds two namespaces joined by a veth, pings across, and is deleted afterwards', { skip }, async () => {
  let names: string[] = [];
  await withLab('harn', async (lab) => {
    const a = await lab.ns('a');
    const b = await lab.ns('b');
    names = [a.name, b.name];
    await lab.veth(a, 'eth0', b, 'eth0', { mtu: 1400 });
    await a.addr('eth0', '192.0.2.1/24');
    await b.addr('eth0', '192.0.2.2/24');
    await a.addr('eth0', '2001:db8::1/64');
    await b.addr('eth0', '2001:db8::2/64');
    await a.exec('ping', ['-c1', '-W2', '192.0.2.2']);
    await a.exec('ping', ['-6', '-c1', '-W2', '2001:db8::2']);
    const links = await a.ipJson<{ ifname: string; mtu: number }[]>('link', 'show', 'eth0');
    assert.equal(links[0]?.mtu, 1400);
  });
  for (const n of names) assert.equal(existsSync(`/run/netns/${n}`), false, `${n} was not deleted`);
});

test('a lab is torn down also when the test body throws', { skip }, async () => {
  let name = '';
  await assert.rejects(
    withLab('harn', async (lab) => {
      name = (await lab.ns('x')).name;
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal(existsSync(`/run/netns/${name}`), false);
});

test('addresses outside the documentation prefixes are refused', () => {
  assert.throws(() => assertDocAddress('10.0.0.1/8'), /outside/);
  assert.throws(() => assertDocAddress('2001:db9::1'), /outside/);
  assertDocAddress('203.0.113.7');
  assertDocAddress('2001:db8:1::1/64');
});
