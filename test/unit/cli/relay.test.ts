import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../../../bin/pathguard', import.meta.url));

function run(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
}

test('relay --print-rules prints the capture rules for this configuration and exits 0', () => {
  const nft = run('relay', '--print-rules', 'nft', '--iface', 'eth0', '--peers', '192.0.2.12,2001:db8::12', '--nflog-group', '40');
  assert.equal(nft.status, 0, nft.stderr);
  assert.match(nft.stdout, /iifname "eth0" icmp type destination-unreachable icmp code frag-needed/);
  assert.match(nft.stdout, /log group 40/);
  assert.match(nft.stdout, /add element inet pathguard peer_v4 \{ 192\.0\.2\.12 \}/);
  const ipt = run('relay', '--print-rules', 'iptables', '--iface', 'eth0', '--peers', '192.0.2.12', '--transport', 'l2');
  assert.equal(ipt.status, 0, ipt.stderr);
  assert.match(ipt.stdout, /iptables -t raw -A PATHGUARD -s 192\.0\.2\.12 -j RETURN/);
  assert.match(ipt.stdout, /--nflog-group 33/);
});

test('relay configuration errors name every bad field and exit 2', () => {
  const r = run('relay', '--peers', '192.0.2.300,foo', '--transport', 'carrier-pigeon', '--print-rules', 'nft');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--peers\[0\]: got "192\.0\.2\.300"/);
  assert.match(r.stderr, /--peers\[1\]: got "foo"/);
  assert.match(r.stderr, /transport.*carrier-pigeon/);
});
