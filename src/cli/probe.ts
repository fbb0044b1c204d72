/**
 * `pathguard probe`: active checks of a path.
 *   pmtu TARGET                      path MTU, and where it fails (black-hole localisation)
 *   ipip REALSERVER --vip --port     an IPIP / IP6IP6-encapsulated SYN, as an LVS director sends it
 *   mss VIP:PORT                     the MSS a service advertises in its SYN-ACK
 * Exit status: 0 ok, 1 the check failed (black hole, no answer), 2 usage.
 */
import { Command, Option } from 'commander';
import { envNames, flagName, type Field, type FieldSpecs } from '../config/field.js';
import { IPIP_FIELDS, MSS_FIELDS, PMTU_FIELDS, ipipConfig, mssConfig, pmtuConfig } from '../probe/config.js';

const VALUE_NAMES: Readonly<Record<string, string>> = {
  proto: 'udp|tcp|icmp',
  port: 'port',
  attempts: 'n',
  wait: 'duration',
  timeout: 'duration',
  maxHops: 'n',
  vip: 'address',
  mss: 'bytes',
};
const SWITCHES = new Set(['json', 'verbose']);

function addFields(cmd: Command, fields: FieldSpecs): void {
  for (const [key, spec] of Object.entries(fields) as [string, Field<unknown>][]) {
    const name = flagName(key);
    const d = spec.default;
    const dflt = d === undefined || typeof d === 'boolean' ? '' : ` (default: ${key === 'wait' || key === 'timeout' ? `${Number(d) / 1000}s` : String(d)})`;
    const help = `${spec.help ?? ''}${dflt} [env: ${envNames(key, spec).join(', ')}]`;
    cmd.addOption(new Option(SWITCHES.has(key) ? `--${name}` : `--${name} <${VALUE_NAMES[key] ?? 'value'}>`, help));
  }
}

function write(s: string): void {
  process.stdout.write(`${s}\n`);
}

export function register(program: Command): void {
  const probe = program
    .command('probe')
    .description('Active path checks: path MTU with black-hole localisation (pmtu), an IPIP realserver check (ipip), a service\'s MSS (mss).');

  const pmtu = probe
    .command('pmtu')
    .argument('<target>', 'IPv4 or IPv6 address to measure the path to')
    .description(
      'Measure the path MTU to TARGET and, when larger packets vanish, name the hop responsible. Probes start at the outgoing ' +
        "interface's MTU with DF set; a valid too-big message (checked as the relay checks them) gives the next size, silence " +
        'starts a search over common MTUs and then a binary search. Then, TTL by TTL, a small and a too-large probe find the ' +
        'first hop the large one does not get past. The kernel\'s cached path MTU is ignored (IP_PMTUDISC_PROBE). Probes carry ' +
        'no user data and never complete a TCP handshake. Needs CAP_NET_RAW.',
    );
  addFields(pmtu, PMTU_FIELDS);
  pmtu.addHelpText(
    'after',
    '\nOutput: a table of hops (hop, address, rtt of the small probe, largest size seen to get that far, note), the path MTU,\n' +
      'the verdict and the hop responsible. Notes: ptb (sent a valid too-big), ptb-bad (sent a too-big that cannot be used:\n' +
      'bad checksum or quote, MTU 0, below the minimum or not below the probe), silence (does not pass larger packets and\n' +
      'sent no too-big: a PMTUD black hole, or the ICMP is filtered on its way back).\n' +
      '\nVerdicts: ok (the path MTU is known and PMTUD works), black-hole (larger packets vanish without a usable too-big),\n' +
      'unreachable (the target does not answer at any size).\n' +
      '\nExit status: 0 ok; 1 black-hole or unreachable; 2 usage or configuration error.\n' +
      '\nExamples:\n' +
      '  pathguard probe pmtu 198.51.100.7\n' +
      '  pathguard probe pmtu 2001:db8:1::7 --proto tcp --port 443 --json\n' +
      '  pathguard probe pmtu 203.0.113.9 --proto icmp --wait 500ms --attempts 3',
  );
  pmtu.action(async (targetArg: string, flags: Record<string, unknown>) => {
    const cfg = pmtuConfig(targetArg, { flags, env: process.env });
    const { runPmtu } = await import('../probe/pmtu-run.js');
    const { pmtuExitCode, renderPmtuJson, renderPmtuText } = await import('../probe/pmtu-result.js');
    const result = await runPmtu({
      target: cfg.target,
      proto: cfg.proto,
      port: cfg.port,
      attempts: cfg.attempts,
      waitMs: cfg.waitMs,
      timeoutMs: cfg.timeoutMs,
      maxHops: cfg.maxHops,
      ...(cfg.verbose ? { onProbe: (line: string) => process.stderr.write(`${line}\n`) } : {}),
    });
    write(cfg.json ? renderPmtuJson(result) : renderPmtuText(result));
    process.exitCode = pmtuExitCode(result);
  });

  const ipip = probe
    .command('ipip')
    .argument('<realserver>', 'address of the realserver (outer destination)')
    .description(
      'Check that REALSERVER accepts IPIP (IPv4) or IP6IP6 (IPv6) traffic for a service, as an LVS director in tunnel mode ' +
        'sends it: a TCP SYN from this host to VIP:PORT with an MSS option, encapsulated to the realserver and sent with a raw ' +
        'socket. The realserver decapsulates it and answers directly. Reports the RTT and the MSS option of the SYN-ACK, then ' +
        'resets the half-open connection. Needs CAP_NET_RAW.',
    );
  addFields(ipip, IPIP_FIELDS);
  ipip.addHelpText(
    'after',
    '\nWhen no SYN-ACK comes back, the hints name what to check on the realserver: the decapsulation device (ipip0 /\n' +
      'ip6tnl0), its rp_filter (the effective value is max(conf/all, conf/DEV)), a firewall that must accept IP protocol 4\n' +
      '(IPv4) or 41 (IPv6) from this host, and the VIP on an interface (usually lo).\n' +
      '\nExit status: 0 a SYN-ACK came back; 1 no answer (or a reset/refusal); 2 usage or configuration error.\n' +
      '\nExamples:\n' +
      '  pathguard probe ipip 192.0.2.21 --vip 198.51.100.10 --port 443\n' +
      '  pathguard probe ipip 2001:db8::21 --vip 2001:db8:f::10 --port 443 --json',
  );
  ipip.action(async (rsArg: string, flags: Record<string, unknown>) => {
    const cfg = ipipConfig(rsArg, { flags, env: process.env });
    const { runIpip, renderIpipText } = await import('../probe/ipip-run.js');
    const result = await runIpip(cfg);
    write(cfg.json ? JSON.stringify(result, null, 2) : renderIpipText(result));
    process.exitCode = result.ok ? 0 : 1;
  });

  const mss = probe
    .command('mss')
    .argument('<vip:port>', 'service address and port, IPv6 as [ADDRESS]:PORT')
    .description(
      'Connect to VIP:PORT with an ordinary TCP connection and report the MSS option of the SYN-ACK the service sends (what ' +
        'Wikimedia exports as lvs_realserver_mss_value), read from the SYN-ACK itself with a raw socket. Needs CAP_NET_RAW.',
    );
  addFields(mss, MSS_FIELDS);
  mss.addHelpText(
    'after',
    '\nExit status: 0 connected and the SYN-ACK carried an MSS; 1 no connection; 2 usage or configuration error.\n' +
      '\nExamples:\n' +
      '  pathguard probe mss 198.51.100.10:443\n' +
      '  pathguard probe mss [2001:db8:f::10]:443 --json',
  );
  mss.action(async (targetArg: string, flags: Record<string, unknown>) => {
    const cfg = mssConfig(targetArg, { flags, env: process.env });
    const { runMss, renderMssText } = await import('../probe/mss-run.js');
    const result = await runMss(cfg);
    write(cfg.json ? JSON.stringify(result, null, 2) : renderMssText(result));
    process.exitCode = result.ok ? 0 : 1;
  });
}
