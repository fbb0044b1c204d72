// `pathguard routes` as a process inside a lab namespace: --once, --dry-run,
// --clean, exit codes and reasons, the malformed configurations of the
// acceptance list (missing peers, a bad prefix, a decimal fwmark, an empty
// advertisement, an off-link peer, an unreadable file), pre/post scripts with
// a timeout, and the long-running mode with --ready-file and SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labUnavailable, waitFor, withLab, type Netns } from '../../harness/netns.js';
import { expectedRules, ipRoutes, ipRules, ipv4Prefixes, ipv6Prefixes, metallbYaml, NODE, ourRules, PEERS4, PEERS6, poolsOf, routesLab } from './helpers/routes-lab.js';

const skip = labUnavailable();
const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const BASE_ENV = { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin' };

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `pathguard routes ARGS` inside the namespace; killed after `timeoutMs`. */
function routes(ns: Netns, args: readonly string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, MAIN, 'routes', ...args], { env: { ...BASE_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

/** Human lines of stderr (the JSON log lines left out). */
const reasons = (r: Run): string => r.stderr.split('\n').filter((l) => !l.startsWith('{')).join('\n');

function tmp(): { dir: string; file: (name: string, text: string) => string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'pg-routes-cli-'));
  return {
    dir,
    file: (name, text) => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    },
    done: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const GOOD_PREFIXES = [...ipv4Prefixes().slice(0, 5), ...ipv6Prefixes(3)];
const GOOD = metallbYaml({ pools: poolsOf(GOOD_PREFIXES), peers: [PEERS4[0]!, PEERS4[1]!, PEERS6[0]!] });

test('--once applies the file and exits 0; a second run is a no-op; --dry-run prints the plan and changes nothing', { skip, timeout: 60_000 }, async () => {
  const t = tmp();
  try {
    await withLab('once', async (lab) => {
      const { node } = await routesLab(lab);
      const f = t.file('metallb.yaml', GOOD);
      const first = await routes(node, ['--once', '--metallb-file', f], { NODE_NAME: NODE });
      assert.equal(first.status, 0, first.stderr);
      assert.match(first.stdout, /outcome applied, add 12, replace 0, remove 0/);
      assert.deepEqual(await ourRules(node, 4), expectedRules(GOOD_PREFIXES, 4));
      assert.deepEqual(await ourRules(node, 6), expectedRules(GOOD_PREFIXES, 6));
      assert.deepEqual(await ipRoutes(node, 4), [`default proto 112: ${PEERS4[0]}*100 ${PEERS4[1]}*100`]);
      assert.deepEqual(await ipRoutes(node, 6), [`default proto 112: ${PEERS6[0]}`]);
      // one JSON log line per change
      assert.equal(first.stderr.split('\n').filter((l) => l.includes('"op":"add"')).length, 12);

      const second = await routes(node, ['--once', '--metallb-file', f, '--node-name', NODE]);
      assert.equal(second.status, 0, second.stderr);
      assert.match(second.stdout, /outcome unchanged, add 0, replace 0, remove 0, unchanged 12/);
      assert.ok(!second.stderr.includes('"op":'), 'no change logged');

      const before = [await ipRules(node, 4), await ipRoutes(node, 4)];
      const g = t.file('other.yaml', metallbYaml({ pools: poolsOf(['198.51.100.200/32']), peers: [PEERS4[2]!] }));
      const dry = await routes(node, ['--dry-run', '--metallb-file', g, '--node-name', NODE]);
      assert.equal(dry.status, 0, dry.stderr);
      assert.match(dry.stdout, /^ip -4 route replace default table 20 proto 112 via 192\.0\.2\.3$/m);
      assert.match(dry.stdout, /^ip -4 rule add priority 20 from 198\.51\.100\.200\/32 lookup 20 proto 112$/m);
      assert.match(dry.stdout, /^ip -6 rule del priority 19 lookup main suppress_prefixlength 0 proto 112$/m);
      assert.match(dry.stdout, /outcome planned, would add 1, would replace 1, would remove 10/);
      assert.deepEqual([await ipRules(node, 4), await ipRoutes(node, 4)], before, 'a dry run changes nothing');
    });
  } finally {
    t.done();
  }
});

test('malformed configurations: reported by name, the rest applied, fail static where nothing is usable', { skip, timeout: 120_000 }, async () => {
  const t = tmp();
  try {
    await withLab('malformed', async (lab) => {
      const { node } = await routesLab(lab);
      const good = t.file('good.yaml', GOOD);
      const reset = async (): Promise<void> => {
        const r = await routes(node, ['--once', '--metallb-file', good, '--node-name', NODE, '--log-level', 'warn']);
        assert.equal(r.status, 0, r.stderr);
      };
      const unchanged = async (what: string): Promise<void> => {
        assert.deepEqual(await ourRules(node, 4), expectedRules(GOOD_PREFIXES, 4), `${what}: IPv4 rules kept`);
        assert.deepEqual(await ourRules(node, 6), expectedRules(GOOD_PREFIXES, 6), `${what}: IPv6 rules kept`);
        assert.deepEqual(await ipRoutes(node, 4), [`default proto 112: ${PEERS4[0]}*100 ${PEERS4[1]}*100`], `${what}: route kept`);
      };

      // missing peers: the peer list was never given, so nothing can be concluded; nothing changes
      await reset();
      let r = await routes(node, ['--once', '--node-name', NODE, '--metallb-file', t.file('nopeers.yaml', metallbYaml({ pools: poolsOf(['198.51.100.77/32']), peers: [], noPeers: true }))]);
      assert.equal(r.status, 1);
      assert.match(reasons(r), /^held: the MetalLB configuration is unusable/m);
      assert.match(reasons(r), /fatal missing-key BGPPeer/);
      await unchanged('missing peers');

      // the legacy format without its peers key: the same
      r = await routes(node, ['--once', '--node-name', NODE, '--metallb-file', t.file('legacy.yaml', 'address-pools:\n- name: a\n  protocol: bgp\n  addresses: [198.51.100.77/32]\n')]);
      assert.equal(r.status, 1);
      assert.match(reasons(r), /fatal missing-key config peers/);
      await unchanged('legacy without peers');

      // an unreadable file
      r = await routes(node, ['--once', '--node-name', NODE, '--metallb-file', join(t.dir, 'missing.yaml')]);
      assert.equal(r.status, 1);
      assert.match(reasons(r), /fatal source-unavailable file .*missing\.yaml/);
      await unchanged('unreadable file');

      // a bad prefix next to good ones: named, skipped; the rest applied
      const withBad = ['198.51.100.10/32', '192.0.2.300/32', '203.0.113.0/28', '2001:db8:1::9/128'];
      r = await routes(node, ['--once', '--node-name', NODE, '--metallb-file', t.file('bad.yaml', metallbYaml({ pools: [withBad], peers: [PEERS4[0]!, PEERS6[0]!] }))]);
      assert.equal(r.status, 1);
      assert.match(reasons(r), /error bad-prefix IPAddressPool metallb-system\/pool-0 spec\.addresses\[1\]="192\.0\.2\.300\/32"/);
      const applied = withBad.filter((p) => p !== '192.0.2.300/32');
      assert.deepEqual(await ourRules(node, 4), expectedRules(applied, 4));
      assert.deepEqual(await ourRules(node, 6), expectedRules(applied, 6));

      // an off-link peer next to an on-link one: named, skipped; the route goes through the other
      await reset();
      r = await routes(node, ['--once', '--node-name', NODE, '--metallb-file', t.file('offlink.yaml', metallbYaml({ pools: poolsOf(GOOD_PREFIXES), peers: [PEERS4[0]!, '203.0.113.1', PEERS6[0]!] }))]);
      assert.equal(r.status, 1);
      assert.match(reasons(r), /error off-link-peer BGPPeer metallb-system\/peer-1="203\.0\.113\.1"/);
      assert.deepEqual(await ipRoutes(node, 4), [`default proto 112: ${PEERS4[0]}`]);
      assert.deepEqual(await ourRules(node, 4), expectedRules(GOOD_PREFIXES, 4));

      // every peer off-link: the rules would all go because of errors: held
      await reset();
      r = await routes(node, ['--once', '--node-name', NODE, '--metallb-file', t.file('alloff.yaml', metallbYaml({ pools: poolsOf(GOOD_PREFIXES), peers: ['203.0.113.1', '2001:db8:ffff::1'] }))]);
      assert.equal(r.status, 1);
      assert.match(reasons(r), /^held: every rule would be removed because of 2 error\(s\)/m);
      await unchanged('every peer off-link');

      // an empty advertisement means every pool (MetalLB's rule)
      const empty = metallbYaml({ pools: poolsOf(['198.51.100.50/32', '2001:db8:1::50/128']), peers: [PEERS4[0]!, PEERS6[0]!], advertisement: {} });
      r = await routes(node, ['--once', '--node-name', NODE, '--metallb-file', t.file('emptyadv.yaml', empty)]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(await ourRules(node, 4), expectedRules(['198.51.100.50/32'], 4));
      assert.deepEqual(await ourRules(node, 6), expectedRules(['2001:db8:1::50/128'], 6));

      // a decimal fwmark (RULE_FWMARK=20) is mark 0x14, on every rule including the companion
      r = await routes(node, ['--once', '--metallb-file', good], { NODE_NAME: NODE, RULE_FWMARK: '20', TABLE_WEIGHT: '0x64', RULE_PRIORITY: '300' });
      assert.equal(r.status, 0, r.stderr);
      const marked = { fwmark: '0x14/0xffffffff', priority: 300, table: 100 };
      assert.deepEqual(await ourRules(node, 4), expectedRules(GOOD_PREFIXES, 4, marked));
      assert.deepEqual(await ourRules(node, 6), expectedRules(GOOD_PREFIXES, 6, marked));
      assert.deepEqual(await ipRoutes(node, 4, '100'), [`default proto 112: ${PEERS4[0]}*100 ${PEERS4[1]}*100`]);
      assert.deepEqual(await ipRoutes(node, 4), [], 'the route in the previous table 20 was pathguard\'s and is gone');
    });
  } finally {
    t.done();
  }
});

test('--clean removes exactly pathguard\'s rules and routes in both families; usage errors exit 2', { skip, timeout: 60_000 }, async () => {
  const t = tmp();
  try {
    await withLab('clean', async (lab) => {
      const { node } = await routesLab(lab);
      await node.ip('rule', 'add', 'priority', '20', 'from', '198.51.100.0/32', 'lookup', '20', 'proto', 'static');
      await node.ip('-6', 'rule', 'add', 'priority', '20', 'from', '2001:db8:1::1/128', 'lookup', '20');
      await node.ip('route', 'add', '203.0.113.0/24', 'via', '192.0.2.4', 'table', '20', 'proto', 'static');
      const foreign4 = (await ipRules(node, 4)).filter((r) => !r.endsWith('proto 112'));
      const foreign6 = (await ipRules(node, 6)).filter((r) => !r.endsWith('proto 112'));
      const f = t.file('metallb.yaml', GOOD);
      assert.equal((await routes(node, ['--once', '--metallb-file', f, '--node-name', NODE])).status, 0);
      assert.ok((await ourRules(node, 6)).length > 0);

      const dry = await routes(node, ['--clean', '--dry-run']);
      assert.equal(dry.status, 0, dry.stderr);
      assert.match(dry.stdout, /^ip -6 route del default table 20 proto 112 /m);
      assert.match(dry.stdout, /would remove 12 object\(s\)/);

      const r = await routes(node, ['--clean']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /removed 10 rule\(s\) and 2 route\(s\)/);
      assert.match(r.stdout, /left 3 foreign object\(s\) pointing at table 20 in place/);
      assert.deepEqual(await ipRules(node, 4), foreign4);
      assert.deepEqual(await ipRules(node, 6), foreign6);
      assert.deepEqual(await ipRoutes(node, 4), ['203.0.113.0/24 proto static: 192.0.2.4']);
      assert.deepEqual(await ipRoutes(node, 6), []);

      const usage = [
        [['--once', '--metallb-file', f, '--node-name', NODE, '--table', '254'], /--table/],
        [['--once', '--clean', '--node-name', NODE], /at most one of --once and --clean/],
        [['--once', '--metallb-file', f], /nodeName \(--node-name, PATHGUARD_NODE_NAME, NODE_NAME\)/],
        [['--once', '--metallb-file', f, '--node-name', NODE, '--fwmark', '0x1ff/0xff'], /--fwmark/],
      ] as const;
      for (const [args, why] of usage) {
        const u = await routes(node, args);
        assert.equal(u.status, 2, `${args.join(' ')}: ${u.stderr}`);
        assert.match(u.stderr, why);
      }
    });
  } finally {
    t.done();
  }
});

test('pre/post scripts run with the change count; a hanging script is killed at its timeout and the reconcile goes on', { skip, timeout: 60_000 }, async () => {
  const t = tmp();
  try {
    await withLab('scripts', async (lab) => {
      const { node } = await routesLab(lab);
      const out = join(t.dir, 'script.log');
      const script = t.file('hook.sh', `#!/bin/sh\necho "$PATHGUARD_PHASE changes=$PATHGUARD_CHANGES table=$PATHGUARD_TABLE" >> ${out}\n`);
      const hang = t.file('hang.sh', '#!/bin/sh\nsleep 30\n');
      chmodSync(script, 0o755);
      chmodSync(hang, 0o755);
      const f = t.file('metallb.yaml', GOOD);
      let r = await routes(node, ['--once', '--metallb-file', f, '--node-name', NODE, '--pre-script', script, '--post-script', script]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(readFileSync(out, 'utf8'), 'pre changes=12 table=20\npost changes=12 table=20\n');
      // nothing to change: no scripts
      r = await routes(node, ['--once', '--metallb-file', f, '--node-name', NODE, '--pre-script', script, '--post-script', script]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(readFileSync(out, 'utf8').split('\n').length, 3);

      const g = t.file('more.yaml', metallbYaml({ pools: poolsOf([...GOOD_PREFIXES, '198.51.100.99/32']), peers: [PEERS4[0]!, PEERS4[1]!, PEERS6[0]!] }));
      r = await routes(node, ['--once', '--metallb-file', g, '--node-name', NODE, '--pre-script', hang, '--script-timeout', '1s']);
      assert.equal(r.status, 1);
      assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
      assert.match(reasons(r), /pre-script .*hang\.sh: killed after the 1000 ms timeout/);
      assert.ok((await ourRules(node, 4)).includes('20 from 198.51.100.99/32 lookup 20 proto 112'), 'applied regardless');
    });
  } finally {
    t.done();
  }
});

test('long-running: the ready file after the first reconcile, file edits applied, SIGTERM leaves the kernel state in place', { skip, timeout: 60_000 }, async () => {
  const t = tmp();
  try {
    await withLab('agent', async (lab) => {
      const { node } = await routesLab(lab);
      const f = t.file('metallb.yaml', GOOD);
      const ready = join(t.dir, 'ready');
      // a fixed port is free: the namespace has its own
      const child = node.spawn(process.execPath, [MAIN, 'routes', '--metallb-file', f, '--node-name', NODE, '--ready-file', ready, '--debounce', '50ms', '--metrics-addr', '127.0.0.1:9470'], {
        env: BASE_ENV,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr?.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      await waitFor(() => existsSync(ready), 15_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${stderr}`);
      });
      const content = JSON.parse(readFileSync(ready, 'utf8')) as { pid: number; component: string; metrics: { port: number } };
      assert.equal(content.component, 'routes');
      assert.ok(content.metrics.port > 0);
      assert.deepEqual(await ourRules(node, 4), expectedRules(GOOD_PREFIXES, 4));

      // metrics and readiness, fetched from inside the namespace
      const get = async (path: string): Promise<string> =>
        (await node.exec(process.execPath, ['-e', `fetch('http://127.0.0.1:${content.metrics.port}${path}').then(async (r) => process.stdout.write(r.status + '\\n' + (await r.text())))`])).stdout;
      const metrics = await get('/metrics');
      assert.match(metrics, /^200$/m);
      assert.match(metrics, /^pathguard_routes_installed_rules\{family="ipv4"\} 6$/m);
      assert.match(metrics, /^pathguard_routes_installed_rules\{family="ipv6"\} 4$/m);
      assert.match(metrics, /^pathguard_routes_changes_total\{op="add",object="rule"\} 10$/m);
      assert.match(metrics, /^pathguard_routes_reconcile_duration_seconds_count [1-9]\d*$/m);
      assert.match(await get('/readyz'), /^200$/m);

      // an edit: another peer set and one more pool
      writeFileSync(f, metallbYaml({ pools: poolsOf([...GOOD_PREFIXES, '203.0.113.200/32']), peers: [PEERS4[2]!, PEERS6[0]!] }));
      await waitFor(async () => JSON.stringify(await ipRoutes(node, 4)) === JSON.stringify([`default proto 112: ${PEERS4[2]}`]), 5000);
      assert.ok((await ourRules(node, 4)).includes('20 from 203.0.113.200/32 lookup 20 proto 112'));

      // a broken edit changes nothing
      writeFileSync(f, 'kind: [\n');
      await waitFor(() => stderr.includes('yaml-syntax'), 5000);
      assert.deepEqual(await ipRoutes(node, 4), [`default proto 112: ${PEERS4[2]}`]);

      const rulesBefore = await ourRules(node, 4);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      assert.deepEqual(await ourRules(node, 4), rulesBefore, 'the kernel state stays when the agent stops');
      assert.ok(!existsSync(ready), 'the ready file is removed');
    });
  } finally {
    t.done();
  }
});
