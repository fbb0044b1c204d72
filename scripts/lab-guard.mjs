// The integration run's guard over network namespaces (issue #12), used by
// scripts/run-tests.mjs around the integration suite:
//   before: delete lab namespaces (pgt-*, pgd-*) whose owning run is over,
//           and say which; namespaces of runs that are still alive (other
//           worktrees on this machine) are left alone;
//   after:  every namespace this run owns must be gone; a leftover fails the
//           run, is named with the test that made it, and is then deleted.
// The rules live in the lab module itself (src/demo/netns-lab.ts, built to
// dist/), so the tests, the demo and this guard share one teardown.
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

async function labModule(root) {
  const file = join(root, 'dist', 'src', 'demo', 'netns-lab.js');
  if (!existsSync(file)) return undefined;
  return await import(pathToFileURL(file).href);
}

/** Sweeps stale labs; returns the environment the test processes get (their owner). */
export async function beforeIntegration(root, log) {
  const lab = await labModule(root);
  if (!lab || lab.labUnavailable()) return {};
  const swept = await lab.sweepStaleLabs();
  for (const s of swept) {
    if (s.kept) {
      log(`lab guard: left alone ${s.name}: an old name without an owner, but processes run inside (ip netns pids ${s.name})`);
      continue;
    }
    const who = s.owner !== undefined ? `owner pid ${s.owner} is gone` : 'old name without an owner';
    const what = s.madeBy ? `, made by ${s.madeBy}` : '';
    if (s.error) log(`lab guard: could not remove stale namespace ${s.name} (${who}${what}): ${s.error}`);
    else log(`lab guard: removed stale namespace ${s.name} (${who}${what})`);
  }
  return { [lab.LAB_OWNER_ENV]: String(process.pid) };
}

/**
 * Fails (returns false) when a namespace this run owns is still there, after
 * deleting it. After an interrupt (`interrupted`: the signal) leftovers are
 * expected, so they are deleted and reported without blaming a test.
 */
export async function afterIntegration(root, log, { interrupted } = {}) {
  const lab = await labModule(root);
  if (!lab || lab.labUnavailable()) return true;
  const left = lab.labsOwnedBy(process.pid);
  for (const l of left) {
    const by = l.madeBy ? `made by ${l.madeBy}` : 'made by an unknown test (no owner marker)';
    let fate = 'deleted now';
    try {
      await lab.deleteNamespace(l.name);
    } catch (err) {
      fate = `and it cannot be deleted: ${err.message}`;
    }
    log(`lab guard: namespace ${l.name} was ${interrupted ? 'in use when the run was interrupted' : 'left behind'}, ${by}; ${fate}`);
  }
  if (left.length > 0 && interrupted) log(`lab guard: ${left.length} namespace(s) of the run interrupted by ${interrupted} deleted`);
  else if (left.length > 0) log(`lab guard: ${left.length} namespace(s) left behind by this run: the run fails`);
  return left.length === 0;
}
