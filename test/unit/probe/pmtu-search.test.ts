import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  applySearchOutcome,
  localiseSize,
  MTU_TABLE,
  nextSearchProbe,
  searchBlackHole,
  startSearch,
  tooBigProblem,
  type ProbeOutcome,
} from '../../../src/probe/pmtu-search.js';
import { chain, truePmtu, type ModelHop, type PathModel, type TooBigBehaviour } from './path-model.js';
import { drive } from './drive.js';

const silence: ProbeOutcome = { kind: 'silence' };
const reply: ProbeOutcome = { kind: 'reply', from: '198.51.100.2', rttMs: 1 };

test('the first probe has the interface MTU; the table is sorted largest first and holds the common sizes', () => {
  assert.deepEqual(nextSearchProbe(startSearch({ family: 4, start: 1500 })), { done: false, size: 1500 });
  assert.deepEqual([...MTU_TABLE].sort((a, b) => b - a), [...MTU_TABLE]);
  for (const m of [1500, 1492, 1480, 1460, 1450, 1440, 1400, 1380, 1280]) assert.ok((MTU_TABLE as readonly number[]).includes(m), `${m} in the table`);
});

test('an answer at the interface MTU ends the search at once: ok, no black hole', () => {
  const s = applySearchOutcome(startSearch({ family: 4, start: 1500 }), 1500, reply);
  assert.equal(s.lo, 1500);
  assert.deepEqual(nextSearchProbe(s), { done: true });
  assert.equal(searchBlackHole(s), false);
  assert.equal(localiseSize(s), undefined);
});

test('a valid too-big is followed exactly: 1500, then 1400, done', () => {
  const d = drive(chain(1500, [{}, { mtu: 1400 }, {}]));
  assert.deepEqual(d.sizes, [1500, 1400]);
  assert.equal(d.search.lo, 1400);
  assert.equal(d.search.hi, 1401);
  assert.equal(searchBlackHole(d.search), false);
});

test('silence walks the table, then a binary search ends at the exact size', () => {
  const d = drive(chain(1500, [{}, { mtu: 1400, tooBig: 'drop' }, {}]));
  assert.deepEqual(d.sizes, [1500, 128, 1492, 1480, 1476, 1460, 1450, 1440, 1420, 1400, 1410, 1405, 1402, 1401]);
  assert.equal(d.search.lo, 1400);
  assert.equal(searchBlackHole(d.search), true);
  assert.equal(localiseSize(d.search), 1401);
});

test('a target that answers nothing: the small probe settles it, unreachable', () => {
  const s0 = startSearch({ family: 6, start: 1500 });
  const s1 = applySearchOutcome(s0, 1500, silence);
  assert.deepEqual(nextSearchProbe(s1), { done: false, size: 128 });
  const s2 = applySearchOutcome(s1, 128, silence);
  assert.equal(s2.unreachable, true);
  assert.deepEqual(nextSearchProbe(s2), { done: true });
  assert.equal(s2.lo, undefined);
});

test('a valid too-big before anything passed is followed before the small probe', () => {
  const s1 = applySearchOutcome(startSearch({ family: 4, start: 9000 }), 9000, { kind: 'too-big', from: 'r', mtu: 1500, rttMs: 1, valid: true });
  assert.deepEqual(nextSearchProbe(s1), { done: false, size: 1500 });
  const s2 = applySearchOutcome(s1, 1500, silence);
  assert.deepEqual(nextSearchProbe(s2), { done: false, size: 128 });
});

test('EMSGSIZE from the local stack lowers the bound without counting as a black hole', () => {
  let s = startSearch({ family: 4, start: 1500 });
  s = applySearchOutcome(s, 1500, { kind: 'local-too-big' });
  s = applySearchOutcome(s, 128, reply);
  assert.deepEqual(nextSearchProbe(s), { done: false, size: 1492 });
  s = applySearchOutcome(s, 1492, reply);
  assert.equal(s.lo, 1492);
  assert.equal(s.hi, 1500);
  assert.deepEqual(nextSearchProbe(s), { done: false, size: 1496 });
  assert.equal(searchBlackHole(s), false);
});

test('too-big messages that cannot be used, by reason', () => {
  assert.equal(tooBigProblem(4, 1500, 1400, true), undefined);
  assert.match(tooBigProblem(4, 1500, 0, true)!, /no MTU/);
  assert.match(tooBigProblem(4, 1500, 60, true)!, /below the IPv4 minimum 68/);
  assert.match(tooBigProblem(6, 1500, 1200, true)!, /below the IPv6 minimum 1280/);
  assert.match(tooBigProblem(6, 1500, 1500, true)!, /not smaller than the 1500-byte probe/);
  assert.match(tooBigProblem(6, 1500, 1400, false, 'bad_checksum')!, /bad_checksum/);
  assert.equal(tooBigProblem(6, 1500, 1280, true), undefined);
});

test('startSearch refuses a start below the family minimum', () => {
  assert.throws(() => startSearch({ family: 6, start: 1200 }), RangeError);
  assert.throws(() => startSearch({ family: 4, start: 65536 }), RangeError);
});

// The table: every narrow MTU × every too-big behaviour × every position × both families.
const BEHAVIOURS: readonly TooBigBehaviour[] = ['ptb', 'drop', 'mtu-zero', 'mtu-too-large', 'bad-checksum'];
const NARROW = [1499, 1492, 1480, 1476, 1461, 1460, 1450, 1441, 1440, 1420, 1400, 1399, 1380, 1350, 1300, 1281, 1280];

for (const family of [4, 6] as const) {
  test(`IPv${family}: ${NARROW.length * BEHAVIOURS.length * 3} paths with one narrow link: exact MTU, verdict and hop`, () => {
    let cases = 0;
    for (const mtu of NARROW) {
      for (const tooBig of BEHAVIOURS) {
        for (const at of [0, 1, 2]) {
          const links = [{}, {}, {}].map((l, i) => (i === at ? { mtu, tooBig } : l));
          const path = chain(1500, links, family);
          const { result: r, sizes } = drive(path, family);
          const what = `mtu ${mtu} ${tooBig} at hop ${at + 1}: sizes ${sizes.join(' ')}`;
          assert.equal(r.pmtu, mtu, what);
          assert.equal(r.verdict, tooBig === 'ptb' ? 'ok' : 'black-hole', what);
          assert.equal(r.bottleneck?.ttl, at + 1, what);
          assert.equal(r.bottleneck?.address, path.hops[at]!.address, what);
          const note = tooBig === 'ptb' ? 'ptb' : tooBig === 'drop' ? 'silence' : 'ptb-bad';
          assert.equal(r.hops[at]!.note, note, what);
          if (tooBig === 'ptb') assert.equal(r.hop, undefined, what);
          else assert.deepEqual(r.hop, { ttl: at + 1, address: path.hops[at]!.address }, what);
          assert.ok(sizes.length <= 20, `${what}: ${sizes.length} search probes`);
          cases++;
        }
      }
    }
    assert.equal(cases, NARROW.length * BEHAVIOURS.length * 3);
  });
}

test('a black hole in front of a narrower link that does send too-big: the black hole is named', () => {
  const path = chain(1500, [{ mtu: 1450, tooBig: 'drop' }, { mtu: 1400, tooBig: 'ptb' }, {}]);
  const { result: r } = drive(path);
  assert.equal(r.pmtu, 1400);
  assert.equal(r.verdict, 'black-hole');
  assert.deepEqual(r.hop, { ttl: 1, address: '192.0.2.1' });
  assert.equal(r.hops[0]!.note, 'silence');
  assert.equal(r.hops[1]!.note, 'ptb');
});

const hopArb = (family: 4 | 6) =>
  fc.record({
    mtu: fc.integer({ min: family === 4 ? 128 : 1280, max: 9000 }),
    tooBig: fc.constantFrom<TooBigBehaviour>(...BEHAVIOURS),
    silent: fc.boolean(),
  });

for (const family of [4, 6] as const) {
  test(`IPv${family} property: any path of 1-8 routers — the exact path MTU, and the verdict follows the narrowest hop`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 1280, max: 9000 }), fc.array(hopArb(family), { minLength: 1, maxLength: 8 }), (start, links) => {
        const path: PathModel = chain(start, links, family);
        const { result: r, sizes } = drive(path, family);
        const pmtu = truePmtu(path);
        assert.equal(r.pmtu, pmtu);
        assert.ok(sizes.length <= 40, `${sizes.length} search probes`);
        const narrowing = path.hops.slice(0, -1).filter((h) => h.mtu < start);
        const first = path.hops.findIndex((h, i) => i < path.hops.length - 1 && h.mtu === pmtu);
        if (narrowing.every((h) => h.tooBig === 'ptb')) {
          assert.equal(r.verdict, 'ok');
          // its too-big names the hop in front of the narrowest link, even when that hop or one in
          // front of it sends no time exceeded (two such hops can no longer be told apart)
          let k = first + 1;
          while (k < path.hops.length - 1 && path.hops[k]!.silent) k++;
          const silentUpToNarrow = path.hops.slice(0, k).filter((h) => h.silent).length;
          if (pmtu < start && silentUpToNarrow <= 1) assert.deepEqual(r.bottleneck, { ttl: first + 1, address: path.hops[first]!.address, note: 'ptb' });
        }
        if (pmtu < start && path.hops[first]!.tooBig !== 'ptb') assert.equal(r.verdict, 'black-hole');
        if (r.verdict === 'black-hole' && path.hops.every((h: ModelHop) => !h.silent)) {
          const named = path.hops[r.hop!.ttl - 1]!;
          assert.notEqual(named.tooBig, 'ptb');
          assert.ok(named.mtu < start);
          assert.equal(r.hops[r.hop!.ttl - 1]!.note, named.tooBig === 'drop' ? 'silence' : 'ptb-bad');
        }
      }),
      { numRuns: 400 },
    );
  });
}
