// setIpv4Conf() against the kernel: a veth's rp_filter, arp_ignore and
// arp_announce set over rtnetlink read back through /proc/sys of its
// namespace, and a device that does not exist is a NetlinkError (ENODEV).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab, labUnavailable } from '../../harness/netns.js';
import { NodeView } from '../../../src/net/node-view.js';
import { setIpv4Conf } from '../../../src/wire/rtnl-link.js';
import { NetlinkError } from '../../../src/errors.js';

const skip = labUnavailable();

test('rp_filter and the ARP settings of one device, set over rtnetlink, are what /proc/sys shows', { skip }, async () => {
  await withLab('ipv4conf', async (lab) => {
    const a = await lab.ns('a');
    const b = await lab.ns('b');
    await lab.veth(a, 'eth0', b, 'eth0');
    await a.exec('sysctl', ['-qw', 'net.ipv4.conf.eth0.rp_filter=1']);
    const view = NodeView.open({ netns: a.path });
    try {
      const index = Number((await a.exec('cat', ['/sys/class/net/eth0/ifindex'])).stdout.trim());
      for (const [rpFilter, arpIgnore, arpAnnounce] of [[0, 1, 2], [2, 0, 0]] as const) {
        const req = setIpv4Conf(index, { rpFilter, arpIgnore, arpAnnounce });
        await view.nl.request(req.type, req.flags, req.fixed, req.attrs);
        const read = async (k: string) => (await a.exec('cat', [`/proc/sys/net/ipv4/conf/eth0/${k}`])).stdout.trim();
        assert.deepEqual([await read('rp_filter'), await read('arp_ignore'), await read('arp_announce')], [String(rpFilter), String(arpIgnore), String(arpAnnounce)]);
      }
      const bad = setIpv4Conf(9999, { rpFilter: 0 });
      await assert.rejects(view.nl.request(bad.type, bad.flags, bad.fixed, bad.attrs), (err: unknown) => err instanceof NetlinkError && err.errnoName === 'ENODEV');
    } finally {
      view.close();
    }
  });
});
