/**
 * Micro-benchmark of decodeTooBig() on the captured frag-needed and
 * packet-too-big packets (test/unit/wire/fixtures/packets.ts): N = 1e6 calls,
 * repeated 7 times, prints the median ns/op per packet.
 *
 *   node dist/bench/too-big.bench.js
 */
import { decodeTooBig } from '../src/wire/too-big-decode.js';
import { ETH_HEADER, FRAG_NEEDED_UDP, PACKET_TOO_BIG_UDP } from '../test/unit/wire/fixtures/packets.js';

const N = 1_000_000;
const REPEATS = 7;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function bench(name: string, packet: Uint8Array): void {
  // Every result is checked so the work cannot be optimised away, and a broken decoder fails loudly.
  let mtuSum = 0;
  const once = decodeTooBig(packet);
  if (!once.ok) throw new Error(`${name}: fixture rejected (${once.reason})`);
  for (let i = 0; i < 10_000; i++) {
    const r = decodeTooBig(packet); // warm-up: let the JIT settle
    if (r.ok) mtuSum += r.value.mtu;
  }
  const runs: number[] = [];
  for (let rep = 0; rep < REPEATS; rep++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) {
      const r = decodeTooBig(packet);
      if (r.ok) mtuSum += r.value.mtu;
    }
    const t1 = process.hrtime.bigint();
    runs.push(Number(t1 - t0) / N);
  }
  if (mtuSum !== once.value.mtu * (10_000 + N * REPEATS)) throw new Error(`${name}: inconsistent results`);
  const m = median(runs);
  console.log(
    `decodeTooBig ${name.padEnd(28)} ${packet.length} bytes  median ${m.toFixed(1)} ns/op  (${(1e9 / m / 1e6).toFixed(2)} M packets/s; runs ${runs.map((r) => r.toFixed(1)).join(' ')})`,
  );
}

bench('frag-needed (IPv4, UDP)', FRAG_NEEDED_UDP.subarray(ETH_HEADER));
bench('packet-too-big (IPv6, UDP)', PACKET_TOO_BIG_UDP.subarray(ETH_HEADER));
