// run(): order, counts, selection, exit status, a throwing check; and the text renderer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Check } from '../../../src/doctor/check.js';
import { exitStatus, findingSamples, runChecks } from '../../../src/doctor/run.js';
import { renderJson, renderText } from '../../../src/doctor/render.js';
import { CHECKS } from '../../../src/doctor/registry.js';
import { addLink, healthyNode, inputs, snap } from './node-fixture.js';

const broken = () => {
  const n = healthyNode();
  n.sysctls['net.ipv4.ip_forward'] = '0';
  const br = addLink(n, { name: 'cni0', kind: 'bridge', type: 1, mtu: 1500, up: true, lowerUp: true });
  n.routes.push({ family: 4, table: 254, dst: '198.51.100.0/24', type: 1, protocol: 2, scope: 253, oif: br.index });
  n.conntrack = { count: 95, max: 100 };
  return snap(n);
};

test('findings come most severe first; counts and exit status follow --fail-on', () => {
  const r = runChecks(broken(), inputs());
  assert.deepEqual(r.findings.map((f) => `${f.severity} ${f.id}`), ['error forwarding', 'warn conntrack-full']);
  assert.deepEqual(r.counts, { error: 1, warn: 1, info: 0 });
  assert.equal(exitStatus(r, 'error'), 1);
  const onlyWarn = runChecks(broken(), inputs(), { only: ['conntrack-full'] });
  assert.deepEqual(onlyWarn.checks, ['conntrack-full']);
  assert.equal(exitStatus(onlyWarn, 'error'), 0);
  assert.equal(exitStatus(onlyWarn, 'warn'), 1);
});

test('a check that throws becomes an internal error finding and the others still run', () => {
  const bad: Check = { id: 'boom', title: 'throws', run: () => { throw new TypeError('x is undefined'); } };
  const r = runChecks(broken(), inputs(), { checks: [bad, ...CHECKS] });
  assert.equal(r.findings[0]!.id, 'internal');
  assert.equal(r.findings[0]!.subject, 'boom');
  assert.match(r.findings[0]!.title, /check boom failed: x is undefined/);
  assert.ok(r.findings.some((f) => f.id === 'forwarding'));
});

test('text groups by severity with evidence and fix; JSON carries the ids and severities as spelled', () => {
  const r = runChecks(broken(), inputs(), { now: () => 0 });
  const t = renderText(r);
  assert.match(t, /^pathguard doctor: node-1 \(kernel 6\.18\.0/);
  assert.ok(t.indexOf('ERROR (breaks traffic now)') < t.indexOf('WARN'));
  assert.match(t, /\[forwarding\] 1 IPv4 route\(s\) lead to pods, but net\.ipv4\.ip_forward is 0/);
  assert.match(t, /evidence:\n\s+- net\.ipv4\.ip_forward = 0/);
  assert.match(t, /fix:\n\s+sysctl -w net\.ipv4\.ip_forward=1/);
  const j = JSON.parse(renderJson(r)) as { findings: { id: string; severity: string; title: string; evidence: unknown[]; fix: string[] }[]; durationMs: number };
  assert.deepEqual(j.findings.map((f) => [f.id, f.severity]), [['forwarding', 'error'], ['conntrack-full', 'warn']]);
  assert.equal(j.durationMs, 0);
  assert.match(renderText(runChecks(snap(healthyNode()), inputs())), /no findings/);
});

test('metric samples: every check that ran and severity, zeros included, internal only when a check failed', () => {
  const r = runChecks(broken(), inputs(), { only: ['forwarding', 'conntrack-full', 'rp-filter'] });
  const samples = findingSamples(r);
  assert.equal(samples.length, 9);
  assert.deepEqual(samples.filter((x) => x.value > 0), [{ check: 'forwarding', severity: 'error', value: 1 }, { check: 'conntrack-full', severity: 'warn', value: 1 }]);
  const bad: Check = { id: 'boom', title: 'throws', run: () => { throw new Error('no'); } };
  const withInternal = findingSamples(runChecks(broken(), inputs(), { checks: [bad] }));
  assert.deepEqual(withInternal.filter((x) => x.value > 0), [{ check: 'internal', severity: 'error', value: 1 }]);
});
