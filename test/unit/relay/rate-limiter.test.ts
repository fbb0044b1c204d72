import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError } from '../../../src/errors.js';
import { RateLimiter, RATE_LIMIT_DEFAULTS, type RateLimiterOptions } from '../../../src/relay/rate-limiter.js';
import { parseAddress } from '../../../src/wire/ip-address.js';

const KEY = new Uint32Array([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822]);
const ip = parseAddress;

function limiter(o: Partial<RateLimiterOptions> = {}): RateLimiter {
  return new RateLimiter({ srcRate: 2, srcBurst: 3, ifaceRate: 1000, ifaceBurst: 1000, hashKey: KEY, ...o });
}

/** Distinct documentation-range sources: 198.51.100.0/24 then 203.0.113.0/24. */
function source(i: number): Uint8Array {
  return i < 256 ? Uint8Array.of(198, 51, 100, i) : Uint8Array.of(203, 0, 113, i - 256);
}

/** 2001:db8::<i>, for floods larger than the IPv4 documentation ranges. */
function v6source(i: number): Uint8Array {
  const a = parseAddress('2001:db8::');
  a[12] = (i >>> 24) & 0xff;
  a[13] = (i >>> 16) & 0xff;
  a[14] = (i >>> 8) & 0xff;
  a[15] = i & 0xff;
  return a;
}

test('a source gets its burst, then src_rate; other sources are unaffected', () => {
  const l = limiter();
  const a = ip('198.51.100.7');
  const b = ip('2001:db8::7');
  assert.deepEqual([0, 0, 0, 0].map(() => l.check(a, 1, 0)), ['ok', 'ok', 'ok', 'src_rate']);
  assert.equal(l.check(b, 1, 0), 'ok');
  assert.equal(l.check(a, 1, 499), 'src_rate');
  assert.equal(l.check(a, 1, 500), 'ok'); // 2/s: one token per 500 ms
});

test('an IPv4 source and an IPv6 source with the same leading bytes are different sources', () => {
  const l = limiter({ srcBurst: 1 });
  assert.equal(l.check(ip('192.0.2.1'), 1, 0), 'ok');
  assert.equal(l.check(ip('192.0.2.1'), 1, 0), 'src_rate');
  assert.equal(l.check(ip('c000:201::'), 1, 0), 'ok'); // first 4 bytes c0 00 02 01
});

test('the per-interface limit caps all sources together, per ifindex', () => {
  const l = limiter({ srcBurst: 10, ifaceRate: 1, ifaceBurst: 4 });
  const got = [0, 1, 2, 3, 4, 5].map((i) => l.check(source(i), 2, 0));
  assert.deepEqual(got, ['ok', 'ok', 'ok', 'ok', 'global_rate', 'global_rate']);
  assert.equal(l.check(source(6), 3, 0), 'ok'); // another interface has its own bucket
  assert.equal(l.check(source(7), 2, 999), 'global_rate');
  assert.equal(l.check(source(7), 2, 1000), 'ok');
});

test('a source pays its token even when the interface limit refuses the packet', () => {
  const l = limiter({ srcBurst: 2, ifaceRate: 1, ifaceBurst: 1 });
  const a = source(1);
  assert.equal(l.check(a, 1, 0), 'ok');
  assert.equal(l.check(a, 1, 0), 'global_rate'); // second source token spent here
  assert.equal(l.check(a, 1, 0), 'src_rate');
});

test('interfaces beyond maxInterfaces share one overflow bucket', () => {
  const l = limiter({ srcBurst: 100, ifaceRate: 1, ifaceBurst: 1, maxInterfaces: 1 });
  assert.equal(l.check(source(1), 10, 0), 'ok'); // ifindex 10 gets the one own bucket
  assert.equal(l.check(source(2), 11, 0), 'ok'); // 11 and 12 share the overflow
  assert.equal(l.check(source(3), 12, 0), 'global_rate');
});

test('capacity never exceeds maxSources (power of two times 8 ways)', () => {
  assert.equal(limiter().capacity, RATE_LIMIT_DEFAULTS.maxSources);
  assert.equal(limiter({ maxSources: 100 }).capacity, 64);
  assert.equal(limiter({ maxSources: 5 }).capacity, 5);
  assert.equal(limiter({ maxSources: 1 }).capacity, 1);
});

test('a full set refuses new sources until an entry has refilled, then evicts the oldest full one', () => {
  const l = limiter({ maxSources: 8, srcRate: 2, srcBurst: 3 }); // one set of 8 ways
  for (let i = 0; i < 8; i++) assert.equal(l.check(source(i), 1, i), 'ok');
  // Every entry is below its burst (3 - 1 tokens): none may be forgotten.
  assert.equal(l.check(source(100), 1, 10), 'src_rate');
  assert.deepEqual(l.stats, { sources: 8, evictions: 0, tableFull: 1 });
  // 500 ms after its packet, source 0 is full again (2 + 1 token): it is the one replaced.
  assert.equal(l.check(source(100), 1, 500), 'ok');
  assert.deepEqual(l.stats, { sources: 8, evictions: 1, tableFull: 1 });
  // Source 1 (its packet at t=1) is full at 501, so source 0 coming back takes its slot with a full bucket.
  assert.equal(l.check(source(0), 1, 501), 'ok');
  assert.equal(l.stats.evictions, 2);
});

test('flooding the table with new sources cannot reset a hot source', () => {
  for (const maxSources of [8, 1024]) {
    const l = limiter({ maxSources, srcRate: 1, srcBurst: 2 });
    const hot = ip('203.0.113.99');
    assert.equal(l.check(hot, 1, 0), 'ok');
    assert.equal(l.check(hot, 1, 0), 'ok');
    assert.equal(l.check(hot, 1, 0), 'src_rate');
    // 4 x the table of fresh sources, within the hot source's refill time.
    for (let i = 0; i < 4 * maxSources; i++) l.check(v6source(i), 1, 500);
    assert.equal(l.check(hot, 1, 999), 'src_rate', `maxSources ${maxSources}`);
    assert.equal(l.check(hot, 1, 1000), 'ok');
  }
});

test('invalid options are one ConfigError listing every problem', () => {
  assert.throws(
    () => new RateLimiter({ srcRate: -1, srcBurst: 0, ifaceRate: 0, ifaceBurst: 1, maxSources: 0, hashKey: new Uint32Array(2) }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(
        e.problems.map((p) => p.field),
        ['src.ratePerSecond', 'src.burst', 'iface.ratePerSecond', 'maxSources', 'hashKey'],
      );
      return true;
    },
  );
});

/** Checks "at most burst + rate x (interval)" over every interval between admitted times. */
function withinBound(times: readonly number[], rate: number, burst: number): boolean {
  for (let i = 0; i < times.length; i++) {
    for (let j = i; j < times.length; j++) {
      if (j - i + 1 > burst + (rate * (times[j]! - times[i]!)) / 1000 + 1e-9) return false;
    }
  }
  return true;
}

test('property: per source and per interface, nothing beyond burst + rate x T, whatever the arrivals and evictions', () => {
  fc.assert(
    fc.property(
      fc.record({
        srcRate: fc.double({ min: 0.1, max: 50, noNaN: true }),
        srcBurst: fc.integer({ min: 1, max: 8 }),
        ifaceRate: fc.double({ min: 0.1, max: 100, noNaN: true }),
        ifaceBurst: fc.integer({ min: 1, max: 30 }),
        maxSources: fc.constantFrom(1, 3, 8, 16),
      }),
      fc.array(
        fc.record({
          gap: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1500 })),
          src: fc.integer({ min: 0, max: 40 }),
          ifindex: fc.integer({ min: 1, max: 3 }),
        }),
        { minLength: 1, maxLength: 250 },
      ),
      (opts, arrivals) => {
        const l = new RateLimiter({ ...opts, hashKey: KEY });
        const perSrc = new Map<number, number[]>();
        const perIf = new Map<number, number[]>();
        let t = 0;
        for (const a of arrivals) {
          t += a.gap;
          if (l.check(source(a.src), a.ifindex, t) === 'ok') {
            perSrc.set(a.src, [...(perSrc.get(a.src) ?? []), t]);
            perIf.set(a.ifindex, [...(perIf.get(a.ifindex) ?? []), t]);
          }
        }
        for (const times of perSrc.values()) if (!withinBound(times, opts.srcRate, opts.srcBurst)) return false;
        for (const times of perIf.values()) if (!withinBound(times, opts.ifaceRate, opts.ifaceBurst)) return false;
        return l.stats.sources <= l.capacity;
      },
    ),
    { numRuns: 300 },
  );
});
