/**
 * Configuration of the `probe` commands: one field list each (src/config/field.ts),
 * from flags and PATHGUARD_* environment variables (flag > env > default),
 * validated once into a frozen object; every problem is reported at once,
 * naming the field, the value and what was expected.
 *
 * Defaults that need a reason:
 * - --port 33434 for UDP: traceroute's base port, closed on almost every host,
 *   so the target answers with a port unreachable; 443 for TCP, open on most
 *   services (a closed port answers with a RST, which works as well).
 * - --wait 1s, --attempts 2: routers rate-limit the ICMP they originate
 *   (net.ipv4.icmp_ratelimit, 1 per second per destination after a burst of
 *   6, for time exceeded and unreachables; too-big messages are exempt), so
 *   a second try a second later usually gets the answer the first one lost.
 */
import { field, resolveFields, type ConfigInputs } from '../config/field.js';
import { boolean, duration, integer, oneOf, parser, FAIL } from '../config/parsers.js';
import { throwIfProblems } from '../config/problems.js';
import { DecodeError, type ConfigProblem } from '../errors.js';
import { formatAddress, parseAddress } from '../wire/ip-address.js';
import { PROBE_PROTOCOLS, type ProbeProtocol } from './pmtu-result.js';

export const UDP_PORT_DEFAULT = 33434;
export const TCP_PORT_DEFAULT = 443;

/** An IPv4 or IPv6 address, as 4 or 16 bytes. */
export function ipAddress(): ReturnType<typeof parser<Uint8Array>> {
  return parser('an IPv4 or IPv6 address', (raw) => {
    if (typeof raw !== 'string') return FAIL;
    try {
      return parseAddress(raw.trim());
    } catch (err) {
      if (err instanceof DecodeError) return FAIL;
      throw err;
    }
  });
}

/** `ADDR:PORT` or `[ADDR6]:PORT`. */
export function addressPort(): ReturnType<typeof parser<{ address: Uint8Array; port: number }>> {
  return parser('ADDRESS:PORT (IPv6 as [ADDRESS]:PORT) with a port in 1..65535', (raw) => {
    if (typeof raw !== 'string') return FAIL;
    const m = /^\[([0-9a-fA-F:.]+)\]:([0-9]{1,5})$/.exec(raw.trim()) ?? /^([0-9.]+):([0-9]{1,5})$/.exec(raw.trim());
    if (!m) return FAIL;
    const port = Number(m[2]);
    if (port < 1 || port > 65535) return FAIL;
    try {
      return { address: parseAddress(m[1]!), port };
    } catch (err) {
      if (err instanceof DecodeError) return FAIL;
      throw err;
    }
  });
}

const common = {
  attempts: field({ schema: integer({ min: 1, max: 10 }), default: 2, help: 'times a probe is sent before it counts as unanswered' }),
  wait: field({ schema: duration({ minMs: 10, maxMs: 60_000 }), default: 1000, help: 'how long to wait for the answer to each probe' }),
  json: field({ schema: boolean(), default: false, help: 'print the result as JSON' }),
};

export const PMTU_FIELDS = {
  proto: field({ schema: oneOf(PROBE_PROTOCOLS), default: 'udp' as ProbeProtocol, help: 'probe with UDP to a closed port, TCP SYN to an open port, or ICMP echo' }),
  port: field({ schema: integer({ min: 1, max: 65535 }), help: `destination port of UDP and TCP probes (default: ${UDP_PORT_DEFAULT} for udp, ${TCP_PORT_DEFAULT} for tcp)` }),
  ...common,
  timeout: field({ schema: duration({ minMs: 1000, maxMs: 3_600_000 }), default: 120_000, help: 'bound on the whole run; what was learned by then is reported' }),
  maxHops: field({ schema: integer({ min: 1, max: 255 }), default: 30, help: 'highest TTL / hop limit of the localisation' }),
  verbose: field({ schema: boolean(), default: false, help: 'print every probe and its answer on stderr' }),
};

export interface PmtuConfig {
  readonly target: Uint8Array;
  readonly proto: ProbeProtocol;
  readonly port: number;
  readonly attempts: number;
  readonly waitMs: number;
  readonly timeoutMs: number;
  readonly maxHops: number;
  readonly json: boolean;
  readonly verbose: boolean;
}

function target(raw: unknown, name: string, problems: ConfigProblem[]): Uint8Array | undefined {
  const r = ipAddress().safeParse(raw);
  if (r.success) return r.data;
  problems.push({ field: name, value: raw, expected: 'an IPv4 or IPv6 address' });
  return undefined;
}

export function pmtuConfig(targetArg: unknown, inputs: ConfigInputs): PmtuConfig {
  const { values: v, problems: found } = resolveFields(PMTU_FIELDS, inputs);
  const problems = [...found];
  const t = target(targetArg, 'TARGET', problems);
  throwIfProblems(problems);
  return Object.freeze({
    target: t!,
    proto: v.proto,
    port: v.port ?? (v.proto === 'tcp' ? TCP_PORT_DEFAULT : UDP_PORT_DEFAULT),
    attempts: v.attempts,
    waitMs: v.wait,
    timeoutMs: v.timeout,
    maxHops: v.maxHops,
    json: v.json,
    verbose: v.verbose,
  });
}

export const MSS_FIELDS = {
  ...common,
  attempts: field({ schema: integer({ min: 1, max: 10 }), default: 2, help: 'connection attempts before giving up' }),
  wait: field({ schema: duration({ minMs: 10, maxMs: 60_000 }), default: 3000, help: 'how long each connection attempt may take' }),
};

export interface MssConfig {
  readonly target: Uint8Array;
  readonly port: number;
  readonly attempts: number;
  readonly waitMs: number;
  readonly json: boolean;
}

export function mssConfig(targetArg: unknown, inputs: ConfigInputs): MssConfig {
  const { values: v, problems: found } = resolveFields(MSS_FIELDS, inputs);
  const problems = [...found];
  const r = addressPort().safeParse(targetArg);
  if (!r.success) problems.push({ field: 'VIP:PORT', value: targetArg, expected: 'ADDRESS:PORT (IPv6 as [ADDRESS]:PORT) with a port in 1..65535' });
  throwIfProblems(problems);
  return Object.freeze({ target: r.data!.address, port: r.data!.port, attempts: v.attempts, waitMs: v.wait, json: v.json });
}

/** MSS our SYN offers by default: what Linux offers over a 1500-byte link (1500 - 40 / - 60). */
export const SYN_MSS_DEFAULT = { 4: 1460, 6: 1440 } as const;

export const IPIP_FIELDS = {
  vip: field({ schema: ipAddress(), help: 'the service address the realserver holds (inner destination); required' }),
  port: field({ schema: integer({ min: 1, max: 65535 }), help: 'the service port (inner TCP destination); required' }),
  mss: field({ schema: integer({ min: 88, max: 65495 }), help: `MSS option of the SYN (default: ${SYN_MSS_DEFAULT[4]} IPv4, ${SYN_MSS_DEFAULT[6]} IPv6)` }),
  ...common,
};

export interface IpipConfig {
  readonly realserver: Uint8Array;
  readonly vip: Uint8Array;
  readonly port: number;
  readonly mss: number;
  readonly attempts: number;
  readonly waitMs: number;
  readonly json: boolean;
}

export function ipipConfig(realserverArg: unknown, inputs: ConfigInputs): IpipConfig {
  const { values: v, problems: found } = resolveFields(IPIP_FIELDS, inputs);
  const problems = [...found];
  const rs = target(realserverArg, 'REALSERVER', problems);
  if (v.vip === undefined && !found.some((p) => p.field.includes('vip') || p.field.includes('VIP'))) {
    problems.push({ field: '--vip', value: undefined, expected: 'the service address (required)' });
  }
  if (v.port === undefined && !found.some((p) => p.field.includes('port') || p.field.includes('PORT'))) {
    problems.push({ field: '--port', value: undefined, expected: 'the service port in 1..65535 (required)' });
  }
  if (rs !== undefined && v.vip !== undefined && rs.byteLength !== v.vip.byteLength) {
    problems.push({ field: '--vip', value: formatAddress(v.vip), expected: `an IPv${rs.byteLength === 4 ? 4 : 6} address like REALSERVER (IPIP carries IPv4 in IPv4, IP6IP6 IPv6 in IPv6)` });
  }
  throwIfProblems(problems);
  const family = rs!.byteLength === 4 ? 4 : 6;
  return Object.freeze({
    realserver: rs!,
    vip: v.vip!,
    port: v.port!,
    mss: v.mss ?? SYN_MSS_DEFAULT[family],
    attempts: v.attempts,
    waitMs: v.wait,
    json: v.json,
  });
}
