/**
 * plan(desired, actual) → changes, and planClean(actual) → changes: pure.
 *
 * What counts as pathguard's (and so may be changed or removed):
 * - devices whose alias (IFLA_IFALIAS) is DEVICE_ALIAS;
 * - addresses on lo whose protocol (IFA_PROTO) is IFAPROT_PATHGUARD;
 * - the nftables table `inet pathguard_realserver`;
 * - sysctls recorded in the state file with the value they had before
 *   pathguard set them (--clean puts that value back, unless someone changed
 *   the sysctl again since).
 *
 * A device of the wanted name that someone else made is used as it is when it
 * is a catch-all tunnel of the right kind (external, no remote); otherwise it
 * is a conflict, reported and left alone. A VIP already on lo without
 * pathguard's protocol is used as it is and never removed.
 *
 * The nftables table is compared as nft lists it: after applying, the shell
 * records the table text it applied and nft's listing of it (counter values
 * taken out); the table is unchanged when the desired text is the recorded
 * one and the listing still matches. Anything else (no record, a rule edited
 * or deleted by hand, another table text) re-applies the whole table in one
 * transaction.
 *
 * Order of the changes: devices first (a kernel without the tunnel module
 * refuses them, and without --partial nothing else may happen), then VIPs,
 * sysctls (the device's rp_filter after the device), the table, removals.
 */
import { DEVICE_ALIAS, IFAPROT_PATHGUARD, type DeviceSpec, type Desired, type Family, type Problem, type SysctlSpec, type VipSpec } from './desired.js';
import { normaliseListing } from '../firewall/realserver-ruleset.js';

export interface KernelDevice {
  readonly name: string;
  readonly index: number;
  /** IFLA_INFO_KIND. */
  readonly kind?: string;
  /** IFLA_IPTUN_COLLECT_METADATA. */
  readonly external: boolean;
  /** A fixed remote endpoint (a point-to-point tunnel). */
  readonly remote: boolean;
  readonly alias?: string;
  readonly up: boolean;
}

export interface KernelVip {
  readonly family: Family;
  readonly address: string;
  readonly prefixlen: number;
  readonly index: number;
  /** IFA_PROTO. */
  readonly protocol?: number;
}

/** What pathguard recorded about its own changes (the state file). */
export interface RecordedState {
  /** Per sysctl: the value before pathguard's first write, and what pathguard wrote last. */
  readonly sysctls: Readonly<Record<string, { readonly original: number; readonly set: number }>>;
  /**
   * The table text pathguard applied last and nft's normalised listing of it;
   * `generation` names the nf_tables ruleset generation that listing was read
   * in (boot, namespace and NFTA_GEN_ID), so an unchanged generation needs no
   * new listing.
   */
  readonly nft?: { readonly table: string; readonly listing: string; readonly generation?: string };
}

export const EMPTY_STATE: RecordedState = Object.freeze({ sysctls: Object.freeze({}) });

export type NftState = { readonly available: true; readonly listing?: string } | { readonly available: false; readonly reason: string };

export interface Snapshot {
  readonly loIndex?: number;
  /** Every device by name. */
  readonly devices: ReadonlyMap<string, KernelDevice>;
  /** Addresses on lo. */
  readonly addresses: readonly KernelVip[];
  /** The sysctls asked for; undefined when the key does not exist. */
  readonly sysctls: ReadonlyMap<string, number | undefined>;
  readonly nft: NftState;
  readonly state: RecordedState;
  /** The ruleset generation read before `nft` (absent when it cannot be read). */
  readonly nftGeneration?: string;
}

export type Change =
  | { readonly kind: 'device-add'; readonly device: DeviceSpec }
  | { readonly kind: 'device-up'; readonly device: DeviceSpec; readonly index: number }
  | { readonly kind: 'device-del'; readonly name: string; readonly index: number }
  | { readonly kind: 'vip-add'; readonly vip: VipSpec; readonly index: number }
  | { readonly kind: 'vip-del'; readonly vip: KernelVip }
  | { readonly kind: 'sysctl'; readonly key: string; readonly from?: number; readonly to: number; readonly why: string; readonly device?: string }
  | { readonly kind: 'sysctl-restore'; readonly key: string; readonly from: number; readonly to: number }
  | { readonly kind: 'nft-apply'; readonly table: string; readonly ruleset: string; readonly reason: string }
  | { readonly kind: 'nft-remove' };

export interface Plan {
  readonly changes: readonly Change[];
  /** Desired objects already in place. */
  readonly unchanged: number;
  readonly problems: readonly Problem[];
}

/** A device someone else made that does the job: the right kind, external, no fixed remote. */
function usable(d: KernelDevice, want: DeviceSpec): boolean {
  return d.kind === want.kind && d.external && !d.remote;
}

/** The value a sysctl spec wants given the current one, or undefined when the current one is fine. */
export function sysctlTarget(spec: SysctlSpec, current: number | undefined): number | undefined {
  if (current === undefined) return spec.want;
  switch (spec.mode) {
    case 'exact':
      return current === spec.want ? undefined : spec.want;
    case 'at-least':
      return current >= spec.want ? undefined : spec.want;
    case 'loose':
      return current === 1 ? spec.want : undefined;
  }
}

export function plan(desired: Desired, actual: Snapshot): Plan {
  const problems: Problem[] = [...desired.problems];
  const devices: Change[] = [];
  const vips: Change[] = [];
  const sysctls: Change[] = [];
  const nft: Change[] = [];
  const removals: Change[] = [];
  let unchanged = 0;

  // ---- devices
  const created = new Set<string>();
  const blocked = new Set<string>();
  for (const want of desired.devices) {
    const have = actual.devices.get(want.name);
    if (have === undefined) {
      devices.push({ kind: 'device-add', device: want });
      created.add(want.name);
    } else if (!usable(have, want)) {
      blocked.add(want.name);
      const what = have.kind === undefined ? 'a device without a kind' : `a ${have.kind} device${have.kind === want.kind ? (have.remote ? ' with a fixed remote' : ' not in external mode') : ''}`;
      problems.push({ severity: 'error', code: 'foreign-device', message: `${want.name} exists and is ${what}; pathguard needs a ${want.kind} device in external mode there (remove it, or name another with --${want.kind === 'ipip' ? 'ipip' : 'ip6tnl'}-device)` });
    } else if (!have.up && have.alias === DEVICE_ALIAS) {
      devices.push({ kind: 'device-up', device: want, index: have.index });
    } else {
      unchanged++;
      if (!have.up) problems.push({ severity: 'notice', code: 'foreign-device', message: `${want.name} (not pathguard's) is down; decapsulated packets are dropped until it is up` });
    }
  }
  const wantedNames = new Set(desired.devices.map((d) => d.name));
  for (const d of actual.devices.values()) {
    if (d.alias === DEVICE_ALIAS && !wantedNames.has(d.name)) removals.push({ kind: 'device-del', name: d.name, index: d.index });
  }

  // ---- VIPs on lo
  if (actual.loIndex === undefined) {
    if (desired.vips.length > 0) problems.push({ severity: 'error', code: 'no-loopback', message: 'there is no lo device in this network namespace; the VIPs cannot be added' });
  } else {
    const have = new Map<string, KernelVip>(actual.addresses.map((a) => [`${a.family}|${a.address}|${a.prefixlen}`, a]));
    const wanted = new Set<string>();
    for (const v of desired.vips) {
      const k = `${v.family}|${v.address}|${v.prefixlen}`;
      wanted.add(k);
      if (have.has(k)) unchanged++;
      else vips.push({ kind: 'vip-add', vip: v, index: actual.loIndex });
    }
    for (const a of actual.addresses) {
      if (a.protocol === IFAPROT_PATHGUARD && !wanted.has(`${a.family}|${a.address}|${a.prefixlen}`)) removals.push({ kind: 'vip-del', vip: a });
    }
  }

  // ---- sysctls
  for (const s of desired.sysctls) {
    if (s.device !== undefined && blocked.has(s.device)) continue;
    const pending = s.device !== undefined && created.has(s.device);
    const current = pending ? undefined : actual.sysctls.get(s.key);
    if (!pending && current === undefined) {
      problems.push({ severity: 'error', code: 'sysctl-missing', message: `${s.key} does not exist on this kernel; cannot ${s.why}` });
      continue;
    }
    const to = sysctlTarget(s, current);
    if (to === undefined) {
      unchanged++;
      continue;
    }
    if (!s.mayChange) {
      problems.push({
        severity: 'error',
        code: 'rp-filter-strict',
        message: `${s.key} is 1 (strict): the kernel uses max(all, iface), so decapsulated packets, whose sources route out of the uplink, are dropped whatever ${s.key.replace('.all.', '.IFACE.')} says; set it to 2 (loose) or 0, or let pathguard set 2 with --rp-filter-all`,
      });
      continue;
    }
    const c: { -readonly [K in keyof Extract<Change, { kind: 'sysctl' }>]: Extract<Change, { kind: 'sysctl' }>[K] } = { kind: 'sysctl', key: s.key, to, why: s.why };
    if (current !== undefined) c.from = current;
    if (s.device !== undefined) c.device = s.device;
    sysctls.push(c);
  }

  // ---- nftables
  if (!actual.nft.available) {
    if (desired.nft) problems.push({ severity: 'error', code: 'nft-unavailable', message: `nftables: ${actual.nft.reason}; the IPIP accept and the MSS clamp are not applied` });
  } else if (desired.nft) {
    const rec = actual.state.nft;
    const listing = actual.nft.listing;
    let reason: string | undefined;
    if (listing === undefined) reason = 'the table is missing';
    else if (rec === undefined) reason = 'the table was not recorded as applied by this pathguard';
    else if (rec.table !== desired.nft.table) reason = 'the configuration changed';
    else if (normaliseListing(listing) !== rec.listing) reason = 'the table was changed outside pathguard';
    if (reason === undefined) unchanged++;
    else nft.push({ kind: 'nft-apply', table: desired.nft.table, ruleset: desired.nft.ruleset, reason });
  } else if (actual.nft.listing !== undefined) {
    removals.push({ kind: 'nft-remove' });
  }

  return { changes: [...devices, ...vips, ...sysctls, ...nft, ...removals], unchanged, problems };
}

/** Everything pathguard added, to be removed; sysctls go back to their recorded values. */
export function planClean(actual: Snapshot): Plan {
  const changes: Change[] = [];
  const problems: Problem[] = [];
  for (const a of actual.addresses) if (a.protocol === IFAPROT_PATHGUARD) changes.push({ kind: 'vip-del', vip: a });
  if (actual.nft.available && actual.nft.listing !== undefined) changes.push({ kind: 'nft-remove' });
  const deleted = new Set<string>();
  for (const d of actual.devices.values()) {
    if (d.alias === DEVICE_ALIAS) {
      changes.push({ kind: 'device-del', name: d.name, index: d.index });
      deleted.add(d.name);
    }
  }
  for (const [key, rec] of Object.entries(actual.state.sysctls)) {
    const current = actual.sysctls.get(key);
    if (current === undefined) continue; // its device is gone (or going): nothing to restore
    if ([...deleted].some((name) => key.includes(`.conf.${name}.`))) continue;
    if (current !== rec.set) {
      problems.push({ severity: 'notice', code: 'changed-since', message: `${key} is ${current}, not the ${rec.set} pathguard set; someone changed it since, so it is left as it is (it was ${rec.original} before pathguard)` });
      continue;
    }
    if (current !== rec.original) changes.push({ kind: 'sysctl-restore', key, from: current, to: rec.original });
  }
  return { changes, unchanged: 0, problems };
}
