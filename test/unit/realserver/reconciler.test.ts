// Fail static: a VIP file that cannot be read, or holds only bad entries, changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { realserverConfig } from '../../../src/realserver/config.js';
import { Reconciler, exitCodeOf, reasonsOf } from '../../../src/realserver/reconciler.js';
import type { RealserverKernel } from '../../../src/realserver/kernel.js';
import { createLogger } from '../../../src/obs/log.js';

const log = createLogger({ level: 'silent' });
// the kernel must not be touched at all when the reconcile holds
const untouchable = new Proxy({}, { get: () => assert.fail('the kernel was used') }) as unknown as RealserverKernel;
const cfg = realserverConfig({ vipsFile: '/etc/pathguard/vips' }, {}, undefined);

test('an unreadable VIP file holds: nothing read from or written to the kernel, exit 1 with the reason', async () => {
  const r = await new Reconciler({ cfg, kernel: untouchable, log, readText: () => Promise.reject(new Error('ENOENT: no such file')) }).reconcile('test');
  assert.equal(r.outcome, 'held');
  assert.equal(exitCodeOf(r, false), 1);
  assert.match(reasonsOf(r).join('\n'), /\/etc\/pathguard\/vips cannot be read \(ENOENT: no such file\); nothing is changed/);
});

test('a VIP file with only bad entries holds too (an empty set by mistake would remove every VIP)', async () => {
  const r = await new Reconciler({ cfg, kernel: untouchable, log, readText: () => Promise.resolve('198.51.100.300\n') }).reconcile('test');
  assert.equal(r.outcome, 'held');
  const why = reasonsOf(r).join('\n');
  assert.match(why, /vips:1: "198\.51\.100\.300" is not an IPv4 or IPv6 address/);
  assert.match(why, /no usable service address/);
});
