import { test } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegistry } from 'prom-client';
import { createMetrics, metricName } from '../../../src/obs/metrics.js';

test('names are pathguard_<component>_<what>_<unit>', () => {
  assert.equal(metricName('relay', 'replicas_sent', 'total'), 'pathguard_relay_replicas_sent_total');
  assert.equal(metricName('relay', 'capture_lag', 'seconds'), 'pathguard_relay_capture_lag_seconds');
  for (const [c, w, u] of [
    ['Relay', 'x', 'total'],
    ['relay', 'replicas-sent', 'total'],
    ['relay', '', 'total'],
    ['relay', 'x_', 'total'],
    ['relay', 'x', '1total'],
  ] as const) {
    assert.throws(() => metricName(c, w, u), TypeError, `${c}/${w}/${u}`);
  }
});

test('counters must end in total; other kinds must not use reserved suffixes', () => {
  const m = createMetrics({ processMetrics: false });
  assert.throws(() => m.counter({ component: 'relay', what: 'replicas', unit: 'packets', help: 'x' }), /must end in total/);
  assert.throws(() => m.gauge({ component: 'relay', what: 'peers', unit: 'total', help: 'x' }), /reserved/);
  assert.throws(() => m.gauge({ component: 'relay', what: 'peers', unit: 'count', help: 'x' }), /reserved/);
  assert.throws(
    () => m.histogram({ component: 'relay', what: 'lag', unit: 'seconds_sum', help: 'x', buckets: [1] }),
    /reserved/,
  );
  assert.throws(
    () => m.histogram({ component: 'relay', what: 'lag', unit: 'seconds', help: 'x', buckets: [1], labels: { le: ['a'] } }),
    /bad label name/,
  );
  assert.throws(() => m.counter({ component: 'relay', what: 'x', unit: 'total', help: 'x', labels: { reason: [] } }), /no values/);
  assert.throws(() => m.counter({ component: 'relay', what: 'x', unit: 'total', help: 'x', labels: { reason: ['a', 'a'] } }), /twice/);
});

test('every declared label combination is exported at zero from the start', async () => {
  const m = createMetrics({ processMetrics: false });
  const c = m.counter({
    component: 'relay',
    what: 'dropped',
    unit: 'total',
    help: 'Captured packets not relayed, by reason and family.',
    labels: { reason: ['bad_checksum', 'duplicate'], family: ['4', '6'] },
  });
  c.inc({ reason: 'duplicate', family: '6' });
  const text = await m.text();
  assert.match(text, /^# HELP pathguard_relay_dropped_total Captured packets not relayed, by reason and family\.$/m);
  assert.match(text, /^# TYPE pathguard_relay_dropped_total counter$/m);
  assert.match(text, /^pathguard_relay_dropped_total\{reason="bad_checksum",family="4"\} 0$/m);
  assert.match(text, /^pathguard_relay_dropped_total\{reason="bad_checksum",family="6"\} 0$/m);
  assert.match(text, /^pathguard_relay_dropped_total\{reason="duplicate",family="4"\} 0$/m);
  assert.match(text, /^pathguard_relay_dropped_total\{reason="duplicate",family="6"\} 1$/m);

  const h = m.histogram({ component: 'relay', what: 'send_batch', unit: 'packets', help: 'x', buckets: [1, 8, 64], labels: { transport: ['udp', 'l2'] } });
  h.observe({ transport: 'l2' }, 3);
  const t2 = await m.text();
  assert.match(t2, /^pathguard_relay_send_batch_packets_count\{transport="udp"\} 0$/m);
  assert.match(t2, /^pathguard_relay_send_batch_packets_bucket\{le="8",transport="l2"\} 1$/m);
});

test('registries are per instance: same names in two, nothing in the global registry', async () => {
  const globalBefore = (await globalRegistry.getMetricsAsJSON()).length;
  const a = createMetrics({ processMetrics: false });
  const b = createMetrics({ processMetrics: false });
  const ca = a.counter({ component: 'peers', what: 'changes', unit: 'total', help: 'x' });
  const cb = b.counter({ component: 'peers', what: 'changes', unit: 'total', help: 'x' });
  ca.inc(5);
  cb.inc(1);
  assert.match(await a.text(), /^pathguard_peers_changes_total 5$/m);
  assert.match(await b.text(), /^pathguard_peers_changes_total 1$/m);
  assert.equal((await globalRegistry.getMetricsAsJSON()).length, globalBefore);
  // A second definition in the same registry is a programming error, caught at once.
  assert.throws(() => a.counter({ component: 'peers', what: 'changes', unit: 'total', help: 'x' }), /already been registered/);
});

test('process metrics are opt-out and land in the instance registry only', async () => {
  const m = createMetrics();
  assert.match(await m.text(), /^process_cpu_user_seconds_total /m);
  assert.doesNotMatch(await createMetrics({ processMetrics: false }).text(), /process_cpu/);
});

test('a gauge is a plain gauge with declared labels', async () => {
  const m = createMetrics({ processMetrics: false });
  const g = m.gauge({ component: 'peers', what: 'known', unit: 'peers', help: 'Peers in the set.', labels: { family: ['4', '6'] } });
  g.set({ family: '4' }, 3);
  assert.match(await m.text(), /^pathguard_peers_known_peers\{family="4"\} 3$/m);
});
