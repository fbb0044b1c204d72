/**
 * Shared by the routes integration tests and bench/routes-reconcile.bench.ts:
 * a node namespace wired to a "tor" namespace over a veth (the BGP peers
 * live on the tor side), generated MetalLB configurations of any size from
 * documentation prefixes only, and an in-memory source for in-process runs.
 *
 * Addresses: node 192.0.2.10/24 and 2001:db8::10/64 on eth0; peers
 * 192.0.2.1-4 and 2001:db8::1-4 on the tor. Pools come from
 * 198.51.100.0/24 and 203.0.113.0/24 (every aligned prefix from /32 to /24:
 * 1,022 distinct IPv4 prefixes) and 2001:db8:1::/48 (/128s).
 */
import { parseSourceFile, type RoutesSource, type SourceState } from '../../../../src/routes/sources.js';
import { routesConfig, type RoutesConfig } from '../../../../src/routes/config.js';
import type { Lab, Netns } from '../../../harness/netns.js';

export const NODE = 'node-1';
export const PEERS4 = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'];
export const PEERS6 = ['2001:db8::1', '2001:db8::2', '2001:db8::3', '2001:db8::4'];

/** Every aligned IPv4 prefix of 198.51.100.0/24 and 203.0.113.0/24, longest first: 1,022 of them. */
export function ipv4Prefixes(): string[] {
  const out: string[] = [];
  for (let len = 32; len >= 24; len--) {
    const step = 2 ** (32 - len);
    for (const base of ['198.51.100', '203.0.113']) {
      for (let host = 0; host < 256; host += step) out.push(`${base}.${host}/${len}`);
    }
  }
  return out;
}

/** `n` distinct IPv6 /128s from 2001:db8:1::/48. */
export function ipv6Prefixes(n: number, offset = 1): string[] {
  const out: string[] = [];
  for (let i = offset; i < offset + n; i++) {
    const hi = i >>> 16;
    const lo = (i & 0xffff).toString(16);
    // canonical text (RFC 5952), as `ip` prints it
    out.push(hi === 0 ? `2001:db8:1::${lo}/128` : `2001:db8:1::${hi.toString(16)}:${lo}/128`);
  }
  return out;
}

/** `n` pool prefixes: IPv4 first (up to 1,022), then IPv6; or one family only. */
export function poolPrefixes(n: number, family: 'ipv4' | 'ipv6' | 'mixed' = 'mixed'): string[] {
  if (family === 'ipv6') return ipv6Prefixes(n);
  const v4 = ipv4Prefixes();
  if (family === 'ipv4') {
    if (n > v4.length) throw new Error(`only ${v4.length} IPv4 documentation prefixes`);
    return v4.slice(0, n);
  }
  return n <= v4.length ? v4.slice(0, n) : [...v4, ...ipv6Prefixes(n - v4.length)];
}

export interface MetallbSpec {
  /** One pool per entry, each with its addresses. */
  readonly pools: readonly (readonly string[])[];
  readonly peers: readonly string[];
  /** The BGPAdvertisement's spec; default none (every pool). */
  readonly advertisement?: Record<string, unknown>;
  /** Leave the BGPPeer documents out. */
  readonly noPeers?: boolean;
  /** Extra YAML documents appended as they are. */
  readonly extra?: readonly string[];
}

/** A multi-document file of MetalLB CRD objects. */
export function metallbYaml(s: MetallbSpec): string {
  const docs: string[] = [];
  s.pools.forEach((addresses, i) => {
    docs.push(`apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: pool-${i}\n  namespace: metallb-system\nspec:\n  addresses: [${addresses.map((a) => JSON.stringify(a)).join(', ')}]`);
  });
  const adv = s.advertisement ? `\nspec: ${JSON.stringify(s.advertisement)}` : '';
  docs.push(`apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata:\n  name: all\n  namespace: metallb-system${adv}`);
  if (!s.noPeers) {
    s.peers.forEach((p, i) => {
      docs.push(`apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata:\n  name: peer-${i}\n  namespace: metallb-system\nspec:\n  myASN: 64512\n  peerASN: 64513\n  peerAddress: ${JSON.stringify(p)}`);
    });
  }
  for (const e of s.extra ?? []) docs.push(e);
  return docs.join('\n---\n') + '\n';
}

/** One pool per prefix. */
export function poolsOf(prefixes: readonly string[]): string[][] {
  return prefixes.map((p) => [p]);
}

/** The node and tor namespaces, a veth between them, addresses on both sides. */
export async function routesLab(lab: Lab): Promise<{ node: Netns; tor: Netns }> {
  const node = await lab.ns('node');
  const tor = await lab.ns('tor');
  await lab.veth(node, 'eth0', tor, 'eth0');
  await node.addr('eth0', '192.0.2.10/24');
  await node.addr('eth0', '2001:db8::10/64');
  for (const a of PEERS4) await tor.addr('eth0', `${a}/24`);
  for (const a of PEERS6) await tor.addr('eth0', `${a}/64`);
  return { node, tor };
}

/** A RoutesSource whose content the test sets; parsed like --metallb-file. */
export class StaticSource implements RoutesSource {
  readonly origin = 'test';
  private state: SourceState | undefined;
  private version = 0;
  private onChange: () => void = () => undefined;

  constructor(text?: string, private readonly nodeName = NODE) {
    if (text !== undefined) this.set(text, false);
  }

  set(text: string, notify = true): void {
    const { model, labels } = parseSourceFile(text, { nodeName: this.nodeName, namespace: 'metallb-system' });
    this.state = { model, labels, version: ++this.version };
    if (notify) this.onChange();
  }

  start(onChange: () => void): void {
    this.onChange = onChange;
    if (this.state) onChange();
  }

  loaded(): Promise<boolean> {
    return Promise.resolve(this.state !== undefined);
  }

  current(): SourceState | undefined {
    return this.state;
  }

  resync(): void {}

  async stop(): Promise<void> {}
}

/** A validated config for tests: the node name set, short timers, flags as the CLI would pass them. */
export function testConfig(flags: Record<string, unknown> = {}, env: Record<string, string> = {}): RoutesConfig {
  return routesConfig({ nodeName: NODE, debounce: '50ms', ...flags }, env, undefined);
}

// ---- the kernel as iproute2 shows it (an independent reading of what pathguard wrote) ----

interface IpRule {
  priority: number;
  src: string;
  srclen?: number;
  table?: string;
  protocol?: string;
  suppress_prefixlen?: number;
  fwmark?: string;
  fwmask?: string;
}

interface IpRoute {
  dst: string;
  protocol?: string;
  gateway?: string;
  weight?: number;
  nexthops?: { gateway: string; weight: number }[];
}

function ruleKey(r: IpRule, family: 4 | 6): string {
  const src = r.src === 'all' ? 'all' : `${r.src}/${r.srclen ?? (family === 4 ? 32 : 128)}`;
  const mark = r.fwmark !== undefined ? ` fwmark ${r.fwmark}/${r.fwmask ?? '0xffffffff'}` : '';
  const suppress = r.suppress_prefixlen !== undefined ? ` suppress_prefixlength ${r.suppress_prefixlen}` : '';
  return `${r.priority} from ${src}${mark} lookup ${r.table ?? '?'}${suppress} proto ${r.protocol ?? '-'}`;
}

/** Every rule of a family as `ip -j rule` shows it, as comparable text, in kernel order. */
export async function ipRules(ns: Netns, family: 4 | 6): Promise<string[]> {
  const rules = await ns.ipJson<IpRule[]>(`-${family}`, 'rule', 'show');
  return rules.map((r) => ruleKey(r, family));
}

/** pathguard's rules (protocol 112), sorted. */
export async function ourRules(ns: Netns, family: 4 | 6): Promise<string[]> {
  return (await ipRules(ns, family)).filter((r) => r.endsWith(' proto 112')).sort();
}

/** What ourRules() should show for these pool prefixes of one family. */
export function expectedRules(prefixes: readonly string[], family: 4 | 6, o: { priority?: number; table?: number; fwmark?: string } = {}): string[] {
  const prio = o.priority ?? 20;
  const table = o.table ?? 20;
  const mark = o.fwmark !== undefined ? ` fwmark ${o.fwmark}` : '';
  const mine = prefixes.filter((p) => p.includes(':') === (family === 6));
  if (mine.length === 0) return [];
  return [`${prio - 1} from all${mark} lookup main suppress_prefixlength 0 proto 112`, ...mine.map((p) => `${prio} from ${p}${mark} lookup ${table} proto 112`)].sort();
}

/** The routes of a table as `gateway*weight` lists per destination (`default proto 112: 192.0.2.1*100 192.0.2.2*100`). */
export async function ipRoutes(ns: Netns, family: 4 | 6, table = '20'): Promise<string[]> {
  const routes = await ns.ipJson<IpRoute[]>(`-${family}`, 'route', 'show', 'table', table);
  return routes.map((r) => {
    const hops = r.nexthops ? r.nexthops.map((h) => `${h.gateway}*${h.weight}`) : r.gateway ? [`${r.gateway}`] : [];
    return `${r.dst} proto ${r.protocol ?? '-'}: ${hops.sort().join(' ')}`;
  });
}
