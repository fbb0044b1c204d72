/**
 * What every long-running command does once its config is validated: host
 * its components in the runtime until a signal (or a failure) stops them,
 * then exit with the runtime's code. `pathguard relay`, `routes` and `agent`
 * differ only in which components they pass.
 */
import type { Hosted, RuntimeOptions } from '../agent/runtime.js';
import { packageVersion } from './version.js';

export async function hostUntilStopped(opts: RuntimeOptions, hosted: readonly Hosted[]): Promise<never | void> {
  // Loaded only when a command runs for good: prom-client and the status page cost every command's start-up otherwise.
  const { Runtime } = await import('../agent/runtime.js');
  const rt = await Runtime.start({ version: packageVersion(), ...opts }, hosted);
  const code = await rt.done;
  process.exitCode = code;
  // Workers, watches and sockets are closed: exit now rather than wait on stray handles.
  setImmediate(() => process.exit(code));
}

/** Where a one-shot mode's output goes: results to stdout, reasons to stderr (logs go to the logger). */
export interface CommandOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

const STDIO: CommandOutput = {
  stdout: (s) => process.stdout.write(`${s}\n`),
  stderr: (s) => process.stderr.write(`${s}\n`),
};

/**
 * The modes every reconciling command has (`routes`, `realserver`):
 * --clean, then --once or --dry-run (one reconcile or plan, an exit code),
 * else run until stopped.
 */
export async function runReconcilingCommand(
  cfg: { readonly clean: boolean; readonly once: boolean; readonly dryRun: boolean },
  modes: { clean(out: CommandOutput): Promise<number>; once(out: CommandOutput): Promise<number>; run(): Promise<void> },
): Promise<void> {
  if (cfg.clean) process.exitCode = await modes.clean(STDIO);
  else if (cfg.once || cfg.dryRun) process.exitCode = await modes.once(STDIO);
  else await modes.run();
}
