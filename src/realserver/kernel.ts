/**
 * The realserver component's kernel side: read a Snapshot, apply a Plan.
 * Links and addresses over rtnetlink (never `ip`), sysctls through
 * /proc/sys (of the namespace this process runs in), nftables with one
 * `nft -f -` transaction, and the state file that records what pathguard
 * changed so --clean can undo exactly that.
 *
 * Applying, in order:
 * 1. device creations, each followed by `alias + up` in the same batch. A
 *    kernel without the module answers EOPNOTSUPP ("Unknown device type");
 *    then, unless `partial`, nothing else is applied.
 * 2. the other rtnetlink changes in one batch (one ACK each, a refusal never
 *    stops the rest). EEXIST on an address add and EADDRNOTAVAIL / ENODEV on a
 *    removal mean the kernel already is where the plan wanted it.
 * 3. sysctls: the current value is read again just before writing, and the
 *    first value pathguard ever replaced is recorded.
 * 4. the nftables table; after applying, nft's listing of it is recorded.
 * 5. the state file, when anything in it changed (written to a temporary
 *    file and renamed, so a crash leaves the old or the new one).
 */
import { mkdir, readFile, rename, stat, writeFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { NetlinkSocket, type NetlinkRequest, type NetlinkSubscription } from '../net/netlink-socket.js';
import { NETLINK } from '../wire/netlink.js';
import { decodeGen, getGenRequest, NFT_NEWGEN_TYPE } from '../wire/nftables-gen.js';
import { IFF, RTM, RTNLGRP, RTNL_FAMILY, type RtnlRequest } from '../wire/rtnetlink.js';
import { decodeLink, decodeTunnelData, delLink, dumpLinks, newTunnelLink, setLinkAliasUp, setLinkUp } from '../wire/rtnl-link.js';
import { addAddress, decodeAddress, delAddress, dumpAddresses } from '../wire/rtnl-address.js';
import { formatAddress, parseAddress } from '../wire/ip-address.js';
import { DecodeError, NetlinkError, PathguardError, SyscallError, UnsupportedError } from '../errors.js';
import { applyRuleset, listTable, NftError } from '../firewall/nft.js';
import { normaliseListing, REALSERVER_TABLE, removeRealserverRuleset } from '../firewall/realserver-ruleset.js';
import { DEVICE_ALIAS, IFAPROT_PATHGUARD } from './desired.js';
import { EMPTY_STATE, type Change, type KernelDevice, type KernelVip, type NftState, type Plan, type RecordedState, type Snapshot } from './plan.js';

export type ChangeResult =
  | { readonly change: Change; readonly ok: true; /** The kernel was already there. */ readonly already: boolean }
  | { readonly change: Change; readonly ok: false; readonly error: PathguardError }
  | { readonly change: Change; readonly ok: false; readonly skipped: string };

export interface ApplyOutcome {
  readonly results: readonly ChangeResult[];
  /** Device kinds the kernel does not have (EOPNOTSUPP on creation), with the kernel's words. */
  readonly unsupported: readonly { readonly name: string; readonly kind: string; readonly message: string }[];
  /** True when an unsupported kind stopped everything else (no --partial). */
  readonly stopped: boolean;
}

/** `net.ipv4.conf.eth0.100.rp_filter` → /proc/sys/net/ipv4/conf/eth0.100/rp_filter: a device name may hold dots. */
export function sysctlPath(key: string): string {
  const parts = key.split('.');
  if (parts.length > 4 && parts[2] === 'conf') {
    return `/proc/sys/${parts.slice(0, 3).join('/')}/${parts.slice(3, -1).join('.')}/${parts[parts.length - 1]}`;
  }
  return `/proc/sys/${parts.join('/')}`;
}

/** A sysctl's integer value; undefined when it does not exist. */
export async function readSysctl(key: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(sysctlPath(key), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const n = Number(text.trim());
  if (!Number.isInteger(n)) throw new DecodeError(`sysctl ${key}`, `not an integer: ${JSON.stringify(text.trim())}`, 0);
  return n;
}

async function writeSysctl(key: string, value: number): Promise<void> {
  try {
    await writeFile(sysctlPath(key), `${value}\n`);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new SyscallError('write', Math.abs(e.errno ?? 0), e.code ?? 'UNKNOWN', `${sysctlPath(key)} = ${value}`);
  }
}

/** The recorded state; a missing file is the empty state, an unreadable one an error. */
export async function readState(path: string): Promise<RecordedState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_STATE;
    throw err;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new DecodeError(`state file ${path}`, (err as Error).message, 0);
  }
  const d = doc as { sysctls?: unknown; nft?: unknown } | null;
  if (d === null || typeof d !== 'object' || typeof d.sysctls !== 'object' || d.sysctls === null) throw new DecodeError(`state file ${path}`, 'no "sysctls" object', 0);
  const sysctls: Record<string, { original: number; set: number }> = {};
  for (const [k, v] of Object.entries(d.sysctls as Record<string, unknown>)) {
    const r = v as { original?: unknown; set?: unknown } | null;
    if (r && Number.isInteger(r.original) && Number.isInteger(r.set)) sysctls[k] = { original: r.original as number, set: r.set as number };
  }
  const n = d.nft as { table?: unknown; listing?: unknown; generation?: unknown } | undefined | null;
  if (!n || typeof n.table !== 'string' || typeof n.listing !== 'string') return { sysctls };
  return { sysctls, nft: typeof n.generation === 'string' ? { table: n.table, listing: n.listing, generation: n.generation } : { table: n.table, listing: n.listing } };
}

async function writeState(path: string, state: RecordedState): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ version: 1, ...state }, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

async function removeState(path: string): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** nft's view of the table, or why nft cannot be used. */
async function nftState(): Promise<NftState> {
  try {
    const listing = await listTable(REALSERVER_TABLE.family, REALSERVER_TABLE.name);
    return listing === undefined ? { available: true } : { available: true, listing };
  } catch (err) {
    if (err instanceof UnsupportedError) return { available: false, reason: err.message };
    if (err instanceof NftError && /Operation not permitted|Permission denied/i.test(err.stderr)) return { available: false, reason: 'managing nftables needs CAP_NET_ADMIN' };
    if (err instanceof NftError && /Protocol not supported|Address family not supported/i.test(err.stderr)) return { available: false, reason: 'the kernel has no nf_tables support' };
    throw err;
  }
}

function pgError(err: unknown, what: string): PathguardError {
  return err instanceof PathguardError ? err : new PathguardError('PG_SYSCALL', `${what}: ${(err as Error).message}`, { cause: err });
}

export class RealserverKernel {
  readonly nl: NetlinkSocket;
  private nf: NetlinkSocket | undefined;
  private nfBroken = false;
  private readonly netns: string | undefined;
  private constructor(nl: NetlinkSocket, netns: string | undefined) {
    this.nl = nl;
    this.netns = netns;
  }

  /**
   * The nf_tables ruleset generation over NETLINK_NETFILTER (NFT_MSG_GETGEN),
   * qualified by the boot and the namespace so a state file that outlives
   * either never matches; undefined when it cannot be read (then the table is
   * listed with nft every time).
   */
  async nftGeneration(): Promise<string | undefined> {
    if (this.nfBroken) return undefined;
    try {
      this.nf ??= NetlinkSocket.open(NETLINK.NETFILTER, this.netns !== undefined ? { netns: this.netns } : {});
      const req = getGenRequest();
      const replies = await this.nf.request(req.type, req.flags, req.fixed);
      const m = replies.find((r) => r.type === NFT_NEWGEN_TYPE);
      if (!m) return undefined;
      const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
      const ns = (await stat(this.netns ?? '/proc/thread-self/ns/net')).ino;
      return `${boot}:${ns}:${decodeGen(m).id}`;
    } catch (err) {
      if (!(err instanceof PathguardError) && (err as NodeJS.ErrnoException).code === undefined) throw err;
      this.nfBroken = true;
      return undefined;
    }
  }

  /**
   * Records that the table was found as recorded in a newer ruleset
   * generation. Re-reads the file so sysctl records written by this
   * reconcile's apply are kept.
   */
  async rememberGeneration(statePath: string, generation: string): Promise<void> {
    const state = await readState(statePath);
    if (!state.nft || state.nft.generation === generation) return;
    await writeState(statePath, { ...state, nft: { ...state.nft, generation } });
  }

  static open(opts: { netns?: string } = {}): RealserverKernel {
    return new RealserverKernel(NetlinkSocket.open(NETLINK.ROUTE, opts), opts.netns);
  }

  private dump(req: RtnlRequest) {
    return this.nl.dump(req.type, req.fixed, req.attrs);
  }

  /**
   * Devices, the addresses on lo, the sysctls named, nft's table and the state file.
   * Equivalent to: `ip -d link show; ip addr show dev lo; sysctl KEYS; nft list table inet pathguard_realserver`.
   */
  async snapshot(sysctlKeys: readonly string[], statePath: string): Promise<Snapshot> {
    const devices = new Map<string, KernelDevice>();
    let loIndex: number | undefined;
    for (const m of await this.dump(dumpLinks())) {
      if (m.type !== RTM.NEWLINK) continue;
      const l = decodeLink(m);
      if (l.name === undefined) continue;
      if ((l.flags & IFF.LOOPBACK) !== 0 && l.name === 'lo') loIndex = l.index;
      let external = false;
      let remote = false;
      if (l.linkinfo?.data !== undefined && (l.linkinfo.kind === 'ipip' || l.linkinfo.kind === 'ip6tnl')) {
        const t = decodeTunnelData(l.linkinfo.data);
        external = t.collectMetadata;
        remote = t.hasRemote;
      }
      const d: { -readonly [K in keyof KernelDevice]: KernelDevice[K] } = { name: l.name, index: l.index, external, remote, up: (l.flags & IFF.UP) !== 0 };
      if (l.linkinfo?.kind !== undefined) d.kind = l.linkinfo.kind;
      if (l.alias !== undefined) d.alias = l.alias;
      devices.set(l.name, d);
    }
    const addresses: KernelVip[] = [];
    if (loIndex !== undefined) {
      for (const family of [RTNL_FAMILY.INET, RTNL_FAMILY.INET6]) {
        for (const m of await this.dump(dumpAddresses(family))) {
          if (m.type !== RTM.NEWADDR) continue;
          const a = decodeAddress(m);
          const bytes = a.local ?? a.address;
          if (a.index !== loIndex || bytes === undefined) continue;
          const v: { -readonly [K in keyof KernelVip]: KernelVip[K] } = { family: a.family === RTNL_FAMILY.INET6 ? 6 : 4, address: formatAddress(bytes), prefixlen: a.prefixlen, index: a.index };
          if (a.protocol !== undefined) v.protocol = a.protocol;
          addresses.push(v);
        }
      }
    }
    const sysctls = new Map<string, number | undefined>();
    for (const k of new Set(sysctlKeys)) sysctls.set(k, await readSysctl(k));
    const state = await readState(statePath);
    // the generation first: a commit after it makes the next check list the table again
    const generation = await this.nftGeneration();
    const rec = state.nft;
    const nft: NftState = generation !== undefined && rec?.generation === generation ? { available: true, listing: rec.listing } : await nftState();
    const out: { -readonly [K in keyof Snapshot]: Snapshot[K] } = { devices, addresses, sysctls, nft, state };
    if (loIndex !== undefined) out.loIndex = loIndex;
    if (generation !== undefined) out.nftGeneration = generation;
    return out;
  }

  /** Applies a plan's changes in the order described at the top of this file. */
  async apply(p: Plan, opts: { readonly partial: boolean; readonly statePath: string; readonly state: RecordedState; readonly clean?: boolean }): Promise<ApplyOutcome> {
    const results = new Map<Change, ChangeResult>();
    const unsupported: { name: string; kind: string; message: string }[] = [];

    // 1. devices
    const adds = p.changes.filter((c): c is Extract<Change, { kind: 'device-add' }> => c.kind === 'device-add');
    if (adds.length > 0) {
      const reqs: NetlinkRequest[] = adds.flatMap((c) => [newTunnelLink({ name: c.device.name, kind: c.device.kind, external: true }), setLinkAliasUp(c.device.name, DEVICE_ALIAS)]);
      const replies = await this.nl.batch(reqs);
      adds.forEach((c, i) => {
        const made = replies[2 * i]!;
        const up = replies[2 * i + 1]!;
        // EOPNOTSUPP and ENOTSUP are both 95 on Linux; errno tables name it either way
        if (!made.ok && (made.error.errnoName === 'EOPNOTSUPP' || made.error.errnoName === 'ENOTSUP')) {
          const module = c.device.kind === 'ipip' ? 'ipip' : 'ip6_tunnel';
          const message = `this kernel cannot create ${c.device.kind} devices (${made.error.ackText ?? made.error.errnoName}): the ${module} module is not available (CONFIG_${c.device.kind === 'ipip' ? 'NET_IPIP' : 'IPV6_TUNNEL'}); ${c.device.name} cannot decapsulate IPv${c.device.family} LVS traffic`;
          unsupported.push({ name: c.device.name, kind: c.device.kind, message });
          results.set(c, { change: c, ok: false, error: new UnsupportedError(c.device.kind, message) });
        } else if (!made.ok) results.set(c, { change: c, ok: false, error: made.error });
        else if (!up.ok) results.set(c, { change: c, ok: false, error: up.error });
        else results.set(c, { change: c, ok: true, already: false });
      });
    }
    const failedDevices = new Set(adds.filter((c) => !results.get(c)?.ok).map((c) => c.device.name));
    const stopped = unsupported.length > 0 && !opts.partial;
    if (stopped) {
      for (const c of p.changes) {
        if (!results.has(c)) results.set(c, { change: c, ok: false, skipped: 'not applied: the kernel lacks a decapsulation device kind (use --partial to apply the rest)' });
      }
      return { results: p.changes.map((c) => results.get(c)!), unsupported, stopped };
    }

    // 2. the other rtnetlink changes
    const nlChanges: Change[] = [];
    const nlReqs: NetlinkRequest[] = [];
    for (const c of p.changes) {
      const r = this.requestOf(c);
      if (r) {
        nlChanges.push(c);
        nlReqs.push(r);
      }
    }
    if (nlReqs.length > 0) {
      const replies = await this.nl.batch(nlReqs);
      nlChanges.forEach((c, i) => {
        const r = replies[i]!;
        if (r.ok) results.set(c, { change: c, ok: true, already: false });
        else if (alreadyDone(c, r.error)) results.set(c, { change: c, ok: true, already: true });
        else results.set(c, { change: c, ok: false, error: r.error });
      });
    }

    // 3. sysctls
    const sysctls: Record<string, { original: number; set: number }> = { ...opts.state.sysctls };
    let stateChanged = false;
    for (const c of p.changes) {
      if (c.kind !== 'sysctl' && c.kind !== 'sysctl-restore') continue;
      if (c.kind === 'sysctl' && c.device !== undefined && failedDevices.has(c.device)) {
        results.set(c, { change: c, ok: false, skipped: `${c.device} could not be created` });
        continue;
      }
      try {
        const current = await readSysctl(c.key);
        if (current === undefined) throw new UnsupportedError('sysctl', `${c.key} does not exist`);
        if (current === c.to) {
          results.set(c, { change: c, ok: true, already: true });
        } else {
          await writeSysctl(c.key, c.to);
          results.set(c, { change: c, ok: true, already: false });
        }
        if (c.kind === 'sysctl') {
          const prior = sysctls[c.key];
          sysctls[c.key] = { original: prior?.original ?? current, set: c.to };
        } else delete sysctls[c.key];
        stateChanged = true;
      } catch (err) {
        results.set(c, { change: c, ok: false, error: pgError(err, c.key) });
      }
    }

    // 4. nftables
    let nft = opts.state.nft;
    for (const c of p.changes) {
      if (c.kind !== 'nft-apply' && c.kind !== 'nft-remove') continue;
      try {
        if (c.kind === 'nft-apply') {
          await applyRuleset(c.ruleset);
          const generation = await this.nftGeneration();
          const listing = await listTable(REALSERVER_TABLE.family, REALSERVER_TABLE.name);
          nft = { table: c.table, listing: normaliseListing(listing ?? ''), ...(generation !== undefined ? { generation } : {}) };
        } else {
          await applyRuleset(removeRealserverRuleset());
          nft = undefined;
        }
        stateChanged = true;
        results.set(c, { change: c, ok: true, already: false });
      } catch (err) {
        results.set(c, { change: c, ok: false, error: pgError(err, 'nft') });
      }
    }

    // 5. the record
    if (opts.clean) {
      const left = Object.keys(sysctls).length > 0;
      if (left) await writeState(opts.statePath, { sysctls });
      else await removeState(opts.statePath);
    } else if (stateChanged) {
      await writeState(opts.statePath, nft ? { sysctls, nft } : { sysctls });
    }
    return { results: p.changes.map((c) => results.get(c) ?? { change: c, ok: false, skipped: 'not reached' }), unsupported, stopped: false };
  }

  private requestOf(c: Change): RtnlRequest | undefined {
    switch (c.kind) {
      case 'device-up':
        return setLinkUp(c.index);
      case 'device-del':
        return delLink(c.index);
      case 'vip-add':
        return addAddress({ index: c.index, prefixlen: c.vip.prefixlen, local: parseAddress(c.vip.address), protocol: IFAPROT_PATHGUARD });
      case 'vip-del':
        return delAddress({ index: c.vip.index, prefixlen: c.vip.prefixlen, local: parseAddress(c.vip.address) });
      default:
        return undefined;
    }
  }

  /** Calls `onEvent` for link and address notifications (and lost ones). */
  subscribe(onEvent: (what: string) => void): NetlinkSubscription {
    return this.nl.subscribe([RTNLGRP.LINK, RTNLGRP.IPV4_IFADDR, RTNLGRP.IPV6_IFADDR], {
      onMessages: (msgs) => {
        if (msgs.some((m) => m.type === RTM.NEWLINK || m.type === RTM.DELLINK)) onEvent('link');
        else if (msgs.some((m) => m.type === RTM.NEWADDR || m.type === RTM.DELADDR)) onEvent('address');
      },
      onResync: (reason) => onEvent(`resync (${reason})`),
    });
  }

  close(): void {
    this.nl.close();
    this.nf?.close();
  }
}

/** Whether a refused request leaves the kernel as the plan wanted anyway. */
function alreadyDone(c: Change, e: NetlinkError): boolean {
  if (c.kind === 'vip-add') return e.errnoName === 'EEXIST';
  if (c.kind === 'vip-del') return e.errnoName === 'EADDRNOTAVAIL' || e.errnoName === 'ENODEV';
  if (c.kind === 'device-del') return e.errnoName === 'ENODEV';
  return false;
}
