import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readyFile } from '../../../src/obs/ready-file.js';

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pg-ready-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the ready file appears complete with the pid and the given content, and is removed', async () => {
  await withTmp(async (dir) => {
    const path = join(dir, 'ready');
    const rf = await readyFile(path, { metricsAddr: '127.0.0.1:40123' });
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { pid: process.pid, metricsAddr: '127.0.0.1:40123' });
    assert.deepEqual(readdirSync(dir), ['ready'], 'no temporary file left behind');
    await rf.remove();
    assert.equal(existsSync(path), false);
    await rf.remove(); // already gone: fine
  });
});

test('the file name only ever appears by rename: a watcher sees no write to the final name', async () => {
  await withTmp(async (dir) => {
    const events: string[] = [];
    const w = watch(dir, (type, name) => events.push(`${type}:${name}`));
    try {
      await readyFile(join(dir, 'ready'), { big: 'x'.repeat(256 * 1024) });
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      w.close();
    }
    // inotify reports IN_MOVED_TO as 'rename'; a non-atomic write would report 'change' on 'ready'.
    assert.ok(events.includes('rename:ready'), events.join(' '));
    assert.ok(!events.includes('change:ready'), events.join(' '));
    assert.equal(JSON.parse(readFileSync(join(dir, 'ready'), 'utf8')).big.length, 256 * 1024);
  });
});

test('re-announcing replaces the file atomically', async () => {
  await withTmp(async (dir) => {
    const path = join(dir, 'ready');
    await readyFile(path, { n: 1 });
    await readyFile(path, { n: 2 });
    assert.equal(JSON.parse(readFileSync(path, 'utf8')).n, 2);
    assert.deepEqual(readdirSync(dir), ['ready']);
  });
});

test('a directory that does not exist is an error, and nothing is left behind', async () => {
  await withTmp(async (dir) => {
    await assert.rejects(readyFile(join(dir, 'missing', 'ready')), { code: 'ENOENT' });
    assert.deepEqual(readdirSync(dir), []);
  });
});
