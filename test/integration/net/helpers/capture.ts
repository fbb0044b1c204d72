/**
 * Test helpers for the socket tests: tcpdump inside a lab namespace, and
 * waiting for a socket to become readable without blocking the event loop.
 */
import type { Netns } from '../../../harness/netns.js';
import type { FdWatch } from '../../../../src/sys/libc.js';

export interface CapturedPacket {
  /** The summary line tcpdump printed for the packet. */
  readonly summary: string;
  /** The frame's bytes from `-xx` (link-layer header included). */
  readonly bytes: Uint8Array;
}

/** Parses `tcpdump -n -xx` output: a summary line, then `\t0x0000:  hhhh hhhh ...` lines. */
export function parseTcpdumpHex(text: string): CapturedPacket[] {
  const out: { summary: string; hex: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s+0x[0-9a-f]+:\s+(.*)$/.exec(line);
    if (m) {
      const cur = out[out.length - 1];
      if (!cur) throw new Error(`hex line before any summary: ${line}`);
      for (const tok of m[1]!.trim().split(/\s+/)) {
        if (!/^[0-9a-f]{2,4}$/.test(tok)) break; // -xx prints no ASCII column; stop at anything else
        cur.hex += tok;
      }
    } else if (line.trim() !== '' && !/^\s/.test(line)) {
      out.push({ summary: line, hex: '' });
    } else if (line.trim() !== '' && out.length > 0) {
      out[out.length - 1]!.summary += ` ${line.trim()}`; // -v continuation lines
    }
  }
  return out.map((p) => ({ summary: p.summary, bytes: Uint8Array.from(Buffer.from(p.hex, 'hex')) }));
}

export interface Tcpdump {
  /** Resolves with the captured packets once tcpdump has seen `count` of them and exited. */
  readonly done: Promise<CapturedPacket[]>;
}

/**
 * Starts `tcpdump -n -l -xx -c COUNT -i DEV FILTER...` in `ns` and resolves
 * once it reports that it is listening (its filter is installed), so what is
 * sent afterwards is captured.
 */
export async function startTcpdump(
  ns: Netns,
  dev: string,
  count: number,
  filter: readonly string[],
  opts: { verbose?: boolean; timeoutMs?: number } = {},
): Promise<Tcpdump> {
  const args = ['-n', '-l', '-xx', '-c', String(count), '-i', dev, ...(opts.verbose ? ['-v'] : []), ...filter];
  const child = ns.spawn('tcpdump', args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const listening = new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('listening on')) resolve();
    });
    child.once('close', (code) => reject(new Error(`tcpdump exited ${code} before listening: ${stderr.trim()}`)));
  });
  const done = new Promise<CapturedPacket[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tcpdump saw fewer than ${count} packets in ${opts.timeoutMs ?? 5000} ms; output so far:\n${stdout}`));
    }, opts.timeoutMs ?? 5000);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(parseTcpdumpHex(stdout));
      else reject(new Error(`tcpdump exited ${code}: ${stderr.trim()}`));
    });
  });
  done.catch(() => undefined); // observed by the caller; avoids an unhandled rejection if it never awaits
  await listening;
  return { done };
}

/** Resolves when `drain` (called on every readiness) returns true; rejects after `timeoutMs`. */
export function whenReadable(
  watch: (cb: () => void) => FdWatch,
  drain: () => boolean,
  timeoutMs = 3000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let w: FdWatch | undefined;
    const timer = setTimeout(() => {
      w?.close();
      reject(new Error(`nothing readable within ${timeoutMs} ms`));
    }, timeoutMs);
    w = watch(() => {
      if (drain()) {
        clearTimeout(timer);
        w?.close();
        resolve();
      }
    });
  });
}

/** Lowercase hex of `bytes`, for readable assertions. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** True when `needle` occurs in `hay`. */
export function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return indexOf(hay, needle) >= 0;
}

/** Offset of the first occurrence of `needle` in `hay`, -1 if none. */
export function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
