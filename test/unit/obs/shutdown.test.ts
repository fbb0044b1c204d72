import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { Shutdown } from '../../../src/obs/shutdown.js';
import { createLogger } from '../../../src/obs/log.js';

/** A stand-in for `process` as a signal source, and an exit that records. */
function harness() {
  const target = new EventEmitter();
  const exits: number[] = [];
  let exited!: (code: number) => void;
  const exitedP = new Promise<number>((r) => (exited = r));
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      cb();
    },
  });
  const log = createLogger({ level: 'debug', destination: sink });
  const exit = (code: number) => {
    exits.push(code);
    exited(code);
  };
  const signal = (s: NodeJS.Signals) => target.emit(s, s);
  return { target, exits, exitedP, lines, log, exit, signal };
}

const tick = () => new Promise((r) => setImmediate(r));

test('SIGTERM runs the steps last-added first, one at a time, then exits 0', async () => {
  const h = harness();
  const order: string[] = [];
  const sd = new Shutdown({ target: h.target, exit: h.exit, log: h.log }).install();
  sd.add('ready file', () => {
    order.push('ready file');
  });
  sd.add('firewall', async () => {
    order.push('firewall start');
    await new Promise((r) => setTimeout(r, 20));
    order.push('firewall end');
  });
  sd.add('data plane', () => {
    order.push('data plane');
  });
  h.signal('SIGTERM');
  assert.equal(await h.exitedP, 0);
  assert.deepEqual(order, ['data plane', 'firewall start', 'firewall end', 'ready file']);
  assert.deepEqual(h.exits, [0]);
  assert.ok(h.lines.some((l) => l.msg === 'shutting down' && l.reason === 'SIGTERM'));
});

test('a failing step is logged, the others still run, and the exit code is 1', async () => {
  const h = harness();
  const ran: string[] = [];
  const sd = new Shutdown({ target: h.target, exit: h.exit, log: h.log }).install();
  sd.add('a', () => {
    ran.push('a');
  });
  sd.add('b', () => {
    throw new Error('table busy');
  });
  h.signal('SIGINT');
  assert.equal(await h.exitedP, 1);
  assert.deepEqual(ran, ['a']);
  const failed = h.lines.find((l) => l.msg === 'shutdown step failed');
  assert.equal(failed?.step, 'b');
  assert.match(String((failed?.err as { message: string }).message), /table busy/);
});

test('a hung step is abandoned after the timeout, naming it, with exit 1', async () => {
  const h = harness();
  const sd = new Shutdown({ target: h.target, exit: h.exit, log: h.log, timeoutMs: 50 }).install();
  sd.add('watch', () => new Promise<void>(() => undefined));
  h.signal('SIGTERM');
  assert.equal(await h.exitedP, 1);
  const t = h.lines.find((l) => l.msg === 'shutdown timed out');
  assert.equal(t?.step, 'watch');
});

test('a second signal while cleaning up exits at once with 128 + signal number', async () => {
  const h = harness();
  let release!: () => void;
  const sd = new Shutdown({ target: h.target, exit: h.exit, log: h.log }).install();
  sd.add('slow', () => new Promise<void>((r) => (release = r)));
  h.signal('SIGTERM');
  await tick();
  assert.equal(sd.started, true);
  h.signal('SIGINT');
  assert.deepEqual(h.exits, [130]);
  release();
  await tick();
  await tick();
  assert.deepEqual(h.exits, [130, 0], 'the first shutdown still reports when it ends (the real exit never returns)');
});

test('trigger() runs once and does not exit; uninstall() stops listening', async () => {
  const h = harness();
  let runs = 0;
  const sd = new Shutdown({ target: h.target, exit: h.exit }).install();
  sd.add('x', () => {
    runs++;
  });
  assert.equal(h.target.listenerCount('SIGTERM'), 1);
  const [a, b] = await Promise.all([sd.trigger('fatal error'), sd.trigger('again')]);
  assert.equal(a, 0);
  assert.equal(b, 0);
  assert.equal(runs, 1);
  assert.deepEqual(h.exits, []);
  sd.uninstall();
  assert.equal(h.target.listenerCount('SIGTERM'), 0);
  assert.equal(h.target.listenerCount('SIGINT'), 0);
});
