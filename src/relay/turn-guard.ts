/**
 * What the data plane does when one of its turns throws.
 *
 * Decoding is total, so a bad packet never throws; an exception in a turn is
 * a bug or a broken socket. A bug costs that turn, not the relay: it is
 * counted, reported at most once per report interval, and whatever the turn
 * had already queued is still sent (onFailure). Only an error that repeats
 * on every turn, which is what a broken socket looks like, is rethrown and
 * ends the relay with its cause.
 */
export interface TurnGuardOptions {
  /** Called once per failed turn, before any report (count it, flush queued replicas). */
  readonly onFailure: (err: unknown) => void;
  /** Called at most once per reportIntervalMs with the error and the failures since start. */
  readonly report: (err: unknown, failures: number) => void;
  /** Consecutive failed turns after which the error is rethrown. */
  readonly maxConsecutive?: number;
  readonly reportIntervalMs?: number;
  readonly now?: () => number;
}

export class TurnGuard {
  private consecutive = 0;
  private failures = 0;
  private lastReport = -Infinity;
  private readonly maxConsecutive: number;
  private readonly reportIntervalMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: TurnGuardOptions) {
    this.maxConsecutive = opts.maxConsecutive ?? 100;
    this.reportIntervalMs = opts.reportIntervalMs ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  run(turn: () => void): void {
    try {
      turn();
      this.consecutive = 0;
    } catch (err) {
      this.failures++;
      if (++this.consecutive > this.maxConsecutive) throw err;
      this.opts.onFailure(err);
      const now = this.now();
      if (now - this.lastReport >= this.reportIntervalMs) {
        this.lastReport = now;
        this.opts.report(err, this.failures);
      }
    }
  }
}
