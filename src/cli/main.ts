/**
 * pathguard's entry point: builds the command tree, dispatches, and maps
 * errors to exit codes (0 ok, 1 failed, 2 usage). Each subcommand lives in
 * its own module under src/cli and exports a `register(program)` function;
 * this file only wires them up.
 */
import { packageVersion } from './version.js';
import { Command, CommanderError } from 'commander';
import { exitCodeFor, formatError } from './exit.js';

type Register = (program: Command) => void;

/**
 * Every command, in --help order, loaded on demand: a command's module
 * imports its config schema (zod), parsers and codecs, so running one
 * command loads only its own; --help and an unknown command load them all.
 */
const COMMANDS: readonly (readonly [string, () => Promise<{ register: Register }>])[] = [
  ['agent', () => import('./agent.js')],
  ['relay', () => import('./relay.js')],
  ['routes', () => import('./routes.js')],
  ['realserver', () => import('./realserver.js')],
  ['doctor', () => import('./doctor.js')],
  ['probe', () => import('./probe.js')],
  ['trace', () => import('./trace.js')],
  ['demo', () => import('./demo.js')],
];

/** The program with the commands `argv` may run: the one it names, or all of them. */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('pathguard')
    .description(
      'Keeps packet paths working on bare-metal Kubernetes nodes behind ECMP, anycast, ' +
        'LVS/IPVS or MetalLB BGP: relays ICMP "too big" messages to the node that owns the ' +
        'flow, keeps return-path policy routing for LoadBalancer addresses, and explains ' +
        'where MTU and filtering eat packets.',
    )
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show help for a command')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.addHelpText(
    'after',
    '\nExit status: 0 success, 1 failure, 2 usage error.\n' +
      'Every flag can also be set as an environment variable PATHGUARD_<FLAG> (e.g. PATHGUARD_LOG_LEVEL=debug).',
  );
  const named = COMMANDS.find(([name]) => name === argv[0]);
  for (const [, load] of named ? [named] : COMMANDS) (await load()).register(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = await buildProgram(argv);
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    // a command reports a failure it has already explained through process.exitCode (demo --check, routes --once)
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through here with exitCode 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    process.stderr.write(`pathguard: ${formatError(err)}\n`);
    return exitCodeFor(err);
  }
}

// `pathguard --help | head` closes the pipe early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
const code = await main(process.argv.slice(2));
process.exitCode = code;
