// `pathguard routes --help` documents every option of ROUTES_FIELDS with its
// environment aliases, and configuration errors exit 2 before touching the kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ROUTES_FIELDS } from '../../../src/routes/config.js';
import { envNames, flagName, type Field } from '../../../src/config/field.js';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const run = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', ...env } });

test('--help lists every option, its environment variables, the modes and the exit codes', () => {
  const r = run(['routes', '--help']);
  assert.equal(r.status, 0, r.stderr);
  const help = r.stdout.replace(/\s+/g, ' ');
  for (const [key, spec] of Object.entries(ROUTES_FIELDS)) {
    assert.ok(help.includes(`--${flagName(key)}`), `--${flagName(key)}`);
    for (const env of envNames(key, spec as Field<unknown>)) assert.ok(help.includes(env), env);
  }
  for (const alias of ['NODE_NAME', 'TABLE_WEIGHT', 'RULE_PRIORITY', 'RULE_FWMARK', 'PEER_WEIGHT', 'MAX_RECONCILE_WAIT', 'METALLB_STATIC_FILE', 'ONESHOT', 'CLEANANDEXIT']) {
    assert.ok(help.includes(alias), alias);
  }
  assert.ok(help.includes('--no-suppress') && help.includes('--no-use-crds'));
  assert.match(help, /Exit status: 0 the kernel matches the configuration; 1 something was skipped, held or failed/);
  assert.match(help, /--clean remove every rule and route with protocol 112/);
});

test('configuration errors name the field and exit 2', () => {
  const r = run(['routes', '--once', '--metallb-file', '/dev/null'], { NODE_NAME: 'node-1', TABLE_WEIGHT: '254', PEER_WEIGHT: '0' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /TABLE_WEIGHT/);
  assert.match(r.stderr, /PEER_WEIGHT/);
});
