// The status history: bounded whatever the uptime and however many series
// appear, oldest first, absent values left out (never NaN in JSON).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StatusHistory, startSampling } from '../../../src/status/history.js';

test('15 minutes at 5 s keeps 181 samples; older ones are overwritten, oldest first', () => {
  const h = new StatusHistory({ intervalMs: 5000 });
  assert.equal(h.capacity, 181);
  for (let i = 0; i < 1000; i++) h.record(i * 5000, { 'relay.received': i * 10 });
  const s = h.snapshot();
  assert.equal(s.intervalMs, 5000);
  assert.equal(s.samples.length, 181);
  assert.equal(s.samples[0]!.t, (1000 - 181) * 5000);
  assert.equal(s.samples[180]!.t, 999 * 5000);
  assert.deepEqual(s.samples[180]!.series, { 'relay.received': 9990 });
  for (let i = 1; i < s.samples.length; i++) assert.ok(s.samples[i]!.t > s.samples[i - 1]!.t);
});

test('a series appearing later or missing from a sample is absent there, not 0 and not NaN', () => {
  const h = new StatusHistory({ intervalMs: 1000, windowMs: 4000 });
  h.record(1, { a: 1 });
  h.record(2, { a: 2, b: 20 });
  h.record(3, { b: 30, c: Number.NaN, d: Number.POSITIVE_INFINITY });
  assert.deepEqual(h.snapshot().samples, [
    { t: 1, series: { a: 1 } },
    { t: 2, series: { a: 2, b: 20 } },
    { t: 3, series: { b: 30 } },
  ]);
  assert.doesNotMatch(JSON.stringify(h.snapshot()), /null|NaN/);
});

test('the number of series is capped; a stale series gives its ring to a new one', () => {
  const h = new StatusHistory({ intervalMs: 1000, windowMs: 2000, maxSeries: 2 });
  h.record(1, { a: 1, b: 1 });
  h.record(2, { a: 2, b: 2, c: 2 });
  assert.equal(h.seriesCount, 2);
  assert.equal(h.ignoredSeries, 1);
  // a stops reporting; once it has no value left in the window, c can take its place
  h.record(3, { b: 3 });
  h.record(4, { b: 4 });
  h.record(5, { b: 5 });
  h.record(6, { b: 6, c: 6 });
  assert.equal(h.seriesCount, 2);
  assert.deepEqual(h.snapshot().samples.at(-1), { t: 6, series: { b: 6, c: 6 } });
});

test('memory is fixed: size, series and samples never exceed their bounds whatever is recorded', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 50 }),
      fc.integer({ min: 1, max: 10 }),
      fc.array(fc.dictionary(fc.string({ maxLength: 3 }), fc.double()), { maxLength: 200 }),
      (windowSteps, maxSeries, writes) => {
        const h = new StatusHistory({ intervalMs: 10, windowMs: windowSteps * 10, maxSeries });
        writes.forEach((w, i) => h.record(i, w));
        const s = h.snapshot();
        assert.ok(h.size <= h.capacity && s.samples.length === Math.min(writes.length, h.capacity));
        assert.ok(h.seriesCount <= maxSeries);
        for (const x of s.samples) for (const v of Object.values(x.series)) assert.ok(Number.isFinite(v));
      },
    ),
  );
});

test('bad options are refused with the value', () => {
  assert.throws(() => new StatusHistory({ intervalMs: 0 }), /intervalMs must be a positive integer, got 0/);
  assert.throws(() => new StatusHistory({ intervalMs: 5000, windowMs: 1000 }), /windowMs \(1000\) must be at least intervalMs \(5000\)/);
});

test('startSampling records now and on every tick; a read that throws is reported and skipped', () => {
  const h = new StatusHistory({ intervalMs: 5000 });
  let tick: (() => void) | undefined;
  let cleared = false;
  let t = 1000;
  let n = 0;
  const errors: unknown[] = [];
  const stop = startSampling(
    h,
    () => {
      if (++n === 2) throw new Error('relay snapshot failed');
      return { 'relay.received': n };
    },
    { now: () => t, setInterval: (fn, ms) => ((tick = fn), assert.equal(ms, 5000), 'handle'), clearInterval: (hd) => (cleared = hd === 'handle'), onError: (e) => errors.push(e) },
  );
  t = 6000;
  tick!();
  t = 11_000;
  tick!();
  stop();
  assert.ok(cleared);
  assert.deepEqual(h.snapshot().samples, [
    { t: 1000, series: { 'relay.received': 1 } },
    { t: 11_000, series: { 'relay.received': 3 } },
  ]);
  assert.equal(errors.length, 1);
});
