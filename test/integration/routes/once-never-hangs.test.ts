// Regression: `routes --once` whose changes the kernel refuses (here EPERM:
// no CAP_NET_ADMIN) used to report, then wait forever on the retry it had
// scheduled. It must print the reasons and exit 1 at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labUnavailable, withLab } from '../../harness/netns.js';

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const skip = labUnavailable() ?? (SETPRIV ? undefined : 'setpriv (util-linux) is not installed');
const MAIN_JS = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

const METALLB = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: pool, namespace: metallb-system}
spec: {addresses: [198.51.100.0/28]}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: all, namespace: metallb-system}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: router, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64513, peerAddress: 192.0.2.1}
`;

test('routes --once exits 1 with the reasons when the kernel refuses every change', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgt-once-'));
  try {
    const file = join(dir, 'metallb.yaml');
    writeFileSync(file, METALLB);
    await withLab('once', async (lab) => {
      const node = await lab.ns('node');
      const router = await lab.ns('rtr');
      await lab.veth(node, 'eth0', router, 'eth0');
      await node.addr('eth0', '192.0.2.2/24');
      await router.addr('eth0', '192.0.2.1/24');
      const t0 = Date.now();
      const r = spawnSync(
        'ip',
        ['netns', 'exec', node.name, SETPRIV!, '--bounding-set=-all', process.execPath, MAIN_JS, 'routes', '--once', '--node-name', 'n1', '--metallb-file', file, '--log-level', 'error'],
        { encoding: 'utf8', timeout: 20_000 },
      );
      assert.equal(r.error, undefined, 'routes --once did not exit by itself');
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /EPERM/);
      assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
