/**
 * An in-process Kubernetes API server for tests: plain HTTP on 127.0.0.1:0,
 * speaking the subset of the real protocol that list+watch clients use
 * (Kubernetes API concepts, "Efficient detection of changes" and "Watch
 * bookmarks"):
 *
 *   GET /api/v1/nodes                       list  -> {kind: NodeList, apiVersion, metadata: {resourceVersion}, items}
 *   GET /api/v1/nodes/NAME                  get   -> the object, or a 404 Status
 *   GET /api/v1/namespaces/NS/configmaps    namespaced list (and /apis/G/V/namespaces/NS/PLURAL)
 *   ...?watch=true|1&resourceVersion=RV&allowWatchBookmarks=true
 *                                           chunked newline-delimited {type, object} events
 *   fieldSelector metadata.name / metadata.namespace (=, ==, !=), labelSelector (=, ==, !=, key, !key)
 *
 * Like the real server: one resourceVersion counter for every write (etcd's
 * revision); list items of built-in (core group) types carry no kind and
 * apiVersion while watch objects do; a watch without a resourceVersion (or
 * "0") starts with synthetic ADDED events for what exists; a watch from a
 * resourceVersion older than the last compaction gets 200 and then an ERROR
 * event holding a 410 `Expired` Status, and is closed; unknown resources and
 * versions answer 404 NotFound.
 *
 * Test controls: apply/remove objects (pushed to open watches), dropWatches
 * (clean end or abrupt socket reset), expire (compaction), bookmark,
 * failNext (N error answers), and a request log.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { KubeConfig } from '@kubernetes/client-node';

export interface ResourceType {
  readonly group: string; // '' for the core group (/api/v1)
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

export const RESOURCE_TYPES = {
  Node: { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false },
  ConfigMap: { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true },
  IPAddressPool: { group: 'metallb.io', version: 'v1beta1', plural: 'ipaddresspools', kind: 'IPAddressPool', namespaced: true },
  BGPAdvertisement: { group: 'metallb.io', version: 'v1beta1', plural: 'bgpadvertisements', kind: 'BGPAdvertisement', namespaced: true },
  L2Advertisement: { group: 'metallb.io', version: 'v1beta1', plural: 'l2advertisements', kind: 'L2Advertisement', namespaced: true },
  BGPPeer: { group: 'metallb.io', version: 'v1beta2', plural: 'bgppeers', kind: 'BGPPeer', namespaced: true },
  BGPPeerV1beta1: { group: 'metallb.io', version: 'v1beta1', plural: 'bgppeers', kind: 'BGPPeer', namespaced: true },
} as const satisfies Record<string, ResourceType>;

/** A stored object; `metadata.resourceVersion` is set by the server. */
export interface StoredObject {
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly watch: boolean;
}

interface HistoryEntry {
  readonly rv: number;
  readonly typeKey: string;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: StoredObject;
  readonly old?: StoredObject;
}

interface OpenWatch {
  readonly typeKey: string;
  readonly type: ResourceType;
  readonly namespace?: string;
  readonly match: (o: StoredObject) => boolean;
  readonly bookmarks: boolean;
  readonly res: ServerResponse;
}

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

const apiVersionOf = (t: ResourceType): string => (t.group === '' ? t.version : `${t.group}/${t.version}`);
const keyOfType = (t: ResourceType): string => `${t.group}/${t.version}/${t.plural}`;
const keyOfObject = (o: StoredObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const clone = <X>(x: X): X => structuredClone(x);

export interface FakeApiServerOptions {
  /** Resource types served from the start; default all of RESOURCE_TYPES. */
  readonly serve?: readonly ResourceType[];
  /** Bearer token required on every request; default `fake-token`. */
  readonly token?: string;
}

export class FakeApiServer {
  readonly url: string;
  readonly token: string;
  /** Every request received, in order. */
  readonly requests: RequestRecord[] = [];

  readonly #server: Server;
  readonly #served = new Map<string, ResourceType>();
  readonly #stores = new Map<string, Map<string, StoredObject>>();
  readonly #history: HistoryEntry[] = [];
  readonly #watches = new Set<OpenWatch>();
  #rv = 100;
  #compactedRv = 0;
  #failures: { left: number; status: number; on: 'list' | 'watch' | 'any'; path: string } = { left: 0, status: 500, on: 'any', path: '' };

  private constructor(server: Server, url: string, token: string) {
    this.#server = server;
    this.url = url;
    this.token = token;
  }

  static async start(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const fake = new FakeApiServer(server, `http://127.0.0.1:${port}`, opts.token ?? 'fake-token');
    for (const t of opts.serve ?? Object.values(RESOURCE_TYPES)) fake.serve(t);
    server.on('request', (req, res) => fake.#handle(req, res));
    return fake;
  }

  /**
   * A KubeConfig for this server (token auth, plain HTTP). The client
   * refuses http:// unless TLS verification is off, so it is off.
   */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'tester', token: this.token }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'tester' }],
      currentContext: 'fake',
    });
    return kc;
  }

  /** Writes a kubeconfig file for this server (JSON is valid YAML). */
  async writeKubeconfig(file: string): Promise<void> {
    const doc = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'tester', user: { token: this.token } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'tester' } }],
      'current-context': 'fake',
    };
    await writeFile(file, JSON.stringify(doc, null, 2));
  }

  serve(t: ResourceType): void {
    this.#served.set(keyOfType(t), t);
    if (!this.#stores.has(keyOfType(t))) this.#stores.set(keyOfType(t), new Map());
  }

  /** Stops serving a type (its URLs answer 404); its objects are kept. */
  unserve(t: ResourceType): void {
    this.#served.delete(keyOfType(t));
  }

  /** The current resourceVersion (etcd revision). */
  resourceVersion(): string {
    return String(this.#rv);
  }

  /** Creates or replaces an object; pushes ADDED or MODIFIED to matching watches. Returns the stored copy. */
  apply(t: ResourceType, obj: StoredObject): StoredObject {
    const store = this.#store(t);
    if (t.namespaced && obj.metadata.namespace === undefined) throw new Error(`${t.kind} needs metadata.namespace`);
    const stored = clone(obj);
    stored['apiVersion'] = apiVersionOf(t);
    stored['kind'] = t.kind;
    stored.metadata.resourceVersion = String(++this.#rv);
    const key = keyOfObject(stored);
    const old = store.get(key);
    store.set(key, stored);
    this.#record({ rv: this.#rv, typeKey: keyOfType(t), type: old === undefined ? 'ADDED' : 'MODIFIED', object: stored, ...(old ? { old } : {}) });
    return clone(stored);
  }

  /** Deletes an object if present; pushes DELETED to matching watches. */
  remove(t: ResourceType, namespace: string | undefined, name: string): void {
    const store = this.#store(t);
    const key = `${namespace ?? ''}/${name}`;
    const old = store.get(key);
    if (old === undefined) return;
    store.delete(key);
    const object = clone(old);
    object.metadata.resourceVersion = String(++this.#rv);
    this.#record({ rv: this.#rv, typeKey: keyOfType(t), type: 'DELETED', object, old });
  }

  /** How many watch streams are open. */
  openWatches(): number {
    return this.#watches.size;
  }

  /** Ends every open watch: cleanly (end of the chunked body) or abruptly (socket reset). Returns how many. */
  dropWatches(opts: { abrupt?: boolean } = {}): number {
    const n = this.#watches.size;
    for (const w of [...this.#watches]) {
      this.#watches.delete(w);
      if (opts.abrupt) w.res.socket?.destroy();
      else w.res.end();
    }
    return n;
  }

  /**
   * Compaction: every resourceVersion handed out so far becomes too old to
   * watch from, as after etcd compacts (another write advances the revision
   * first, so a fresh list is always watchable). With `closeWatches`, open
   * watches also get the ERROR 410 event and are closed, as when the watch
   * cache drops a watcher that fell behind.
   */
  expire(opts: { closeWatches?: boolean } = {}): void {
    this.#compactedRv = ++this.#rv;
    if (!opts.closeWatches) return;
    for (const w of [...this.#watches]) {
      this.#watches.delete(w);
      w.res.end(expiredEvent(this.#compactedRv));
    }
  }

  /** Sends a BOOKMARK at the current resourceVersion to every watch that allowed bookmarks. */
  bookmark(): void {
    for (const w of this.#watches) {
      if (!w.bookmarks) continue;
      w.res.write(line({ type: 'BOOKMARK', object: { kind: w.type.kind, apiVersion: apiVersionOf(w.type), metadata: { resourceVersion: String(this.#rv) } } }));
    }
  }

  /**
   * The next `n` list or watch requests (or both), optionally only those
   * whose path contains `path`, answer `status` with a Status body.
   */
  failNext(n: number, opts: { status?: number; on?: 'list' | 'watch' | 'any'; path?: string } = {}): void {
    this.#failures = { left: n, status: opts.status ?? 500, on: opts.on ?? 'any', path: opts.path ?? '' };
  }

  async close(): Promise<void> {
    this.dropWatches();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #store(t: ResourceType): Map<string, StoredObject> {
    let store = this.#stores.get(keyOfType(t));
    if (store === undefined) {
      store = new Map();
      this.#stores.set(keyOfType(t), store);
    }
    return store;
  }

  #record(e: HistoryEntry): void {
    this.#history.push(e);
    for (const w of this.#watches) {
      if (w.typeKey !== e.typeKey) continue;
      const ev = eventFor(w, e);
      if (ev !== undefined) w.res.write(line(ev));
    }
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const query = Object.fromEntries(url.searchParams);
    const isWatch = query['watch'] === 'true' || query['watch'] === '1';
    this.requests.push({ method: req.method ?? '', path: url.pathname, query, watch: isWatch });

    if (req.headers.authorization !== `Bearer ${this.token}`) return status(res, 401, 'Unauthorized', 'Unauthorized');
    if (req.method !== 'GET') return status(res, 405, 'MethodNotAllowed', `${req.method} is not supported here`);
    const f = this.#failures;
    if (f.left > 0 && (f.on === 'any' || (f.on === 'watch') === isWatch) && url.pathname.includes(f.path)) {
      f.left--;
      return status(res, f.status, 'InternalError', 'injected failure');
    }

    const route = parsePath(url.pathname);
    const type = route && this.#served.get(`${route.group}/${route.version}/${route.plural}`);
    if (!route || !type || (route.namespace !== undefined && !type.namespaced)) {
      return status(res, 404, 'NotFound', 'the server could not find the requested resource');
    }
    const store = this.#store(type);

    if (route.name !== undefined) {
      const o = store.get(`${route.namespace ?? ''}/${route.name}`);
      if (o === undefined) return status(res, 404, 'NotFound', `${type.plural} "${route.name}" not found`);
      return json(res, 200, o);
    }

    let match: (o: StoredObject) => boolean;
    try {
      const fields = parseSelector(query['fieldSelector'] ?? '', 'field');
      const labels = parseSelector(query['labelSelector'] ?? '', 'label');
      const ns = route.namespace;
      match = (o) => (ns === undefined || o.metadata.namespace === ns) && fields(o) && labels(o);
    } catch (err) {
      return status(res, 400, 'BadRequest', (err as Error).message);
    }

    if (!isWatch) {
      const items = [...store.values()].filter(match).map((o) => {
        const item = clone(o);
        // Built-in types: the list carries kind/apiVersion, the items do not (as the real server encodes them).
        if (type.group === '') {
          delete item['kind'];
          delete item['apiVersion'];
        }
        return item;
      });
      return json(res, 200, { kind: `${type.kind}List`, apiVersion: apiVersionOf(type), metadata: { resourceVersion: String(this.#rv) }, items });
    }

    const w: OpenWatch = {
      typeKey: keyOfType(type),
      type,
      ...(route.namespace !== undefined ? { namespace: route.namespace } : {}),
      match,
      bookmarks: query['allowWatchBookmarks'] === 'true',
      res,
    };
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const from = query['resourceVersion'] ?? '';
    if (from === '' || from === '0') {
      for (const o of store.values()) if (match(o)) res.write(line({ type: 'ADDED', object: o }));
    } else {
      const rv = Number(from);
      if (!Number.isSafeInteger(rv) || rv < this.#compactedRv) {
        res.end(expiredEvent(this.#compactedRv));
        return;
      }
      for (const e of this.#history) {
        if (e.rv <= rv || e.typeKey !== w.typeKey) continue;
        const ev = eventFor(w, e);
        if (ev !== undefined) res.write(line(ev));
      }
    }
    this.#watches.add(w);
    req.on('close', () => this.#watches.delete(w));
  }
}

/** What a watch with selectors sees of one write: objects entering or leaving the selection become ADDED/DELETED. */
function eventFor(w: OpenWatch, e: HistoryEntry): { type: EventType; object: StoredObject } | undefined {
  const now = e.type !== 'DELETED' && w.match(e.object);
  const before = e.old !== undefined && w.match(e.old);
  if (e.type === 'DELETED') return before ? { type: 'DELETED', object: e.object } : undefined;
  if (now && before) return { type: 'MODIFIED', object: e.object };
  if (now) return { type: 'ADDED', object: e.object };
  if (before) return { type: 'DELETED', object: e.object };
  return undefined;
}

function expiredEvent(compactedRv: number): string {
  return line({
    type: 'ERROR',
    object: {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `too old resource version (current ${compactedRv})`,
      reason: 'Expired',
      code: 410,
    },
  });
}

function line(v: unknown): string {
  return `${JSON.stringify(v)}\n`;
}

function json(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  json(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

/** /api/v1/[namespaces/NS/]PLURAL[/NAME] and /apis/GROUP/VERSION/[namespaces/NS/]PLURAL[/NAME]. */
function parsePath(path: string): { group: string; version: string; namespace?: string; plural: string; name?: string } | undefined {
  const parts = path.split('/').filter((p) => p !== '').map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) [group, version, rest] = ['', parts[1] ?? '', parts.slice(2)];
  else if (parts[0] === 'apis' && parts.length >= 4) [group, version, rest] = [parts[1] ?? '', parts[2] ?? '', parts.slice(3)];
  else return undefined;
  let namespace: string | undefined;
  // `namespaces/NS` alone is the Namespace object itself, so a namespaced path needs three segments.
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length < 1 || rest.length > 2) return undefined;
  return { group, version, plural: rest[0] ?? '', ...(namespace !== undefined ? { namespace } : {}), ...(rest[1] !== undefined ? { name: rest[1] } : {}) };
}

/** Equality-based selectors, as apimachinery's fields.ParseSelector and labels.Parse accept them. */
function parseSelector(text: string, kind: 'field' | 'label'): (o: StoredObject) => boolean {
  const terms = text.split(',').map((t) => t.trim()).filter((t) => t !== '');
  const tests = terms.map((term) => {
    const m = /^(!)?([A-Za-z0-9._/-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9._-]*))?$/.exec(term);
    if (m === null) throw new Error(`unable to parse requirement: ${JSON.stringify(term)}`);
    const [, not, key = '', op, value = ''] = m;
    const get = (o: StoredObject): string | undefined => {
      if (kind === 'label') return o.metadata.labels?.[key];
      if (key === 'metadata.name') return o.metadata.name;
      if (key === 'metadata.namespace') return o.metadata.namespace ?? '';
      throw new Error(`field label not supported: ${key}`);
    };
    if (op === undefined) {
      if (kind === 'field') throw new Error(`invalid field selector: ${JSON.stringify(term)}`);
      return (o: StoredObject) => (get(o) !== undefined) !== (not === '!');
    }
    if (not === '!') throw new Error(`unable to parse requirement: ${JSON.stringify(term)}`);
    return (o: StoredObject) => (op === '!=' ? get(o) !== value : get(o) === value);
  });
  // Validate field keys now, so a bad selector is a 400 rather than a failure per object.
  if (kind === 'field') for (const t of terms) if (!/^metadata\.(name|namespace)\s*(==|=|!=)/.test(t)) throw new Error(`field label not supported: ${t}`);
  return (o) => tests.every((t) => t(o));
}

// ---- time control for the code under test ---------------------------------

/**
 * An injectable `sleep` that records every delay asked for. By default it
 * returns on the next turn of the event loop; while held, sleepers wait
 * until `release()`, so a test can change the server during a back-off.
 */
export class ControlledSleep {
  readonly delays: number[] = [];
  #held = false;
  #waiting: (() => void)[] = [];

  readonly sleep = (ms: number, signal: AbortSignal): Promise<void> => {
    this.delays.push(ms);
    if (!this.#held) return new Promise((resolve) => setImmediate(resolve));
    return new Promise((resolve) => {
      const done = (): void => resolve();
      this.#waiting.push(done);
      signal.addEventListener('abort', done, { once: true });
    });
  };

  hold(): void {
    this.#held = true;
  }

  /** Wakes every sleeper and stops holding. */
  release(): void {
    this.#held = false;
    const w = this.#waiting;
    this.#waiting = [];
    for (const wake of w) wake();
  }

  /** Sleepers currently held. */
  waiting(): number {
    return this.#waiting.length;
  }
}

/** Polls `check` every few milliseconds until it returns true; fails after `timeoutMs`. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
