/**
 * Errors that cross a thread boundary (the relay's data-plane worker posts
 * them to the main thread as plain data) keep their class and code: a
 * ConfigError raised in a worker still exits 2, and every code used is an
 * ErrorCode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, ERROR_CODES, PathguardError, SyscallError, isErrorCode, reviveError, serializeError } from '../../../src/errors.js';
import { exitCodeFor } from '../../../src/cli/exit.js';

test('a ConfigError raised in a worker exits 2 on the main thread, with every problem', () => {
  const err = new ConfigError([{ field: 'ports', value: 70000, expected: 'an integer in 0..65535' }]);
  const back = reviveError(structuredClone(serializeError(err)));
  assert.ok(back instanceof ConfigError);
  assert.deepEqual(back.problems, err.problems);
  assert.equal(exitCodeFor(back), 2);
});

test('other PathguardErrors keep their code and exit 1; anything else becomes PG_INTERNAL with its stack', () => {
  const back = reviveError(structuredClone(serializeError(new SyscallError('bind', 98, 'EADDRINUSE'))));
  assert.equal(back.code, 'PG_SYSCALL');
  assert.equal(exitCodeFor(back), 1);
  const bug = reviveError(structuredClone(serializeError(new TypeError('x is undefined'))));
  assert.equal(bug.code, 'PG_INTERNAL');
  assert.match(bug.message, /TypeError: x is undefined/);
  assert.equal(reviveError({ code: 'PG_NOT_A_CODE', message: 'm' }).code, 'PG_INTERNAL', 'an unknown code is not trusted');
});

test('every code the project raises is an ErrorCode (PG_INTERNAL included)', () => {
  assert.ok(ERROR_CODES.includes('PG_INTERNAL'));
  for (const code of ERROR_CODES) {
    assert.equal(isErrorCode(code), true);
    assert.equal(new PathguardError(code, 'm').code, code);
  }
  assert.equal(isErrorCode('PG_SOMETHING_ELSE'), false);
});
