/**
 * Applies and reads pathguard's nftables table through nft(8). `nft -f -`
 * with the ruleset on stdin is the one subprocess the agent runs: libnftables
 * turns the text into a single nf_tables netlink batch (NFNL_MSG_BATCH_BEGIN
 * ... NFNL_MSG_BATCH_END, include/uapi/linux/netfilter/nfnetlink.h) that the
 * kernel commits all-or-nothing. It is used on configuration and peer
 * changes, never per packet or on a timer.
 *
 * The functions here do not serialise themselves: the caller (the agent's
 * firewall owner) issues one at a time. Concurrent transactions would not
 * corrupt anything — the kernel serialises commits — but the last writer
 * would win.
 */
import { spawn } from 'node:child_process';
import { PathguardError, DecodeError, SyscallError, UnsupportedError } from '../errors.js';
import {
  PATHGUARD_TABLE,
  peerSetsUpdate,
  removeTableRuleset,
  type PeerElements,
} from './ruleset.js';

export interface NftOptions {
  /** Run inside this named network namespace (`ip netns exec NAME nft ...`); default: the current one. */
  readonly netns?: string;
  /** Give up (and kill nft) after this long; default 10 s. */
  readonly timeoutMs?: number;
}

/**
 * nft ran and failed: the text did not parse or the kernel refused the
 * transaction. `stderr` is nft's own explanation, with line and column.
 * Code PG_NFT: the failure is nf_tables' answer (or libnftables' parser
 * in front of it), not a syscall of ours.
 */
export class NftError extends PathguardError {
  readonly args: readonly string[];
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(args: readonly string[], exitCode: number | null, stderr: string) {
    super('PG_NFT', `nft ${args.join(' ')} failed (exit ${exitCode ?? 'signal'}): ${stderr.trim() || 'no message'}`);
    this.args = args;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

const NETNS_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

interface NftResult {
  stdout: string;
  stderr: string;
}

/** Runs nft with `args`, feeding `input` on stdin. */
function runNft(args: readonly string[], input: string, opts: NftOptions): Promise<NftResult> {
  let cmd = 'nft';
  let argv: string[] = [...args];
  if (opts.netns !== undefined) {
    if (!NETNS_NAME.test(opts.netns)) {
      return Promise.reject(new UnsupportedError('netns', `not a network namespace name: ${JSON.stringify(opts.netns)}`));
    }
    cmd = 'ip';
    argv = ['netns', 'exec', opts.netns, 'nft', ...args];
  }
  return new Promise<NftResult>((resolve, reject) => {
    // Commands that read nothing get no stdin pipe: nft may exit before reading it (EPIPE).
    const child = spawn(cmd, argv, { stdio: [input === '' ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let stdinError: Error | undefined;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 10_000);
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ENOENT') {
        reject(new UnsupportedError('nftables', `${cmd} is not installed (Debian/Ubuntu: apt install nftables)`));
      } else {
        reject(new SyscallError('spawn', Math.abs(err.errno ?? 0), err.code ?? 'UNKNOWN', cmd));
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) reject(new PathguardError('PG_TIMEOUT', `nft ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 10_000} ms`));
      else if (code === 0 && stdinError !== undefined) reject(new NftError(args, code, `stdin: ${stdinError.message}`));
      else if (code === 0) resolve({ stdout, stderr });
      else reject(new NftError(args, code, stderr));
    });
    // nft exits early on some errors (EPIPE on our write); its exit status and
    // stderr explain those, so the stdin error only decides when nft exits 0.
    if (child.stdin) {
      child.stdin.on('error', (err) => (stdinError = err));
      child.stdin.end(input);
    }
  });
}

/** Applies a ruleset (from ./ruleset.ts) as one transaction: `nft -f -`. */
export async function applyRuleset(text: string, opts: NftOptions = {}): Promise<void> {
  await runNft(['-f', '-'], text, opts);
}

/** Checks a ruleset against the kernel without committing it: `nft -c -f -`. */
export async function checkRuleset(text: string, opts: NftOptions = {}): Promise<void> {
  await runNft(['-c', '-f', '-'], text, opts);
}

/** Replaces the peer sets' contents in one transaction (flush set + add element). */
export async function updatePeerSets(peers: PeerElements, opts: NftOptions = {}): Promise<void> {
  await runNft(['-f', '-'], peerSetsUpdate(peers), opts);
}

/** Deletes pathguard's table; succeeds when it does not exist. */
export async function removeTable(opts: NftOptions = {}): Promise<void> {
  await runNft(['-f', '-'], removeTableRuleset(), opts);
}

export interface NftCounter {
  readonly packets: number;
  readonly bytes: number;
}

/**
 * The named counters of pathguard's table, from
 * `nft -j list table inet pathguard` (libnftables-json(5): one
 * `{"counter": {family, table, name, packets, bytes}}` object per counter).
 */
export async function readCounters(opts: NftOptions = {}): Promise<Map<string, NftCounter>> {
  const { stdout } = await runNft(['-j', 'list', 'table', PATHGUARD_TABLE.family, PATHGUARD_TABLE.name], '', opts);
  return parseCounters(stdout);
}

/** Extracts the named counters of pathguard's table from nft's JSON output. */
export function parseCounters(json: string): Map<string, NftCounter> {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    throw new DecodeError('nft json', `not JSON: ${(err as Error).message}`, 0);
  }
  const items = (doc as { nftables?: unknown } | null)?.nftables;
  if (!Array.isArray(items)) throw new DecodeError('nft json', 'no "nftables" array', 0);
  const out = new Map<string, NftCounter>();
  items.forEach((item: unknown, i) => {
    const c = (item as { counter?: unknown } | null)?.counter as Record<string, unknown> | undefined;
    if (c === undefined || c === null || typeof c !== 'object') return; // tables, sets, chains, rules, metainfo
    if (c.family !== PATHGUARD_TABLE.family || c.table !== PATHGUARD_TABLE.name) return;
    const { name, packets, bytes } = c;
    if (typeof name !== 'string' || !Number.isSafeInteger(packets) || !Number.isSafeInteger(bytes)) {
      throw new DecodeError('nft json', `counter entry ${i} lacks name/packets/bytes`, 0);
    }
    out.set(name, { packets: packets as number, bytes: bytes as number });
  });
  return out;
}

/**
 * The whole ruleset of the namespace as libnftables-json(5) objects
 * (`nft -j list ruleset`: metainfo, table, chain, rule, set, map... one
 * object each). Read-only; the doctor's snapshot keeps it as it comes.
 */
export async function listRulesetJson(opts: NftOptions = {}): Promise<Record<string, unknown>[]> {
  const { stdout } = await runNft(['-j', 'list', 'ruleset'], '', opts);
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch (err) {
    throw new DecodeError('nft json', `not JSON: ${(err as Error).message}`, 0);
  }
  const items = (doc as { nftables?: unknown } | null)?.nftables;
  if (!Array.isArray(items)) throw new DecodeError('nft json', 'no "nftables" array', 0);
  return items.filter((i): i is Record<string, unknown> => typeof i === 'object' && i !== null && !Array.isArray(i));
}

export type NftAvailability =
  | { readonly available: true; readonly version: string }
  | { readonly available: false; readonly reason: string };

/**
 * Whether pathguard can manage its table here, with a plain reason when not:
 * nft missing, no nf_tables in the kernel, or no CAP_NET_ADMIN.
 */
export async function nftAvailable(opts: NftOptions = {}): Promise<NftAvailability> {
  let version: string;
  try {
    version = (await runNft(['--version'], '', opts)).stdout.trim();
  } catch (err) {
    return { available: false, reason: reasonOf(err) };
  }
  try {
    // Talks to the kernel: fails without nf_tables or without CAP_NET_ADMIN.
    await runNft(['list', 'tables'], '', opts);
  } catch (err) {
    if (err instanceof NftError) {
      const s = err.stderr;
      if (/Protocol not supported|Address family not supported/i.test(s)) {
        return { available: false, reason: 'the kernel has no nf_tables support (CONFIG_NF_TABLES, module nf_tables)' };
      }
      if (/Operation not permitted|Permission denied/i.test(s)) {
        return { available: false, reason: 'managing nftables needs CAP_NET_ADMIN (run as root or grant the capability)' };
      }
    }
    return { available: false, reason: reasonOf(err) };
  }
  return { available: true, version };
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * `nft list table FAMILY NAME` as text, or undefined when the table does not
 * exist (nft answers ENOENT: "No such file or directory").
 */
export async function listTable(family: string, name: string, opts: NftOptions = {}): Promise<string | undefined> {
  if (!/^[a-z0-9]+$/.test(family) || !/^[A-Za-z0-9_]+$/.test(name)) {
    throw new UnsupportedError('nftables', `not a table: ${JSON.stringify(`${family} ${name}`)}`);
  }
  try {
    return (await runNft(['list', 'table', family, name], '', opts)).stdout;
  } catch (err) {
    if (err instanceof NftError && /No such file or directory/.test(err.stderr)) return undefined;
    throw err;
  }
}
