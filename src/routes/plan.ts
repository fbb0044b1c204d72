/**
 * The diff between the desired state and a fresh dump of the kernel's rules
 * and routes: the smallest batch that makes the kernel match, touching only
 * pathguard's own objects (protocol RTPROT_PATHGUARD, see objects.ts).
 *
 * Comparison is semantic, the way the kernel identifies objects:
 * - rules (net/core/fib_rules.c, rule_exists): family, priority, source
 *   prefix (canonical), table, fwmark/mask (a non-zero mark without a mask is
 *   mask 0xffffffff; mark 0 without mask is no mark match), suppress
 *   prefixlength (0xffffffff, as the kernel reports "unset", is unset); a
 *   rule with any selector pathguard never sets (dst, iif, oif, not, tos,
 *   other actions, anything in `other`) never equals a desired rule;
 * - routes are identified by family, table, destination and metric (the
 *   family default when absent: IPv4 0, IPv6 1024) and compared by type,
 *   scope and their nexthop set, order-independent, with weights; a route
 *   with one nexthop is stored by the kernel without RTA_MULTIPATH and so
 *   without a weight, so weights are compared only for multipath routes.
 *
 * A route whose nexthops differ is one `replace` (RTM_NEWROUTE with
 * NLM_F_REPLACE, atomic), never a delete and an add. Rules cannot be
 * replaced (the kernel has no NLM_F_REPLACE for rules), so a changed rule is
 * an add and a remove; apply `replace`, then `add`, then `remove` so new
 * paths exist before old ones go.
 *
 * Removals carry the whole kernel object: the shell must delete with every
 * attribute it has, protocol included (fib_nl_delrule and fib_table_delete
 * match on it), so that a foreign twin of one of ours is never the one
 * deleted.
 *
 * Foreign objects: rules and routes that point at pathguard's table without
 * carrying its protocol. They are reported in `foreign` and removed only
 * with `removeForeign`. A foreign route that occupies the slot of a desired
 * route blocks it (adding would fail with EEXIST, replacing would change a
 * foreign object): it is reported in `conflicts` unless removeForeign, in
 * which case the desired route replaces it.
 */
import { DEFAULT_METRIC, FR_ACT, RT_SCOPE, RTN, RTPROT_PATHGUARD, type Family, type KernelRoute, type KernelRule, type Nexthop, type RouteSpec, type RuleSpec } from './objects.js';
import { canonicalPrefix, parseAddress } from './prefix.js';
import type { RouteProblem } from './problem.js';

export interface Snapshot {
  /** Every rule of both families, pathguard's and foreign. */
  readonly rules: readonly KernelRule[];
  /** Every route the dump returned; only those in `table` or with pathguard's protocol matter. */
  readonly routes: readonly KernelRoute[];
}

export interface Desired {
  readonly rules: readonly RuleSpec[];
  readonly routes: readonly RouteSpec[];
}

export interface PlanOptions {
  readonly table: number;
  /** Defaults to RTPROT_PATHGUARD. */
  readonly protocol?: number;
  readonly removeForeign?: boolean;
}

export type Change = { readonly kind: 'rule'; readonly rule: RuleSpec } | { readonly kind: 'route'; readonly route: RouteSpec };
export type KernelObject = { readonly kind: 'rule'; readonly rule: KernelRule } | { readonly kind: 'route'; readonly route: KernelRoute };
export type Removal = KernelObject & { readonly foreign: boolean };

export interface Replacement {
  readonly route: RouteSpec;
  /** The route being replaced; foreign only with removeForeign. */
  readonly previous: KernelRoute;
  readonly foreign: boolean;
}

export interface Conflict {
  readonly route: RouteSpec;
  readonly blocker: KernelRoute;
}

export interface Plan {
  /** In application order: routes, then companion rules, then pool rules. */
  readonly add: readonly Change[];
  readonly replace: readonly Replacement[];
  /** In application order: pool rules, then other rules, then routes. */
  readonly remove: readonly Removal[];
  /** Foreign objects pointing at the table (removed too only with removeForeign). */
  readonly foreign: readonly KernelObject[];
  readonly conflicts: readonly Conflict[];
  /** Desired objects already in place. */
  readonly unchanged: number;
}

/** Memoised canonical text of prefixes and addresses; one per plan() call. */
class Canon {
  private readonly prefixes = new Map<string, string>();
  private readonly addresses = new Map<string, string>();
  prefix(s: string | undefined): string {
    if (s === undefined) return '';
    // canonical IPv4 text comes back as is without allocating: cheaper than a memo lookup
    const fast = canonicalPrefix(s, true);
    if (fast !== undefined) return fast.endsWith('/0') ? '' : fast;
    let v = this.prefixes.get(s);
    if (v === undefined) {
      const c = canonicalPrefix(s);
      // the default prefix is "no prefix" (from all / to all); unparsable text is kept verbatim so it never matches a desired one
      v = c === undefined ? `?${s}` : c.endsWith('/0') ? '' : c;
      this.prefixes.set(s, v);
    }
    return v;
  }
  /** Like prefix() but keeps /0: a route's destination is never absent. */
  dst(s: string): string {
    const v = this.prefix(s);
    return v === '' ? `default` : v;
  }
  address(s: string | undefined): string {
    if (s === undefined) return '';
    let v = this.addresses.get(s);
    if (v === undefined) {
      v = parseAddress(s)?.text ?? `?${s}`;
      this.addresses.set(s, v);
    }
    return v;
  }
}

const U32_MAX = 0xffff_ffff;

/** The kernel's mark mask: a non-zero mark without mask is mask 0xffffffff; mark 0 without mask is no match. */
function maskOf(r: RuleSpec, mark: number): number {
  return r.fwmask === undefined ? (mark !== 0 ? U32_MAX : 0) : r.fwmask >>> 0;
}

/** suppress_prefixlength, -1 when unset (absent, or the kernel's 0xffffffff). */
function suppressOf(r: RuleSpec): number {
  const v = r.suppressPrefixlen;
  return v === undefined || v < 0 || v >= U32_MAX ? -1 : v;
}

/** Selectors pathguard never sets, as one string ('' for none, the common case). */
function extrasOf(r: RuleSpec | KernelRule, canon: Canon): string {
  const k = r as KernelRule;
  if (k.dst === undefined && !k.iifname && !k.oifname && !k.invert && (k.action === undefined || k.action === FR_ACT.TO_TBL) && !k.tos && (!k.other || k.other.length === 0)) return '';
  const extra: string[] = [];
  if (k.dst !== undefined && canon.prefix(k.dst) !== '') extra.push(`dst=${canon.prefix(k.dst)}`);
  if (k.iifname) extra.push(`iif=${k.iifname}`);
  if (k.oifname) extra.push(`oif=${k.oifname}`);
  if (k.invert) extra.push('not');
  if (k.action !== undefined && k.action !== FR_ACT.TO_TBL) extra.push(`action=${k.action}`);
  if (k.tos) extra.push(`tos=${k.tos}`);
  if (k.other) extra.push(...k.other);
  return extra.join(',');
}

/**
 * Desired rules indexed by identity: (family, priority, table, mark, mask,
 * suppress, extra selectors) → source prefix → index into the desired list.
 * Consecutive rules almost always share everything but the source (a dump
 * lists rules by priority, desired rules come grouped), so the head is
 * compared field by field against the previous rule's and only the source
 * is hashed: one string key per rule built and hashed cost more than the
 * rest of a no-op plan at 10,000 pools.
 */
class RuleIndex {
  private readonly heads = new Map<string, Map<string, number>>();
  private last: { family: number; priority: number; table: number; mark: number; mask: number; suppress: number; extras: string } | undefined;
  private lastMap: Map<string, number> | undefined;

  constructor(private readonly canon: Canon) {}

  /** The source map for r's head; created when `create`. */
  private bucket(r: RuleSpec, kernel: boolean, create: boolean): Map<string, number> | undefined {
    const family = r.family;
    const priority = r.priority >>> 0;
    const table = r.table >>> 0;
    const mark = (r.fwmark ?? 0) >>> 0;
    const mask = maskOf(r, mark);
    const suppress = suppressOf(r);
    const extras = kernel ? extrasOf(r, this.canon) : '';
    const l = this.last;
    if (l && l.family === family && l.priority === priority && l.table === table && l.mark === mark && l.mask === mask && l.suppress === suppress && l.extras === extras) {
      if (this.lastMap || !create) return this.lastMap;
    }
    const key = `${family}|${priority}|${table}|${mark}|${mask}|${suppress}|${extras}`;
    let m = this.heads.get(key);
    if (!m && create) {
      m = new Map();
      this.heads.set(key, m);
    }
    this.last = { family, priority, table, mark, mask, suppress, extras };
    this.lastMap = m;
    return m;
  }

  /** Index desired rule number `i`; false when an identical one is already indexed. */
  add(r: RuleSpec, i: number): boolean {
    const m = this.bucket(r, false, true) as Map<string, number>;
    const src = this.canon.prefix(r.src);
    if (m.has(src)) return false;
    m.set(src, i);
    return true;
  }

  /** The index of the desired rule equal to r, or -1. */
  find(r: KernelRule): number {
    return this.bucket(r, true, false)?.get(this.canon.prefix(r.src)) ?? -1;
  }
}

function routeKey(r: RouteSpec | KernelRoute, canon: Canon): string {
  const k = r as KernelRoute;
  const metric = k.metric ?? DEFAULT_METRIC[r.family as Family] ?? 0;
  return `${r.family}|${r.table >>> 0}|${canon.dst(r.dst)}|${metric}|${k.tos ?? 0}`;
}

function nexthopsEqual(want: readonly Nexthop[], have: readonly Nexthop[], canon: Canon): boolean {
  if (want.length !== have.length || want.length === 0) return false;
  const single = want.length === 1;
  const byGw = new Map<string, Nexthop>();
  for (const h of have) {
    if (h.gateway === undefined) return false;
    byGw.set(canon.address(h.gateway), h);
  }
  if (byGw.size !== have.length) return false;
  for (const w of want) {
    const h = byGw.get(canon.address(w.gateway));
    if (!h) return false;
    if (!single && h.weight !== w.weight) return false;
    if (w.oif !== undefined && h.oif !== w.oif) return false;
  }
  return true;
}

function routeEqual(want: RouteSpec, have: KernelRoute, canon: Canon): boolean {
  if ((have.type ?? RTN.UNICAST) !== RTN.UNICAST) return false;
  if ((have.scope ?? RT_SCOPE.UNIVERSE) !== RT_SCOPE.UNIVERSE) return false;
  if (have.other && have.other.length > 0) return false;
  return nexthopsEqual(want.nexthops, have.nexthops, canon);
}

/** Companion rules (suppress_prefixlength) go in before pool rules and out after them. */
function isCompanion(r: RuleSpec): boolean {
  return suppressOf(r) >= 0;
}

export function plan(desired: Desired, actual: Snapshot, options: PlanOptions): Plan {
  const protocol = options.protocol ?? RTPROT_PATHGUARD;
  const removeForeign = options.removeForeign ?? false;
  const canon = new Canon();
  const foreign: KernelObject[] = [];
  const removeRules: (Removal & { readonly kind: 'rule' })[] = [];
  let unchanged = 0;

  // ---- rules: a rule of ours in the kernel takes the first free desired rule equal to it, or goes.
  // state per desired rule: 0 a duplicate of an earlier one, 1 missing, 2 present
  const state = new Uint8Array(desired.rules.length);
  const wantRules = new RuleIndex(canon);
  desired.rules.forEach((r, i) => {
    if (wantRules.add(r, i)) state[i] = 1;
  });
  for (const r of actual.rules) {
    if (r.protocol === protocol) {
      const i = wantRules.find(r);
      if (i >= 0 && state[i] === 1) {
        state[i] = 2;
        unchanged++;
      } else removeRules.push({ kind: 'rule', rule: r, foreign: false });
    } else if ((r.table >>> 0) === (options.table >>> 0) && (r.action ?? FR_ACT.TO_TBL) === FR_ACT.TO_TBL) {
      foreign.push({ kind: 'rule', rule: r });
      if (removeForeign) removeRules.push({ kind: 'rule', rule: r, foreign: true });
    }
  }
  const addRules: RuleSpec[] = [];
  desired.rules.forEach((r, i) => {
    if (state[i] === 1) addRules.push(r);
  });

  // ---- routes
  const wantRoutes = new Map<string, RouteSpec>();
  for (const r of desired.routes) {
    const k = routeKey(r, canon);
    if (!wantRoutes.has(k)) wantRoutes.set(k, r);
  }
  const replace: Replacement[] = [];
  const conflicts: Conflict[] = [];
  const settled = new Set<string>();
  const removeRoutes: Removal[] = [];
  for (const r of actual.routes) {
    if (r.protocol !== protocol) continue;
    const k = routeKey(r, canon);
    const want = wantRoutes.get(k);
    if (want && !settled.has(k)) {
      settled.add(k);
      if (routeEqual(want, r, canon)) unchanged++;
      else replace.push({ route: want, previous: r, foreign: false });
    } else removeRoutes.push({ kind: 'route', route: r, foreign: false });
  }
  for (const r of actual.routes) {
    if (r.protocol === protocol || (r.table >>> 0) !== (options.table >>> 0)) continue;
    foreign.push({ kind: 'route', route: r });
    const k = routeKey(r, canon);
    const want = wantRoutes.get(k);
    if (want && !settled.has(k)) {
      settled.add(k);
      if (removeForeign) replace.push({ route: want, previous: r, foreign: true });
      else conflicts.push({ route: want, blocker: r });
    } else if (removeForeign) removeRoutes.push({ kind: 'route', route: r, foreign: true });
  }
  const addRoutes: RouteSpec[] = [];
  for (const [k, r] of wantRoutes) if (!settled.has(k)) addRoutes.push(r);

  const add: Change[] = [
    ...addRoutes.map((route) => ({ kind: 'route', route }) as const),
    ...addRules.filter(isCompanion).map((rule) => ({ kind: 'rule', rule }) as const),
    ...addRules.filter((r) => !isCompanion(r)).map((rule) => ({ kind: 'rule', rule }) as const),
  ];
  const remove: Removal[] = [
    ...removeRules.filter((x) => !isCompanion(x.rule)),
    ...removeRules.filter((x) => isCompanion(x.rule)),
    ...removeRoutes,
  ];
  return { add, replace, remove, foreign, conflicts, unchanged };
}

/** Nothing to do. */
export function isNoop(p: Plan): boolean {
  return p.add.length === 0 && p.replace.length === 0 && p.remove.length === 0;
}

export type Verdict =
  | { readonly hold: false }
  | { readonly hold: true; readonly reason: 'source-failed' | 'empty-by-error'; readonly problems: readonly RouteProblem[] };

/**
 * Fail static: whether a desired state must NOT be applied, so the kernel
 * keeps the last good state. Hold when
 * - the source failed (any fatal problem: unparsable, a missing key, a list
 *   not read) — its emptiness or partiality means nothing;
 * - the state has no rules and there were errors — the emptiness comes from
 *   broken items, not from the operator; applying it would remove every rule.
 * An empty state with no errors is empty on purpose (no BGP pools, the node
 * opted out, no peer selects this node) and is applied.
 */
export function holdVerdict(desired: { readonly rules: readonly RuleSpec[]; readonly problems: readonly RouteProblem[]; readonly disabled?: boolean }): Verdict {
  if (desired.disabled) return { hold: false };
  const fatal = desired.problems.filter((p) => p.severity === 'fatal');
  if (fatal.length > 0) return { hold: true, reason: 'source-failed', problems: fatal };
  if (desired.rules.length === 0) {
    const errors = desired.problems.filter((p) => p.severity === 'error');
    if (errors.length > 0) return { hold: true, reason: 'empty-by-error', problems: errors };
  }
  return { hold: false };
}
