/**
 * `pathguard routes`: return-path policy routing for MetalLB in BGP mode.
 * Replies sourced from LoadBalancer addresses leave through the BGP peers
 * (a multipath default route in its own table, `from <pool> lookup <table>`
 * rules) instead of the node's default route. Options come from
 * ROUTES_FIELDS (src/routes/config.ts); the environment variables of
 * metallb-node-route-agent are accepted as aliases.
 */
import { Command, Option } from 'commander';
import { envNames, flagName, type Field } from '../config/field.js';
import { ROUTES_FIELDS, routesConfig } from '../routes/config.js';
import { RTPROT_PATHGUARD } from '../routes/objects.js';
import { createLogger } from '../obs/log.js';
import { configSection } from './config-file.js';

type Key = keyof typeof ROUTES_FIELDS;

/** Switches (no value); `negatable` ones default to on and also get `--no-<flag>`. */
const SWITCHES: Readonly<Partial<Record<Key, { negatable: boolean }>>> = {
  suppress: { negatable: true },
  useCrds: { negatable: true },
  removeForeign: { negatable: false },
  once: { negatable: false },
  clean: { negatable: false },
  dryRun: { negatable: false },
};

const VALUE_NAMES: Readonly<Partial<Record<Key, string>>> = {
  nodeName: 'name',
  table: 'id',
  rulePriority: 'priority',
  fwmark: 'mark[/mask]',
  peerWeight: 'weights',
  metallbFile: 'path',
  metallbNamespace: 'namespace',
  metallbConfigmap: 'name',
  debounce: 'duration',
  resyncInterval: 'duration',
  maxReconcileWait: 'duration',
  preScript: 'path',
  postScript: 'path',
  scriptTimeout: 'duration',
  readyFile: 'path',
  metricsAddr: 'addr',
  logLevel: 'level',
};

const DEFAULT_TEXT: Readonly<Partial<Record<Key, string>>> = {
  peerWeight: '100',
  debounce: '250ms',
  resyncInterval: '5m',
  maxReconcileWait: '1m',
  scriptTimeout: '30s',
  nodeName: '$NODE_NAME',
};

function defaultText(key: Key): string | undefined {
  if (DEFAULT_TEXT[key] !== undefined) return DEFAULT_TEXT[key];
  const d = (ROUTES_FIELDS[key] as Field<unknown>).default;
  if (d === undefined || typeof d === 'boolean') return undefined;
  return String(d);
}

export function register(program: Command): void {
  const cmd = program
    .command('routes')
    .description(
      'Return-path routing for MetalLB in BGP mode: replies from LoadBalancer addresses leave through the BGP peers. ' +
        'Keeps, over rtnetlink, a multipath default route via the peers that apply to this node in its own table and a ' +
        '`from <pool> lookup <table>` rule per pool prefix (IPv4 and IPv6 apart), plus `lookup main suppress_prefixlength 0` ' +
        `just above so in-cluster replies are not hairpinned through the routers. Every object carries protocol ${RTPROT_PATHGUARD}; ` +
        'nothing else is ever changed. Reconciles on configuration changes, on link/address/route/rule events and periodically. ' +
        'Reads the MetalLB CRDs (or the legacy ConfigMap) from the Kubernetes API, or --metallb-file. Needs CAP_NET_ADMIN.',
    )
    .option('--config <file>', 'YAML configuration file; its "routes:" section sets any option below except --once, --clean and --dry-run (flags and environment win)');
  for (const key of Object.keys(ROUTES_FIELDS) as Key[]) {
    const spec = ROUTES_FIELDS[key] as Field<unknown>;
    const name = flagName(key);
    const sw = SWITCHES[key];
    const env = envNames(key, spec);
    const dflt = defaultText(key);
    const shown = sw ? (sw.negatable ? 'on' : undefined) : dflt;
    const help = `${spec.help ?? ''}${shown !== undefined ? ` (default: ${shown})` : ''} [env: ${env.join(', ')}]`;
    if (sw) {
      // switches that default to on also take an explicit value: `--use-crds=false`, `--suppress false`
      cmd.addOption(new Option(sw.negatable ? `--${name} [bool]` : `--${name}`, help));
      if (sw.negatable) cmd.addOption(new Option(`--no-${name}`, `turn --${name} off`));
    } else {
      cmd.addOption(new Option(`--${name} <${VALUE_NAMES[key] ?? 'value'}>`, help));
    }
  }
  cmd.addHelpText(
    'after',
    '\nModes:\n' +
      '  (default)     run until SIGINT/SIGTERM; the kernel state stays in place when it stops\n' +
      '  --once        reconcile once and exit\n' +
      '  --dry-run     print the plan as `ip` commands and exit; nothing is changed (with --clean: what it would remove)\n' +
      '  --clean       remove every rule and route with protocol ' + RTPROT_PATHGUARD + ' (both families, every table) and nothing else\n' +
      '\nFail static: an unreadable, malformed or incomplete configuration (a missing key, a watch re-listing) never removes\n' +
      'anything; the last good configuration stays applied and the problems are reported. Bad items (a prefix such as\n' +
      '192.0.2.300/32, an off-link peer) are reported by name and skipped; the rest is applied.\n' +
      '\nExit status: 0 the kernel matches the configuration; 1 something was skipped, held or failed (what could be\n' +
      'applied was), the reasons are printed on stderr; 2 usage or configuration error.\n' +
      '\nExamples:\n' +
      '  pathguard routes --node-name node-1 --metallb-file /etc/metallb/resources.yaml --ready-file /run/pathguard-routes.ready\n' +
      '  pathguard routes --once --node-name node-1 --metallb-file metallb.yaml --table 20 --rule-priority 20 --fwmark 0x14\n' +
      '  NODE_NAME=node-1 METALLB_USE_CRDS=false pathguard routes --dry-run     # legacy ConfigMap from the API\n' +
      '  pathguard routes --clean\n' +
      '\nMetrics (pathguard_routes_*) on /metrics, /healthz and /readyz when --metrics-addr is set.',
  );
  cmd.action(async (flags: Record<string, unknown>) => {
    const { config, ...rest } = flags as { config?: string } & Record<string, unknown>;
    const cfg = routesConfig(rest, process.env, await configSection(config, 'routes'));
    const log = createLogger({ level: cfg.logLevel });
    // Loaded only when this command runs: every command's start-up (and the relay's memory) stays lean.
    const { routesClean, routesOnce, startRoutes } = await import('../routes/component.js');
    const out = {
      stdout: (s: string) => process.stdout.write(`${s}\n`),
      stderr: (s: string) => process.stderr.write(`${s}\n`),
    };
    if (cfg.clean) {
      process.exitCode = await routesClean(cfg, log, out);
      return;
    }
    if (cfg.once || cfg.dryRun) {
      process.exitCode = await routesOnce(cfg, log, out);
      return;
    }
    const running = await startRoutes(cfg, log);
    const code = await running.done;
    process.exitCode = code;
    // watches and sockets are closed; exit now rather than wait on stray handles
    setImmediate(() => process.exit(code));
  });
}
