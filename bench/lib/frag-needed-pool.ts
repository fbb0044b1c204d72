/**
 * The relay benchmarks' messages: distinct valid ICMPv4 "fragmentation
 * needed" packets (RFC 792 type 3 code 4, next-hop MTU per RFC 1191), built
 * from the captured FRAG_NEEDED_UDP vector with the quoted source port and
 * the MTU varied so that no two in a pool are duplicates, and the key that
 * finds one again in a capture.
 */
import { V4_UDP, variant } from '../../test/unit/relay/too-big-variant.js';

export interface FragNeededPoolOptions {
  readonly size: number;
  /** The quoted (inner) source: an address inside the relay's --vip-networks. */
  readonly vip: string;
  /** Outer sources (the routers), used in turn. */
  readonly outerSources: readonly string[];
}

/** Message i quotes source port 1024+i and carries next-hop MTU 576+(i mod 900); IP packets of 576 bytes. */
export function fragNeededPool(opts: FragNeededPoolOptions): Uint8Array[] {
  const pool: Uint8Array[] = [];
  for (let i = 0; i < opts.size; i++) {
    const outerSrc = opts.outerSources[i % opts.outerSources.length]!;
    pool.push(variant(V4_UDP, { outerSrc, quotedSrc: opts.vip, quotedSrcPort: 1024 + i, mtu: 576 + (i % 900) }));
  }
  return pool;
}

/**
 * Quoted source port × 65536 + next-hop MTU of the frag-needed IPv4 packet at
 * `ip` in `f` (IPv4 + ICMP + quoted IPv4 + ports), or undefined when it is not one.
 */
export function fragNeededKey(f: Uint8Array, ip: number): number | undefined {
  if (f.byteLength < ip + 20 + 8 + 20 + 4 || f[ip]! >> 4 !== 4) return undefined;
  const ihl = (f[ip]! & 0x0f) * 4;
  const icmp = ip + ihl;
  if (f[ip + 9] !== 1 || f[icmp] !== 3 || f[icmp + 1] !== 4) return undefined;
  const q = icmp + 8;
  const qihl = (f[q]! & 0x0f) * 4;
  if (f.byteLength < q + qihl + 2) return undefined;
  const port = (f[q + qihl]! << 8) | f[q + qihl + 1]!;
  const mtu = (f[icmp + 6]! << 8) | f[icmp + 7]!;
  return port * 65536 + mtu;
}
