// The tracefs fallback (--no-bpf): the PKT_TOO_BIG drop joined with the ICMP
// error icmp:icmp_send reported for the same skb, labelled unfiltered, and
// its trace instance removed at exit. And the lifecycle of the BPF tracer:
// it ends by itself on --duration and --max-events, exits 2 on a bad
// filter, and leaves no program, map or link behind in any case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labUnavailable, withLab } from '../../harness/netns.js';
import { C4, S4, settledLeftovers, routerLab, startTrace } from './helpers/trace-lab.js';

const skip = labUnavailable();
const ENTRY = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const INSTANCES = '/sys/kernel/tracing/instances';

function ourInstances(): string[] {
  try {
    return readdirSync(INSTANCES).filter((n) => n.startsWith('pathguard-'));
  } catch {
    return [];
  }
}

test('--no-bpf: PKT_TOO_BIG joined with the ICMP frag-needed, unfiltered, instance removed', { skip, timeout: 60_000 }, async () => {
  await withLab('trfall', async (lab) => {
    const { c } = await routerLab(lab);
    const before = ourInstances();
    const trace = await startTrace(['--no-bpf', '--dst', S4]);
    assert.equal(trace.ready.mode, 'tracefs');
    let waited: unknown;
    try {
      await c.exec('ping', ['-M', 'do', '-s', '1472', '-c1', '-W2', S4]).catch(() => undefined);
      await trace.until((ev) => ev.some((e) => e.reason === 'PKT_TOO_BIG' && e.dst === S4 && e.type === 3));
    } catch (err) {
      waited = err;
    }
    const { code, events, stderr } = await trace.stop();
    if (waited) throw waited;
    assert.equal(code, 0);
    const drop = events.find((e) => e.reason === 'PKT_TOO_BIG' && e.dst === S4)!;
    assert.equal(drop.unfiltered, true);
    assert.equal(drop.src, C4);
    assert.deepEqual([drop.type, drop.code], [3, 4]);
    assert.match(drop.location ?? '', /^ip_forward\+/);
    assert.match(stderr, /BPF not used: BPF was turned off with --no-bpf/);
    assert.match(stderr, /UNFILTERED/);
    const summary = events.find((e) => e.event === 'summary');
    assert.ok(summary?.drops?.some((d) => d.reason === 'PKT_TOO_BIG' && d.count >= 1));
    assert.deepEqual(ourInstances(), before);
  });
});

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [ENTRY, 'trace', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--duration and --max-events end the trace by themselves, leaving nothing loaded', { skip, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-trace-'));
  try {
    // --duration: the ready file carries the ids; it is removed at exit
    const ready = join(dir, 'ready');
    const t0 = Date.now();
    // (the tracer sees the whole host: other labs may use any documentation address, so no claim about what it saw)
    const child = spawnSync(process.execPath, [ENTRY, 'trace', '--dst', '2001:db8:ffff::9', '--duration', '1500ms', '--summary', '--ready-file', ready], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(child.status, 0, child.stderr);
    assert.ok(Date.now() - t0 >= 1500);
    assert.match(child.stdout, /drops of family 6 dst 2001:db8:ffff::9\/128 by reason and location:\n/);
    assert.equal(existsSync(ready), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await withLab('trmax', async (lab) => {
    const { c } = await routerLab(lab);
    const trace = await startTrace(['--dst', S4, '--proto', 'icmp', '--max-events', '3']);
    await c.exec('ping', ['-c2', '-i0.2', '-W1', S4]);
    const exited = await new Promise<number | null>((r) => (trace.child.exitCode !== null ? r(trace.child.exitCode) : trace.child.once('close', (code) => r(code))));
    assert.equal(exited, 0);
    const { events } = await trace.stop();
    assert.equal(events.length, 3);
    assert.deepEqual(await settledLeftovers(trace.ready.ids), []);
  });
});

test('a bad filter exits 2 and names the field, the value and what was expected', { skip }, () => {
  const r = run(['--dst', '203.0.113.0/33', '--sport', 'http']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--dst: got "203\.0\.113\.0\/33", expected an IPv4 or IPv6 address or prefix/);
  assert.match(r.stderr, /--sport: got "http", expected a port number 0-65535/);
  const w = run(['dst']);
  assert.equal(w.status, 2);
  assert.match(w.stderr, /FILTER dst/);
});
