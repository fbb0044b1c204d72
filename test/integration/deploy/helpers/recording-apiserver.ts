/**
 * The in-process Kubernetes API server (test/harness/fake-apiserver.ts) as a
 * child process inside a lab namespace, serving what the agent reads (Nodes,
 * MetalLB's CRDs, the legacy ConfigMap) and recording every request.
 * Usage: node recording-apiserver.js KUBECONFIG_PATH NODE_NAME
 * Prints "ready"; on the stdin line "requests" prints one JSON line with
 * every request so far (method, path, query, watch).
 */
import { createInterface } from 'node:readline';
import { FakeApiServer, RESOURCE_TYPES as T } from '../../../harness/fake-apiserver.js';

const [kubeconfig, nodeName] = process.argv.slice(2);
if (!kubeconfig || !nodeName) throw new Error('usage: recording-apiserver.js KUBECONFIG_PATH NODE_NAME');
const NS = 'metallb-system';
const api = await FakeApiServer.start();
const node = (name: string, v4: string) => ({ metadata: { name, labels: { 'kubernetes.io/hostname': name } }, status: { addresses: [{ type: 'InternalIP', address: v4 }] } });
api.apply(T.Node, node(nodeName, '192.0.2.11'));
api.apply(T.Node, node('peer-node', '192.0.2.12'));
api.apply(T.IPAddressPool, { metadata: { name: 'public', namespace: NS }, spec: { addresses: ['203.0.113.0/28'] } });
api.apply(T.BGPAdvertisement, { metadata: { name: 'bgp', namespace: NS }, spec: { ipAddressPools: ['public'] } });
api.apply(T.BGPPeer, { metadata: { name: 'tor-a', namespace: NS }, spec: { peerAddress: '192.0.2.1', myASN: 64512, peerASN: 64513 } });
api.apply(T.ConfigMap, {
  metadata: { name: 'config', namespace: NS },
  data: { config: 'peers:\n- peer-address: 192.0.2.1\naddress-pools:\n- name: legacy\n  protocol: bgp\n  addresses: [198.51.100.32/28]\n' },
});
await api.writeKubeconfig(kubeconfig);
process.stdout.write('ready\n');
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === 'requests') process.stdout.write(`${JSON.stringify(api.requests)}\n`);
}
await api.close();
