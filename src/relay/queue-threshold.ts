/**
 * How many captured messages the kernel should gather into one NFLOG
 * datagram (NFULA_CFG_QTHRESH), chosen from the rate the relay sees.
 *
 * One message per datagram gives the lowest latency: the kernel hands each
 * message over at once. Under a flood it is also the most expensive way to
 * read: an skb, a netlink delivery and a wake-up per message. Gathering
 * messages amortises all three (measured in bench/relay-throughput.bench.ts:
 * 32 per datagram cut the relay's CPU per message by about 15% and raised the
 * loss-free rate from 200k to 240k msg/s), but a message then waits for the
 * datagram to fill or for the flush timer, which fires on the next jiffy
 * (flushTimeout 0; up to 4 ms at HZ=250), far above the latency target.
 *
 * So the threshold follows the rate: rate x targetDelay messages, rounded
 * down to a power of two, between 1 and `max`. At that threshold a datagram
 * fills within targetDelay as long as the rate holds, so the wait a message
 * adds stays under targetDelay; at low rates the threshold is 1 and nothing
 * waits. The rate is measured over fixed windows; the threshold moves at most
 * once per window, and only when the power of two changes.
 */
export interface QueueThresholdOptions {
  /** Longest a message should wait for its datagram to fill, in ms (default 0.2). */
  readonly targetDelayMs?: number;
  /** Largest threshold (default 64; nlbufsiz bounds a datagram anyway). */
  readonly max?: number;
  /** Window the rate is measured over, in ms (default 100). */
  readonly windowMs?: number;
}

export class QueueThreshold {
  private readonly targetDelayMs: number;
  private readonly max: number;
  private readonly windowMs: number;
  private windowStart: number | undefined;
  private count = 0;
  private current = 1;

  constructor(o: QueueThresholdOptions = {}) {
    this.targetDelayMs = o.targetDelayMs ?? 0.2;
    this.max = o.max ?? 64;
    this.windowMs = o.windowMs ?? 100;
    if (!(this.targetDelayMs > 0)) throw new RangeError(`targetDelayMs must be positive, got ${this.targetDelayMs}`);
    if (!Number.isInteger(this.max) || this.max < 1) throw new RangeError(`max must be a positive integer, got ${this.max}`);
    if (!(this.windowMs > 0)) throw new RangeError(`windowMs must be positive, got ${this.windowMs}`);
  }

  /** The threshold in force (1 until observe() says otherwise). */
  get value(): number {
    return this.current;
  }

  /**
   * Records `messages` read at `nowMs` (call it on every loop turn, with 0
   * when a poll timed out, so a rate that drops to nothing is seen). Returns
   * the new threshold when it should change, else undefined.
   */
  observe(messages: number, nowMs: number): number | undefined {
    if (this.windowStart === undefined) this.windowStart = nowMs;
    this.count += messages;
    const elapsed = nowMs - this.windowStart;
    if (elapsed < this.windowMs) return undefined;
    const perMs = this.count / elapsed;
    this.windowStart = nowMs;
    this.count = 0;
    const wanted = Math.min(this.max, floorPowerOfTwo(perMs * this.targetDelayMs));
    if (wanted === this.current) return undefined;
    this.current = wanted;
    return wanted;
  }
}

/** The largest power of two <= x, and 1 for x < 2. */
function floorPowerOfTwo(x: number): number {
  if (!(x >= 2)) return 1;
  return 2 ** Math.floor(Math.log2(x));
}
