/**
 * `pathguard realserver`: set up and keep a node as an LVS-IPIP realserver
 * (Wikimedia's profile::lvs::realserver::ipip): decapsulation devices in
 * external mode, the VIPs on lo, ARP and rp_filter sysctls, an MSS clamp on
 * the SYN-ACKs leaving from the VIPs and a firewall accept for the
 * directors' tunnelled packets. Options come from REALSERVER_FIELDS
 * (src/realserver/config.ts).
 */
import type { Command } from 'commander';
import { addFlagOptions, flagDefinitions } from '../config/flags.js';
import { REALSERVER_FIELDS, realserverConfig, MSS_BOUNDS } from '../realserver/config.js';
import { IFAPROT_PATHGUARD, DEVICE_ALIAS } from '../realserver/desired.js';
import { REALSERVER_TABLE } from '../firewall/realserver-ruleset.js';
import { createLogger } from '../obs/log.js';
import { configSection } from './config-file.js';
import { hostUntilStopped, runReconcilingCommand } from './host.js';

/** The realserver options for the CLI, in field order (src/config/flags.ts). */
const REALSERVER_FLAGS = flagDefinitions(REALSERVER_FIELDS, {
  vips: { valueName: 'addrs' },
  vipsFile: { valueName: 'path' },
  lvsSources: { valueName: 'prefixes' },
  ports: { valueName: 'ports' },
  mss: { valueName: 'bytes' },
  ipipDevice: { valueName: 'name' },
  ip6tnlDevice: { valueName: 'name' },
  stateFile: { valueName: 'path' },
  debounce: { valueName: 'duration', defaultText: '250ms' },
  checkInterval: { valueName: 'duration', defaultText: '1m' },
  readyFile: { valueName: 'path' },
  metricsAddr: { valueName: 'addr' },
  logLevel: { valueName: 'level' },
  rpFilterAll: { switch: 'plain' },
  partial: { switch: 'plain' },
  once: { switch: 'plain' },
  clean: { switch: 'plain' },
  dryRun: { switch: 'plain' },
});

export function register(program: Command): void {
  const cmd = program
    .command('realserver')
    .description(
      'Set up and keep this node as an LVS-IPIP realserver for the service addresses given with --vips (or --vips-file): ' +
        'decapsulation devices in external mode (ipip for IPv4, ip6tnl for IPv6), the VIPs on lo, arp_ignore/arp_announce so the ' +
        'node never answers ARP for them, reverse-path filtering that lets decapsulated packets in, an MSS clamp on SYN-ACKs ' +
        `leaving from the VIPs, and a firewall accept for IPIP (protocol 4) / IPv6-in-IPv6 (41) from --lvs-sources, in the nftables table ` +
        `${REALSERVER_TABLE.family} ${REALSERVER_TABLE.name}. Links and addresses over rtnetlink, sysctls through /proc/sys, nftables in one ` +
        'transaction. Keeps the set-up on kernel events and a periodic check. Needs CAP_NET_ADMIN.',
    )
    .option('--config <file>', 'YAML configuration file; its "realserver:" section sets any option below except --once, --clean and --dry-run (flags and environment win)');
  addFlagOptions(cmd, REALSERVER_FLAGS);
  cmd.addHelpText(
    'after',
    '\nModes:\n' +
      '  (default)     run until SIGINT/SIGTERM; the set-up stays in place when it stops\n' +
      '  --once        reconcile once and exit\n' +
      '  --dry-run     print the plan as ip / sysctl / nft commands and exit; nothing is changed (with --clean: what it would undo)\n' +
      '  --clean       remove what pathguard added and put back the sysctl values it replaced, then exit\n' +
      '\nWhat is pathguard\'s: devices with the alias "' + DEVICE_ALIAS + '", addresses on lo with protocol ' + IFAPROT_PATHGUARD + ' (`ip addr` shows\n' +
      '"proto 112"), the table ' + `${REALSERVER_TABLE.family} ${REALSERVER_TABLE.name}` + ', and the sysctls recorded in --state-file. A VIP or a\n' +
      'decapsulation device that was already there is used and never removed.\n' +
      '\nMissing kernel support: a kernel without the ipip or ip6_tunnel module refuses the device ("Unknown device type").\n' +
      'pathguard says so and, unless --partial, applies nothing else and exits 1.\n' +
      '\nrp_filter: the kernel uses max(conf/all, conf/IFACE). pathguard sets conf/<ipip device>/rp_filter to 0; when conf/all is 1\n' +
      '(strict) decapsulated packets are dropped anyway, and pathguard lowers it to 2 (loose) only with --rp-filter-all.\n' +
      `\nMSS: --mss must fit every family with VIPs: IPv4 ${MSS_BOUNDS.v4.min}..${MSS_BOUNDS.v4.max}, IPv6 ${MSS_BOUNDS.v6.min}..${MSS_BOUNDS.v6.max}. Only larger MSS options are lowered.\n` +
      '\nExit status: 0 the node is set up as configured (with --partial: as far as the kernel allows); 1 something failed,\n' +
      'was refused or is missing (the reasons are printed on stderr); 2 usage or configuration error.\n' +
      '\nExamples:\n' +
      '  pathguard realserver --vips 198.51.100.10,2001:db8:f::10 --lvs-sources 192.0.2.0/28,2001:db8:1::/64\n' +
      '  pathguard realserver --once --vips-file /etc/pathguard/vips --lvs-sources 192.0.2.5 --ports 80,443 --mss 1400\n' +
      '  pathguard realserver --dry-run --vips 198.51.100.10 --lvs-sources 192.0.2.5 --rp-filter-all\n' +
      '  pathguard realserver --clean\n' +
      '\nMetrics (pathguard_realserver_*) on /metrics, /healthz and /readyz when --metrics-addr is set.',
  );
  cmd.action(async (flags: Record<string, unknown>) => {
    const { config, ...rest } = flags as { config?: string } & Record<string, unknown>;
    const cfg = realserverConfig(rest, process.env, await configSection(config, 'realserver'));
    const log = createLogger({ level: cfg.logLevel });
    // Loaded only when this command runs: every command's start-up stays lean.
    const { realserverClean, realserverOnce, realserverComponent } = await import('../realserver/component.js');
    await runReconcilingCommand(cfg, {
      clean: (out) => realserverClean(cfg, log, out),
      once: (out) => realserverOnce(cfg, log, out),
      run: () =>
        hostUntilStopped(
          { log, exitOnFailure: true, ...(cfg.metricsAddr !== undefined ? { listen: cfg.metricsAddr } : {}), ...(cfg.readyFile !== undefined ? { readyFile: cfg.readyFile } : {}) },
          [{ def: realserverComponent, cfg }],
        ),
    });
  });
}
