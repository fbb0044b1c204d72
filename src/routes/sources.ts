/**
 * Where the routes component's desired state comes from: a file
 * (`--metallb-file`, watched) or the Kubernetes API (MetalLB's CRDs or the
 * legacy ConfigMap, plus this node's labels, through list+watch in
 * src/k8s/metallb-source.ts; see kubernetes-source.ts, loaded only when
 * used: the Kubernetes client takes most of a second to load). Both hand the reconciler the same thing: the
 * latest MetalLB model and node labels, and a call when they changed.
 *
 * Fail static starts here: a source that cannot be read yields a model
 * whose problems include a fatal `source-unavailable`, never an empty one,
 * and the Kubernetes source only ever delivers complete snapshots. The
 * reconciler keeps the last good state when it sees a fatal problem.
 *
 * Node labels: from the API, the Node named --node-name. From a file, a
 * `kind: Node` document with that name, if the file has one; otherwise the
 * node is assumed to carry only `kubernetes.io/hostname: <node name>`, the
 * label the kubelet sets and peer nodeSelectors most often use. Label
 * values cannot hold ':' (so no IPv6 `metallb-nra/address` from the API);
 * a file's Node document can.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import YAML from 'yaml';
import type { MetallbSnapshot } from '../k8s/metallb-source.js';
import type { KubeObject } from '../k8s/informer.js';
import type { Logger } from '../obs/log.js';
import { parseLegacyConfig, parseMetallbFile, parseResources, type MetallbModel } from './metallb.js';
import { problem, type RouteProblem } from './problem.js';
import type { Labels } from './selector.js';

export interface SourceState {
  readonly model: MetallbModel;
  readonly labels: Labels;
  /** Bumped whenever what was read differs from the previous read. */
  readonly version: number;
}

export interface RoutesSource {
  /** For logs: `file /etc/metallb.yaml`, `kubernetes https://...`. */
  readonly origin: string;
  /** Starts reading and watching; `onChange` is called after each new state. */
  start(onChange: () => void): void;
  /** Resolves true once a first state exists, false when stopped or after `timeoutMs`. */
  loaded(timeoutMs: number): Promise<boolean>;
  /** The latest state; undefined until the first read finished. */
  current(): SourceState | undefined;
  /** Reads everything again (the file, or a fresh list of every resource). */
  resync(): void;
  stop(): Promise<void>;
}

export const HOSTNAME_LABEL = 'kubernetes.io/hostname';

function withProblems(model: MetallbModel, extra: readonly RouteProblem[]): MetallbModel {
  if (extra.length === 0) return model;
  return { source: model.source, pools: model.pools, advertisements: model.advertisements, peers: model.peers, problems: [...extra, ...model.problems] };
}

function unavailable(source: MetallbModel['source'], item: string, message: string): MetallbModel {
  return { source, pools: [], advertisements: [], peers: [], problems: [problem('fatal', 'source-unavailable', item, message)] };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringLabels(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(raw)) return out;
  for (const [k, v] of Object.entries(raw)) if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
  return out;
}

/** Labels of the `kind: Node` document named `nodeName` in a multi-document file, if there is one. */
function nodeLabelsFromText(text: string, nodeName: string | undefined): Labels | undefined {
  if (nodeName === undefined || !/^kind:\s*["']?Node["']?\s*$/m.test(text)) return undefined;
  const docs = YAML.parseAllDocuments(text, { uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [];
  const visit = (doc: unknown): Labels | undefined => {
    if (!isRecord(doc)) return undefined;
    if (doc['kind'] === 'List' && Array.isArray(doc['items'])) {
      for (const it of doc['items'] as unknown[]) {
        const l = visit(it);
        if (l) return l;
      }
      return undefined;
    }
    if (doc['kind'] !== 'Node' || !isRecord(doc['metadata']) || doc['metadata']['name'] !== nodeName) return undefined;
    return stringLabels(doc['metadata']['labels']);
  };
  for (const d of list) {
    if (d.errors.length > 0) return undefined; // parseMetallbFile reports the syntax error
    const l = visit(d.toJS({ maxAliasCount: 100 }));
    if (l) return l;
  }
  return undefined;
}

/**
 * The model and node labels a `--metallb-file` holds (pure). MetalLB
 * resources outside `namespace` are skipped with a notice.
 */
export function parseSourceFile(text: string, opts: { readonly nodeName?: string; readonly namespace?: string }): { model: MetallbModel; labels: Labels } {
  const model = parseMetallbFile(text, opts.namespace !== undefined ? { namespace: opts.namespace } : {});
  const fromFile = model.problems.some((p) => p.code === 'yaml-syntax') ? undefined : nodeLabelsFromText(text, opts.nodeName);
  const labels = fromFile ?? (opts.nodeName !== undefined ? { [HOSTNAME_LABEL]: opts.nodeName } : {});
  return { model, labels };
}

export interface SnapshotOptions {
  readonly useCrds: boolean;
  readonly namespace: string;
  readonly configMapName: string;
  readonly nodeName?: string;
}

/** The model and node labels of a complete Kubernetes snapshot (pure). */
export function modelFromSnapshot(s: MetallbSnapshot, o: SnapshotOptions): { model: MetallbModel; labels: Labels } {
  const extra: RouteProblem[] = [];
  let labels: Labels = {};
  if (o.nodeName !== undefined) {
    if (s.nodeLabels !== undefined) labels = s.nodeLabels;
    else extra.push(problem('notice', 'unknown-reference', `Node ${o.nodeName}`, 'no such Node object: node labels are empty, so peers with nodeSelectors and the metallb-nra/* labels do not apply'));
  }
  let model: MetallbModel;
  if (o.useCrds) {
    model = parseResources(
      { ipAddressPools: s.pools, bgpAdvertisements: s.advertisements, l2Advertisements: s.l2Advertisements, bgpPeers: s.peers },
      { namespace: o.namespace },
      'crds',
    );
  } else if (s.configMap === undefined) {
    model = unavailable('configmap', `ConfigMap ${o.namespace}/${o.configMapName}`, 'not found; the legacy MetalLB configuration cannot be read (use the CRDs with --use-crds)');
  } else {
    const data = (s.configMap as KubeObject)['data'];
    const text = isRecord(data) && typeof data['config'] === 'string' ? data['config'] : undefined;
    model = parseLegacyConfig(text, 'configmap');
  }
  return { model: withProblems(model, extra), labels };
}

/** What identifies a snapshot's content: every object's kind, name and resourceVersion. */
export function snapshotFingerprint(s: MetallbSnapshot): string {
  const parts: string[] = [];
  const add = (tag: string, list: readonly KubeObject[]): void => {
    for (const o of list) parts.push(`${tag}/${o.metadata.namespace ?? ''}/${o.metadata.name}@${o.metadata.resourceVersion ?? ''}`);
  };
  add('pool', s.pools);
  add('bgpadv', s.advertisements);
  add('l2adv', s.l2Advertisements);
  add('peer', s.peers);
  if (s.configMap) add('cm', [s.configMap]);
  parts.push(`node ${JSON.stringify(s.nodeLabels ?? null)}`);
  return parts.join('\n');
}

/** Resolves when `ready` resolves, or with false after `timeoutMs`. */
export function withTimeout(ready: Promise<boolean>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  return Promise.race([ready, timeout]).finally(() => clearTimeout(timer));
}

export interface FileSourceOptions {
  readonly nodeName?: string;
  readonly namespace?: string;
  /** Coalesce file-system events this long before re-reading; default 100 ms. */
  readonly debounceMs?: number;
  readonly log?: Logger;
}

/**
 * `--metallb-file`: read at start, re-read on file-system events in its
 * directory (editors and ConfigMap volumes replace files by rename, which a
 * watch on the file itself would miss) and on resync(). An unreadable file
 * is a state too: a fatal `source-unavailable` problem.
 */
export class FileSource implements RoutesSource {
  readonly origin: string;
  private readonly path: string;
  private readonly opts: FileSourceOptions;
  private state: SourceState | undefined;
  private lastKey: string | undefined;
  private version = 0;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private onChange: () => void = () => undefined;
  private readonly first: Promise<boolean>;
  private resolveFirst: (v: boolean) => void = () => undefined;

  constructor(path: string, opts: FileSourceOptions = {}) {
    this.path = path;
    this.opts = opts;
    this.origin = `file ${path}`;
    this.first = new Promise((r) => (this.resolveFirst = r));
  }

  start(onChange: () => void): void {
    this.onChange = onChange;
    try {
      const name = basename(this.path);
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
        // ConfigMap volumes swap a `..data` symlink; null means "something changed"
        if (file === null || file === name || file.startsWith('..')) this.schedule();
      });
      this.watcher.on('error', (err) => {
        this.opts.log?.warn({ err, path: this.path }, 'watching the MetalLB file failed; it is still re-read at every resync');
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (err) {
      this.opts.log?.warn({ err, path: this.path }, 'cannot watch the directory of the MetalLB file; it is re-read at every resync only');
    }
    this.resync();
  }

  loaded(timeoutMs: number): Promise<boolean> {
    return withTimeout(this.first, timeoutMs);
  }

  current(): SourceState | undefined {
    return this.state;
  }

  resync(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = this.read().finally(() => {
      this.reading = undefined;
      if (this.again) {
        this.again = false;
        this.resync();
      }
    });
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.resync();
    }, this.opts.debounceMs ?? 100);
  }

  private async read(): Promise<void> {
    let text: string | undefined;
    let failure: string | undefined;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      failure = (err as Error).message;
    }
    if (this.stopped) return;
    const key = text !== undefined ? `ok\n${text}` : `error\n${failure}`;
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.version++;
      if (text !== undefined) {
        const { model, labels } = parseSourceFile(text, this.opts);
        this.state = { model, labels, version: this.version };
      } else {
        this.state = { model: unavailable('file', `file ${this.path}`, `cannot be read: ${failure}`), labels: {}, version: this.version };
      }
      this.resolveFirst(true);
      this.onChange();
    }
    this.resolveFirst(true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.resolveFirst(false);
    await this.reading;
  }
}
