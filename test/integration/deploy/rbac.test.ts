// The RBAC in deploy/ against what the code really calls: `pathguard relay`
// (peers from Kubernetes Nodes) and `pathguard routes` (MetalLB CRDs, then
// the legacy ConfigMap) run in a lab namespace against the in-process API
// server, which records every request. Each request becomes (apiGroup,
// resource, verb, namespace, name); every one must be allowed by the
// overlay's (Cluster)Roles, and every permission the overlay grants must have
// been used by at least one of them: allowed, and nothing more.
//
// Both run with only CAP_NET_ADMIN and CAP_NET_RAW (setpriv bounding set,
// no new privileges), as the DaemonSet's container does, to show those two
// are enough; the time from SIGTERM to exit is reported for the
// DaemonSet's terminationGracePeriodSeconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import type { RequestRecord } from '../../harness/fake-apiserver.js';
import { kubectls, permissionsOf, render, type Overlay, type Permission } from '../../harness/kustomize.js';
import { labUnavailable, waitFor, withLab, type Netns } from '../../harness/netns.js';
import { routesLab, NODE } from '../routes/helpers/routes-lab.js';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const CHILD = fileURLToPath(new URL('./helpers/recording-apiserver.js', import.meta.url));
const kubectl = kubectls()[0];
const skip = labUnavailable() ?? (kubectl === undefined ? 'no kubectl to render deploy/ with' : undefined) ?? (existsSync('/usr/bin/setpriv') ? undefined : 'setpriv (util-linux) is missing');

/** One API request as RBAC sees it. */
interface Access {
  readonly apiGroup: string;
  readonly resource: string;
  readonly verb: 'get' | 'list' | 'watch';
  readonly namespace?: string;
  /** The object's name: from the path (get) or a metadata.name field selector (list, watch). */
  readonly name?: string;
}

/** GET /api/v1/[namespaces/NS/]PLURAL[/NAME] and /apis/G/V/...: the request attributes the API server's authorizer derives. */
function accessOf(r: RequestRecord): Access {
  assert.equal(r.method, 'GET', `the agent only reads (${r.method} ${r.path})`);
  const parts = r.path.split('/').filter((p) => p !== '');
  let apiGroup: string;
  let rest: string[];
  if (parts[0] === 'api') [apiGroup, rest] = ['', parts.slice(2)];
  else if (parts[0] === 'apis') [apiGroup, rest] = [parts[1]!, parts.slice(3)];
  else throw new Error(`not a resource path: ${r.path}`);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) [namespace, rest] = [rest[1]!, rest.slice(2)];
  const [resource, objectName] = rest;
  assert.ok(resource !== undefined && rest.length <= 2, `unexpected path ${r.path}`);
  const selected = /(?:^|,)metadata\.name==?([^,]+)/.exec(r.query['fieldSelector'] ?? '')?.[1];
  const verb = objectName !== undefined ? 'get' : r.watch ? 'watch' : 'list';
  const name = objectName ?? selected;
  return { apiGroup, resource, verb, ...(namespace !== undefined ? { namespace } : {}), ...(name !== undefined ? { name } : {}) };
}

function allows(p: Permission, a: Access): boolean {
  if (p.apiGroup !== a.apiGroup || p.resource !== a.resource || p.verb !== a.verb) return false;
  if (p.namespace !== undefined && p.namespace !== a.namespace) return false;
  return p.resourceNames === undefined || (a.name !== undefined && p.resourceNames.includes(a.name));
}

const show = (x: Access | Permission) => `${x.verb} ${x.apiGroup || 'core'}/${x.resource} in ${x.namespace ?? 'cluster'}${'name' in x && x.name ? ` name=${x.name}` : ''}${'resourceNames' in x && x.resourceNames ? ` names=${x.resourceNames.join(',')}` : ''}`;

function checkOverlay(overlay: Overlay, accesses: readonly Access[]): void {
  const perms = permissionsOf(render(kubectl!, overlay), { name: 'pathguard', namespace: 'pathguard' });
  const denied = accesses.filter((a) => !perms.some((p) => allows(p, a)));
  assert.deepEqual(denied.map(show), [], `${overlay}: requests the RBAC does not allow`);
  const unused = perms.filter((p) => !accesses.some((a) => allows(p, a)));
  assert.deepEqual(unused.map(show), [], `${overlay}: permissions no request used`);
}

/** Lines from a child's stdout, awaited one at a time. */
function lineReader(child: ChildProcess): (timeoutMs?: number) => Promise<string> {
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    wake?.();
  });
  return (timeoutMs = 10_000) =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('the API server child said nothing')), timeoutMs);
      const check = (): void => {
        const l = lines.shift();
        if (l === undefined) return;
        clearTimeout(t);
        wake = undefined;
        resolve(l);
      };
      wake = check;
      check();
    });
}

interface Run {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; ms: number }>;
  output: string;
  stop(): Promise<{ code: number | null; ms: number }>;
}

/** `pathguard ARGS` in `ns`, optionally under setpriv with only NET_ADMIN and NET_RAW. */
function pathguard(ns: Netns, args: readonly string[], env: Record<string, string>, opts: { limitCaps?: boolean } = {}): Run {
  const cmd = [process.execPath, MAIN, ...args];
  const child = opts.limitCaps
    ? ns.spawn('setpriv', ['--bounding-set=-all,+net_admin,+net_raw', '--inh-caps=-all', '--no-new-privs', '--', ...cmd], { env: { ...process.env, ...env } })
    : ns.spawn(cmd[0]!, cmd.slice(1), { env: { ...process.env, ...env } });
  let termAt = 0;
  const run: Run = {
    child,
    output: '',
    exited: new Promise((resolve) => child.once('close', (code) => resolve({ code, ms: termAt === 0 ? 0 : Date.now() - termAt }))),
    async stop() {
      termAt = Date.now();
      child.kill('SIGTERM');
      return run.exited;
    },
  };
  child.stdout?.on('data', (d: Buffer) => (run.output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (run.output += d.toString()));
  return run;
}

async function readyOrExit(run: Run, file: string, what: string): Promise<void> {
  await waitFor(() => {
    if (run.child.exitCode !== null) throw new Error(`${what} exited ${run.child.exitCode}: ${run.output}`);
    return existsSync(file);
  }, 20_000).catch((err: Error) => {
    throw new Error(`${what} not ready: ${err.message}\n${run.output}`);
  });
}

test('the ClusterRole and Roles allow every request relay and routes make, and nothing more; both run with only NET_ADMIN and NET_RAW', { skip, timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pgt-rbac-'));
  try {
    await withLab('rbac', async (lab) => {
      const { node } = await routesLab(lab);
      const kubeconfig = join(dir, 'kubeconfig');
      const api = node.spawn(process.execPath, [CHILD, kubeconfig, NODE]);
      const nextLine = lineReader(api);
      try {
        assert.equal(await nextLine(), 'ready');
        const requests = async (): Promise<RequestRecord[]> => {
          api.stdin!.write('requests\n');
          return JSON.parse(await nextLine()) as RequestRecord[];
        };
        const env = { KUBECONFIG: kubeconfig, NODE_NAME: NODE };

        // ---- the relay, peers from Nodes, with the DaemonSet's two capabilities only
        const relayReady = join(dir, 'relay.ready');
        const relay = pathguard(node, ['relay', '--iface', 'eth0', '--vip-networks', '203.0.113.0/28', '--transport', 'udp', '--metrics-addr', '127.0.0.1:9462', '--ready-file', relayReady, '--log-level', 'warn'], env, { limitCaps: true });
        try {
          await readyOrExit(relay, relayReady, 'the relay (NET_ADMIN and NET_RAW only)');
          await waitFor(async () => / 1$/m.test((await node.exec('curl', ['-s', 'http://127.0.0.1:9462/metrics'])).stdout.split('\n').filter((l) => l.startsWith('pathguard_relay_configured_peers')).join('\n')), 10_000);
        } finally {
          const end = await relay.stop();
          assert.equal(end.code, 0, relay.output);
          t.diagnostic(`relay: SIGTERM to exit (nft table removed) in ${end.ms} ms`);
        }
        assert.equal((await node.exec('nft', ['list', 'tables'])).stdout.includes('pathguard'), false, 'the relay removed its table');
        const relayAccess = (await requests()).map(accessOf);
        assert.ok(relayAccess.length > 0, 'the relay called the API');
        checkOverlay('relay-only', relayAccess);

        // ---- routes from the CRDs (long-running until its first reconcile, then SIGTERM)
        const before = relayAccess.length;
        const routesReady = join(dir, 'routes.ready');
        const routes = pathguard(node, ['routes', '--ready-file', routesReady, '--log-level', 'warn', '--metrics-addr', '127.0.0.1:9463'], env, { limitCaps: true });
        try {
          await readyOrExit(routes, routesReady, 'routes');
        } finally {
          const end = await routes.stop();
          assert.equal(end.code, 0, routes.output);
          t.diagnostic(`routes: SIGTERM to exit in ${end.ms} ms`);
        }
        const all = (await requests()).map(accessOf);
        const routesAccess = all.slice(before);
        assert.ok(routesAccess.some((a) => a.apiGroup === 'metallb.io'), 'routes read the CRDs');
        checkOverlay('relay-routes', [...relayAccess, ...routesAccess]);

        // ---- routes from the legacy ConfigMap, once
        const legacy = pathguard(node, ['routes', '--once', '--use-crds=false', '--log-level', 'warn'], env, { limitCaps: true });
        const end = await legacy.exited;
        assert.equal(end.code, 0, legacy.output);
        const legacyAccess = (await requests()).map(accessOf).slice(all.length);
        assert.ok(legacyAccess.some((a) => a.resource === 'configmaps' && a.name === 'config'), 'the ConfigMap was read by name');
        checkOverlay('relay-routes-legacy', [...relayAccess, ...routesAccess, ...legacyAccess]);
        t.diagnostic(`requests: relay ${relayAccess.length}, routes ${routesAccess.length}, legacy routes ${legacyAccess.length}`);
      } finally {
        api.kill('SIGTERM');
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
