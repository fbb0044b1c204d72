// `pathguard realserver` as a process inside a lab namespace, on a kernel
// without the ipip and ip6_tunnel modules:
// - without --partial it names the missing module and changes nothing (exit 1);
// - with --partial it puts the VIPs on lo (both families), raises arp_ignore /
//   arp_announce, lowers conf/all/rp_filter from 1 to 2 (--rp-filter-all),
//   accepts protocol 4 / 41 from --lvs-sources (an nft counter sees raw
//   tunnelled packets sent from the client) and clamps the MSS of SYN-ACKs
//   from a VIP port (a real handshake from another namespace shows 1400;
//   a port outside --ports shows the unclamped value);
// - a second run reports 0 changes; --clean leaves the namespace as it was;
// - the long-running mode puts back a VIP removed by hand (link/address event).
//
//   client eth0 192.0.2.1/24 2001:db8:2::1/64 ── eth0 rs 192.0.2.2/24 2001:db8:2::2/64
//                                                      lo: 198.51.100.10, 2001:db8:f::10 (VIPs)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labUnavailable, waitFor, withLab, type Lab, type Netns } from '../../harness/netns.js';
import { startTcpdump } from '../net/helpers/capture.js';
import { withNetns } from '../../../src/sys/netns.js';
import { close, sendto, socket, SOCK } from '../../../src/sys/libc.js';
import { AF, encodeSockaddrIn } from '../../../src/wire/sockaddr.js';
import { parseAddress } from '../../../src/wire/ip-address.js';

const skip = labUnavailable();
const ENTRY = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const BASE_ENV = { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
const VIP4 = '198.51.100.10';
const VIP6 = '2001:db8:f::10';
const SYSCTLS = ['net.ipv4.conf.all.arp_ignore', 'net.ipv4.conf.all.arp_announce', 'net.ipv4.conf.all.rp_filter', 'net.ipv4.conf.lo.rp_filter', 'net.ipv4.conf.eth0.rp_filter'];

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `pathguard realserver ARGS` inside the namespace. */
function realserver(ns: Netns, args: readonly string[], timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, ENTRY, 'realserver', ...args], { env: BASE_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** Human lines of stderr (JSON log lines left out). */
const reasons = (r: Run): string => r.stderr.split('\n').filter((l) => !l.startsWith('{')).join('\n');

async function lab2(lab: Lab): Promise<{ rs: Netns; client: Netns }> {
  const rs = await lab.ns('rs');
  const client = await lab.ns('client');
  await lab.veth(client, 'eth0', rs, 'eth0');
  await client.addr('eth0', '192.0.2.1/24');
  await client.addr('eth0', '2001:db8:2::1/64');
  await rs.addr('eth0', '192.0.2.2/24');
  await rs.addr('eth0', '2001:db8:2::2/64');
  await client.route(`${VIP4}/32`, 'via', '192.0.2.2');
  await client.route(`${VIP6}/128`, 'via', '2001:db8:2::2');
  // a strict host: pathguard must lower this (with --rp-filter-all) and put it back on --clean
  await rs.sysctl('net.ipv4.conf.all.rp_filter', 1);
  return { rs, client };
}

/** What --clean must restore: addresses, links, the sysctls touched, the whole ruleset. */
async function nodeState(ns: Netns): Promise<string> {
  const addrs = (await ns.ip('-br', 'addr')).stdout;
  const links = (await ns.ip('-br', 'link')).stdout;
  const sysctls = (await ns.exec('sysctl', SYSCTLS)).stdout;
  const nft = (await ns.exec('nft', ['list', 'ruleset'])).stdout;
  return `${addrs}\n${links}\n${sysctls}\n${nft}`;
}

async function sysctl(ns: Netns, key: string): Promise<number> {
  return Number((await ns.exec('sysctl', ['-n', key])).stdout.trim());
}

/** The MSS option of the SYN-ACK the client receives when connecting to vip:port (tcpdump -v on the client). */
async function synAckMss(rs: Netns, client: Netns, vip: string, port: number): Promise<number> {
  const server = rs.spawn(process.execPath, ['-e', `require('net').createServer((s) => s.end()).listen(${port}, '${vip}', () => console.log('listening'))`]);
  try {
    await new Promise<void>((resolve, reject) => {
      server.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
      server.once('close', (code) => reject(new Error(`server exited ${code}`)));
    });
    const cap = await startTcpdump(client, 'eth0', 1, ['src', 'host', vip, 'and', 'tcp', 'src', 'port', String(port)], { verbose: true });
    await client.exec(process.execPath, ['-e', `const s = require('net').connect({ host: '${vip}', port: ${port} }, () => s.end()); s.on('close', () => process.exit(0)); s.on('error', (e) => { console.error(e.message); process.exit(1); });`]);
    const [synAck] = await cap.done;
    const m = /\bmss (\d+)/.exec(synAck!.summary);
    assert.ok(m, `no MSS option in: ${synAck!.summary}`);
    return Number(m[1]);
  } finally {
    server.kill('SIGKILL');
  }
}

/** Sends one raw IP packet with protocol `proto` from the client namespace to `dst`. */
function sendRaw(client: Netns, dst: string, proto: number): void {
  const addr = parseAddress(dst);
  // a minimal inner packet: the firewall only looks at the outer header
  const inner = new Uint8Array(40);
  inner[0] = addr.byteLength === 4 ? 0x45 : 0x60;
  withNetns(client.path, () => {
    const fd = socket(addr.byteLength === 4 ? AF.INET : AF.INET6, SOCK.RAW, proto);
    try {
      sendto(fd, inner, encodeSockaddrIn(addr, 0));
    } finally {
      close(fd);
    }
  });
}

/** Packets counted by the rule carrying `comment` in pathguard's table. */
async function ruleCount(rs: Netns, comment: string): Promise<number> {
  const text = (await rs.exec('nft', ['list', 'table', 'inet', 'pathguard_realserver'])).stdout;
  const line = text.split('\n').find((l) => l.includes(`comment "${comment}"`));
  const m = line ? /counter packets (\d+)/.exec(line) : null;
  assert.ok(m, `no counter for "${comment}" in:\n${text}`);
  return Number(m[1]);
}

test('without --partial: the missing ipip module is named, nothing is applied, exit 1', { skip, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-rs-'));
  try {
    await withLab('rs-nop', async (lab) => {
      const { rs } = await lab2(lab);
      const before = await nodeState(rs);
      const r = await realserver(rs, ['--once', '--vips', `${VIP4},${VIP6}`, '--lvs-sources', '192.0.2.1', '--rp-filter-all', '--state-file', join(dir, 'state.json'), '--log-level', 'warn']);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stdout, /realserver: outcome unsupported, changes 0/);
      const why = reasons(r);
      assert.match(why, /this kernel cannot create ipip devices \(Unknown device type\): the ipip module is not available/);
      assert.match(why, /cannot create ip6tnl devices \(Unknown device type\): the ip6_tunnel module is not available/);
      assert.match(why, /run with --partial/);
      assert.equal(await nodeState(rs), before, 'nothing changed');
      assert.equal(existsSync(join(dir, 'state.json')), false);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--partial: VIPs, ARP and rp_filter sysctls, IPIP accept, MSS clamp; a second run changes nothing; --clean restores the namespace', { skip, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-rs-'));
  const state = join(dir, 'state.json');
  const args = ['--vips', `${VIP4},${VIP6}`, '--lvs-sources', '192.0.2.1,2001:db8:2::1', '--ports', '8080', '--mss', '1400', '--rp-filter-all', '--partial', '--state-file', state, '--log-level', 'warn'];
  try {
    await withLab('rs-app', async (lab) => {
      const { rs, client } = await lab2(lab);
      const before = await nodeState(rs);

      const dry = await realserver(rs, ['--dry-run', ...args]);
      assert.equal(dry.status, 0, dry.stderr);
      assert.match(dry.stdout, /^ip link add ipip0 type ipip external$/m);
      assert.match(dry.stdout, /^ip -4 addr add 198\.51\.100\.10\/32 dev lo proto 112$/m);
      assert.match(dry.stdout, /^sysctl -w net\.ipv4\.conf\.all\.rp_filter=2 {3}# was 1/m);
      assert.match(dry.stdout, /^nft -f - <<'EOF'/m);
      assert.equal(await nodeState(rs), before, '--dry-run changes nothing');

      const first = await realserver(rs, ['--once', ...args]);
      assert.equal(first.status, 0, first.stderr);
      // 2 VIPs, arp_ignore, arp_announce, rp_filter on all, the table
      assert.match(first.stdout, /realserver: outcome partial, changes 6, unchanged 0, failed 2, skipped 1, unsupported ipip\+ip6tnl/);
      assert.match(reasons(first), /ipip module is not available/);
      assert.match(reasons(first), /skipped: sysctl -w net\.ipv4\.conf\.ipip0\.rp_filter=0/);

      const lo = await rs.ipJson<{ addr_info: { local: string; prefixlen: number }[] }[]>('addr', 'show', 'dev', 'lo');
      const onLo = lo[0]!.addr_info.map((a) => `${a.local}/${a.prefixlen}`);
      assert.ok(onLo.includes(`${VIP4}/32`) && onLo.includes(`${VIP6}/128`), onLo.join(' '));
      assert.equal(await sysctl(rs, 'net.ipv4.conf.all.arp_ignore'), 1);
      assert.equal(await sysctl(rs, 'net.ipv4.conf.all.arp_announce'), 2);
      assert.equal(await sysctl(rs, 'net.ipv4.conf.all.rp_filter'), 2);

      // the accept rules see tunnelled packets from the LVS sources (the kernel then refuses them: no ipip module)
      sendRaw(client, '192.0.2.2', 4);
      sendRaw(client, '2001:db8:2::2', 41);
      await waitFor(async () => (await ruleCount(rs, 'IPIP from LVS')) === 1 && (await ruleCount(rs, 'IPv6-in-IPv6 from LVS')) === 1);

      // a real handshake: port 8080 is clamped, 8081 (not in --ports) keeps the route's MSS
      assert.equal(await synAckMss(rs, client, VIP4, 8080), 1400);
      assert.equal(await synAckMss(rs, client, VIP4, 8081), 1460);
      assert.equal(await synAckMss(rs, client, VIP6, 8080), 1400);
      assert.equal(await synAckMss(rs, client, VIP6, 8081), 1440);
      assert.equal(await ruleCount(rs, 'MSS clamp IPv4'), 1);

      const second = await realserver(rs, ['--once', ...args]);
      assert.equal(second.status, 0, second.stderr);
      assert.match(second.stdout, /realserver: outcome partial, changes 0, unchanged 6/);
      const recorded = JSON.parse(readFileSync(state, 'utf8')) as { nft?: { generation?: string } };
      assert.match(recorded.nft?.generation ?? '', /:[0-9]+:[0-9]+$/, 'the ruleset generation is recorded, so checks need not run nft');

      // a rule flushed by hand bumps the generation; the next run lists the table, sees it and puts it back
      await rs.exec('nft', ['flush', 'chain', 'inet', 'pathguard_realserver', 'mss_clamp']);
      const seen = await realserver(rs, ['--dry-run', ...args]);
      assert.match(seen.stdout, /^nft -f - <<'EOF' {3}# the table was changed outside pathguard$/m);
      const repair = await realserver(rs, ['--once', ...args]);
      assert.equal(repair.status, 0, repair.stderr);
      assert.match(repair.stdout, /changes 1, unchanged 5/);
      assert.equal(await synAckMss(rs, client, VIP4, 8080), 1400);

      const clean = await realserver(rs, ['--clean', '--state-file', state, '--log-level', 'warn']);
      assert.equal(clean.status, 0, clean.stderr);
      assert.match(clean.stdout, /realserver: removed or restored 6/);
      assert.equal(await nodeState(rs), before, '--clean leaves the namespace as it was');
      assert.equal(existsSync(state), false, 'nothing left to restore: the state file is gone');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--clean keeps what was there before: a VIP added by hand and a sysctl changed since', { skip, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-rs-'));
  const state = join(dir, 'state.json');
  try {
    await withLab('rs-own', async (lab) => {
      const { rs } = await lab2(lab);
      await rs.ip('addr', 'add', `${VIP4}/32`, 'dev', 'lo');
      const r = await realserver(rs, ['--once', '--partial', '--vips', `${VIP4},198.51.100.11`, '--state-file', state, '--rp-filter-all', '--log-level', 'warn']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /changes 5, unchanged 1/, 'the VIP already on lo counts as in place');
      await rs.sysctl('net.ipv4.conf.all.arp_announce', 1);
      const clean = await realserver(rs, ['--clean', '--state-file', state, '--log-level', 'warn']);
      assert.equal(clean.status, 0, clean.stderr);
      assert.match(reasons(clean), /net\.ipv4\.conf\.all\.arp_announce is 1, not the 2 pathguard set; someone changed it since/);
      const lo = (await rs.ip('-br', 'addr', 'show', 'dev', 'lo')).stdout;
      assert.match(lo, /198\.51\.100\.10\/32/, 'the hand-made VIP stays');
      assert.doesNotMatch(lo, /198\.51\.100\.11/, "pathguard's VIP goes");
      assert.equal(await sysctl(rs, 'net.ipv4.conf.all.arp_announce'), 1);
      assert.equal(await sysctl(rs, 'net.ipv4.conf.all.arp_ignore'), 0);
      assert.equal(await sysctl(rs, 'net.ipv4.conf.all.rp_filter'), 1);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('long-running: ready after the first reconcile, a VIP deleted by hand comes back on the address event, SIGTERM exits 0', { skip, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-rs-'));
  const ready = join(dir, 'ready');
  try {
    await withLab('rs-run', async (lab) => {
      const { rs } = await lab2(lab);
      // a check interval far beyond the test: only the event can bring the VIP back in time
      const child = rs.spawn(process.execPath, [ENTRY, 'realserver', '--partial', '--vips', VIP4, '--rp-filter-all', '--state-file', join(dir, 'state.json'), '--ready-file', ready, '--check-interval', '10m', '--debounce', '50ms', '--metrics-addr', '127.0.0.1:19462']);
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
      await waitFor(() => existsSync(ready), 20_000);
      await rs.ip('addr', 'del', `${VIP4}/32`, 'dev', 'lo');
      await waitFor(async () => (await rs.ip('-br', 'addr', 'show', 'dev', 'lo')).stdout.includes(`${VIP4}/32`), 10_000);
      assert.match(stderr, /"trigger":"address"/);
      const metrics = (await rs.exec('curl', ['-s', 'http://127.0.0.1:19462/metrics'])).stdout;
      assert.match(metrics, /^pathguard_realserver_decap_unsupported_info\{kind="ipip"\} 1$/m);
      assert.match(metrics, /^pathguard_realserver_changes_total\{kind="vip-add"\} 2$/m, 'the first add and the repair');
      assert.match((await rs.exec('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:19462/readyz'])).stdout, /^200$/);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      assert.equal(existsSync(ready), false, 'the ready file is removed on exit');
      assert.match((await rs.ip('-br', 'addr', 'show', 'dev', 'lo')).stdout, /198\.51\.100\.10\/32/, 'the set-up stays after the agent stops');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
