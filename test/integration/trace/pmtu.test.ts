// The PMTU case: a router namespace forwards a DF packet too big for its
// next link. The trace must show the packet received at the router, its
// route lookup (fib:fib_table_lookup, fib6:fib6_table_lookup), the
// ICMP error sent because of it (frag-needed with MTU 1400 / packet too big
// with MTU 1400), and the drop with reason PKT_TOO_BIG in the forwarding
// path, in the router's namespace; IPv4 and IPv6. Afterwards no program,
// map or link of the tracer is left (checked with BPF_*_GET_FD_BY_ID).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labUnavailable, withLab } from '../../harness/netns.js';
import { C4, C6, S4, S6, settledLeftovers, netnsInode, routerLab, startTrace, type TraceEventJson } from './helpers/trace-lab.js';

const skip = labUnavailable();

for (const fam of [4, 6] as const) {
  test(`IPv${fam}: received, ICMP too-big sent with the MTU, dropped PKT_TOO_BIG at the forwarding path`, { skip, timeout: 60_000 }, async () => {
    await withLab('trpmtu', async (lab) => {
      const { c, r } = await routerLab(lab);
      const dst = fam === 4 ? S4 : S6;
      const src = fam === 4 ? C4 : C6;
      const trace = await startTrace(['--dst', dst, '--proto', fam === 4 ? 'icmp' : 'icmpv6']);
      assert.equal(trace.ready.mode, 'bpf');
      let ids = trace.ready.ids;
      try {
        // 1500-byte packets with DF; the ping fails with "message too long" from the ICMP error
        await c.exec('ping', [...(fam === 6 ? ['-6'] : []), '-M', 'do', '-s', fam === 4 ? '1472' : '1452', '-c1', '-W2', dst]).catch(() => undefined);
        await trace.until((ev) => ev.some((e) => e.event === 'drop' && e.reason === 'PKT_TOO_BIG'));
      } finally {
        const { code, events } = await trace.stop();
        assert.equal(code, 0);
        const routerNs = netnsInode(r);
        const ofRouter = (e: TraceEventJson) => e.netns === routerNs;
        const drop = events.find((e) => e.event === 'drop' && ofRouter(e));
        assert.ok(drop, JSON.stringify(events));
        assert.equal(drop.reason, 'PKT_TOO_BIG');
        assert.match(drop.location ?? '', fam === 4 ? /^ip_forward\+/ : /^ip6_forward\+/);
        assert.equal(drop.src, src);
        assert.equal(drop.dst, dst);
        const rx = events.find((e) => e.event === 'receive' && ofRouter(e) && e.packet === drop.packet);
        assert.ok(rx, 'received at the router, same packet');
        assert.equal(rx.dev, 'eth0');
        assert.equal(rx.ifindex, await r.ifindex('eth0'));
        const icmp = events.find((e) => e.event === 'icmp' && ofRouter(e));
        assert.ok(icmp, 'ICMP error leaving the router');
        assert.equal(icmp.packet, drop.packet, 'joined to the dropped packet');
        assert.deepEqual([icmp.type, icmp.code, icmp.mtu], fam === 4 ? [3, 4, 1400] : [2, 0, 1400]);
        assert.equal(icmp.dev, 'eth0');
        // order: receive, icmp, drop
        const at = (e: TraceEventJson) => events.indexOf(e);
        assert.ok(at(rx) < at(icmp) && at(icmp) < at(drop));
        // the router's input-route lookup in its main table, joined to the packet, out of eth1
        const fib = events.find((e) => e.event === 'fib' && ofRouter(e) && e.iif === rx.ifindex && e.table === 254);
        assert.ok(fib, 'the FIB lookup at the router');
        assert.deepEqual([fib.packet, fib.result, fib.dev], [drop.packet, 'ok', 'eth1']);
        assert.ok(at(rx) < at(fib) && at(fib) < at(drop));
        // nothing of another flow
        for (const e of events) if (e.event !== 'icmp') assert.equal(e.dst, dst, JSON.stringify(e));
        assert.deepEqual(await settledLeftovers(ids), []);
        ids = undefined;
      }
    });
  });
}
