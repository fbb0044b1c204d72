/**
 * Configuration of the realserver component (LVS-IPIP realserver set-up):
 * one field list (zod schema per field, see src/config/field.ts), filled
 * flag > env (PATHGUARD_<FLAG>) > file (`realserver:` section) > default,
 * validated once into a frozen RealserverConfig. Every problem is collected
 * and thrown as one ConfigError naming field, value and expectation.
 *
 * MSS bounds (--mss, default 1400 for both families, Wikimedia's value):
 * - IPv4 536..1460: 536 is the IPv4 default MSS (RFC 879, RFC 9293 3.7.1),
 *   1460 fills a 1500-byte Ethernet frame (1500 - 20 - 20);
 * - IPv6 1220..1440: 1220 fills the IPv6 minimum MTU (1280 - 40 - 20,
 *   RFC 8200 section 5), 1440 fills 1500 (1500 - 40 - 20).
 * A clamp above the bound would never lower anything the kernel sends on a
 * 1500-byte path, and one below it breaks the protocol's minimum.
 */
import { envNames, field, flagName, resolveFields, type Field } from '../config/field.js';
import { boolean, duration, integer, list, listenAddress, oneOf, text, type ListenAddress } from '../config/parsers.js';
import { throwIfProblems } from '../config/problems.js';
import { LOG_LEVELS, type LogLevel } from '../obs/log.js';
import type { ConfigProblem } from '../errors.js';
import { address, cidr, IFNAME, portOrRange } from '../relay/config.js';
import { formatPrefix, type Prefix } from '../wire/ip-prefix.js';
import { formatAddress } from '../wire/ip-address.js';

export const MSS_BOUNDS = {
  v4: { min: 536, max: 1460 },
  v6: { min: 1220, max: 1440 },
} as const;
export const MSS_DEFAULT = 1400;
export const STATE_FILE_DEFAULT = '/run/pathguard/realserver.json';

const path = () => text({ what: 'a file path' });
const ifname = () => text({ what: 'a network interface name (at most 15 characters, no "/", ":" or spaces)', pattern: IFNAME });

/** The realserver fields; the CLI builds its options from this list (flag = kebab-case of the key). */
export const REALSERVER_FIELDS = {
  vips: field({ schema: list(address()), help: 'service addresses (IPv4 and IPv6, comma-separated) to put on lo and clamp' }),
  vipsFile: field({ schema: path(), help: 'read more service addresses from this file: one per line (or comma-separated), # starts a comment; re-read on every check' }),
  lvsSources: field({ schema: list(cidr()), default: [] as Prefix[], help: 'LVS directors (addresses or prefixes, both families) whose IPIP (protocol 4, IPv4) and IPv6-in-IPv6 (next header 41) packets the firewall accepts' }),
  ports: field({ schema: list(portOrRange()), help: 'clamp SYN-ACKs from these TCP ports only (PORT or LO-HI, comma-separated; default: every port)' }),
  mss: field({ schema: integer({ min: MSS_BOUNDS.v4.min, max: MSS_BOUNDS.v4.max }), default: MSS_DEFAULT, help: `the MSS SYN-ACKs leaving from the VIPs are clamped to (IPv4 ${MSS_BOUNDS.v4.min}..${MSS_BOUNDS.v4.max}, IPv6 ${MSS_BOUNDS.v6.min}..${MSS_BOUNDS.v6.max})` }),
  rpFilterAll: field({ schema: boolean(), default: false, help: 'allow lowering net.ipv4.conf.all.rp_filter from 1 (strict) to 2 (loose), which decapsulated traffic needs; without it pathguard explains and leaves it' }),
  ipipDevice: field({ schema: ifname(), default: 'ipip0', help: 'name of the IPv4 decapsulation device (ipip, external mode)' }),
  ip6tnlDevice: field({ schema: ifname(), default: 'ipip60', help: 'name of the IPv6 decapsulation device (ip6tnl, external mode)' }),
  partial: field({ schema: boolean(), default: false, help: 'when the kernel lacks ipip or ip6_tunnel, still apply everything else (and exit 0)' }),
  stateFile: field({ schema: path(), default: STATE_FILE_DEFAULT, help: 'where pathguard records the sysctl values it replaced, so --clean can restore them' }),
  once: field({ schema: boolean(), default: false, file: false, help: 'reconcile once and exit' }),
  clean: field({ schema: boolean(), default: false, file: false, help: 'remove everything pathguard added (devices, VIPs, nftables table) and restore the sysctls it changed, then exit' }),
  dryRun: field({ schema: boolean(), default: false, file: false, help: 'print the plan as ip / sysctl / nft commands, change nothing' }),
  debounce: field({ schema: duration({ minMs: 0, maxMs: 60_000 }), default: 250, help: 'coalesce kernel events arriving within this window into one reconcile' }),
  checkInterval: field({ schema: duration({ minMs: 1000, maxMs: 86_400_000, zeroAllowed: true }), default: 60_000, help: 'reconcile against a fresh read of the kernel at least this often (sysctls and nftables send no events); 0 disables' }),
  readyFile: field({ schema: path(), help: 'create this file once the first reconcile has finished' }),
  metricsAddr: field({ schema: listenAddress(), help: 'serve Prometheus metrics, /healthz and /readyz on HOST:PORT (off when unset)' }),
  logLevel: field({ schema: oneOf(LOG_LEVELS), default: 'info' as LogLevel, help: `one of ${LOG_LEVELS.join(', ')}` }),
} satisfies Record<string, Field<any>>;

export interface RealserverConfig {
  /** Canonical address texts from --vips (the file is read at reconcile time). */
  readonly vips: readonly string[];
  readonly vipsFile?: string;
  /** Canonical prefix texts (`192.0.2.0/28`, `2001:db8::5/128`). */
  readonly lvsSources: readonly string[];
  /** Sorted, unique; absent means every port. */
  readonly ports?: readonly number[];
  readonly mss: number;
  readonly rpFilterAll: boolean;
  readonly ipipDevice: string;
  readonly ip6tnlDevice: string;
  readonly partial: boolean;
  readonly stateFile: string;
  readonly once: boolean;
  readonly clean: boolean;
  readonly dryRun: boolean;
  /** Milliseconds. */
  readonly debounce: number;
  readonly checkInterval: number;
  readonly readyFile?: string;
  readonly metricsAddr?: ListenAddress;
  readonly logLevel: LogLevel;
}

function describe(key: keyof typeof REALSERVER_FIELDS): string {
  return `${key} (--${flagName(key)}, ${envNames(key, REALSERVER_FIELDS[key]).join(', ')})`;
}

/** The problem with `mss` for a family's VIPs, or undefined when it fits. */
export function mssProblem(mss: number, family: 4 | 6): string | undefined {
  const b = family === 4 ? MSS_BOUNDS.v4 : MSS_BOUNDS.v6;
  return mss < b.min || mss > b.max ? `an MSS in ${b.min}..${b.max} for IPv${family} VIPs` : undefined;
}

/**
 * Resolve and validate. `fileDoc` is the `realserver` section of the config
 * file (already parsed YAML), or undefined. Throws ConfigError listing every
 * problem; returns a frozen object.
 */
export function realserverConfig(
  flags: Readonly<Record<string, unknown>> | undefined,
  env: Readonly<Record<string, string | undefined>> | undefined,
  fileDoc: unknown,
): Readonly<RealserverConfig> {
  const { values: v, problems: found } = resolveFields(REALSERVER_FIELDS, { flags, env, file: fileDoc }, 'realserver');
  const problems: ConfigProblem[] = [...found];
  const bad = (key: string) => found.some((p) => p.field.includes(flagName(key)) || p.field.includes(key));

  const vips = [...new Set((v.vips ?? []).map(formatAddress))];
  if (vips.length === 0 && v.vipsFile === undefined && !v.clean && !bad('vips') && !bad('vipsFile')) {
    problems.push({ field: `${describe('vips')} / ${describe('vipsFile')}`, value: undefined, expected: 'at least one service address (required unless --clean)' });
  }
  if (!bad('mss')) {
    if (vips.some((a) => a.includes(':'))) {
      const p = mssProblem(v.mss, 6);
      if (p) problems.push({ field: describe('mss'), value: v.mss, expected: p });
    }
  }
  if (v.ipipDevice === v.ip6tnlDevice && v.ipipDevice !== undefined) {
    problems.push({ field: describe('ip6tnlDevice'), value: v.ip6tnlDevice, expected: `a name other than --ipip-device (${v.ipipDevice})` });
  }
  if ([v.ipipDevice, v.ip6tnlDevice].includes('lo')) {
    problems.push({ field: `${describe('ipipDevice')} / ${describe('ip6tnlDevice')}`, value: 'lo', expected: 'a name other than lo (the VIPs live there)' });
  }
  if (v.once && v.clean) {
    problems.push({ field: 'once / clean', value: { once: true, clean: true }, expected: 'at most one of --once and --clean' });
  }
  if (v.checkInterval !== 0 && v.debounce > v.checkInterval) {
    problems.push({ field: describe('debounce'), value: v.debounce, expected: `at most check-interval (${v.checkInterval} ms)` });
  }
  throwIfProblems(problems);

  const out: { -readonly [K in keyof RealserverConfig]: RealserverConfig[K] } = {
    vips: Object.freeze(vips),
    lvsSources: Object.freeze([...new Set(v.lvsSources.map(formatPrefix))]),
    mss: v.mss,
    rpFilterAll: v.rpFilterAll,
    ipipDevice: v.ipipDevice,
    ip6tnlDevice: v.ip6tnlDevice,
    partial: v.partial,
    stateFile: v.stateFile,
    once: v.once,
    clean: v.clean,
    dryRun: v.dryRun,
    debounce: v.debounce,
    checkInterval: v.checkInterval,
    logLevel: v.logLevel,
  };
  if (v.vipsFile !== undefined) out.vipsFile = v.vipsFile;
  if (v.ports !== undefined) out.ports = Object.freeze([...new Set(v.ports.flat())].sort((a, b) => a - b));
  if (v.readyFile !== undefined) out.readyFile = v.readyFile;
  if (v.metricsAddr !== undefined) out.metricsAddr = Object.freeze({ ...v.metricsAddr });
  return Object.freeze(out);
}
