/**
 * Configuration of the routes component: one field list (zod schema per
 * field, see src/config/field.ts), filled flag > env > file > default,
 * validated once into a frozen RoutesConfig. Every problem is collected and
 * thrown as one ConfigError naming field, value and expectation.
 *
 * Environment aliases keep metallb-node-route-agent's names where the
 * meaning is the same: NODE_NAME, TABLE_WEIGHT (the table id), RULE_PRIORITY,
 * RULE_FWMARK, PEER_WEIGHT, MAX_RECONCILE_WAIT (plain milliseconds still
 * accepted), METALLB_NAMESPACE, METALLB_CONFIGMAP_NAME, METALLB_STATIC_FILE,
 * METALLB_USE_CRDS, ONESHOT, CLEANANDEXIT, PRE_RECONCILE_SCRIPT_PATH,
 * POST_RECONCILE_SCRIPT_PATH. Every flag is also PATHGUARD_<FLAG>.
 */
import { LOG_LEVELS, type LogLevel } from '../obs/log.js';
import { field, resolveFields, flagName, envNames, type ConfigInputs, type Field } from '../config/field.js';
import { boolean, duration, integer, listenAddress, markMask, oneOf, parser, text, FAIL, U32_MAX, DNS1123_LABEL, DNS1123_SUBDOMAIN, type ListenAddress, type MarkMask } from '../config/parsers.js';
import { throwIfProblems } from '../config/problems.js';
import type { ConfigProblem } from '../errors.js';
import { RT_TABLE } from './objects.js';
import { parseAddress } from './prefix.js';
import type { DesiredOptions, PeerWeights, Reachability } from './desired.js';

/** Weights as `ip route ... nexthop weight` takes them: rtnh_hops is a u8 holding weight - 1. */
export const WEIGHT_MIN = 1;
export const WEIGHT_MAX = 256;
export const DEFAULT_PEER_WEIGHT = 100;

/**
 * `--peer-weight`: `WEIGHT`, `ADDR=WEIGHT,...` or both (`100,192.0.2.1=50`),
 * or a YAML list of those parts. The bare number is the weight of every peer
 * not named; it defaults to 100 (metallb-node-route-agent's PEER_WEIGHT).
 */
export function peerWeights(): ReturnType<typeof parser<PeerWeights>> {
  return parser<PeerWeights>(
    `WEIGHT[,ADDR=WEIGHT...] with weights in ${WEIGHT_MIN}..${WEIGHT_MAX} and IP addresses, each address once`,
    (raw) => {
      let parts: unknown[];
      if (typeof raw === 'number') parts = [raw];
      else if (typeof raw === 'string') parts = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
      else if (Array.isArray(raw)) parts = raw;
      else return FAIL;
      let def: number | undefined;
      const perPeer = new Map<string, number>();
      const weight = (v: unknown): number | undefined => {
        const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : '';
        if (!/^[0-9]{1,3}$/.test(s)) return undefined;
        const n = Number(s);
        return n >= WEIGHT_MIN && n <= WEIGHT_MAX ? n : undefined;
      };
      if (parts.length === 0) return FAIL;
      for (const part of parts) {
        const s = typeof part === 'number' ? String(part) : typeof part === 'string' ? part.trim() : undefined;
        if (s === undefined) return FAIL;
        const eq = s.lastIndexOf('=');
        if (eq < 0) {
          const w = weight(s);
          if (w === undefined || def !== undefined) return FAIL;
          def = w;
          continue;
        }
        const addr = parseAddress(s.slice(0, eq));
        const w = weight(s.slice(eq + 1));
        if (!addr || w === undefined || perPeer.has(addr.text)) return FAIL;
        perPeer.set(addr.text, w);
      }
      return { default: def ?? DEFAULT_PEER_WEIGHT, perPeer };
    },
  );
}


const RESERVED_TABLES = new Map<number, string>([
  [RT_TABLE.UNSPEC, 'unspec'],
  [RT_TABLE.DEFAULT, 'default'],
  [RT_TABLE.MAIN, 'main'],
  [RT_TABLE.LOCAL, 'local'],
]);

const path = () => text({ what: 'a file path' });

/** The routes fields; the CLI builds its options from this list (flag = kebab-case of the key). */
export const ROUTES_FIELDS = {
  nodeName: field({ env: ['NODE_NAME'], schema: text({ what: 'a Kubernetes node name', pattern: DNS1123_SUBDOMAIN }), help: 'this node (selects BGPPeers by their nodeSelectors); required except with --clean' }),
  table: field({ env: ['TABLE_WEIGHT'], schema: integer({ min: 1, max: U32_MAX, hex: true, refuse: RESERVED_TABLES }), default: 20, help: 'routing table id for the return-path routes' }),
  rulePriority: field({ env: ['RULE_PRIORITY'], schema: integer({ min: 1, max: U32_MAX }), default: 20, help: 'priority of the `from <pool> lookup <table>` rules; the companion rule takes priority - 1' }),
  fwmark: field({ env: ['RULE_FWMARK'], schema: markMask(), help: 'only route packets carrying this mark: VALUE[/MASK], decimal or 0x hex' }),
  peerWeight: field({ env: ['PEER_WEIGHT'], schema: peerWeights(), default: { default: DEFAULT_PEER_WEIGHT, perPeer: new Map<string, number>() } as PeerWeights, help: 'nexthop weight: WEIGHT and/or ADDR=WEIGHT,... (1..256)' }),
  suppress: field({ schema: boolean(), default: true, help: 'add `lookup main suppress_prefixlength 0` just above the pool rules so in-cluster replies are not hairpinned (--no-suppress to turn off)' }),
  removeForeign: field({ schema: boolean(), default: false, help: 'also remove rules and routes pointing at the table that pathguard did not create' }),
  metallbFile: field({ env: ['METALLB_STATIC_FILE'], schema: path(), help: 'read MetalLB resources or the legacy config from this YAML file instead of the API' }),
  metallbNamespace: field({ env: ['METALLB_NAMESPACE'], schema: text({ what: 'a Kubernetes namespace name', pattern: DNS1123_LABEL }), default: 'metallb-system', help: 'namespace of the MetalLB resources' }),
  metallbConfigmap: field({ env: ['METALLB_CONFIGMAP_NAME'], schema: text({ what: 'a ConfigMap name', pattern: DNS1123_SUBDOMAIN }), default: 'config', help: 'name of the legacy MetalLB ConfigMap (with --use-crds=false)' }),
  useCrds: field({ env: ['METALLB_USE_CRDS'], schema: boolean(), default: true, help: 'read the metallb.io CRDs (false: the legacy ConfigMap)' }),
  once: field({ env: ['ONESHOT'], schema: boolean(), default: false, file: false, help: 'reconcile once and exit' }),
  clean: field({ env: ['CLEANANDEXIT'], schema: boolean(), default: false, file: false, help: 'remove every rule and route pathguard installed, then exit' }),
  dryRun: field({ schema: boolean(), default: false, file: false, help: 'print the plan, change nothing' }),
  debounce: field({ schema: duration({ minMs: 0, maxMs: 60_000 }), default: 250, help: 'coalesce events arriving within this window into one reconcile' }),
  resyncInterval: field({ schema: duration({ minMs: 1000, maxMs: 86_400_000, zeroAllowed: true }), default: 300_000, help: 're-list the MetalLB source (API or file) this often; 0 disables' }),
  maxReconcileWait: field({ env: ['MAX_RECONCILE_WAIT'], schema: duration({ minMs: 1000, maxMs: 86_400_000, zeroAllowed: true, bareMs: true }), default: 60_000, help: 'reconcile against a fresh kernel dump at least this often even without events; 0 disables' }),
  preScript: field({ env: ['PRE_RECONCILE_SCRIPT_PATH'], schema: path(), help: 'executable run before each reconcile that changes something' }),
  postScript: field({ env: ['POST_RECONCILE_SCRIPT_PATH'], schema: path(), help: 'executable run after each reconcile that changed something' }),
  scriptTimeout: field({ schema: duration({ minMs: 1000, maxMs: 3_600_000 }), default: 30_000, help: 'kill a pre/post script after this long' }),
  readyFile: field({ schema: path(), help: 'create this file once the first reconcile has finished' }),
  metricsAddr: field({ schema: listenAddress(), help: 'serve Prometheus metrics on HOST:PORT (off when unset)' }),
  logLevel: field({ schema: oneOf(LOG_LEVELS), default: 'info' as LogLevel, help: `one of ${LOG_LEVELS.join(', ')}` }),
} satisfies Record<string, Field<any>>;

export interface RoutesConfig {
  /** Absent only with `clean`. */
  readonly nodeName?: string;
  readonly table: number;
  readonly rulePriority: number;
  readonly fwmark?: MarkMask;
  readonly peerWeight: PeerWeights;
  readonly suppress: boolean;
  readonly removeForeign: boolean;
  readonly metallbFile?: string;
  readonly metallbNamespace: string;
  readonly metallbConfigmap: string;
  readonly useCrds: boolean;
  readonly once: boolean;
  readonly clean: boolean;
  readonly dryRun: boolean;
  /** Milliseconds, as every duration below. */
  readonly debounce: number;
  readonly resyncInterval: number;
  readonly maxReconcileWait: number;
  readonly preScript?: string;
  readonly postScript?: string;
  readonly scriptTimeout: number;
  readonly readyFile?: string;
  readonly metricsAddr?: ListenAddress;
  readonly logLevel: LogLevel;
}

function describe(key: keyof typeof ROUTES_FIELDS): string {
  return `${key} (--${flagName(key)}, ${envNames(key, ROUTES_FIELDS[key]).join(', ')})`;
}

/**
 * Resolve and validate. `fileDoc` is the `routes` section of the config
 * file (already parsed YAML), or undefined. Throws ConfigError listing every
 * problem; returns a frozen object.
 */
export function routesConfig(
  flags: Readonly<Record<string, unknown>> | undefined,
  env: Readonly<Record<string, string | undefined>> | undefined,
  fileDoc: unknown,
): Readonly<RoutesConfig> {
  const inputs: ConfigInputs = { flags, env, file: fileDoc };
  const { values: v, problems: found } = resolveFields(ROUTES_FIELDS, inputs, 'routes');
  const problems: ConfigProblem[] = [...found];

  if (v.nodeName === undefined && !v.clean && !found.some((p) => p.field.includes('node-name') || p.field.includes('NODE_NAME'))) {
    problems.push({ field: describe('nodeName'), value: undefined, expected: 'the name of this node (required unless --clean)' });
  }
  if (v.once && v.clean) {
    problems.push({ field: 'once / clean', value: { once: true, clean: true }, expected: 'at most one of --once and --clean' });
  }
  if (v.maxReconcileWait !== 0 && v.debounce > v.maxReconcileWait) {
    problems.push({ field: describe('debounce'), value: v.debounce, expected: `at most max-reconcile-wait (${v.maxReconcileWait} ms)` });
  }
  throwIfProblems(problems);

  const out: { -readonly [K in keyof RoutesConfig]: RoutesConfig[K] } = {
    table: v.table,
    rulePriority: v.rulePriority,
    peerWeight: v.peerWeight,
    suppress: v.suppress,
    removeForeign: v.removeForeign,
    metallbNamespace: v.metallbNamespace,
    metallbConfigmap: v.metallbConfigmap,
    useCrds: v.useCrds,
    once: v.once,
    clean: v.clean,
    dryRun: v.dryRun,
    debounce: v.debounce,
    resyncInterval: v.resyncInterval,
    maxReconcileWait: v.maxReconcileWait,
    scriptTimeout: v.scriptTimeout,
    logLevel: v.logLevel,
  };
  if (v.nodeName !== undefined) out.nodeName = v.nodeName;
  if (v.fwmark !== undefined) out.fwmark = Object.freeze({ ...v.fwmark });
  if (v.metallbFile !== undefined) out.metallbFile = v.metallbFile;
  if (v.preScript !== undefined) out.preScript = v.preScript;
  if (v.postScript !== undefined) out.postScript = v.postScript;
  if (v.readyFile !== undefined) out.readyFile = v.readyFile;
  if (v.metricsAddr !== undefined) out.metricsAddr = Object.freeze({ ...v.metricsAddr });
  out.peerWeight = Object.freeze({ default: v.peerWeight.default, perPeer: v.peerWeight.perPeer ?? new Map<string, number>() });
  return Object.freeze(out);
}

/** The planner's options from a validated config. */
export function desiredOptions(cfg: RoutesConfig, reachability?: Reachability): DesiredOptions {
  const o: { -readonly [K in keyof DesiredOptions]: DesiredOptions[K] } = {
    table: cfg.table,
    priority: cfg.rulePriority,
    suppress: cfg.suppress,
    peerWeight: cfg.peerWeight,
  };
  if (cfg.fwmark !== undefined) o.fwmark = cfg.fwmark;
  if (reachability !== undefined) o.reachability = reachability;
  return o;
}
