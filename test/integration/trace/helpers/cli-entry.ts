// A pathguard entry point with only the trace command registered, so the
// tests run the real command line (signals, exit codes, ready file) before
// the lead wires `trace` into src/cli/main.ts.
import { Command, CommanderError } from 'commander';
import { exitCodeFor, formatError } from '../../../../src/cli/exit.js';
import { register } from '../../../../src/cli/trace.js';

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
