/**
 * One driver's apply loop, the same for every driver: at most one apply at a time, triggers
 * collapsed into one queued run (Throttler), the same metrics, problem reporting and retry.
 *
 * Retry rule: a failed apply is counted (`tessera_agent_apply_failures_total{dataplane}`), logged,
 * reported (status `problems` and `lastApplyError`) and retried as a full apply after 1 s, doubling
 * per consecutive failure up to 30 s (`RETRY`); a success resets the delay and clears the error.
 * Any other run of the loop in between (a datastore change, the resync) also applies in full. A
 * `bug` error is not retried: the agent exits (`onBug`).
 */
import type { Logger } from 'pino';
import { describeError } from '../lib/errors.js';
import type { DataplaneDriver } from './driver.js';
import type { AgentMetrics } from './health.js';
import type { DatastoreMirror } from './mirror.js';
import { Throttler } from './throttler.js';

/** Delay before the first retry, doubled per consecutive failure up to `maxMs`. */
export interface RetrySchedule {
  firstMs: number;
  maxMs: number;
}
export const RETRY: RetrySchedule = { firstMs: 1000, maxMs: 30_000 };

/** The delay before retry number `failures` (1 = first). */
export function retryDelayMs(failures: number, schedule: RetrySchedule = RETRY): number {
  return Math.min(schedule.maxMs, schedule.firstMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
}

export interface DriverLoopOptions {
  driver: DataplaneDriver;
  mirror: DatastoreMirror;
  metrics: AgentMetrics;
  log: Logger;
  /** Whether an apply may run now (in sync, not stopped). */
  gate: () => boolean;
  /** Awaited before the first apply (the loops of the drivers this one comes after). */
  before?: () => Promise<void>;
  /** After every run that applied (the agent writes its status). */
  afterRun: () => Promise<void>;
  /** A `bug` error: the agent exits rather than run with an unknown dataplane. */
  onBug: (e: unknown) => void;
  retry?: RetrySchedule;
}

export class DriverLoop {
  readonly driver: DataplaneDriver;
  private readonly throttler: Throttler;
  private needFull = true;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private error: string | undefined;
  private programmedOnce = false;
  private stopped = false;
  private ranOnce!: () => void;
  /** Resolves once the loop has applied once (whatever the outcome), or is stopped. */
  readonly firstRun = new Promise<void>((r) => (this.ranOnce = r));

  constructor(private readonly o: DriverLoopOptions) {
    this.driver = o.driver;
    this.throttler = new Throttler(() => this.run());
  }

  get name(): string {
    return this.driver.name;
  }
  /** An apply has succeeded since start (readiness needs every loop's). */
  get programmed(): boolean {
    return this.programmedOnce;
  }
  /** Why the last apply failed; undefined once one succeeds. */
  get lastError(): string | undefined {
    return this.error;
  }
  /** Consecutive failed applies (0 after a success). */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Schedules a run (collapsed with any run already queued). */
  kick(): void {
    if (this.stopped || !this.o.gate()) return;
    this.throttler.trigger().catch(() => undefined);
  }

  /** The next run applies in full (in-sync, periodic resync). */
  markFull(): void {
    this.needFull = true;
  }

  /** The driver's problems and the last apply error, each prefixed with the driver's name. */
  problems(): string[] {
    const out = (this.driver.problems?.() ?? []).map((p) => `${this.name}: ${p}`);
    if (this.error !== undefined) out.push(`${this.name}: ${this.error}`);
    return out;
  }

  /** Resolves when no run is in flight. */
  idle(): Promise<void> {
    return this.throttler.idle();
  }

  /** No more runs or retries; a loop waiting for this one's first run goes on. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.ranOnce();
  }

  private async run(): Promise<void> {
    if (this.stopped || !this.o.gate()) return;
    if (!this.programmedOnce && this.o.before) await this.o.before();
    if (this.stopped || !this.o.gate()) return;
    const full = this.needFull;
    if (!full && this.driver.pending && !this.driver.pending()) return;
    this.needFull = false;
    const t0 = performance.now();
    try {
      await this.driver.apply(this.o.mirror, full);
      this.programmedOnce = true;
      this.error = undefined;
      this.failures = 0;
      clearTimeout(this.retryTimer);
    } catch (e) {
      this.o.metrics.applyFailures.inc({ dataplane: this.name });
      this.needFull = true;
      this.failures++;
      this.error = describeError(e);
      const retryInMs = retryDelayMs(this.failures, this.o.retry);
      this.o.log.error({ dataplane: this.name, err: this.error, retryInMs }, 'apply failed; will retry');
      this.o.onBug(e);
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.kick(), retryInMs);
      this.retryTimer.unref();
    } finally {
      this.o.metrics.applySeconds.observe({ dataplane: this.name }, (performance.now() - t0) / 1000);
      this.ranOnce();
      await this.o.afterRun();
    }
  }
}
