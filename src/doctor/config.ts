/**
 * Configuration of the doctor: one field list (src/config/field.ts), filled
 * flag > env > file > default and validated once into a frozen
 * DoctorConfig, plus the pure step that turns a MetalLB source into the
 * checks' inputs. Inputs it cannot read from the node (service prefixes,
 * MetalLB pools and peers, tunnel endpoints, pod prefixes) use the same
 * flag names as `relay` and `routes`.
 */
import { field, resolveFields, type ConfigInputs, type Field } from '../config/field.js';
import { boolean, duration, list, oneOf, parser, text, FAIL, DNS1123_LABEL, DNS1123_SUBDOMAIN } from '../config/parsers.js';
import { throwIfProblems } from '../config/problems.js';
import type { ConfigProblem } from '../errors.js';
import { IFNAME, TUN_NAME_DEFAULT } from '../relay/config.js';
import { desiredState } from '../routes/desired.js';
import type { MetallbModel } from '../routes/metallb.js';
import { parseAddress, parsePrefix, type NumericAddress, type NumericPrefix } from '../routes/prefix.js';
import type { Labels } from '../routes/selector.js';
import type { DoctorInputs } from './finding.js';
import { CHECK_IDS } from './registry.js';

const prefix = () => parser<NumericPrefix>('a prefix ADDRESS/LENGTH (IPv4 or IPv6)', (raw) => (typeof raw === 'string' ? parsePrefix(raw) ?? FAIL : FAIL));
const address = () => parser<NumericAddress>('an IPv4 or IPv6 address', (raw) => (typeof raw === 'string' ? parseAddress(raw) ?? FAIL : FAIL));
const path = () => text({ what: 'a file path' });

export const FAIL_ON = ['warn', 'error'] as const;

/** The doctor's fields; the CLI builds its options from this list (flag = kebab-case of the key). */
export const DOCTOR_FIELDS = {
  json: field({ schema: boolean(), default: false, file: false, help: 'print the result as one JSON object instead of text' }),
  check: field({ schema: list(oneOf(CHECK_IDS as [string, ...string[]]), { minItems: 1 }), help: `run only these checks, comma-separated: ${CHECK_IDS.join(', ')}` }),
  failOn: field({ schema: oneOf(FAIL_ON), default: 'error' as (typeof FAIL_ON)[number], help: 'exit 1 when a finding is at this severity or above: warn or error' }),
  snapshot: field({ schema: path(), file: false, help: 'run the checks on a saved snapshot instead of reading this node' }),
  saveSnapshot: field({ schema: path(), file: false, help: 'also write the snapshot as JSON to this file (for a support bundle, or to re-run with --snapshot)' }),
  vipNetworks: field({ schema: list(prefix()), default: [] as NumericPrefix[], help: 'service address prefixes announced by the cluster (as for relay)' }),
  metallbFile: field({ env: ['METALLB_STATIC_FILE'], schema: path(), help: 'MetalLB resources or legacy config (YAML) naming the BGP pools and peers (as for routes)' }),
  nodeName: field({ env: ['NODE_NAME'], schema: text({ what: 'a Kubernetes node name', pattern: DNS1123_SUBDOMAIN }), help: 'this node, to select the BGP peers that apply to it from --metallb-file' }),
  metallbNamespace: field({ env: ['METALLB_NAMESPACE'], schema: text({ what: 'a Kubernetes namespace name', pattern: DNS1123_LABEL }), default: 'metallb-system', help: 'namespace of the MetalLB resources in --metallb-file' }),
  bgpPools: field({ schema: list(prefix()), default: [] as NumericPrefix[], help: 'prefixes announced over BGP, when there is no --metallb-file' }),
  bgpPeers: field({ schema: list(address()), default: [] as NumericAddress[], help: 'BGP peer addresses of this node, when there is no --metallb-file' }),
  tunnelEndpoints: field({ schema: list(address()), default: [] as NumericAddress[], help: "underlay addresses of the tunnels' far ends, for devices that name no remote (WireGuard, VXLAN with FDB entries)" }),
  podNetworks: field({ schema: list(prefix()), default: [] as NumericPrefix[], help: 'pod address prefixes (the cluster CIDR), for the forwarding check' }),
  tunName: field({ schema: text({ what: 'a network interface name', pattern: IFNAME }), default: TUN_NAME_DEFAULT, help: "pathguard's TUN device (relay --tun-name)" }),
  statusUrl: field({ schema: text({ what: 'an http:// URL', pattern: /^https?:\/\/\S+$/ }), help: "read a running agent's /status (e.g. http://127.0.0.1:9462/status) into the snapshot" }),
  verbose: field({ schema: boolean(), default: false, file: false, help: 'explain info findings too' }),
  interval: field({ env: ['PATHGUARD_DOCTOR_INTERVAL'], schema: duration({ minMs: 10_000 }), default: 300_000, help: 'in pathguard agent: read the node and run the checks at start and then this often (doctor-interval)' }),
} satisfies Record<string, Field<any>>;

export interface DoctorConfig {
  readonly json: boolean;
  readonly check?: readonly string[];
  readonly failOn: (typeof FAIL_ON)[number];
  readonly snapshot?: string;
  readonly saveSnapshot?: string;
  readonly vipNetworks: readonly NumericPrefix[];
  readonly metallbFile?: string;
  readonly nodeName?: string;
  readonly metallbNamespace: string;
  readonly bgpPools: readonly NumericPrefix[];
  readonly bgpPeers: readonly NumericAddress[];
  readonly tunnelEndpoints: readonly NumericAddress[];
  readonly podNetworks: readonly NumericPrefix[];
  readonly tunName: string;
  readonly statusUrl?: string;
  readonly verbose: boolean;
  /** Milliseconds between runs in the agent. */
  readonly interval: number;
}

/** Resolve and validate; throws ConfigError listing every problem. */
export function doctorConfig(
  flags: Readonly<Record<string, unknown>> | undefined,
  env: Readonly<Record<string, string | undefined>> | undefined,
  fileDoc: unknown,
): Readonly<DoctorConfig> {
  const inputs: ConfigInputs = { flags, env, file: fileDoc };
  const { values: v, problems: found } = resolveFields(DOCTOR_FIELDS, inputs, 'doctor');
  const problems: ConfigProblem[] = [...found];
  if (v.metallbFile !== undefined && (v.bgpPools.length > 0 || v.bgpPeers.length > 0)) {
    problems.push({ field: '--bgp-pools / --bgp-peers', value: { metallbFile: v.metallbFile }, expected: 'either --metallb-file or --bgp-pools/--bgp-peers, not both' });
  }
  throwIfProblems(problems);
  const out: { -readonly [K in keyof DoctorConfig]: DoctorConfig[K] } = {
    json: v.json,
    failOn: v.failOn,
    vipNetworks: v.vipNetworks,
    metallbNamespace: v.metallbNamespace,
    bgpPools: v.bgpPools,
    bgpPeers: v.bgpPeers,
    tunnelEndpoints: v.tunnelEndpoints,
    podNetworks: v.podNetworks,
    tunName: v.tunName,
    verbose: v.verbose,
    interval: v.interval,
  };
  if (v.check !== undefined) out.check = [...new Set(v.check)];
  if (v.snapshot !== undefined) out.snapshot = v.snapshot;
  if (v.saveSnapshot !== undefined) out.saveSnapshot = v.saveSnapshot;
  if (v.metallbFile !== undefined) out.metallbFile = v.metallbFile;
  if (v.nodeName !== undefined) out.nodeName = v.nodeName;
  if (v.statusUrl !== undefined) out.statusUrl = v.statusUrl;
  return Object.freeze(out);
}

/**
 * The checks' inputs from the config and, when given, a MetalLB model: the
 * pools some BGP advertisement selects and the peers whose nodeSelectors
 * match this node, chosen exactly as `routes` chooses them (desiredState).
 */
export function doctorInputs(cfg: DoctorConfig, metallb?: { readonly model: MetallbModel; readonly labels: Labels }): DoctorInputs {
  let bgpPools: DoctorInputs['bgpPools'] = cfg.bgpPools.length > 0 ? [{ name: '--bgp-pools', prefixes: cfg.bgpPools }] : [];
  let bgpPeers: readonly NumericAddress[] = cfg.bgpPeers;
  if (metallb !== undefined) {
    const d = desiredState(metallb.model, { name: cfg.nodeName ?? '', labels: metallb.labels }, { table: 20, priority: 20, suppress: false, peerWeight: { default: 100 } });
    const chosen = new Set(d.pools);
    bgpPools = metallb.model.pools.filter((p) => chosen.has(p.name)).map((p) => ({ name: p.name, prefixes: p.prefixes }));
    bgpPeers = d.peers.flatMap((p) => parseAddress(p.address) ?? []);
  }
  return { vipNetworks: cfg.vipNetworks, bgpPools, bgpPeers, tunnelEndpoints: cfg.tunnelEndpoints, podNetworks: cfg.podNetworks, tunName: cfg.tunName };
}
