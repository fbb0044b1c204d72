/**
 * A bounded history of cumulative counters for the status page: one ring of
 * sample times and, per series, one fixed-size Float64Array of the same
 * length. Memory is fixed when a series first appears (capacity × 8 bytes)
 * and never grows with uptime; the number of series is capped too, so a
 * component that invents series names cannot grow it either.
 *
 * A slot with no value for a series holds NaN (the series did not exist yet,
 * or was not reported in that sample); snapshots leave those out, so JSON
 * never carries NaN.
 */
import type { HistoryDocument, HistorySample } from './model.js';

export interface StatusHistoryOptions {
  /** The sampling period the runtime uses; reported in the document so the page knows the spacing. */
  readonly intervalMs: number;
  /** How far back to keep; default 15 minutes. Capacity is windowMs / intervalMs samples (at least 2). */
  readonly windowMs?: number;
  /** At most this many series; default 64. A new series beyond it replaces one that has no value left in the window, else it is ignored. */
  readonly maxSeries?: number;
}

export const DEFAULT_HISTORY_WINDOW_MS = 15 * 60_000;
export const DEFAULT_MAX_SERIES = 64;

export class StatusHistory {
  readonly intervalMs: number;
  /** Samples kept at most. */
  readonly capacity: number;
  readonly maxSeries: number;

  readonly #times: Float64Array;
  readonly #series = new Map<string, Float64Array>();
  /** Index of the slot the next sample goes to. */
  #next = 0;
  #count = 0;
  #ignoredSeries = 0;

  constructor(opts: StatusHistoryOptions) {
    if (!Number.isInteger(opts.intervalMs) || opts.intervalMs <= 0) throw new RangeError(`intervalMs must be a positive integer, got ${opts.intervalMs}`);
    const windowMs = opts.windowMs ?? DEFAULT_HISTORY_WINDOW_MS;
    if (!(windowMs >= opts.intervalMs)) throw new RangeError(`windowMs (${windowMs}) must be at least intervalMs (${opts.intervalMs})`);
    this.intervalMs = opts.intervalMs;
    // +1: n samples span n-1 intervals, and a full window of rates needs a delta at each end.
    this.capacity = Math.max(2, Math.ceil(windowMs / opts.intervalMs) + 1);
    this.maxSeries = opts.maxSeries ?? DEFAULT_MAX_SERIES;
    this.#times = new Float64Array(this.capacity);
  }

  /** Samples held now (at most `capacity`). */
  get size(): number {
    return this.#count;
  }

  /** Series names held now. */
  get seriesCount(): number {
    return this.#series.size;
  }

  /** Series that could not be stored because `maxSeries` were in use. */
  get ignoredSeries(): number {
    return this.#ignoredSeries;
  }

  /**
   * Appends one sample taken at `t` (epoch ms), overwriting the oldest when
   * full. Non-finite values are treated as absent.
   */
  record(t: number, values: Readonly<Record<string, number>>): void {
    const slot = this.#next;
    this.#times[slot] = t;
    // The slot is reused: clear every series there first, so one not reported now reads as absent.
    for (const ring of this.#series.values()) ring[slot] = NaN;
    for (const [name, value] of Object.entries(values)) {
      if (!Number.isFinite(value)) continue;
      const ring = this.#series.get(name) ?? this.#addSeries(name);
      if (ring !== undefined) ring[slot] = value;
    }
    this.#next = (slot + 1) % this.capacity;
    this.#count = Math.min(this.#count + 1, this.capacity);
  }

  /** The history as /status carries it, oldest sample first. */
  snapshot(): HistoryDocument {
    const samples: HistorySample[] = [];
    const start = (this.#next - this.#count + this.capacity) % this.capacity;
    for (let i = 0; i < this.#count; i++) {
      const slot = (start + i) % this.capacity;
      const series: Record<string, number> = {};
      for (const [name, ring] of this.#series) {
        const v = ring[slot]!;
        if (!Number.isNaN(v)) series[name] = v;
      }
      samples.push({ t: this.#times[slot]!, series });
    }
    return { intervalMs: this.intervalMs, samples };
  }

  #addSeries(name: string): Float64Array | undefined {
    if (this.#series.size >= this.maxSeries) {
      // Reuse the ring of a series with nothing left in the window (a component that went away).
      const stale = [...this.#series].find(([, ring]) => ring.every(Number.isNaN));
      if (stale === undefined) {
        this.#ignoredSeries++;
        return undefined;
      }
      this.#series.delete(stale[0]);
    }
    const ring = new Float64Array(this.capacity).fill(NaN);
    this.#series.set(name, ring);
    return ring;
  }
}

export interface SamplerOptions {
  /** Time source; default Date.now. */
  readonly now?: () => number;
  /** Timer functions, injectable for tests; defaults are the global ones. */
  readonly setInterval?: (fn: () => void, ms: number) => unknown;
  readonly clearInterval?: (handle: unknown) => void;
  /** Told when `read` throws (that sample is skipped: the chart shows a gap, not a made-up value). */
  readonly onError?: (err: unknown) => void;
}

/**
 * Records `read()` into `history` now and then every `history.intervalMs`.
 * The timer does not keep the process alive. Returns the function that stops it.
 * A `read` that throws skips that sample and is reported to `onError`.
 */
export function startSampling(history: StatusHistory, read: () => Readonly<Record<string, number>>, opts: SamplerOptions = {}): () => void {
  const now = opts.now ?? Date.now;
  const sample = (): void => {
    let values: Readonly<Record<string, number>>;
    try {
      values = read();
    } catch (err) {
      opts.onError?.(err);
      return;
    }
    history.record(now(), values);
  };
  sample();
  const handle = (opts.setInterval ?? ((fn: () => void, ms: number) => setInterval(fn, ms).unref()))(sample, history.intervalMs);
  return () => (opts.clearInterval ?? ((h: unknown) => clearInterval(h as NodeJS.Timeout)))(handle);
}
