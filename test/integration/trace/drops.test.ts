// Drop reasons named from the running kernel, each in the namespace and on
// the device where it happened:
//   - an nftables drop rule in the router's forward chain   NETFILTER_DROP
//   - strict reverse-path filtering at the router           IP_RPFILTER
//   - a UDP datagram to a closed port on the server         NO_SOCKET
//   - a destination the router has no route for             IP_INNOROUTES
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labUnavailable, withLab, type Netns } from '../../harness/netns.js';
import { C4, S4, settledLeftovers, netnsInode, routerLab, startTrace, type TraceEventJson } from './helpers/trace-lab.js';

const skip = labUnavailable();

/** Sends one UDP datagram from `ns` with bash's /dev/udp (no extra tools). */
async function udp(ns: Netns, dst: string, port: number): Promise<void> {
  await ns.exec('bash', ['-c', `echo probe > /dev/udp/${dst}/${port}`]).catch(() => undefined);
}

async function expectDrop(
  args: string[],
  send: () => Promise<void>,
  want: { reason: string; ns: Netns; dev: string; location?: RegExp },
): Promise<{ drop: TraceEventJson; events: TraceEventJson[] }> {
  const trace = await startTrace(args);
  let waited: unknown;
  try {
    await send();
    await trace.until((ev) => ev.some((e) => e.event === 'drop' && e.reason === want.reason));
  } catch (err) {
    waited = err;
  }
  const { code, events } = await trace.stop();
  assert.deepEqual(await settledLeftovers(trace.ready.ids), []);
  if (waited) throw waited;
  assert.equal(code, 0);
  const drop = events.find((e) => e.event === 'drop' && e.reason === want.reason)!;
  assert.equal(drop.netns, netnsInode(want.ns), `namespace of ${JSON.stringify(drop)}`);
  assert.equal(drop.dev, want.dev);
  assert.equal(drop.ifindex, await want.ns.ifindex(want.dev));
  if (want.location) assert.match(drop.location ?? '', want.location);
  return { drop, events };
}

test('an nftables drop rule: NETFILTER_DROP at the router', { skip, timeout: 60_000 }, async () => {
  await withLab('trdrop', async (lab) => {
    const { c, r } = await routerLab(lab);
    await r.nft(`table inet pgtrace {
      chain forward {
        type filter hook forward priority 0;
        udp dport 7777 drop
      }
    }`);
    const { drop } = await expectDrop(['--dst', S4, '--proto', 'udp', '--dport', '7777'], () => udp(c, S4, 7777), { reason: 'NETFILTER_DROP', ns: r, dev: 'eth0', location: /^(nf_hook_slow|nft_do_chain)\+/ });
    assert.equal(drop.dport, 7777);
  });
});

test('strict reverse-path filtering: IP_RPFILTER at the router', { skip, timeout: 60_000 }, async () => {
  await withLab('trrpf', async (lab) => {
    const { c, r } = await routerLab(lab);
    await r.sysctl('net.ipv4.conf.all.rp_filter', 1);
    await r.sysctl('net.ipv4.conf.eth0.rp_filter', 1);
    // a source the router has no route back to
    await c.addr('eth0', '192.0.2.99/32');
    await expectDrop(['--src', '192.0.2.99'], () => c.exec('ping', ['-c1', '-W1', '-I', '192.0.2.99', S4]).then(() => undefined, () => undefined), {
      reason: 'IP_RPFILTER',
      ns: r,
      dev: 'eth0',
    });
  });
});

test('a closed UDP port: NO_SOCKET at the server, with the port unreachable that answers it', { skip, timeout: 60_000 }, async () => {
  await withLab('trnosk', async (lab) => {
    const { c, s } = await routerLab(lab);
    const { drop, events } = await expectDrop(['udp', 'dst', S4, 'dport', '9'], () => udp(c, S4, 9), { reason: 'NO_SOCKET', ns: s, dev: 'eth0', location: /udp/ });
    assert.equal(drop.src, C4);
    // the server answers with port unreachable (type 3 code 3), which is reported as it leaves
    const icmp = events.find((e) => e.event === 'icmp' && e.netns === drop.netns);
    assert.deepEqual([icmp?.type, icmp?.code, icmp?.packet], [3, 3, drop.packet]);
  });
});

test('no route at the router: IP_INNOROUTES', { skip, timeout: 60_000 }, async () => {
  await withLab('trnort', async (lab) => {
    const { c, r } = await routerLab(lab);
    await expectDrop(['--dst', '192.0.2.200'], () => c.exec('ping', ['-c1', '-W1', '192.0.2.200']).then(() => undefined, () => undefined), {
      reason: 'IP_INNOROUTES',
      ns: r,
      dev: 'eth0',
    });
  });
});
