/**
 * The relay, wired: configuration in, a running relay out. The main thread
 * owns the control plane (peers, local addresses, neighbour MACs, the
 * nftables table, metrics, health, shutdown); the data plane runs in a
 * worker thread (src/relay/data-plane.ts), or one per NFLOG group with
 * --workers, and shares only its counters.
 *
 * Start-up order: the workers bind NFLOG (and open their sockets), then the
 * firewall table is applied (or the operator's rules trusted), so a relay
 * that finds its group taken leaves the running relay's table alone; /readyz
 * turns green and the ready file appears only when both are done.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../obs/log.js';
import { Shutdown } from '../obs/shutdown.js';
import type { Component, ComponentContext, ComponentDefinition } from '../obs/component.js';
import type { RelayPeerStatus, RelayStatus } from '../status/model.js';
import { applyRuleset, nftAvailable, removeTable, updatePeerSets } from '../firewall/nft.js';
import { manualRules, relayRuleset } from '../firewall/ruleset.js';
import { StaticPeers, formatPeerList, peerElements, type Peer } from '../peers/peer-set.js';
import { addressEqual, addressKey } from '../wire/ip-address.js';
import { ConfigError, PathguardError, UnsupportedError, reviveError } from '../errors.js';
import { relayConfig, type RelayConfig } from './config.js';
import { CombinedStats, MAX_PEER_SLOTS, RelayStats, type StatsReader } from './stats.js';
import { PeerSlots } from './peer-slots.js';
import { unrelayableFamilies } from './families.js';
import { readKeyFile } from './key-file.js';
import { prepareTunForReplicas } from './tun-policy.js';
import { REJECT_REASONS } from './validate.js';
import { RATE_LIMIT } from './rate-limiter.js';
import type { PeerTarget } from './transports.js';
import type { DataPlaneInit, FromDataPlane, ToDataPlane } from './data-plane.js';
import { NodeView } from '../net/node-view.js';
import { formatMac } from '../wire/ethernet.js';
import type { KubernetesPeers } from '../peers/kubernetes.js';
import { registerRelayMetrics } from './metrics.js';

/** The data plane must turn its loop at least this often, or /healthz fails. */
const STALL_MS = 5_000;
/** Accepted clock difference between relays for udp replicas. */
const MAX_SKEW_S = 30;


/** A canonical text of a set of addresses, to tell whether it changed. */
function addressesKey(addresses: readonly Uint8Array[]): string {
  return addresses.map(addressKey).sort().join(',');
}

/** A canonical text of what the data plane is told about peers. */
function targetsKey(targets: readonly PeerTarget[]): string {
  return targets.map((t) => `${t.index}=${t.addresses.map(addressKey).join('+')}@${t.mac ? formatMac(t.mac) : ''}/${t.ifindex ?? ''}`).join(',');
}

/** Warns once per family that the configuration can never relay (see unrelayableFamilies()); again only after it could. */
const warnedFamilies = new WeakMap<Logger, Set<number>>();
function warnUnrelayableFamilies(cfg: RelayConfig, peers: readonly Peer[], local: readonly Uint8Array[], log: Logger): void {
  const warned = warnedFamilies.get(log) ?? new Set<number>();
  warnedFamilies.set(log, warned);
  const now = new Set(unrelayableFamilies({ transport: cfg.transport, vipNetworks: cfg.vipNetworks, peers, local }));
  for (const family of [4, 6] as const) {
    if (!now.has(family)) {
      warned.delete(family);
      continue;
    }
    if (warned.has(family)) continue;
    warned.add(family);
    log.warn(
      { transport: 'ip', family: `IPv${family}` },
      `no peer has an IPv${family} address, so --transport ip can never relay IPv${family} too-big messages ` +
        `(they are counted as rejected{reason="no_peer_of_family"}); use --transport udp, which carries them to peers over ` +
        `IPv${family === 4 ? 6 : 4}, or l2/broadcast on one segment, or give the peers IPv${family} addresses (192.0.2.11+2001:db8::11)`,
    );
  }
}

/**
 * The capture rules this configuration needs, for operators who manage the
 * firewall themselves (`--print-rules nft|iptables`): the same text the
 * relay would apply, with the configured peers (all of them: the node's own
 * address in the peer sets is harmless).
 */
export async function relayRulesText(cfg: RelayConfig, format: 'nft' | 'iptables'): Promise<string> {
  let uplinks = [...cfg.iface];
  if (uplinks.length === 0) {
    const view = NodeView.open();
    try {
      uplinks = [await view.defaultInterface()];
    } finally {
      view.close();
    }
  }
  return manualRules({
    uplinks,
    nflogGroup: cfg.nflogGroup,
    shards: cfg.workers,
    ...(cfg.transport === 'udp' ? { tunInterface: cfg.tunName, udpPort: cfg.relayPort } : {}),
    peers: peerElements(cfg.peers),
    format,
  });
}

/** The relay as a component of the runtime (src/agent/runtime.ts). */
export const relayComponent: ComponentDefinition<RelayConfig> = {
  name: 'relay',
  config: (flags, env, section) => relayConfig(flags, env, section),
  start: (ctx, cfg) => startRelay(ctx, cfg),
};

export async function startRelay(ctx: ComponentContext, cfg: RelayConfig): Promise<Component> {
  const log = ctx.log;
  const metrics = ctx.metrics;
  // One set of counters per data-plane worker (each is their only writer), read together.
  const workerStats = Array.from({ length: cfg.workers }, () => new RelayStats());
  const stats: StatsReader = workerStats.length === 1 ? workerStats[0]! : new CombinedStats(workerStats);
  let stopped = false;
  // What start-up builds, undone in reverse order by stop() (a start-up failure runs it too).
  const shutdown = new Shutdown({ log, exit: () => undefined });
  const notReady = { capture: 'NFLOG not bound yet' as string | undefined, firewall: 'firewall table not applied yet' as string | undefined };
  const fail = (err: unknown): void => {
    if (!stopped) ctx.fail(err);
  };
  /** Start-up is over: a data-plane failure from now on is reported to the runtime, not thrown. */
  let running = false;

  const view = ctx.node;

  if (cfg.manageFirewall) {
    const nft = await nftAvailable();
    if (!nft.available) {
      throw new UnsupportedError('nftables', `${nft.reason}; install nftables, or add the capture rules yourself and run with --no-manage-firewall`);
    }
  }

  const uplinks = cfg.iface.length > 0 ? [...cfg.iface] : [await view.defaultInterface()];
  const links = await view.links();
  const byName = new Map([...links].map(([i, n]) => [n, i]));
  for (const u of uplinks) {
    if (!u.endsWith('*') && !byName.has(u)) {
      throw new ConfigError([{ field: 'iface (--iface)', value: u, expected: `an existing interface (this node has ${[...byName.keys()].join(', ')})` }]);
    }
  }
  const sendInterface = uplinks.find((u) => !u.endsWith('*')) ?? uplinks[0]!;
  const sendIfindex = byName.get(sendInterface) ?? 0;

  let local = await view.localAddresses();
  // --peers, or (when none are given) every other node's address from the Kubernetes API.
  let peerSource: StaticPeers | KubernetesPeers;
  if (cfg.peers.length > 0) {
    peerSource = new StaticPeers(cfg.peers);
  } else {
    // Loaded on demand: the Kubernetes client alone costs ~0.6 s of start-up.
    const { KubernetesPeers } = await import('../peers/kubernetes.js');
    let nodes;
    try {
      nodes = await ctx.kube.nodes();
    } catch (err) {
      throw new ConfigError([
        {
          field: 'peers (--peers)',
          value: '',
          expected: `peer addresses, or a Kubernetes configuration to discover them from Node objects (${err instanceof Error ? err.message : String(err)})`,
        },
      ]);
    }
    const nodeName = cfg.nodeName ?? ctx.nodeName;
    const k8sPeers = new KubernetesPeers(nodes, { nodeName });
    peerSource = k8sPeers;
    shutdown.add('kubernetes', () => k8sPeers.stop());
    log.info({ nodeName }, 'no --peers: discovering peers from Kubernetes Node objects');
    if (!(await k8sPeers.start())) throw new PathguardError('PG_UNSUPPORTED', 'listing Kubernetes nodes was interrupted');
  }
  const staticPeers = peerSource;
  staticPeers.excludeLocal(local);
  const key = cfg.keyFile ? await readKeyFile(cfg.keyFile) : undefined;
  const tunName = cfg.transport === 'udp' ? cfg.tunName : undefined;

  // Peers as the data plane sees them, with MACs for l2 and the nft peer_mac set.
  // Each peer is resolved on the uplink its route uses; a peer behind a gateway
  // or reached through another interface has no MAC the l2 transport can use.
  const uplinkIndexes = new Set(uplinks.map((u) => byName.get(u)).filter((i): i is number => i !== undefined));
  /** Peer MACs (l2), by peer id. */
  let macs = new Map<string, { readonly mac: Uint8Array; readonly ifindex: number }>();
  // Each peer keeps its send-error counter while it stays in the set, so a
  // peer joining or leaving never moves another peer's count.
  const slots = new PeerSlots(MAX_PEER_SLOTS);
  const peerCount = (slot: number) => stats.peerErrors(slot);
  const targets = (): PeerTarget[] => {
    const current = staticPeers.current();
    slots.update(current.map((p) => p.id), peerCount);
    return current.map((p) => {
      const index = slots.slotOf(p.id);
      const addresses = p.addresses.map((a) => a.bytes);
      const m = macs.get(p.id);
      return m ? { index, addresses, mac: m.mac, ifindex: m.ifindex } : { index, addresses };
    });
  };
  const refreshMacs = async (): Promise<void> => {
    if (cfg.transport !== 'l2') return;
    // Each peer's on-link addresses, grouped by the uplink they are on.
    const byIf = new Map<number, { peer: Peer; addresses: Uint8Array[] }[]>();
    for (const peer of staticPeers.current()) {
      const onLink = new Map<number, Uint8Array[]>();
      for (const a of peer.addresses) {
        const r = await view.routeTo(a.bytes);
        if (r?.onLink && uplinkIndexes.has(r.oif)) onLink.set(r.oif, [...(onLink.get(r.oif) ?? []), a.bytes]);
      }
      const [ifindex, addresses] = [...onLink][0] ?? [sendIfindex, peer.addresses.map((a) => a.bytes)];
      byIf.set(ifindex, [...(byIf.get(ifindex) ?? []), { peer, addresses }]);
    }
    const next = new Map<string, { mac: Uint8Array; ifindex: number }>();
    for (const [ifindex, entries] of byIf) {
      const found = await view.neighbourMacs(ifindex, entries.flatMap((e) => e.addresses));
      for (const { peer, addresses } of entries) {
        const mac = addresses.map((a) => found.get(addressKey(a))).find((m) => m !== undefined);
        if (mac) next.set(peer.id, { mac, ifindex });
      }
    }
    macs = next;
  };
  await refreshMacs();
  // Peer MACs mark replicas only for l2, the one transport whose replicas keep
  // the original source address; elsewhere a genuine message from a peer node
  // that also routes must not be mistaken for a replica.
  const firewallPeers = () => peerElements(staticPeers.current(), cfg.transport === 'l2' ? [...macs.values()].map((m) => formatMac(m.mac)) : []);
  const unresolvedPeers = () => staticPeers.current().filter((p) => !macs.has(p.id)).map((p) => p.id);
  // l2 cannot send to a peer whose MAC is unknown: give resolution a moment before reporting ready.
  if (cfg.transport === 'l2') {
    for (let i = 0; i < 20 && unresolvedPeers().length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      await refreshMacs();
    }
    const unresolved = unresolvedPeers();
    if (unresolved.length > 0) log.warn({ unresolved }, 'no MAC yet for some peers (not on this link, or not answering ARP/ND); retrying every second');
  }
  warnUnrelayableFamilies(cfg, staticPeers.current(), local, log);

  if (staticPeers.current().length === 0 && cfg.transport !== 'broadcast') {
    log.warn({ transport: cfg.transport }, 'no peers configured (--peers): captured messages have nowhere to go');
  }
  if (cfg.transport === 'udp' && !key) {
    log.warn('udp transport without --key-file: replicas are accepted on their source address alone; a shared key (HMAC-SHA256) also authenticates them');
  }

  // The firewall table's text is built (and so validated, like the rest of
  // the configuration) before anything starts; it is applied once NFLOG is bound.
  const rules = { uplinks, nflogGroup: cfg.nflogGroup, shards: cfg.workers, ...(tunName ? { tunInterface: tunName, udpPort: cfg.relayPort } : {}) };
  const ruleset = cfg.manageFirewall
    ? relayRuleset({ ...rules, peers: firewallPeers() }, { mode: 'replace' })
    : manualRules({ ...rules, peers: firewallPeers(), format: 'nft' });

  // The data plane: one worker per NFLOG group. The nftables rules hash the
  // outer source to a group, so each worker sees all of some routers'
  // messages (per-source limits stay exact) and shares the per-interface
  // limit with the others. The first worker also receives udp replicas.
  const groups = Array.from({ length: cfg.workers }, (_, i) => cfg.nflogGroup + i);
  const inits: DataPlaneInit[] = workerStats.map((ws, i) => ({
    stats: ws.buffer,
    nflogGroup: groups[i]!,
    transport: cfg.transport,
    sendInterface,
    uplinks: uplinks.filter((u) => !u.endsWith('*')),
    relayPort: cfg.relayPort,
    ...(key ? { key } : {}),
    ttl: cfg.ttl,
    ...(tunName && i === 0 ? { tunName } : {}),
    maxSkewS: MAX_SKEW_S,
    dryRun: cfg.dryRun,
    debug: log.isLevelEnabled('debug'),
    state: {
      vipNetworks: cfg.vipNetworks,
      ignoreNetworks: cfg.ignoreNetworks,
      ports: cfg.ports,
      srcRate: cfg.srcRate,
      srcBurst: cfg.srcBurst,
      ifaceRate: cfg.ifaceRate / cfg.workers,
      ifaceBurst: Math.max(1, Math.ceil(cfg.ifaceBurst / cfg.workers)),
      dedupWindow: cfg.dedupWindow,
    },
    peers: targets(),
    localAddresses: local,
  }));
  // A small young generation: the data plane's garbage is short-lived (and,
  // since decoding reuses its storage, little), and V8's default lets a flood
  // grow it by tens of MB. 6 MB instead of 12 took peak RSS under a 360k msg/s
  // flood from 99-102 MB to 90 MB at the same throughput (bench/relay-throughput.bench.ts).
  const workers = inits.map((init) => new Worker(new URL('../relay/data-plane.js', import.meta.url), { workerData: init, resourceLimits: { maxYoungGenerationSizeMb: 6 } }));
  const send = (m: ToDataPlane) => {
    for (const w of workers) w.postMessage(m);
  };
  const started = workers.map(
    (worker, i) =>
      new Promise<{ tunName?: string; tunIfindex?: number }>((resolve, reject) => {
        const which = workers.length > 1 ? ` (worker ${i}, NFLOG group ${groups[i]})` : '';
        worker.on('message', (m: FromDataPlane) => {
          if (m.type === 'ready') resolve(m);
          else if (m.type === 'fatal') {
            const err = reviveError(m.error);
            reject(err);
            if (running) fail(new PathguardError(err.code, `data plane failed${which}: ${err.message}`));
          } else if (m.type === 'debug') log.debug(m.fields, m.msg);
          else if (m.type === 'warning') log.warn({ error: m.error, count: m.count, ...(workers.length > 1 ? { worker: i } : {}) }, m.msg);
        });
        worker.on('error', (err) => {
          reject(err);
          if (running) fail(new PathguardError('PG_INTERNAL', `data plane crashed${which}: ${err.message}`));
        });
      }),
  );
  // Every worker must be up; the first one's answer names the TUN device.
  const ready = Promise.all(started).then((answers) => answers[0]!);
  shutdown.add('data plane', async () => {
    const exited = workers.map((w) => new Promise<void>((r) => w.once('exit', () => r())));
    send({ type: 'stop' });
    const t = setTimeout(() => {
      for (const w of workers) void w.terminate();
    }, 2000);
    await Promise.all(exited);
    clearTimeout(t);
  });

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await shutdown.trigger('stop');
  };

  let info: { tunName?: string; tunIfindex?: number };
  try {
    info = await ready;
  } catch (err) {
    await stop();
    throw err;
  }
  notReady.capture = undefined;

  // Then the firewall table: the capture rules are what feed NFLOG. Not
  // before: a relay that cannot bind the group (another relay holds it) must
  // fail without touching the table, or its clean-up would delete the table
  // the running relay captures with. A failure now stops the worker too.
  try {
    if (cfg.manageFirewall) {
      await applyRuleset(ruleset);
      shutdown.add('firewall', async () => {
        await removeTable();
        log.info('removed the nftables table inet pathguard');
      });
      log.info({ uplinks, groups }, 'applied the nftables table inet pathguard');
    } else {
      log.info({ rules: ruleset }, '--no-manage-firewall: the capture rules must be in place; these are the rules pathguard would add');
    }
  } catch (err) {
    await stop();
    throw err;
  }
  notReady.firewall = undefined;
  log.info({ groups, transport: cfg.transport, peers: formatPeerList(staticPeers.current()), dryRun: cfg.dryRun }, 'capturing');

  if (info.tunName !== undefined && info.tunIfindex !== undefined) await prepareTunForReplicas(info.tunName, info.tunIfindex, view, local, log);

  // Metrics, health, readiness.
  const peerErrors = () => slots.samples(staticPeers.current().map((p) => p.id), peerCount);
  const refreshes = { changed: 0, unchanged: 0 };
  registerRelayMetrics(metrics, { stats, transport: cfg.transport, peerErrors, refreshes: () => refreshes });
  // Keep peers, local addresses and MACs current, and quiet: a refresh
  // derives the state the workers and the firewall need and changes them only
  // when it differs from what is in force (neighbour tables churn all the
  // time; a stable peer set must cost no nft process and no repost).
  // Start-up itself changed addresses (the TUN device's): the workers learn them before the first comparison.
  const fresh = await view.localAddresses();
  if (addressesKey(fresh) !== addressesKey(local)) {
    local = fresh;
    staticPeers.excludeLocal(local);
    send({ type: 'local', addresses: local });
  }
  const inForce = { local: addressesKey(local), targets: targetsKey(targets()), firewall: JSON.stringify(firewallPeers()) };
  let timer: NodeJS.Timeout | undefined;
  const refresh = async (): Promise<void> => {
    local = await view.localAddresses();
    staticPeers.excludeLocal(local);
    await refreshMacs();
    let changed = false;
    const localKey = addressesKey(local);
    if (localKey !== inForce.local) {
      send({ type: 'local', addresses: local });
      inForce.local = localKey;
      changed = true;
    }
    const next = targets();
    const nextKey = targetsKey(next);
    if (nextKey !== inForce.targets) {
      send({ type: 'peers', peers: next });
      inForce.targets = nextKey;
      changed = true;
    }
    const elements = firewallPeers();
    const fwKey = JSON.stringify(elements);
    if (fwKey !== inForce.firewall) {
      if (cfg.manageFirewall) await updatePeerSets(elements);
      inForce.firewall = fwKey;
      changed = true;
    }
    refreshes[changed ? 'changed' : 'unchanged']++;
  };
  const schedule = () => {
    if (timer || stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      refresh().catch((err) => log.warn({ err }, 'refreshing peers and addresses failed; will retry on the next change'));
    }, 200);
  };
  // Neighbour events matter only to l2 (peer MACs), and only for peers' addresses.
  const peerAddress = (dst: Uint8Array) => staticPeers.current().some((p) => p.addresses.some((a) => addressEqual(a.bytes, dst)));
  const sub = view.watch(() => schedule(), cfg.transport === 'l2' ? { neighbours: peerAddress } : {});
  const unsubscribe = staticPeers.subscribe((peers) => {
    warnUnrelayableFamilies(cfg, peers, local, log);
    schedule();
  });
  // Send errors are counted per peer in the data plane; say so in the log too,
  // at most once per peer every 10 s, so a dead peer is visible without a flood of lines.
  let reported = new Map<string, number>();
  const sendErrors = setInterval(() => {
    const next = new Map<string, number>();
    for (const { peer, value } of peerErrors()) {
      next.set(peer, value);
      const delta = value - (reported.get(peer) ?? 0);
      if (delta > 0) log.warn({ peer, failed: delta, total: value }, 'sending replicas to a peer failed (see pathguard_relay_send_errors_total)');
    }
    reported = next;
  }, 10_000);
  sendErrors.unref();
  // Unresolved MACs (l2) are retried until every peer has one.
  const retry = setInterval(() => {
    if (cfg.transport === 'l2' && unresolvedPeers().length > 0) schedule();
  }, 1000);
  shutdown.add('watches', () => {
    sub.close();
    unsubscribe();
    clearInterval(retry);
    clearInterval(sendErrors);
    if (timer) clearTimeout(timer);
  });
  if (cfg.transport === 'l2' && unresolvedPeers().length > 0) schedule();

  running = true;

  // Reasons and limits that never happened are left out: the page lists what did.
  const counters = () => {
    const rejected: Record<string, number> = {};
    for (const r of REJECT_REASONS) if (stats.rejected(r) > 0) rejected[r] = stats.rejected(r);
    const rateLimited: Record<string, number> = {};
    for (const r of RATE_LIMIT) if (stats.rateLimited(r) > 0) rateLimited[r] = stats.rateLimited(r);
    return { received: stats.get('received'), relayed: stats.get('relayed'), duplicate: stats.get('duplicate'), loop: stats.get('loop'), rejected, rateLimited };
  };
  const names = () => new Map([...links].map(([i, n]) => [i, n]));
  return {
    ready: () => notReady.capture ?? notReady.firewall,
    live: () => {
      const age = Date.now() - stats.get('heartbeat_ms');
      return age > STALL_MS ? `capture loop stalled for ${Math.round(age / 1000)} s` : undefined;
    },
    firstReady: Promise.resolve(),
    status: (): RelayStatus & Record<string, unknown> => {
      const ifnames = names();
      const errors = new Map(peerErrors().map((e) => [e.peer, e.value]));
      const peers: RelayPeerStatus[] = staticPeers.current().map((p) => {
        const m = macs.get(p.id);
        const carrier = m ? ifnames.get(m.ifindex) : undefined;
        return {
          ...(p.name !== undefined ? { name: p.name } : {}),
          addresses: p.addresses.map((a) => a.address),
          ...(carrier !== undefined ? { carrier } : {}),
          ...(m ? { mac: formatMac(m.mac) } : {}),
          sendErrors: errors.get(p.id) ?? 0,
        };
      });
      return { transport: cfg.transport, groups, counters: counters(), peers };
    },
    series: () => {
      const c = counters();
      let rejected = 0;
      for (const r of REJECT_REASONS) rejected += stats.rejected(r);
      return { received: c.received, relayed: c.relayed, rejected };
    },
    stop,
  };
}
