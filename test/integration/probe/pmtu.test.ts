// `probe pmtu` on a chain of routers (helpers/chain-lab.ts) whose narrowest
// link is 1400, IPv4 and IPv6: with working too-big messages, with the narrow
// hop's too-big messages dropped by nftables (a black hole), with a router in
// front of it that sends no ICMP at all, and on a path with no narrow link;
// and the same MTU as iputils' tracepath where tracepath finds one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { withLab, labUnavailable, type Netns } from '../../harness/netns.js';
import { buildChain, runCli, DROP_ALL_ICMP_ERRORS, DROP_TOO_BIG, USELESS_TOO_BIG, type ChainLab } from './helpers/chain-lab.js';
import type { PmtuResult } from '../../../src/probe/pmtu-result.js';

const skip = labUnavailable();
const TRACEPATH = ['/usr/bin/tracepath', '/bin/tracepath'].find((p) => existsSync(p));
// Routers in the lab answer at once; a short wait keeps each black-hole search to a few seconds.
const FAST = ['--wait', '250ms', '--attempts', '2'];

async function pmtu(ns: Netns, target: string, ...extra: string[]): Promise<{ code: number; r: PmtuResult; stderr: string }> {
  const run = await runCli(ns, ['probe', 'pmtu', target, '--json', ...FAST, ...extra]);
  assert.ok(run.stdout.trim().startsWith('{'), `no JSON on stdout (exit ${run.code}): ${run.stderr}`);
  return { code: run.code, r: JSON.parse(run.stdout) as PmtuResult, stderr: run.stderr };
}

async function tracepathPmtu(ns: Netns, target: string): Promise<number | undefined> {
  const r = await ns.exec(TRACEPATH!, ['-n', '-m', '8', target], { timeoutMs: 60_000 });
  const m = /Resume: pmtu (\d+)/.exec(r.stdout);
  return m ? Number(m[1]) : undefined;
}

for (const family of [4, 6] as const) {
  test(`IPv${family}: a 1400 link behind hop 2 — found by too-big, then as a black hole, with a silent hop in front`, { skip, timeout: 240_000 }, async (t) => {
    await withLab(`probe${family}`, async (lab) => {
      const l: ChainLab = await buildChain(lab, 1400);
      const target = l.target[family];
      const hop2 = l.hop[family][1];

      await t.test('too-big messages work: 1400, ok, hop 2 noted ptb', async () => {
        const { code, r } = await pmtu(l.client, target);
        assert.equal(code, 0);
        assert.equal(r.pmtu, 1400);
        assert.equal(r.verdict, 'ok');
        assert.equal(r.hop, undefined);
        assert.deepEqual(r.bottleneck, { ttl: 2, address: hop2, note: 'ptb' });
        assert.deepEqual(r.hops.map((h) => h.address), l.hop[family]);
        assert.equal(r.hops[3]!.target, true);
        assert.ok(r.tooBig.every((tb) => tb.from === hop2 && tb.mtu === 1400 && tb.problem === undefined));
      });

      await t.test('tracepath finds the same MTU', { skip: TRACEPATH ? false : 'iputils-tracepath is not installed' }, async () => {
        assert.equal(await tracepathPmtu(l.client, target), 1400);
      });

      for (const proto of ['icmp', 'tcp'] as const) {
        await t.test(`--proto ${proto} finds the same`, async () => {
          const { code, r } = await pmtu(l.client, target, '--proto', proto, '--port', '80');
          assert.equal(code, 0);
          assert.equal(r.pmtu, 1400);
          assert.equal(r.proto, proto);
          assert.deepEqual(r.bottleneck, { ttl: 2, address: hop2, note: 'ptb' });
        });
      }

      await l.r2.nft(DROP_TOO_BIG);
      await t.test("hop 2's too-big dropped by nftables: black-hole, still 1400 by search, hop 2 noted silence", async () => {
        const { code, r } = await pmtu(l.client, target);
        assert.equal(code, 1);
        assert.equal(r.verdict, 'black-hole');
        assert.equal(r.pmtu, 1400);
        assert.deepEqual(r.hop, { ttl: 2, address: hop2 });
        assert.equal(r.hops[1]!.note, 'silence');
        assert.deepEqual(r.tooBig, []);
      });

      await l.r1.nft(DROP_ALL_ICMP_ERRORS);
      await t.test('hop 1 sends no ICMP at all: the search still ends at 1400 and names hop 2', async () => {
        const { code, r } = await pmtu(l.client, target);
        assert.equal(code, 1);
        assert.equal(r.verdict, 'black-hole');
        assert.equal(r.pmtu, 1400);
        assert.deepEqual(r.hop, { ttl: 2, address: hop2 });
        assert.equal(r.hops[0]!.address, undefined);
        assert.equal(r.hops[3]!.address, target);
      });
    });
  });

  test(`IPv${family}: no narrow link — the interface MTU and ok, as tracepath says`, { skip, timeout: 120_000 }, async () => {
    await withLab(`probe${family}w`, async (lab) => {
      const l = await buildChain(lab, 1500);
      const { code, r } = await pmtu(l.client, l.target[family]);
      assert.equal(code, 0);
      assert.equal(r.verdict, 'ok');
      assert.equal(r.pmtu, 1500);
      assert.equal(r.interfaceMtu, 1500);
      assert.equal(r.bottleneck, undefined);
      assert.equal(r.hops.length, 4);
      if (TRACEPATH) assert.equal(await tracepathPmtu(l.client, l.target[family]), 1500);
    });
  });
}

test('too-big messages with a useless MTU: ptb-bad at hop 2, black-hole, 1400 by search; the MTU the kernel cached meanwhile changes nothing', { skip, timeout: 120_000 }, async () => {
  await withLab('probebad', async (lab) => {
    const l = await buildChain(lab, 1400);
    await l.r2.nft(USELESS_TOO_BIG);
    for (const family of [4, 6] as const) {
      const { code, r } = await pmtu(l.client, l.target[family]);
      assert.equal(code, 1);
      assert.equal(r.verdict, 'black-hole');
      assert.equal(r.pmtu, 1400);
      assert.deepEqual(r.hop, { ttl: 2, address: l.hop[family][1] });
      assert.equal(r.hops[1]!.note, 'ptb-bad');
      assert.ok(r.tooBig.length > 0 && r.tooBig.every((t) => t.problem !== undefined && t.ttl === 2));
    }
    // Linux took the MTU-0 message as RFC 1191's "use the next plateau" and cached a path MTU
    // of 552 (min_pmtu) for the target; a socket in PMTUDISC_PROBE mode still sends 1500 bytes.
    const cached = (await l.client.ip('route', 'get', l.target[4])).stdout;
    assert.match(cached, /mtu lock 552/);
    const again = await runCli(l.client, ['probe', 'pmtu', l.target[4], ...FAST, '--verbose', '--json']);
    assert.match(again.stderr, /^search size 1500: too-big mtu 0 from 192\.0\.2\.6$/m);
    assert.equal((JSON.parse(again.stdout) as PmtuResult).pmtu, 1400);
  });
});

test('an unreachable target: verdict unreachable, exit 1, the last hop that answered', { skip, timeout: 120_000 }, async () => {
  await withLab('probeun', async (lab) => {
    const l = await buildChain(lab, 1400);
    // the server drops everything: neither port unreachable nor anything else comes back
    await l.server.nft('table inet pgprobe {\n  chain in {\n    type filter hook input priority 0; policy drop;\n  }\n}\n');
    const { code, r } = await pmtu(l.client, l.target[4], '--max-hops', '6');
    assert.equal(code, 1);
    assert.equal(r.verdict, 'unreachable');
    assert.equal(r.pmtu, undefined);
    assert.deepEqual(r.hop, { ttl: 3, address: l.hop[4][2] });
  });
});

test('usage errors exit 2 and name the field, the value and what was expected', { skip }, async () => {
  await withLab('probeus', async (lab) => {
    const ns = await lab.ns('u');
    const run = await runCli(ns, ['probe', 'pmtu', '192.0.2.300', '--attempts', '0']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /TARGET: got "192\.0\.2\.300", expected an IPv4 or IPv6 address/);
    assert.match(run.stderr, /--attempts: got "0", expected an integer in 1\.\.10/);
  });
});
