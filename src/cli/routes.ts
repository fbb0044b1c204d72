/**
 * `pathguard routes`: return-path policy routing for MetalLB in BGP mode.
 * Replies sourced from LoadBalancer addresses leave through the BGP peers
 * (a multipath default route in its own table, `from <pool> lookup <table>`
 * rules) instead of the node's default route. Options come from
 * ROUTES_FIELDS (src/routes/config.ts); the environment variables of
 * metallb-node-route-agent are accepted as aliases.
 */
import type { Command } from 'commander';
import { addFlagOptions, flagDefinitions } from '../config/flags.js';
import { ROUTES_FIELDS, routesConfig } from '../routes/config.js';
import { RTPROT_PATHGUARD } from '../routes/objects.js';
import { createLogger } from '../obs/log.js';
import { configSection } from './config-file.js';
import { hostUntilStopped, runReconcilingCommand } from './host.js';


/** The routes options for the CLI, in field order (src/config/flags.ts). */
const ROUTES_FLAGS = flagDefinitions(ROUTES_FIELDS, {
  nodeName: { valueName: 'name', defaultText: '$NODE_NAME' },
  table: { valueName: 'id' },
  rulePriority: { valueName: 'priority' },
  fwmark: { valueName: 'mark[/mask]' },
  peerWeight: { valueName: 'weights', defaultText: '100' },
  suppress: { switch: 'boolean' },
  useCrds: { switch: 'boolean' },
  removeForeign: { switch: 'plain' },
  once: { switch: 'plain' },
  clean: { switch: 'plain' },
  dryRun: { switch: 'plain' },
  metallbFile: { valueName: 'path' },
  metallbNamespace: { valueName: 'namespace' },
  metallbConfigmap: { valueName: 'name' },
  debounce: { valueName: 'duration', defaultText: '250ms' },
  resyncInterval: { valueName: 'duration', defaultText: '5m' },
  maxReconcileWait: { valueName: 'duration', defaultText: '1m' },
  preScript: { valueName: 'path' },
  postScript: { valueName: 'path' },
  scriptTimeout: { valueName: 'duration', defaultText: '30s' },
  readyFile: { valueName: 'path' },
  metricsAddr: { valueName: 'addr' },
  logLevel: { valueName: 'level' },
});

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
  addFlagOptions(cmd, ROUTES_FLAGS);
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
    const { routesClean, routesOnce, routesComponent } = await import('../routes/component.js');
    await runReconcilingCommand(cfg, {
      clean: (out) => routesClean(cfg, log, out),
      once: (out) => routesOnce(cfg, log, out),
      run: () =>
        hostUntilStopped(
          {
            log,
            exitOnFailure: true,
            ...(cfg.metricsAddr !== undefined ? { listen: cfg.metricsAddr } : {}),
            ...(cfg.readyFile !== undefined ? { readyFile: cfg.readyFile } : {}),
            ...(cfg.nodeName !== undefined ? { nodeName: cfg.nodeName } : {}),
          },
          [{ def: routesComponent, cfg }],
        ),
    });
  });
}
