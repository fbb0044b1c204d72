/**
 * A list+watch cache of one Kubernetes collection that never shows its
 * consumer a half-built state ("fail static").
 *
 * Protocol (Kubernetes API concepts, "Efficient detection of changes"):
 *   GET <collection>                    -> {kind: XList, metadata: {resourceVersion}, items}
 *   GET <collection>?watch=true&resourceVersion=RV&allowWatchBookmarks=true
 *                                       -> newline-delimited {type, object} events,
 *      type ADDED | MODIFIED | DELETED | BOOKMARK | ERROR (object is a Status).
 * After a dropped or timed-out watch we resume from the last resourceVersion
 * seen (an object's or a BOOKMARK's); only `410 Gone` (ERROR event with a
 * Status code 410, or an HTTP 410) forces a new list.
 *
 * Why not @kubernetes/client-node's ListWatch/makeInformer: its re-list
 * mutates the cache in place with per-object delete/add callbacks and says
 * nothing when the list is complete, so a consumer reacting to callbacks sees
 * intermediate sets (the very "empty in the middle" we must not produce); it
 * stops for good on any non-410 error, leaving the restart to the caller; its
 * backoff has no jitter; and its typed listFn returns model classes (Dates)
 * while the watch delivers plain JSON. So this module keeps the client's
 * `Watch` (the streaming half, with its auth, TLS and idle timeout) and does
 * the list itself through the client's HTTP stack, so list items and watch
 * objects are the same plain JSON the API server sent.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { HttpMethod, IsomorphicFetchHttpLibrary, RequestContext, Watch, type KubeConfig } from '@kubernetes/client-node';

/** An API object as the server sent it (plain JSON). Consumers must not mutate it. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** One collection to list and watch. */
export interface ResourceSpec {
  /** For errors and logs, e.g. `metallb.io/v1beta1 ipaddresspools in metallb-system`. */
  readonly what: string;
  /**
   * Collection paths in order of preference (`/apis/metallb.io/v1beta2/namespaces/NS/bgppeers`).
   * A later path is tried when the earlier ones answer 404, i.e. that
   * version of the resource is not served.
   */
  readonly paths: readonly [string, ...string[]];
  readonly fieldSelector?: string;
  readonly labelSelector?: string;
}

/** Waits `ms` milliseconds; rejects (or resolves early) once `signal` aborts. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

export interface WatcherOptions {
  /** Injected so tests control time; default an abortable timers/promises setTimeout. */
  readonly sleep?: Sleep;
  /** Jitter source in [0, 1); default Math.random. */
  readonly random?: () => number;
  /** First retry delay; default 1000 ms. Doubles per consecutive failure. */
  readonly backoffInitialMs?: number;
  /** Retry delay cap; default 30000 ms. Also the poll period while a resource is not served. */
  readonly backoffMaxMs?: number;
  /** onChange fires this long after the first unreported change; default 100 ms. */
  readonly debounceMs?: number;
  /**
   * Keeps only what the consumers read of each object (a Node's labels and
   * addresses, not its images and conditions): the cache of a large cluster
   * stays small, and an update that changes nothing kept (a kubelet's
   * heartbeat) is not reported as a change.
   */
  readonly keep?: (o: KubeObject) => KubeObject;
}

/** Something went wrong; the watcher keeps its snapshot and retries by itself. */
export interface WatcherError {
  readonly what: string;
  readonly phase: 'list' | 'watch' | 'listener';
  /** HTTP status or Status.code when the API server answered. */
  readonly status?: number;
  readonly message: string;
  /** When the next attempt starts, if one is scheduled after a delay. */
  readonly retryInMs?: number;
  readonly cause?: unknown;
}

export interface WatcherStats {
  /** Successful lists, the first one included. */
  readonly lists: number;
  /** 410 Gone answers, each of which forced a new list. */
  readonly relists: number;
  /** Watch requests opened. */
  readonly watches: number;
  /** Failed lists and watches (not counting 410 and idle timeouts). */
  readonly errors: number;
  /** False while every path of the spec answers 404 (e.g. CRD not installed). */
  readonly served: boolean;
  /** Where the next watch resumes. */
  readonly resourceVersion: string;
}

type Listener<A> = (arg: A) => void;

/** How one watch request ended. */
type WatchEnd =
  | { kind: 'closed'; events: number } // the server ended the stream
  | { kind: 'timeout'; events: number } // the client's idle timeout (Watch.requestTimeoutMs)
  | { kind: 'gone'; events: number } // 410: our resourceVersion was compacted away
  | { kind: 'invalid'; events: number; error: WatcherError } // an event we cannot apply: re-list
  | { kind: 'error'; events: number; error: WatcherError }
  | { kind: 'stopped'; events: number };

type ListResult =
  | { kind: 'ok'; path: string; resourceVersion: string; items: KubeObject[] }
  | { kind: 'not-served' }
  | { kind: 'failed'; error: WatcherError };

const abortableDelay: Sleep = (ms, signal) => delay(ms, undefined, { signal });

/** List+watch of one collection with a consistent snapshot, see the module comment. */
export class ResourceWatcher<T extends KubeObject = KubeObject> {
  /** Resolves true after the first complete list, false if stopped before. */
  readonly synced: Promise<boolean>;

  readonly #kc: KubeConfig;
  readonly #spec: ResourceSpec;
  readonly #watch: Watch;
  readonly #http = new IsomorphicFetchHttpLibrary();
  readonly #sleep: Sleep;
  readonly #random: () => number;
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #debounceMs: number;
  readonly #keep: ((o: KubeObject) => KubeObject) | undefined;
  readonly #stop = new AbortController();
  readonly #stopped: Promise<void>;

  #objects = new Map<string, T>();
  #sorted: readonly T[] | undefined = [];
  #path: string | undefined;
  #rv = '';
  #isSynced = false;
  #resolveSynced: (v: boolean) => void = () => undefined;
  #running: Promise<void> | undefined;
  #watchAbort: (() => void) | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #stats = { lists: 0, relists: 0, watches: 0, errors: 0, served: true };

  readonly #onSnapshot: Listener<readonly T[]>[] = [];
  readonly #onChange: Listener<readonly T[]>[] = [];
  readonly #onError: Listener<WatcherError>[] = [];

  constructor(kc: KubeConfig, spec: ResourceSpec, opts: WatcherOptions = {}) {
    this.#kc = kc;
    this.#spec = spec;
    this.#watch = new Watch(kc);
    this.#sleep = opts.sleep ?? abortableDelay;
    this.#random = opts.random ?? Math.random;
    this.#initialMs = opts.backoffInitialMs ?? 1000;
    this.#maxMs = opts.backoffMaxMs ?? 30_000;
    this.#debounceMs = opts.debounceMs ?? 100;
    this.#keep = opts.keep;
    this.synced = new Promise((resolve) => (this.#resolveSynced = resolve));
    this.#stopped = new Promise((resolve) => this.#stop.signal.addEventListener('abort', () => resolve(), { once: true }));
  }

  get what(): string {
    return this.#spec.what;
  }

  /** Starts listing and watching; a second call does nothing. */
  start(): void {
    if (this.#running !== undefined || this.#stop.signal.aborted) return;
    this.#running = this.#run().catch((err: unknown) => {
      // Only a throwing injected sleep or onError listener gets here: report it, the watcher stays stopped.
      this.#emitError({ what: this.#spec.what, phase: 'watch', message: `watcher loop ended: ${messageOf(err)}`, cause: err });
    });
  }

  /** Stops the loop, aborts the open request and pending timers; resolves once nothing is left running. */
  async stop(): Promise<void> {
    if (!this.#stop.signal.aborted) this.#stop.abort();
    this.#watchAbort?.();
    if (this.#debounce !== undefined) clearTimeout(this.#debounce);
    this.#debounce = undefined;
    this.#resolveSynced(false);
    await this.#running;
  }

  /** The current set, sorted by namespace/name. Empty until `synced`. */
  snapshot(): readonly T[] {
    this.#sorted ??= [...this.#objects.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o);
    return this.#sorted;
  }

  isSynced(): boolean {
    return this.#isSynced;
  }

  stats(): WatcherStats {
    return { ...this.#stats, resourceVersion: this.#rv };
  }

  /** After every complete (re)list, with the new full set (also when unchanged). */
  onSnapshot(fn: Listener<readonly T[]>): () => void {
    return subscribe(this.#onSnapshot, fn);
  }

  /** Debounced: the set differs from the last one reported here (the first list always counts). */
  onChange(fn: Listener<readonly T[]>): () => void {
    return subscribe(this.#onChange, fn);
  }

  onError(fn: Listener<WatcherError>): () => void {
    return subscribe(this.#onError, fn);
  }

  async #run(): Promise<void> {
    let failures = 0;
    let needList = true;
    while (!this.#stop.signal.aborted) {
      if (needList) {
        let listed: ListResult;
        try {
          listed = await this.#list();
        } catch (err) {
          listed = { kind: 'failed', error: toWatcherError(this.#spec.what, 'list', err) };
        }
        if (this.#stop.signal.aborted) return;
        if (listed.kind === 'failed') {
          failures++;
          const retryInMs = this.#backoff(failures);
          this.#stats.errors++;
          this.#emitError({ ...listed.error, retryInMs });
          await this.#pause(retryInMs);
          continue;
        }
        if (listed.kind === 'not-served') {
          // Not installed is a true "there are none" only before we ever saw
          // the resource served: an API server that is still starting answers
          // 404 for CRDs for a moment, and that must not wipe a known set.
          if (!this.#isSynced) this.#replace([], '');
          this.#stats.served = false;
          await this.#pause(this.#jitter(this.#maxMs));
          continue;
        }
        this.#stats.served = true;
        this.#path = listed.path;
        this.#replace(listed.items, listed.resourceVersion);
        needList = false;
      }

      const end = await this.#watchOnce();
      if (this.#stop.signal.aborted || end.kind === 'stopped') return;
      if (end.kind === 'timeout') {
        // The idle timeout already waited; resume at once from our resourceVersion.
        failures = 0;
        continue;
      }
      if (end.events > 0) failures = 0;
      if (end.kind === 'gone') {
        this.#stats.relists++;
        needList = true;
      } else if (end.kind === 'invalid') {
        this.#stats.errors++;
        needList = true;
      } else if (end.kind === 'error') {
        this.#stats.errors++;
      }
      // A watch that made progress and ended cleanly (or with 410) is
      // retried at once; errors and watches that delivered nothing back off.
      if (end.kind === 'error' || end.kind === 'invalid' || end.events === 0) {
        failures++;
        const retryInMs = this.#backoff(failures);
        if (end.kind === 'error' || end.kind === 'invalid') this.#emitError({ ...end.error, retryInMs });
        await this.#pause(retryInMs);
      }
    }
  }

  /** One list over the spec's paths; throws only when the request itself fails (network, TLS, abort). */
  async #list(): Promise<ListResult> {
    const what = this.#spec.what;
    for (const path of this.#spec.paths) {
      const query: Record<string, string> = {};
      if (this.#spec.fieldSelector !== undefined) query['fieldSelector'] = this.#spec.fieldSelector;
      if (this.#spec.labelSelector !== undefined) query['labelSelector'] = this.#spec.labelSelector;
      const { status, body } = await this.#get(path, query);
      if (status === 404) continue;
      if (status < 200 || status > 299) return { kind: 'failed', error: { what, phase: 'list', status, message: statusMessage(status, body) } };
      const parsed = parseList(body);
      if (typeof parsed === 'string') return { kind: 'failed', error: { what, phase: 'list', status, message: `malformed list from ${path}: ${parsed}` } };
      this.#stats.lists++;
      return { kind: 'ok', path, resourceVersion: parsed.resourceVersion, items: parsed.items };
    }
    return { kind: 'not-served' };
  }

  async #get(path: string, query: Record<string, string>): Promise<{ status: number; body: unknown }> {
    const cluster = this.#kc.getCurrentCluster();
    if (cluster === null) throw new Error('the kubeconfig has no current cluster');
    const url = new URL(cluster.server + path);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const ctx = new RequestContext(url.toString(), HttpMethod.GET);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setSignal(this.#stop.signal);
    await this.#kc.applySecurityAuthentication(ctx);
    const res = await this.#http.send(ctx).toPromise();
    const text = await res.body.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON (a proxy's HTML error page, a truncated body): keep the text for the message.
      body = text.slice(0, 200);
    }
    return { status: res.httpStatusCode, body };
  }

  #watchOnce(): Promise<WatchEnd> {
    const path = this.#path;
    if (path === undefined) return Promise.resolve({ kind: 'stopped', events: 0 });
    const what = this.#spec.what;
    this.#stats.watches++;
    return new Promise<WatchEnd>((resolve) => {
      let events = 0;
      let settled = false;
      let controller: AbortController | undefined;
      const finish = (end: WatchEnd): void => {
        if (settled) return;
        settled = true;
        this.#watchAbort = undefined;
        controller?.abort();
        resolve(end);
      };
      this.#watchAbort = () => finish({ kind: 'stopped', events });

      const onEvent = (type: string, obj: unknown): void => {
        if (settled) return;
        if (type === 'ERROR') {
          const code = statusCode(obj);
          if (code === 410) finish({ kind: 'gone', events });
          else finish({ kind: 'error', events, error: { what, phase: 'watch', ...(code !== undefined ? { status: code } : {}), message: statusMessage(code ?? 0, obj) } });
          return;
        }
        if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED' && type !== 'BOOKMARK') return;
        const rv = resourceVersionOf(obj);
        if (type !== 'BOOKMARK') {
          if (!isKubeObject(obj)) {
            finish({ kind: 'invalid', events, error: { what, phase: 'watch', message: `${type} event without metadata.name` } });
            return;
          }
          this.#apply(type, obj as T);
        }
        events++;
        if (rv !== undefined) this.#rv = rv;
      };
      const done = (err: unknown): void => {
        if (err === null || err === undefined) return finish({ kind: 'closed', events });
        if (errorStatus(err) === 410) return finish({ kind: 'gone', events });
        if (err instanceof Error && err.name === 'TimeoutError') return finish({ kind: 'timeout', events });
        finish({ kind: 'error', events, error: toWatcherError(what, 'watch', err) });
      };

      const query: Record<string, string> = { resourceVersion: this.#rv, allowWatchBookmarks: 'true' };
      if (this.#spec.fieldSelector !== undefined) query['fieldSelector'] = this.#spec.fieldSelector;
      if (this.#spec.labelSelector !== undefined) query['labelSelector'] = this.#spec.labelSelector;
      this.#watch.watch(path, query, onEvent, done).then(
        (c) => {
          controller = c;
          // stop() (or an ERROR event) may have come while the request was connecting.
          if (settled) c.abort();
        },
        done,
      );
    });
  }

  /** Installs a complete list in one step: consumers see the old set or the new one, never a mix. */
  #replace(items: readonly KubeObject[], resourceVersion: string): void {
    const next = new Map<string, T>();
    for (const o of items) next.set(keyOf(o), (this.#keep ? this.#keep(o) : o) as T);
    const changed = !sameVersions(this.#objects, next);
    this.#objects = next;
    this.#sorted = undefined;
    this.#rv = resourceVersion;
    const first = !this.#isSynced;
    this.#isSynced = true;
    this.#resolveSynced(true);
    this.#emit(this.#onSnapshot, this.snapshot());
    if (changed || first) this.#scheduleChange();
  }

  #apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', received: T): void {
    const obj = (this.#keep ? this.#keep(received) : received) as T;
    const key = keyOf(obj);
    const old = this.#objects.get(key);
    if (type === 'DELETED') {
      if (old === undefined) return;
      this.#objects.delete(key);
    } else {
      // A replayed event after a reconnect carries the version we already hold.
      if (old !== undefined && old.metadata.resourceVersion !== undefined && old.metadata.resourceVersion === obj.metadata.resourceVersion) return;
      this.#objects.set(key, obj);
      // Nothing the consumers keep has changed (only the version moved): no change to report.
      if (this.#keep && old !== undefined && sameBeyondVersion(old, obj)) return;
    }
    this.#sorted = undefined;
    this.#scheduleChange();
  }

  /** Trailing report `debounceMs` after the first unreported change: bounded latency under a stream of events. */
  #scheduleChange(): void {
    if (this.#debounce !== undefined || this.#stop.signal.aborted) return;
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      this.#emit(this.#onChange, this.snapshot());
    }, this.#debounceMs);
  }

  #backoff(failures: number): number {
    return this.#jitter(Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(failures - 1, 30)));
  }

  /** ±25 % so that every node of a cluster does not retry in the same second, kept within [initial, max]. */
  #jitter(ms: number): number {
    const j = ms * (0.75 + 0.5 * this.#random());
    return Math.round(Math.min(this.#maxMs, Math.max(this.#initialMs, j)));
  }

  async #pause(ms: number): Promise<void> {
    try {
      await Promise.race([this.#sleep(ms, this.#stop.signal), this.#stopped]);
    } catch (err) {
      if (!this.#stop.signal.aborted) throw err;
    }
  }

  #emit<A>(listeners: readonly Listener<A>[], arg: A): void {
    for (const fn of [...listeners]) {
      try {
        fn(arg);
      } catch (err) {
        this.#emitError({ what: this.#spec.what, phase: 'listener', message: messageOf(err), cause: err });
      }
    }
  }

  #emitError(e: WatcherError): void {
    for (const fn of [...this.#onError]) fn(e);
  }
}

// ---- resources pathguard watches -------------------------------------------

/** MetalLB's API group and the versions pathguard reads, preferred first. */
export const METALLB_GROUP = 'metallb.io';
export const METALLB_RESOURCES = {
  IPAddressPool: { plural: 'ipaddresspools', versions: ['v1beta1'] },
  BGPAdvertisement: { plural: 'bgpadvertisements', versions: ['v1beta1'] },
  L2Advertisement: { plural: 'l2advertisements', versions: ['v1beta1'] },
  // v1beta2 since MetalLB 0.13; older releases serve only v1beta1.
  BGPPeer: { plural: 'bgppeers', versions: ['v1beta2', 'v1beta1'] },
} as const;
export type MetallbKind = keyof typeof METALLB_RESOURCES;

/** All objects of one MetalLB CRD in `namespace`. */
export function metallbResource(kind: MetallbKind, namespace: string): ResourceSpec {
  const { plural, versions } = METALLB_RESOURCES[kind];
  const ns = encodeURIComponent(namespace);
  const paths = versions.map((v) => `/apis/${METALLB_GROUP}/${v}/namespaces/${ns}/${plural}`);
  return { what: `${METALLB_GROUP} ${plural} in ${namespace}`, paths: paths as [string, ...string[]] };
}

/** One ConfigMap (MetalLB's legacy `config`), watched through its collection with a name selector. */
export function configMapResource(namespace: string, name: string): ResourceSpec {
  return {
    what: `configmap ${namespace}/${name}`,
    paths: [`/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`],
    fieldSelector: `metadata.name=${name}`,
  };
}

/** One Node by name (its labels feed MetalLB node selectors). */
export function nodeResource(name: string): ResourceSpec {
  return { what: `node ${name}`, paths: ['/api/v1/nodes'], fieldSelector: `metadata.name=${name}` };
}

/** All Nodes, optionally narrowed by a label selector (peer discovery). */
export function nodesResource(labelSelector?: string): ResourceSpec {
  return {
    what: labelSelector === undefined ? 'nodes' : `nodes matching ${labelSelector}`,
    paths: ['/api/v1/nodes'],
    ...(labelSelector !== undefined ? { labelSelector } : {}),
  };
}

// ---- helpers ---------------------------------------------------------------

function subscribe<A>(list: Listener<A>[], fn: Listener<A>): () => void {
  list.push(fn);
  return () => {
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Equal but for metadata.resourceVersion (objects as `keep` left them: small, plain JSON). */
function sameBeyondVersion(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => JSON.stringify({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } });
  return strip(a) === strip(b);
}

/** What the agent reads of a Node: its name, labels (node selectors) and addresses (peers). */
export function nodeEssentials(o: KubeObject): KubeObject {
  const status = (o as { status?: { addresses?: unknown } }).status;
  const m = o.metadata;
  return {
    ...(o.apiVersion !== undefined ? { apiVersion: o.apiVersion } : {}),
    ...(o.kind !== undefined ? { kind: o.kind } : {}),
    metadata: { name: m.name, ...(m.resourceVersion !== undefined ? { resourceVersion: m.resourceVersion } : {}), ...(m.labels !== undefined ? { labels: m.labels } : {}) },
    ...(status?.addresses !== undefined ? { status: { addresses: status.addresses } } : {}),
  } as KubeObject;
}

function isKubeObject(v: unknown): v is KubeObject {
  return isRecord(v) && isRecord(v['metadata']) && typeof v['metadata']['name'] === 'string' && v['metadata']['name'] !== '';
}

function keyOf(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

function resourceVersionOf(v: unknown): string | undefined {
  if (!isRecord(v) || !isRecord(v['metadata'])) return undefined;
  const rv = v['metadata']['resourceVersion'];
  return typeof rv === 'string' && rv !== '' ? rv : undefined;
}

function sameVersions(a: ReadonlyMap<string, KubeObject>, b: ReadonlyMap<string, KubeObject>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, o] of a) {
    const p = b.get(k);
    if (p === undefined || p.metadata.resourceVersion === undefined || p.metadata.resourceVersion !== o.metadata.resourceVersion) return false;
  }
  return true;
}

/**
 * Validates a list answer. Items of built-in types come without kind and
 * apiVersion (only the list carries them); they are filled in so every
 * object a consumer sees says what it is, as watch events already do.
 */
function parseList(body: unknown): { resourceVersion: string; items: KubeObject[] } | string {
  if (!isRecord(body)) return 'not a JSON object';
  const meta = body['metadata'];
  const rv = isRecord(meta) ? meta['resourceVersion'] : undefined;
  if (typeof rv !== 'string' || rv === '') return 'no metadata.resourceVersion';
  const raw = body['items'] ?? [];
  if (!Array.isArray(raw)) return 'items is not an array';
  const listKind = typeof body['kind'] === 'string' ? body['kind'] : '';
  const kind = listKind.endsWith('List') ? listKind.slice(0, -4) : undefined;
  const apiVersion = typeof body['apiVersion'] === 'string' ? body['apiVersion'] : undefined;
  const items: KubeObject[] = [];
  for (const [i, item] of raw.entries()) {
    if (!isKubeObject(item)) return `items[${i}] has no metadata.name`;
    items.push({ ...(kind !== undefined ? { kind } : {}), ...(apiVersion !== undefined ? { apiVersion } : {}), ...item });
  }
  return { resourceVersion: rv, items };
}

/** The code of a metav1.Status, if `v` is one. */
function statusCode(v: unknown): number | undefined {
  return isRecord(v) && typeof v['code'] === 'number' ? v['code'] : undefined;
}

function statusMessage(status: number, body: unknown): string {
  if (isRecord(body)) {
    const reason = typeof body['reason'] === 'string' ? `${body['reason']}: ` : '';
    if (typeof body['message'] === 'string') return `HTTP ${status}: ${reason}${body['message']}`;
  }
  return `HTTP ${status}${typeof body === 'string' && body !== '' ? `: ${body}` : ''}`;
}

/** The HTTP status Watch attaches (`statusCode`) to the error of a non-200 watch answer. */
function errorStatus(err: unknown): number | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { statusCode?: unknown }).statusCode;
  return typeof code === 'number' ? code : undefined;
}

function messageOf(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? ` (${err.cause.message})` : '';
    return `${err.message}${cause}`;
  }
  return String(err);
}

function toWatcherError(what: string, phase: 'list' | 'watch', err: unknown): WatcherError {
  const status = errorStatus(err);
  return { what, phase, ...(status !== undefined ? { status } : {}), message: messageOf(err), cause: err };
}
