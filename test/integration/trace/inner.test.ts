// --inner: the filter matches the packet inside VXLAN (UDP 4789), and the
// packet stays followed by its skb after the VXLAN device decapsulates it.
// (IPIP and ip6tnl devices are not built into this test kernel; the BPF code
// for them shares the path tested here, from "the next header is IP" on.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labUnavailable, withLab } from '../../harness/netns.js';
import { C4, S4, settledLeftovers, netnsInode, routerLab, startTrace } from './helpers/trace-lab.js';

const skip = labUnavailable();

test('--inner follows a VXLAN-encapsulated packet from the wire through decapsulation', { skip, timeout: 60_000 }, async (t) => {
  await withLab('trinner', async (lab) => {
    const { c, s } = await routerLab(lab);
    try {
      await c.ip('link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'local', C4, 'remote', S4, 'dstport', '4789', 'dev', 'eth0');
    } catch (err) {
      t.skip(`no VXLAN in this kernel: ${String(err)}`);
      return;
    }
    await s.ip('link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'local', S4, 'remote', C4, 'dstport', '4789', 'dev', 'eth0');
    await c.addr('vx0', '192.0.2.1/30');
    await s.addr('vx0', '192.0.2.2/30');
    await c.up('vx0');
    await s.up('vx0');
    await c.exec('ping', ['-c1', '-W2', '192.0.2.2']); // neighbours and the FDB settled
    // the outer flow alone (no --inner) does not match the inner address
    const trace = await startTrace(['--inner', '--dst', '192.0.2.2', '--proto', 'icmp']);
    let waited: unknown;
    try {
      await c.exec('ping', ['-c1', '-W2', '192.0.2.2']);
      await trace.until((ev) => ev.some((e) => e.event === 'consume' && e.dst === '192.0.2.2'));
    } catch (err) {
      waited = err;
    }
    const { events } = await trace.stop();
    assert.deepEqual(await settledLeftovers(trace.ready.ids), []);
    if (waited) throw waited;
    const sNs = netnsInode(s);
    const outer = events.find((e) => e.event === 'receive' && e.netns === sNs && e.dev === 'eth0');
    assert.ok(outer, 'the encapsulated packet arriving at the server');
    assert.deepEqual([outer.dst, outer.proto, outer.dport], [S4, 'udp', 4789]);
    const inner = events.find((e) => e.event === 'receive' && e.netns === sNs && e.dev === 'vx0');
    assert.ok(inner, 'the same packet after decapsulation');
    assert.equal(inner.packet, outer.packet);
    assert.deepEqual([inner.src, inner.dst, inner.proto], ['192.0.2.1', '192.0.2.2', 'icmp']);
    // the echo reply is another flow: not reported
    assert.ok(!events.some((e) => e.src === '192.0.2.2'));
  });
});
