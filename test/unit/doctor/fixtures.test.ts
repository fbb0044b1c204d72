// Snapshot fixtures of what this kernel cannot create (ipip, ip6tnl, gre,
// wireguard, IPVS), read through the decoder exactly as --snapshot reads them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeSnapshot } from '../../../src/doctor/snapshot.js';
import { runChecks } from '../../../src/doctor/run.js';
import { inputs } from './node-fixture.js';

const FIXTURES = new URL('../../../../test/fixtures/doctor/', import.meta.url);
const load = (name: string) => decodeSnapshot(readFileSync(new URL(name, FIXTURES), 'utf8'), name);
const summary = (name: string) => runChecks(load(name), inputs()).findings.map((f) => `${f.id} ${f.severity} ${f.subject}`);

test('LVS-IPIP realserver: strict rp_filter on tunl0, ARP for the VIP, no MSS clamp, no capture, no probing', () => {
  assert.deepEqual(summary('lvs-realserver-ipip.json'), [
    'rp-filter error tunl0',
    'arp-vip error eth0',
    'tcp-mtu-probing warn net.ipv4.tcp_mtu_probing',
    'relay-missing warn capture',
    'mss-clamp warn tunl0',
  ]);
  const r = runChecks(load('lvs-realserver-ipip.json'), inputs());
  const mss = r.findings.find((f) => f.id === 'mss-clamp')!;
  assert.ok(mss.evidence.some((e) => e.type === 'value' && e.name === 'overhead' && e.value === 20));
  assert.match(mss.fix[0]!, /-s 192\.0\.2\.100 .* --set-mss 1440/);
});

test('WireGuard, GRE with a key and ip6tnl with the encapsulation limit: each one over its underlay, with its own overhead', () => {
  const r = runChecks(load('tunnels-too-big.json'), inputs());
  const overhead = Object.fromEntries(r.findings.map((f) => [f.subject, f.evidence.find((e) => e.type === 'value' && e.name === 'overhead')?.text]));
  assert.deepEqual(overhead, {
    wg0: 'overhead 60 bytes = IPv4 20 + UDP 8 + WireGuard 32',
    gre1: 'overhead 28 bytes = IPv4 20 + GRE 4 + options 4',
    ip6tnl1: 'overhead 48 bytes = IPv6 40 + encapsulation limit option 8',
  });
  assert.ok(r.findings.every((f) => f.id === 'mtu-overhead' && f.severity === 'error'));
});

test('IPVS director: service addresses on kube-ipvs0 need capture and MTU probing', () => {
  assert.deepEqual(summary('ipvs-director.json'), ['tcp-mtu-probing warn net.ipv4.tcp_mtu_probing', 'relay-missing warn capture']);
});

test('the fixed twins give no finding at all', () => {
  for (const name of ['lvs-realserver-ipip-fixed.json', 'tunnels-fitting.json']) assert.deepEqual(summary(name), [], name);
});
