/**
 * Turning validation failures into ConfigProblems (src/errors.ts): every
 * problem names the field, the value found and what was expected, so one
 * ConfigError can list everything that is wrong at once. zod is the
 * validator; this module only translates its issues into that shape.
 */
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from '../errors.js';

/** `base` plus a zod path, written the way an operator would point at it: `peers[2].address`. */
export function fieldPath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

/** What the issue says was expected, phrased to follow "expected ". */
export function describeExpected(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'int' ? 'an integer' : `a value of type ${issue.expected}`;
    case 'too_small':
      return issue.origin === 'string' || issue.origin === 'array'
        ? `at least ${String(issue.minimum)} ${issue.origin === 'string' ? 'characters' : 'items'}`
        : `${issue.inclusive === false ? '>' : '>='} ${String(issue.minimum)}`;
    case 'too_big':
      return issue.origin === 'string' || issue.origin === 'array'
        ? `at most ${String(issue.maximum)} ${issue.origin === 'string' ? 'characters' : 'items'}`
        : `${issue.inclusive === false ? '<' : '<='} ${String(issue.maximum)}`;
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return `no unknown keys (found ${issue.keys.join(', ')})`;
    case 'invalid_format':
      return issue.format === 'regex' && issue.pattern ? `a string matching ${issue.pattern}` : `a valid ${issue.format}`;
    case 'not_multiple_of':
      return `a multiple of ${issue.divisor}`;
    case 'invalid_union':
      return 'one of the accepted forms';
    default:
      // custom issues carry the expectation as their message (see src/config/parsers.ts)
      return issue.message;
  }
}

/** The value at `path` inside `root`, or undefined when the path does not lead anywhere. */
function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (!Object.prototype.hasOwnProperty.call(cur, seg)) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

/**
 * Every zod issue as a ConfigProblem. `field` is the name the operator used
 * (`--table`, `TABLE_WEIGHT`, `routes.table`); `value` is what was parsed, so
 * nested issues can show the exact bad element.
 */
export function problemsFromIssues(
  issues: readonly z.core.$ZodIssue[],
  where: { readonly field: string; readonly value: unknown },
): ConfigProblem[] {
  return issues.map((issue) => {
    const value = issue.path.length === 0 ? where.value : valueAt(where.value, issue.path);
    return {
      field: fieldPath(where.field, issue.path),
      value: value === undefined && issue.input !== undefined ? issue.input : value,
      expected: describeExpected(issue),
    };
  });
}

/** Throw one ConfigError naming every problem, or return when there is none. */
export function throwIfProblems(problems: readonly ConfigProblem[]): void {
  if (problems.length > 0) throw new ConfigError(problems);
}
