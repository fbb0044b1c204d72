// The relay's acceptance on real traffic, for every transport and both
// families: in the ECMP black-hole lab (src/demo/ecmp-lab.ts)
//
//   client ── r1 ══1400══ ecmp ── LAN ─┬─ node-a (owns the TCP flow)
//                                      ├─ node-b (gets the ICMP)
//                                      └─ node-c        all hold the VIP
//
// a 2 MB download from the VIP stalls without the relay (the owner never
// learns the path MTU), and completes with `pathguard relay --transport T`
// on every node, the owner having learned MTU 1400.
//
// The first test drives the scenario in-process with this build's relay; the
// second runs `pathguard demo --check --json` as a subprocess, which is what
// `make demo`'s check does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { labUnavailable } from '../../harness/netns.js';
import { runDemo, DEMO_TRANSPORTS, type DemoResult, type DemoRun } from '../../../src/demo/scenario.js';
import { LAB } from '../../../src/demo/ecmp-lab.js';
import { PATHGUARD_MAIN } from './helpers/relay-process.js';

const skip = labUnavailable();

const BYTES = 2_000_000;

function describe(r: DemoRun): string {
  return `IPv${r.family} ${r.transport ? `relay --transport ${r.transport}` : 'without the relay'}`;
}

/** Every run as the acceptance wants it: stalled without the relay, completed with it and the owner at MTU 1400. */
function assertResult(result: DemoResult): void {
  const expected = [4, 6].flatMap((family) => [undefined, ...DEMO_TRANSPORTS].map((transport) => `${family}/${transport ?? '-'}`));
  assert.deepEqual(result.runs.map((r) => `${r.family}/${r.transport ?? '-'}`), expected, 'one run per family without the relay, then one per transport');
  for (const r of result.runs) {
    const what = `${describe(r)}: ${JSON.stringify(r)}`;
    if (r.transport) {
      assert.equal(r.completed, true, `${what}: the download completes`);
      assert.equal(r.bytes, BYTES, what);
      assert.equal(r.ownerMtu, LAB.pathMtu, `${what}: the owner learned the path MTU`);
    } else {
      assert.equal(r.completed, false, `${what}: the download stalls`);
      assert.ok(r.bytes < BYTES, what);
      assert.equal(r.ownerMtu, undefined, `${what}: the owner learned nothing`);
    }
    assert.equal(r.asExpected, true, what);
  }
  assert.equal(result.ok, true);
  // Before any relay runs, the doctor on the node that gets the ICMP names the cause.
  assert.ok(result.doctor?.some((f) => f.id === 'relay-missing' && f.severity === 'warn'), `doctor: ${JSON.stringify(result.doctor)}`);
}

test('each transport, IPv4 and IPv6: the owner learns MTU 1400 and the download completes; without the relay it stalls', { skip, timeout: 120_000 }, async () => {
  const result = await runDemo({
    transports: DEMO_TRANSPORTS,
    families: [4, 6],
    bytes: BYTES,
    timeoutS: 4,
    pathguardBin: PATHGUARD_MAIN,
    say: () => undefined,
  });
  assertResult(result);
});

/** The launcher `pathguard demo` runs the relay with (src/cli/demo.ts: bin/pathguard next to the build). */
const DEMO_LAUNCHER = fileURLToPath(new URL('../../../../bin/pathguard', import.meta.url));

test(
  '`pathguard demo --check --json` exits 0 and reports every run as expected',
  { skip: skip ?? (existsSync(DEMO_LAUNCHER) ? undefined : `the demo starts relays through ${DEMO_LAUNCHER}, which this build does not have`), timeout: 120_000 },
  async () => {
    const child = spawn(process.execPath, [PATHGUARD_MAIN, 'demo', '--check', '--json', '--bytes', String(BYTES)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // SIGTERM makes the demo tear its lab down.
      timeout: 110_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    assert.equal(code, 0, `exit code; stderr: ${stderr}\nstdout: ${stdout}`);
    assertResult(JSON.parse(stdout) as DemoResult);
  },
);
