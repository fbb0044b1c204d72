// plan(desired, actual) and planClean(actual): pure tables of cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { realserverConfig } from '../../../src/realserver/config.js';
import { desiredState, parseVipsText, DEVICE_ALIAS, IFAPROT_PATHGUARD } from '../../../src/realserver/desired.js';
import { plan, planClean, sysctlTarget, EMPTY_STATE, type KernelDevice, type KernelVip, type Snapshot, type RecordedState } from '../../../src/realserver/plan.js';
import { formatPlan } from '../../../src/realserver/plan-text.js';
import { normaliseListing } from '../../../src/firewall/realserver-ruleset.js';

const CFG = realserverConfig({ vips: '198.51.100.10,2001:db8:f::10', lvsSources: '192.0.2.0/28,2001:db8:1::5' }, {}, undefined);
const SYSCTLS = new Map<string, number | undefined>([
  ['net.ipv4.conf.all.arp_ignore', 0],
  ['net.ipv4.conf.all.arp_announce', 0],
  ['net.ipv4.conf.all.rp_filter', 2],
  ['net.ipv4.conf.ipip0.rp_filter', undefined],
]);

function snap(over: Partial<Snapshot> = {}): Snapshot {
  return { loIndex: 1, devices: new Map(), addresses: [], sysctls: SYSCTLS, nft: { available: true }, state: EMPTY_STATE, ...over };
}
const dev = (d: Partial<KernelDevice> & { name: string }): KernelDevice => ({ index: 9, external: true, remote: false, up: true, ...d });
const kinds = (p: ReturnType<typeof plan>) => p.changes.map((c) => c.kind);

test('an empty node: devices first, then VIPs, sysctls (the device rp_filter marked as depending on it), the table', () => {
  const p = plan(desiredState(CFG), snap());
  assert.deepEqual(kinds(p), ['device-add', 'device-add', 'vip-add', 'vip-add', 'sysctl', 'sysctl', 'sysctl', 'nft-apply']);
  const dep = p.changes.find((c) => c.kind === 'sysctl' && c.key === 'net.ipv4.conf.ipip0.rp_filter');
  assert.deepEqual(dep, { kind: 'sysctl', key: 'net.ipv4.conf.ipip0.rp_filter', to: 0, why: 'let decapsulated packets from any client in', device: 'ipip0' });
  assert.equal(p.unchanged, 1, 'rp_filter on all is already loose');
  assert.deepEqual(p.problems, []);
});

test('everything in place: nothing to do', () => {
  const d = desiredState(CFG);
  const listing = 'table inet pathguard_realserver {\n\tchain x {\n\t\tcounter packets 5 bytes 300\n\t}\n}\n';
  const state: RecordedState = { sysctls: {}, nft: { table: d.nft!.table, listing: normaliseListing(listing.replace('5 bytes 300', '0 bytes 0')) } };
  const p = plan(
    d,
    snap({
      devices: new Map([
        ['ipip0', dev({ name: 'ipip0', kind: 'ipip', alias: DEVICE_ALIAS })],
        ['ipip60', dev({ name: 'ipip60', kind: 'ip6tnl', alias: DEVICE_ALIAS })],
      ]),
      addresses: [
        { family: 4, address: '198.51.100.10', prefixlen: 32, index: 1, protocol: IFAPROT_PATHGUARD },
        { family: 6, address: '2001:db8:f::10', prefixlen: 128, index: 1 },
      ],
      sysctls: new Map([...SYSCTLS, ['net.ipv4.conf.all.arp_ignore', 1], ['net.ipv4.conf.all.arp_announce', 2], ['net.ipv4.conf.ipip0.rp_filter', 0]]),
      nft: { available: true, listing },
      state,
    }),
  );
  assert.deepEqual(p.changes, []);
  assert.equal(p.unchanged, 2 + 2 + 4 + 1);
});

test('the table: re-applied when missing, unrecorded, configured differently or edited by hand', () => {
  const d = desiredState(CFG);
  const rec = { table: d.nft!.table, listing: 'L' };
  const reason = (s: Partial<Snapshot>) => {
    const c = plan(d, snap(s)).changes.find((x) => x.kind === 'nft-apply');
    return c && c.kind === 'nft-apply' ? c.reason : undefined;
  };
  assert.equal(reason({ nft: { available: true } }), 'the table is missing');
  assert.equal(reason({ nft: { available: true, listing: 'L' } }), 'the table was not recorded as applied by this pathguard');
  assert.equal(reason({ nft: { available: true, listing: 'L' }, state: { sysctls: {}, nft: { ...rec, table: 'old' } } }), 'the configuration changed');
  assert.equal(reason({ nft: { available: true, listing: 'M' }, state: { sysctls: {}, nft: rec } }), 'the table was changed outside pathguard');
  assert.equal(reason({ nft: { available: true, listing: 'L' }, state: { sysctls: {}, nft: rec } }), undefined);
  const gone = plan(d, snap({ nft: { available: false, reason: 'nft is not installed' } }));
  assert.ok(gone.problems.some((x) => x.code === 'nft-unavailable' && x.message.includes('nft is not installed')));
});

test('rp_filter on all: 1 is lowered to 2 only with --rp-filter-all; otherwise a problem that explains max(all, iface)', () => {
  const strict = new Map([...SYSCTLS, ['net.ipv4.conf.all.rp_filter', 1]]);
  const without = plan(desiredState(CFG), snap({ sysctls: strict }));
  assert.ok(!without.changes.some((c) => c.kind === 'sysctl' && c.key === 'net.ipv4.conf.all.rp_filter'));
  const p = without.problems.find((x) => x.code === 'rp-filter-strict');
  assert.match(p!.message, /max\(all, iface\)/);
  assert.match(p!.message, /--rp-filter-all/);
  const cfg = realserverConfig({ vips: '198.51.100.10', rpFilterAll: true }, {}, undefined);
  const withFlag = plan(desiredState(cfg), snap({ sysctls: strict }));
  assert.ok(withFlag.changes.some((c) => c.kind === 'sysctl' && c.key === 'net.ipv4.conf.all.rp_filter' && c.from === 1 && c.to === 2));
  assert.equal(sysctlTarget({ key: 'k', mode: 'loose', want: 2, why: '', mayChange: true }, 0), undefined, '0 is fine');
  assert.equal(sysctlTarget({ key: 'k', mode: 'at-least', want: 1, why: '', mayChange: true }, 2), undefined, 'arp_ignore 2 is stricter than needed: kept');
});

test('devices: a usable foreign one is used, a wrong one is a conflict and its rp_filter is left alone, ours down is brought up', () => {
  const d = desiredState(CFG);
  const foreign = plan(d, snap({ devices: new Map([['ipip0', dev({ name: 'ipip0', kind: 'ipip' })]]) }));
  assert.ok(!foreign.changes.some((c) => c.kind === 'device-add' && c.device.name === 'ipip0'));
  const wrong = plan(d, snap({ devices: new Map([['ipip0', dev({ name: 'ipip0', kind: 'ipip', external: false, remote: true })]]) }));
  assert.ok(wrong.problems.some((x) => x.code === 'foreign-device' && x.message.includes('ipip0')));
  assert.ok(!wrong.changes.some((c) => c.kind === 'sysctl' && c.key.includes('ipip0')));
  const down = plan(d, snap({ devices: new Map([['ipip0', dev({ name: 'ipip0', kind: 'ipip', alias: DEVICE_ALIAS, up: false })]]) }));
  assert.ok(down.changes.some((c) => c.kind === 'device-up'));
});

test('only pathguard\'s objects go: a VIP of ours no longer configured is removed, a foreign one never', () => {
  const cfg = realserverConfig({ vips: '198.51.100.10' }, {}, undefined);
  const addresses: KernelVip[] = [
    { family: 4, address: '198.51.100.10', prefixlen: 32, index: 1, protocol: IFAPROT_PATHGUARD },
    { family: 4, address: '198.51.100.11', prefixlen: 32, index: 1, protocol: IFAPROT_PATHGUARD },
    { family: 4, address: '198.51.100.12', prefixlen: 32, index: 1 },
    { family: 4, address: '127.0.0.1', prefixlen: 8, index: 1, protocol: 1 },
  ];
  const devices = new Map([['ipip60', dev({ name: 'ipip60', kind: 'ip6tnl', alias: DEVICE_ALIAS, index: 12 })]]);
  const p = plan(desiredState(cfg), snap({ addresses, devices }));
  const removed = p.changes.filter((c) => c.kind === 'vip-del' || c.kind === 'device-del');
  assert.deepEqual(removed, [
    { kind: 'device-del', name: 'ipip60', index: 12 },
    { kind: 'vip-del', vip: addresses[1] },
  ]);
});

test('planClean: removes what is marked, restores recorded sysctls still at pathguard\'s value, reports the ones changed since', () => {
  const addresses: KernelVip[] = [
    { family: 6, address: '2001:db8:f::10', prefixlen: 128, index: 1, protocol: IFAPROT_PATHGUARD },
    { family: 4, address: '198.51.100.12', prefixlen: 32, index: 1 },
  ];
  const p = planClean(
    snap({
      addresses,
      devices: new Map([['ipip0', dev({ name: 'ipip0', kind: 'ipip', alias: DEVICE_ALIAS, index: 5 })], ['eth0', dev({ name: 'eth0', index: 2 })]]),
      nft: { available: true, listing: 'x' },
      sysctls: new Map([['net.ipv4.conf.all.arp_ignore', 1], ['net.ipv4.conf.all.arp_announce', 1], ['net.ipv4.conf.ipip0.rp_filter', 0]]),
      state: {
        sysctls: {
          'net.ipv4.conf.all.arp_ignore': { original: 0, set: 1 },
          'net.ipv4.conf.all.arp_announce': { original: 0, set: 2 },
          'net.ipv4.conf.ipip0.rp_filter': { original: 1, set: 0 },
        },
      },
    }),
  );
  assert.deepEqual(p.changes, [
    { kind: 'vip-del', vip: addresses[0] },
    { kind: 'nft-remove' },
    { kind: 'device-del', name: 'ipip0', index: 5 },
    { kind: 'sysctl-restore', key: 'net.ipv4.conf.all.arp_ignore', from: 1, to: 0 },
  ]);
  assert.equal(p.problems.length, 1);
  assert.equal(p.problems[0]!.code, 'changed-since');
});

test('the VIP file: one per line or comma-separated, comments, bad entries named by line and skipped', () => {
  const r = parseVipsText('# VIPs\n198.51.100.10\n198.51.100.11, 2001:DB8::1 # web\n\nnot-an-ip\n', 'vips.txt');
  assert.deepEqual(r.vips, ['198.51.100.10', '198.51.100.11', '2001:db8::1']);
  assert.equal(r.problems.length, 1);
  assert.match(r.problems[0]!.message, /^vips\.txt:5: "not-an-ip"/);
});

test('desired: only IPv6 VIPs need no ARP or rp_filter sysctls and no ipip device; an MSS that does not fit a family is a problem', () => {
  const cfg = realserverConfig({ vips: '198.51.100.1', mss: 1450 }, {}, undefined);
  const d = desiredState(cfg, ['2001:db8::7']);
  assert.ok(d.problems.some((p) => p.code === 'mss-range' && p.message.includes('IPv6')));
  assert.match(d.nft!.table, /ip saddr @vip_v4 .* set 1450/);
  assert.doesNotMatch(d.nft!.table, /ip6 saddr @vip_v6/);
  const v6 = desiredState(realserverConfig({ vips: '2001:db8::7' }, {}, undefined));
  assert.deepEqual(v6.devices, [{ name: 'ipip60', kind: 'ip6tnl', family: 6 }]);
  assert.deepEqual(v6.sysctls, []);
});

test('--dry-run text: ip, sysctl and nft commands in application order', () => {
  const lines = formatPlan(plan(desiredState(CFG), snap()));
  assert.deepEqual(lines.slice(0, 9), [
    'ip link add ipip0 type ipip external',
    "ip link set dev ipip0 alias 'pathguard realserver' up",
    'ip link add ipip60 type ip6tnl external',
    "ip link set dev ipip60 alias 'pathguard realserver' up",
    'ip -4 addr add 198.51.100.10/32 dev lo proto 112',
    'ip -6 addr add 2001:db8:f::10/128 dev lo proto 112',
    'sysctl -w net.ipv4.conf.all.arp_ignore=1   # was 0: do not answer ARP for the VIPs on lo',
    'sysctl -w net.ipv4.conf.all.arp_announce=2   # was 0: never announce a VIP as an ARP source',
    'sysctl -w net.ipv4.conf.ipip0.rp_filter=0   # new: let decapsulated packets from any client in',
  ]);
  assert.equal(lines[9], "nft -f - <<'EOF'   # the table is missing");
  assert.equal(lines.at(-1), 'EOF');
});
