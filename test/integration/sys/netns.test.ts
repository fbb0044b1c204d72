// withNetns: setns(2) into a lab namespace and back, on the calling thread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { SyscallError } from '../../../src/errors.js';
import * as libc from '../../../src/sys/libc.js';
import { withNetns } from '../../../src/sys/netns.js';
import { withLab, labUnavailable } from '../../harness/netns.js';

const skip = labUnavailable();

/** The nsfs inode identifies a namespace. */
const current = (): number => statSync('/proc/thread-self/ns/net').ino;

test('withNetns runs fn inside the namespace and always returns to the original one', { skip }, async () => {
  await withLab('setns', async (lab) => {
    const a = await lab.ns('a');
    const b = await lab.ns('b');
    await lab.veth(a, 'pgtns0', b, 'pgtns1');
    const home = current();
    const target = statSync(a.path).ino;
    assert.notEqual(home, target);

    const seen = withNetns(a.path, () => ({ ns: current(), ifindex: libc.ifNameToIndex('pgtns0') }));
    assert.equal(seen.ns, target);
    assert.equal(seen.ifindex, await a.ifindex('pgtns0'));
    assert.equal(current(), home);
    assert.throws(() => libc.ifNameToIndex('pgtns0'), SyscallError, 'the lab interface is not visible from home');

    // A socket keeps the namespace it was created in.
    const fd = withNetns(a.path, () => libc.socket(2, libc.SOCK.DGRAM | libc.SOCK.CLOEXEC, 0));
    try {
      libc.setsockopt(fd, libc.SOL.SOCKET, libc.SO.BINDTODEVICE, new TextEncoder().encode('pgtns0\0'), 'SO_BINDTODEVICE');
    } finally {
      libc.close(fd);
    }

    assert.throws(() => withNetns(a.path, () => { throw new Error('inside'); }), /inside/);
    assert.equal(current(), home, 'restored after a throw');

    assert.throws(() => withNetns(a.path, async () => 1), TypeError);
    assert.equal(current(), home, 'restored after an async fn');

    assert.throws(
      () => withNetns('/run/netns/pgt-does-not-exist', () => 1),
      (err: unknown) => err instanceof SyscallError && err.syscall === 'open' && err.errnoName === 'ENOENT',
    );
    assert.equal(current(), home);
  });
});
