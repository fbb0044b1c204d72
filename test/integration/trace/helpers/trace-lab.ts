// The tracer's lab: client C — router R — server S, IPv4 and IPv6, with a
// 1400-byte link between R and S (so a 1500-byte DF packet from C is too
// big at R), and `pathguard trace` run as a process with --json and
// --ready-file, stopped with SIGINT.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { objExists, type BpfObjectKind } from '../../../../src/sys/bpf.js';
import { close } from '../../../../src/sys/libc.js';
import { waitFor, type Lab, type Netns } from '../../../harness/netns.js';

export interface RouterLab {
  c: Netns;
  r: Netns;
  s: Netns;
}

export const C4 = '198.51.100.1';
export const R4_IN = '198.51.100.254';
export const R4_OUT = '203.0.113.254';
export const S4 = '203.0.113.1';
export const C6 = '2001:db8:1::1';
export const R6_IN = '2001:db8:1::fe';
export const S6 = '2001:db8:2::1';

export async function routerLab(lab: Lab): Promise<RouterLab> {
  const c = await lab.ns('c');
  const r = await lab.ns('r');
  const s = await lab.ns('s');
  await lab.veth(c, 'eth0', r, 'eth0');
  await lab.veth(r, 'eth1', s, 'eth0', { mtu: 1400 });
  await c.addr('eth0', `${C4}/24`);
  await r.addr('eth0', `${R4_IN}/24`);
  await r.addr('eth1', `${R4_OUT}/24`);
  await s.addr('eth0', `${S4}/24`);
  await s.addr('eth0', '203.0.113.2/24');
  await c.addr('eth0', `${C6}/64`);
  await r.addr('eth0', `${R6_IN}/64`);
  await r.addr('eth1', '2001:db8:2::fe/64');
  await s.addr('eth0', `${S6}/64`);
  await c.route('default', 'via', R4_IN);
  await s.route('default', 'via', R4_OUT);
  await c.route('default', 'via', R6_IN);
  await s.route('default', 'via', '2001:db8:2::fe');
  await r.forwarding();
  // neighbours resolved before tracing, so no packet waits in a neighbour queue
  await c.exec('ping', ['-c1', '-W2', S4]);
  await c.exec('ping', ['-6', '-c1', '-W2', S6]);
  return { c, r, s };
}

/** The inode of a namespace, as the tracer reports it (net->ns.inum). */
export function netnsInode(ns: Netns): number {
  return statSync(ns.path).ino;
}

const ENTRY = fileURLToPath(new URL('../../../../src/cli/main.js', import.meta.url));

export interface TraceEventJson {
  event: string;
  packet: number;
  netns: number;
  dev: string;
  ifindex: number;
  len: number;
  src?: string;
  dst?: string;
  proto?: string;
  sport?: number;
  dport?: number;
  reason?: string;
  location?: string;
  type?: number;
  code?: number;
  mtu?: number;
  table?: number;
  result?: string;
  iif?: number;
  oif?: number;
  gateway?: string;
  unfiltered?: boolean;
  drops?: { reason: string; location: string; count: number }[];
  lost?: number;
}

export interface TraceRun {
  readonly child: ChildProcess;
  readonly ready: { mode: string; ids?: { progs: number[]; maps: number[]; links: number[] } };
  /** The events printed so far. */
  events(): TraceEventJson[];
  /** Waits until the events printed so far satisfy `ok` (then stop() loses nothing the test needs). */
  until(ok: (events: TraceEventJson[]) => boolean, timeoutMs?: number): Promise<void>;
  /** SIGINT, then the parsed output once the process has exited. */
  stop(): Promise<{ code: number | null; events: TraceEventJson[]; stderr: string }>;
}

/** Starts `pathguard trace ARGS --json --ready-file F` and waits until the probes are attached. */
export async function startTrace(args: readonly string[]): Promise<TraceRun> {
  const dir = mkdtempSync(join(tmpdir(), 'pg-trace-'));
  const readyPath = join(dir, 'ready');
  const child = spawn(process.execPath, [ENTRY, 'trace', ...args, '--json', '--ready-file', readyPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  try {
    await waitFor(() => existsSync(readyPath) || child.exitCode !== null, 20_000);
    if (!existsSync(readyPath)) throw new Error(`trace exited ${child.exitCode} before it was ready: ${stderr}`);
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const ready = JSON.parse(readFileSync(readyPath, 'utf8')) as TraceRun['ready'];
  // incremental: the tracer blocks on a full pipe, so the reader must stay cheap
  const parsed: TraceEventJson[] = [];
  let consumed = 0;
  const parse = (): TraceEventJson[] => {
    const end = stdout.lastIndexOf('\n');
    if (end >= consumed) {
      for (const l of stdout.slice(consumed, end).split('\n')) if (l.startsWith('{')) parsed.push(JSON.parse(l) as TraceEventJson);
      consumed = end + 1;
    }
    return parsed;
  };
  return {
    child,
    ready,
    events: parse,
    async until(ok, timeoutMs = 5000) {
      try {
        await waitFor(() => ok(parse()), timeoutMs);
      } catch (err) {
        throw new Error(`${String(err)}; events so far:\n${parse().map((e) => JSON.stringify(e)).join('\n')}\nstderr: ${stderr}`);
      }
    },
    async stop() {
      child.kill('SIGINT');
      const code = await exited;
      rmSync(dir, { recursive: true, force: true });
      return { code, events: parse(), stderr };
    },
  };
}

/**
 * The ids of the ready file still loaded after the kernel has had up to
 * `timeoutMs` to free them: the last close of a map or program only
 * schedules its release (bpf_map_put() defers the free to a workqueue,
 * programs go after an RCU grace period), so an id can be enumerable for a
 * moment after the tracer exited. What is still there after that leaked.
 */
export async function settledLeftovers(ids: { progs: number[]; maps: number[]; links: number[] } | undefined, timeoutMs = 5000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = leftovers(ids);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The ids of the ready file that are still loaded (should be none once the tracer has exited). */
export function leftovers(ids: { progs: number[]; maps: number[]; links: number[] } | undefined): string[] {
  if (!ids) return [];
  const out: string[] = [];
  for (const [kind, list] of [['prog', ids.progs], ['map', ids.maps], ['link', ids.links]] as [BpfObjectKind, number[]][]) {
    for (const id of list) if (objExists(kind, id, close)) out.push(`${kind} ${id}`);
  }
  return out;
}
