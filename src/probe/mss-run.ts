/**
 * `probe mss VIP:PORT`: an ordinary TCP connection (the kernel's own
 * handshake) to the service, with a raw TCP socket open beside it that reads
 * the SYN-ACK, so the MSS option is the one the service (or a clamp on its
 * way) put in it, not the kernel's derived send MSS (TCP_MAXSEG, which also
 * subtracts the timestamp option and follows the local path MTU).
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ProbeSocket } from '../net/probe-socket.js';
import { decodeIPv4, IPPROTO } from '../wire/ipv4.js';
import { decodeTcp, TCP_FLAGS, type TcpSegment } from '../wire/tcp.js';
import { addressEqual, formatAddress } from '../wire/ip-address.js';
import { DecodeError } from '../errors.js';
import type { FdWatch } from '../sys/libc.js';
import type { MssConfig } from './config.js';

/**
 * The SYN-ACK reaches the raw socket's queue before the connection is
 * established, but its poll callback may run after 'connect' fired: how long
 * to wait for that callback.
 */
const SYN_ACK_GRACE_MS = 500;

export interface MssResult {
  readonly ok: boolean;
  readonly target: string;
  readonly port: number;
  readonly source?: string;
  readonly localPort?: number;
  /** Time from connect() to the established connection. */
  readonly rttMs?: number;
  /** The MSS option of the SYN-ACK; absent when it carried none. */
  readonly mss?: number;
  /** Every option kind of the SYN-ACK, in order (2 MSS, 3 window scale, 4 SACK permitted, 8 timestamps). */
  readonly options?: readonly number[];
  readonly error?: string;
}

/** SYN-ACKs from `dst`:`port` read off a raw TCP socket (IPv4 reads start at the IP header). */
export function synAckFrom(family: 4 | 6, data: Uint8Array, from: Uint8Array, dst: Uint8Array, port: number): TcpSegment | undefined {
  try {
    if (!addressEqual(from, dst)) return undefined;
    let seg = data;
    if (family === 4) {
      const ip = decodeIPv4(data);
      if (ip.protocol !== IPPROTO.TCP) return undefined;
      seg = ip.payload;
    }
    const tcp = decodeTcp(seg);
    const synAck = (tcp.flags & (TCP_FLAGS.SYN | TCP_FLAGS.ACK)) === (TCP_FLAGS.SYN | TCP_FLAGS.ACK);
    return synAck && tcp.srcPort === port ? tcp : undefined;
  } catch (err) {
    if (err instanceof DecodeError) return undefined;
    throw err;
  }
}

/** The kinds of the options in a SYN-ACK, in order. */
export function optionKinds(options: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < options.length; ) {
    const k = options[i]!;
    if (k === 0) break;
    if (k === 1) {
      i++;
      continue;
    }
    out.push(k);
    const len = options[i + 1] ?? 0;
    if (len < 2) break;
    i += len;
  }
  return out;
}

function attempt(cfg: MssConfig): Promise<{ socket: Socket; rttMs: number } | { error: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = connect({ host: formatAddress(cfg.target), port: cfg.port, family: cfg.target.byteLength === 4 ? 4 : 6 });
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ error: `no connection within ${cfg.waitMs} ms` });
    }, cfg.waitMs);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve({ socket: s, rttMs: Math.round((performance.now() - t0) * 1000) / 1000 });
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      s.destroy();
      resolve({ error: err.code ?? err.message });
    });
  });
}

export async function runMss(cfg: MssConfig): Promise<MssResult> {
  const family = cfg.target.byteLength === 4 ? 4 : 6;
  const base = { target: formatAddress(cfg.target), port: cfg.port };
  const raw = ProbeSocket.open({ family, kind: 'tcp' });
  const seen: TcpSegment[] = [];
  let onSeen: (() => void) | undefined;
  const watch: FdWatch = raw.onReadable(() => {
    for (let p = raw.receive(); p !== undefined; p = raw.receive()) {
      const t = synAckFrom(family, p.data, p.from, cfg.target, cfg.port);
      if (t) seen.push({ ...t, options: t.options.slice() });
    }
    onSeen?.();
  });
  /** The SYN-ACK to `localPort`: read already, or as soon as the raw socket's poll callback runs. */
  const synAckTo = (localPort: number): Promise<TcpSegment | undefined> =>
    new Promise((resolve) => {
      const find = () => seen.find((t) => t.dstPort === localPort);
      const now = find();
      if (now !== undefined) return resolve(now);
      const timer = setTimeout(() => {
        onSeen = undefined;
        resolve(undefined);
      }, SYN_ACK_GRACE_MS);
      onSeen = () => {
        const t = find();
        if (t === undefined) return;
        clearTimeout(timer);
        onSeen = undefined;
        resolve(t);
      };
    });
  try {
    let last = 'no attempt made';
    for (let i = 0; i < cfg.attempts; i++) {
      const r = await attempt(cfg);
      if ('error' in r) {
        last = r.error;
        continue;
      }
      const { socket, rttMs } = r;
      const localPort = socket.localPort!;
      const source = socket.localAddress!;
      socket.destroy();
      const synAck = await synAckTo(localPort);
      if (synAck === undefined) return { ...base, ok: false, source, localPort, rttMs, error: 'connected, but the SYN-ACK was not seen on the raw socket' };
      const out = { ...base, source, localPort, rttMs, options: optionKinds(synAck.options) };
      return synAck.mss === undefined ? { ...out, ok: false, error: 'the SYN-ACK carries no MSS option' } : { ...out, ok: true, mss: synAck.mss };
    }
    return { ...base, ok: false, error: last };
  } finally {
    watch.close();
    raw.close();
  }
}

export function renderMssText(r: MssResult): string {
  if (r.ok) return `${r.target} port ${r.port}: MSS ${r.mss} (SYN-ACK to ${r.source}:${r.localPort}, connected in ${r.rttMs} ms)`;
  return `${r.target} port ${r.port}: ${r.error}`;
}
