import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError } from '../../../src/errors.js';
import { Dedup, DEDUP_DEFAULTS } from '../../../src/relay/dedup.js';
import { parseAddress } from '../../../src/wire/ip-address.js';
import type { QuotedFlow } from '../../../src/wire/too-big.js';

const KEY = new Uint32Array([9, 8, 7, 6, 5]);

function flow(o: Partial<QuotedFlow> & { s?: string; d?: string } = {}): QuotedFlow {
  const { s, d, ...rest } = o;
  return {
    family: 4,
    protocol: 17,
    src: parseAddress(s ?? '192.0.2.1'),
    dst: parseAddress(d ?? '198.51.100.2'),
    srcPort: 40000,
    dstPort: 33434,
    ...rest,
  };
}
const F = flow();

test('a message is relayed once per window, measured from the relayed copy', () => {
  const d = new Dedup({ window: 1000, hashKey: KEY });
  const at = (t: number) => d.seen(F, 1400, t);
  assert.equal(at(0), false); // relayed
  assert.equal(at(1), true);
  assert.equal(at(600), true); // duplicates do not extend the window...
  assert.equal(at(999), true);
  assert.equal(at(1000), false); // ...so the stream is relayed again once per window
  assert.equal(at(1500), true);
  assert.equal(at(2000), false);
});

test('every part of the key counts: MTU, ports or their absence, addresses, family, protocol', () => {
  const d = new Dedup({ window: 1000, hashKey: KEY });
  const noPorts: QuotedFlow = { family: 4, protocol: 17, src: F.src, dst: F.dst };
  const variants: [QuotedFlow, number][] = [
    [F, 1400],
    [F, 1280],
    [flow({ srcPort: 40001 }), 1400],
    [flow({ dstPort: 33435 }), 1400],
    [flow({ srcPort: 0, dstPort: 0 }), 1400],
    [noPorts, 1400],
    [flow({ protocol: 6 }), 1400],
    [flow({ s: '192.0.2.2' }), 1400],
    [flow({ d: '198.51.100.3' }), 1400],
    // Same leading bytes as 192.0.2.1 / 198.51.100.2, but IPv6.
    [flow({ family: 6, s: 'c000:201::', d: 'c633:6402::' }), 1400],
    [flow({ family: 6, s: '2001:db8:1::1', d: '2001:db8:2::2' }), 1400],
    [flow({ family: 6, s: '2001:db8:1::1', d: '2001:db8:2::3' }), 1400],
  ];
  for (const [f, mtu] of variants) assert.equal(d.seen(f, mtu, 0), false);
  for (const [f, mtu] of variants) assert.equal(d.seen(f, mtu, 1), true);
  // A copy of the flow with equal bytes in other buffers is the same key.
  assert.equal(d.seen({ ...F, src: Uint8Array.from(F.src), dst: Uint8Array.from(F.dst) }, 1400, 2), true);
  assert.equal(d.stats.entries, variants.length);
  // Again in a one-set table, so each variant is compared word by word with the base.
  for (const [f, mtu] of variants.slice(1)) {
    const one = new Dedup({ window: 1000, maxEntries: 2, hashKey: KEY });
    assert.equal(one.seen(F, 1400, 0), false);
    assert.equal(one.seen(f, mtu, 0), false, JSON.stringify({ ...f, mtu }));
    assert.equal(one.seen(F, 1400, 1), true);
    assert.equal(one.seen(f, mtu, 1), true);
    assert.equal(one.stats.evictions, 0);
  }
});

test('window 0 disables dedup', () => {
  const d = new Dedup({ window: 0 });
  assert.equal(d.seen(F, 1400, 0), false);
  assert.equal(d.seen(F, 1400, 0), false);
});

test('forget() takes back a record, so an unsent message does not suppress the next copy', () => {
  const d = new Dedup({ window: 1000, hashKey: KEY });
  assert.equal(d.seen(F, 1400, 0), false);
  d.forget(F, 1400);
  assert.equal(d.stats.entries, 0);
  assert.equal(d.seen(F, 1400, 1), false);
  assert.equal(d.seen(F, 1400, 2), true);
  d.forget(flow({ srcPort: 1 }), 1400); // not there: nothing happens
  assert.equal(d.seen(F, 1400, 3), true);
});

test('capacity is bounded by maxEntries (power of two times 8 ways)', () => {
  assert.equal(new Dedup({ window: 1 }).capacity, DEDUP_DEFAULTS.maxEntries);
  assert.equal(new Dedup({ window: 1, maxEntries: 100 }).capacity, 64);
  assert.equal(new Dedup({ window: 1, maxEntries: 3 }).capacity, 3);
});

test('an expired entry is free space; a live one pushed out early is counted and only lets a copy through', () => {
  const d = new Dedup({ window: 1000, maxEntries: 1, hashKey: KEY });
  const A = flow({ srcPort: 1 });
  const B = flow({ srcPort: 2 });
  const C = flow({ srcPort: 3 });
  assert.equal(d.seen(A, 1400, 0), false);
  assert.equal(d.seen(B, 1400, 1500), false); // A expired: its entry is reused
  assert.deepEqual(d.stats, { entries: 1, evictions: 0 });
  assert.equal(d.seen(C, 1400, 1600), false); // B still live: evicted
  assert.deepEqual(d.stats, { entries: 1, evictions: 1 });
  assert.equal(d.seen(B, 1400, 1700), false); // fail open: B relayed again early
});

test('a flood of distinct messages stays within the table', () => {
  const d = new Dedup({ window: 1000, maxEntries: 64, hashKey: KEY });
  for (let i = 0; i < 10_000; i++) d.seen(flow({ srcPort: i & 0xffff, dstPort: i >> 16 }), 1400, 10);
  assert.ok(d.stats.entries <= d.capacity);
  assert.ok(d.stats.evictions >= 10_000 - 64);
});

test('invalid options are one ConfigError', () => {
  assert.throws(
    () => new Dedup({ window: -1, maxEntries: 0, hashKey: new Uint32Array(1) }),
    (e: unknown) => e instanceof ConfigError && e.problems.length === 3,
  );
});

const flows = Array.from({ length: 6 }, (_, i) => flow({ srcPort: 40000 + i }));

test('property: with room, agrees with the definition (duplicate iff relayed less than a window ago)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2000 }),
      fc.array(fc.record({ gap: fc.integer({ min: 0, max: 1500 }), i: fc.nat(5), mtu: fc.constantFrom(1280, 1400) }), { maxLength: 200 }),
      (window, events) => {
        const d = new Dedup({ window, maxEntries: 1024, hashKey: KEY });
        const relayedAt = new Map<string, number>();
        let t = 0;
        for (const e of events) {
          t += e.gap;
          const k = `${e.i}/${e.mtu}`;
          const last = relayedAt.get(k);
          const expected = last !== undefined && t - last < window;
          if (d.seen(flows[e.i]!, e.mtu, t) !== expected) return false;
          if (!expected) relayedAt.set(k, t);
        }
        return d.stats.evictions === 0;
      },
    ),
    { numRuns: 300 },
  );
});

test('property: however full, it never suppresses a message the definition would relay', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 3 }),
      fc.array(fc.record({ gap: fc.integer({ min: 0, max: 400 }), i: fc.nat(5) }), { maxLength: 200 }),
      (maxEntries, events) => {
        const d = new Dedup({ window: 1000, maxEntries, hashKey: KEY });
        const relayedAt = new Map<number, number>();
        let t = 0;
        for (const e of events) {
          t += e.gap;
          const last = relayedAt.get(e.i);
          const dupByDefinition = last !== undefined && t - last < 1000;
          const dup = d.seen(flows[e.i]!, 1400, t);
          if (dup && !dupByDefinition) return false;
          if (!dup) relayedAt.set(e.i, t);
        }
        return true;
      },
    ),
    { numRuns: 300 },
  );
});
