import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OTHER_PEERS, PeerSlots } from '../../../src/relay/peer-slots.js';

/** Shared-memory counters as the data plane writes them: one number per slot. */
function counters(n: number) {
  const v = new Float64Array(n);
  return { v, count: (slot: number) => v[slot]! };
}

test('a peer keeps its slot, and its count, when others join and leave', () => {
  const c = counters(8);
  const slots = new PeerSlots(8);
  slots.update(['192.0.2.1', '192.0.2.2'], c.count);
  const b = slots.slotOf('192.0.2.2');
  c.v[b] = 5;
  slots.update(['192.0.2.2', '192.0.2.3'], c.count); // .1 left, .3 joined: .2 must not move
  assert.equal(slots.slotOf('192.0.2.2'), b);
  assert.deepEqual(slots.samples(['192.0.2.2', '192.0.2.3'], c.count), [
    { peer: '192.0.2.2', value: 5 },
    { peer: '192.0.2.3', value: 0 },
  ]);
});

test('fresh slots are used before freed ones, and a reused slot starts from zero for its new peer', () => {
  const c = counters(3); // two own slots + the shared one
  const slots = new PeerSlots(3);
  slots.update(['192.0.2.1'], c.count);
  c.v[slots.slotOf('192.0.2.1')] = 7;
  slots.update(['192.0.2.2'], c.count); // .1 leaves; .2 takes the unused slot 1, not .1's
  assert.equal(slots.slotOf('192.0.2.2'), 1);
  slots.update(['192.0.2.2', '192.0.2.3'], c.count); // no fresh slot left: .3 reuses .1's
  assert.equal(slots.slotOf('192.0.2.3'), 0);
  assert.deepEqual(slots.samples(['192.0.2.3'], c.count), [{ peer: '192.0.2.3', value: 0 }]);
  c.v[0]! += 2;
  assert.deepEqual(slots.samples(['192.0.2.3'], c.count), [{ peer: '192.0.2.3', value: 2 }]);
});

test('peers beyond the slots share the last one and are reported once as peer="other"', () => {
  const c = counters(3);
  const slots = new PeerSlots(3);
  const peers = ['2001:db8::1', '2001:db8::2', '2001:db8::3', '2001:db8::4'];
  slots.update(peers, c.count);
  assert.equal(slots.slotOf('2001:db8::3'), 2);
  assert.equal(slots.slotOf('2001:db8::4'), 2);
  c.v[2] = 4;
  assert.deepEqual(slots.samples(peers, c.count), [
    { peer: '2001:db8::1', value: 0 },
    { peer: '2001:db8::2', value: 0 },
    { peer: OTHER_PEERS, value: 4 },
  ]);
});

test('property: under any sequence of peer sets, every series is monotonic while its peer stays, and no two peers share an own slot', () => {
  const pool = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '198.51.100.1', '2001:db8::1', '2001:db8::2'];
  const step = fc.record({
    peers: fc.subarray(pool),
    errors: fc.array(fc.nat({ max: pool.length - 1 }), { maxLength: 6 }), // sends that failed, by index into peers
  });
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 6 }), fc.array(step, { maxLength: 30 }), (size, steps) => {
      const c = counters(size);
      const slots = new PeerSlots(size);
      let last = new Map<string, number>();
      let current: string[] = [];
      for (const s of steps) {
        slots.update(s.peers, c.count);
        // The data plane adds errors to the slot each peer was given.
        for (const i of s.errors) if (s.peers.length > 0) c.v[slots.slotOf(s.peers[i % s.peers.length]!)]! += 1;
        const own = s.peers.map((p) => slots.slotOf(p)).filter((slot) => slot !== size - 1);
        assert.equal(new Set(own).size, own.length, 'an own slot belongs to one peer');
        const now = new Map(slots.samples(s.peers, c.count).map((x) => [x.peer, x.value]));
        for (const [peer, value] of now) {
          assert.ok(value >= 0, `${peer} is never negative`);
          const stayed = peer === OTHER_PEERS || current.includes(peer);
          if (stayed && last.has(peer)) assert.ok(value >= last.get(peer)!, `${peer} never goes down while it stays`);
        }
        last = now;
        current = s.peers;
      }
    }),
    { numRuns: 300 },
  );
});
