// `pathguard agent` with relay and routes from one process, in a lab:
//
//   rtr (BGP peer 192.0.2.1, injects ICMP) ── br0 ─┬─ n1  pathguard agent + the API server (own process)
//                                                  └─ n2  witness: udp replicas by carrier family
//
// The relay's peers come from Node objects and the routes' pools and peers
// from MetalLB objects, both through the agent's one Kubernetes client. One
// /metrics carries both components' series; the status page in Chromium
// (run inside n1's namespace) shows the relay's counters as the agent's
// /metrics has them. Then the API server is killed: the relay keeps relaying
// to the peers it knows, the rules stay, /status says the API is unreachable
// and every component still running, and SIGTERM leaves the rules in place
// and removes the relay's table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { ChildProcess } from 'node:child_process';
import { labUnavailable, waitFor } from '../../harness/netns.js';
import { Injector, tooBigFor, type Flow } from '../relay/helpers/packets.js';
import { Metrics, nftCounters, nftTableExists, PATHGUARD_MAIN, withRelayLab } from '../relay/helpers/relay-process.js';
import { buildSegment, CLIENT, FAR_ROUTER, VIP, VIP_NETWORKS, type SegmentNode } from '../relay/helpers/segment.js';
import { browserUnavailable, openBrowser } from '../status/helpers/browser.js';
import type { StatusDocument } from '../../../src/status/model.js';
import { POOL } from './helpers/api-child.js';

const skip = labUnavailable();
const API_CHILD = fileURLToPath(new URL('./helpers/api-child.js', import.meta.url));
const PORT = 9462;
const FLOW4: Flow = { family: 4, src: VIP[4], dst: CLIENT[4], srcPort: 8080, dstPort: 40_000 };
const FLOW6: Flow = { family: 6, src: VIP[6], dst: CLIENT[6], srcPort: 8080, dstPort: 40_000 };

async function get(n: SegmentNode, path: string): Promise<{ status: number; body: string }> {
  const r = await n.ns.exec('curl', ['-s', '--max-time', '5', '-w', '\n%{http_code}', `http://127.0.0.1:${PORT}${path}`]);
  const at = r.stdout.lastIndexOf('\n');
  return { status: Number(r.stdout.slice(at + 1)), body: r.stdout.slice(0, at) };
}

async function status(n: SegmentNode): Promise<StatusDocument> {
  const r = await get(n, '/status');
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as StatusDocument;
}

async function metrics(n: SegmentNode): Promise<Metrics> {
  return new Metrics((await get(n, '/metrics')).body);
}

async function udpWitness(n: SegmentNode): Promise<() => Promise<number>> {
  await n.ns.nft(`
    table inet pgt_agentwitness {
      counter replicas { }
      chain pre {
        type filter hook prerouting priority raw - 10; policy accept;
        udp dport 4490 counter name "replicas"
      }
    }
  `);
  return async () => (await nftCounters(n.ns, 'pgt_agentwitness')).get('replicas') ?? 0;
}

async function ruleFor(n: SegmentNode, prefix: string): Promise<boolean> {
  const r = await n.ns.exec('ip', ['rule', 'show']);
  return r.stdout.split('\n').some((l) => l.includes(`from ${prefix} lookup 20`) && l.includes('proto 112'));
}

test('pathguard agent: relay and routes in one process, one /metrics, the page in a browser, fail static without the API server', { skip, timeout: 180_000 }, async () => {
  await withRelayLab('agent', async (lab, dir) => {
    const { router, nodes } = await buildSegment(lab, 2);
    const [n1, n2] = [nodes[0]!, nodes[1]!];
    const replicas = await udpWitness(n2);
    const kubeconfig = join(dir, 'kubeconfig');
    const api = n1.ns.spawn(process.execPath, [API_CHILD, kubeconfig]);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('the API server did not start')), 20_000);
      api.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) {
          clearTimeout(t);
          resolve();
        }
      });
    });

    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      ['relay:', '  iface: [eth0]', `  vip-networks: [${VIP_NETWORKS}]`, '  transport: udp', 'routes:', '  table: 20', '  use-crds: true', 'doctor:', '  interval: 10m', ''].join('\n'),
    );
    const ready = join(dir, 'agent.ready');
    const agent: ChildProcess = n1.ns.spawn(process.execPath, [PATHGUARD_MAIN, 'agent', '--config', config, '--ready-file', ready, '--metrics-addr', `127.0.0.1:${PORT}`, '--log-level', 'warn'], {
      env: { ...process.env, KUBECONFIG: kubeconfig, NODE_NAME: 'n1' },
    });
    let output = '';
    agent.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => agent.once('close', (code) => r(code)));
    try {
      await waitFor(() => {
        if (agent.exitCode !== null) throw new Error(`the agent exited ${agent.exitCode}: ${output}`);
        return existsSync(ready);
      }, 60_000);

      // Both components from one process, one /metrics.
      const m = await metrics(n1);
      assert.equal(typeof m.get('pathguard_relay_received_packets_total'), 'number', 'relay series');
      assert.ok(m.get('pathguard_routes_reconciles_total', { outcome: 'applied' }) >= 1, 'routes series');
      assert.equal(m.get('pathguard_relay_configured_peers'), 1, 'n2 from the Node objects, n1 left out by name');
      assert.ok(await ruleFor(n1, POOL), 'the return-path rule for the MetalLB pool');
      const s = await status(n1);
      assert.deepEqual(s.components.map((c) => [c.name, c.state, c.ready, c.live]), [['relay', 'running', true, true], ['routes', 'running', true, true], ['doctor', 'running', true, true]]);
      // The doctor ran once with the relay's service prefixes: the relay's own table captures, so no relay-missing.
      const doctor = s.components.find((c) => c.name === 'doctor')!.status as { findings: { id: string; severity: string }[] };
      assert.ok(Array.isArray(doctor.findings));
      assert.equal(doctor.findings.some((f) => f.id === 'relay-missing'), false, JSON.stringify(doctor.findings));
      assert.equal(typeof m.get('pathguard_doctor_findings', { check: 'rp-filter', severity: 'error' }), 'number');
      assert.equal(s.kubernetes?.state, 'ok');
      assert.equal((await get(n1, '/healthz')).status, 200);

      // The relay relays; the page shows the agent's own counters.
      const injector = Injector.open(router.ns);
      try {
        injector.send(n1.mac, [tooBigFor(FLOW4, FAR_ROUTER[4], 1400), tooBigFor(FLOW6, FAR_ROUTER[6], 1400)]);
        await waitFor(async () => (await replicas()) === 2, 10_000);
        const relayed = (await metrics(n1)).get('pathguard_relay_relayed_messages_total');
        assert.equal(relayed, 2);

        if (browserUnavailable() === undefined) {
          const browser = await openBrowser({ netns: n1.ns.name });
          try {
            const page = await browser.context.newPage();
            await page.goto(`http://127.0.0.1:${PORT}/`);
            const read = async (k: string) => (await page.locator(`[data-k="${k}"]`).first().textContent()) ?? '';
            assert.equal(await read('relay.relayed'), '2');
            // More traffic: the page follows without a reload, to the value /metrics has.
            injector.send(n1.mac, [tooBigFor({ ...FLOW4, dstPort: 40_001 }, FAR_ROUTER[4], 1400)]);
            await waitFor(async () => (await replicas()) === 3, 10_000);
            const now = String((await metrics(n1)).get('pathguard_relay_relayed_messages_total'));
            await waitFor(async () => (await read('relay.relayed')) === now, 10_000);
            // Kept for a look with PATHGUARD_KEEP_SCREENSHOTS=1 (the lab's directory goes with the lab).
            await page.screenshot({ path: process.env['PATHGUARD_KEEP_SCREENSHOTS'] ? join(tmpdir(), 'pathguard-agent-page.png') : join(dir, 'agent-page.png'), fullPage: true });
          } finally {
            await browser.close();
          }
        }

        // Lose the API server: nothing is torn down, and /status says why nothing changes.
        api.kill('SIGKILL');
        await waitFor(async () => (await status(n1)).kubernetes?.state === 'unreachable', 30_000);
        const before = await replicas();
        injector.send(n1.mac, [tooBigFor({ ...FLOW6, dstPort: 40_002 }, FAR_ROUTER[6], 1400)]);
        await waitFor(async () => (await replicas()) === before + 1, 10_000);
      } finally {
        injector.close();
      }
      const after = await status(n1);
      assert.deepEqual(after.components.map((c) => [c.name, c.state, c.live]), [['relay', 'running', true], ['routes', 'running', true], ['doctor', 'running', true]]);
      assert.ok(await ruleFor(n1, POOL), 'the rule stays without the API server');
      assert.equal((await get(n1, '/healthz')).status, 200, 'losing the API is not a liveness failure');

      agent.kill('SIGTERM');
      assert.equal(await exited, 0, output);
      assert.equal(await nftTableExists(n1.ns, 'pathguard'), false, 'the relay removed its table');
      assert.ok(await ruleFor(n1, POOL), 'routes left its rules in place for the next agent');
      assert.equal(existsSync(ready), false, 'the ready file is gone');
    } finally {
      if (agent.exitCode === null) agent.kill('SIGKILL');
      if (api.exitCode === null) api.kill('SIGKILL');
    }
  });
});
