/**
 * The in-process Kubernetes API server (test/harness/fake-apiserver.ts) for
 * bench/peer-churn.bench.ts, run as its own process inside the relay's
 * network namespace so the relay reaches it on 127.0.0.1, and driving the
 * churn itself (the bench's own thread is busy generating packets). Not a
 * benchmark itself (the runner only picks up *.bench.js).
 *
 *   node churn-apiserver.js KUBECONFIG_PATH NODES
 *
 * Serves NODES Node objects shaped like a kubelet's (addresses, five
 * conditions, capacity, nodeInfo, a few images: about 3 KB of JSON each),
 * writes the kubeconfig and prints "ready". Node i has InternalIP
 * 2001:db8:1::(i+1), and for i < 508 also an IPv4 InternalIP (198.51.100.1-254,
 * then 203.0.113.1-254). Then, one command per stdin line, one JSON answer
 * per line:
 *   churn RATE SECONDS MOVE_EVERY
 *       RATE status updates a second (MODIFIED events: every condition's
 *       lastHeartbeatTime moves, as a kubelet's status update does), nodes
 *       in turn, for SECONDS; every MOVE_EVERY-th update (0: none) also moves
 *       the node's IPv6 address to 2001:db8:2::/64, so the peer set changes.
 *       Answers {"updates":N,"seconds":S,"cpuMs":C} when done.
 */
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { FakeApiServer, RESOURCE_TYPES as T, type StoredObject } from '../test/harness/fake-apiserver.js';

const CONDITIONS = ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready', 'NetworkUnavailable'] as const;

function v4Of(i: number): string | undefined {
  if (i < 254) return `198.51.100.${i + 1}`;
  if (i < 508) return `203.0.113.${i - 253}`;
  return undefined;
}

function nodeObject(i: number, heartbeat: string, v6Net: string): StoredObject {
  const name = `node-${i}`;
  const v4 = v4Of(i);
  return {
    metadata: {
      name,
      uid: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
      creationTimestamp: '2026-01-01T00:00:00Z',
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'topology.kubernetes.io/zone': `zone-${i % 3}`,
        'node-role.kubernetes.io/worker': '',
      },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
    },
    spec: { podCIDR: `10.${(i >> 8) & 255}.${i & 255}.0/24`, providerID: `metal://${name}` },
    status: {
      addresses: [
        ...(v4 ? [{ type: 'InternalIP', address: v4 }] : []),
        { type: 'InternalIP', address: `${v6Net}${(i + 1).toString(16)}` },
        { type: 'Hostname', address: name },
      ],
      conditions: CONDITIONS.map((type) => ({
        type,
        status: type === 'Ready' ? 'True' : 'False',
        lastHeartbeatTime: heartbeat,
        lastTransitionTime: '2026-01-01T00:00:00Z',
        reason: type === 'Ready' ? 'KubeletReady' : `KubeletHasNo${type}`,
        message: type === 'Ready' ? 'kubelet is posting ready status' : `kubelet has no ${type}`,
      })),
      capacity: { cpu: '64', memory: '263842884Ki', pods: '110', 'ephemeral-storage': '1918819476Ki' },
      allocatable: { cpu: '63', memory: '262691908Ki', pods: '110', 'ephemeral-storage': '1768382195916' },
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: i.toString(16).padStart(32, '0'),
        systemUUID: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
        bootID: `b0000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
        kernelVersion: '6.1.0-18-amd64',
        osImage: 'Debian GNU/Linux 12 (bookworm)',
        containerRuntimeVersion: 'containerd://1.7.13',
        kubeletVersion: 'v1.29.2',
        kubeProxyVersion: 'v1.29.2',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
      images: Array.from({ length: 8 }, (_, k) => ({
        names: [`registry.example/app-${k}@sha256:${k.toString(16).padStart(64, 'a')}`, `registry.example/app-${k}:v1.${k}`],
        sizeBytes: 10_000_000 + k * 1_234_567,
      })),
    },
  };
}

const kubeconfig = process.argv[2];
const count = Number(process.argv[3]);
if (!kubeconfig || !Number.isInteger(count) || count < 1) throw new Error('usage: churn-apiserver.js KUBECONFIG_PATH NODES');
const api = await FakeApiServer.start();
const start = new Date().toISOString();
for (let i = 0; i < count; i++) api.apply(T.Node, nodeObject(i, start, '2001:db8:1::'));
await api.writeKubeconfig(kubeconfig);
process.stdout.write('ready\n');

/** Applies `rate` updates a second for `seconds`, in 10 ms slices; resolves with what was done. */
async function churn(rate: number, seconds: number, moveEvery: number): Promise<{ updates: number; seconds: number; cpuMs: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let done = 0;
  let next = 0;
  const moved = new Set<number>();
  const total = Math.round(rate * seconds);
  while (done < total) {
    const due = Math.min(total, Math.floor((rate * (performance.now() - t0)) / 1000));
    const heartbeat = new Date().toISOString();
    for (; done < due; done++) {
      const i = next;
      next = (next + 1) % count;
      if (moveEvery > 0 && (done + 1) % moveEvery === 0) {
        if (moved.has(i)) moved.delete(i);
        else moved.add(i);
      }
      api.apply(T.Node, nodeObject(i, heartbeat, moved.has(i) ? '2001:db8:2::' : '2001:db8:1::'));
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  const c = process.cpuUsage(cpu0);
  return { updates: done, seconds: (performance.now() - t0) / 1000, cpuMs: (c.user + c.system) / 1000 };
}

for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, rate, seconds, moveEvery] = line.trim().split(/\s+/);
  if (cmd === 'churn') {
    const r = await churn(Number(rate), Number(seconds), Number(moveEvery ?? 0));
    process.stdout.write(`${JSON.stringify(r)}\n`);
  }
}
await api.close();
