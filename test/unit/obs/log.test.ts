import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError, UnsupportedError } from '../../../src/errors.js';
import { componentLogger, createLogger, parseLogLevel } from '../../../src/obs/log.js';

function withTmp(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'pg-log-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('JSON lines with a level label, a component and an ISO time; written synchronously', () => {
  withTmp((dir) => {
    const path = join(dir, 'log');
    const log = createLogger({ level: 'info', destination: path });
    const relay = componentLogger(log, 'relay');
    relay.info({ peers: 3 }, 'fan-out changed');
    relay.debug('not at info');
    // No flush, no await: the line is already in the file.
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    assert.equal(lines.length, 1);
    const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(rec.level, 'info');
    assert.equal(rec.component, 'relay');
    assert.equal(rec.name, 'pathguard');
    assert.equal(rec.msg, 'fan-out changed');
    assert.equal(rec.peers, 3);
    assert.equal(rec.pid, process.pid);
    assert.match(String(rec.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });
});

test('errors keep their stable code in the log line', () => {
  withTmp((dir) => {
    const path = join(dir, 'log');
    createLogger({ level: 'warn', destination: path }).error({ err: new UnsupportedError('nftables', 'nft is not installed') }, 'cannot manage firewall');
    const rec = JSON.parse(readFileSync(path, 'utf8')) as { err: { code: string; type: string; message: string } };
    assert.equal(rec.err.code, 'PG_UNSUPPORTED');
    assert.equal(rec.err.type, 'UnsupportedError');
    assert.match(rec.err.message, /nft is not installed/);
  });
});

test('log levels are validated with the field name', () => {
  assert.equal(parseLogLevel('debug'), 'debug');
  assert.throws(() => parseLogLevel('verbose', 'log-level'), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.problems[0]!.field, 'log-level');
    return true;
  });
});

test('a line logged right before process.exit() reaches stderr (the default destination)', () => {
  const mod = fileURLToPath(new URL('../../../src/obs/log.js', import.meta.url));
  const script = `import { createLogger } from ${JSON.stringify(mod)};
const log = createLogger({ level: 'info' });
for (let i = 0; i < 200; i++) log.info({ i }, 'line');
process.exit(3);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 3);
  assert.equal(r.stdout, '', 'nothing on stdout: it belongs to command output');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 200);
  assert.equal((JSON.parse(lines[199]!) as { i: number }).i, 199);
});
