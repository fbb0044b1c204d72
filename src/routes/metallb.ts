/**
 * MetalLB configuration, in the three forms it comes in, read into one
 * validated model (the way MetalLB's own config.For does it):
 *
 * - CRD objects as plain JS (metallb.io/v1beta1 IPAddressPool, BGPAdvertisement,
 *   L2Advertisement, the deprecated AddressPool; metallb.io/v1beta1 or v1beta2 BGPPeer);
 * - the legacy ConfigMap's `config` text (`peers[]` with `peer-address` and
 *   `node-selectors`, `address-pools[]` with `name`, `protocol` bgp|layer2 and
 *   `addresses`), as MetalLB read it before v0.13;
 * - a multi-document YAML file holding either of those.
 *
 * Pure: no I/O, no clock. Per-item problems (a bad prefix, a peer address that
 * is not an IP, an unknown selector operator) are reported by name and that
 * item is skipped; the rest is kept. Problems that make the whole source
 * untrustworthy (unparsable YAML, a missing key, a list never read) are fatal;
 * see holdVerdict in plan.ts for what the shell does with them.
 */
import YAML from 'yaml';
import { parseAddress, parsePrefix, parseRange, comparePrefixes, type NumericAddress, type NumericPrefix } from './prefix.js';
import { problem, type RouteProblem, type Severity, type ProblemCode } from './problem.js';
import { parseSelector, isSelectorError, type Labels, type Selector, type SelectorStyle } from './selector.js';

export interface Pool {
  readonly name: string;
  /** How problems name it: `IPAddressPool metallb-system/public`. */
  readonly item: string;
  /** Deduplicated, in address order; ranges already converted to their minimal CIDR cover. */
  readonly prefixes: readonly NumericPrefix[];
  readonly labels: Labels;
}

export interface Advertisement {
  readonly name: string;
  readonly item: string;
  readonly kind: 'bgp' | 'layer2';
  /** Pool names; with poolSelectors also empty, the advertisement covers every pool. */
  readonly pools: readonly string[];
  readonly poolSelectors: readonly Selector[];
  /** Kept for reporting; return-path routing does not use it (see desired.ts). */
  readonly nodeSelectors: readonly Selector[];
  /** BGPPeer names the pools are announced to; empty means all. */
  readonly peers: readonly string[];
}

export interface BgpPeer {
  /** BGPPeer metadata.name, or the address for legacy peers. */
  readonly name: string;
  readonly item: string;
  readonly address: NumericAddress;
  /** Any one must match the node; none means every node. */
  readonly nodeSelectors: readonly Selector[];
}

export type Source = 'crds' | 'configmap' | 'file';

export interface MetallbModel {
  readonly source: Source;
  readonly pools: readonly Pool[];
  readonly advertisements: readonly Advertisement[];
  readonly peers: readonly BgpPeer[];
  readonly problems: readonly RouteProblem[];
}

/** The CRD lists as read from the API server; a list left undefined was not read. */
export interface ResourceLists {
  readonly ipAddressPools?: readonly unknown[];
  readonly bgpAdvertisements?: readonly unknown[];
  readonly bgpPeers?: readonly unknown[];
  readonly l2Advertisements?: readonly unknown[];
  /** The deprecated metallb.io/v1beta1 AddressPool. */
  readonly addressPools?: readonly unknown[];
}

export interface ParseOptions {
  /** MetalLB only reads its own namespace; objects elsewhere are skipped with a notice. */
  readonly namespace?: string;
}

type Rec = Record<string, unknown>;

function isRecord(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function own(o: Rec, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined;
}

/** Collects problems while building the model. */
class Collector {
  readonly problems: RouteProblem[] = [];
  add(severity: Severity, code: ProblemCode, item: string, message: string, field?: string, value?: unknown): void {
    this.problems.push(problem(severity, code, item, message, { field, value }));
  }
}

// ---------------------------------------------------------------------------
// shared pieces

/** A pool's address entries to prefixes; bad entries are reported and skipped. */
function readAddresses(raw: unknown, item: string, field: string, c: Collector): NumericPrefix[] | undefined {
  if (raw === undefined || raw === null) {
    c.add('error', 'missing-key', item, 'a pool needs a list of addresses; pool skipped', field);
    return undefined;
  }
  if (!Array.isArray(raw)) {
    c.add('error', 'wrong-type', item, 'expected a list of CIDRs or start-end ranges; pool skipped', field, raw);
    return undefined;
  }
  const out: NumericPrefix[] = [];
  for (let i = 0; i < raw.length; i++) {
    const entry: unknown = raw[i];
    const at = `${field}[${i}]`;
    if (typeof entry !== 'string') {
      c.add('error', 'bad-prefix', item, 'expected a CIDR or a start-end range; entry skipped', at, entry);
      continue;
    }
    if (entry.includes('-')) {
      const r = parseRange(entry);
      if ('error' in r) {
        const why =
          r.error === 'order'
            ? ['bad-range', 'range start is above its end; entry skipped']
            : r.error === 'mixed-family'
              ? ['mixed-family', 'range ends are of different address families; entry skipped']
              : ['bad-prefix', 'expected START-END with two IP addresses; entry skipped'];
        c.add('error', why[0] as ProblemCode, item, why[1] as string, at, entry);
        continue;
      }
      for (const p of r.prefixes) out.push(p);
      continue;
    }
    const p = parsePrefix(entry);
    if (!p) {
      c.add('error', 'bad-prefix', item, 'expected a CIDR such as 192.0.2.0/24 or 2001:db8::/64; entry skipped', at, entry);
      continue;
    }
    out.push(p);
  }
  if (out.length < 2) return out;
  // most pools hold one entry: sort and drop neighbours rather than build a Map per pool
  out.sort(comparePrefixes);
  return out.filter((p, i) => i === 0 || comparePrefixes(p, out[i - 1] as NumericPrefix) !== 0);
}

function readSelectors(raw: unknown, style: SelectorStyle, item: string, field: string, c: Collector, severity: Severity, consequence: string): Selector[] | undefined {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    c.add(severity, 'bad-selector', item, `expected a list of label selectors; ${consequence}`, field, raw);
    return undefined;
  }
  const out: Selector[] = [];
  for (let i = 0; i < raw.length; i++) {
    const s = parseSelector(raw[i], style);
    if (isSelectorError(s)) {
      const at = `${field}[${i}]${s.field ? `.${s.field}` : ''}`;
      c.add(severity, 'bad-selector', item, `expected ${s.expected}; ${consequence}`, at, s.value);
      return undefined;
    }
    out.push(s);
  }
  return out;
}

function readStringList(raw: unknown, item: string, field: string, c: Collector): string[] | undefined {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.some((x) => typeof x !== 'string')) {
    c.add('error', 'wrong-type', item, 'expected a list of names; item skipped', field, raw);
    return undefined;
  }
  return raw as string[];
}

function readLabels(raw: unknown): Labels {
  if (!isRecord(raw)) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** A peer address; reports and returns undefined when it is not an IP address. */
function readPeerAddress(raw: unknown, item: string, field: string, c: Collector): NumericAddress | undefined {
  if (raw === undefined || raw === null || raw === '') {
    c.add('error', 'missing-key', item, 'a peer needs an address; peer skipped', field);
    return undefined;
  }
  const a = typeof raw === 'string' ? parseAddress(raw) : undefined;
  if (!a) c.add('error', 'bad-address', item, 'expected an IPv4 or IPv6 address; peer skipped', field, raw);
  return a;
}

function unknownKeys(o: Rec, known: ReadonlySet<string>, item: string, prefix: string, c: Collector, severity: Severity): void {
  for (const k of Object.keys(o)) {
    if (!known.has(k)) c.add(severity, 'unknown-key', item, 'not a key of this format; ignored', `${prefix}${k}`, o[k]);
  }
}

// ---------------------------------------------------------------------------
// CRDs

const POOL_SPEC_KEYS = new Set(['addresses', 'autoAssign', 'avoidBuggyIPs', 'serviceAllocation']);
const ADDRESSPOOL_SPEC_KEYS = new Set(['protocol', 'addresses', 'autoAssign', 'avoidBuggyIPs', 'bgpAdvertisements']);
const BGPADV_SPEC_KEYS = new Set(['aggregationLength', 'aggregationLengthV6', 'localPref', 'communities', 'ipAddressPools', 'ipAddressPoolSelectors', 'nodeSelectors', 'peers']);
const L2ADV_SPEC_KEYS = new Set(['ipAddressPools', 'ipAddressPoolSelectors', 'nodeSelectors', 'interfaces']);
const PEER_SPEC_KEYS = new Set([
  'myASN', 'peerASN', 'dynamicASN', 'peerAddress', 'interface', 'sourceAddress', 'peerPort', 'holdTime', 'keepaliveTime',
  'connectTime', 'routerID', 'nodeSelectors', 'password', 'passwordSecret', 'bfdProfile', 'enableGracefulRestart',
  'ebgpMultiHop', 'vrf', 'disableMP', 'dualStackAddressFamily',
]);

interface Meta {
  readonly name: string;
  readonly item: string;
  readonly labels: Labels;
  readonly spec: Rec | undefined;
}

/** metadata and spec of a CR, or undefined (reported) when it cannot be used. */
function readMeta(kind: string, index: number, raw: unknown, opts: ParseOptions, c: Collector, specRequired: boolean): Meta | undefined {
  const anon = `${kind} #${index}`;
  if (!isRecord(raw)) {
    c.add('error', 'wrong-type', anon, 'expected an object; skipped', undefined, raw);
    return undefined;
  }
  const md = own(raw, 'metadata');
  const name = isRecord(md) ? own(md, 'name') : undefined;
  if (typeof name !== 'string' || name === '') {
    c.add('error', 'missing-key', anon, 'expected metadata.name; skipped', 'metadata.name', name);
    return undefined;
  }
  const ns = isRecord(md) ? own(md, 'namespace') : undefined;
  const item = `${kind} ${typeof ns === 'string' && ns !== '' ? `${ns}/` : ''}${name}`;
  if (opts.namespace !== undefined && typeof ns === 'string' && ns !== '' && ns !== opts.namespace) {
    c.add('notice', 'wrong-namespace', item, `MetalLB only reads namespace ${opts.namespace}; skipped`, 'metadata.namespace', ns);
    return undefined;
  }
  const spec = own(raw, 'spec');
  if (spec !== undefined && spec !== null && !isRecord(spec)) {
    c.add('error', 'wrong-type', item, 'expected spec to be an object; skipped', 'spec', spec);
    return undefined;
  }
  if (specRequired && !isRecord(spec)) {
    c.add('error', 'missing-key', item, 'expected a spec; skipped', 'spec');
    return undefined;
  }
  return { name, item, labels: isRecord(md) ? readLabels(own(md, 'labels')) : {}, spec: isRecord(spec) ? spec : undefined };
}

function uniqueByName<T extends { name: string; item: string }>(items: T[], c: Collector): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const it of items) {
    if (seen.has(it.name)) {
      c.add('error', 'duplicate-name', it.item, 'another object of this kind has the same name; this one skipped');
      continue;
    }
    seen.add(it.name);
    out.push(it);
  }
  return out;
}

function crdPools(list: readonly unknown[], opts: ParseOptions, c: Collector): Pool[] {
  const out: Pool[] = [];
  list.forEach((raw, i) => {
    const m = readMeta('IPAddressPool', i, raw, opts, c, true);
    if (!m || !m.spec) return;
    unknownKeys(m.spec, POOL_SPEC_KEYS, m.item, 'spec.', c, 'notice');
    const prefixes = readAddresses(own(m.spec, 'addresses'), m.item, 'spec.addresses', c);
    if (prefixes) out.push({ name: m.name, item: m.item, prefixes, labels: m.labels });
  });
  return out;
}

/** The deprecated AddressPool carries its protocol like a legacy pool: it becomes a pool plus an advertisement. */
function crdAddressPools(list: readonly unknown[], opts: ParseOptions, c: Collector): { pools: Pool[]; advs: Advertisement[] } {
  const pools: Pool[] = [];
  const advs: Advertisement[] = [];
  list.forEach((raw, i) => {
    const m = readMeta('AddressPool', i, raw, opts, c, true);
    if (!m || !m.spec) return;
    unknownKeys(m.spec, ADDRESSPOOL_SPEC_KEYS, m.item, 'spec.', c, 'notice');
    const protocol = own(m.spec, 'protocol');
    if (protocol !== 'bgp' && protocol !== 'layer2') {
      c.add('error', 'bad-protocol', m.item, 'expected protocol bgp or layer2; pool skipped', 'spec.protocol', protocol);
      return;
    }
    const prefixes = readAddresses(own(m.spec, 'addresses'), m.item, 'spec.addresses', c);
    if (!prefixes) return;
    pools.push({ name: m.name, item: m.item, prefixes, labels: m.labels });
    advs.push(implicitAdvertisement(m.name, m.item, protocol));
  });
  return { pools, advs };
}

function implicitAdvertisement(pool: string, item: string, kind: 'bgp' | 'layer2'): Advertisement {
  return { name: `${pool}/${kind}`, item, kind, pools: [pool], poolSelectors: [], nodeSelectors: [], peers: [] };
}

function crdAdvertisements(kind: 'bgp' | 'layer2', list: readonly unknown[], opts: ParseOptions, c: Collector): Advertisement[] {
  const kindName = kind === 'bgp' ? 'BGPAdvertisement' : 'L2Advertisement';
  const out: Advertisement[] = [];
  list.forEach((raw, i) => {
    const m = readMeta(kindName, i, raw, opts, c, false);
    if (!m) return;
    const spec = m.spec ?? {};
    unknownKeys(spec, kind === 'bgp' ? BGPADV_SPEC_KEYS : L2ADV_SPEC_KEYS, m.item, 'spec.', c, 'notice');
    const pools = readStringList(own(spec, 'ipAddressPools'), m.item, 'spec.ipAddressPools', c);
    const poolSelectors = readSelectors(own(spec, 'ipAddressPoolSelectors'), 'crd', m.item, 'spec.ipAddressPoolSelectors', c, 'error', 'advertisement skipped');
    const peers = kind === 'bgp' ? readStringList(own(spec, 'peers'), m.item, 'spec.peers', c) : [];
    if (!pools || !poolSelectors || !peers) return;
    // return-path routing ignores advertisement nodeSelectors, so an unreadable one costs nothing here
    const nodeSelectors = readSelectors(own(spec, 'nodeSelectors'), 'crd', m.item, 'spec.nodeSelectors', c, 'notice', 'ignored') ?? [];
    if (peers.length > 0) {
      c.add('notice', 'unused-field', m.item, 'announcing to some peers only does not narrow return traffic: it leaves through every peer of the node', 'spec.peers', peers);
    }
    out.push({ name: m.name, item: m.item, kind, pools, poolSelectors, nodeSelectors, peers });
  });
  return out;
}

function crdPeers(list: readonly unknown[], opts: ParseOptions, c: Collector): BgpPeer[] {
  const out: BgpPeer[] = [];
  list.forEach((raw, i) => {
    const m = readMeta('BGPPeer', i, raw, opts, c, true);
    if (!m || !m.spec) return;
    unknownKeys(m.spec, PEER_SPEC_KEYS, m.item, 'spec.', c, 'notice');
    const iface = own(m.spec, 'interface');
    const addr = own(m.spec, 'peerAddress');
    if ((addr === undefined || addr === '') && typeof iface === 'string' && iface !== '') {
      c.add('error', 'unsupported-peer', m.item, 'unnumbered peers (spec.interface) have no gateway address to route through; peer skipped', 'spec.interface', iface);
      return;
    }
    const vrf = own(m.spec, 'vrf');
    if (typeof vrf === 'string' && vrf !== '') {
      c.add('error', 'unsupported-peer', m.item, 'a peer in a VRF is reached through that VRF, not through the return-path table; peer skipped', 'spec.vrf', vrf);
      return;
    }
    const address = readPeerAddress(addr, m.item, 'spec.peerAddress', c);
    const nodeSelectors = readSelectors(own(m.spec, 'nodeSelectors'), 'crd', m.item, 'spec.nodeSelectors', c, 'error', 'peer skipped');
    if (!address || !nodeSelectors) return;
    out.push({ name: m.name, item: m.item, address, nodeSelectors });
  });
  return out;
}

/**
 * The model from CRD lists. A list left undefined was not read (the shell
 * could not list it, or a watch is re-listing): if the model needs it, that
 * is fatal, never an empty list.
 */
export function parseResources(lists: ResourceLists, opts: ParseOptions = {}, source: Source = 'crds'): MetallbModel {
  const c = new Collector();
  const ap = crdAddressPools(lists.addressPools ?? [], opts, c);
  const pools = uniqueByName([...crdPools(lists.ipAddressPools ?? [], opts, c), ...ap.pools], c);
  const bgpAdvs = uniqueByName(crdAdvertisements('bgp', lists.bgpAdvertisements ?? [], opts, c), c);
  const l2Advs = uniqueByName(crdAdvertisements('layer2', lists.l2Advertisements ?? [], opts, c), c);
  const peers = uniqueByName(crdPeers(lists.bgpPeers ?? [], opts, c), c);
  const advertisements = [...bgpAdvs, ...l2Advs, ...ap.advs];

  if (lists.ipAddressPools === undefined && lists.addressPools === undefined) {
    c.add('fatal', 'missing-key', 'IPAddressPool', 'the IPAddressPool list was not read; without it every pool would look deleted');
  }
  const bgpFromAddressPools = ap.advs.some((a) => a.kind === 'bgp');
  if (lists.bgpAdvertisements === undefined && lists.l2Advertisements === undefined && !bgpFromAddressPools) {
    c.add('fatal', 'missing-key', 'BGPAdvertisement', 'the BGPAdvertisement list was not read; without it no pool would be advertised');
  }
  const anyBgp = bgpAdvs.length > 0 || bgpFromAddressPools;
  if (lists.bgpPeers === undefined && anyBgp) {
    c.add('fatal', 'missing-key', 'BGPPeer', 'the BGPPeer list was not read while pools are advertised over BGP; without it every peer would look deleted');
  }
  return { source, pools, advertisements, peers, problems: c.problems };
}

// ---------------------------------------------------------------------------
// legacy ConfigMap

const LEGACY_TOP_KEYS = new Set(['peers', 'bgp-communities', 'address-pools', 'bfd-profiles']);
const LEGACY_PEER_KEYS = new Set([
  'my-asn', 'peer-asn', 'peer-address', 'source-address', 'peer-port', 'hold-time', 'keepalive-time', 'router-id',
  'node-selectors', 'password', 'bfd-profile', 'ebgp-multihop', 'vrf',
]);
const LEGACY_POOL_KEYS = new Set(['name', 'protocol', 'addresses', 'avoid-buggy-ips', 'auto-assign', 'bgp-advertisements']);

function legacyFromObject(doc: unknown, c: Collector, source: Source): MetallbModel {
  const empty = (): MetallbModel => ({ source, pools: [], advertisements: [], peers: [], problems: c.problems });
  if (!isRecord(doc)) {
    c.add('fatal', 'wrong-type', 'config', 'expected a mapping with peers and address-pools', undefined, doc);
    return empty();
  }
  unknownKeys(doc, LEGACY_TOP_KEYS, 'config', '', c, 'error');

  const rawPools = own(doc, 'address-pools');
  if (rawPools === undefined || rawPools === null) {
    c.add('fatal', 'missing-key', 'config', 'the config has no address-pools; write `address-pools: []` to mean none', 'address-pools');
    return empty();
  }
  if (!Array.isArray(rawPools)) {
    c.add('fatal', 'wrong-type', 'config', 'expected address-pools to be a list', 'address-pools', rawPools);
    return empty();
  }
  const pools: Pool[] = [];
  const advertisements: Advertisement[] = [];
  const names = new Set<string>();
  rawPools.forEach((raw: unknown, i) => {
    const at = `address-pools[${i}]`;
    if (!isRecord(raw)) {
      c.add('error', 'wrong-type', `config ${at}`, 'expected a pool mapping; skipped', undefined, raw);
      return;
    }
    const name = own(raw, 'name');
    if (typeof name !== 'string' || name === '') {
      c.add('error', 'missing-key', `config ${at}`, 'a pool needs a name; skipped', 'name', name);
      return;
    }
    const item = `config pool ${name}`;
    if (names.has(name)) {
      c.add('error', 'duplicate-name', item, 'another pool has the same name; this one skipped', `${at}.name`, name);
      return;
    }
    names.add(name);
    unknownKeys(raw, LEGACY_POOL_KEYS, item, '', c, 'error');
    const protocol = own(raw, 'protocol');
    if (protocol !== 'bgp' && protocol !== 'layer2') {
      c.add('error', protocol === undefined ? 'missing-key' : 'bad-protocol', item, 'expected protocol bgp or layer2; pool skipped', 'protocol', protocol);
      return;
    }
    const prefixes = readAddresses(own(raw, 'addresses'), item, 'addresses', c);
    if (!prefixes) return;
    pools.push({ name, item, prefixes, labels: {} });
    advertisements.push(implicitAdvertisement(name, item, protocol));
  });

  const peers: BgpPeer[] = [];
  const rawPeers = own(doc, 'peers');
  if (rawPeers === undefined || rawPeers === null) {
    if (advertisements.some((a) => a.kind === 'bgp')) {
      c.add('fatal', 'missing-key', 'config', 'the config has bgp pools but no peers; write `peers: []` to mean none', 'peers');
    }
  } else if (!Array.isArray(rawPeers)) {
    c.add('fatal', 'wrong-type', 'config', 'expected peers to be a list', 'peers', rawPeers);
  } else {
    rawPeers.forEach((raw: unknown, i) => {
      const item = `config peers[${i}]`;
      if (!isRecord(raw)) {
        c.add('error', 'wrong-type', item, 'expected a peer mapping; skipped', undefined, raw);
        return;
      }
      unknownKeys(raw, LEGACY_PEER_KEYS, item, '', c, 'error');
      const vrf = own(raw, 'vrf');
      if (typeof vrf === 'string' && vrf !== '') {
        c.add('error', 'unsupported-peer', item, 'a peer in a VRF is reached through that VRF, not through the return-path table; peer skipped', 'vrf', vrf);
        return;
      }
      const address = readPeerAddress(own(raw, 'peer-address'), item, 'peer-address', c);
      const nodeSelectors = readSelectors(own(raw, 'node-selectors'), 'legacy', item, 'node-selectors', c, 'error', 'peer skipped');
      if (!address || !nodeSelectors) return;
      peers.push({ name: address.text, item, address, nodeSelectors });
    });
  }
  return { source, pools, advertisements, peers, problems: c.problems };
}

function yamlDocuments(text: string, item: string, c: Collector): unknown[] | undefined {
  const docs = YAML.parseAllDocuments(text, { uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [];
  const values: unknown[] = [];
  for (const d of list) {
    if (d.errors.length > 0) {
      const e = d.errors[0];
      c.add('fatal', 'yaml-syntax', item, `not valid YAML: ${(e?.message ?? 'parse error').split('\n')[0]}`);
      return undefined;
    }
    let v: unknown;
    try {
      // toJS throws on an unresolvable alias and on alias expansion past maxAliasCount (billion laughs)
      v = d.toJS({ maxAliasCount: 100 });
    } catch (e) {
      c.add('fatal', 'yaml-syntax', item, `not usable YAML: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
    if (v !== null && v !== undefined) values.push(v);
  }
  return values;
}

/**
 * The legacy ConfigMap's `config` text. `undefined` (the ConfigMap has no
 * `config` key) is fatal: it says nothing about the pools, it does not say
 * there are none.
 */
export function parseLegacyConfig(text: string | undefined, source: Source = 'configmap'): MetallbModel {
  const c = new Collector();
  if (text === undefined) {
    c.add('fatal', 'missing-key', 'ConfigMap', 'the ConfigMap has no config key', 'data.config');
    return { source, pools: [], advertisements: [], peers: [], problems: c.problems };
  }
  const docs = yamlDocuments(text, 'config', c);
  if (!docs) return { source, pools: [], advertisements: [], peers: [], problems: c.problems };
  if (docs.length !== 1) {
    c.add('fatal', docs.length === 0 ? 'missing-key' : 'wrong-type', 'config', `expected one YAML document, found ${docs.length}`);
    return { source, pools: [], advertisements: [], peers: [], problems: c.problems };
  }
  return legacyFromObject(docs[0], c, source);
}

// ---------------------------------------------------------------------------
// file

const CRD_KINDS = {
  IPAddressPool: 'ipAddressPools',
  BGPAdvertisement: 'bgpAdvertisements',
  BGPPeer: 'bgpPeers',
  L2Advertisement: 'l2Advertisements',
  AddressPool: 'addressPools',
} as const satisfies Record<string, keyof ResourceLists>;
type CrdKind = keyof typeof CRD_KINDS;

/**
 * MetalLB kinds that say nothing about return paths; a file may hold them.
 * A Node is read by the file source for this node's labels (src/routes/sources.ts).
 */
const IGNORED_KINDS = new Set(['Node', 'BFDProfile', 'Community', 'MetalLB', 'ServiceL2Status', 'ServiceBGPStatus', 'ConfigurationState', 'IPPool', 'OSPFAdvertisement', 'OSPFInstance']);

function isCrdKind(k: string): k is CrdKind {
  return Object.prototype.hasOwnProperty.call(CRD_KINDS, k);
}

/**
 * `--metallb-file`: multi-document YAML holding either MetalLB resources
 * (each kind also as `<Kind>List` or inside a `List`; an empty
 * `BGPPeerList` says "no peers" on purpose) or the legacy config (bare, or as
 * a ConfigMap with `data.config`). Mixing the two forms is fatal.
 */
export function parseMetallbFile(text: string, opts: ParseOptions = {}): MetallbModel {
  const c = new Collector();
  const fail = (): MetallbModel => ({ source: 'file', pools: [], advertisements: [], peers: [], problems: c.problems });
  const docs = yamlDocuments(text, 'file', c);
  if (!docs) return fail();
  if (docs.length === 0) {
    c.add('fatal', 'missing-key', 'file', 'the file has no YAML documents');
    return fail();
  }
  const lists: Partial<Record<keyof ResourceLists, unknown[]>> = {};
  const legacy: { text?: string; obj?: unknown; item: string }[] = [];

  const visit = (doc: unknown, where: string, depth: number): void => {
    if (!isRecord(doc)) {
      c.add('error', 'wrong-type', where, 'expected a mapping (a Kubernetes object or the legacy config); skipped', undefined, doc);
      return;
    }
    const kind = own(doc, 'kind');
    if (typeof kind !== 'string') {
      if (['address-pools', 'peers', 'bgp-communities'].some((k) => own(doc, k) !== undefined)) legacy.push({ obj: doc, item: where });
      else c.add('error', 'unknown-kind', where, 'neither a Kubernetes object (no kind) nor the legacy config (no address-pools/peers); skipped');
      return;
    }
    const items = own(doc, 'items');
    if (kind === 'List' && depth === 0) {
      if (!Array.isArray(items)) {
        c.add('error', 'wrong-type', where, 'expected items to be a list; skipped', 'items', items);
        return;
      }
      items.forEach((it: unknown, i) => visit(it, `${where} items[${i}]`, depth + 1));
      return;
    }
    if (kind.endsWith('List') && isCrdKind(kind.slice(0, -4)) && depth === 0) {
      const key = CRD_KINDS[kind.slice(0, -4) as CrdKind];
      if (!Array.isArray(items)) {
        c.add('fatal', 'wrong-type', where, `expected ${kind} items to be a list`, 'items', items);
        return;
      }
      const list = (lists[key] ??= []);
      for (const it of items as unknown[]) list.push(it);
      return;
    }
    if (isCrdKind(kind)) {
      const api = own(doc, 'apiVersion');
      if (typeof api === 'string' && !api.startsWith('metallb.io/')) {
        c.add('error', 'unknown-kind', where, `${kind} of apiVersion ${api} is not MetalLB's; skipped`, 'apiVersion', api);
        return;
      }
      (lists[CRD_KINDS[kind]] ??= []).push(doc);
      return;
    }
    if (kind === 'ConfigMap') {
      const data = own(doc, 'data');
      const cfg = isRecord(data) ? own(data, 'config') : undefined;
      legacy.push({ text: typeof cfg === 'string' ? cfg : undefined, item: `${where} ConfigMap` });
      return;
    }
    if (!IGNORED_KINDS.has(kind)) c.add('notice', 'unknown-kind', where, `kind ${kind} has nothing to do with return paths; skipped`, 'kind', kind);
  };
  docs.forEach((d, i) => visit(d, `file document ${i + 1}`, 0));

  const crdSeen = Object.keys(lists).length > 0;
  if (legacy.length > 1 || (legacy.length === 1 && crdSeen)) {
    c.add('fatal', 'wrong-type', 'file', 'the file mixes MetalLB resources and legacy configs (or holds several legacy configs); expected one form');
    return fail();
  }
  const one = legacy[0];
  if (one) {
    const m = one.obj !== undefined ? legacyFromObject(one.obj, new Collector(), 'file') : parseLegacyConfig(one.text, 'file');
    return { ...m, problems: [...c.problems, ...m.problems] };
  }
  if (!crdSeen) {
    c.add('fatal', 'missing-key', 'file', 'the file holds no MetalLB pools, advertisements or peers');
    return fail();
  }
  const m = parseResources(lists, opts, 'file');
  return { ...m, problems: [...c.problems, ...m.problems] };
}
