// deploy/: every overlay renders with `kubectl kustomize` (each kubectl found:
// PATH, plus PATHGUARD_KUBECTL for kustomize v2.0.3), every object validates
// against the Kubernetes OpenAPI schemas (kubernetes-models), the DaemonSet
// has the security properties the issue lists, RBAC reads and never writes,
// and each overlay's config.yaml is accepted by the components' own parsers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { relayConfig } from '../../../src/relay/config.js';
import { routesConfig } from '../../../src/routes/config.js';
import { kubectls, OVERLAYS, permissionsOf, render, type K8sObject, type Overlay } from '../../harness/kustomize.js';

const found = kubectls();
const skip = found.length === 0 ? 'no kubectl on PATH (make debs installs Debian kubernetes-client)' : undefined;

const EXPECTED_KINDS: Record<Overlay, string[]> = {
  'relay-only': ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet', 'Namespace', 'ServiceAccount'],
  'relay-routes': ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet', 'Namespace', 'Role', 'RoleBinding', 'ServiceAccount'],
  'relay-routes-legacy': ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet', 'Namespace', 'Role', 'Role', 'RoleBinding', 'RoleBinding', 'ServiceAccount'],
  metrics: ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet', 'Namespace', 'Role', 'RoleBinding', 'Service', 'ServiceAccount', 'ServiceMonitor'],
};

/** kubernetes-models module of a built-in kind: `apps/v1/DaemonSet`, `v1/Namespace`. */
async function modelOf(o: K8sObject): Promise<(new (data: unknown) => { validate(): void }) | undefined> {
  const path = `kubernetes-models/${o.apiVersion}/${o.kind}`;
  try {
    const mod = (await import(path)) as Record<string, unknown>;
    return mod[o.kind] as new (data: unknown) => { validate(): void };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' || (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw err;
  }
}

function only<T>(xs: T[], what: string): T {
  assert.equal(xs.length, 1, `exactly one ${what}`);
  return xs[0]!;
}

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

if (skip !== undefined) test('deploy/ renders with kubectl kustomize', { skip }, () => undefined);

for (const kubectl of found) {
  for (const overlay of OVERLAYS) {
    test(`kubectl ${kubectl.version}: ${overlay} renders, and every object validates against its schema`, async () => {
      const objs = render(kubectl, overlay);
      assert.deepEqual(objs.map((o) => o.kind).sort(), EXPECTED_KINDS[overlay]);
      for (const o of objs) {
        if (o.kind === 'ServiceMonitor') continue; // no model in kubernetes-models: checked by hand below
        const Model = await modelOf(o);
        assert.ok(Model, `kubernetes-models has no ${o.apiVersion} ${o.kind}`);
        assert.doesNotThrow(() => new Model(o).validate(), `${o.kind} ${o.metadata.name}`);
      }
      for (const o of objs) if (o.kind !== 'Namespace' && !o.kind.startsWith('Cluster')) assert.ok(o.metadata.namespace, `${o.kind} ${o.metadata.name} has a namespace`);
    });
  }

  test(`kubectl ${kubectl.version}: the DaemonSet is least-privilege, probed, host-networked and runs everywhere`, () => {
    for (const overlay of OVERLAYS) {
      const objs = render(kubectl, overlay);
      const ds = only(objs.filter((o) => o.kind === 'DaemonSet'), 'DaemonSet') as Any;
      const pod = ds['spec'].template.spec;
      const c = only(pod.containers as Any[], 'container');
      assert.equal(pod.hostNetwork, true);
      assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
      assert.equal(pod.priorityClassName, 'system-node-critical');
      assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }], 'tolerates every taint');
      assert.ok(pod.terminationGracePeriodSeconds >= 10 && pod.terminationGracePeriodSeconds <= 60);
      assert.deepEqual(ds['spec'].updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
      assert.equal(pod.serviceAccountName, 'pathguard');
      assert.equal(pod.automountServiceAccountToken, true, 'the agent watches the API');
      assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
      assert.equal(pod.hostPID, undefined);
      assert.equal(pod.hostIPC, undefined);

      const sc = c['securityContext'];
      assert.equal(sc.privileged, false);
      assert.equal(sc.allowPrivilegeEscalation, false);
      assert.equal(sc.readOnlyRootFilesystem, true);
      assert.deepEqual(sc.capabilities, { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] });

      assert.deepEqual(c['args'], ['agent', '--config', '/etc/pathguard/config.yaml']);
      assert.deepEqual(c['env'], [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }]);
      const port = (c['ports'] as Any[]).find((p) => p['name'] === 'metrics');
      assert.equal(port?.['containerPort'], 9462);
      assert.deepEqual(c['livenessProbe'].httpGet, { path: '/healthz', port: 'metrics' });
      assert.deepEqual(c['readinessProbe'].httpGet, { path: '/readyz', port: 'metrics' });
      const r = c['resources'];
      for (const k of ['cpu', 'memory']) assert.ok(r.requests[k] && r.limits[k], `requests and limits for ${k}`);
      assert.equal(r.requests.memory, '128Mi', 'above the agent\'s measured idle RSS (97 MB)');
      assert.equal(r.limits.memory, '384Mi', 'above its measured peak with 5,000 Nodes under churn (287 MB)');

      // every volume is mounted read-only except the TUN device, and the only hostPath is that device
      const hostPaths = (pod.volumes as Any[]).filter((v) => v['hostPath']);
      assert.deepEqual(hostPaths, [{ name: 'tun', hostPath: { path: '/dev/net/tun', type: 'CharDevice' } }]);
      for (const m of c['volumeMounts'] as Any[]) if (m['name'] !== 'tun') assert.equal(m['readOnly'], true, m['name']);

      // the ConfigMap the pod mounts is the generated one (name with hash), so a config change rolls the pods
      const cm = only(objs.filter((o) => o.kind === 'ConfigMap'), 'ConfigMap');
      assert.match(cm.metadata.name, /^pathguard-config-[a-z0-9]{10}$/);
      assert.equal((pod.volumes as Any[]).find((v) => v['name'] === 'config')?.['configMap'].name, cm.metadata.name);

      // the ServiceAccount mounts no token by default; only the DaemonSet asks for one
      const sa = only(objs.filter((o) => o.kind === 'ServiceAccount'), 'ServiceAccount');
      assert.equal(sa['automountServiceAccountToken'], false);
    }
  });

  test(`kubectl ${kubectl.version}: RBAC reads only what each overlay needs and never writes`, () => {
    const sa = { name: 'pathguard', namespace: 'pathguard' };
    const perms = (o: Overlay) =>
      permissionsOf(render(kubectl, o), sa)
        .map((p) => `${p.namespace ?? '*'} ${p.apiGroup || 'core'} ${p.resource} ${p.verb}${p.resourceNames ? ` [${p.resourceNames.join(',')}]` : ''}`)
        .sort();
    const nodes = ['* core nodes list', '* core nodes watch'];
    const metallb = ['bgpadvertisements', 'bgppeers', 'ipaddresspools', 'l2advertisements'].flatMap((r) => [`metallb-system metallb.io ${r} list`, `metallb-system metallb.io ${r} watch`]);
    const legacy = ['metallb-system core configmaps list [config]', 'metallb-system core configmaps watch [config]'];
    assert.deepEqual(perms('relay-only'), nodes);
    assert.deepEqual(perms('relay-routes'), [...nodes, ...metallb].sort());
    assert.deepEqual(perms('relay-routes-legacy'), [...nodes, ...metallb, ...legacy].sort());
    assert.deepEqual(perms('metrics'), [...nodes, ...metallb].sort());
  });

  test(`kubectl ${kubectl.version}: each overlay's config.yaml is accepted by the components' own parsers`, () => {
    for (const overlay of OVERLAYS) {
      const cm = only(render(kubectl, overlay).filter((o) => o.kind === 'ConfigMap'), 'ConfigMap') as Any;
      const doc = parse(cm['data']['config.yaml']) as Any;
      const env = { NODE_NAME: 'node-a' };
      const relay = relayConfig(undefined, env, doc['relay']);
      assert.equal(relay.transport, 'udp');
      if (overlay === 'relay-only') assert.equal(doc['routes'], undefined, 'relay-only enables the relay alone');
      else {
        const routes = routesConfig(undefined, env, doc['routes']);
        assert.equal(routes.useCrds, overlay !== 'relay-routes-legacy');
        assert.equal(routes.metallbNamespace, 'metallb-system', 'the namespace the MetalLB Role is in');
      }
    }
  });

  test(`kubectl ${kubectl.version}: the metrics Service selects the agents and the ServiceMonitor selects the Service`, () => {
    const objs = render(kubectl, 'metrics') as Any[];
    const ds = objs.find((o) => o['kind'] === 'DaemonSet')!;
    const svc = objs.find((o) => o['kind'] === 'Service')!;
    const sm = objs.find((o) => o['kind'] === 'ServiceMonitor')!;
    const podLabels = ds['spec'].template.metadata.labels as Record<string, string>;
    for (const [k, v] of Object.entries(svc['spec'].selector as Record<string, string>)) assert.equal(podLabels[k], v, `pod label ${k}`);
    assert.equal(svc['spec'].clusterIP, 'None');
    assert.deepEqual(svc['spec'].ports, [{ name: 'metrics', port: 9462, targetPort: 'metrics', protocol: 'TCP' }]);
    // ServiceMonitor (monitoring.coreos.com/v1): the fields the operator requires, by hand
    assert.equal(sm['apiVersion'], 'monitoring.coreos.com/v1');
    assert.equal(sm['metadata'].namespace, svc['metadata'].namespace, 'same namespace, so no namespaceSelector is needed');
    for (const [k, v] of Object.entries(sm['spec'].selector.matchLabels as Record<string, string>)) assert.equal(svc['metadata'].labels[k], v, `service label ${k}`);
    assert.ok(Array.isArray(sm['spec'].endpoints) && sm['spec'].endpoints.length === 1);
    const ep = sm['spec'].endpoints[0];
    assert.equal(ep.port, 'metrics', 'a port name of the Service');
    assert.equal(ep.path, '/metrics');
    assert.match(ep.interval, /^\d+(s|m)$/);
    assert.deepEqual(Object.keys(sm['spec']).sort(), ['endpoints', 'selector']);
  });
}

test('two kubectls (old and new kustomize) render the same objects', { skip: found.length < 2 ? 'only one kubectl; set PATHGUARD_KUBECTL to a kubectl 1.20 to compare' : undefined }, () => {
  // Generated ConfigMap names differ (each kustomize hashes its own way); kustomize v2 adds empty annotations.
  const norm = (objs: K8sObject[]) =>
    objs
      .map((o) => JSON.stringify(o, (k, v: unknown) => (k === 'annotations' && v !== null && typeof v === 'object' && Object.keys(v).length === 0 ? undefined : v)).replace(/pathguard-config-[a-z0-9]{10}/g, 'pathguard-config-HASH'))
      .sort();
  for (const overlay of OVERLAYS) assert.deepEqual(norm(render(found[1]!, overlay)), norm(render(found[0]!, overlay)), overlay);
});
