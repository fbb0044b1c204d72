// loadKubeConfig: precedence, in-cluster credentials, and errors that name what was tried.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpMethod, RequestContext } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../../src/k8s/client.js';
import { ResourceWatcher, nodesResource } from '../../../src/k8s/informer.js';
import { ConfigError } from '../../../src/errors.js';
import { FakeApiServer, RESOURCE_TYPES as T } from '../../harness/fake-apiserver.js';

async function withTmp(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'pg-k8s-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function kubeconfigYaml(server: string, context = 'c1'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${context}`,
    '  cluster:',
    `    server: ${server}`,
    'users:',
    '- name: u1',
    '  user:',
    '    token: t1',
    'contexts:',
    `- name: ${context}`,
    '  context:',
    `    cluster: ${context}`,
    '    user: u1',
    `current-context: ${context}`,
    '',
  ].join('\n');
}

function configProblems(fn: () => unknown): { field: string; value: unknown; expected: string }[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'PG_CONFIG');
    return err.problems.map((p) => ({ ...p }));
  }
  assert.fail('expected a ConfigError');
}

async function authorizationOf(kc: ReturnType<typeof loadKubeConfig>['kubeConfig']): Promise<string | undefined> {
  const ctx = new RequestContext('https://192.0.2.10:6443/api/v1/nodes', HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  return ctx.getHeaders()['Authorization'];
}

test('--kubeconfig: the named file is used and the watcher reaches the server with its token', async () => {
  const api = await FakeApiServer.start();
  try {
    await withTmp(async (dir) => {
      const file = join(dir, 'kubeconfig');
      await api.writeKubeconfig(file);
      // The explicit path wins over everything in the environment.
      const loaded = loadKubeConfig({ kubeconfig: file, env: { KUBERNETES_SERVICE_HOST: '192.0.2.10', KUBECONFIG: '/nonexistent' }, homeDir: dir });
      assert.equal(loaded.source, `file:${file}`);
      assert.equal(loaded.server, api.url);
      api.apply(T.Node, { metadata: { name: 'node-1' } });
      const w = new ResourceWatcher(loaded.kubeConfig, nodesResource());
      w.start();
      try {
        assert.equal(await w.synced, true);
        assert.deepEqual(w.snapshot().map((n) => n.metadata.name), ['node-1']);
      } finally {
        await w.stop();
      }
    });
  } finally {
    await api.close();
  }
});

test('--kubeconfig that does not exist or does not parse is a ConfigError naming the path', async () => {
  await withTmp(async (dir) => {
    const missing = join(dir, 'missing');
    const [p] = configProblems(() => loadKubeConfig({ kubeconfig: missing, env: {} }));
    assert.equal(p?.field, '--kubeconfig');
    assert.equal(p?.value, missing);
    assert.match(p?.expected ?? '', /ENOENT/);

    const broken = join(dir, 'broken');
    await writeFile(broken, 'clusters: [ {');
    const [q] = configProblems(() => loadKubeConfig({ kubeconfig: broken, env: {} }));
    assert.equal(q?.value, broken);

    const nocontext = join(dir, 'nocontext');
    await writeFile(nocontext, kubeconfigYaml('https://192.0.2.10:6443').replace('current-context: c1', 'current-context: nope'));
    const [r] = configProblems(() => loadKubeConfig({ kubeconfig: nocontext, env: {} }));
    assert.match(r?.expected ?? '', /current-context .*"nope"/);
  });
});

test('KUBECONFIG: missing entries are skipped, the first existing file sets the context, later files merge', async () => {
  await withTmp(async (dir) => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    await writeFile(a, kubeconfigYaml('https://192.0.2.10:6443', 'first'));
    await writeFile(b, kubeconfigYaml('https://198.51.100.10:6443', 'second'));
    const loaded = loadKubeConfig({ env: { KUBECONFIG: [join(dir, 'nope'), a, b].join(':'), KUBERNETES_SERVICE_HOST: '192.0.2.99' } });
    assert.equal(loaded.server, 'https://192.0.2.10:6443');
    assert.equal(loaded.source, `file:${a}:${b}`);
    assert.deepEqual(loaded.kubeConfig.getContexts().map((c) => c.name).sort(), ['first', 'second']);
    assert.equal(await authorizationOf(loaded.kubeConfig), 'Bearer t1');

    const [p] = configProblems(() => loadKubeConfig({ env: { KUBECONFIG: join(dir, 'nope') } }));
    assert.equal(p?.field, 'KUBECONFIG');
  });
});

test('in-cluster: KUBERNETES_SERVICE_HOST/PORT and the service account token file', async () => {
  await withTmp(async (dir) => {
    await writeFile(join(dir, 'token'), 'sa-token-1');
    await writeFile(join(dir, 'ca.crt'), '');
    await writeFile(join(dir, 'namespace'), 'pathguard\n');
    const env = { KUBERNETES_SERVICE_HOST: '192.0.2.10', KUBERNETES_SERVICE_PORT: '443' };
    const loaded = loadKubeConfig({ env, serviceAccountDir: dir, homeDir: dir });
    assert.equal(loaded.source, 'in-cluster');
    assert.equal(loaded.server, 'https://192.0.2.10:443');
    assert.equal(loaded.kubeConfig.getContextObject(loaded.kubeConfig.getCurrentContext())?.namespace, 'pathguard');
    assert.equal(await authorizationOf(loaded.kubeConfig), 'Bearer sa-token-1');

    const v6 = loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '2001:db8::1', KUBERNETES_SERVICE_PORT: '6443' }, serviceAccountDir: dir });
    assert.equal(v6.server, 'https://[2001:db8::1]:6443');
  });
});

test('in-cluster without a token or port lists every problem', async () => {
  await withTmp(async (dir) => {
    const problems = configProblems(() => loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '192.0.2.10' }, serviceAccountDir: dir }));
    assert.deepEqual(problems.map((p) => p.field), ['KUBERNETES_SERVICE_PORT', 'service account token', 'service account CA']);
    assert.equal(problems[1]?.value, join(dir, 'token'));
  });
});

test('~/.kube/config is the last resort; with nothing at all the error names every place tried', async () => {
  await withTmp(async (home) => {
    const problems = configProblems(() => loadKubeConfig({ env: {}, homeDir: home }));
    assert.deepEqual(problems.map((p) => p.field), ['--kubeconfig', 'KUBECONFIG', 'KUBERNETES_SERVICE_HOST', '~/.kube/config']);
    assert.equal(problems[3]?.value, join(home, '.kube', 'config'));

    await mkdir(join(home, '.kube'));
    await writeFile(join(home, '.kube', 'config'), kubeconfigYaml('https://203.0.113.10:6443'));
    const loaded = loadKubeConfig({ env: {}, homeDir: home });
    assert.equal(loaded.server, 'https://203.0.113.10:6443');
    assert.equal(loaded.source, `file:${join(home, '.kube', 'config')}`);
  });
});
