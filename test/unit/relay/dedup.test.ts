import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError } from '../../../src/errors.js';
import { Dedup } from '../../../src/relay/dedup.js';

const K = '4|17|192.0.2.1|198.51.100.2|40000|33434|1400';
const K2 = '4|17|192.0.2.1|198.51.100.2|40000|33434|1280';

test('a key is relayed once per window, measured from the relayed copy', () => {
  const d = new Dedup({ window: 1000 });
  const at = (t: number) => d.seen(K, t);
  assert.equal(at(0), false); // relayed
  assert.equal(at(1), true);
  assert.equal(at(600), true); // duplicates do not extend the window...
  assert.equal(at(999), true);
  assert.equal(at(1000), false); // ...so the stream is relayed again once per window
  assert.equal(at(1500), true);
  assert.equal(at(2000), false);
});

test('another MTU for the same flow is another key', () => {
  const d = new Dedup({ window: 1000 });
  assert.equal(d.seen(K, 0), false);
  assert.equal(d.seen(K2, 0), false);
  assert.equal(d.seen(K2, 10), true);
});

test('a key survives the generation swap for the rest of its window', () => {
  const d = new Dedup({ window: 1000 });
  assert.equal(d.seen('a', 0), false); // generation starts at 0
  assert.equal(d.seen(K, 900), false);
  assert.equal(d.seen('b', 1000), false); // swap: K moves to the previous generation
  assert.equal(d.seen(K, 1899), true);
  assert.equal(d.seen(K, 1900), false);
});

test('after two idle windows everything is forgotten', () => {
  const d = new Dedup({ window: 1000 });
  d.seen('a', 0);
  d.seen('b', 500);
  assert.equal(d.stats.entries, 2);
  assert.equal(d.seen('c', 2500), false);
  assert.equal(d.stats.entries, 1);
  assert.equal(d.seen('a', 2501), false);
});

test('window 0 disables dedup', () => {
  const d = new Dedup({ window: 0 });
  assert.equal(d.seen(K, 0), false);
  assert.equal(d.seen(K, 0), false);
});

test('forget() takes back a record, so an unsent key does not suppress the next copy', () => {
  const d = new Dedup({ window: 1000 });
  assert.equal(d.seen(K, 0), false);
  d.forget(K);
  assert.equal(d.seen(K, 1), false);
  assert.equal(d.seen(K, 2), true);
});

test('memory is bounded: at most 2 x maxEntries keys, early rotations counted', () => {
  const d = new Dedup({ window: 1000, maxEntries: 4 });
  for (let i = 0; i < 100; i++) d.seen(`k${i}`, 10);
  assert.ok(d.stats.entries <= 8, `entries ${d.stats.entries}`);
  assert.ok(d.stats.forcedRotations >= 20);
  // The newest keys are still remembered after the forced rotations.
  assert.equal(d.seen('k99', 11), true);
  assert.equal(d.seen('k96', 11), true);
});

test('invalid options are one ConfigError', () => {
  assert.throws(
    () => new Dedup({ window: -1, maxEntries: 0 }),
    (e: unknown) => e instanceof ConfigError && e.problems.length === 2,
  );
});

test('property: agrees with the definition (duplicate iff relayed less than a window ago)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2000 }),
      fc.array(fc.record({ gap: fc.integer({ min: 0, max: 1500 }), key: fc.integer({ min: 0, max: 5 }) }), { maxLength: 200 }),
      (window, events) => {
        const d = new Dedup({ window });
        const relayedAt = new Map<number, number>();
        let t = 0;
        for (const e of events) {
          t += e.gap;
          const last = relayedAt.get(e.key);
          const expected = last !== undefined && t - last < window;
          if (d.seen(`k${e.key}`, t) !== expected) return false;
          if (!expected) relayedAt.set(e.key, t);
        }
        return true;
      },
    ),
    { numRuns: 400 },
  );
});
