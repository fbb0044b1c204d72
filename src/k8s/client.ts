/**
 * Where the Kubernetes API credentials come from. Mirrors the lookup of
 * kubectl / client-go's clientcmd, with one deliberate difference: nothing is
 * ever invented. @kubernetes/client-node's `loadFromDefault()` falls back to
 * `http://localhost:8080` when it finds nothing, which turns a missing
 * kubeconfig into a connection-refused loop; here it is a ConfigError that
 * names every place that was tried.
 *
 * Precedence (first that applies wins):
 *   1. an explicit path (`--kubeconfig`);
 *   2. `KUBECONFIG` (a colon-separated list, merged like kubectl: the first
 *      file that exists sets the current context);
 *   3. in-cluster: `KUBERNETES_SERVICE_HOST`/`_PORT` plus the service account
 *      token and CA mounted into every pod
 *      (/var/run/secrets/kubernetes.io/serviceaccount);
 *   4. `~/.kube/config`.
 * An explicitly named file (1, 2) beats the in-cluster variables, which the
 * kubelet sets in every pod whether or not anyone asked for them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { isIPv6 } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError, type ConfigProblem } from '../errors.js';

/** The service account directory the kubelet mounts into every pod. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface LoadKubeConfigOptions {
  /** `--kubeconfig`: a file that must exist and name a current cluster. */
  readonly kubeconfig?: string;
  /** The environment to read KUBECONFIG and KUBERNETES_SERVICE_* from; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Home directory for `~/.kube/config`; default os.homedir(). */
  readonly homeDir?: string;
  /** Service account mount; default SERVICE_ACCOUNT_DIR. */
  readonly serviceAccountDir?: string;
}

export interface LoadedKubeConfig {
  readonly kubeConfig: KubeConfig;
  /** Where it came from, for the startup log: `in-cluster` or `file:/path`. */
  readonly source: string;
  /** The API server URL of the current context. */
  readonly server: string;
}

/** Loads credentials for the API server; throws ConfigError naming what was tried. */
export function loadKubeConfig(opts: LoadKubeConfigOptions = {}): LoadedKubeConfig {
  const env = opts.env ?? process.env;
  if (opts.kubeconfig !== undefined) return fromFiles('--kubeconfig', [opts.kubeconfig]);

  const listed = (env['KUBECONFIG'] ?? '').split(delimiter).filter((p) => p !== '');
  if (listed.length > 0) {
    const existing = listed.filter((p) => existsSync(p));
    if (existing.length === 0) {
      throw new ConfigError([{ field: 'KUBECONFIG', value: env['KUBECONFIG'], expected: 'at least one existing kubeconfig file' }]);
    }
    return fromFiles('KUBECONFIG', existing);
  }

  const tried: ConfigProblem[] = [
    { field: '--kubeconfig', value: undefined, expected: 'a kubeconfig path (not given)' },
    { field: 'KUBECONFIG', value: env['KUBECONFIG'], expected: 'a list of kubeconfig files (not set)' },
  ];
  const host = env['KUBERNETES_SERVICE_HOST'];
  if (host !== undefined && host !== '') {
    return inCluster(host, env['KUBERNETES_SERVICE_PORT'], opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR);
  }
  tried.push({ field: 'KUBERNETES_SERVICE_HOST', value: host, expected: 'the API server address when running in a pod (not set)' });

  const home = join(opts.homeDir ?? homedir(), '.kube', 'config');
  if (existsSync(home)) return fromFiles('~/.kube/config', [home]);
  tried.push({ field: '~/.kube/config', value: home, expected: 'an existing kubeconfig file' });
  throw new ConfigError(tried);
}

function fromFiles(field: string, files: readonly string[]): LoadedKubeConfig {
  const kc = new KubeConfig();
  files.forEach((file, i) => {
    const one = i === 0 ? kc : new KubeConfig();
    try {
      one.loadFromFile(file);
    } catch (err) {
      throw new ConfigError([{ field, value: file, expected: `a readable kubeconfig file (${describe(err)})` }]);
    }
    if (one !== kc) mergeKubeconfig(kc, one);
  });
  const cluster = kc.getCurrentCluster();
  if (cluster === null) {
    const context = kc.getCurrentContext();
    throw new ConfigError([
      { field, value: files.join(delimiter), expected: `a current-context that names a cluster (current-context is ${JSON.stringify(context ?? '')})` },
    ]);
  }
  return { kubeConfig: kc, source: `file:${files.join(delimiter)}`, server: cluster.server };
}

/**
 * kubectl's merge of a KUBECONFIG list: the first file that defines a name
 * (cluster, user, context) or a current-context wins. KubeConfig.mergeConfig
 * throws on duplicate names instead, which is what two kubeconfigs for the
 * same cluster usually contain.
 */
function mergeKubeconfig(into: KubeConfig, from: KubeConfig): void {
  for (const c of from.getClusters()) if (into.getCluster(c.name) === null) into.addCluster(c);
  for (const u of from.getUsers()) if (into.getUser(u.name) === null) into.addUser(u);
  for (const c of from.getContexts()) if (into.getContextObject(c.name) === null) into.addContext(c);
  if (!into.getCurrentContext() && from.getCurrentContext()) into.setCurrentContext(from.getCurrentContext());
}

function inCluster(host: string, port: string | undefined, dir: string): LoadedKubeConfig {
  const problems: ConfigProblem[] = [];
  if (port === undefined || !/^\d{1,5}$/.test(port)) {
    problems.push({ field: 'KUBERNETES_SERVICE_PORT', value: port, expected: 'a TCP port (set by the kubelet with KUBERNETES_SERVICE_HOST)' });
  }
  const token = join(dir, 'token');
  const ca = join(dir, 'ca.crt');
  if (!existsSync(token)) problems.push({ field: 'service account token', value: token, expected: 'an existing file (is automountServiceAccountToken off?)' });
  if (!existsSync(ca)) problems.push({ field: 'service account CA', value: ca, expected: 'an existing file' });
  if (problems.length > 0) throw new ConfigError(problems);

  // Same shape as KubeConfig.loadFromCluster(), which reads process.env
  // itself; building it here keeps the environment injectable. The token is
  // given as a tokenFile so bound (rotating) tokens are re-read.
  const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
  const server = `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  const nsFile = join(dir, 'namespace');
  const namespace = existsSync(nsFile) ? readFileSync(nsFile, 'utf8').trim() : undefined;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'inCluster', server, caFile: ca, skipTLSVerify: false }],
    users: [{ name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile: token } } }],
    contexts: [{ name: 'inClusterContext', cluster: 'inCluster', user: 'inClusterUser', ...(namespace ? { namespace } : {}) }],
    currentContext: 'inClusterContext',
  });
  return { kubeConfig: kc, source: 'in-cluster', server };
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.name;
  return String(err);
}
