/**
 * Renders deploy/ overlays with `kubectl kustomize`, for the manifest tests
 * and the RBAC check. Every kubectl found is used: `kubectl` on PATH and any
 * listed in PATHGUARD_KUBECTL (colon-separated paths, e.g. Debian's
 * kubernetes-client 1.20 with kustomize v2.0.3 unpacked somewhere), because
 * the manifests must render with old and new kustomize alike.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** The source tree's deploy/ (tests run from dist/, the manifests are not compiled). */
export const DEPLOY_DIR = fileURLToPath(new URL('../../../deploy/', import.meta.url));

export const OVERLAYS = ['relay-only', 'relay-routes', 'relay-routes-legacy', 'metrics'] as const;
export type Overlay = (typeof OVERLAYS)[number];

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

export interface Kubectl {
  readonly path: string;
  readonly version: string;
}

/** The kubectls to render with; empty when there is none. */
export function kubectls(): Kubectl[] {
  const candidates = ['kubectl', ...(process.env['PATHGUARD_KUBECTL'] ?? '').split(':').filter((p) => p !== '')];
  const out: Kubectl[] = [];
  for (const path of candidates) {
    if (path !== 'kubectl' && !existsSync(path)) throw new Error(`PATHGUARD_KUBECTL names ${path}, which does not exist`);
    const r = spawnSync(path, ['version', '--client'], { encoding: 'utf8' });
    if (r.error !== undefined || r.status !== 0) continue;
    const m = /(?:Client Version: |GitVersion:")v?([\d.]+)/.exec(r.stdout);
    out.push({ path, version: m?.[1] ?? 'unknown' });
  }
  return out;
}

const rendered = new Map<string, string>();

/** `kubectl kustomize deploy/overlays/NAME`, parsed (rendered once per kubectl and overlay; a fresh copy each call). */
export function render(kubectl: Kubectl, overlay: Overlay): K8sObject[] {
  const key = `${kubectl.path}\0${overlay}`;
  const text =
    rendered.get(key) ?? execFileSync(kubectl.path, ['kustomize', join(DEPLOY_DIR, 'overlays', overlay)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  rendered.set(key, text);
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length > 0) throw new Error(`${overlay}: ${d.errors[0]!.message}`);
    return d.toJS() as K8sObject;
  });
}

/** One RBAC permission: (apiGroup, resource, verb), optionally limited to a namespace and resource names. */
export interface Permission {
  readonly apiGroup: string;
  readonly resource: string;
  readonly verb: string;
  /** Undefined: cluster-wide (ClusterRole through a ClusterRoleBinding). */
  readonly namespace?: string;
  readonly resourceNames?: readonly string[];
}

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
}

/** What `serviceAccount` may do, from the (Cluster)Roles its bindings grant, one entry per group/resource/verb. */
export function permissionsOf(objects: readonly K8sObject[], serviceAccount: { name: string; namespace: string }): Permission[] {
  const roles = new Map<string, Rule[]>();
  for (const o of objects) {
    if (o.kind === 'ClusterRole') roles.set(`ClusterRole//${o.metadata.name}`, (o['rules'] as Rule[]) ?? []);
    if (o.kind === 'Role') roles.set(`Role/${o.metadata.namespace}/${o.metadata.name}`, (o['rules'] as Rule[]) ?? []);
  }
  const out: Permission[] = [];
  for (const b of objects) {
    if (b.kind !== 'ClusterRoleBinding' && b.kind !== 'RoleBinding') continue;
    const subjects = (b['subjects'] as { kind: string; name: string; namespace?: string }[]) ?? [];
    if (!subjects.some((s) => s.kind === 'ServiceAccount' && s.name === serviceAccount.name && s.namespace === serviceAccount.namespace)) continue;
    const ref = b['roleRef'] as { kind: string; name: string };
    const ns = b.kind === 'RoleBinding' ? b.metadata.namespace : undefined;
    const rules = roles.get(`${ref.kind}/${ref.kind === 'Role' ? ns : ''}/${ref.name}`);
    if (rules === undefined) throw new Error(`${b.kind} ${b.metadata.name} refers to ${ref.kind} ${ref.name}, which is not in the manifests`);
    for (const r of rules)
      for (const g of r.apiGroups ?? [])
        for (const res of r.resources ?? [])
          for (const v of r.verbs ?? []) out.push({ apiGroup: g, resource: res, verb: v, ...(ns !== undefined ? { namespace: ns } : {}), ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}) });
  }
  return out;
}
