/**
 * What every long-running command does once its config is validated: host
 * its components in the runtime until a signal (or a failure) stops them,
 * then exit with the runtime's code. `pathguard relay`, `routes` and `agent`
 * differ only in which components they pass.
 */
import { Runtime, type Hosted, type RuntimeOptions } from '../agent/runtime.js';
import { packageVersion } from './version.js';

export async function hostUntilStopped(opts: RuntimeOptions, hosted: readonly Hosted[]): Promise<never | void> {
  const rt = await Runtime.start({ version: packageVersion(), ...opts }, hosted);
  const code = await rt.done;
  process.exitCode = code;
  // Workers, watches and sockets are closed: exit now rather than wait on stray handles.
  setImmediate(() => process.exit(code));
}
