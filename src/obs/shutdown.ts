/**
 * Orderly shutdown on SIGINT/SIGTERM.
 *
 * Steps run one at a time in reverse order of registration — what started
 * last stops first (stop answering /readyz, stop the data plane, remove the
 * firewall table, remove the ready file). A failing step is logged and the
 * rest still run; the exit code is then 1. If the steps together take longer
 * than the timeout, the process exits with 1, naming the step that hung. A
 * second signal while cleaning up exits at once with 128 + the signal
 * number, as a shell reports a signal death (130 for SIGINT, 143 for SIGTERM).
 *
 * The signal source and exit function are injected so tests drive it
 * without signalling the test runner.
 */
import { constants } from 'node:os';
import type { Logger } from './log.js';

export interface SignalTarget {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface ShutdownOptions {
  /** Total time allowed for all steps; default 10 s (below Kubernetes' 30 s grace period). */
  readonly timeoutMs?: number;
  /** Default SIGINT and SIGTERM. */
  readonly signals?: readonly NodeJS.Signals[];
  /** Default `process`. */
  readonly target?: SignalTarget;
  /** Default `process.exit`. */
  readonly exit?: (code: number) => void;
  readonly log?: Logger;
}

export type ShutdownStep = () => void | Promise<void>;

export class Shutdown {
  private readonly steps: { name: string; run: ShutdownStep }[] = [];
  private readonly timeoutMs: number;
  private readonly signals: readonly NodeJS.Signals[];
  private readonly target: SignalTarget;
  private readonly exit: (code: number) => void;
  private readonly log: Logger | undefined;
  private running: Promise<number> | undefined;
  private installed = false;
  private readonly onSignal = (signal: NodeJS.Signals): void => this.signalled(signal);

  constructor(opts: ShutdownOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.signals = opts.signals ?? ['SIGINT', 'SIGTERM'];
    this.target = opts.target ?? process;
    this.exit = opts.exit ?? ((code) => process.exit(code));
    this.log = opts.log;
  }

  /** Adds a cleanup step; steps run last-added first. */
  add(name: string, run: ShutdownStep): void {
    this.steps.push({ name, run });
  }

  /** Starts listening for the signals. */
  install(): this {
    if (!this.installed) {
      for (const s of this.signals) this.target.on(s, this.onSignal);
      this.installed = true;
    }
    return this;
  }

  /** Stops listening (the default signal behaviour returns). */
  uninstall(): void {
    if (!this.installed) return;
    for (const s of this.signals) this.target.off(s, this.onSignal);
    this.installed = false;
  }

  /** True once shutdown has begun. */
  get started(): boolean {
    return this.running !== undefined;
  }

  /**
   * Runs the steps once (later calls get the same result) and resolves with
   * the exit code: 0 when every step succeeded, 1 on a failure or timeout.
   * Does not exit; the signal path does.
   */
  trigger(reason: string): Promise<number> {
    if (this.running === undefined) this.running = this.runSteps(reason);
    return this.running;
  }

  private signalled(signal: NodeJS.Signals): void {
    if (this.running !== undefined) {
      const code = 128 + (constants.signals[signal] ?? 0);
      this.log?.warn({ signal, code }, 'second signal during shutdown: exiting now');
      this.exit(code);
      return;
    }
    this.trigger(signal).then(
      (code) => this.exit(code),
      (err: unknown) => {
        // runSteps catches step errors itself; reaching this is a bug, still exit.
        this.log?.fatal({ err }, 'shutdown failed');
        this.exit(1);
      },
    );
  }

  private async runSteps(reason: string): Promise<number> {
    this.log?.info({ reason, steps: this.steps.length }, 'shutting down');
    let current = '';
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.timeoutMs);
    });
    const all = (async () => {
      let failed = false;
      for (const step of [...this.steps].reverse()) {
        current = step.name;
        const t0 = performance.now();
        try {
          await step.run();
          this.log?.debug({ step: step.name, ms: Math.round(performance.now() - t0) }, 'shutdown step done');
        } catch (err) {
          failed = true;
          this.log?.error({ err, step: step.name }, 'shutdown step failed');
        }
      }
      return failed ? 1 : 0;
    })();
    try {
      const r = await Promise.race([all, timedOut]);
      if (r === 'timeout') {
        this.log?.error({ step: current, timeoutMs: this.timeoutMs }, 'shutdown timed out');
        return 1;
      }
      this.log?.info({ code: r }, 'shutdown complete');
      return r;
    } finally {
      clearTimeout(timer);
    }
  }
}
