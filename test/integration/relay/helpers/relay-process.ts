/**
 * `pathguard relay` as a real process inside a lab namespace, the way an
 * operator runs it: started with a --ready-file that the test waits on
 * (never a sleep), scraped over HTTP on its --metrics-addr (each namespace
 * has its own loopback, so every relay can listen on 127.0.0.1:9462), and
 * stopped with a signal.
 *
 * The binary is the build these tests were compiled into
 * (<build>/src/cli/main.js), so a test always exercises the code next to it.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, waitFor, withLab, type Lab, type Netns } from '../../../harness/netns.js';

/** The CLI entry point of this build. */
export const PATHGUARD_MAIN = fileURLToPath(new URL('../../../../src/cli/main.js', import.meta.url));

export const METRICS_PORT = 9462;

/** withLab plus a scratch directory for ready files, both removed afterwards. */
export async function withRelayLab<T>(tag: string, fn: (lab: Lab, dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'pgt-relay-'));
  try {
    return await withLab(tag, (lab) => fn(lab, dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One Prometheus text exposition, parsed. */
export class Metrics {
  private readonly series = new Map<string, number>();

  constructor(text: string) {
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
      if (!m) throw new Error(`metrics: unparsable line ${JSON.stringify(line)}`);
      const labels = m[3] === undefined ? [] : [...m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((l) => `${l[1]}=${l[2]}`);
      this.series.set(Metrics.key(m[1]!, labels.sort()), Number(m[4]));
    }
  }

  private static key(name: string, labels: readonly string[]): string {
    return labels.length === 0 ? name : `${name}{${labels.join(',')}}`;
  }

  /** The value of one series; throws when it is not exposed (a renamed metric must fail loudly). */
  get(name: string, labels: Readonly<Record<string, string>> = {}): number {
    const key = Metrics.key(name, Object.entries(labels).map(([k, v]) => `${k}=${v}`).sort());
    const v = this.series.get(key);
    if (v === undefined) throw new Error(`metrics: no series ${key}`);
    return v;
  }

  /** The non-zero series whose names start with `prefix`, one per line (for failure messages). */
  dump(prefix: string): string {
    return [...this.series].filter(([k, v]) => k.startsWith(prefix) && v !== 0).map(([k, v]) => `${k} ${v}`).join('\n');
  }
}

export interface RelayOptions {
  /** Directory for the ready file (from withRelayLab). */
  readonly dir: string;
  /** Flags after `relay`; --ready-file, --metrics-addr and --log-level are added unless given. */
  readonly args: readonly string[];
  readonly metricsPort?: number;
  /** Name of the ready file inside `dir` (default: the namespace's short name). */
  readonly name?: string;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class RelayProcess {
  readonly ns: Netns;
  readonly child: ChildProcess;
  readonly readyFile: string;
  readonly metricsPort: number;
  private err = '';
  readonly exited: Promise<Exit>;

  private constructor(ns: Netns, child: ChildProcess, readyFile: string, metricsPort: number) {
    this.ns = ns;
    this.child = child;
    this.readyFile = readyFile;
    this.metricsPort = metricsPort;
    child.stderr?.on('data', (d: Buffer) => (this.err += d.toString()));
    child.stdout?.on('data', (d: Buffer) => (this.err += d.toString()));
    this.exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  }

  /** Starts the relay without waiting for it (the lab kills it at teardown if the test does not stop it). */
  static spawn(ns: Netns, o: RelayOptions): RelayProcess {
    const port = o.metricsPort ?? METRICS_PORT;
    const readyFile = join(o.dir, `${o.name ?? ns.short}.ready`);
    const has = (flag: string) => o.args.some((a) => a === flag || a.startsWith(`${flag}=`));
    const args = [
      PATHGUARD_MAIN,
      'relay',
      ...o.args,
      ...(has('--ready-file') ? [] : ['--ready-file', readyFile]),
      ...(has('--metrics-addr') ? [] : ['--metrics-addr', `127.0.0.1:${port}`]),
      ...(has('--log-level') ? [] : ['--log-level', 'warn']),
    ];
    return new RelayProcess(ns, ns.spawn(process.execPath, args), readyFile, port);
  }

  /** Starts the relay and waits for its ready file; throws (with its output) when it exits first. */
  static async start(ns: Netns, o: RelayOptions): Promise<RelayProcess> {
    const r = RelayProcess.spawn(ns, o);
    await r.ready();
    return r;
  }

  /** Waits for the ready file; throws at once, with the relay's output, if the relay exits first. */
  async ready(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`the relay in ${this.ns.short} exited (${this.child.exitCode ?? this.child.signalCode}) before it was ready: ${this.output.trim()}`);
      }
      if (existsSync(this.readyFile)) return;
      if (Date.now() > deadline) throw new Error(`the relay in ${this.ns.short} was not ready after ${timeoutMs} ms: ${this.output.trim()}`);
      await sleep(20);
    }
  }

  /** Kills the relay (SIGKILL) if it still runs and waits for it: clean-up after a failed assertion. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Everything the relay wrote to stdout and stderr so far. */
  get output(): string {
    return this.err;
  }

  /** GET `path` on the metrics address from inside the namespace: status code and body. */
  async get(path: string): Promise<{ status: number; body: string }> {
    const r = await this.ns.exec('curl', ['-s', '--max-time', '5', '-w', '\n%{http_code}', `http://127.0.0.1:${this.metricsPort}${path}`]);
    const at = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(at + 1)), body: r.stdout.slice(0, at) };
  }

  async metrics(): Promise<Metrics> {
    const r = await this.get('/metrics');
    if (r.status !== 200) throw new Error(`/metrics answered ${r.status}: ${r.body}`);
    return new Metrics(r.body);
  }

  /** Waits until pathguard_relay_`what` equals `value`; the error shows the last scrape's non-zero relay series. */
  async waitForMetric(what: string, value: number, timeoutMs = 5000, labels: Readonly<Record<string, string>> = {}): Promise<void> {
    let last: Metrics | undefined;
    try {
      await waitFor(async () => {
        last = await this.metrics();
        return last.get(`pathguard_relay_${what}`, labels) === value;
      }, timeoutMs);
    } catch (err) {
      throw new Error(`${(err as Error).message}: ${what} never reached ${value}; last scrape:\n${last?.dump('pathguard_relay_') ?? '(none)'}`);
    }
  }

  /** Sends `signal` and waits for the exit (SIGKILL and a thrown error after `timeoutMs`). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<Exit> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), timeoutMs)));
    const e = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (e === 'late') {
      this.child.kill('SIGKILL');
      throw new Error(`the relay in ${this.ns.short} did not exit within ${timeoutMs} ms of ${signal}: ${this.output.trim()}`);
    }
    return e;
  }
}

/**
 * Starts several relays at once and waits until all are ready; if one fails,
 * kills the others before throwing, so the next test finds its NFLOG groups free.
 */
export async function startRelays(specs: readonly (RelayOptions & { ns: Netns })[]): Promise<RelayProcess[]> {
  const relays = specs.map((s) => RelayProcess.spawn(s.ns, s));
  const results = await Promise.allSettled(relays.map((r) => r.ready()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await killRelays(relays);
    throw failed.reason;
  }
  return relays;
}

/** Kills every relay still running (for `finally` blocks). */
export async function killRelays(relays: readonly RelayProcess[]): Promise<void> {
  await Promise.all(relays.map((r) => r.kill()));
}

/** Named counters of nftables table `inet NAME` in `ns` (packets), from `nft -j list counters`. */
export async function nftCounters(ns: Netns, table: string): Promise<Map<string, number>> {
  const r = await ns.exec('nft', ['-j', 'list', 'counters', 'table', 'inet', table]);
  const out = new Map<string, number>();
  const doc = JSON.parse(r.stdout) as { nftables: { counter?: { name: string; table: string; packets: number } }[] };
  for (const item of doc.nftables) {
    if (item.counter && item.counter.table === table) out.set(item.counter.name, item.counter.packets);
  }
  return out;
}

/** True when table `inet NAME` exists in `ns`. */
export async function nftTableExists(ns: Netns, table: string): Promise<boolean> {
  const r = await ns.exec('nft', ['-j', 'list', 'tables']);
  const doc = JSON.parse(r.stdout) as { nftables: { table?: { family: string; name: string } }[] };
  return doc.nftables.some((i) => i.table?.family === 'inet' && i.table.name === table);
}
