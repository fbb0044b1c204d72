// In-kernel filtering under load: while a flood ping of another flow runs
// (C -> 203.0.113.2 as fast as the replies come), 1,000 UDP datagrams at
// 1,000 a second of the traced flow (C -> 203.0.113.1:9000, paced on the
// clock) are each reported (transmitted by C, received and dropped with
// NO_SOCKET by S), none is lost, and no event of the flood reaches user
// space.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { labUnavailable, withLab } from '../../harness/netns.js';
import { S4, settledLeftovers, netnsInode, routerLab, startTrace } from './helpers/trace-lab.js';

const skip = labUnavailable();
const FLOOD_DST = '203.0.113.2';
const N = 1000;
const PACER = fileURLToPath(new URL('./helpers/udp-pacer.js', import.meta.url));

test(`${N} packets at ${N}/s of the traced flow during a flood of another: all reported, none lost, no flood event`, { skip, timeout: 120_000 }, async () => {
  await withLab('trflood', async (lab) => {
    const { c, s } = await routerLab(lab);
    const trace = await startTrace(['--dst', S4, '--proto', 'udp', '--dport', '9000', '--summary']);
    const flood = c.spawn('ping', ['-f', '-q', '-w', '20', FLOOD_DST]);
    let floodSent = 0;
    let out = '';
    flood.stdout!.on('data', (d) => (out += d));
    let waited: unknown;
    try {
      const r = await c.exec(process.execPath, [PACER, S4, '9000', String(N), String(N)], { timeoutMs: 30_000 });
      const paced = JSON.parse(r.stdout) as { sent: number; seconds: number };
      assert.equal(paced.sent, N);
      assert.ok(paced.seconds > 0.95 && paced.seconds < 1.2, `${N} datagrams took ${paced.seconds} s`);
      await trace.until((ev) => ev.filter((e) => e.event === 'drop' && e.netns === netnsInode(s)).length >= N, 10_000);
    } catch (err) {
      waited = err;
    }
    flood.kill('SIGINT');
    await new Promise((r) => flood.once('close', r));
    floodSent = Number(/(\d+) packets transmitted/.exec(out)?.[1] ?? 0);
    const { code, events } = await trace.stop();
    assert.deepEqual(await settledLeftovers(trace.ready.ids), []);
    if (waited) throw waited;
    assert.equal(code, 0);
    const summary = events.find((e) => e.event === 'summary');
    assert.equal(summary?.lost, 0, 'events lost');
    const cNs = netnsInode(c);
    const sNs = netnsInode(s);
    const sent = events.filter((e) => e.event === 'transmit' && e.netns === cNs);
    const received = events.filter((e) => e.event === 'receive' && e.netns === sNs);
    const dropped = events.filter((e) => e.event === 'drop' && e.netns === sNs && e.reason === 'NO_SOCKET');
    assert.equal(sent.length, N);
    assert.equal(received.length, N);
    assert.equal(dropped.length, N);
    assert.ok(floodSent > N, `the flood ran (${floodSent} packets)`);
    // ICMP port unreachable answers quote the flow (event icmp), input-route lookups carry only
    // the addresses (event fib); everything else is the flow itself
    const foreign = events.filter((e) => e.event !== 'summary' && !(e.dst === S4 && (e.dport === 9000 || (e.event === 'fib' && e.dport === undefined))));
    assert.deepEqual(foreign, [], 'no event of another flow');
  });
});
