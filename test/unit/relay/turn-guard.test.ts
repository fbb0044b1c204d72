import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TurnGuard } from '../../../src/relay/turn-guard.js';

function harness(opts: { maxConsecutive?: number; reportIntervalMs?: number } = {}) {
  let clock = 1_000;
  const failures: unknown[] = [];
  const reports: { err: unknown; count: number }[] = [];
  const guard = new TurnGuard({
    onFailure: (err) => failures.push(err),
    report: (err, count) => reports.push({ err, count }),
    now: () => clock,
    ...opts,
  });
  return { guard, failures, reports, advance: (ms: number) => (clock += ms) };
}

const boom = (): never => {
  throw new Error('boom');
};

test('a turn that throws costs that turn: it is counted, reported, and the next turn runs', () => {
  const h = harness();
  let ran = 0;
  h.guard.run(boom);
  h.guard.run(() => ran++);
  assert.equal(ran, 1);
  assert.equal(h.failures.length, 1);
  assert.equal(h.reports.length, 1);
  assert.equal((h.reports[0]!.err as Error).message, 'boom');
  assert.equal(h.reports[0]!.count, 1);
});

test('reports come at most once per interval and carry the failures since start', () => {
  const h = harness({ reportIntervalMs: 10_000 });
  for (let i = 0; i < 5; i++) {
    h.guard.run(boom);
    h.guard.run(() => undefined);
  }
  assert.equal(h.failures.length, 5, 'every failure reaches onFailure (the counter, the flush)');
  assert.equal(h.reports.length, 1);
  h.advance(9_999);
  h.guard.run(boom);
  assert.equal(h.reports.length, 1);
  h.advance(1);
  h.guard.run(boom);
  assert.deepEqual(
    h.reports.map((r) => r.count),
    [1, 7],
  );
});

test('an error on every turn (a broken socket) is rethrown after maxConsecutive turns', () => {
  const h = harness({ maxConsecutive: 3 });
  for (let i = 0; i < 3; i++) h.guard.run(boom);
  assert.throws(() => h.guard.run(boom), /boom/);
  assert.equal(h.failures.length, 3, 'the rethrown turn is not also handled');
});

test('a successful turn resets the consecutive count, so intermittent bugs never end the relay', () => {
  const h = harness({ maxConsecutive: 3 });
  for (let i = 0; i < 50; i++) {
    h.guard.run(boom);
    h.guard.run(boom);
    h.guard.run(boom);
    h.guard.run(() => undefined);
  }
  assert.equal(h.failures.length, 150);
});
