/**
 * The benchmarks' traffic source: a pool of frames sent with AF_PACKET in
 * batches, paced by a token count checked about every millisecond.
 */
import { PacketSender, type Frame } from '../../src/net/packet-socket.js';
import { ETH_P } from '../../src/wire/ethernet.js';

export interface Generated {
  attempted: number;
  sent: number;
  failed: number;
  ns: number;
  /** Largest backlog of due-but-unsent frames seen (the generator falling behind its schedule). */
  maxLag: number;
  cpuUs: number;
}

export class FrameGenerator {
  private readonly sender: PacketSender;
  private readonly pool: readonly Uint8Array[];
  /** batches[n]: n reusable Frame objects, so a send of n frames allocates nothing. */
  private readonly batches: { payload: Uint8Array; mac: Uint8Array; protocol: number }[][] = [];
  private readonly tick = new Int32Array(new SharedArrayBuffer(4));
  private k = 0;

  constructor(sender: PacketSender, pool: readonly Uint8Array[], mac: Uint8Array) {
    this.sender = sender;
    this.pool = pool;
    for (let n = 0; n <= sender.batchSize; n++) {
      this.batches.push(Array.from({ length: n }, () => ({ payload: pool[0]!, mac, protocol: ETH_P.IP })));
    }
  }

  /** Index the next frame will take from the pool. */
  get cursor(): number {
    return this.k;
  }

  /** Sends `rate` frames/s for `ms` (synchronous: this thread does nothing else meanwhile). */
  run(rate: number, ms: number): Generated {
    const total = Math.round((rate * ms) / 1000);
    const cpu0 = process.cpuUsage();
    const start = process.hrtime.bigint();
    let attempted = 0;
    let sent = 0;
    let failed = 0;
    let maxLag = 0;
    for (;;) {
      const elNs = Number(process.hrtime.bigint() - start);
      const due = Math.min(total, Math.floor((rate * elNs) / 1e9));
      maxLag = Math.max(maxLag, due - attempted);
      while (attempted < due) {
        const n = Math.min(this.sender.batchSize, due - attempted);
        const frames = this.batches[n]!;
        for (let j = 0; j < n; j++) {
          frames[j]!.payload = this.pool[this.k]!;
          this.k = (this.k + 1) % this.pool.length;
        }
        const r = this.sender.sendTo(frames as readonly Frame[]);
        sent += r.sent;
        failed += r.failed;
        attempted += n;
      }
      if (attempted >= total) break;
      // Sleep until the next frame is due, but at least ~1 ms at high rates (token pacing per ms).
      const nextMs = ((attempted + 1) * 1000) / rate - elNs / 1e6;
      Atomics.wait(this.tick, 0, 0, Math.max(rate >= 1000 ? 1 : 0, nextMs));
    }
    const ns = Number(process.hrtime.bigint() - start);
    const c = process.cpuUsage(cpu0);
    return { attempted, sent, failed, ns, maxLag, cpuUs: c.user + c.system };
  }
}
