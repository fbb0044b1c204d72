/**
 * The flow filter of `pathguard trace`: which packets the kernel reports.
 * Raw flag values are validated once, here, into a FlowFilter; every
 * problem is reported at once with the flag, the value and what was expected.
 *
 * The filter is directional, like pwru's: --src is the packet's source.
 * --port matches either port. --inner matches the header inside IPIP,
 * IPv6-in-IP(v6) or VXLAN (UDP 4789) instead of the outer one.
 */
import { ConfigError, type ConfigProblem } from '../errors.js';
import { parseAddress } from '../wire/ip-address.js';

export type Family = 4 | 6;

export interface Prefix {
  readonly family: Family;
  /** The network address, host bits cleared. */
  readonly bytes: Uint8Array;
  readonly length: number;
  readonly text: string;
}

export const PROTOCOLS = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 } as const;
export type ProtocolName = keyof typeof PROTOCOLS;

export interface FlowFilter {
  readonly family?: Family;
  readonly src?: Prefix;
  readonly dst?: Prefix;
  readonly proto?: number;
  readonly sport?: number;
  readonly dport?: number;
  /** Either port. */
  readonly port?: number;
  readonly inner: boolean;
}

export interface RawFilter {
  src?: string;
  dst?: string;
  proto?: string;
  sport?: string;
  dport?: string;
  port?: string;
  family?: string;
  inner?: boolean;
}

/** Parses `ADDR` or `ADDR/LEN`; undefined when it is neither. */
export function parsePrefix(text: string): Prefix | undefined {
  const [addr, len, extra] = text.split('/');
  if (addr === undefined || extra !== undefined) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = parseAddress(addr);
  } catch {
    return undefined; // not an address: the caller reports the flag and value
  }
  const max = bytes.length * 8;
  const length = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (!(length >= 0 && length <= max)) return undefined;
  const masked = bytes.map((b, i) => {
    const bits = Math.max(0, Math.min(8, length - 8 * i));
    return b & ((0xff << (8 - bits)) & 0xff);
  });
  return { family: bytes.length === 4 ? 4 : 6, bytes: masked, length, text: `${addr}/${length}` };
}

function port(field: string, raw: string | undefined, problems: ConfigProblem[]): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) {
    problems.push({ field, value: raw, expected: 'a port number 0-65535' });
    return undefined;
  }
  return Number(raw);
}

/** Validates raw flag values into a FlowFilter; ConfigError lists every problem. */
export function parseFilter(raw: RawFilter): FlowFilter {
  const problems: ConfigProblem[] = [];
  const prefix = (field: string, text: string | undefined): Prefix | undefined => {
    if (text === undefined) return undefined;
    const p = parsePrefix(text);
    if (!p) problems.push({ field, value: text, expected: 'an IPv4 or IPv6 address or prefix (192.0.2.1, 2001:db8::/32)' });
    return p;
  };
  const src = prefix('--src', raw.src);
  const dst = prefix('--dst', raw.dst);
  let family: Family | undefined;
  if (raw.family !== undefined) {
    if (raw.family === '4' || raw.family === '6') family = Number(raw.family) as Family;
    else problems.push({ field: '--family', value: raw.family, expected: '4 or 6' });
  }
  let proto: number | undefined;
  if (raw.proto !== undefined) {
    const p = PROTOCOLS[raw.proto.toLowerCase() as ProtocolName];
    if (p === undefined) problems.push({ field: '--proto', value: raw.proto, expected: 'one of tcp, udp, icmp, icmpv6' });
    else proto = p;
  }
  const sport = port('--sport', raw.sport, problems);
  const dport = port('--dport', raw.dport, problems);
  const anyPort = port('--port', raw.port, problems);
  // families must agree: the kernel side tests one family per packet
  const families = new Set<Family>();
  if (family) families.add(family);
  if (src) families.add(src.family);
  if (dst) families.add(dst.family);
  if (proto === PROTOCOLS.icmp) families.add(4);
  if (proto === PROTOCOLS.icmpv6) families.add(6);
  if (families.size > 1) {
    problems.push({ field: '--family', value: [...families].join(' and '), expected: 'addresses, --family and --proto icmp/icmpv6 of one family' });
  }
  if ((sport !== undefined || dport !== undefined || anyPort !== undefined) && (proto === PROTOCOLS.icmp || proto === PROTOCOLS.icmpv6)) {
    problems.push({ field: '--proto', value: raw.proto, expected: 'tcp or udp (or none) when a port is given' });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const f: { -readonly [K in keyof FlowFilter]: FlowFilter[K] } = { inner: raw.inner === true };
  const fam = families.size === 1 ? [...families][0] : undefined;
  if (fam !== undefined) f.family = fam;
  if (src) f.src = src;
  if (dst) f.dst = dst;
  if (proto !== undefined) f.proto = proto;
  if (sport !== undefined) f.sport = sport;
  if (dport !== undefined) f.dport = dport;
  if (anyPort !== undefined) f.port = anyPort;
  return f;
}

export function filterNeedsPorts(f: FlowFilter): boolean {
  return f.sport !== undefined || f.dport !== undefined || f.port !== undefined;
}

/** The filter as text, for the header line ("src 192.0.2.1/32 proto udp dport 9"). */
export function describeFilter(f: FlowFilter): string {
  const parts: string[] = [];
  if (f.family) parts.push(`family ${f.family}`);
  if (f.src) parts.push(`src ${f.src.text}`);
  if (f.dst) parts.push(`dst ${f.dst.text}`);
  if (f.proto !== undefined) parts.push(`proto ${Object.entries(PROTOCOLS).find(([, v]) => v === f.proto)?.[0] ?? f.proto}`);
  if (f.sport !== undefined) parts.push(`sport ${f.sport}`);
  if (f.dport !== undefined) parts.push(`dport ${f.dport}`);
  if (f.port !== undefined) parts.push(`port ${f.port}`);
  if (f.inner) parts.push('inner');
  return parts.length ? parts.join(' ') : 'every packet';
}
