// The rtnetlink codecs against the kernel, through NetlinkSocket, checked
// against iproute2's own view of the same namespace (`ip -j ...`): dumps of
// links, addresses, routes, rules and neighbours decode to what `ip` shows,
// and the request builders change what `ip` shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetlinkError } from '../../../src/errors.js';
import { NetlinkSocket } from '../../../src/net/netlink-socket.js';
import { NETLINK, type NetlinkMessage } from '../../../src/wire/netlink.js';
import { formatAddress, parseAddress } from '../../../src/wire/ip-address.js';
import { IFF, NUD, RT_TABLE, RTM_F, RTN, RTNL_FAMILY, type RtnlRequest } from '../../../src/wire/rtnetlink.js';
import { decodeLink, dumpLinks, getLink, type Link, setLinkDown, setLinkUp, setMtu } from '../../../src/wire/rtnl-link.js';
import { addAddress, decodeAddress, delAddress, dumpAddresses, IFA_F } from '../../../src/wire/rtnl-address.js';
import { decodeRoute, delRoute, dumpRouteCache, dumpRoutes, getRoute, replaceRoute, type Route } from '../../../src/wire/rtnl-route.js';
import { addRule, decodeRule, delRule, dumpRules } from '../../../src/wire/rtnl-rule.js';
import { decodeNeighbour, dumpNeighbours, type Neighbour, resolveNeighbour } from '../../../src/wire/rtnl-neighbour.js';
import { withLab, labUnavailable, waitFor, type Lab, type Netns } from '../../harness/netns.js';

const skip = labUnavailable();
const ip = parseAddress;
const PROTO = 240;

// ---- what `ip -j` prints (only the fields compared here) ----

interface IpLink {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  operstate: string;
  txqlen?: number;
  address?: string;
  broadcast?: string;
  master?: string;
  link?: string | null;
  link_index?: number;
  link_netnsid?: number;
  linkinfo?: { info_kind?: string; info_slave_kind?: string };
}
interface IpAddr {
  ifindex: number;
  addr_info: { family: string; local: string; prefixlen: number; scope: string; label?: string; nodad?: boolean; valid_life_time: number }[];
}
interface IpNexthop {
  gateway?: string;
  dev: string;
  weight: number;
}
interface IpRoute {
  type?: string;
  dst: string;
  gateway?: string;
  via?: { family: string; host: string };
  dev?: string;
  table?: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  metric?: number;
  pref?: string;
  nexthops?: IpNexthop[];
  metrics?: { mtu?: number; advmss?: number }[];
  expires?: number;
}
interface IpRule {
  priority: number;
  src: string;
  srclen?: number;
  table?: string;
  protocol?: string;
  suppress_prefixlen?: number;
  action?: string;
}
interface IpNeigh {
  dst: string;
  dev: string;
  lladdr?: string;
  state: string[];
}

// ---- our values in iproute2's words ----

const mac = (b: Uint8Array | undefined) => (b === undefined ? undefined : [...b].map((x) => x.toString(16).padStart(2, '0')).join(':'));
const TABLE_NAMES: Record<number, string> = { [RT_TABLE.MAIN]: 'main', [RT_TABLE.LOCAL]: 'local', [RT_TABLE.DEFAULT]: 'default' };
const tableName = (t: number | undefined) => (t === undefined ? undefined : TABLE_NAMES[t] ?? String(t));
const TYPE_NAMES: Record<number, string> = {
  1: 'unicast', 2: 'local', 3: 'broadcast', 4: 'anycast', 5: 'multicast', 6: 'blackhole', 7: 'unreachable', 8: 'prohibit', 9: 'throw',
};
const PROTO_NUMBERS: Record<string, number> = { redirect: 1, kernel: 2, boot: 3, static: 4, ra: 9, dhcp: 16 };
const SCOPE_NAMES: Record<number, string> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };
const NUD_NAMES: [number, string][] = [
  [NUD.INCOMPLETE, 'INCOMPLETE'], [NUD.REACHABLE, 'REACHABLE'], [NUD.STALE, 'STALE'], [NUD.DELAY, 'DELAY'],
  [NUD.PROBE, 'PROBE'], [NUD.FAILED, 'FAILED'], [NUD.NOARP, 'NOARP'], [NUD.PERMANENT, 'PERMANENT'],
];

/** `ip route` writes a destination as "default", an address for a host route, or address/length. */
function dstText(r: Route): string {
  if (r.dstLen === 0) return 'default';
  const a = formatAddress(r.dst!);
  return r.dstLen === r.dst!.byteLength * 8 ? a : `${a}/${r.dstLen}`;
}
const routeKey = (table: string, type: string, dst: string, dev: string | undefined) => `${table} ${type} ${dst} dev ${dev ?? '-'}`;

// ---- plumbing ----

async function dumpAll<T>(sock: NetlinkSocket, req: RtnlRequest, decode: (m: NetlinkMessage) => T): Promise<T[]> {
  return (await sock.dump(req.type, req.fixed, req.attrs)).map(decode);
}

/** A NetlinkError with errno `name`, for assert.rejects. */
const failsWith = (name: string) => (err: unknown) => err instanceof NetlinkError && err.errnoName === name;

async function send(sock: NetlinkSocket, req: RtnlRequest): Promise<NetlinkMessage[]> {
  return sock.request(req.type, req.flags, req.fixed, req.attrs);
}

/**
 * Namespace `a` holds every kind of object the codecs model; `b` is its
 * neighbour on eth0 (192.0.2.2, 2001:db8::2).
 */
async function populated(lab: Lab): Promise<{ a: Netns; b: Netns }> {
  const a = await lab.ns('a');
  const b = await lab.ns('b');
  await lab.veth(a, 'eth0', b, 'eth0');
  await a.addr('eth0', '192.0.2.1/24');
  await a.addr('eth0', '2001:db8::1/64');
  await b.addr('eth0', '192.0.2.2/24');
  await b.addr('eth0', '2001:db8::2/64');
  await lab.bridge(a, 'br0');
  await a.ip('link', 'add', 'vb0', 'mtu', '1400', 'type', 'veth', 'peer', 'name', 'vb1');
  await lab.enslave(a, 'vb0', 'br0');
  await a.up('vb0');
  const words = (s: string) => s.split(' ');
  await a.route(...words('default table 20 proto 240 nexthop via 192.0.2.2 weight 2 nexthop via 192.0.2.3 weight 1'));
  await a.route(...words('198.51.100.0/24 via 192.0.2.2 mtu 1400 advmss 1360'));
  await a.route(...words('203.0.113.0/24 via 192.0.2.2 table 1000'));
  await a.route(...words('2001:db8:1::/64 via 2001:db8::2 table 20 proto 240 metric 512'));
  await a.route(...words('default table 20 proto 240 nexthop via 2001:db8::2 dev eth0 weight 2 nexthop via 2001:db8::4 dev eth0 weight 1'));
  await a.ip(...words('rule add from 203.0.113.0/24 lookup 20 pref 20 proto 240'));
  await a.ip(...words('rule add lookup main suppress_prefixlength 0 pref 19'));
  await a.ip(...words('-6 rule add from 2001:db8:2::/48 lookup 20 pref 20 proto 240'));
  await a.ip(...words('neigh add 192.0.2.3 lladdr 02:00:00:00:00:03 dev eth0 nud permanent'));
  await a.ip(...words('-6 neigh add 2001:db8::3 lladdr 02:00:00:00:00:03 dev eth0 nud permanent'));
  await a.exec('ping', ['-c1', '-W2', '192.0.2.2']); // a dynamic ARP entry
  return { a, b };
}

test('dumps decode to what `ip -j` shows: links, addresses, routes, rules, neighbours', { skip }, async () => {
  await withLab('rtdump', async (lab) => {
    const { a } = await populated(lab);
    const sock = NetlinkSocket.open(NETLINK.ROUTE, { netns: a.path });
    try {
      // ---- links ----
      const links = await dumpAll(sock, dumpLinks(), decodeLink);
      const ipLinks = await a.ipJson<IpLink[]>('-d', 'link');
      const byIndex = new Map(links.map((l) => [l.index, l]));
      const nameOf = (index: number | undefined) => (index === undefined ? undefined : byIndex.get(index)?.name);
      assert.deepEqual([...byIndex.keys()].sort(), ipLinks.map((j) => j.ifindex).sort());
      for (const j of ipLinks) {
        const l = byIndex.get(j.ifindex)!;
        assert.equal(l.name, j.ifname);
        assert.equal(l.mtu, j.mtu, j.ifname);
        assert.equal(l.txqlen, j.txqlen, j.ifname);
        assert.equal(l.operstate?.toUpperCase(), j.operstate, j.ifname);
        assert.equal(mac(l.address), j.address, j.ifname);
        assert.equal(mac(l.broadcast), j.broadcast, j.ifname);
        assert.equal(nameOf(l.master), j.master, j.ifname);
        assert.equal(l.linkinfo?.kind, j.linkinfo?.info_kind, j.ifname);
        assert.equal(l.linkinfo?.slaveKind, j.linkinfo?.info_slave_kind, j.ifname);
        for (const f of ['UP', 'LOWER_UP', 'BROADCAST', 'MULTICAST', 'LOOPBACK', 'NOARP', 'POINTOPOINT'] as const) {
          assert.equal((l.flags & IFF[f]) !== 0, j.flags.includes(f), `${j.ifname} ${f}`);
        }
        if (j.link_netnsid !== undefined) {
          // The peer lives in another namespace: ip prints its index and the namespace id.
          assert.equal(l.linkNetnsid, j.link_netnsid, j.ifname);
          assert.equal(l.link, j.link_index, j.ifname);
        } else if (typeof j.link === 'string') {
          assert.equal(nameOf(l.link), j.link, j.ifname);
        }
      }
      assert.equal(links.find((l) => l.name === 'vb0')?.mtu, 1400);
      assert.equal(nameOf(links.find((l) => l.name === 'vb0')?.master), 'br0');

      // ---- addresses ----
      for (const [family, flag, name] of [
        [RTNL_FAMILY.INET, '-4', 'inet'],
        [RTNL_FAMILY.INET6, '-6', 'inet6'],
      ] as const) {
        const ours = await dumpAll(sock, dumpAddresses(family), decodeAddress);
        const theirs = (await a.ipJson<IpAddr[]>(flag, 'addr')).flatMap((j) => j.addr_info.map((i) => ({ ...i, ifindex: j.ifindex })));
        const text = (x: { ifindex: number; local: string; prefixlen: number; scope: string; label?: string | undefined; nodad: boolean; valid: number }) =>
          `${x.ifindex} ${x.local}/${x.prefixlen} scope ${x.scope} label ${x.label ?? '-'} nodad ${x.nodad} valid ${x.valid}`;
        assert.deepEqual(
          ours.map((o) => text({
            ifindex: o.index,
            local: formatAddress(o.local ?? o.address!),
            prefixlen: o.prefixlen,
            scope: SCOPE_NAMES[o.scope]!,
            label: o.label,
            nodad: (o.flags & IFA_F.NODAD) !== 0,
            valid: o.cacheinfo!.valid,
          })).sort(),
          theirs.map((t) => text({ ...t, nodad: t.nodad === true, valid: t.valid_life_time })).sort(),
          name,
        );
        assert.ok(ours.every((o) => o.family === family));
      }

      // ---- routes ----
      for (const [family, flag] of [
        [RTNL_FAMILY.INET, '-4'],
        [RTNL_FAMILY.INET6, '-6'],
      ] as const) {
        const ours = await dumpAll(sock, dumpRoutes(family), decodeRoute);
        const theirs = await a.ipJson<IpRoute[]>(flag, 'route', 'show', 'table', 'all');
        const mine = new Map(ours.map((r) => [routeKey(tableName(r.table)!, TYPE_NAMES[r.type]!, dstText(r), nameOf(r.oif)), r]));
        assert.equal(mine.size, ours.length, 'keys are unique');
        assert.deepEqual([...mine.keys()].sort(), theirs.map((j) => routeKey(j.table ?? 'main', j.type ?? 'unicast', j.dst, j.dev)).sort());
        for (const j of theirs) {
          const key = routeKey(j.table ?? 'main', j.type ?? 'unicast', j.dst, j.dev);
          const r = mine.get(key)!;
          assert.equal(r.family, family);
          assert.equal(r.gateway && formatAddress(r.gateway), j.gateway, key);
          assert.equal(r.via && formatAddress(r.via.address), j.via?.host, key);
          assert.equal(nameOf(r.oif), j.dev, key);
          assert.equal(r.prefsrc && formatAddress(r.prefsrc), j.prefsrc, key);
          assert.equal(r.protocol, PROTO_NUMBERS[j.protocol ?? 'boot'] ?? Number(j.protocol), key);
          assert.equal(SCOPE_NAMES[r.scope], j.scope ?? 'global', key);
          assert.equal(r.priority, j.metric, key);
          assert.deepEqual(
            r.multipath?.map((h) => ({ gateway: h.gateway && formatAddress(h.gateway), dev: nameOf(h.ifindex)!, weight: h.weight })),
            j.nexthops?.map((h) => ({ gateway: h.gateway, dev: h.dev, weight: h.weight })),
            key,
          );
          const m = j.metrics?.[0];
          assert.equal(r.metrics?.mtu, m?.mtu, key);
          assert.equal(r.metrics?.advmss, m?.advmss, key);
        }
        assert.equal(ours.filter((r) => r.flags & RTM_F.CLONED).length, 0, 'a strict dump lists no cached routes');
      }
      const v4 = await dumpAll(sock, dumpRoutes(RTNL_FAMILY.INET, 20), decodeRoute);
      assert.deepEqual(v4.map((r) => [r.table, r.protocol, r.multipath?.map((h) => h.weight)]), [[20, PROTO, [2, 1]]], 'table 20 alone');
      const t1000 = await dumpAll(sock, dumpRoutes(RTNL_FAMILY.INET, 1000), decodeRoute);
      assert.deepEqual(t1000.map((r) => [r.table, dstText(r)]), [[1000, '203.0.113.0/24']]);

      // ---- rules ----
      for (const [family, flag] of [
        [RTNL_FAMILY.INET, '-4'],
        [RTNL_FAMILY.INET6, '-6'],
      ] as const) {
        const ours = await dumpAll(sock, dumpRules(family), decodeRule);
        const theirs = await a.ipJson<IpRule[]>(flag, 'rule');
        assert.deepEqual(ours.map((r) => r.priority ?? 0), theirs.map((j) => j.priority), 'same rules, same order');
        ours.forEach((r, i) => {
          const j = theirs[i]!;
          const where = `pref ${j.priority}`;
          assert.equal(r.src ? formatAddress(r.src) : 'all', j.src, where);
          assert.equal(r.src ? r.srcLen : undefined, j.srclen, where);
          assert.equal(tableName(r.table), j.table, where);
          assert.equal(r.suppressPrefixlen === -1 ? undefined : r.suppressPrefixlen, j.suppress_prefixlen, where);
          if (j.protocol !== undefined) assert.equal(r.protocol, PROTO_NUMBERS[j.protocol] ?? Number(j.protocol), where);
        });
      }

      // ---- neighbours ----
      // `ip neigh` hides NOARP and NONE entries (its default state filter).
      const ours = (await dumpAll(sock, dumpNeighbours(RTNL_FAMILY.UNSPEC), decodeNeighbour)).filter((n) => n.state & 0xff & ~NUD.NOARP);
      const theirs = await a.ipJson<IpNeigh[]>('neigh');
      const text = (n: Neighbour) => `${formatAddress(n.dst!)} dev ${nameOf(n.ifindex)} lladdr ${mac(n.lladdr)}`;
      assert.deepEqual(ours.map(text).sort(), theirs.map((j) => `${j.dst} dev ${j.dev} lladdr ${j.lladdr}`).sort());
      for (const n of ours) {
        const j = theirs.find((t) => t.dst === formatAddress(n.dst!))!;
        const names = NUD_NAMES.filter(([bit]) => n.state & bit).map(([, name]) => name);
        // A learned entry may age (REACHABLE -> STALE) between the two dumps; a permanent one may not.
        if (n.state & NUD.PERMANENT) assert.deepEqual(names, j.state);
        else assert.ok(['REACHABLE', 'STALE', 'DELAY', 'PROBE'].includes(j.state[0]!) && names.length === 1, `${j.dst}: ${names} vs ${j.state}`);
      }
      assert.ok(ours.some((n) => mac(n.lladdr) === '02:00:00:00:00:03' && n.state === NUD.PERMANENT && n.dst!.byteLength === 16));
    } finally {
      sock.close();
    }
  });
});

test('addRule, replaceRoute, delRule, delRoute change what `ip -j` shows', { skip }, async () => {
  await withLab('rtapply', async (lab) => {
    const { a } = await populated(lab);
    const sock = NetlinkSocket.open(NETLINK.ROUTE, { netns: a.path });
    const ipRules = () => a.ipJson<IpRule[]>('rule');
    const table20 = (flag: '-4' | '-6') => a.ipJson<IpRoute[]>(flag, 'route', 'show', 'table', '20');
    try {
      // ip rule add from 198.51.100.0/24 lookup 20 pref 21 proto 240
      const spec = { family: RTNL_FAMILY.INET, src: ip('198.51.100.0'), srcLen: 24, table: 20, priority: 21, protocol: PROTO };
      await send(sock, addRule(spec));
      assert.deepEqual(
        (await ipRules()).find((r) => r.priority === 21),
        { priority: 21, src: '198.51.100.0', srclen: 24, table: '20', protocol: String(PROTO) },
      );
      await assert.rejects(send(sock, addRule(spec)), failsWith('EEXIST'));

      // Swap the multipath default route of table 20 in one step, then make it single-path.
      const hops = (gw: [string, number][]) => gw.map(([g, weight]) => ({ flags: 0, weight, ifindex: 0, gateway: ip(g), unknown: [] }));
      await send(sock, replaceRoute({ family: RTNL_FAMILY.INET, table: 20, protocol: PROTO, multipath: hops([['192.0.2.2', 1], ['192.0.2.4', 3]]) }));
      let routes = await table20('-4');
      assert.equal(routes.length, 1, 'replaced, not added');
      assert.deepEqual(routes[0]!.nexthops?.map((h) => [h.gateway, h.weight]), [['192.0.2.2', 1], ['192.0.2.4', 3]]);
      await send(sock, replaceRoute({ family: RTNL_FAMILY.INET, table: 20, protocol: PROTO, gateway: ip('192.0.2.2') }));
      routes = await table20('-4');
      assert.equal(routes.length, 1);
      assert.equal(routes[0]!.gateway, '192.0.2.2');
      assert.equal(routes[0]!.nexthops, undefined);

      // IPv6: the same swap.
      const hops6 = [
        { flags: 0, weight: 3, ifindex: await a.ifindex('eth0'), gateway: ip('2001:db8::2'), unknown: [] },
        { flags: 0, weight: 1, ifindex: await a.ifindex('eth0'), gateway: ip('2001:db8::5'), unknown: [] },
      ];
      await send(sock, replaceRoute({ family: RTNL_FAMILY.INET6, table: 20, protocol: PROTO, multipath: hops6 }));
      const v6 = (await table20('-6')).filter((r) => r.dst === 'default');
      assert.equal(v6.length, 1);
      assert.deepEqual(v6[0]!.nexthops?.map((h) => [h.gateway, h.weight]), [['2001:db8::2', 3], ['2001:db8::5', 1]]);

      // Delete the rule as dumped: every field must match, so exactly that rule goes.
      const dumped = (await dumpAll(sock, dumpRules(RTNL_FAMILY.INET), decodeRule)).find((r) => r.priority === 21)!;
      await send(sock, delRule(dumped));
      const after = await ipRules();
      assert.equal(after.find((r) => r.priority === 21), undefined);
      assert.ok(after.some((r) => r.priority === 20 && r.table === '20'), 'the other table-20 rule stays');
      await assert.rejects(send(sock, delRule(spec)), failsWith('ENOENT'));

      await send(sock, delRoute({ family: RTNL_FAMILY.INET, table: 20 }));
      assert.deepEqual(await table20('-4'), []);
      await assert.rejects(send(sock, delRoute({ family: RTNL_FAMILY.INET, table: 20 })), failsWith('ESRCH'));
    } finally {
      sock.close();
    }
  });
});

test('links and addresses: setMtu, setLinkDown/Up, addAddress/delAddress, getLink', { skip }, async () => {
  await withLab('rtlink', async (lab) => {
    const a = await lab.ns('a');
    const b = await lab.ns('b');
    await lab.veth(a, 'eth0', b, 'eth0');
    const index = await a.ifindex('eth0');
    const sock = NetlinkSocket.open(NETLINK.ROUTE, { netns: a.path });
    const show = async () => (await a.ipJson<IpLink[]>('link', 'show', 'eth0'))[0]!;
    try {
      await send(sock, setMtu(index, 1280));
      assert.equal((await show()).mtu, 1280);
      await send(sock, setLinkDown(index));
      assert.ok(!(await show()).flags.includes('UP'));
      await send(sock, setLinkUp(index));
      assert.ok((await show()).flags.includes('UP'));

      const [byName] = await send(sock, getLink('eth0'));
      const [byIndex] = await send(sock, getLink(index));
      const l: Link = decodeLink(byName!);
      assert.equal(l.index, index);
      assert.equal(l.mtu, 1280);
      assert.equal(l.linkinfo?.kind, 'veth');
      assert.deepEqual(decodeLink(byIndex!).name, 'eth0');
      await assert.rejects(send(sock, getLink('nosuch0')), failsWith('ENODEV'));

      await send(sock, addAddress({ index, prefixlen: 24, local: ip('198.51.100.7') }));
      await send(sock, addAddress({ index, prefixlen: 64, address: ip('2001:db8:7::7'), flags: IFA_F.NODAD }));
      const addrs = async () => (await a.ipJson<IpAddr[]>('addr', 'show', 'eth0'))[0]!.addr_info.map((i) => `${i.local}/${i.prefixlen}`);
      assert.ok((await addrs()).includes('198.51.100.7/24'));
      assert.ok((await addrs()).includes('2001:db8:7::7/64'));
      await send(sock, delAddress({ index, prefixlen: 24, local: ip('198.51.100.7') }));
      assert.ok(!(await addrs()).includes('198.51.100.7/24'));
      await assert.rejects(send(sock, delAddress({ index, prefixlen: 24, local: ip('198.51.100.7') })), NetlinkError);
    } finally {
      sock.close();
    }
  });
});

test('resolveNeighbour makes the kernel resolve a missing neighbour (`ip neigh replace ... nud none use`)', { skip }, async () => {
  await withLab('rtneigh', async (lab) => {
    const a = await lab.ns('a');
    const b = await lab.ns('b');
    await lab.veth(a, 'eth0', b, 'eth0');
    await a.addr('eth0', '192.0.2.1/24');
    await b.addr('eth0', '192.0.2.2/24');
    await a.addr('eth0', '2001:db8::1/64');
    await b.addr('eth0', '2001:db8::2/64');
    const index = await a.ifindex('eth0');
    const bMac = await b.mac('eth0');
    const sock = NetlinkSocket.open(NETLINK.ROUTE, { netns: a.path });
    try {
      const entry = async (dst: string) => (await a.ipJson<IpNeigh[]>('neigh', 'show', 'dev', 'eth0')).find((n) => n.dst === dst);
      assert.equal(await entry('192.0.2.2'), undefined, 'nothing has talked to b yet');
      await send(sock, resolveNeighbour(index, ip('192.0.2.2')));
      await send(sock, resolveNeighbour(index, ip('2001:db8::2')));
      for (const dst of ['192.0.2.2', '2001:db8::2']) {
        const n = (await waitFor(async () => {
          const e = await entry(dst);
          return e?.lladdr !== undefined ? e : undefined;
        }))!;
        assert.equal(n.lladdr, bMac, dst);
        assert.deepEqual(n.state, ['REACHABLE'], dst);
      }
      // The same entry through our own dump, filtered to the device.
      const ours = await dumpAll(sock, dumpNeighbours(RTNL_FAMILY.INET, index), decodeNeighbour);
      const e = ours.find((n) => formatAddress(n.dst!) === '192.0.2.2')!;
      assert.equal(mac(e.lladdr), bMac);
      assert.equal(e.state, NUD.REACHABLE);
      assert.ok(ours.every((n) => n.ifindex === index && n.family === RTNL_FAMILY.INET));

      // Nobody answers for 192.0.2.9: the entry exists, unresolved, and fails.
      await send(sock, resolveNeighbour(index, ip('192.0.2.9')));
      const missing = await waitFor(async () => (await entry('192.0.2.9'))?.state[0]);
      assert.ok(['INCOMPLETE', 'FAILED'].includes(missing!), missing);
    } finally {
      sock.close();
    }
  });
});

test('getRoute and dumpRouteCache read a learned path MTU (IPv4 and IPv6), as `ip -j route get` does', { skip }, async () => {
  await withLab('rtpmtu', async (lab) => {
    // a --1500-- r --1280-- b: r answers a's 1328/1348-byte DF packets with
    // "fragmentation needed, mtu 1280" / "packet too big, mtu 1280".
    const a = await lab.ns('a');
    const r = await lab.ns('r');
    const b = await lab.ns('b');
    await lab.veth(a, 'eth0', r, 'eth0');
    await lab.veth(r, 'eth1', b, 'eth0', { mtu: 1280 });
    for (const [ns, dev, cidr] of [
      [a, 'eth0', '192.0.2.1/24'], [a, 'eth0', '2001:db8::1/64'],
      [r, 'eth0', '192.0.2.2/24'], [r, 'eth0', '2001:db8::2/64'],
      [r, 'eth1', '198.51.100.1/24'], [r, 'eth1', '2001:db8:1::1/64'],
      [b, 'eth0', '198.51.100.2/24'], [b, 'eth0', '2001:db8:1::2/64'],
    ] as const) {
      await ns.addr(dev, cidr);
    }
    await r.forwarding();
    await a.route('198.51.100.0/24', 'via', '192.0.2.2');
    await a.route('2001:db8:1::/64', 'via', '2001:db8::2');
    await b.route('default', 'via', '198.51.100.1');
    await b.route('default', 'via', '2001:db8:1::1');
    const sock = NetlinkSocket.open(NETLINK.ROUTE, { netns: a.path });
    try {
      for (const [family, flag, dst] of [
        [RTNL_FAMILY.INET, '-4', '198.51.100.2'],
        [RTNL_FAMILY.INET6, '-6', '2001:db8:1::2'],
      ] as const) {
        const before = decodeRoute((await send(sock, getRoute(ip(dst))))[0]!);
        assert.equal(before.metrics?.mtu, undefined, `${dst}: nothing learned yet`);
        assert.equal(before.cacheinfo?.expires ?? 0, 0);
        assert.equal(before.table, RT_TABLE.MAIN, 'the table that matched');

        // The echo cannot get through (DF, too big for r's eth1); the ICMP error it draws is the point.
        await assert.rejects(a.exec('ping', [flag, '-c1', '-W1', '-M', 'do', '-s', '1300', dst]));
        const learned = decodeRoute((await send(sock, getRoute(ip(dst))))[0]!);
        const [theirs] = await a.ipJson<IpRoute[]>(flag, 'route', 'get', dst);
        assert.equal(learned.family, family);
        assert.equal(learned.type, RTN.UNICAST);
        assert.equal(learned.flags & RTM_F.CLONED, RTM_F.CLONED, dst);
        assert.equal(learned.metrics?.mtu, 1280, dst);
        assert.equal(learned.metrics?.mtu, theirs!.metrics?.[0]?.mtu);
        assert.equal(formatAddress(learned.gateway!), theirs!.gateway);
        assert.ok(learned.cacheinfo!.expires > 0);
        // rta_expires is in USER_HZ ticks; ip prints seconds.
        assert.ok(Math.abs(learned.cacheinfo!.expires / 100 - theirs!.expires!) <= 2, `${learned.cacheinfo!.expires} ticks vs ${theirs!.expires} s`);

        const cache = await dumpAll(sock, dumpRouteCache(family), decodeRoute);
        assert.deepEqual(cache.map((c) => [dstText(c), c.metrics?.mtu, (c.flags & RTM_F.CLONED) !== 0]), [[dst, 1280, true]], `${flag} route show cache`);
        const fib = await dumpAll(sock, dumpRoutes(family), decodeRoute);
        assert.ok(fib.every((m) => !(m.flags & RTM_F.CLONED)), 'the plain dump keeps routes and exceptions apart');
      }
    } finally {
      sock.close();
    }
  });
});
