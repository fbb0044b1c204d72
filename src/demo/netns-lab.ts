/**
 * Network-namespace labs: the demo's lab and the integration tests' harness
 * (test/harness/netns.ts re-exports this module).
 *
 *   await withLab('nflog', async (lab) => {
 *     const a = await lab.ns('a');
 *     const b = await lab.ns('b');
 *     await lab.veth(a, 'eth0', b, 'eth0');
 *     await a.addr('eth0', '192.0.2.1/24');
 *     ...
 *   });
 *
 * Every namespace, and so every interface inside it, is deleted when the
 * callback ends, also when it throws. Deleting is not taken on trust: every
 * process still in a namespace is killed first (`ip netns pids`), the delete
 * is retried briefly, and a namespace that cannot be deleted fails the lab
 * with its name.
 *
 * Names are `<prefix><owner pid>-<tag>-<random>-<node>` (pgt- for tests,
 * pgd- for the demo). The owner is the process that answers for the lab: the
 * test runner (scripts/run-tests.mjs passes its pid in PATHGUARD_LAB_OWNER)
 * or else the process itself. A marker /run/pathguard-test/<name>.owner says
 * which test made the namespace and when the owner started, so
 * `sweepStaleLabs()` deletes only namespaces whose owner is gone (several
 * runs may share a machine) and a run can name the test behind a leftover.
 *
 * Only documentation prefixes are accepted as addresses: 192.0.2.0/24,
 * 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { PathguardError } from '../errors.js';

const execFileP = promisify(execFile);

/** Namespaces of the integration tests. */
export const LAB_PREFIX = 'pgt-';
/** Namespaces of `pathguard demo`. */
export const DEMO_PREFIX = 'pgd-';
/** Every prefix a lab may carry; sweeps look at all of them. */
export const LAB_PREFIXES = [LAB_PREFIX, DEMO_PREFIX] as const;
/** The environment variable that names the owning process (a test runner's pid). */
export const LAB_OWNER_ENV = 'PATHGUARD_LAB_OWNER';
/** Where owner markers live (tmpfs: gone after a reboot, like the namespaces). */
export const LAB_MARKER_DIR = '/run/pathguard-test';
/** A namespace in the old name format (no owner) is stale after this long. */
export const LEGACY_MAX_AGE_MS = 30 * 60_000;


/** Why integration tests cannot run here, or undefined when they can. */
export function labUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'integration tests need root (network namespaces)';
  if (!existsSync('/usr/sbin/ip') && !existsSync('/sbin/ip') && !existsSync('/usr/bin/ip')) return 'iproute2 (ip) is not installed';
  return undefined;
}

const DOC_V4 = [/^192\.0\.2\./, /^198\.51\.100\./, /^203\.0\.113\./];

/** Throws unless `cidrOrAddr` is inside a documentation prefix. */
export function assertDocAddress(cidrOrAddr: string): void {
  const addr = cidrOrAddr.split('/')[0]!;
  if (addr.includes(':')) {
    if (/^2001:0?db8:/i.test(addr)) return;
  } else if (DOC_V4.some((re) => re.test(addr))) {
    return;
  }
  throw new Error(`test address ${cidrOrAddr} is outside 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32`);
}

export interface ExecResult {
  stdout: string;
  stderr: string;
}

export async function sh(cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  if (opts.input !== undefined) {
    return await new Promise<ExecResult>((resolve, reject) => {
      const child = spawn(cmd, args as string[], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve({ stdout, stderr });
        else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.trim()}`));
      });
      child.stdin.end(opts.input);
    });
  }
  try {
    const r = await execFileP(cmd, args as string[], { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 << 20 });
    return { stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

export class Netns {
  readonly lab: Lab;
  /** The kernel name of the namespace (`ip netns exec NAME`). */
  readonly name: string;
  /** The short name the test gave it. */
  readonly short: string;

  constructor(lab: Lab, short: string, name: string) {
    this.lab = lab;
    this.short = short;
    this.name = name;
  }

  /** Path of the namespace file, for setns(2). */
  get path(): string {
    return `/run/netns/${this.name}`;
  }

  /** Runs a command inside the namespace and returns its output; throws on a non-zero exit. */
  exec(cmd: string, args: readonly string[] = [], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    return sh('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  /** `ip ARGS` inside the namespace. */
  ip(...args: string[]): Promise<ExecResult> {
    return sh('ip', ['-n', this.name, ...args]);
  }

  /** `ip -j ARGS` parsed. */
  async ipJson<T = unknown>(...args: string[]): Promise<T> {
    const r = await sh('ip', ['-n', this.name, '-j', ...args]);
    return JSON.parse(r.stdout || '[]') as T;
  }

  /** Starts a long-running process in the namespace; it is killed at teardown. */
  spawn(cmd: string, args: readonly string[] = [], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: 'pipe', ...opts });
    this.lab.track(child);
    return child;
  }

  async addr(dev: string, cidr: string): Promise<void> {
    assertDocAddress(cidr);
    const v6 = cidr.includes(':');
    await this.ip(...(v6 ? ['-6'] : []), 'addr', 'add', cidr, 'dev', dev, ...(v6 ? ['nodad'] : []));
  }

  async up(dev: string): Promise<void> {
    await this.ip('link', 'set', dev, 'up');
  }

  async mtu(dev: string, mtu: number): Promise<void> {
    await this.ip('link', 'set', dev, 'mtu', String(mtu));
  }

  /** `ip route add ARGS` (destination and gateway must be documentation addresses or `default`). */
  async route(...args: string[]): Promise<void> {
    for (const a of args) if (/^[0-9a-f:.]+(\/\d+)?$/i.test(a) && /[.:]/.test(a)) assertDocAddress(a);
    const v6 = args.some((a) => a.includes(':'));
    await this.ip(...(v6 ? ['-6'] : []), 'route', 'add', ...args);
  }

  async sysctl(key: string, value: string | number): Promise<void> {
    await this.exec('sysctl', ['-qw', `${key}=${value}`]);
  }

  /** Enables IPv4 and IPv6 forwarding. */
  async forwarding(): Promise<void> {
    await this.sysctl('net.ipv4.ip_forward', 1);
    await this.sysctl('net.ipv6.conf.all.forwarding', 1);
  }

  /** Loads an nftables ruleset (`nft -f -`) inside the namespace. */
  async nft(ruleset: string): Promise<void> {
    await this.exec('nft', ['-f', '-'], { input: ruleset });
  }

  /** Interface index of `dev` inside the namespace. */
  async ifindex(dev: string): Promise<number> {
    const r = await this.exec('cat', [`/sys/class/net/${dev}/ifindex`]);
    return Number(r.stdout.trim());
  }

  async mac(dev: string): Promise<string> {
    const r = await this.exec('cat', [`/sys/class/net/${dev}/address`]);
    return r.stdout.trim();
  }
}

/** The process that answers for labs made here: PATHGUARD_LAB_OWNER when it is a pid, else this process. */
export function labOwner(env: NodeJS.ProcessEnv = process.env): number {
  const v = env[LAB_OWNER_ENV];
  return v !== undefined && /^[1-9]\d*$/.test(v) ? Number(v) : process.pid;
}

export interface LabName {
  readonly prefix: string;
  /** The owner's pid; absent for names made before owners were recorded. */
  readonly owner?: number;
}

/** Reads a namespace name made by a lab; undefined when it is not one (another prefix). */
export function parseLabName(name: string, prefixes: readonly string[] = LAB_PREFIXES): LabName | undefined {
  const prefix = prefixes.find((p) => name.startsWith(p));
  if (prefix === undefined) return undefined;
  const m = /^([1-9]\d*)-/.exec(name.slice(prefix.length));
  return m ? { prefix, owner: Number(m[1]) } : { prefix };
}

/**
 * A process's start time in clock ticks since boot (field 22 of
 * /proc/PID/stat, see proc(5)), which tells a live owner from a new process
 * that got its pid; undefined when the process does not exist.
 */
export function processStartTime(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const v = Number(fields[22 - 3]);
  return Number.isFinite(v) ? v : undefined;
}

/** What a lab's owner marker records. */
export interface LabMarker {
  readonly owner: number;
  /** The owner's start time (processStartTime), when it could be read. */
  readonly ownerStart?: number;
  /** The process that created the namespace (a test file's process, or the demo). */
  readonly creator: number;
  readonly creatorStart?: number;
  /** Where the lab was made: the test file and line, or the creator's script. */
  readonly madeBy: string;
  readonly created: string;
}

function markerPath(name: string): string {
  return `${LAB_MARKER_DIR}/${name}.owner`;
}

export function readLabMarker(name: string): LabMarker | undefined {
  try {
    return JSON.parse(readFileSync(markerPath(name), 'utf8')) as LabMarker;
  } catch {
    return undefined;
  }
}

function writeLabMarker(name: string, marker: LabMarker): void {
  mkdirSync(LAB_MARKER_DIR, { recursive: true });
  writeFileSync(markerPath(name), `${JSON.stringify(marker)}\n`);
}

function removeLabMarker(name: string): void {
  rmSync(markerPath(name), { force: true });
}

/**
 * Where the code that asked for a lab lives: the first stack frame in a
 * test file (source-mapped to .ts under --enable-source-maps), else the
 * script this process runs. Only used to name the test behind a leftover.
 */
function callerLocation(): string {
  const frames = (new Error().stack ?? '').split('\n').slice(1);
  for (const f of frames) {
    const m = /(?:\(|at )(?:file:\/\/)?([^()]+\.test\.[jt]s:\d+)/.exec(f);
    if (m) return m[1]!.replace(/^.*?\/(test\/)/, '$1');
  }
  return process.argv[1] ?? `pid ${process.pid}`;
}

export type LabVerdict =
  /** The owner still runs: the namespace is in use, leave it. */
  | 'live'
  /** The owner is gone (or its pid now belongs to another process). */
  | 'owner-gone'
  /** An old-format name, older than the limit, with no process inside. */
  | 'legacy-old'
  /** An old-format name, young enough that a run of older code may still use it. */
  | 'legacy-young'
  /**
   * An old-format name, old, but with processes inside: without an owner
   * there is no telling a leak from a lab someone still works in, so it stays.
   */
  | 'legacy-busy';

export interface LabFacts {
  readonly name: LabName;
  readonly marker?: LabMarker;
  /** Start time of the owner pid now; undefined when no such process exists. */
  readonly ownerStartNow?: number;
  /** Start time of the marker's creator pid now; undefined when no such process exists. */
  readonly creatorStartNow?: number;
  readonly ageMs: number;
  /** Whether processes run inside (only looked at for old-format names). */
  readonly busy?: boolean;
}

/** A process is the one recorded when it exists and, if its start time was recorded, started then. */
function sameProcess(startNow: number | undefined, recorded: number | undefined): boolean {
  return startNow !== undefined && (recorded === undefined || recorded === startNow);
}

/**
 * Whether a lab namespace may be swept (pure: every fact is a parameter).
 * It is live while its owner runs, and also while the process that created
 * it runs: a test file whose runner was killed is still using its lab.
 */
export function judgeLab(f: LabFacts, legacyMaxAgeMs: number = LEGACY_MAX_AGE_MS): LabVerdict {
  const owner = f.name.owner ?? f.marker?.owner;
  if (owner === undefined) {
    if (f.ageMs <= legacyMaxAgeMs) return 'legacy-young';
    return f.busy ? 'legacy-busy' : 'legacy-old';
  }
  const marker = f.marker?.owner === owner ? f.marker : undefined;
  if (sameProcess(f.ownerStartNow, marker?.ownerStart)) return 'live';
  if (marker && sameProcess(f.creatorStartNow, marker.creatorStart)) return 'live';
  return 'owner-gone';
}

function netnsNames(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return []; // no namespace was ever named on this machine
  }
}

/** Pids of the processes in namespace `name` (`ip netns pids`); [] when it is gone. */
async function netnsPids(name: string): Promise<number[]> {
  if (!existsSync(`/run/netns/${name}`)) return [];
  const r = await sh('ip', ['netns', 'pids', name]);
  return r.stdout.split('\n').filter((l) => l.trim() !== '').map(Number).filter((p) => Number.isInteger(p) && p > 0);
}

/**
 * Deletes namespace `name` for good: kills (SIGKILL) every process inside it,
 * `ip netns del`, and checks that the name is gone, retrying for about
 * `budgetMs`. A process left in a namespace would keep it, its sockets and
 * its nftables state alive after the name is gone, so none may stay. Throws
 * a PathguardError naming the namespace when it cannot be deleted, and
 * refuses to kill the calling process.
 */
export async function deleteNamespace(name: string, budgetMs = 3000): Promise<void> {
  const deadline = Date.now() + budgetMs;
  let why = '';
  for (let attempt = 0; ; attempt++) {
    try {
      const pids = await netnsPids(name);
      if (pids.includes(process.pid)) {
        throw new PathguardError('PG_LAB', `namespace ${name} cannot be deleted: this process (pid ${process.pid}) runs inside it`);
      }
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
        }
      }
      // A killed process leaves the namespace when it exits, not when it is signalled.
      if (pids.length > 0) await waitFor(async () => (await netnsPids(name)).length === 0, Math.max(100, deadline - Date.now()), 10);
      if (existsSync(`/run/netns/${name}`)) await sh('ip', ['netns', 'del', name]);
      if (!existsSync(`/run/netns/${name}`)) {
        removeLabMarker(name);
        return;
      }
      why = `/run/netns/${name} still exists after ip netns del`;
    } catch (err) {
      if (err instanceof PathguardError) throw err;
      why = (err as Error).message;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(20 * 2 ** attempt, 400));
  }
  const left = await netnsPids(name).catch(() => []);
  throw new PathguardError('PG_LAB', `namespace ${name} could not be deleted: ${why}${left.length > 0 ? ` (pids still inside: ${left.join(', ')})` : ''}`);
}

export class Lab {
  readonly id: string;
  /** The process that answers for this lab (see labOwner). */
  readonly owner: number;
  private readonly namespaces: Netns[] = [];
  private readonly children: ChildProcess[] = [];
  private readonly madeBy: string;

  constructor(tag: string, prefix: string = LAB_PREFIX) {
    const rand = Math.random().toString(36).slice(2, 7);
    this.owner = labOwner();
    this.id = `${prefix}${this.owner}-${tag.slice(0, 6)}-${rand}`;
    this.madeBy = `${callerLocation()} (lab tag ${tag})`;
  }

  /** Creates a namespace with loopback up; IPv6 DAD is off so addresses are usable at once. */
  async ns(short: string): Promise<Netns> {
    const name = `${this.id}-${short}`;
    // The marker comes first, so a crash between the two leaves a marker for a
    // namespace that does not exist (harmless, swept) rather than the reverse.
    const ownerStart = processStartTime(this.owner);
    const creatorStart = processStartTime(process.pid);
    writeLabMarker(name, {
      owner: this.owner,
      ...(ownerStart !== undefined ? { ownerStart } : {}),
      creator: process.pid,
      ...(creatorStart !== undefined ? { creatorStart } : {}),
      madeBy: this.madeBy,
      created: new Date().toISOString(),
    });
    try {
      await sh('ip', ['netns', 'add', name]);
    } catch (err) {
      removeLabMarker(name);
      throw err;
    }
    const ns = new Netns(this, short, name);
    this.namespaces.push(ns);
    await ns.up('lo');
    await ns.sysctl('net.ipv6.conf.all.accept_dad', 0);
    await ns.sysctl('net.ipv6.conf.default.accept_dad', 0);
    return ns;
  }

  /** A veth pair between two namespaces, both ends up. */
  async veth(a: Netns, aDev: string, b: Netns, bDev: string, opts: { mtu?: number } = {}): Promise<void> {
    const tmpA = `pv${Math.random().toString(36).slice(2, 9)}`;
    const tmpB = `pv${Math.random().toString(36).slice(2, 9)}`;
    await sh('ip', ['link', 'add', tmpA, 'type', 'veth', 'peer', 'name', tmpB]);
    try {
      await sh('ip', ['link', 'set', tmpA, 'netns', a.name, 'name', aDev]);
      await sh('ip', ['link', 'set', tmpB, 'netns', b.name, 'name', bDev]);
    } catch (err) {
      await sh('ip', ['link', 'del', tmpA]).catch(() => undefined);
      throw err;
    }
    if (opts.mtu !== undefined) {
      await a.mtu(aDev, opts.mtu);
      await b.mtu(bDev, opts.mtu);
    }
    await a.up(aDev);
    await b.up(bDev);
  }

  /** A bridge inside `ns`, up. */
  async bridge(ns: Netns, dev: string): Promise<void> {
    await ns.ip('link', 'add', dev, 'type', 'bridge');
    await ns.up(dev);
  }

  /** Enslaves `dev` to `bridge` inside `ns`. */
  async enslave(ns: Netns, dev: string, bridge: string): Promise<void> {
    await ns.ip('link', 'set', dev, 'master', bridge);
  }

  track(child: ChildProcess): void {
    this.children.push(child);
  }

  /** The namespaces of this lab that still exist. */
  get names(): readonly string[] {
    return this.namespaces.map((n) => n.name);
  }

  /**
   * Ends every process in the lab and deletes every namespace: tracked
   * children first (so their 'close' events fire), then whatever else runs
   * inside (see deleteNamespace). Tries every namespace, then throws one
   * PathguardError naming each that could not be deleted.
   */
  async teardown(): Promise<void> {
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
    // 'exit', not 'close': a child's pipes stay open while a process it started
    // still runs, and those are ended below, with everything else inside.
    await Promise.all(
      this.children.map(
        (c) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r()))),
      ),
    );
    this.children.length = 0;
    const failed: string[] = [];
    for (const ns of [...this.namespaces].reverse()) {
      try {
        await deleteNamespace(ns.name);
      } catch (err) {
        failed.push((err as Error).message);
        continue;
      }
      // A second teardown running at the same time (the demo's Ctrl-C) may have removed it already.
      const i = this.namespaces.indexOf(ns);
      if (i >= 0) this.namespaces.splice(i, 1);
    }
    if (failed.length > 0) throw new PathguardError('PG_LAB', `lab ${this.id} teardown: ${failed.join('; ')}`);
  }
}

/** Runs `fn` with a fresh lab and always tears it down; a failed teardown fails the call. */
export async function withLab<T>(tag: string, fn: (lab: Lab) => Promise<T>, prefix: string = LAB_PREFIX): Promise<T> {
  const lab = new Lab(tag, prefix);
  let result: T;
  try {
    result = await fn(lab);
  } catch (err) {
    try {
      await lab.teardown();
    } catch (teardownErr) {
      throw new AggregateError([err, teardownErr], `${(err as Error).message}; and then ${(teardownErr as Error).message}`);
    }
    throw err;
  }
  await lab.teardown();
  return result;
}

export interface SweptLab {
  readonly name: string;
  readonly verdict: LabVerdict;
  /** Looked stale but was left alone (legacy-busy); reported so someone can look. */
  readonly kept?: boolean;
  readonly owner?: number;
  readonly madeBy?: string;
  /** Why it could not be deleted; absent when it was. */
  readonly error?: string;
}

async function labFacts(name: string, parsed: LabName): Promise<LabFacts> {
  const marker = readLabMarker(name);
  const owner = parsed.owner ?? marker?.owner;
  let ageMs = 0;
  try {
    // The nsfs inode behind the name carries the namespace's creation time.
    ageMs = Date.now() - statSync(`/run/netns/${name}`).mtimeMs;
  } catch {
    // gone meanwhile: age 0 keeps a legacy name
  }
  const ownerStartNow = owner !== undefined ? processStartTime(owner) : undefined;
  const creatorStartNow = marker !== undefined ? processStartTime(marker.creator) : undefined;
  // A failed look counts as busy: when in doubt, an ownerless namespace stays.
  const busy = owner === undefined ? await netnsPids(name).then((p) => p.length > 0, () => true) : undefined;
  return {
    ...(busy !== undefined ? { busy } : {}),
    name: parsed,
    ...(marker ? { marker } : {}),
    ...(ownerStartNow !== undefined ? { ownerStartNow } : {}),
    ...(creatorStartNow !== undefined ? { creatorStartNow } : {}),
    ageMs,
  };
}

/**
 * Deletes lab namespaces left by runs that are over: those whose owner
 * process is gone, and old-format names older than `legacyMaxAgeMs` with no
 * process inside (returned, not deleted, when processes are inside).
 * Namespaces of live owners (other runs on this machine) and of other
 * prefixes are never touched. Markers without a namespace are removed.
 */
export async function sweepStaleLabs(opts: { prefixes?: readonly string[]; legacyMaxAgeMs?: number } = {}): Promise<SweptLab[]> {
  const prefixes = opts.prefixes ?? LAB_PREFIXES;
  const out: SweptLab[] = [];
  for (const name of netnsNames()) {
    const parsed = parseLabName(name, prefixes);
    if (!parsed) continue;
    const facts = await labFacts(name, parsed);
    const verdict = judgeLab(facts, opts.legacyMaxAgeMs);
    if (verdict === 'live' || verdict === 'legacy-young') continue;
    if (verdict === 'legacy-busy') {
      out.push({ name, verdict, kept: true });
      continue;
    }
    const owner = parsed.owner ?? facts.marker?.owner;
    const base = { name, verdict, ...(owner !== undefined ? { owner } : {}), ...(facts.marker ? { madeBy: facts.marker.madeBy } : {}) };
    try {
      await deleteNamespace(name);
      out.push(base);
    } catch (err) {
      out.push({ ...base, error: (err as Error).message });
    }
  }
  sweepOrphanMarkers(prefixes);
  return out;
}

/** Removes markers whose namespace no longer exists and whose owner is gone. */
function sweepOrphanMarkers(prefixes: readonly string[]): void {
  let files: string[];
  try {
    files = readdirSync(LAB_MARKER_DIR);
  } catch {
    return;
  }
  for (const f of files) {
    if (!f.endsWith('.owner')) continue;
    const name = f.slice(0, -'.owner'.length);
    if (!parseLabName(name, prefixes) || existsSync(`/run/netns/${name}`)) continue;
    const m = readLabMarker(name);
    // A live creator may be between writing the marker and `ip netns add`.
    if (m && (processStartTime(m.owner) !== undefined || processStartTime(m.creator) !== undefined)) continue;
    removeLabMarker(name);
  }
}

export interface OwnedLab {
  readonly name: string;
  readonly madeBy?: string;
  readonly creator?: number;
}

/** The lab namespaces that `owner` answers for and that still exist. */
export function labsOwnedBy(owner: number, prefixes: readonly string[] = LAB_PREFIXES): OwnedLab[] {
  return netnsNames()
    .filter((name) => parseLabName(name, prefixes)?.owner === owner)
    .map((name) => {
      const m = readLabMarker(name);
      return { name, ...(m ? { madeBy: m.madeBy, creator: m.creator } : {}) };
    });
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(probe: () => Promise<T> | T, timeoutMs = 5000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    }
    await sleep(stepMs);
  }
}
