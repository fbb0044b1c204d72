/**
 * What the agent needs to know about its own node, read over rtnetlink (never
 * by running `ip`): the interface of the default route, the node's own
 * addresses, and the MAC of each peer on the uplink (resolving the ones the
 * neighbour table does not have yet). Watches keep these current.
 */
import { NetlinkSocket, type NetlinkSubscription } from '../net/netlink-socket.js';
import { NETLINK } from '../wire/netlink.js';
import { IFF, RTM, RTNL_FAMILY, RTNLGRP, NUD, type RtnlRequest } from '../wire/rtnetlink.js';
import { decodeRoute, dumpRoutes, getRoute } from '../wire/rtnl-route.js';
import { decodeLink, dumpLinks } from '../wire/rtnl-link.js';
import { decodeAddress, dumpAddresses } from '../wire/rtnl-address.js';
import { decodeNeighbour, dumpNeighbours, resolveNeighbour } from '../wire/rtnl-neighbour.js';
import { addressKey } from '../wire/ip-address.js';
import { NetlinkError, UnsupportedError } from '../errors.js';

/** Neighbour states whose lladdr can be used to send (include/net/neighbour.h NUD_VALID). */
const NUD_VALID = NUD.PERMANENT | NUD.NOARP | NUD.REACHABLE | NUD.PROBE | NUD.STALE | NUD.DELAY;

export class NodeView {
  readonly nl: NetlinkSocket;

  private constructor(nl: NetlinkSocket) {
    this.nl = nl;
  }

  static open(opts: { netns?: string } = {}): NodeView {
    return new NodeView(NetlinkSocket.open(NETLINK.ROUTE, opts));
  }

  private dump(req: RtnlRequest) {
    return this.nl.dump(req.type, req.fixed, req.attrs);
  }

  /** Interface names by index. */
  async links(): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    for (const m of await this.dump(dumpLinks())) {
      if (m.type !== RTM.NEWLINK) continue;
      const l = decodeLink(m);
      if (l.name !== undefined) out.set(l.index, l.name);
    }
    return out;
  }

  /** Every link's name, MTU and whether it is up (IFF_UP and IFF_LOWER_UP): the status page's uplinks. */
  async linkDetails(): Promise<{ readonly index: number; readonly name: string; readonly mtu: number; readonly up: boolean }[]> {
    const out: { index: number; name: string; mtu: number; up: boolean }[] = [];
    for (const m of await this.dump(dumpLinks())) {
      if (m.type !== RTM.NEWLINK) continue;
      const l = decodeLink(m);
      if (l.name === undefined) continue;
      out.push({ index: l.index, name: l.name, mtu: l.mtu ?? 0, up: (l.flags & IFF.UP) !== 0 && (l.flags & IFF.LOWER_UP) !== 0 });
    }
    return out;
  }

  /** Names of the interfaces carrying default routes in the main table (IPv4 first, then IPv6). */
  async defaultRouteInterfaces(): Promise<string[]> {
    const names = await this.links();
    const out: string[] = [];
    for (const family of [RTNL_FAMILY.INET, RTNL_FAMILY.INET6]) {
      for (const m of await this.dump(dumpRoutes(family, 254))) {
        if (m.type !== RTM.NEWROUTE) continue;
        const r = decodeRoute(m);
        if (r.dstLen !== 0 || (r.table !== undefined && r.table !== 254)) continue;
        const oifs = r.multipath ? r.multipath.map((n) => n.ifindex) : r.oif !== undefined ? [r.oif] : [];
        for (const oif of oifs) {
          const name = names.get(oif);
          if (name && !out.includes(name)) out.push(name);
        }
      }
    }
    return out;
  }

  /** The default route's interface; a clear error when there is none. */
  async defaultInterface(): Promise<string> {
    const ifs = await this.defaultRouteInterfaces();
    if (ifs.length === 0) {
      throw new UnsupportedError('default route', 'this node has no default route; name the uplink interfaces with --iface');
    }
    return ifs[0]!;
  }

  /** Every address configured on this node (both families), as bytes. */
  async localAddresses(): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    for (const family of [RTNL_FAMILY.INET, RTNL_FAMILY.INET6]) {
      for (const m of await this.dump(dumpAddresses(family))) {
        if (m.type !== RTM.NEWADDR) continue;
        const a = decodeAddress(m);
        const addr = a.local ?? a.address;
        if (addr) out.push(addr);
      }
    }
    return out;
  }

  /**
   * MACs of `addresses` on interface `ifindex` from the neighbour table;
   * missing or failed entries get a resolution request (ARP / neighbour
   * solicitation), and show up in a later call or a neighbour event.
   */
  async neighbourMacs(ifindex: number, addresses: readonly Uint8Array[]): Promise<Map<string, Uint8Array>> {
    const found = new Map<string, Uint8Array>();
    for (const family of [RTNL_FAMILY.INET, RTNL_FAMILY.INET6]) {
      for (const m of await this.dump(dumpNeighbours(family, ifindex))) {
        if (m.type !== RTM.NEWNEIGH) continue;
        const n = decodeNeighbour(m);
        if (n.dst && n.lladdr && n.lladdr.byteLength === 6 && (n.state & NUD_VALID) !== 0) found.set(addressKey(n.dst), n.lladdr);
      }
    }
    const missing = addresses.filter((a) => !found.has(addressKey(a)));
    if (missing.length > 0) {
      const results = await this.nl.batch(missing.map((a) => resolveNeighbour(ifindex, a)));
      // A failed resolution request (e.g. an address not on this link) just leaves that peer unresolved.
      void results;
    }
    return found;
  }

  /**
   * The interface the kernel would send to `dst` on, and whether `dst` is on
   * that link (no gateway): only an on-link peer has a MAC the l2 transport
   * can use. Undefined when there is no route.
   * Equivalent to: `ip route get DST`.
   */
  async routeTo(dst: Uint8Array): Promise<{ readonly oif: number; readonly onLink: boolean } | undefined> {
    const req = getRoute(dst);
    let replies;
    try {
      replies = await this.nl.request(req.type, req.flags, req.fixed, req.attrs);
    } catch (err) {
      // ENETUNREACH / EHOSTUNREACH: no route to that peer, which the caller reports.
      if (err instanceof NetlinkError) return undefined;
      throw err;
    }
    for (const m of replies) {
      if (m.type !== RTM.NEWROUTE) continue;
      const r = decodeRoute(m);
      if (r.oif !== undefined) return { oif: r.oif, onLink: r.gateway === undefined && r.via === undefined };
    }
    return undefined;
  }

  /**
   * Calls `onChange` (debounced by the caller) for link and address changes,
   * and, when `neighbours` is given, for neighbour changes of the addresses
   * it accepts. Neighbour tables change all the time (every ARP/ND state
   * transition is an event), so a caller that needs no MACs does not join
   * the group at all, and one that does hears only of the entries it cares for.
   */
  watch(
    onChange: (what: 'link' | 'address' | 'neighbour' | 'resync') => void,
    opts: { readonly neighbours?: (dst: Uint8Array) => boolean } = {},
  ): NetlinkSubscription {
    const groups: number[] = [RTNLGRP.LINK, RTNLGRP.IPV4_IFADDR, RTNLGRP.IPV6_IFADDR];
    const wanted = opts.neighbours;
    if (wanted) groups.push(RTNLGRP.NEIGH);
    return this.nl.subscribe(groups, {
      onMessages: (msgs) => {
        const kinds = new Set<'link' | 'address' | 'neighbour'>();
        for (const m of msgs) {
          if (m.type === RTM.NEWLINK || m.type === RTM.DELLINK) kinds.add('link');
          else if (m.type === RTM.NEWADDR || m.type === RTM.DELADDR) kinds.add('address');
          else if (wanted && (m.type === RTM.NEWNEIGH || m.type === RTM.DELNEIGH) && !kinds.has('neighbour')) {
            const dst = decodeNeighbour(m).dst;
            if (dst && wanted(dst)) kinds.add('neighbour');
          }
        }
        for (const k of kinds) onChange(k);
      },
      onResync: () => onChange('resync'),
    });
  }

  close(): void {
    this.nl.close();
  }
}
