import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import {
  withLab,
  labUnavailable,
  assertDocAddress,
  deleteNamespace,
  labsOwnedBy,
  readLabMarker,
  sh,
  sweepStaleLabs,
  waitFor,
  LAB_MARKER_DIR,
  LAB_PREFIX,
} from '../../harness/netns.js';

const skip = labUnavailable();

test('a lab builds two namespaces joined by a veth, pings across, and is deleted afterwards', { skip }, async () => {
  let names: string[] = [];
  await withLab('harn', async (lab) => {
    const a = await lab.ns('a');
    const b = await lab.ns('b');
    names = [a.name, b.name];
    // The marker names this test, so a leftover can be traced to it.
    assert.match(readLabMarker(a.name)?.madeBy ?? '', /^test\/integration\/harness\/netns\.test\.ts:\d+ \(lab tag harn\)$/);
    assert.equal(readLabMarker(a.name)?.creator, process.pid);
    await lab.veth(a, 'eth0', b, 'eth0', { mtu: 1400 });
    await a.addr('eth0', '192.0.2.1/24');
    await b.addr('eth0', '192.0.2.2/24');
    await a.addr('eth0', '2001:db8::1/64');
    await b.addr('eth0', '2001:db8::2/64');
    await a.exec('ping', ['-c1', '-W2', '192.0.2.2']);
    await a.exec('ping', ['-6', '-c1', '-W2', '2001:db8::2']);
    const links = await a.ipJson<{ ifname: string; mtu: number }[]>('link', 'show', 'eth0');
    assert.equal(links[0]?.mtu, 1400);
  });
  for (const n of names) assert.equal(existsSync(`/run/netns/${n}`), false, `${n} was not deleted`);
});

test('a lab is torn down also when the test body throws', { skip }, async () => {
  let name = '';
  await assert.rejects(
    withLab('harn', async (lab) => {
      name = (await lab.ns('x')).name;
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal(existsSync(`/run/netns/${name}`), false);
});

test('addresses outside the documentation prefixes are refused', () => {
  assert.throws(() => assertDocAddress('10.0.0.1/8'), /outside/);
  assert.throws(() => assertDocAddress('2001:db9::1'), /outside/);
  assertDocAddress('203.0.113.7');
  assertDocAddress('2001:db8:1::1/64');
});

/** Resolves with the signal that ended `child`. */
function ended(child: ChildProcess): Promise<NodeJS.Signals | number | null> {
  return new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(child.signalCode ?? child.exitCode) : child.once('exit', (code, sig) => r(sig ?? code))));
}

/** Stacks `n` bind mounts on a namespace's name: the first `ip netns del` then fails (unlink(2): EBUSY), a second one succeeds. */
async function stackMounts(name: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await sh('mount', ['--bind', `/run/netns/${name}`, `/run/netns/${name}`]);
}

test('teardown ends processes the lab never tracked (started with a plain ip netns exec) before deleting', { skip }, async () => {
  let name = '';
  let stray: ChildProcess | undefined;
  await withLab('harn', async (lab) => {
    const a = await lab.ns('a');
    name = a.name;
    // Not lab.spawn: the lab does not know this process; it holds the namespace (and ignores SIGTERM).
    stray = spawn('ip', ['netns', 'exec', a.name, 'sh', '-c', 'trap "" TERM; echo up; exec sleep 600'], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((r) => stray!.stdout!.once('data', r));
    assert.ok((await sh('ip', ['netns', 'pids', a.name])).stdout.trim() !== '', 'the stray process is inside');
  });
  assert.equal(await ended(stray!), 'SIGKILL', 'the stray process was killed by the teardown');
  assert.equal(existsSync(`/run/netns/${name}`), false, `${name} was not deleted`);
});

test('a tracked process whose child keeps its output open does not hold the teardown up', { skip, timeout: 15_000 }, async () => {
  let name = '';
  let grandchild = 0;
  await withLab('harn', async (lab) => {
    const a = await lab.ns('a');
    name = a.name;
    const sh = a.spawn('sh', ['-c', 'sleep 600 & echo $!; wait']);
    grandchild = Number(await new Promise<string>((r) => sh.stdout!.once('data', (d: Buffer) => r(d.toString().trim()))));
    assert.ok(grandchild > 0);
  });
  assert.equal(existsSync(`/run/netns/${name}`), false);
  await waitFor(() => !existsSync(`/proc/${grandchild}`), 5000);
});

test('a delete that fails once is retried: the lab is still deleted', { skip }, async () => {
  let name = '';
  await withLab('harn', async (lab) => {
    name = (await lab.ns('a')).name;
    await stackMounts(name, 2);
    // What the teardown used to do: one `ip netns del`, whose failure went unseen.
    await assert.rejects(sh('ip', ['netns', 'del', name]), /busy/i);
    assert.equal(existsSync(`/run/netns/${name}`), true);
  });
  assert.equal(existsSync(`/run/netns/${name}`), false);
});

test('a namespace that cannot be deleted fails the lab with its name; the others are deleted all the same', { skip, timeout: 30_000 }, async () => {
  let ok = '';
  let stuck = '';
  try {
    await assert.rejects(
      withLab('harn', async (lab) => {
        ok = (await lab.ns('ok')).name;
        stuck = (await lab.ns('stuck')).name;
        // Replace the name by something unlink(2) refuses (EISDIR) on every attempt.
        await sh('ip', ['netns', 'del', stuck]);
        mkdirSync(`/run/netns/${stuck}/held`, { recursive: true });
      }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'PG_LAB', String(err));
        assert.match(err.message, new RegExp(`namespace ${stuck} could not be deleted`));
        assert.doesNotMatch(err.message, new RegExp(`namespace ${ok} `));
        return true;
      },
    );
    assert.equal(existsSync(`/run/netns/${ok}`), false, 'the other namespace was deleted');
  } finally {
    if (stuck !== '') {
      rmSync(`/run/netns/${stuck}`, { recursive: true, force: true });
      rmSync(`${LAB_MARKER_DIR}/${stuck}.owner`, { force: true }); // kept by the failed delete, to name the test
    }
  }
});

test('the sweep deletes labs whose owner and creator are gone, and leaves live owners, other prefixes and young old-format names', { skip, timeout: 30_000 }, async () => {
  const rand = Math.random().toString(36).slice(2, 7);
  const gone = spawnSync('true').pid!; // a pid that no longer runs
  const names = {
    dead: `${LAB_PREFIX}${gone}-sweep-${rand}-a`,
    deadBusy: `${LAB_PREFIX}${gone}-sweep-${rand}-b`,
    deadOwnerLiveCreator: `${LAB_PREFIX}${gone}-sweep-${rand}-c`,
    live: `${LAB_PREFIX}${process.pid}-sweep-${rand}-d`,
    legacyYoung: `${LAB_PREFIX}sweep-${rand}-e`,
    other: `pgz-${gone}-sweep-${rand}-f`,
  };
  let busy: ChildProcess | undefined;
  try {
    for (const n of Object.values(names)) await sh('ip', ['netns', 'add', n]);
    mkdirSync(LAB_MARKER_DIR, { recursive: true });
    writeFileSync(`${LAB_MARKER_DIR}/${names.deadOwnerLiveCreator}.owner`, JSON.stringify({ owner: gone, creator: process.pid, madeBy: 'here', created: '' }));
    busy = spawn('ip', ['netns', 'exec', names.deadBusy, 'sleep', '600'], { stdio: 'ignore' });
    await waitFor(async () => (await sh('ip', ['netns', 'pids', names.deadBusy])).stdout.trim() !== '', 5000);

    const swept = await sweepStaleLabs();
    const mine = swept.filter((s) => s.name.includes(rand));
    assert.deepEqual(mine.map((s) => [s.name, s.verdict, s.error]).sort(), [
      [names.dead, 'owner-gone', undefined],
      [names.deadBusy, 'owner-gone', undefined],
    ].sort());
    assert.equal(await ended(busy), 'SIGKILL', 'the process inside the stale namespace was ended');
    for (const n of [names.dead, names.deadBusy]) assert.equal(existsSync(`/run/netns/${n}`), false, `${n} swept`);
    for (const n of [names.deadOwnerLiveCreator, names.live, names.legacyYoung, names.other]) assert.equal(existsSync(`/run/netns/${n}`), true, `${n} kept`);
    assert.deepEqual(labsOwnedBy(process.pid).map((l) => l.name).filter((n) => n.includes(rand)), [names.live]);
  } finally {
    busy?.kill('SIGKILL');
    for (const n of Object.values(names)) if (existsSync(`/run/netns/${n}`)) await deleteNamespace(n);
  }
});

test('a test process killed (SIGKILL) in the middle of a lab leaves namespaces that the next sweep removes, processes and all', { skip, timeout: 30_000 }, async () => {
  // The child is its own owner (no PATHGUARD_LAB_OWNER), as a test file run without the runner is.
  const env = { ...process.env };
  delete env.PATHGUARD_LAB_OWNER;
  const lab = new URL('../../../src/demo/netns-lab.js', import.meta.url).href;
  const script = `
    const { Lab } = await import(${JSON.stringify(lab)});
    const l = new Lab('killed');
    const a = await l.ns('a');
    a.spawn('sleep', ['600']);
    await l.ns('b');
    process.stdout.write(l.names.join(' ') + '\\n');
    setInterval(() => undefined, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const names = await new Promise<string[]>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim().split(' '))));
  try {
    assert.equal(names.length, 2);
    const inside = (await sh('ip', ['netns', 'pids', names[0]!])).stdout.trim().split('\n').map(Number);
    assert.equal(inside.length, 1, 'the lab\'s process runs in namespace a');
    child.kill('SIGKILL');
    await ended(child);
    for (const n of names) assert.equal(existsSync(`/run/netns/${n}`), true, `${n} outlives its killed owner`);

    const swept = (await sweepStaleLabs()).filter((s) => names.includes(s.name));
    assert.deepEqual(swept.map((s) => [s.name, s.verdict, s.owner, s.error]).sort(), names.map((n) => [n, 'owner-gone', child.pid, undefined]).sort());
    assert.ok(swept.every((s) => /lab tag killed/.test(s.madeBy ?? '')), 'the marker says which lab it was');
    for (const n of names) assert.equal(existsSync(`/run/netns/${n}`), false, `${n} swept`);
    await waitFor(() => !existsSync(`/proc/${inside[0]}`), 5000);
  } finally {
    child.kill('SIGKILL');
    for (const n of names) if (existsSync(`/run/netns/${n}`)) await deleteNamespace(n);
  }
});

test('an old-format name past its age is swept when idle and left alone, and reported, while processes run inside', { skip, timeout: 30_000 }, async () => {
  // A prefix of this test's own, so the age limit of 0 reaches no one else's namespace.
  const prefix = `pgy${Math.random().toString(36).slice(2, 7)}-`;
  const idle = `${prefix}old-a`;
  const busyName = `${prefix}old-b`;
  let busy: ChildProcess | undefined;
  try {
    await sh('ip', ['netns', 'add', idle]);
    await sh('ip', ['netns', 'add', busyName]);
    busy = spawn('ip', ['netns', 'exec', busyName, 'sleep', '600'], { stdio: 'ignore' });
    await waitFor(async () => (await sh('ip', ['netns', 'pids', busyName])).stdout.trim() !== '', 5000);
    const swept = await sweepStaleLabs({ prefixes: [prefix], legacyMaxAgeMs: 0 });
    assert.deepEqual(
      swept.map((s) => [s.name, s.verdict, s.kept ?? false]).sort(),
      [[idle, 'legacy-old', false], [busyName, 'legacy-busy', true]].sort(),
    );
    assert.equal(existsSync(`/run/netns/${idle}`), false);
    assert.equal(existsSync(`/run/netns/${busyName}`), true);
    assert.equal(busy.exitCode ?? busy.signalCode, null, 'the process inside was left running');
  } finally {
    busy?.kill('SIGKILL');
    for (const n of [idle, busyName]) if (existsSync(`/run/netns/${n}`)) await deleteNamespace(n);
  }
});
