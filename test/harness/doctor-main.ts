/**
 * `pathguard doctor` as its own entry point, wired exactly as src/cli/main.ts
 * wires a command (register, parse, map errors to exit codes), so the
 * doctor's tests run the real command line inside lab namespaces:
 *   ip netns exec NS node dist/test/harness/doctor-main.js doctor --json
 */
import { Command, CommanderError } from 'commander';
import { register } from '../../src/cli/doctor.js';
import { exitCodeFor, formatError } from '../../src/cli/exit.js';

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
