/**
 * decide() throughput: the relay's pure core per captured packet.
 *
 *   node dist/bench/relay-core.bench.js [iterations] [runs]     (default 1e6 x 7)
 *
 * Input: the captured ICMPv4 frag-needed of test/unit/wire/fixtures/packets.ts
 * (FRAG_NEEDED_UDP), rewritten into 4096 packets with rotating outer sources
 * (512 routers in 198.51.100.0/24 and 203.0.113.0/24) and quoted destination
 * ports, so every dedup key and the rate-limiter table are exercised. The
 * clock advances 1 ms per packet, so a key comes back after 4096 ms, past
 * the 1 s dedup window. Three scenarios:
 *   relay       limits high enough that every packet is relayed (the full
 *               path: decode, validate, loop, dedup insert, both limiters,
 *               the Decision and its key)
 *   defaults    the default limits: most packets end rate-limited
 *   duplicate   one packet over and over: decode, validate, dedup hit
 * Prints the median ns/op over the runs and the implied messages/s for one core.
 */
import { decide, RelayState, type RelayStateOptions } from '../src/relay/decide.js';
import { parseCidrs } from '../src/relay/prefix-set.js';
import { V4_UDP, variant } from '../test/unit/relay/too-big-variant.js';

const iterations = Number(process.argv[2] ?? 1e6);
const runs = Number(process.argv[3] ?? 7);

const POOL = 4096;
const packets: Uint8Array[] = [];
for (let i = 0; i < POOL; i++) {
  const router = i % 512;
  const outerSrc = router < 256 ? `198.51.100.${router}` : `203.0.113.${router - 256}`;
  packets.push(variant(V4_UDP, { outerSrc, quotedDstPort: 1024 + i }));
}

function state(o: RelayStateOptions): RelayState {
  return new RelayState({
    vipNetworks: parseCidrs(['192.0.2.0/24', '2001:db8:1::/64'], 'bench'),
    ignoreNetworks: parseCidrs(['192.0.2.128/25', '2001:db8:ff::/48'], 'bench'),
    peers: [Uint8Array.of(192, 0, 2, 10), Uint8Array.of(192, 0, 2, 11)],
    ...o,
  });
}

interface Result {
  readonly nsPerOp: number;
  readonly kinds: Record<string, number>;
}

function run(st: RelayState, pool: readonly Uint8Array[]): Result {
  const kinds: Record<string, number> = {};
  const mask = pool.length - 1;
  let now = performance.now();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const d = decide(pool[i & mask]!, { ifindex: 2, now }, st);
    kinds[d.kind] = (kinds[d.kind] ?? 0) + 1;
    now += 1;
  }
  const t1 = process.hrtime.bigint();
  return { nsPerOp: Number(t1 - t0) / iterations, kinds };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

const scenarios: [string, () => RelayState, readonly Uint8Array[]][] = [
  ['relay', () => state({ srcRate: 1e9, srcBurst: 1e9, ifaceRate: 1e9, ifaceBurst: 1e9 }), packets],
  ['defaults', () => state({}), packets],
  ['duplicate', () => state({}), [packets[0]!]],
];

console.log(`decide(): ${iterations} iterations x ${runs} runs, node ${process.version}`);
for (const [name, make, pool] of scenarios) {
  // One warm-up run so the timings below are of optimised code.
  run(make(), pool);
  const times: number[] = [];
  let kinds: Record<string, number> = {};
  for (let r = 0; r < runs; r++) {
    const res = run(make(), pool);
    times.push(res.nsPerOp);
    kinds = res.kinds;
  }
  const m = median(times);
  const mix = Object.entries(kinds)
    .map(([k, n]) => `${k} ${((100 * n) / iterations).toFixed(1)}%`)
    .join(', ');
  console.log(
    `${name.padEnd(10)} median ${m.toFixed(1)} ns/op  (min ${Math.min(...times).toFixed(1)}, max ${Math.max(...times).toFixed(1)})  ` +
      `≈ ${Math.round(1e9 / m).toLocaleString('en-US')} msgs/s per core  [${mix}]`,
  );
}
