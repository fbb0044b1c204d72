/**
 * `pathguard relay`: captures ICMP "fragmentation needed" / "packet too big"
 * messages and relays them to every peer node, so the node that owns the flow
 * learns the path MTU (ECMP / anycast PMTUD black holes).
 */
import { Command, Option } from 'commander';
import { addFlagOptions } from '../config/flags.js';
import { RELAY_FLAGS, relayConfig } from '../relay/config.js';
import { createLogger } from '../obs/log.js';
import { configSection } from './config-file.js';
import { hostUntilStopped } from './host.js';

export function register(program: Command): void {
  const cmd = program
    .command('relay')
    .description(
      'Capture ICMP "fragmentation needed" (v4) and "packet too big" (v6) messages from NFLOG and relay them to every ' +
        'other node, so the node that owns the flow learns the path MTU. Runs until SIGINT/SIGTERM; needs CAP_NET_ADMIN and CAP_NET_RAW.',
    )
    .option('--config <file>', 'YAML configuration file; its "relay:" section sets any option below (flags and environment win)')
    .addOption(
      new Option('--print-rules <format>', 'print the capture rules this configuration needs (for --no-manage-firewall) and exit').choices(['nft', 'iptables']),
    );
  addFlagOptions(cmd, RELAY_FLAGS);
  cmd.addHelpText(
    'after',
    '\nExamples:\n' +
      '  pathguard relay --peers 192.0.2.11,192.0.2.12 --vip-networks 198.51.100.0/24\n' +
      '  pathguard relay --peers 192.0.2.11+2001:db8::11,192.0.2.12+2001:db8::12 --vip-networks 198.51.100.0/24,2001:db8:f::/48\n' +
      '  pathguard relay --transport l2 --iface eth0 --peers 192.0.2.11,192.0.2.12 --vip-networks 2001:db8:f::/48\n' +
      '\nA peer is a node: join one node\'s IPv4 and IPv6 addresses with + and it gets one replica per message.\n' +
      '\nMetrics on /metrics, liveness on /healthz (fails when the capture loop stalls), readiness on /readyz.',
  );
  cmd.action(async (flags: Record<string, unknown>) => {
    const { config, printRules, ...rest } = flags as { config?: string; printRules?: 'nft' | 'iptables' } & Record<string, unknown>;
    const cfg = relayConfig(rest, process.env, await configSection(config, 'relay'));
    if (printRules) {
      const { relayRulesText } = await import('../relay/component.js');
      process.stdout.write(await relayRulesText(cfg, printRules));
      return;
    }
    const log = createLogger({ level: cfg.logLevel });
    const { relayComponent } = await import('../relay/component.js');
    await hostUntilStopped(
      { log, listen: cfg.metricsAddr, exitOnFailure: true, ...(cfg.readyFile ? { readyFile: cfg.readyFile } : {}), ...(cfg.nodeName ? { nodeName: cfg.nodeName } : {}) },
      [{ def: relayComponent, cfg }],
    );
  });
}
