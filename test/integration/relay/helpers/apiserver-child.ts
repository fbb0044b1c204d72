/**
 * The in-process Kubernetes API server (test/harness/fake-apiserver.ts), run
 * as its own process inside a lab namespace so a relay in that namespace can
 * reach it on 127.0.0.1. Usage: node apiserver-child.js KUBECONFIG_PATH
 * Serves Node objects n1 and n2, writes the kubeconfig, prints "ready";
 * each stdin line `apply NAME V4 V6` adds or replaces a Node and prints "ok".
 */
import { createInterface } from 'node:readline';
import { FakeApiServer, RESOURCE_TYPES as T } from '../../../harness/fake-apiserver.js';

function node(name: string, v4: string, v6: string) {
  return {
    metadata: { name },
    status: {
      addresses: [
        { type: 'InternalIP', address: v4 },
        { type: 'InternalIP', address: v6 },
        { type: 'Hostname', address: name },
      ],
    },
  };
}

const kubeconfig = process.argv[2];
if (!kubeconfig) throw new Error('usage: apiserver-child.js KUBECONFIG_PATH');
const api = await FakeApiServer.start();
api.apply(T.Node, node('n1', '192.0.2.11', '2001:db8:1::11'));
api.apply(T.Node, node('n2', '192.0.2.12', '2001:db8:1::12'));
await api.writeKubeconfig(kubeconfig);
process.stdout.write('ready\n');
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, name, v4, v6] = line.trim().split(/\s+/);
  if (cmd === 'apply' && name && v4 && v6) {
    api.apply(T.Node, node(name, v4, v6));
    process.stdout.write('ok\n');
  }
}
await api.close();
