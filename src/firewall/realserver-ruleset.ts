/**
 * The nftables table of the realserver component, `table inet
 * pathguard_realserver`, generated as one text ruleset for `nft -f` (one
 * nf_tables transaction, as the relay's table in ./ruleset.ts). It is a
 * table of its own so that the relay's clean-up (`delete table inet
 * pathguard`) never removes it, and the other way round. Pure: every value
 * that reaches the text is validated (addresses and prefixes re-formatted
 * from bytes by the caller, numbers range-checked here).
 *
 *   chain decap_accept   hook input, priority filter
 *     IPIP (protocol 4) from the IPv4 LVS directors, IPv6-in-IPv6 (next header
 *     41) from the IPv6 ones: accept, counted.
 *   chain mss_clamp      hook postrouting, priority srcnat + 10
 *     SYN-ACKs from a VIP (and one of the ports) whose MSS option is larger
 *     than the clamp get it lowered (never raised).
 *
 * Why postrouting after srcnat: a SYN-ACK from a pod behind the VIP
 * (kube-proxy DNAT) only gets the VIP as its source when conntrack reverses
 * the DNAT, in postrouting at NF_IP_PRI_NAT_SRC (100); at priority 110 the
 * rule sees the VIP for those and for local sockets alike.
 *
 * An `accept` is final only in its own base chain: nf_tables runs every base
 * chain registered on a hook, and a drop in another table (the host's
 * firewall) still drops the packet. The accept here is what a host that has
 * no other input filtering needs and a counter that shows the decapsulated
 * traffic arriving; a host firewall with a drop policy must allow the same
 * (the README says so).
 *
 * Re-applying replaces the whole table in one transaction (`table` to create
 * it if missing, `delete table`, then the definition), so packets see the old
 * table or the new one, never a gap.
 */
import { ConfigError } from '../errors.js';

/** The table pathguard's realserver set-up owns. */
export const REALSERVER_TABLE = { family: 'inet', name: 'pathguard_realserver' } as const;

export interface RealserverRulesetOptions {
  /** Canonical IPv4 addresses / prefixes (`192.0.2.0/28`, `192.0.2.9`). */
  readonly lvsV4: readonly string[];
  readonly lvsV6: readonly string[];
  readonly vipsV4: readonly string[];
  readonly vipsV6: readonly string[];
  /** Clamp only SYN-ACKs from these source ports; absent: every port. */
  readonly ports?: readonly number[];
  /** The MSS to clamp IPv4 SYN-ACKs to; absent: no IPv4 clamp. */
  readonly mssV4?: number;
  readonly mssV6?: number;
}

// What reaches the text: address and prefix characters only (the caller formats them from bytes).
const V4 = /^[0-9.]+(\/[0-9]{1,2})?$/;
const V6 = /^[0-9a-f:.]+(\/[0-9]{1,3})?$/;

function checked(items: readonly string[], re: RegExp, field: string): string[] {
  const bad = items.filter((s) => !re.test(s));
  if (bad.length > 0) throw new ConfigError(bad.map((value) => ({ field, value, expected: 'a canonical address or prefix' })));
  return [...items];
}

function mssChecked(mss: number | undefined, field: string): number | undefined {
  if (mss === undefined) return undefined;
  if (!Number.isInteger(mss) || mss < 1 || mss > 65_535) throw new ConfigError([{ field, value: mss, expected: 'an MSS in 1..65535' }]);
  return mss;
}

/** The port match, `tcp sport { 80, 443-444 }`, or '' for every port (ranges merged). */
function portMatch(ports: readonly number[] | undefined): string {
  if (ports === undefined || ports.length === 0) return '';
  for (const p of ports) if (!Number.isInteger(p) || p < 1 || p > 65_535) throw new ConfigError([{ field: 'ports', value: p, expected: 'a port in 1..65535' }]);
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  const parts: string[] = [];
  let lo = sorted[0]!;
  let hi = lo;
  for (const p of sorted.slice(1)) {
    if (p === hi + 1) hi = p;
    else {
      parts.push(lo === hi ? `${lo}` : `${lo}-${hi}`);
      lo = hi = p;
    }
  }
  parts.push(lo === hi ? `${lo}` : `${lo}-${hi}`);
  return `tcp sport { ${parts.join(', ')} } `;
}

/** Whether the options ask for any rule at all (no VIPs and no LVS sources: no table). */
export function wantsTable(o: RealserverRulesetOptions): boolean {
  return o.lvsV4.length + o.lvsV6.length + (o.mssV4 !== undefined ? o.vipsV4.length : 0) + (o.mssV6 !== undefined ? o.vipsV6.length : 0) > 0;
}

/** The table's definition (without the replace preamble): what `nft list table` shows, modulo nft's own spelling. */
export function realserverTable(o: RealserverRulesetOptions): string {
  const lvsV4 = checked(o.lvsV4, V4, 'lvs-sources');
  const lvsV6 = checked(o.lvsV6, V6, 'lvs-sources');
  const vipsV4 = checked(o.vipsV4, V4, 'vips');
  const vipsV6 = checked(o.vipsV6, V6, 'vips');
  const mss4 = mssChecked(o.mssV4, 'mss');
  const mss6 = mssChecked(o.mssV6, 'mss');
  const ports = portMatch(o.ports);
  const { family, name } = REALSERVER_TABLE;
  const L: string[] = [`table ${family} ${name} {`];
  L.push('\tcomment "pathguard realserver: LVS-IPIP decapsulation accept and MSS clamp"');
  const set = (setName: string, type: string, interval: boolean, elems: readonly string[]) => {
    if (elems.length === 0) return;
    L.push(`\tset ${setName} {`, `\t\ttype ${type}`);
    if (interval) L.push('\t\tflags interval');
    L.push(`\t\telements = { ${elems.join(', ')} }`, '\t}');
  };
  set('lvs_v4', 'ipv4_addr', true, lvsV4);
  set('lvs_v6', 'ipv6_addr', true, lvsV6);
  if (mss4 !== undefined) set('vip_v4', 'ipv4_addr', false, vipsV4);
  if (mss6 !== undefined) set('vip_v6', 'ipv6_addr', false, vipsV6);
  L.push('', '\tchain decap_accept {', '\t\ttype filter hook input priority filter; policy accept;');
  if (lvsV4.length > 0) L.push('\t\tmeta l4proto 4 ip saddr @lvs_v4 counter accept comment "IPIP from LVS"');
  if (lvsV6.length > 0) L.push('\t\tmeta l4proto 41 ip6 saddr @lvs_v6 counter accept comment "IPv6-in-IPv6 from LVS"');
  L.push('\t}', '', '\tchain mss_clamp {', '\t\ttype filter hook postrouting priority srcnat + 10; policy accept;');
  const clamp = (match: string, mss: number, comment: string) =>
    L.push(`\t\t${match} ${ports}tcp flags & (syn | ack) == (syn | ack) tcp option maxseg size > ${mss} counter tcp option maxseg size set ${mss} comment "${comment}"`);
  if (mss4 !== undefined && vipsV4.length > 0) clamp('ip saddr @vip_v4', mss4, 'MSS clamp IPv4');
  if (mss6 !== undefined && vipsV6.length > 0) clamp('ip6 saddr @vip_v6', mss6, 'MSS clamp IPv6');
  L.push('\t}', '}');
  return `${L.join('\n')}\n`;
}

/** The transaction that makes the table exactly `realserverTable(o)`. */
export function realserverRuleset(o: RealserverRulesetOptions): string {
  const { family, name } = REALSERVER_TABLE;
  return `table ${family} ${name}\ndelete table ${family} ${name}\n${realserverTable(o)}`;
}

/** Removes the table; valid whether or not it exists. */
export function removeRealserverRuleset(): string {
  const { family, name } = REALSERVER_TABLE;
  return `table ${family} ${name}\ndelete table ${family} ${name}\n`;
}

/**
 * `nft list table` output with what changes by itself taken out (counter
 * values, handles), so two listings of the same rules compare equal.
 */
export function normaliseListing(text: string): string {
  return text
    .split('\n')
    .map((l) => l.replace(/counter packets [0-9]+ bytes [0-9]+/g, 'counter').replace(/ # handle [0-9]+$/, '').trimEnd())
    .filter((l) => l !== '')
    .join('\n');
}
