import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError } from '../../../src/errors.js';
import { TokenBucket } from '../../../src/relay/token-bucket.js';

test('a fresh bucket admits exactly `burst` packets back to back, then refuses', () => {
  const b = new TokenBucket({ ratePerSecond: 2, burst: 5 });
  const got = Array.from({ length: 8 }, () => b.take(1000));
  assert.deepEqual(got, [true, true, true, true, true, false, false, false]);
});

test('one token comes back every 1/rate seconds (milliseconds clock)', () => {
  const b = new TokenBucket({ ratePerSecond: 2, burst: 1 });
  assert.equal(b.take(0), true);
  assert.equal(b.take(499), false);
  assert.equal(b.take(500), true);
  assert.equal(b.take(500), false);
  assert.equal(b.take(1000), true);
});

test('a nanosecond clock works with unitsPerSecond 1e9', () => {
  const b = new TokenBucket({ ratePerSecond: 10, burst: 1, unitsPerSecond: 1e9 });
  const t0 = 5_000_000_000;
  assert.equal(b.take(t0), true);
  assert.equal(b.take(t0 + 99_999_999), false);
  assert.equal(b.take(t0 + 100_000_000), true);
});

test('a long idle period refills to `burst`, never beyond', () => {
  const b = new TokenBucket({ ratePerSecond: 100, burst: 3 });
  b.take(0);
  assert.equal(b.available(3_600_000), 3);
  const got = Array.from({ length: 5 }, () => b.take(3_600_000));
  assert.deepEqual(got, [true, true, true, false, false]);
});

test('a clock reading that goes backwards mints no tokens', () => {
  const b = new TokenBucket({ ratePerSecond: 1, burst: 1 });
  assert.equal(b.take(10_000), true);
  assert.equal(b.take(0), false); // earlier reading: no refill
  assert.equal(b.take(10_500), false); // time is still measured from 10_000
  assert.equal(b.take(11_000), true);
});

test('a flood of 1 packet/ms for T seconds is admitted exactly floor(burst + rate*T) times', () => {
  const rate = 2;
  const burst = 10;
  const b = new TokenBucket({ ratePerSecond: rate, burst });
  let admitted = 0;
  for (let t = 0; t <= 9_999; t++) if (b.take(t)) admitted++;
  // T = 9.999 s: bound 10 + 19.998 = 29.998; the bucket is also live, so it reaches the bound's floor.
  assert.equal(admitted, Math.floor(burst + rate * 9.999));
});

test('invalid parameters are one ConfigError naming each', () => {
  assert.throws(
    () => new TokenBucket({ ratePerSecond: 0, burst: 0.5, unitsPerSecond: Number.NaN }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(
        e.problems.map((p) => p.field),
        ['ratePerSecond', 'burst', 'unitsPerSecond'],
      );
      return true;
    },
  );
});

test('property: over any interval, admitted <= burst + rate * length', () => {
  fc.assert(
    fc.property(
      fc.double({ min: 0.05, max: 200, noNaN: true }),
      fc.integer({ min: 1, max: 20 }),
      fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0, max: 3000, noNaN: true })), { minLength: 1, maxLength: 300 }),
      (rate, burst, gaps) => {
        const b = new TokenBucket({ ratePerSecond: rate, burst });
        const admitted: number[] = [];
        let t = 0;
        for (const g of gaps) {
          t += g;
          if (b.take(t)) admitted.push(t);
        }
        // Any interval's worst case starts and ends on admitted packets.
        for (let i = 0; i < admitted.length; i++) {
          for (let j = i; j < admitted.length; j++) {
            const bound = burst + (rate * (admitted[j]! - admitted[i]!)) / 1000;
            if (j - i + 1 > bound + 1e-9) return false;
          }
        }
        return true;
      },
    ),
    { numRuns: 300 },
  );
});
