/**
 * HTTP client for bench/relay-throughput.bench.ts, run inside the relay's
 * network namespace (`ip netns exec NODE node relay-probe.js HOST PORT`),
 * because the relay's status server listens there and a socket belongs to
 * the namespace it was created in. Not a benchmark itself (the runner only
 * picks up *.bench.js).
 *
 * Protocol: one JSON request per line on stdin, one JSON answer per line on
 * stdout, carrying the request's id:
 *   {"id":1,"op":"metrics"}                        → {"id":1,"text":"..."}
 *   {"id":2,"op":"health","count":50,"spanMs":3000} → {"id":2,"ms":[...],"status":[...]}
 * `health` issues `count` GET /healthz one after another, started every
 * spanMs/count ms, each on a new connection (as kubelet's HTTP probe does:
 * keep-alive off), and times each from request to the last byte of the reply.
 * Exits when stdin closes.
 */
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';

const host = process.argv[2] ?? '127.0.0.1';
const port = Number(process.argv[3] ?? 9462);

interface Reply {
  readonly status: number;
  readonly body: string;
  readonly ms: number;
}

function get(path: string, timeoutMs: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request({ host, port, path, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

async function health(count: number, spanMs: number): Promise<{ ms: number[]; status: number[] }> {
  const ms: number[] = [];
  const status: number[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    await sleep(start + (spanMs * i) / count - performance.now());
    try {
      const r = await get('/healthz', 5000);
      ms.push(r.ms);
      status.push(r.status);
    } catch (err) {
      // A timed-out or refused probe is a result (status 0), not a reason to stop measuring.
      ms.push(performance.now() - start - (spanMs * i) / count);
      status.push(0);
      process.stderr.write(`relay-probe: ${(err as Error).message}\n`);
    }
  }
  return { ms, status };
}

type Request = { id: number; op: 'metrics' } | { id: number; op: 'health'; count: number; spanMs: number };

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const req = JSON.parse(line) as Request;
  const answer = req.op === 'metrics' ? get('/metrics', 5000).then((r) => ({ text: r.body, status: r.status })) : health(req.count, req.spanMs);
  answer.then(
    (a) => process.stdout.write(`${JSON.stringify({ id: req.id, ...a })}\n`),
    (err: Error) => process.stdout.write(`${JSON.stringify({ id: req.id, error: err.message })}\n`),
  );
});
rl.on('close', () => process.exit(0));
