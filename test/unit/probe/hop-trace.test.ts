import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyTraceOutcome, nextTraceProbe, reached, startTrace } from '../../../src/probe/hop-trace.js';
import type { ProbeOutcome } from '../../../src/probe/pmtu-search.js';
import { chain } from './path-model.js';
import { drive } from './drive.js';

const te = (from: string): ProbeOutcome => ({ kind: 'time-exceeded', from, rttMs: 1 });
const silence: ProbeOutcome = { kind: 'silence' };

test('TTL by TTL: a small probe, then the large one, until the first TTL the large one does not reach', () => {
  const d = drive(chain(1500, [{}, { mtu: 1400, tooBig: 'drop' }, {}]));
  assert.deepEqual(d.traced, [
    [1, 128],
    [1, 1401],
    [2, 128],
    [2, 1401],
    [3, 128],
    [3, 1401],
    [4, 128], // the large probe is not sent again once the narrow link is found
  ]);
  assert.equal(d.trace.firstFailTtl, 3);
  assert.equal(d.trace.reachedTarget, true);
});

test('with nothing too large, only small probes are sent', () => {
  const d = drive(chain(1500, [{}, {}]));
  assert.deepEqual(d.traced, [
    [1, 128],
    [2, 128],
    [3, 128],
  ]);
  assert.equal(d.trace.firstFailTtl, undefined);
});

test('the narrow link in front of the target itself: the large probe is sent at the target TTL too', () => {
  const d = drive(chain(1500, [{}, { mtu: 1400, tooBig: 'drop' }]));
  assert.equal(d.trace.firstFailTtl, 3);
  assert.deepEqual(d.result.hop, { ttl: 2, address: '192.0.2.2' });
});

test('a silent hop does not stop the trace; five silent hops in a row do', () => {
  let t = startTrace({ small: 128, gapLimit: 5 });
  t = applyTraceOutcome(t, te('192.0.2.1'));
  for (let i = 0; i < 5; i++) {
    assert.equal(nextTraceProbe(t).done, false);
    t = applyTraceOutcome(t, silence);
  }
  assert.deepEqual(nextTraceProbe(t), { done: true });
  assert.equal(t.hops.length, 6);
});

test('maxHops bounds the trace', () => {
  let t = startTrace({ small: 128, maxHops: 3, gapLimit: 10 });
  for (let i = 0; i < 3; i++) t = applyTraceOutcome(t, te(`192.0.2.${i + 1}`));
  assert.deepEqual(nextTraceProbe(t), { done: true });
});

test('a large probe that a hop further on answers still counts as reached; a too-big does not', () => {
  assert.equal(reached(te('x')), true);
  assert.equal(reached({ kind: 'reply', from: 'x', rttMs: 1 }), true);
  assert.equal(reached({ kind: 'too-big', from: 'x', mtu: 1400, rttMs: 1, valid: true }), false);
  assert.equal(reached({ kind: 'unreachable', from: 'x', code: 13, rttMs: 1 }), false);
  assert.equal(reached(silence), false);
});

test('a hop silent to small probes in front of the narrow link: the responsible TTL is still named', () => {
  const d = drive(chain(1500, [{}, { mtu: 1400, tooBig: 'drop', silent: true }, {}]));
  assert.equal(d.result.verdict, 'black-hole');
  assert.deepEqual(d.result.hop, { ttl: 2 });
  assert.equal(d.result.hops[1]!.address, undefined);
  assert.match(d.result.summary, /hop 2 \(no answer\)/);
});
