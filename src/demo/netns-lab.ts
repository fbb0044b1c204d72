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
 * callback ends, also when it throws. Namespace names carry a per-run prefix,
 * so two labs never collide and a crashed run leaves recognisable leftovers
 * (`ip netns | grep ^pgt-`), which `sweepStaleLabs()` removes.
 *
 * Only documentation prefixes are accepted as addresses: 192.0.2.0/24,
 * 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readdirSync } from 'node:fs';

const execFileP = promisify(execFile);

export const LAB_PREFIX = 'pgt-';


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

export class Lab {
  readonly id: string;
  private readonly namespaces: Netns[] = [];
  private readonly children: ChildProcess[] = [];

  constructor(tag: string, prefix: string = LAB_PREFIX) {
    const rand = Math.random().toString(36).slice(2, 7);
    this.id = `${prefix}${tag.slice(0, 6)}-${rand}`;
  }

  /** Creates a namespace with loopback up; IPv6 DAD is off so addresses are usable at once. */
  async ns(short: string): Promise<Netns> {
    const name = `${this.id}-${short}`;
    await sh('ip', ['netns', 'add', name]);
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

  /** Kills tracked processes and deletes every namespace. Never throws. */
  async teardown(): Promise<void> {
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
    await Promise.all(
      this.children.map(
        (c) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('close', () => r()))),
      ),
    );
    for (const ns of this.namespaces.reverse()) {
      await sh('ip', ['netns', 'del', ns.name]).catch(() => undefined);
    }
    this.namespaces.length = 0;
  }
}

/** Runs `fn` with a fresh lab and always tears it down. */
export async function withLab<T>(tag: string, fn: (lab: Lab) => Promise<T>, prefix: string = LAB_PREFIX): Promise<T> {
  const lab = new Lab(tag, prefix);
  try {
    return await fn(lab);
  } finally {
    await lab.teardown();
  }
}

/** Deletes namespaces left by crashed runs (names starting with LAB_PREFIX). */
export async function sweepStaleLabs(prefix: string = LAB_PREFIX): Promise<number> {
  let names: string[] = [];
  try {
    names = readdirSync('/run/netns').filter((n) => n.startsWith(prefix));
  } catch {
    return 0;
  }
  for (const n of names) await sh('ip', ['netns', 'del', n]).catch(() => undefined);
  return names.length;
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
