// Replicas injected through the TUN device keep their remote source address,
// so IPv4 reverse-path filtering decides their fate. With
// net.ipv4.conf.all.rp_filter=2 (loose, systemd's default) the relay gives the
// TUN device an address so loose mode accepts them; with 1 (strict) nothing
// can, and the relay says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labUnavailable, waitFor, withLab } from '../../harness/netns.js';
import { buildEcmpLab, download, learnedMtu, startHttpServer, LAB } from '../../../src/demo/ecmp-lab.js';
import { PATHGUARD_MAIN } from './helpers/relay-process.js';

const skip = labUnavailable();

for (const [all, fixed] of [['2', true], ['1', false]] as const) {
  test(`udp transport with net.ipv4.conf.all.rp_filter=${all}: ${fixed ? 'replicas are accepted' : 'a plain error, and no fix'}`, { skip }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgt-rpf-'));
    try {
      await withLab('rpf', async (lab) => {
        const l = await buildEcmpLab(lab);
        await startHttpServer(l.owner, 2_000_000).ready;
        const peers = l.nodes.flatMap((n) => [n.v4, n.v6]).join(',');
        let ownerLog = '';
        for (const n of l.nodes) {
          await n.ns.sysctl('net.ipv4.conf.all.rp_filter', all);
          const c = n.ns.spawn(process.execPath, [PATHGUARD_MAIN, 'relay', '--iface', 'eth0', '--peers', peers, '--vip-networks', `${LAB.vipV4}/32`, '--transport', 'udp', '--log-level', 'info', '--ready-file', join(dir, n.name)]);
          if (n === l.owner) c.stderr!.on('data', (d: Buffer) => (ownerLog += d.toString()));
        }
        await waitFor(() => l.nodes.every((n) => existsSync(join(dir, n.name))), 15_000);
        const d = await download(l, 4, 4);
        assert.equal(d.ok, fixed, ownerLog);
        assert.equal(await learnedMtu(l.owner, 4), fixed ? LAB.pathMtu : undefined);
        if (fixed) assert.match(ownerLog, /gave the TUN device this node's address/);
        else assert.match(ownerLog, /net\.ipv4\.conf\.all\.rp_filter is 1/);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
