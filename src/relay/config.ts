/**
 * Configuration of the relay: one field list (zod schema per field, see
 * src/config/field.ts), filled flag > env > file (`relay:` section) > default,
 * validated once into a frozen RelayConfig. Every problem is collected and
 * thrown as one ConfigError naming field, value and expectation.
 *
 * go-pmtud compatibility: its flag spellings are accepted as aliases where
 * they mean the same thing (--nflog_group, --nodename, --iface_names,
 * --metrics_port, which takes a port only), and so are its PMTUD_*
 * environment variables (viper with the PMTUD prefix): PMTUD_NFLOG_GROUP,
 * PMTUD_NODENAME, PMTUD_IFACE_NAMES, PMTUD_TTL, PMTUD_METRICS_PORT,
 * PMTUD_IGNORE_NETWORKS. Every flag is also PATHGUARD_<FLAG>.
 *
 * Defaults that need a reason:
 * - --relay-port 4490/udp: unassigned in the IANA registry (4489-4499), below
 *   the ephemeral range (32768-60999) and outside the NodePort range
 *   (30000-32767), so nothing else on a node binds it by chance. go-pmtud's
 *   4390 is registered to another service (wiegand) and its datagrams are
 *   not ours anyway.
 * - --ttl 1 (go-pmtud's default): a re-originated replica (--transport ip)
 *   is only meant for nodes on the same segment; with TTL 1 a router never
 *   forwards it elsewhere.
 * - --metrics-addr :9462, in the Prometheus exporter port range and outside
 *   the NodePort range (go-pmtud's 30040 sits inside it and can collide with
 *   a Service's nodePort on hostNetwork pods).
 * - rates and dedup window: see rate-limiter.ts and dedup.ts.
 */
import { envNames, field, flagName, resolveFields, type Field, type Origin } from '../config/field.js';
import { flagDefinitions, foldAliases, type FlagDefinition } from '../config/flags.js';
import { boolean, duration, integer, list, listenAddress, oneOf, parser, text, DNS1123_SUBDOMAIN, FAIL, type ListenAddress } from '../config/parsers.js';
import { throwIfProblems } from '../config/problems.js';
import { LOG_LEVELS, type LogLevel } from '../obs/log.js';
import type { ConfigProblem } from '../errors.js';
import { tryParseAddress } from '../wire/ip-address.js';
import { DEDUP_DEFAULTS } from './dedup.js';
import { parseCidr } from './prefix-set.js';
import { formatPrefix, type Prefix } from '../wire/ip-prefix.js';
import { RATE_LIMIT_DEFAULTS } from './rate-limiter.js';
import { MAX_SHARDS } from '../firewall/ruleset.js';
import { parsePeerEntries, type Peer } from '../peers/peer-set.js';
import { z } from 'zod';

export const TRANSPORTS = ['udp', 'l2', 'broadcast', 'ip'] as const;
export type Transport = (typeof TRANSPORTS)[number];

export const RELAY_PORT_DEFAULT = 4490;
export const METRICS_PORT_DEFAULT = 9462;
export const TUN_NAME_DEFAULT = 'pathguard0';
const RATE_MAX = 1_000_000;

/** A network interface name as the kernel accepts it (dev_valid_name(), net/core/dev.c; IFNAMSIZ 16 with the NUL). */
export const IFNAME = /^(?!\.\.?$)[^/:\s]{1,15}$/;

/**
 * A rate in packets per second: a number (`2`, `0.5`) or `N/s`, `N/m`, `N/h`
 * (`120/m` = 2/s). Must be > 0 and at most `max` per second.
 */
export function rate(max = RATE_MAX): ReturnType<typeof parser<number>> {
  const per: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600 };
  return parser(`a rate in packets per second > 0 and <= ${max}: a number like 2 or 0.5, or N/s, N/m, N/h`, (raw) => {
    let n: number;
    let unit = 1;
    if (typeof raw === 'number') n = raw;
    else if (typeof raw === 'string') {
      const m = /^([0-9]+(?:\.[0-9]+)?)(?:\/([smh]))?$/.exec(raw.trim());
      if (!m) return FAIL;
      n = Number(m[1]);
      unit = per[m[2] ?? 's'] ?? Number.NaN;
    } else return FAIL;
    const r = n / unit;
    return Number.isFinite(r) && r > 0 && r <= max ? r : FAIL;
  });
}

/** An IPv4 or IPv6 address, as 4 or 16 bytes. */
export function address(): ReturnType<typeof parser<Uint8Array>> {
  return parser('an IPv4 or IPv6 address', (raw) => (typeof raw === 'string' ? (tryParseAddress(raw.trim()) ?? FAIL) : FAIL));
}

/**
 * --peers: the same validation as peers from Node objects (parsePeerEntries):
 * unicast addresses only, IPv4-mapped folded to IPv4, `+` joining one node's
 * addresses. Each bad entry is its own issue, at its index.
 */
export function peerList(): z.ZodType<Peer[], unknown> {
  return z.unknown().transform((raw, ctx): Peer[] => {
    if (typeof raw !== 'string' && !Array.isArray(raw)) {
      ctx.issues.push({ code: 'custom', message: 'a comma-separated list of peers or a YAML sequence', input: raw });
      return z.NEVER;
    }
    const { peers, problems } = parsePeerEntries(raw);
    for (const p of problems) ctx.issues.push({ code: 'custom', message: p.expected, input: p.value, path: [p.index] });
    return problems.length > 0 ? z.NEVER : peers;
  });
}

/** A prefix `ADDR/LEN` or a bare address (host route), either family; host bits are cleared. */
export function cidr(): ReturnType<typeof parser<Prefix>> {
  return parser('an IPv4 or IPv6 prefix ADDR/LEN, or an address', (raw) => (typeof raw === 'string' ? (parseCidr(raw) ?? FAIL) : FAIL));
}

/** A port (1..65535) or an inclusive range `LO-HI`; a list of them flattens to the ports. */
export function portOrRange(): ReturnType<typeof parser<number[]>> {
  return parser('a port 1..65535 or a range LO-HI', (raw) => {
    const s = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
    const m = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/.exec(s);
    if (!m) return FAIL;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 1 || hi > 65_535 || lo > hi) return FAIL;
    const out: number[] = [];
    for (let p = lo; p <= hi; p++) out.push(p);
    return out;
  });
}

const path = () => text({ what: 'a file path' });

/** The relay fields; the CLI builds its options from RELAY_FLAGS (flag = kebab-case of the key). */
export const RELAY_FIELDS = {
  nflogGroup: field({
    env: ['PMTUD_NFLOG_GROUP'],
    schema: integer({ min: 0, max: 65_535 }),
    default: 33,
    help: 'NFLOG group the capture rules log "too big" messages to (go-pmtud: --nflog_group)',
  }),
  iface: field({
    env: ['PMTUD_IFACE_NAMES'],
    schema: list(text({ what: 'a network interface name', pattern: IFNAME })),
    default: [] as string[],
    help: 'interface to capture on and relay through; repeat or comma-separate for several (default: the interface of the default route)',
  }),
  transport: field({
    schema: oneOf(TRANSPORTS),
    default: 'udp' as Transport,
    help: 'how replicas reach peers: udp (to each peer\'s pathguard, routed fabrics), l2 (frame to each peer\'s MAC), broadcast (one frame to ff:ff:ff:ff:ff:ff), ip (re-originated to each peer IP with --ttl, go-pmtud style)',
  }),
  relayPort: field({
    schema: integer({ min: 1, max: 65_535 }),
    default: RELAY_PORT_DEFAULT,
    help: 'UDP port pathguard agents exchange replicas on (--transport udp)',
  }),
  peers: field({
    schema: peerList(),
    default: [] as Peer[],
    help: 'peer nodes, comma-separated; join one node\'s IPv4 and IPv6 addresses with + so it is one peer (192.0.2.11+2001:db8::11,192.0.2.12); every node gets every message once, over an address of the message\'s family when it has one (default: from Kubernetes Node objects)',
  }),
  nodeName: field({
    env: ['NODE_NAME', 'PMTUD_NODENAME'],
    schema: text({ what: 'a Kubernetes node name', pattern: DNS1123_SUBDOMAIN }),
    help: 'this node\'s name, to leave it out of the peers found in Kubernetes (default: the host name; go-pmtud: --nodename)',
  }),
  vipNetworks: field({
    schema: list(cidr()),
    default: [] as Prefix[],
    help: 'service address prefixes announced by the cluster (both families); a message is relayed only if the packet it quotes came from one of them or from a local address',
  }),
  ignoreNetworks: field({
    env: ['PMTUD_IGNORE_NETWORKS'],
    schema: list(cidr()),
    default: [] as Prefix[],
    help: 'never relay messages sent (outer source) from these prefixes (go-pmtud\'s flag)',
  }),
  ports: field({
    schema: list(portOrRange()),
    default: [] as number[][],
    help: 'relay only messages quoting one of these source ports (our service ports), e.g. 443,8000-8100 (default: any)',
  }),
  srcRate: field({
    schema: rate(),
    default: RATE_LIMIT_DEFAULTS.srcRate,
    help: 'messages per second relayed per outer source (router): a number or N/s, N/m, N/h',
  }),
  srcBurst: field({
    schema: integer({ min: 1, max: RATE_MAX }),
    default: RATE_LIMIT_DEFAULTS.srcBurst,
    help: 'messages a source may send back to back before --src-rate applies',
  }),
  ifaceRate: field({
    schema: rate(),
    default: RATE_LIMIT_DEFAULTS.ifaceRate,
    help: 'messages per second relayed per capture interface, whatever the sources (bounds the fan-out to peers)',
  }),
  ifaceBurst: field({
    schema: integer({ min: 1, max: RATE_MAX }),
    default: RATE_LIMIT_DEFAULTS.ifaceBurst,
    help: 'messages an interface may relay back to back before --iface-rate applies',
  }),
  dedupWindow: field({
    schema: duration({ minMs: 10, maxMs: 60_000, zeroAllowed: true }),
    default: DEDUP_DEFAULTS.windowMs,
    help: 'relay the same flow and MTU once per window; 0 disables',
  }),
  workers: field({
    schema: integer({ min: 1, max: MAX_SHARDS }),
    default: 1,
    help: `data-plane threads; each reads its own NFLOG group (--nflog-group and the next ones) and gets the messages of a hash share of the outer sources, so per-source limits stay exact and --iface-rate/--iface-burst are divided between them (needs nftables rules)`,
  }),
  ttl: field({
    env: ['PMTUD_TTL'],
    schema: integer({ min: 1, max: 255 }),
    default: 1,
    help: 'TTL / hop limit of re-originated replicas (--transport ip); 1 keeps them on the segment',
  }),
  keyFile: field({
    schema: path(),
    help: 'file holding the shared HMAC-SHA256 key that signs and checks udp replicas (recommended with --transport udp; without it only the peer address set vouches for a datagram)',
  }),
  metricsAddr: field({
    schema: listenAddress(),
    default: { host: '', port: METRICS_PORT_DEFAULT } as ListenAddress,
    help: 'serve Prometheus metrics on HOST:PORT, :PORT or [V6]:PORT',
  }),
  metricsPort: field({
    env: ['PMTUD_METRICS_PORT'],
    schema: integer({ min: 1, max: 65_535 }),
    help: 'serve metrics on this port, all addresses: same as --metrics-addr :PORT (go-pmtud: --metrics_port)',
  }),
  manageFirewall: field({
    schema: boolean(),
    default: true,
    help: 'install and remove the nftables capture rules (--no-manage-firewall when they are managed elsewhere)',
  }),
  dryRun: field({
    schema: boolean(),
    default: false,
    file: false,
    help: 'capture and decide, count and log, but send no replica',
  }),
  readyFile: field({
    schema: path(),
    help: 'create this file once capture and sockets are up',
  }),
  logLevel: field({
    schema: oneOf(LOG_LEVELS),
    default: 'info' as LogLevel,
    help: `log level: one of ${LOG_LEVELS.join(', ')}`,
  }),
  tunName: field({
    schema: text({ what: 'a network interface name (1-15 characters, no "/", ":" or spaces)', pattern: IFNAME }),
    default: TUN_NAME_DEFAULT,
    help: 'TUN interface through which received udp replicas enter this node\'s stack',
  }),
} satisfies Record<string, Field<any>>;

export type RelayFieldKey = keyof typeof RELAY_FIELDS;

export interface RelayConfig {
  readonly nflogGroup: number;
  /** Capture interfaces; empty means the interface of the default route (resolved by the I/O part). */
  readonly iface: readonly string[];
  readonly transport: Transport;
  readonly relayPort: number;
  /** Static peers, one per node; empty means discover them. */
  readonly peers: readonly Peer[];
  readonly nodeName?: string;
  readonly vipNetworks: readonly Prefix[];
  readonly ignoreNetworks: readonly Prefix[];
  /** Allowed quoted source ports, sorted, unique; empty allows all. */
  readonly ports: readonly number[];
  /** Packets per second. */
  readonly srcRate: number;
  readonly srcBurst: number;
  readonly ifaceRate: number;
  readonly ifaceBurst: number;
  /** Milliseconds; 0 disables dedup. */
  readonly dedupWindow: number;
  readonly ttl: number;
  /** Data-plane workers, each with its own NFLOG group from nflogGroup on. */
  readonly workers: number;
  readonly keyFile?: string;
  readonly metricsAddr: ListenAddress;
  readonly manageFirewall: boolean;
  readonly dryRun: boolean;
  readonly readyFile?: string;
  readonly logLevel: LogLevel;
  readonly tunName: string;
}

/** The relay's options for the CLI, in field order (src/config/flags.ts). */
export const RELAY_FLAGS: readonly FlagDefinition[] = flagDefinitions(RELAY_FIELDS, {
  nflogGroup: { valueName: 'group', aliases: ['--nflog_group'] },
  iface: { valueName: 'name', repeatable: true, aliases: ['--iface_names'], defaultText: 'the interface of the default route' },
  transport: { valueName: 'kind' },
  relayPort: { valueName: 'port' },
  peers: { valueName: 'peers', defaultText: 'from Kubernetes Node objects' },
  nodeName: { valueName: 'name', aliases: ['--nodename'], defaultText: 'the host name' },
  vipNetworks: { valueName: 'cidrs' },
  ignoreNetworks: { valueName: 'cidrs' },
  ports: { valueName: 'ports' },
  srcRate: { valueName: 'rate' },
  srcBurst: { valueName: 'n' },
  ifaceRate: { valueName: 'rate' },
  ifaceBurst: { valueName: 'n' },
  dedupWindow: { valueName: 'duration', defaultText: `${DEDUP_DEFAULTS.windowMs}ms` },
  ttl: { valueName: 'n' },
  workers: { valueName: 'n' },
  keyFile: { valueName: 'path' },
  metricsAddr: { valueName: 'addr', defaultText: `:${METRICS_PORT_DEFAULT}` },
  metricsPort: { valueName: 'port', aliases: ['--metrics_port'] },
  manageFirewall: { switch: 'negatable' },
  dryRun: { switch: 'plain' },
  readyFile: { valueName: 'path' },
  logLevel: { valueName: 'level' },
  tunName: { valueName: 'name' },
});

function describe(key: RelayFieldKey): string {
  return `${key} (--${flagName(key)}, ${envNames(key, RELAY_FIELDS[key]).join(', ')})`;
}

const RANK: Readonly<Record<Origin, number>> = { flag: 3, env: 2, file: 1, default: 0 };

/**
 * Resolve and validate. `flags` is commander's opts() (alias attributes such
 * as `nflog_group` are accepted), `fileDoc` the `relay` section of the config
 * file (already parsed YAML) or undefined. Throws one ConfigError listing
 * every problem; returns a frozen object.
 */
export function relayConfig(
  flags: Readonly<Record<string, unknown>> | undefined,
  env: Readonly<Record<string, string | undefined>> | undefined,
  fileDoc: unknown,
): Readonly<RelayConfig> {
  const problems: ConfigProblem[] = [];

  // Fold go-pmtud flag spellings into their fields.
  const folded = foldAliases(flags, RELAY_FLAGS, (p) => problems.push(p));

  const { values: v, origins, problems: found } = resolveFields(RELAY_FIELDS, { flags: folded, env, file: fileDoc }, 'relay');
  problems.push(...found);

  // --metrics-port is --metrics-addr :PORT; the higher-precedence source wins, two at the same level conflict.
  let metricsAddr = v.metricsAddr;
  if (v.metricsPort !== undefined) {
    const portRank = RANK[origins.metricsPort ?? 'default'];
    const addrRank = RANK[origins.metricsAddr ?? 'default'];
    if (portRank > addrRank) metricsAddr = { host: '', port: v.metricsPort };
    else if (portRank === addrRank) {
      problems.push({ field: describe('metricsPort'), value: v.metricsPort, expected: `not to be set together with metricsAddr from the same source (${origins.metricsAddr})` });
    }
  }

  for (const [key, list_] of [['vipNetworks', v.vipNetworks], ['ignoreNetworks', v.ignoreNetworks]] as const) {
    const seen = new Set<string>();
    for (const c of list_ ?? []) {
      const t = formatPrefix(c);
      if (seen.has(t)) problems.push({ field: describe(key), value: t, expected: 'each prefix once' });
      seen.add(t);
    }
  }

  if (v.nflogGroup !== undefined && v.workers !== undefined && v.nflogGroup + v.workers - 1 > 0xffff) {
    problems.push({ field: describe('workers'), value: v.workers, expected: `at most ${0x10000 - v.nflogGroup} with --nflog-group ${v.nflogGroup} (groups ${v.nflogGroup}..${v.nflogGroup + v.workers - 1} must exist)` });
  }

  throwIfProblems(problems);

  const ports = [...new Set((v.ports ?? []).flat())].sort((a, b) => a - b);
  const out: { -readonly [K in keyof RelayConfig]: RelayConfig[K] } = {
    nflogGroup: v.nflogGroup,
    iface: Object.freeze([...new Set(v.iface)]),
    transport: v.transport,
    relayPort: v.relayPort,
    peers: Object.freeze(v.peers),
    vipNetworks: Object.freeze(v.vipNetworks.map((c) => Object.freeze({ ...c }))),
    ignoreNetworks: Object.freeze(v.ignoreNetworks.map((c) => Object.freeze({ ...c }))),
    ports: Object.freeze(ports),
    srcRate: v.srcRate,
    srcBurst: v.srcBurst,
    ifaceRate: v.ifaceRate,
    ifaceBurst: v.ifaceBurst,
    dedupWindow: v.dedupWindow,
    ttl: v.ttl,
    workers: v.workers,
    metricsAddr: Object.freeze({ ...metricsAddr }),
    manageFirewall: v.manageFirewall,
    dryRun: v.dryRun,
    logLevel: v.logLevel,
    tunName: v.tunName,
  };
  if (v.nodeName !== undefined) out.nodeName = v.nodeName;
  if (v.keyFile !== undefined) out.keyFile = v.keyFile;
  if (v.readyFile !== undefined) out.readyFile = v.readyFile;
  return Object.freeze(out);
}
