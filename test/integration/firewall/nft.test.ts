/**
 * pathguard's nftables table against the real kernel, in a lab:
 *
 *   node eth0 ── eth0 rtr eth1 (MTU 1280) ── eth0 far
 *   192.0.2.1        192.0.2.254 / 198.51.100.1    198.51.100.2
 *   2001:db8:1::1    2001:db8:1::fe / 2001:db8:2::1   2001:db8:2::2
 *
 * "node" runs the table. Pings of 1428 bytes with DF from node to far make
 * rtr answer with real ICMP "fragmentation needed" / "packet too big". The
 * node's routes carry `mtu lock 1500` so IPv4 keeps sending big packets
 * after the first error (the locked metric stops __ip_rt_update_pmtu);
 * IPv6 ignores the lock for PMTU exceptions, so IPv6 tests flush the route
 * cache before each ping. rtr's ICMP rate limits are off so that every big
 * packet gets its error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { withLab, labUnavailable, waitFor, type Lab, type Netns } from '../../harness/netns.js';
import { PathguardError } from '../../../src/errors.js';
import {
  applyRuleset,
  checkRuleset,
  nftAvailable,
  NftError,
  readCounters,
  removeTable,
  updatePeerSets,
} from '../../../src/firewall/nft.js';
import {
  manualRules,
  peerSetsUpdate,
  relayRuleset,
  removeTableRuleset,
  type RelayRulesetOptions,
} from '../../../src/firewall/ruleset.js';

const nftMissing = ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].some(existsSync) ? undefined : 'nft is not installed';
const skip = labUnavailable() ?? nftMissing;
const PYTHON = '/usr/bin/python3';

const FAR4 = '198.51.100.2';
const FAR6 = '2001:db8:2::2';
const RTR4 = '192.0.2.254';

/** Runs a command in a namespace and returns its exit code and output, whatever the code. */
function run(ns: Netns, cmd: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', ns.name, cmd, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

interface PathLab {
  node: Netns;
  rtr: Netns;
  far: Netns;
  rtrMac: string;
}

async function pathLab(lab: Lab): Promise<PathLab> {
  const node = await lab.ns('node');
  const rtr = await lab.ns('rtr');
  const far = await lab.ns('far');
  await lab.veth(node, 'eth0', rtr, 'eth0');
  await lab.veth(rtr, 'eth1', far, 'eth0', { mtu: 1280 });
  await node.addr('eth0', '192.0.2.1/24');
  await node.addr('eth0', '2001:db8:1::1/64');
  await rtr.addr('eth0', `${RTR4}/24`);
  await rtr.addr('eth0', '2001:db8:1::fe/64');
  await rtr.addr('eth1', '198.51.100.1/24');
  await rtr.addr('eth1', '2001:db8:2::1/64');
  await far.addr('eth0', `${FAR4}/24`);
  await far.addr('eth0', `${FAR6}/64`);
  await node.route('default', 'via', RTR4, 'mtu', 'lock', '1500');
  await node.route('default', 'via', '2001:db8:1::fe', 'mtu', 'lock', '1500');
  await far.route('default', 'via', '198.51.100.1');
  await far.route('default', 'via', '2001:db8:2::1');
  await rtr.forwarding();
  await rtr.sysctl('net.ipv4.icmp_ratelimit', 0);
  await rtr.sysctl('net.ipv4.icmp_msgs_per_sec', 100000);
  await rtr.sysctl('net.ipv6.icmp.ratelimit', 0);
  return { node, rtr, far, rtrMac: await rtr.mac('eth0') };
}

/** `n` big DF pings node → far; each one makes rtr send a frag-needed back. Returns ping's error count. */
async function bigPings4(node: Netns, n: number, intervalS = '0.005'): Promise<number> {
  const r = await run(node, 'ping', ['-M', 'do', '-s', '1400', '-c', String(n), '-i', intervalS, '-W', '1', '-q', FAR4]);
  const m = /\+(\d+) errors/.exec(r.stdout);
  assert.ok(m, `ping printed no error count: ${r.stdout} ${r.stderr}`);
  return Number(m[1]);
}

/** One big IPv6 ping, after forgetting the learned path MTU, so rtr answers with packet-too-big. */
async function bigPing6(node: Netns): Promise<void> {
  await node.ip('-6', 'route', 'flush', 'cache');
  await run(node, 'ping', ['-6', '-M', 'do', '-s', '1400', '-c', '1', '-W', '1', '-q', FAR6]);
}

const opts = (extra: Partial<RelayRulesetOptions> = {}): RelayRulesetOptions => ({
  uplinks: ['eth0'],
  nflogGroup: 33,
  tunInterface: 'pgtun0',
  udpPort: 4791,
  peers: { v4: ['192.0.2.2'], v6: ['2001:db8:1::2'], mac: ['02:00:5e:00:53:02'] },
  ...extra,
});

/**
 * Crafts replicas the way the transports deliver them.
 *   bcast IFACE SRC DST   an ICMP frag-needed from SRC to DST in a frame to ff:ff:ff:ff:ff:ff
 *   tun NAME SRC DST      the same packet written into a new TUN interface NAME (enters NAME's ingress)
 *   udp DST PORT          one UDP datagram to DST:PORT
 */
const CRAFT = String.raw`
import fcntl, os, socket, struct, subprocess, sys
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def ipv4(src, dst, proto, payload):
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack('!H', csum(h)) + h[12:] + payload
def frag_needed(src, dst):
    echo = struct.pack('!BBHHH', 8, 0, 0, 1, 1) + b'x' * 20
    quoted = ipv4(dst, '198.51.100.2', 1, echo)
    icmp = struct.pack('!BBHHH', 3, 4, 0, 0, 1280) + quoted[:28]
    icmp = icmp[:2] + struct.pack('!H', csum(icmp)) + icmp[4:]
    return ipv4(src, dst, 1, icmp)
mode = sys.argv[1]
if mode == 'bcast':
    iface, src, dst = sys.argv[2:5]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    mac = open('/sys/class/net/%s/address' % iface).read().strip()
    s.send(b'\xff' * 6 + bytes.fromhex(mac.replace(':', '')) + b'\x08\x00' + frag_needed(src, dst))
elif mode == 'tun':
    name, src, dst = sys.argv[2:5]
    fd = os.open('/dev/net/tun', os.O_RDWR)
    fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH', name.encode(), 0x0001 | 0x1000))  # TUNSETIFF, IFF_TUN | IFF_NO_PI
    subprocess.check_call(['ip', 'link', 'set', name, 'up'])
    os.write(fd, frag_needed(src, dst))
elif mode == 'udp':
    dst, port = sys.argv[2], int(sys.argv[3])
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'replica', (dst, port))
`;

async function craft(ns: Netns, ...args: string[]): Promise<void> {
  await ns.exec(PYTHON, ['-c', CRAFT, ...args]);
}

async function counter(ns: Netns, name: string): Promise<number> {
  const c = (await readCounters({ netns: ns.name })).get(name);
  assert.ok(c, `counter ${name} is missing`);
  return c.packets;
}

async function setElements(ns: Netns, set: string): Promise<string[]> {
  const r = await ns.exec('nft', ['-j', 'list', 'set', 'inet', 'pathguard', set]);
  const doc = JSON.parse(r.stdout) as { nftables: { set?: { elem?: string[] } }[] };
  return doc.nftables.find((x) => x.set)?.set?.elem ?? [];
}

test('nft -c accepts every text the generator produces', { skip }, async () => {
  await withLab('fwchk', async (lab) => {
    const ns = await lab.ns('n');
    const o = { netns: ns.name };
    await checkRuleset(relayRuleset(opts()), o);
    await checkRuleset(relayRuleset(opts(), { mode: 'update' }), o);
    await checkRuleset(relayRuleset({ uplinks: ['eth*', 'bond0.100'], nflogGroup: 0 }, { mode: 'update' }), o);
    await checkRuleset(manualRules({ ...opts(), format: 'nft' }), o);
    await checkRuleset(removeTableRuleset(), o);
    // Set updates refer to the table, so they check against an applied one.
    await applyRuleset(relayRuleset(opts()), o);
    await checkRuleset(peerSetsUpdate({ v4: ['203.0.113.1'], v6: ['2001:db8::1'], mac: [] }), o);
    // nft -c really checks: a rule naming an unknown set is refused.
    await assert.rejects(checkRuleset('add rule inet pathguard too_big ip saddr @nope return\n', o), NftError);
  });
});

test('real frag-needed and packet-too-big are counted and handed to NFLOG group 33', { skip }, async () => {
  await withLab('fwcap', async (lab) => {
    const { node } = await pathLab(lab);
    await applyRuleset(relayRuleset(opts()), { netns: node.name });
    // tcpdump reads NFLOG group 33 like the relay will (libpcap's nflog device).
    const dump = node.spawn('tcpdump', ['-n', '-l', '-i', 'nflog:33', '-c', '5']);
    let out = '';
    let err = '';
    dump.stdout!.on('data', (d) => (out += d));
    dump.stderr!.on('data', (d) => (err += d));
    await waitFor(() => err.includes('listening on nflog:33'));
    const closed = new Promise((r) => dump.once('close', r));

    assert.equal(await bigPings4(node, 3), 3);
    await bigPing6(node);
    await bigPing6(node);
    await closed;
    const lines = out.trim().split('\n');
    assert.equal(lines.filter((l) => /192\.0\.2\.254 > 192\.0\.2\.1: ICMP 198\.51\.100\.2 unreachable - need to frag \(mtu 1280\)/.test(l)).length, 3, out);
    assert.equal(lines.filter((l) => /2001:db8:1::fe > 2001:db8:1::1: ICMP6, packet too big, mtu 1280/.test(l)).length, 2, out);

    const c = await readCounters({ netns: node.name });
    assert.deepEqual(c.get('captured_v4'), { packets: 3, bytes: 3 * 576 }); // icmp_send() quotes up to 576 bytes in all
    assert.equal(c.get('captured_v6')?.packets, 2);
    for (const name of ['replica_tun', 'replica_broadcast', 'replica_peer_mac', 'replica_peer_v4', 'replica_peer_v6']) {
      assert.equal(c.get(name)?.packets, 0, name);
    }
  });
});

test('replicas are recognised and never captured: peer IP, peer MAC, broadcast frame, TUN ingress', { skip }, async () => {
  await withLab('fwrep', async (lab) => {
    const { node, rtr, rtrMac } = await pathLab(lab);
    const o = { netns: node.name };
    await applyRuleset(relayRuleset(opts()), o);

    // ip transport: the replica comes from a peer's address.
    await updatePeerSets({ v4: [RTR4], v6: [], mac: [] }, o);
    assert.equal(await bigPings4(node, 4), 4);
    assert.equal(await counter(node, 'replica_peer_v4'), 4);

    // l2 transport: the replica comes from a peer's MAC.
    await updatePeerSets({ v4: [], v6: [], mac: [rtrMac] }, o);
    assert.equal(await bigPings4(node, 2), 2);
    await bigPing6(node);
    assert.equal(await counter(node, 'replica_peer_mac'), 3);

    // broadcast transport: a frame to ff:ff:ff:ff:ff:ff.
    await updatePeerSets({ v4: [], v6: [], mac: [] }, o);
    await craft(rtr, 'bcast', 'eth0', RTR4, '192.0.2.1');
    await waitFor(async () => (await counter(node, 'replica_broadcast')) === 1);

    // udp transport: the replica enters through the TUN interface.
    await craft(node, 'tun', 'pgtun0', '203.0.113.9', '192.0.2.1');
    await waitFor(async () => (await counter(node, 'replica_tun')) === 1);

    // None of them reached NFLOG.
    assert.equal(await counter(node, 'captured_v4'), 0);
    assert.equal(await counter(node, 'captured_v6'), 0);
  });
});

test('the udp chain passes relay datagrams from peers and drops the rest', { skip }, async () => {
  await withLab('fwudp', async (lab) => {
    const { node, rtr } = await pathLab(lab);
    const o = { netns: node.name };
    await applyRuleset(relayRuleset(opts({ peers: { v4: [RTR4], v6: [], mac: [] } })), o);
    await craft(rtr, 'udp', '192.0.2.1', '4791');
    await waitFor(async () => (await counter(node, 'udp_peer')) === 1);
    await updatePeerSets({ v4: [], v6: [], mac: [] }, o);
    await craft(rtr, 'udp', '192.0.2.1', '4791');
    await craft(rtr, 'udp', '192.0.2.1', '4792'); // another port: not ours to judge
    await waitFor(async () => (await counter(node, 'udp_refused')) === 1);
    assert.equal(await counter(node, 'udp_peer'), 1);
  });
});

test('re-applying in update mode is atomic: a flood counted meanwhile by an independent table matches exactly', { skip }, async (t) => {
  await withLab('fwatom', async (lab) => {
    const { node } = await pathLab(lab);
    const o = { netns: node.name };
    await applyRuleset(relayRuleset(opts()), o);
    // A witness outside pathguard's table counts the same packets, a little earlier in the hook.
    await node.nft(`table inet witness {
	counter seen {
	}
	chain c {
		type filter hook prerouting priority raw - 10; policy accept;
		iifname "eth0" icmp type destination-unreachable icmp code frag-needed counter name "seen"
	}
}
`);
    const flood = node.spawn('ping', ['-M', 'do', '-s', '1400', '-c', '1200', '-i', '0.002', '-W', '1', '-q', FAR4]);
    let floodOut = '';
    flood.stdout!.on('data', (d) => (floodOut += d));
    let done = false;
    flood.once('close', () => (done = true));
    let reapplied = 0;
    while (!done) {
      // Alternate configurations, including dropping and re-adding the udp base chain.
      const withUdp = reapplied % 2 === 0;
      await applyRuleset(relayRuleset(opts(withUdp ? {} : { udpPort: undefined, tunInterface: undefined }), { mode: 'update' }), o);
      await updatePeerSets({ v4: [`203.0.113.${reapplied % 250}`], v6: [], mac: [] }, o);
      reapplied++;
    }
    const errors = Number(/\+(\d+) errors/.exec(floodOut)?.[1]);
    const witness = Number(/packets (\d+)/.exec((await node.exec('nft', ['list', 'counter', 'inet', 'witness', 'seen'])).stdout)?.[1]);
    const ours = await counter(node, 'captured_v4');
    t.diagnostic(`${errors} frag-needed during ${reapplied} re-applies; pathguard counted ${ours}, the witness ${witness}`);
    assert.ok(reapplied >= 5, `only ${reapplied} re-applies during the flood`);
    assert.ok(errors > 500, `flood produced only ${errors} errors`);
    assert.equal(witness, errors);
    assert.equal(ours, witness, `pathguard counted ${ours} of ${witness} while re-applying ${reapplied} times`);
    // The last update's peer set is what is in the kernel.
    assert.deepEqual(await setElements(node, 'peer_v4'), [`203.0.113.${(reapplied - 1) % 250}`]);
  });
});

test('update mode drops what the new configuration no longer has; replace mode starts counters over', { skip }, async () => {
  await withLab('fwmode', async (lab) => {
    const { node } = await pathLab(lab);
    const o = { netns: node.name };
    await applyRuleset(relayRuleset(opts()), o);
    assert.equal(await bigPings4(node, 2), 2);

    await applyRuleset(relayRuleset({ uplinks: ['eth0'], nflogGroup: 33, peers: { v4: ['192.0.2.7'], v6: [], mac: [] } }, { mode: 'update' }), o);
    const listed = (await node.exec('nft', ['list', 'table', 'inet', 'pathguard'])).stdout;
    assert.doesNotMatch(listed, /udp_relay|replica_tun|udp_peer/);
    assert.equal(await counter(node, 'captured_v4'), 2, 'update keeps counter values');
    assert.deepEqual(await setElements(node, 'peer_v4'), ['192.0.2.7']);
    assert.deepEqual(await setElements(node, 'peer_mac'), []);

    await applyRuleset(relayRuleset(opts()), o);
    const c = await readCounters(o);
    assert.equal(c.size, 9);
    for (const [name, v] of c) assert.deepEqual(v, { packets: 0, bytes: 0 }, name);
    assert.deepEqual(await setElements(node, 'peer_v4'), ['192.0.2.2']);
  });
});

test('a ruleset that fails to parse, or that the kernel refuses, leaves the previous table untouched', { skip }, async () => {
  await withLab('fwfail', async (lab) => {
    const { node } = await pathLab(lab);
    const o = { netns: node.name };
    await applyRuleset(relayRuleset(opts()), o);
    assert.equal(await bigPings4(node, 2), 2);
    const before = (await node.exec('nft', ['list', 'table', 'inet', 'pathguard'])).stdout;

    // Syntax error at the end, after the flush and the redefinition.
    const broken = relayRuleset(opts({ peers: { v4: ['203.0.113.1'], v6: [], mac: [] } }), { mode: 'update' }) + 'add rule inet pathguard too_big bogus\n';
    const e1 = await applyRuleset(broken, o).then(() => undefined, (e: unknown) => e);
    assert.ok(e1 instanceof NftError, String(e1));
    assert.equal(e1.code, 'PG_NFT');
    assert.match(e1.stderr, /syntax error/);

    // Parses, but the kernel refuses to move an existing base chain to another priority (EOPNOTSUPP).
    const moved = relayRuleset(opts(), { mode: 'update' }).replace('hook prerouting priority raw', 'hook prerouting priority -150');
    const e2 = await applyRuleset(moved, o).then(() => undefined, (e: unknown) => e);
    assert.ok(e2 instanceof NftError, String(e2));
    assert.match(e2.stderr, /Operation not supported/);

    assert.equal((await node.exec('nft', ['list', 'table', 'inet', 'pathguard'])).stdout, before);
    assert.equal(await bigPings4(node, 1), 1);
    assert.equal(await counter(node, 'captured_v4'), 3, 'the old rules still capture');
  });
});

test('removeTable is idempotent; reading counters of a missing table is an NftError', { skip }, async () => {
  await withLab('fwrm', async (lab) => {
    const ns = await lab.ns('n');
    const o = { netns: ns.name };
    await removeTable(o); // nothing there: fine
    await applyRuleset(relayRuleset(opts()), o);
    await removeTable(o);
    await removeTable(o);
    assert.equal((await ns.exec('nft', ['list', 'tables'])).stdout.trim(), '');
    await assert.rejects(readCounters(o), (err: unknown) => err instanceof NftError && /No such file or directory/.test(err.stderr));
  });
});

test('nftAvailable says yes with the version, or why not in plain words', { skip }, async () => {
  await withLab('fwavl', async (lab) => {
    const ns = await lab.ns('n');
    const yes = await nftAvailable({ netns: ns.name });
    assert.equal(yes.available, true);
    assert.match(yes.available ? yes.version : '', /^nftables v\d/);
    const no = await nftAvailable({ netns: `${ns.name}-missing` });
    assert.equal(no.available, false);
    assert.match(no.available ? '' : no.reason, /Cannot open network namespace|No such file/);
    await assert.rejects(applyRuleset('', { netns: 'bad name; rm -rf /' }), (err: unknown) => err instanceof PathguardError && err.code === 'PG_UNSUPPORTED');
  });
});

const iptablesMissing = ['/usr/sbin/iptables', '/sbin/iptables'].some(existsSync) ? undefined : 'iptables is not installed';

test('the manual iptables rules are accepted by iptables and ip6tables', { skip: skip ?? iptablesMissing }, async () => {
  await withLab('fwipt', async (lab) => {
    const ns = await lab.ns('n');
    const text = manualRules({ ...opts({ uplinks: ['eth0', 'bond*'] }), format: 'iptables' });
    const commands = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    for (const line of commands) {
      const [cmd, ...args] = line.split(' ');
      await ns.exec(cmd!, args);
    }
    const saved = (await ns.exec('iptables-save', ['-t', 'raw'])).stdout;
    assert.match(saved, /^-A PREROUTING -i bond\+ -p icmp -m icmp --icmp-type 3\/4 -j PATHGUARD$/m);
    assert.match(saved, /^-A PATHGUARD -m mac --mac-source 02:00:5e:00:53:02 -j RETURN$/m);
    assert.match(saved, /-A PATHGUARD -j NFLOG --nflog-group 33/);
    const saved6 = (await ns.exec('ip6tables-save', ['-t', 'raw'])).stdout;
    assert.match(saved6, /-A PATHGUARD -s 2001:db8:1::2\/128 -j RETURN/);
  });
});
