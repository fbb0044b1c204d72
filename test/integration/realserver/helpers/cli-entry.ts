// `pathguard realserver` as a process, without depending on src/cli/main.ts
// registering the command: the same dispatch and exit-code mapping as main.
import { Command, CommanderError } from 'commander';
import { register } from '../../../../src/cli/realserver.js';
import { exitCodeFor, formatError } from '../../../../src/cli/exit.js';

const program = new Command('pathguard').exitOverride();
register(program);
try {
  await program.parseAsync(process.argv.slice(2), { from: 'user' });
  process.exitCode = typeof process.exitCode === 'number' ? process.exitCode : 0;
} catch (err) {
  if (err instanceof CommanderError) process.exitCode = err.exitCode === 0 ? 0 : 2;
  else {
    process.stderr.write(`pathguard: ${formatError(err)}\n`);
    process.exitCode = exitCodeFor(err);
  }
}
