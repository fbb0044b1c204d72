/**
 * `pathguard doctor`: reads the node once (rtnetlink, /proc/sys, nftables,
 * iptables, conntrack) and names every misconfiguration known to eat
 * packets silently, with the evidence and the commands that fix it. Options
 * come from DOCTOR_FIELDS (src/doctor/config.ts).
 */
import { Command, Option } from 'commander';
import { envNames, flagName, type Field } from '../config/field.js';
import { DOCTOR_FIELDS, doctorConfig } from '../doctor/config.js';
import { CHECKS } from '../doctor/registry.js';
import { configSection } from './config-file.js';

type Key = keyof typeof DOCTOR_FIELDS;

const SWITCHES: ReadonlySet<Key> = new Set<Key>(['json', 'verbose']);

const VALUE_NAMES: Readonly<Partial<Record<Key, string>>> = {
  check: 'id[,id]',
  failOn: 'severity',
  snapshot: 'file',
  saveSnapshot: 'file',
  vipNetworks: 'prefixes',
  metallbFile: 'path',
  nodeName: 'name',
  metallbNamespace: 'namespace',
  bgpPools: 'prefixes',
  bgpPeers: 'addresses',
  tunnelEndpoints: 'addresses',
  podNetworks: 'prefixes',
  tunName: 'name',
  statusUrl: 'url',
};

function defaultText(key: Key): string | undefined {
  const d = (DOCTOR_FIELDS[key] as Field<unknown>).default;
  if (d === undefined || typeof d === 'boolean' || (Array.isArray(d) && d.length === 0)) return undefined;
  return String(d);
}

export function register(program: Command): void {
  const cmd = program
    .command('doctor')
    .description(
      'Names every node misconfiguration that silently eats packets: strict rp_filter on tunnels, filtered ICMP "too big", ' +
        'tunnel and pod MTUs, missing return-path routing, ARP for VIPs, a full conntrack table and more. Reads the node once ' +
        '(rtnetlink, /proc/sys, `nft -j list ruleset`, iptables-save, conntrack counters) and never changes it; each finding ' +
        'comes with the mechanism, the evidence and the commands that fix it. Run it inside a namespace with `ip netns exec NS`.',
    )
    .option('--config <file>', 'YAML configuration file; its "doctor:" section sets the input options below (flags and environment win)');
  for (const key of Object.keys(DOCTOR_FIELDS) as Key[]) {
    const spec = DOCTOR_FIELDS[key] as Field<unknown>;
    const name = flagName(key);
    const dflt = defaultText(key);
    const help = `${spec.help ?? ''}${dflt !== undefined ? ` (default: ${dflt})` : ''} [env: ${envNames(key, spec).join(', ')}]`;
    cmd.addOption(SWITCHES.has(key) ? new Option(`--${name}`, help) : new Option(`--${name} <${VALUE_NAMES[key] ?? 'value'}>`, help));
  }
  const width = Math.max(...CHECKS.map((c) => c.id.length));
  cmd.addHelpText(
    'after',
    '\nChecks:\n' +
      CHECKS.map((c) => `  ${c.id.padEnd(width)}  ${c.title}`).join('\n') +
      '\n\nSeverities: error breaks traffic now; warn breaks under conditions the node is set up for; info is worth knowing.\n' +
      '\nExit status: 0 no finding at --fail-on (default error) or above; 1 at least one; 2 usage or configuration error\n' +
      '(including a --snapshot that does not validate).\n' +
      '\nExamples:\n' +
      '  pathguard doctor\n' +
      '  pathguard doctor --json --fail-on warn --vip-networks 198.51.100.0/24,2001:db8:f::/64\n' +
      '  pathguard doctor --metallb-file /etc/metallb/resources.yaml --node-name node-1 --check return-route,relay-missing\n' +
      '  pathguard doctor --save-snapshot node-1.json          # support bundle\n' +
      '  pathguard doctor --snapshot node-1.json --json        # checks on a saved snapshot\n' +
      '  ip netns exec lab-node pathguard doctor               # a network namespace',
  );
  cmd.action(async (flags: Record<string, unknown>) => {
    const { config, ...rest } = flags as { config?: string } & Record<string, unknown>;
    const cfg = doctorConfig(rest, process.env, await configSection(config, 'doctor'));
    const { diagnose } = await import('../doctor/diagnose.js');
    const { renderJson, renderText } = await import('../doctor/render.js');
    const { exitStatus } = await import('../doctor/run.js');
    const { result } = await diagnose(cfg);
    process.stdout.write(`${cfg.json ? renderJson(result) : renderText(result, { verbose: cfg.verbose })}\n`);
    process.exitCode = exitStatus(result, cfg.failOn);
  });
}
