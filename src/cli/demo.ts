/**
 * `pathguard demo`: builds a network-namespace lab that reproduces the ECMP
 * PMTUD black hole and shows the relay fixing it.
 */
import { Command, Option } from 'commander';
import { fileURLToPath } from 'node:url';
import { UsageError, UnsupportedError } from '../errors.js';
import { DEMO_TRANSPORTS, type DemoResult, type DemoTransport } from '../demo/scenario.js';
import { labUnavailable } from '../demo/netns-lab.js';
import type { Family } from '../demo/ecmp-lab.js';

interface DemoFlags {
  check?: boolean;
  transport?: string[];
  family?: string[];
  peerFamily?: string[];
  bytes: string;
  timeout: string;
  json?: boolean;
}

function renderText(r: DemoResult): string {
  const lines = ['', 'Summary:'];
  for (const run of r.runs) {
    const what = run.transport ? `relay --transport ${run.transport}` : 'no relay';
    const outcome = run.completed ? `completed in ${run.seconds.toFixed(2)} s` : 'stalled';
    const mtu = run.ownerMtu !== undefined ? `owner learned mtu ${run.ownerMtu}` : 'owner learned nothing';
    lines.push(`  IPv${run.family}  ${what.padEnd(26)} ${outcome.padEnd(22)} ${mtu.padEnd(24)} ${run.asExpected ? 'ok' : 'UNEXPECTED'}`);
  }
  lines.push(r.ok ? '\nThe relay fixed the black hole in every case.' : '\nSome runs did not behave as expected (see above).');
  return lines.join('\n');
}

export function register(program: Command): void {
  program
    .command('demo')
    .description(
      'Build a network-namespace lab (client, a 1400-byte link, an ECMP router, three nodes sharing a VIP) ' +
        'that reproduces a PMTUD black hole, then show the relay fixing it. Needs root. The lab is always torn down.',
    )
    .option('--check', 'run every transport for IPv4 and IPv6 and exit 0 only when the fix is observed in each')
    .addOption(new Option('--transport <name...>', 'transports to show (default: udp; with --check: all)').choices(DEMO_TRANSPORTS))
    .addOption(new Option('--family <n...>', 'address families to show').choices(['4', '6']).default(['4', '6']))
    .addOption(
      new Option('--peer-family <n...>', 'families of the node addresses the relays know each other by: 4 alone is the usual cluster (IPv4 nodes, dual-stack services)')
        .choices(['4', '6'])
        .default(['4', '6']),
    )
    .option('--bytes <n>', 'size of the download', '2000000')
    .option('--timeout <seconds>', 'a download slower than this counts as stalled', '4')
    .option('--json', 'print the result as JSON instead of text')
    .action(async (flags: DemoFlags) => {
      const why = labUnavailable();
      if (why) throw new UnsupportedError('network namespaces', why);
      const bytes = Number(flags.bytes);
      const timeoutS = Number(flags.timeout);
      if (!Number.isInteger(bytes) || bytes < 1) throw new UsageError(`--bytes: got ${flags.bytes}, expected a positive integer`);
      if (!(timeoutS > 0)) throw new UsageError(`--timeout: got ${flags.timeout}, expected a positive number of seconds`);
      const transports = (flags.transport ?? (flags.check ? [...DEMO_TRANSPORTS] : ['udp'])) as DemoTransport[];
      const families = (flags.family ?? ['4', '6']).map(Number) as Family[];
      const peerFamilies = [...new Set(flags.peerFamily ?? ['4', '6'])].map(Number) as Family[];
      const say = flags.json ? () => undefined : (line: string) => process.stdout.write(`${line}\n`);
      let interrupted = false;
      let teardown: (() => Promise<void>) | undefined;
      const onSignal = () => {
        if (interrupted) process.exit(130);
        interrupted = true;
        process.stderr.write('\ninterrupted: tearing the lab down ...\n');
        void teardown?.()
          .catch((err: unknown) => process.stderr.write(`${(err as Error).message}\n`))
          .finally(() => process.exit(130));
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const { runDemo } = await import('../demo/scenario.js');
        const result = await runDemo({
          transports,
          families,
          peerFamilies,
          bytes,
          timeoutS,
          pathguardBin: fileURLToPath(new URL('../../../bin/pathguard', import.meta.url)),
          say,
          onLab: (lab) => (teardown = () => lab.teardown()),
        });
        process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : `${renderText(result)}\n`);
        if (!result.ok) process.exitCode = 1;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
