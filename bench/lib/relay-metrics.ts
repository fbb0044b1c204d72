/**
 * The relay's Prometheus metrics as seen from a benchmark: the text format
 * parsed into a map, and the client of bench/relay-probe.ts, the helper that
 * runs in the relay's network namespace (its status server listens there).
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export type Metrics = Map<string, number>;

export function parseMetrics(text: string): Metrics {
  const m: Metrics = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    m.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return m;
}

/** Sum of every series of metric `name`, whatever its labels (a per-peer counter in one number). */
export function sumSeries(m: Metrics, name: string): number {
  let s = 0;
  for (const [k, v] of m) if (k === name || k.startsWith(`${name}{`)) s += v;
  return s;
}

/** The helper process in the relay's namespace (bench/relay-probe.ts), asked for /metrics and timed /healthz runs. */
export class Probe {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();

  constructor(child: ChildProcess) {
    this.child = child;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as Record<string, unknown> & { id: number; error?: string };
      const w = this.waiting.get(msg.id);
      this.waiting.delete(msg.id);
      if (!w) return;
      if (msg.error !== undefined) w.reject(new Error(`relay-probe: ${msg.error}`));
      else w.resolve(msg);
    });
    child.on('close', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`relay-probe exited ${code}`));
      this.waiting.clear();
    });
  }

  private ask(req: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const p = new Promise<Record<string, unknown>>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    this.child.stdin!.write(`${JSON.stringify({ id, ...req })}\n`);
    return p;
  }

  async metrics(): Promise<Metrics> {
    const r = await this.ask({ op: 'metrics' });
    if (r['status'] !== 200) throw new Error(`/metrics answered ${String(r['status'])}`);
    return parseMetrics(r['text'] as string);
  }

  async health(count: number, spanMs: number): Promise<{ ms: number[]; status: number[] }> {
    const r = await this.ask({ op: 'health', count, spanMs });
    return { ms: r['ms'] as number[], status: r['status'] as number[] };
  }

  close(): void {
    this.child.stdin!.end();
  }
}
