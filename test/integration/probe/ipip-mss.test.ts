// `probe ipip` and `probe mss` against a test LVS-IPIP realserver
// (helpers/realserver-lab.ts): the encapsulated SYN is decapsulated by the
// helper, the realserver's kernel answers it directly, and the nftables clamp
// on its SYN-ACKs sets the MSS both probes report. With the realserver's
// firewall dropping protocol 4 / 41, `probe ipip` fails and says what to check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, labUnavailable } from '../../harness/netns.js';
import { runCli } from './helpers/chain-lab.js';
import { buildRealserver, mssClamp, DROP_TUNNELS, CLIENT, PORT, RS, VIP } from './helpers/realserver-lab.js';
import type { IpipResult } from '../../../src/probe/ipip-run.js';
import type { MssResult } from '../../../src/probe/mss-run.js';

const skip = labUnavailable();

test('probe ipip and probe mss against a realserver with an MSS clamp, IPv4 and IPv6', { skip, timeout: 120_000 }, async (t) => {
  await withLab('probeip', async (lab) => {
    const l = await buildRealserver(lab);
    const vipPort = (f: 4 | 6) => (f === 4 ? `${VIP[4]}:${PORT}` : `[${VIP[6]}]:${PORT}`);

    await t.test('without a clamp the SYN-ACK carries the MSS of a 1500-byte link', async () => {
      const run = await runCli(l.client, ['probe', 'mss', vipPort(4), '--json']);
      assert.equal(run.code, 0, run.stderr);
      assert.equal((JSON.parse(run.stdout) as MssResult).mss, 1460);
    });

    await l.rs.nft(mssClamp(1400));
    for (const f of [4, 6] as const) {
      await t.test(`IPv${f}: probe ipip gets the SYN-ACK through the tunnel with the clamped MSS`, async () => {
        const before = l.decapLines().length;
        const run = await runCli(l.client, ['probe', 'ipip', RS[f], '--vip', VIP[f], '--port', String(PORT), '--json']);
        assert.equal(run.code, 0, run.stderr);
        const r = JSON.parse(run.stdout) as IpipResult;
        assert.equal(r.ok, true);
        assert.equal(r.answer, 'syn-ack');
        assert.equal(r.mss, 1400);
        assert.equal(r.encapsulation, f === 4 ? 4 : 41);
        assert.equal(r.source, CLIENT[f]);
        assert.deepEqual(r.hints, []);
        // the SYN and the RST that reset the half-open connection both went through the decapsulation
        assert.ok(l.decapLines().length >= before + 2, `decap helper saw ${l.decapLines().length - before} packets`);
      });

      await t.test(`IPv${f}: probe mss reports the clamped MSS`, async () => {
        const run = await runCli(l.client, ['probe', 'mss', vipPort(f)]);
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stdout, new RegExp(`^${VIP[f].replace(/\./g, '\\.')} port ${PORT}: MSS 1400 `));
      });
    }

    await t.test('a closed port: RST, exit 1, and the hint names the listener', async () => {
      const run = await runCli(l.client, ['probe', 'ipip', RS[4], '--vip', VIP[4], '--port', String(PORT + 1), '--json']);
      assert.equal(run.code, 1);
      const r = JSON.parse(run.stdout) as IpipResult;
      assert.equal(r.answer, 'rst');
      assert.match(r.hints[0]!, /nothing listens on 203\.0\.113\.10 port 8081/);
    });

    await l.rs.nft(DROP_TUNNELS);
    for (const f of [4, 6] as const) {
      await t.test(`IPv${f}: the realserver's firewall drops protocol ${f === 4 ? 4 : 41}: no answer, exit 1, the firewall hint first`, async () => {
        const run = await runCli(l.client, ['probe', 'ipip', RS[f], '--vip', VIP[f], '--port', String(PORT), '--wait', '300ms']);
        assert.equal(run.code, 1);
        assert.match(run.stdout, /failed: no answer/);
        const proto = f === 4 ? 'IP protocol 4 \\(IPIP\\)' : 'next header 41 \\(IPv6-in-IPv6\\)';
        assert.match(run.stdout, new RegExp(`check:\\n  - a firewall on the realserver \\(or on the way\\) must accept ${proto} from ${CLIENT[f].replace(/\./g, '\\.')}`));
        assert.match(run.stdout, f === 4 ? /ipip0/ : /ip6tnl0/);
        assert.match(run.stdout, new RegExp(`${VIP[f].replace(/\./g, '\\.')} must be configured on the realserver`));
      });
    }

    await t.test('probe mss to a closed port fails with exit 1', async () => {
      const run = await runCli(l.client, ['probe', 'mss', `${VIP[4]}:${PORT + 1}`, '--attempts', '1']);
      assert.equal(run.code, 1);
      assert.match(run.stdout, /ECONNREFUSED/);
    });
  });
});

test('nothing decapsulates protocol 4 on the realserver: its protocol-unreachable is reported', { skip, timeout: 60_000 }, async () => {
  await withLab('probenod', async (lab) => {
    const client = await lab.ns('cl');
    const rs = await lab.ns('rs');
    await lab.veth(client, 'eth0', rs, 'eth0');
    await client.addr('eth0', `${CLIENT[4]}/24`);
    await rs.addr('eth0', `${RS[4]}/24`);
    await rs.addr('lo', `${VIP[4]}/32`);
    const run = await runCli(client, ['probe', 'ipip', RS[4], '--vip', VIP[4], '--port', String(PORT), '--json']);
    assert.equal(run.code, 1);
    const r = JSON.parse(run.stdout) as IpipResult;
    assert.equal(r.answer, 'icmp');
    assert.equal(r.icmp?.from, RS[4]);
    assert.match(r.icmp!.meaning, /protocol unreachable/);
  });
});
