/** Why a namespace benchmark cannot run here (printed as "NAME: skipped: ..."), or undefined when it can. */
import { labUnavailable, sh } from '../../test/harness/netns.js';

export async function benchUnavailable(tools: readonly (readonly [tool: string, pkg: string])[]): Promise<string | undefined> {
  const why = labUnavailable();
  if (why) return why;
  for (const [tool, pkg] of tools) {
    const missing = await sh(tool, ['--version']).then(
      () => undefined,
      (err: Error) => err.message,
    );
    if (missing !== undefined) return `${tool} does not run (${missing}); apt-get install ${pkg}`;
  }
  return undefined;
}
