/**
 * The in-process Kubernetes API server (test/harness/fake-apiserver.ts) as
 * its own process inside a lab namespace, seeded for `pathguard agent`:
 * Node objects n1 and n2 (dual-stack InternalIPs) for the relay's peers, and
 * a MetalLB pool, BGP advertisement and peers (the lab router) for routes.
 * Usage: node api-child.js KUBECONFIG_PATH; prints "ready". Killing it is the
 * test's way of losing the API server.
 */
import { FakeApiServer, RESOURCE_TYPES as T } from '../../../harness/fake-apiserver.js';

export const POOL = '198.51.100.0/26';
const NS = 'metallb-system';

function node(name: string, v4: string, v6: string) {
  return { metadata: { name, labels: { 'kubernetes.io/hostname': name } }, status: { addresses: [{ type: 'InternalIP', address: v4 }, { type: 'InternalIP', address: v6 }] } };
}

const kubeconfig = process.argv[2];
if (kubeconfig) {
  const api = await FakeApiServer.start();
  api.apply(T.Node, node('n1', '192.0.2.11', '2001:db8:1::11'));
  api.apply(T.Node, node('n2', '192.0.2.12', '2001:db8:1::12'));
  api.apply(T.IPAddressPool, { metadata: { name: 'public', namespace: NS }, spec: { addresses: [POOL] } });
  api.apply(T.BGPAdvertisement, { metadata: { name: 'bgp', namespace: NS }, spec: { ipAddressPools: ['public'] } });
  api.apply(T.BGPPeer, { metadata: { name: 'tor', namespace: NS }, spec: { peerAddress: '192.0.2.1', myASN: 64512, peerASN: 64513 } });
  await api.writeKubeconfig(kubeconfig);
  process.stdout.write('ready\n');
}
