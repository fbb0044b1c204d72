// `pathguard probe ...` for the tests: the probe command registered on a
// program built the way src/cli/main.ts builds it (main.ts runs on import,
// and registering new commands there is the lead's step), with the same
// mapping of errors to exit codes. Run as:
//   ip netns exec NS node dist/test/integration/probe/helpers/probe-cli.js probe pmtu ...
import { Command, CommanderError } from 'commander';
import { register } from '../../../../src/cli/probe.js';
import { exitCodeFor, formatError } from '../../../../src/cli/exit.js';

const program = new Command('pathguard').exitOverride();
register(program);
let code: number;
try {
  await program.parseAsync(process.argv.slice(2), { from: 'user' });
  code = typeof process.exitCode === 'number' ? process.exitCode : 0;
} catch (err) {
  if (err instanceof CommanderError) code = err.exitCode === 0 ? 0 : 2;
  else {
    process.stderr.write(`pathguard: ${formatError(err)}\n`);
    code = exitCodeFor(err);
  }
}
process.exit(code);
