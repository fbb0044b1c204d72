/**
 * What an LVS-IPIP realserver needs, as data, from the configuration and the
 * VIP file's text (pure; the shell reads the file). Modelled on Wikimedia's
 * profile::lvs::realserver::ipip:
 *
 * - decapsulation devices in external (collect-metadata) mode, one per family
 *   that has VIPs: `ipip0` (kind ipip, net/ipv4/ipip.c) for IPv4 VIPs and
 *   `ipip60` (kind ip6tnl, net/ipv6/ip6_tunnel.c) for IPv6 ones; in external
 *   mode one device takes tunnelled packets from any director;
 * - every VIP on `lo` as /32 or /128, so the kernel delivers the inner packet
 *   locally and answers from the VIP directly to the client (direct return);
 * - ARP: `net.ipv4.conf.all.arp_ignore` at least 1 (answer only for addresses
 *   on the interface the request came in on, so never for the VIPs on lo) and
 *   `arp_announce` 2 (never use a VIP as the source of our own requests);
 *   the kernel uses max(all, iface) for both (IN_DEV_ARP_IGNORE,
 *   IN_DEV_ARP_ANNOUNCE in include/linux/inetdevice.h), so `all` decides;
 * - IPv4 reverse-path filtering: the decapsulated packet comes from a client
 *   whose route points at the uplink, not at ipip0, so a strict check drops
 *   it. The kernel uses max(all, iface) (IN_DEV_RPFILTER), so
 *   `conf/ipip0/rp_filter` goes to 0 and `conf/all/rp_filter` must be 0 or 2;
 *   at 1 pathguard lowers it to 2 only with --rp-filter-all;
 * - the nftables table (../firewall/realserver-ruleset.ts): accept protocol 4
 *   from the IPv4 LVS sources and 41 from the IPv6 ones, and the MSS clamp.
 */
import { realserverRuleset, realserverTable, wantsTable, type RealserverRulesetOptions } from '../firewall/realserver-ruleset.js';
import { parseAddress, formatAddress } from '../wire/ip-address.js';
import { DecodeError } from '../errors.js';
import type { RealserverConfig } from './config.js';
import { mssProblem } from './config.js';
import type { TunnelKind } from '../wire/rtnl-link.js';

export type Family = 4 | 6;

/**
 * Marks: the address protocol (IFA_PROTO, Linux >= 6.1) pathguard puts on the
 * VIPs it adds, the same number its routes carry (112, see
 * src/routes/objects.ts), and the alias (IFLA_IFALIAS) of the devices it creates.
 */
export const IFAPROT_PATHGUARD = 112;
export const DEVICE_ALIAS = 'pathguard realserver';

export interface DeviceSpec {
  readonly name: string;
  readonly kind: TunnelKind;
  readonly family: Family;
}

export interface VipSpec {
  readonly family: Family;
  /** Canonical text (RFC 5952 for IPv6). */
  readonly address: string;
  readonly prefixlen: 32 | 128;
}

/**
 * A sysctl the set-up needs:
 * - exact: must be `want`;
 * - at-least: anything >= want is fine, lower becomes want;
 * - loose: 0 or 2 is fine; 1 (strict) becomes `want` (2), only when `mayChange`.
 */
export interface SysctlSpec {
  /** Dotted name as sysctl(8) takes it: net.ipv4.conf.all.rp_filter. */
  readonly key: string;
  readonly mode: 'exact' | 'at-least' | 'loose';
  readonly want: number;
  readonly why: string;
  /** The key exists only once this device does. */
  readonly device?: string;
  /** false: report instead of changing (rp_filter on all without --rp-filter-all). */
  readonly mayChange: boolean;
}

export type ProblemCode =
  | 'vips-file' // the VIP file could not be read or has a bad line
  | 'mss-range' // --mss does not fit a family's VIPs
  | 'rp-filter-strict' // conf/all/rp_filter is 1 and pathguard may not lower it
  | 'foreign-device' // a device of that name exists and is not a usable decapsulation device
  | 'no-loopback' // lo not found
  | 'nft-unavailable' // nft missing or not permitted
  | 'kernel-unsupported' // the kernel has no ipip / ip6_tunnel
  | 'sysctl-missing' // a sysctl that should exist does not
  | 'changed-since'; // --clean: a sysctl was changed by someone else after pathguard set it

export interface Problem {
  readonly severity: 'fatal' | 'error' | 'notice';
  readonly code: ProblemCode;
  readonly message: string;
}

export interface Desired {
  readonly devices: readonly DeviceSpec[];
  readonly vips: readonly VipSpec[];
  readonly sysctls: readonly SysctlSpec[];
  /** The nftables table; absent when nothing needs one. */
  readonly nft?: { readonly table: string; readonly ruleset: string };
  readonly problems: readonly Problem[];
}

/**
 * The VIP file: addresses separated by newlines, commas or blanks; `#` starts
 * a comment. Bad entries are problems naming the line; good ones are kept.
 */
export function parseVipsText(text: string, origin: string): { vips: string[]; problems: Problem[] } {
  const vips: string[] = [];
  const problems: Problem[] = [];
  text.split('\n').forEach((line, i) => {
    for (const word of line.replace(/#.*$/, '').split(/[\s,]+/)) {
      if (word === '') continue;
      try {
        vips.push(formatAddress(parseAddress(word)));
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        problems.push({ severity: 'error', code: 'vips-file', message: `${origin}:${i + 1}: ${JSON.stringify(word)} is not an IPv4 or IPv6 address; skipped` });
      }
    }
  });
  return { vips, problems };
}

const familyOf = (a: string): Family => (a.includes(':') ? 6 : 4);

/** The whole desired state. `fileVips` are the file's addresses (already parsed), `fileProblems` its problems. */
export function desiredState(cfg: RealserverConfig, fileVips: readonly string[] = [], fileProblems: readonly Problem[] = []): Desired {
  const problems: Problem[] = [...fileProblems];
  const all = [...new Set([...cfg.vips, ...fileVips])];
  const v4 = all.filter((a) => familyOf(a) === 4);
  const v6 = all.filter((a) => familyOf(a) === 6);
  const vips: VipSpec[] = [...v4.map((address) => ({ family: 4 as const, address, prefixlen: 32 as const })), ...v6.map((address) => ({ family: 6 as const, address, prefixlen: 128 as const }))];

  const devices: DeviceSpec[] = [];
  const sysctls: SysctlSpec[] = [];
  if (v4.length > 0) {
    devices.push({ name: cfg.ipipDevice, kind: 'ipip', family: 4 });
    sysctls.push(
      { key: 'net.ipv4.conf.all.arp_ignore', mode: 'at-least', want: 1, why: 'do not answer ARP for the VIPs on lo', mayChange: true },
      { key: 'net.ipv4.conf.all.arp_announce', mode: 'at-least', want: 2, why: 'never announce a VIP as an ARP source', mayChange: true },
      { key: `net.ipv4.conf.${cfg.ipipDevice}.rp_filter`, mode: 'exact', want: 0, why: 'let decapsulated packets from any client in', device: cfg.ipipDevice, mayChange: true },
      { key: 'net.ipv4.conf.all.rp_filter', mode: 'loose', want: 2, why: 'the kernel uses max(all, iface): strict on all drops decapsulated packets', mayChange: cfg.rpFilterAll },
    );
  }
  if (v6.length > 0) devices.push({ name: cfg.ip6tnlDevice, kind: 'ip6tnl', family: 6 });

  let mssV4: number | undefined = v4.length > 0 ? cfg.mss : undefined;
  let mssV6: number | undefined = v6.length > 0 ? cfg.mss : undefined;
  for (const [family, on] of [[4, mssV4], [6, mssV6]] as const) {
    const p = on !== undefined ? mssProblem(cfg.mss, family) : undefined;
    if (p) {
      problems.push({ severity: 'error', code: 'mss-range', message: `--mss ${cfg.mss} does not fit IPv${family} VIPs (expected ${p}); their SYN-ACKs are not clamped` });
      if (family === 4) mssV4 = undefined;
      else mssV6 = undefined;
    }
  }
  const lvsV4 = cfg.lvsSources.filter((s) => !s.includes(':')).map(hostless);
  const lvsV6 = cfg.lvsSources.filter((s) => s.includes(':')).map(hostless);
  const opts: RealserverRulesetOptions = {
    lvsV4,
    lvsV6,
    vipsV4: v4,
    vipsV6: v6,
    ...(cfg.ports !== undefined ? { ports: cfg.ports } : {}),
    ...(mssV4 !== undefined ? { mssV4 } : {}),
    ...(mssV6 !== undefined ? { mssV6 } : {}),
  };
  const out: { -readonly [K in keyof Desired]: Desired[K] } = { devices, vips, sysctls, problems };
  if (wantsTable(opts)) out.nft = { table: realserverTable(opts), ruleset: realserverRuleset(opts) };
  return out;
}

/** `192.0.2.9/32` → `192.0.2.9`: nft lists host prefixes as plain addresses. */
function hostless(prefix: string): string {
  return prefix.replace(/\/(32|128)$/, (m, len: string) => ((len === '32') === !prefix.includes(':') ? '' : m));
}
