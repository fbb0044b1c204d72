/**
 * The plan as people read it: one iproute2 command per change, so an
 * operator can compare `--dry-run` with `ip rule` / `ip route` output (or
 * paste a line). Used by `--dry-run`, the per-change log lines and the
 * reports of `--once` and `--clean`.
 *
 *   ip -4 route replace default table 20 proto 112 nexthop via 192.0.2.1 weight 100 nexthop via 192.0.2.2 weight 100
 *   ip -4 rule add priority 19 lookup main suppress_prefixlength 0 proto 112
 *   ip -4 rule add priority 20 from 198.51.100.7/32 lookup 20 proto 112
 *   ip -6 rule del priority 20 from 2001:db8:1::/64 lookup 20 proto 112
 */
import { DEFAULT_METRIC, FR_ACT, RT_SCOPE, RT_TABLE, RTN, type Family, type KernelRoute, type KernelRule, type RouteSpec, type RuleSpec } from './objects.js';
import type { Plan } from './plan.js';

const TABLE_NAMES: Readonly<Record<number, string>> = { [RT_TABLE.MAIN]: 'main', [RT_TABLE.LOCAL]: 'local', [RT_TABLE.DEFAULT]: 'default' };

function fam(f: Family): string {
  return f === 2 ? '-4' : '-6';
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

/** The selectors and action of a rule, as `ip rule` takes them. */
export function ruleText(r: RuleSpec | KernelRule): string {
  const k = r as KernelRule;
  const parts = [`priority ${r.priority}`];
  if (k.invert) parts.push('not');
  if (r.src !== undefined && !r.src.endsWith('/0')) parts.push(`from ${r.src}`);
  if (k.dst !== undefined && !k.dst.endsWith('/0')) parts.push(`to ${k.dst}`);
  if (k.tos) parts.push(`tos ${k.tos}`);
  if (r.fwmark !== undefined || r.fwmask !== undefined) {
    const mask = r.fwmask ?? 0xffff_ffff;
    parts.push(mask === 0xffff_ffff ? `fwmark ${hex(r.fwmark ?? 0)}` : `fwmark ${hex(r.fwmark ?? 0)}/${hex(mask)}`);
  }
  if (k.iifname) parts.push(`iif ${k.iifname}`);
  if (k.oifname) parts.push(`oif ${k.oifname}`);
  if (k.other) parts.push(...k.other);
  if (k.action === undefined || k.action === FR_ACT.TO_TBL) parts.push(`lookup ${TABLE_NAMES[r.table] ?? r.table}`);
  else parts.push(`action ${k.action}`);
  if (r.suppressPrefixlen !== undefined) parts.push(`suppress_prefixlength ${r.suppressPrefixlen}`);
  parts.push(`proto ${r.protocol}`);
  return parts.join(' ');
}

/** Interface names by index, so printed routes say `dev eth0` as `ip` does (optional). */
export type LinkNames = ReadonlyMap<number, string>;

function nexthopDevice(oif: number, names: LinkNames | undefined): string {
  const name = names?.get(oif);
  return name !== undefined ? `dev ${name}` : `oif ${oif}`;
}

/** A route, as `ip route` takes it. */
export function routeText(r: RouteSpec | KernelRoute, names?: LinkNames): string {
  const k = r as KernelRoute;
  const parts: string[] = [];
  if (k.type !== undefined && k.type !== RTN.UNICAST) parts.push(`type ${k.type}`);
  parts.push(r.dst === '0.0.0.0/0' || r.dst === '::/0' ? 'default' : r.dst);
  parts.push(`table ${TABLE_NAMES[r.table] ?? r.table}`);
  parts.push(`proto ${r.protocol}`);
  if (k.scope !== undefined && k.scope !== RT_SCOPE.UNIVERSE) parts.push(`scope ${k.scope}`);
  if (k.metric !== undefined && k.metric !== DEFAULT_METRIC[r.family]) parts.push(`metric ${k.metric}`);
  if (k.tos) parts.push(`tos ${k.tos}`);
  if (r.nexthops.length === 1) {
    const h = r.nexthops[0]!;
    if (h.gateway !== undefined) parts.push(`via ${h.gateway}`);
    if (h.oif !== undefined) parts.push(nexthopDevice(h.oif, names));
  } else {
    for (const h of r.nexthops) {
      parts.push('nexthop');
      if (h.gateway !== undefined) parts.push(`via ${h.gateway}`);
      if (h.oif !== undefined) parts.push(nexthopDevice(h.oif, names));
      parts.push(`weight ${h.weight}`);
    }
  }
  if (k.other) parts.push(...k.other);
  return parts.join(' ');
}

/** One command line per change, in application order, then the foreign objects and conflicts as comments. */
export function formatPlan(p: Plan, names?: LinkNames): string[] {
  const out: string[] = [];
  for (const r of p.replace) out.push(`ip ${fam(r.route.family)} route replace ${routeText(r.route, names)}${r.foreign ? '   # replaces a foreign route' : ''}`);
  for (const c of p.add) {
    out.push(c.kind === 'route' ? `ip ${fam(c.route.family)} route add ${routeText(c.route, names)}` : `ip ${fam(c.rule.family)} rule add ${ruleText(c.rule)}`);
  }
  for (const x of p.remove) {
    const tail = x.foreign ? '   # foreign (--remove-foreign)' : '';
    out.push(x.kind === 'route' ? `ip ${fam(x.route.family)} route del ${routeText(x.route, names)}${tail}` : `ip ${fam(x.rule.family)} rule del ${ruleText(x.rule)}${tail}`);
  }
  const removed = new Set(p.remove.filter((x) => x.foreign).map((x) => (x.kind === 'rule' ? x.rule : x.route)));
  for (const f of p.foreign) {
    const obj = f.kind === 'rule' ? f.rule : f.route;
    if (removed.has(obj) || p.replace.some((r) => r.previous === obj)) continue;
    out.push(f.kind === 'rule' ? `# foreign, kept: ip ${fam(f.rule.family)} rule ${ruleText(f.rule)}` : `# foreign, kept: ip ${fam(f.route.family)} route ${routeText(f.route, names)}`);
  }
  for (const c of p.conflicts) {
    out.push(`# blocked by a foreign route (--remove-foreign replaces it): ip ${fam(c.route.family)} route ${routeText(c.route, names)}   # held by: ${routeText(c.blocker, names)}`);
  }
  return out;
}

/** Counts for one summary line. */
export function planCounts(p: Plan): { add: number; replace: number; remove: number; foreign: number; conflicts: number; unchanged: number } {
  return { add: p.add.length, replace: p.replace.length, remove: p.remove.length, foreign: p.foreign.length, conflicts: p.conflicts.length, unchanged: p.unchanged };
}
