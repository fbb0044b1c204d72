/**
 * The routes component's kernel side, over rtnetlink only (never `ip`):
 * read the rules and routes the planner needs, read what the node reaches
 * directly (for off-link peer detection), apply a plan as batches of
 * requests, and turn link / address / route / rule notifications into
 * events. Messages are include/uapi/linux/rtnetlink.h and fib_rules.h, as
 * decoded by src/wire/rtnl-*.ts; kernel-objects.ts maps them to the
 * planner's types.
 *
 * Reading: rules of both families (RTM_GETRULE dump), and per family two
 * filtered route dumps on a NETLINK_GET_STRICT_CHK socket — pathguard's
 * table (every protocol, for foreign objects) and pathguard's protocol
 * (every table, for objects left in a table that is no longer configured).
 * A node's main table can hold thousands of routes that need not be read
 * for this. IPv4 answers ENOENT for a table that does not exist yet
 * (inet_dump_fib: "FIB table does not exist"): that table is empty.
 *
 * Applying: one NetlinkSocket.batch, so hundreds of requests share one
 * datagram (each still gets its own ACK, and one failing request does not
 * stop the others), in the order the planner gives: routes (replace, then
 * add), then rules (companion first), then removals. EEXIST on a rule add
 * and ENOENT / ESRCH on a removal mean the kernel already is where the plan
 * wanted it (someone else got there between dump and apply): they count as
 * done, not as errors.
 */
import { NetlinkSocket, type NetlinkRequest, type NetlinkSubscription } from '../net/netlink-socket.js';
import { NETLINK, type NetlinkMessage } from '../wire/netlink.js';
import { RTM, RTNLGRP, RTM_F, RTN as WIRE_RTN, RT_TABLE as WIRE_RT_TABLE, type RtnlRequest } from '../wire/rtnetlink.js';
import { decodeRule, dumpRules } from '../wire/rtnl-rule.js';
import { decodeRoute, dumpRoutes } from '../wire/rtnl-route.js';
import { decodeAddress, dumpAddresses } from '../wire/rtnl-address.js';
import { decodeLink, dumpLinks } from '../wire/rtnl-link.js';
import { formatAddress } from '../wire/ip-address.js';
import { DecodeError, NetlinkError, PathguardError, UnsupportedError } from '../errors.js';
import { AF, RTPROT_PATHGUARD, type Family, type KernelRoute, type KernelRule, type RouteSpec, type RuleSpec } from './objects.js';
import type { Plan, Snapshot } from './plan.js';
import type { OnLinkPrefix, Reachability } from './desired.js';
import { addRuleRequest, delRouteRequest, delRuleRequest, kernelRoute, kernelRule, routeRequest } from './kernel-objects.js';

/** Receive buffer of the request socket: the batch window (ACKs in flight) is a function of it. */
const REQUEST_RCVBUF = 4 << 20;
/** Receive buffer of the subscription: applying 10,000 rules produces as many notifications. */
const EVENT_RCVBUF = 8 << 20;

/** One change of a plan, in application order. */
export type Operation =
  | { readonly op: 'replace'; readonly kind: 'route'; readonly route: RouteSpec; readonly previous: KernelRoute; readonly foreign: boolean }
  | { readonly op: 'add'; readonly kind: 'route'; readonly route: RouteSpec }
  | { readonly op: 'add'; readonly kind: 'rule'; readonly rule: RuleSpec }
  | { readonly op: 'remove'; readonly kind: 'rule'; readonly rule: KernelRule; readonly foreign: boolean }
  | { readonly op: 'remove'; readonly kind: 'route'; readonly route: KernelRoute; readonly foreign: boolean };

export type OperationResult =
  | { readonly operation: Operation; readonly ok: true; /** The kernel was already in the wanted state. */ readonly already: boolean }
  | { readonly operation: Operation; readonly ok: false; readonly error: PathguardError };

/** A plan's changes in the order they must reach the kernel: new paths before the rules that use them, removals last. */
export function operations(p: Plan): Operation[] {
  const out: Operation[] = [];
  for (const r of p.replace) out.push({ op: 'replace', kind: 'route', route: r.route, previous: r.previous, foreign: r.foreign });
  for (const c of p.add) out.push(c.kind === 'route' ? { op: 'add', kind: 'route', route: c.route } : { op: 'add', kind: 'rule', rule: c.rule });
  for (const x of p.remove) out.push(x.kind === 'rule' ? { op: 'remove', kind: 'rule', rule: x.rule, foreign: x.foreign } : { op: 'remove', kind: 'route', route: x.route, foreign: x.foreign });
  return out;
}

function requestOf(o: Operation): RtnlRequest {
  switch (o.op) {
    case 'replace':
      return routeRequest(o.route, 'replace');
    case 'add':
      return o.kind === 'route' ? routeRequest(o.route, 'add') : addRuleRequest(o.rule);
    case 'remove':
      return o.kind === 'rule' ? delRuleRequest(o.rule) : delRouteRequest(o.route);
  }
}

/** Whether a failed request leaves the kernel as the plan wanted anyway. */
function alreadyDone(o: Operation, e: NetlinkError): boolean {
  if (o.op === 'add' && o.kind === 'rule') return e.errnoName === 'EEXIST';
  if (o.op === 'remove') return e.errnoName === 'ENOENT' || e.errnoName === 'ESRCH';
  return false;
}

/** Link state the reconciler watches: administratively up, carrier, running. */
export interface LinkState {
  readonly name?: string;
  /** ifi_flags (IFF_*). */
  readonly flags: number;
}

/** What a batch of notifications was about; the reconciler decides what matters. */
export type KernelEvent =
  | { readonly kind: 'link'; readonly index: number; readonly flags: number; readonly removed: boolean }
  | { readonly kind: 'address'; readonly family: number }
  | { readonly kind: 'route'; readonly family: number; readonly table: number; readonly protocol: number; readonly removed: boolean; readonly gateway: boolean }
  | { readonly kind: 'rule'; readonly family: number; readonly table: number; readonly protocol: number; readonly removed: boolean }
  | { readonly kind: 'resync'; readonly reason: string };

/** Decodes one notification into an event; undefined for messages that say nothing to the routes component. */
export function eventOf(m: NetlinkMessage): KernelEvent | undefined {
  switch (m.type) {
    case RTM.NEWLINK:
    case RTM.DELLINK: {
      const l = decodeLink(m);
      return { kind: 'link', index: l.index, flags: l.flags, removed: m.type === RTM.DELLINK };
    }
    case RTM.NEWADDR:
    case RTM.DELADDR:
      return { kind: 'address', family: decodeAddress(m).family };
    case RTM.NEWROUTE:
    case RTM.DELROUTE: {
      const r = decodeRoute(m);
      if ((r.flags & RTM_F.CLONED) !== 0) return undefined;
      return { kind: 'route', family: r.family, table: r.table ?? 0, protocol: r.protocol, removed: m.type === RTM.DELROUTE, gateway: r.gateway !== undefined || r.multipath !== undefined || r.via !== undefined };
    }
    case RTM.NEWRULE:
    case RTM.DELRULE: {
      const r = decodeRule(m);
      return { kind: 'rule', family: r.family, table: r.table ?? 0, protocol: r.protocol ?? 0, removed: m.type === RTM.DELRULE };
    }
    default:
      return undefined;
  }
}

export interface RoutesKernelOptions {
  /** /run/netns/NAME: work inside that namespace (tests, benchmarks). */
  readonly netns?: string;
  /** Per netlink operation; default 10 s. */
  readonly timeoutMs?: number;
}

export class RoutesKernel {
  readonly nl: NetlinkSocket;

  private constructor(nl: NetlinkSocket) {
    this.nl = nl;
  }

  static open(opts: RoutesKernelOptions = {}): RoutesKernel {
    const o: { netns?: string; rcvbuf: number; timeoutMs?: number } = { rcvbuf: REQUEST_RCVBUF };
    if (opts.netns !== undefined) o.netns = opts.netns;
    if (opts.timeoutMs !== undefined) o.timeoutMs = opts.timeoutMs;
    return new RoutesKernel(NetlinkSocket.open(NETLINK.ROUTE, o));
  }

  private dump(req: RtnlRequest): Promise<NetlinkMessage[]> {
    return this.nl.dump(req.type, req.fixed, req.attrs);
  }

  /**
   * Every rule of both families, and the routes in `table` or carrying
   * `protocol` in any table.
   * Equivalent to: `ip rule show; ip route show table T; ip route show table all proto 112` for -4 and -6.
   */
  async snapshot(table: number, protocol: number = RTPROT_PATHGUARD): Promise<Snapshot> {
    const rules: KernelRule[] = [];
    const routes: KernelRoute[] = [];
    for (const family of [AF.INET, AF.INET6] as const) {
      for (const m of await this.dump(dumpRules(family))) {
        if (m.type !== RTM.NEWRULE) continue;
        const r = kernelRule(decodeRule(m));
        if (r) rules.push(r);
      }
      for (const m of await this.tableDump(family, table)) {
        if (m.type !== RTM.NEWROUTE) continue;
        const r = kernelRoute(decodeRoute(m));
        // the filter is the kernel's only with strict checking; keep the result right without it
        if (r && r.table >>> 0 === table >>> 0) routes.push(r);
      }
      const byProto = dumpRoutes(family);
      const fixed = new Uint8Array(byProto.fixed);
      fixed[5] = protocol; // rtm_protocol: ip_valid_fib_dump_req / inet6_dump_fib filter on it
      for (const m of await this.dump({ ...byProto, fixed })) {
        if (m.type !== RTM.NEWROUTE) continue;
        const r = kernelRoute(decodeRoute(m));
        if (r && r.protocol === protocol && r.table >>> 0 !== table >>> 0) routes.push(r);
      }
    }
    return { rules, routes };
  }

  private async tableDump(family: Family, table: number): Promise<NetlinkMessage[]> {
    try {
      return await this.dump(dumpRoutes(family, table));
    } catch (err) {
      if (err instanceof NetlinkError && err.errnoName === 'ENOENT') return [];
      throw err;
    }
  }

  /**
   * What the node reaches without a gateway: its address prefixes (RTM_GETADDR)
   * and the main table's routes without a gateway (scope-link routes, IPv6
   * connected and link-local prefixes); and its own addresses.
   */
  async reachability(): Promise<Reachability> {
    const onLink: OnLinkPrefix[] = [];
    const local: string[] = [];
    for (const family of [AF.INET, AF.INET6] as const) {
      for (const m of await this.dump(dumpAddresses(family))) {
        if (m.type !== RTM.NEWADDR) continue;
        const a = decodeAddress(m);
        const mine = a.local ?? a.address;
        if (mine === undefined || mine.byteLength !== (family === AF.INET ? 4 : 16)) continue;
        const text = formatAddress(mine);
        local.push(text);
        onLink.push({ prefix: `${text}/${a.prefixlen}`, ifindex: a.index });
        // point-to-point: IFA_ADDRESS is the far end, and that prefix is on-link too
        if (a.address !== undefined && a.local !== undefined && a.address.byteLength === mine.byteLength && formatAddress(a.address) !== text) {
          onLink.push({ prefix: `${formatAddress(a.address)}/${a.prefixlen}`, ifindex: a.index });
        }
      }
      for (const m of await this.tableDump(family, WIRE_RT_TABLE.MAIN)) {
        if (m.type !== RTM.NEWROUTE) continue;
        const r = decodeRoute(m);
        if ((r.flags & RTM_F.CLONED) !== 0 || r.type !== WIRE_RTN.UNICAST || r.dstLen === 0 || r.dst === undefined) continue;
        if (r.gateway !== undefined || r.multipath !== undefined || r.via !== undefined || r.oif === undefined) continue;
        onLink.push({ prefix: `${formatAddress(r.dst)}/${r.dstLen}`, ifindex: r.oif });
      }
    }
    return { onLink, local };
  }

  /** Every link's flags, by ifindex. Equivalent to: `ip link show`. */
  async links(): Promise<Map<number, LinkState>> {
    const out = new Map<number, LinkState>();
    for (const m of await this.dump(dumpLinks())) {
      if (m.type !== RTM.NEWLINK) continue;
      const l = decodeLink(m);
      out.set(l.index, l.name !== undefined ? { name: l.name, flags: l.flags } : { flags: l.flags });
    }
    return out;
  }

  /**
   * Applies operations in order, many per datagram; one result per
   * operation. Rejects only when the socket itself fails (then nothing
   * is known about the rest).
   */
  async apply(ops: readonly Operation[]): Promise<OperationResult[]> {
    const results: (OperationResult | undefined)[] = new Array(ops.length);
    const requests: NetlinkRequest[] = [];
    const index: number[] = [];
    ops.forEach((o, i) => {
      try {
        requests.push(requestOf(o));
        index.push(i);
      } catch (err) {
        // a value the encoder refuses (a foreign object with an address it cannot write back, say)
        const e = err instanceof PathguardError ? err : new UnsupportedError('rtnetlink request', `cannot encode it: ${(err as Error).message}`);
        results[i] = { operation: o, ok: false, error: e };
      }
    });
    const replies = requests.length > 0 ? await this.nl.batch(requests) : [];
    replies.forEach((r, k) => {
      const i = index[k] as number;
      const o = ops[i] as Operation;
      if (r.ok) results[i] = { operation: o, ok: true, already: false };
      else if (alreadyDone(o, r.error)) results[i] = { operation: o, ok: true, already: true };
      else results[i] = { operation: o, ok: false, error: r.error };
    });
    return results as OperationResult[];
  }

  /**
   * Link, address, route and rule notifications of both families, decoded
   * into events. Lost notifications (ENOBUFS) and undecodable ones become a
   * `resync` event: the caller's view is stale and a full reconcile is due.
   */
  subscribe(onEvents: (events: readonly KernelEvent[]) => void): NetlinkSubscription {
    const groups = [RTNLGRP.LINK, RTNLGRP.IPV4_IFADDR, RTNLGRP.IPV6_IFADDR, RTNLGRP.IPV4_ROUTE, RTNLGRP.IPV6_ROUTE, RTNLGRP.IPV4_RULE, RTNLGRP.IPV6_RULE];
    return this.nl.subscribe(
      groups,
      {
        onMessages: (msgs) => {
          const events: KernelEvent[] = [];
          for (const m of msgs) {
            try {
              const e = eventOf(m);
              if (e) events.push(e);
            } catch (err) {
              if (!(err instanceof DecodeError)) throw err;
              events.push({ kind: 'resync', reason: `undecodable notification: ${err.message}` });
            }
          }
          if (events.length > 0) onEvents(events);
        },
        onResync: (reason) => onEvents([{ kind: 'resync', reason: reason === 'ENOBUFS' ? 'notifications lost (ENOBUFS)' : 'undecodable notification' }]),
      },
      { rcvbuf: EVENT_RCVBUF },
    );
  }

  close(): void {
    this.nl.close();
  }
}
