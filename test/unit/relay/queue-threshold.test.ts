import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { QueueThreshold } from '../../../src/relay/queue-threshold.js';

/** Feeds `rate` messages/s for `ms` in 1 ms turns; returns the thresholds announced. */
function feed(q: QueueThreshold, from: number, ms: number, perMs: number): { changes: number[]; now: number } {
  const changes: number[] = [];
  let now = from;
  for (let i = 0; i < ms; i++) {
    now += 1;
    const c = q.observe(perMs, now);
    if (c !== undefined) changes.push(c);
  }
  return { changes, now };
}

test('quiet: the threshold stays 1, so no message waits for a datagram to fill', () => {
  const q = new QueueThreshold();
  const { changes } = feed(q, 0, 2000, 1); // 1,000 msg/s
  assert.deepEqual(changes, []);
  assert.equal(q.value, 1);
});

test('a flood raises it to rate x 0.2 ms rounded down to a power of two, capped at max', () => {
  const q = new QueueThreshold();
  let r = feed(q, 0, 150, 160); // 160,000 msg/s: 32 messages per 0.2 ms
  assert.deepEqual(r.changes, [32]);
  r = feed(q, r.now, 150, 500); // 500,000 msg/s: 100 → capped at 64
  assert.deepEqual(r.changes, [64]);
  r = feed(q, r.now, 150, 25); // 25,000 msg/s: 5 → 4
  assert.deepEqual(r.changes, [4]);
});

test('when the flood stops, idle turns (observe(0)) bring it back to 1 within two windows', () => {
  const q = new QueueThreshold({ windowMs: 100 });
  let now = feed(q, 0, 150, 200).now;
  assert.equal(q.value, 32);
  // The loop turns every 100 ms on its poll timeout when nothing arrives; the
  // first window may still hold the tail of the flood.
  const seen: number[] = [];
  for (let i = 0; i < 2; i++) {
    const c = q.observe(0, (now += 100));
    if (c !== undefined) seen.push(c);
  }
  assert.equal(q.value, 1, `thresholds announced: ${seen.join(', ')}`);
});

test('property: the wait a message adds at a steady rate (threshold / rate) stays under the target delay', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2_000_000 }), fc.double({ min: 0.05, max: 2, noNaN: true }), (ratePerS, targetMs) => {
      const q = new QueueThreshold({ targetDelayMs: targetMs, windowMs: 100 });
      // A steady rate, delivered in 1 ms turns with fractional counts summing exactly.
      for (let t = 1; t <= 300; t++) q.observe(ratePerS / 1000, t);
      const t = q.value;
      assert.ok(t >= 1 && t <= 64 && Number.isInteger(Math.log2(t)), `power of two in [1, 64]: ${t}`);
      if (t > 1) assert.ok((t / ratePerS) * 1000 <= targetMs + 1e-9, `${t} at ${ratePerS}/s waits ${(t / ratePerS) * 1000} ms > ${targetMs}`);
    }),
    { numRuns: 300 },
  );
});

test('bad options are refused by name', () => {
  assert.throws(() => new QueueThreshold({ targetDelayMs: 0 }), /targetDelayMs/);
  assert.throws(() => new QueueThreshold({ max: 0 }), /max/);
  assert.throws(() => new QueueThreshold({ windowMs: -1 }), /windowMs/);
});
