// The rules that decide which lab namespaces a sweep may delete (issue #12):
// several test runs share a machine, so only namespaces whose owner and
// creator are both gone, or old-format names past their age limit, go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { judgeLab, labOwner, parseLabName, processStartTime, LAB_OWNER_ENV, LEGACY_MAX_AGE_MS, type LabFacts, type LabMarker } from '../../../src/demo/netns-lab.js';

test('lab names: the owner pid follows the prefix; old names have none; other prefixes are not labs', () => {
  assert.deepEqual(parseLabName('pgt-4242-loop-ab12c-n1'), { prefix: 'pgt-', owner: 4242 });
  assert.deepEqual(parseLabName('pgd-77-demo-x1y2z-node-a'), { prefix: 'pgd-', owner: 77 });
  assert.deepEqual(parseLabName('pgt-loop-ab12c-rtr'), { prefix: 'pgt-' }, 'the format before owners were recorded');
  assert.deepEqual(parseLabName('pgt-sz4-ab12c-node'), { prefix: 'pgt-' });
  assert.equal(parseLabName('pgx-4242-loop-ab12c-n1'), undefined);
  assert.equal(parseLabName('cni-1234'), undefined);
  assert.deepEqual(parseLabName('pgt-0-x'), { prefix: 'pgt-' }, 'pid 0 is not an owner');
});

test('lab names: any owner and tag survive a round trip through the name', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 4_194_304 }), fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/), (pid, tag) => {
      assert.deepEqual(parseLabName(`pgt-${pid}-${tag}-abcde-n1`), { prefix: 'pgt-', owner: pid });
    }),
  );
});

test('labOwner: PATHGUARD_LAB_OWNER when it is a pid, else this process', () => {
  assert.equal(labOwner({ [LAB_OWNER_ENV]: '1234' }), 1234);
  assert.equal(labOwner({}), process.pid);
  assert.equal(labOwner({ [LAB_OWNER_ENV]: 'x12' }), process.pid);
  assert.equal(labOwner({ [LAB_OWNER_ENV]: '0' }), process.pid);
});

test('processStartTime: this process has one, an exited process has none', () => {
  assert.ok((processStartTime(process.pid) ?? 0) > 0);
  const r = spawnSync(process.execPath, ['-e', '']);
  assert.equal(r.status, 0);
  assert.equal(processStartTime(r.pid!), undefined);
});

const marker = (m: Partial<LabMarker> = {}): LabMarker => ({ owner: 100, ownerStart: 5000, creator: 200, creatorStart: 6000, madeBy: 'test/x.test.ts:1', created: '', ...m });
const facts = (f: Partial<LabFacts>): LabFacts => ({ name: { prefix: 'pgt-', owner: 100 }, ageMs: 0, ...f });

test('judgeLab: a lab is live while its owner or its creator runs, stale when both are gone', () => {
  const cases: [string, LabFacts, ReturnType<typeof judgeLab>][] = [
    ['owner runs', facts({ marker: marker(), ownerStartNow: 5000 }), 'live'],
    ['owner runs, no marker', facts({ ownerStartNow: 1 }), 'live'],
    ['owner gone, creator runs (runner killed, test file still working)', facts({ marker: marker(), creatorStartNow: 6000 }), 'live'],
    ['owner and creator gone', facts({ marker: marker() }), 'owner-gone'],
    ['owner gone, no marker', facts({}), 'owner-gone'],
    ['owner pid reused by a later process', facts({ marker: marker(), ownerStartNow: 9999 }), 'owner-gone'],
    ['owner and creator pids both reused', facts({ marker: marker(), ownerStartNow: 9999, creatorStartNow: 8888 }), 'owner-gone'],
    ['marker of another owner is ignored', facts({ marker: marker({ owner: 101 }), creatorStartNow: 6000 }), 'owner-gone'],
    ['old name, young', facts({ name: { prefix: 'pgt-' }, ageMs: 60_000 }), 'legacy-young'],
    ['old name, old', facts({ name: { prefix: 'pgt-' }, ageMs: LEGACY_MAX_AGE_MS + 1, busy: false }), 'legacy-old'],
    ['old name, old, processes inside: maybe someone\'s lab', facts({ name: { prefix: 'pgt-' }, ageMs: LEGACY_MAX_AGE_MS + 1, busy: true }), 'legacy-busy'],
    ['old name, young, processes inside', facts({ name: { prefix: 'pgt-' }, ageMs: 1000, busy: true }), 'legacy-young'],
    ['old name with a marker: the marker names the owner', facts({ name: { prefix: 'pgt-' }, marker: marker(), ageMs: LEGACY_MAX_AGE_MS + 1, ownerStartNow: 5000 }), 'live'],
  ];
  for (const [why, f, verdict] of cases) assert.equal(judgeLab(f), verdict, why);
});
