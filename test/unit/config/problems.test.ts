import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { ConfigError } from '../../../src/errors.js';
import { describeExpected, fieldPath, problemsFromIssues, throwIfProblems } from '../../../src/config/problems.js';
import { integer } from '../../../src/config/parsers.js';

test('fieldPath writes indexes and keys the way an operator points at them', () => {
  assert.equal(fieldPath('routes', ['peers', 2, 'address']), 'routes.peers[2].address');
  assert.equal(fieldPath('', ['a', 0]), 'a[0]');
  assert.equal(fieldPath('--x', []), '--x');
});

test('built-in zod issues become readable expectations', () => {
  const schema = z.object({
    n: z.number().int().min(3).max(9),
    s: z.string().min(2),
    e: z.enum(['a', 'b']),
    l: z.array(z.string()).max(1),
    t: z.boolean(),
  }).strict();
  const value = { n: 1, s: 'x', e: 'c', l: ['p', 'q'], t: 'yes', extra: 1 };
  const r = schema.safeParse(value);
  assert.equal(r.success, false);
  const problems = problemsFromIssues(r.error!.issues, { field: 'routes', value });
  const byField = new Map(problems.map((p) => [p.field, p]));
  assert.deepEqual(byField.get('routes.n'), { field: 'routes.n', value: 1, expected: '>= 3' });
  assert.deepEqual(byField.get('routes.s'), { field: 'routes.s', value: 'x', expected: 'at least 2 characters' });
  assert.deepEqual(byField.get('routes.e'), { field: 'routes.e', value: 'c', expected: 'one of "a", "b"' });
  assert.deepEqual(byField.get('routes.l'), { field: 'routes.l', value: ['p', 'q'], expected: 'at most 1 items' });
  assert.deepEqual(byField.get('routes.t'), { field: 'routes.t', value: 'yes', expected: 'a value of type boolean' });
  assert.deepEqual(byField.get('routes'), { field: 'routes', value, expected: 'no unknown keys (found extra)' });
});

test('custom parser issues carry their expectation through', () => {
  const r = integer({ min: 1, max: 2 }).safeParse('7');
  assert.equal(r.success, false);
  assert.equal(describeExpected(r.error!.issues[0]!), 'an integer in 1..2');
  assert.deepEqual(problemsFromIssues(r.error!.issues, { field: 'TABLE_WEIGHT', value: '7' }), [
    { field: 'TABLE_WEIGHT', value: '7', expected: 'an integer in 1..2' },
  ]);
});

test('throwIfProblems raises one ConfigError with every problem, or nothing', () => {
  throwIfProblems([]);
  const problems = [
    { field: 'a', value: 1, expected: 'x' },
    { field: 'b', value: 'q', expected: 'y' },
  ];
  assert.throws(
    () => throwIfProblems(problems),
    (e: unknown) => e instanceof ConfigError && e.code === 'PG_CONFIG' && e.problems.length === 2 && /2 problems/.test(e.message),
  );
});
