/**
 * Letting udp replicas in through the TUN device. They enter with their
 * original, remote source address, so IPv4 reverse-path filtering decides
 * their fate (__fib_validate_source, net/ipv4/fib_frontend.c). The kernel
 * applies max(conf/all/rp_filter, conf/DEV/rp_filter):
 *   0  nothing to do beyond rp_filter 0 on the TUN device;
 *   2  loose mode passes any source with a route, but only on a device that
 *      has an IPv4 address ("no_addr" fails every check): the TUN device gets
 *      this node's own address as a host-scope /32 without a prefix route;
 *   1  strict mode can never pass a source routed via another interface:
 *      a plain error, since pathguard does not change host-wide filtering.
 *
 * The device's rp_filter is set over rtnetlink (IFLA_INET_CONF), which
 * needs CAP_NET_ADMIN only: a container without privilege sees /proc/sys
 * read-only. conf/all is only read, never written.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from '../obs/log.js';
import type { NodeView } from '../net/node-view.js';
import { addAddress, IFA_F } from '../wire/rtnl-address.js';
import { setIpv4Conf } from '../wire/rtnl-link.js';
import { RT_SCOPE } from '../wire/rtnetlink.js';
import { formatAddress } from '../wire/ip-address.js';

async function readConf(path: string): Promise<string | undefined> {
  try {
    return (await readFile(`/proc/sys/net/ipv4/conf/${path}`, 'utf8')).trim();
  } catch {
    return undefined; // no IPv4 on this node, or no /proc/sys: nothing to read
  }
}

export async function prepareTunForReplicas(tun: string, tunIndex: number, view: NodeView, local: readonly Uint8Array[], log: Logger): Promise<void> {
  const before = await readConf(`${tun}/rp_filter`);
  if (before !== '0') {
    const req = setIpv4Conf(tunIndex, { rpFilter: 0 });
    await view.nl.request(req.type, req.flags, req.fixed, req.attrs);
    log.info({ sysctl: `net.ipv4.conf.${tun}.rp_filter`, before, after: '0' }, 'turned reverse-path filtering off on the TUN device so injected replicas are accepted');
  }
  const all = await readConf('all/rp_filter');
  if (all === '2') {
    const own = local.find((a) => a.byteLength === 4 && a[0] !== 127);
    if (own) {
      const req = addAddress({ index: tunIndex, prefixlen: 32, local: own, scope: RT_SCOPE.HOST, flags: IFA_F.NOPREFIXROUTE });
      await view.nl.request(req.type, req.flags, req.fixed, req.attrs);
      log.info({ device: tun, address: formatAddress(own) }, "net.ipv4.conf.all.rp_filter is 2 (loose): gave the TUN device this node's address (host scope, no prefix route) so loose filtering can accept replicas");
      return;
    }
  }
  if (all !== undefined && all !== '0') {
    log.error(
      { sysctl: 'net.ipv4.conf.all.rp_filter', value: all },
      `net.ipv4.conf.all.rp_filter is ${all}: the kernel uses max(all, ${tun}), so IPv4 replicas entering through ${tun} ` +
        'will be dropped as martians (IPv6 is unaffected). Set net.ipv4.conf.all.rp_filter to 0 or 2 on the node (pathguard never changes ' +
        'host-wide filtering; in a container /proc/sys is read-only anyway), or use --transport l2 / broadcast, which deliver replicas on the uplink itself.',
    );
  }
}
