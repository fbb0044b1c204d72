import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { envNames, field, flagName, resolveFields } from '../../../src/config/field.js';
import { boolean, integer, text } from '../../../src/config/parsers.js';

const specs = {
  rulePriority: field({ env: ['RULE_PRIORITY'], schema: integer({ min: 1, max: 1000 }), default: 20 }),
  nodeName: field({ env: ['NODE_NAME', 'HOSTNAME_ALIAS'], schema: text() }),
  once: field({ env: ['ONESHOT'], schema: boolean(), default: false, file: false }),
};

test('names: flag and env derive from the camelCase key', () => {
  assert.equal(flagName('rulePriority'), 'rule-priority');
  assert.deepEqual(envNames('rulePriority', specs.rulePriority), ['PATHGUARD_RULE_PRIORITY', 'RULE_PRIORITY']);
  assert.deepEqual(envNames('nodeName', specs.nodeName), ['PATHGUARD_NODE_NAME', 'NODE_NAME', 'HOSTNAME_ALIAS']);
});

// precedence table: [flags, env, file, expected value, expected origin]
const cases: [string, Record<string, unknown>, Record<string, string>, unknown, number, string][] = [
  ['default only', {}, {}, undefined, 20, 'default'],
  ['file over default', {}, {}, { rulePriority: 30 }, 30, 'file'],
  ['alias env over file', {}, { RULE_PRIORITY: '40' }, { rulePriority: 30 }, 40, 'env'],
  ['own env over alias', {}, { RULE_PRIORITY: '40', PATHGUARD_RULE_PRIORITY: '50' }, { rulePriority: 30 }, 50, 'env'],
  ['flag over everything', { rulePriority: '60' }, { PATHGUARD_RULE_PRIORITY: '50' }, { rulePriority: 30 }, 60, 'flag'],
  ['empty env is unset', {}, { PATHGUARD_RULE_PRIORITY: '', RULE_PRIORITY: '' }, { rulePriority: 30 }, 30, 'file'],
  ['undefined flag is unset', { rulePriority: undefined }, { RULE_PRIORITY: '41' }, undefined, 41, 'env'],
  ['null file value is unset', {}, {}, { rulePriority: null }, 20, 'default'],
  ['file string parsed like env', {}, {}, { rulePriority: '33' }, 33, 'file'],
];

for (const [name, flags, env, file, want, origin] of cases) {
  test(`precedence: ${name}`, () => {
    const r = resolveFields(specs, { flags, env, file });
    assert.deepEqual(r.problems, []);
    assert.equal(r.values.rulePriority, want);
    assert.equal(r.origins.rulePriority, origin);
  });
}

test('an invalid higher-precedence value is an error, never a fallback', () => {
  const r = resolveFields(specs, { env: { RULE_PRIORITY: 'twenty' }, file: { rulePriority: 30 } });
  assert.equal(r.values.rulePriority, undefined);
  assert.deepEqual(r.problems, [{ field: 'RULE_PRIORITY', value: 'twenty', expected: 'an integer in 1..1000' }]);
});

test('problems name the source the value came from', () => {
  const flag = resolveFields(specs, { flags: { rulePriority: '0' } });
  assert.equal(flag.problems[0]?.field, '--rule-priority');
  const file = resolveFields(specs, { file: { rulePriority: 5000 } }, 'routes');
  assert.deepEqual(file.problems, [{ field: 'routes.rulePriority', value: 5000, expected: 'an integer in 1..1000' }]);
});

test('every problem is reported at once', () => {
  const r = resolveFields(specs, { flags: { rulePriority: 'x' }, env: { ONESHOT: 'perhaps' }, file: { nodeName: '', typo: 1 } }, 'routes');
  const fields = r.problems.map((p) => p.field).sort();
  assert.deepEqual(fields, ['--rule-priority', 'ONESHOT', 'routes.nodeName', 'routes.typo']);
});

test('unknown file keys and file-less fields are refused by name', () => {
  const r = resolveFields(specs, { file: { once: true, rulePriorty: 5 } }, 'routes');
  assert.deepEqual(
    r.problems.map((p) => [p.field, p.expected]),
    [
      ['routes.once', 'a known setting (one of rulePriority, nodeName)'],
      ['routes.rulePriorty', 'a known setting (one of rulePriority, nodeName)'],
    ],
  );
});

test('a file that is not a mapping is one problem', () => {
  const r = resolveFields(specs, { file: ['a'] }, 'routes');
  assert.deepEqual(r.problems, [{ field: 'routes', value: ['a'], expected: 'a mapping of setting names to values' }]);
});

test('optional fields without a value stay undefined; env alias order holds', () => {
  assert.equal(resolveFields(specs, {}).values.nodeName, undefined);
  const r = resolveFields(specs, { env: { HOSTNAME_ALIAS: 'b', NODE_NAME: 'a' } });
  assert.equal(r.values.nodeName, 'a');
});

test('prototype keys in inputs are not settings', () => {
  const file = JSON.parse('{"__proto__": {"rulePriority": 99}}') as unknown;
  const r = resolveFields(specs, { file, env: Object.create({ RULE_PRIORITY: '77' }) as Record<string, string> });
  assert.equal(r.values.rulePriority, 20);
  assert.equal(r.problems.length, 1);
  assert.equal(r.problems[0]?.field, '__proto__');
});

test('property: the highest source present always wins', () => {
  const maybe = fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined });
  fc.assert(
    fc.property(maybe, maybe, maybe, maybe, (flag, ownEnv, alias, file) => {
      const env: Record<string, string> = {};
      if (ownEnv !== undefined) env.PATHGUARD_RULE_PRIORITY = String(ownEnv);
      if (alias !== undefined) env.RULE_PRIORITY = String(alias);
      const r = resolveFields(specs, { flags: { rulePriority: flag === undefined ? undefined : String(flag) }, env, file: file === undefined ? undefined : { rulePriority: file } });
      assert.equal(r.values.rulePriority, flag ?? ownEnv ?? alias ?? file ?? 20);
    }),
    { numRuns: 200 },
  );
});

test('file keys may be written like the flags (kebab-case) or camelCase, but not both', async () => {
  const { resolveFields, field } = await import('../../../src/config/field.js');
  const { integer } = await import('../../../src/config/parsers.js');
  const specs = { rulePriority: field({ schema: integer({ min: 1, max: 100 }), default: 20 }) };
  const kebab = resolveFields(specs, { file: { 'rule-priority': 7 } }, 'routes');
  assert.equal(kebab.values.rulePriority, 7);
  assert.equal(kebab.origins.rulePriority, 'file');
  assert.deepEqual(kebab.problems, []);
  const both = resolveFields(specs, { file: { 'rule-priority': 7, rulePriority: 8 } }, 'routes');
  assert.equal(both.problems.length, 1);
  assert.equal(both.problems[0]!.field, 'routes.rulePriority');
  assert.match(both.problems[0]!.expected, /rule-priority and rulePriority are the same setting/);
});
