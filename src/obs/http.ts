/**
 * The status server on `--metrics-addr`: /metrics (Prometheus text format),
 * /healthz (liveness) and /readyz (readiness), plus any GET routes a host
 * mounts with `route()` (the status page at `/` and its JSON at `/status`).
 *
 * It runs on the main event loop, while the relay's data plane runs in a
 * worker thread; liveness checks are synchronous and trivial (they compare a
 * timestamp, they never do I/O), so /healthz answers within milliseconds even
 * while a flood keeps the worker busy. Kubernetes restarts the container
 * when /healthz fails, so a failing check names itself and says why
 * ("capture loop stalled for 12 s").
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIPv4, isIPv6, type AddressInfo, type Socket } from 'node:net';
import type { Registry } from 'prom-client';
import { ConfigError } from '../errors.js';
import type { Logger } from './log.js';

export interface ListenAddress {
  /** Absent: every address (dual-stack `::` where IPv6 exists, else 0.0.0.0). */
  readonly host?: string;
  readonly port: number;
}

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/;

/**
 * Parses `host:port`, `:port`, `[v6]:port` (`[::]:9090`). A bare IPv6
 * address is refused: "::1:9090" could be read two ways.
 */
export function parseListenAddress(text: string, field = 'metricsAddr'): ListenAddress {
  const bad = (expected: string): never => {
    throw new ConfigError([{ field, value: text, expected }]);
  };
  const shape = 'host:port, :port or [ipv6]:port';
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (m === null) return bad(shape);
  const port = Number(m[3]);
  if (port > 65535) return bad(`${shape} with a port 0-65535`);
  if (m[1] !== undefined) {
    if (!isIPv6(m[1])) return bad(`${shape} with a valid IPv6 address in brackets`);
    return { host: m[1], port };
  }
  const host = m[2]!;
  if (host === '') return { port };
  if (!isIPv4(host) && (!HOSTNAME.test(host) || /^[\d.]+$/.test(host))) return bad(`${shape} with an IPv4 address or a host name`);
  return { host, port };
}

export function formatListenAddress(a: ListenAddress): string {
  if (a.host === undefined) return `:${a.port}`;
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** A liveness check: undefined while healthy, else why not ("capture loop stalled for 12 s"). */
export type LivenessCheck = () => string | undefined;

/**
 * A liveness check fed by heartbeats: fails once `beat()` has not been
 * called for `maxSilenceMs`. The time source is injectable for tests.
 */
export function heartbeatCheck(what: string, maxSilenceMs: number, now: () => number = Date.now): { beat(): void; check: LivenessCheck } {
  let last = now();
  return {
    beat() {
      last = now();
    },
    check() {
      const silent = now() - last;
      return silent > maxSilenceMs ? `${what} stalled for ${Math.round(silent / 1000)} s` : undefined;
    },
  };
}

/**
 * A mounted GET route. HEAD is answered by the same handler (Node's
 * ServerResponse drops the body of a HEAD reply by itself). A handler that
 * throws or rejects before writing gets a 500 naming the error.
 */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

const BUILT_IN_PATHS = ['/metrics', '/healthz', '/readyz'] as const;

/** One readiness condition; /readyz is 200 when all are ready. */
export interface ReadinessCondition {
  ready(): void;
  notReady(reason: string): void;
}

export interface StatusServerOptions {
  readonly listen: ListenAddress;
  readonly registry: Registry;
  readonly log?: Logger;
}

/** A failing liveness check or an unmet readiness condition, as /healthz and /readyz report it. */
export interface CheckFailure {
  readonly check: string;
  readonly reason: string;
}

export class StatusServer {
  private readonly opts: StatusServerOptions;
  private readonly liveness = new Map<string, LivenessCheck>();
  private readonly readiness = new Map<string, string | undefined>(); // name → reason when not ready
  private readonly routes = new Map<string, RouteHandler>();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;

  constructor(opts: StatusServerOptions) {
    this.opts = opts;
  }

  /** Registers a liveness check; returns the function that removes it. */
  addLivenessCheck(name: string, check: LivenessCheck): () => void {
    if (this.liveness.has(name)) throw new TypeError(`liveness check ${JSON.stringify(name)} is already registered`);
    this.liveness.set(name, check);
    return () => {
      this.liveness.delete(name);
    };
  }

  /**
   * Mounts a GET (and HEAD) route on an exact path (`/`, `/status`); the
   * query string is not part of the match. Returns the function that
   * unmounts it. The built-in paths cannot be replaced.
   */
  route(path: string, handler: RouteHandler): () => void {
    if (!path.startsWith('/') || path.includes('?')) throw new TypeError(`route path ${JSON.stringify(path)} must start with / and have no query`);
    if ((BUILT_IN_PATHS as readonly string[]).includes(path) || this.routes.has(path)) {
      throw new TypeError(`route ${JSON.stringify(path)} is already mounted`);
    }
    this.routes.set(path, handler);
    return () => {
      if (this.routes.get(path) === handler) this.routes.delete(path);
    };
  }

  /** Declares a readiness condition, not ready until `ready()` is called. */
  addReadinessCondition(name: string): ReadinessCondition {
    if (this.readiness.has(name)) throw new TypeError(`readiness condition ${JSON.stringify(name)} is already declared`);
    this.readiness.set(name, 'not ready yet');
    return {
      ready: () => {
        this.readiness.set(name, undefined);
      },
      notReady: (reason: string) => {
        this.readiness.set(name, reason);
      },
    };
  }

  /** The failing liveness checks (a check that throws fails with its error message). */
  failingChecks(): CheckFailure[] {
    const out: CheckFailure[] = [];
    for (const [check, fn] of this.liveness) {
      let reason: string | undefined;
      try {
        reason = fn();
      } catch (err) {
        reason = `check threw: ${err instanceof Error ? err.message : String(err)}`;
      }
      if (reason !== undefined) out.push({ check, reason });
    }
    return out;
  }

  /** The readiness conditions not yet met. */
  unmetConditions(): CheckFailure[] {
    const out: CheckFailure[] = [];
    for (const [check, reason] of this.readiness) if (reason !== undefined) out.push({ check, reason });
    return out;
  }

  /** Listens; resolves with the bound address (the real port when 0 was asked). */
  async start(): Promise<{ host: string; port: number }> {
    if (this.server !== undefined) throw new TypeError('status server already started');
    const server = createServer((req, res) => this.handle(req, res));
    // Scrapers and kubelet probes send small requests; do not let one hold a socket for long.
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    server.keepAliveTimeout = 5_000;
    server.maxHeadersCount = 50;
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const { host, port } = this.opts.listen;
      server.listen(host === undefined ? { port } : { host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      this.server = undefined;
      throw err;
    });
    server.on('error', (err) => this.opts.log?.error({ err }, 'status server error'));
    const a = server.address() as AddressInfo;
    this.opts.log?.info({ address: formatListenAddress({ host: a.address, port: a.port }) }, 'status server listening');
    return { host: a.address, port: a.port };
  }

  /** Stops listening and closes open (keep-alive) connections; resolves when done. */
  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    await new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      for (const s of this.sockets) s.destroy();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const mounted = this.routes.get(path);
    const known = mounted !== undefined || (BUILT_IN_PATHS as readonly string[]).includes(path);
    if (!known) return this.reply(res, 404, { status: 'not found', paths: [...BUILT_IN_PATHS, ...this.routes.keys()] });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return this.reply(res, 405, { status: 'method not allowed' });
    }
    if (mounted !== undefined) return this.serveRoute(path, mounted, req, res);
    if (path === '/healthz') {
      const failing = this.failingChecks();
      return failing.length === 0 ? this.reply(res, 200, { status: 'ok' }) : this.reply(res, 503, { status: 'failing', failing });
    }
    if (path === '/readyz') {
      const unmet = this.unmetConditions();
      return unmet.length === 0 ? this.reply(res, 200, { status: 'ready' }) : this.reply(res, 503, { status: 'not ready', unmet });
    }
    this.opts.registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': this.opts.registry.contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        this.opts.log?.error({ err }, 'collecting metrics failed');
        this.reply(res, 500, { status: 'error', reason: err instanceof Error ? err.message : String(err) });
      },
    );
  }

  private serveRoute(path: string, handler: RouteHandler, req: IncomingMessage, res: ServerResponse): void {
    const failed = (err: unknown): void => {
      this.opts.log?.error({ err, path }, 'status route failed');
      if (res.headersSent) {
        res.destroy(); // the client sees a truncated reply rather than a complete-looking one
        return;
      }
      this.reply(res, 500, { status: 'error', reason: err instanceof Error ? err.message : String(err) });
    };
    try {
      const done = handler(req, res);
      if (done instanceof Promise) done.catch(failed);
    } catch (err) {
      failed(err);
    }
  }

  private reply(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body) + '\n';
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(res.req.method === 'HEAD' ? undefined : text);
  }
}
