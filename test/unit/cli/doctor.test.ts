// `pathguard doctor` on the command line (through the harness entry that
// wires it like main.ts): help, exit codes 0/1/2, --check, --fail-on,
// --snapshot and --save-snapshot. No root needed: every run uses --snapshot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOCTOR_FIELDS } from '../../../src/doctor/config.js';
import { CHECK_IDS } from '../../../src/doctor/registry.js';
import { decodeSnapshot } from '../../../src/doctor/snapshot.js';
import { envNames, flagName, type Field } from '../../../src/config/field.js';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/doctor/', import.meta.url));
const run = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [MAIN, 'doctor', ...args], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', ...env } });

test('--help lists every option with its environment variables, every check id, and the exit codes', () => {
  const r = run(['--help']);
  assert.equal(r.status, 0, r.stderr);
  const help = r.stdout.replace(/\s+/g, ' ');
  for (const [key, spec] of Object.entries(DOCTOR_FIELDS)) {
    assert.ok(help.includes(`--${flagName(key)}`), `--${flagName(key)}`);
    for (const env of envNames(key, spec as Field<unknown>)) assert.ok(help.includes(env), env);
  }
  for (const id of CHECK_IDS) assert.ok(help.includes(` ${id} `), id);
  assert.match(help, /Exit status: 0 no finding at --fail-on \(default error\) or above; 1 at least one; 2 usage/);
});

test('usage errors name the flag and exit 2', () => {
  let r = run(['--fail-on', 'sometimes', '--check', 'rp-filter,nope', '--vip-networks', '192.0.2.0/33']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--fail-on: got "sometimes", expected one of warn, error/);
  assert.match(r.stderr, /--check\[1\]: got "nope", expected one of rp-filter/);
  assert.match(r.stderr, /--vip-networks\[0\]: got "192\.0\.2\.0\/33", expected a prefix/);
  r = run(['--snapshot', '/nonexistent/node.json']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--snapshot: got "\/nonexistent\/node\.json", expected a readable file/);
});

test('a snapshot that does not validate exits 2 naming the field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgt-doctor-'));
  try {
    const s = JSON.parse(readFileSync(join(FIXTURES, 'tunnels-fitting.json'), 'utf8')) as { links: { mtu: unknown }[] };
    s.links[2]!.mtu = 'big';
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(s));
    const r = run(['--snapshot', join(dir, 'bad.json')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--snapshot\.links\[2\]\.mtu: got "big", expected a value of type number/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('exit 1 on an error finding, 0 with --check naming only healthy checks; --fail-on warn turns warnings into failures', () => {
  const ipvs = join(FIXTURES, 'ipvs-director.json');
  let r = run(['--snapshot', ipvs, '--json']);
  assert.equal(r.status, 0, r.stderr); // warnings only
  const j = JSON.parse(r.stdout) as { findings: { id: string; severity: string }[] };
  assert.deepEqual(j.findings.map((f) => `${f.id}:${f.severity}`), ['tcp-mtu-probing:warn', 'relay-missing:warn']);
  r = run(['--snapshot', ipvs, '--fail-on', 'warn']);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /WARN \(breaks under conditions this node is set up for\)/);
  r = run(['--snapshot', join(FIXTURES, 'tunnels-too-big.json')], { PATHGUARD_CHECK: 'mtu-overhead' });
  assert.equal(r.status, 1);
  r = run(['--snapshot', join(FIXTURES, 'tunnels-too-big.json'), '--check', 'rp-filter,arp-vip']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /2 checks: 0 error, 0 warn, 0 info/);
});

test('--save-snapshot writes what --snapshot reads back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgt-doctor-'));
  try {
    const r = run(['--snapshot', join(FIXTURES, 'lvs-realserver-ipip.json'), '--save-snapshot', join(dir, 'copy.json'), '--json']);
    assert.equal(r.status, 1);
    const copy = decodeSnapshot(readFileSync(join(dir, 'copy.json'), 'utf8'));
    assert.equal(copy.hostname, 'realserver-1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
