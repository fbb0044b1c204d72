// "You may not" versus "someone else holds it": both are EPERM from the
// kernel, so the relay reads its capabilities to say which. Run as root with
// every capability dropped from the bounding set (setpriv), so uid 0 keeps
// reading its files but has no CAP_NET_ADMIN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CAP, hasCapability } from '../../../src/sys/capabilities.js';
import { labUnavailable, withLab } from '../../harness/netns.js';

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const skip = labUnavailable() ?? (SETPRIV ? undefined : 'setpriv (util-linux) is not installed');
const CAPS_JS = fileURLToPath(new URL('../../../src/sys/capabilities.js', import.meta.url));
const MAIN_JS = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

test('hasCapability sees CAP_NET_ADMIN as root and its absence without it', { skip }, () => {
  assert.equal(hasCapability(CAP.NET_ADMIN), true);
  const r = spawnSync(SETPRIV!, ['--bounding-set=-all', process.execPath, '--input-type=module', '-e', `import { hasCapability } from ${JSON.stringify(CAPS_JS)}; console.log(hasCapability(12))`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'false');
});

test('a relay without CAP_NET_ADMIN says it needs the capability, not that the group is taken', { skip }, async () => {
  await withLab('nocap', async (lab) => {
    const ns = await lab.ns('n');
    const r = await ns
      .exec(SETPRIV!, ['--bounding-set=-all', process.execPath, MAIN_JS, 'relay', '--peers', '192.0.2.2', '--iface', 'lo', '--no-manage-firewall', '--metrics-addr', '127.0.0.1:9462'])
      .then(
        () => assert.fail('the relay started without CAP_NET_ADMIN'),
        (err: Error) => err.message,
      );
    assert.match(r, /needs CAP_NET_ADMIN/);
    assert.doesNotMatch(r, /already bound/);
  });
});
