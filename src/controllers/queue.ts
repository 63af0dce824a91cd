/**
 * A keyed work queue (client-go's workqueue, reduced): a key added while pending is queued once;
 * a key added while being processed runs again afterwards; keys run one at a time, in order; a
 * failed key is retried with exponential backoff and never blocks the others.
 */
export interface KeyedQueueOptions {
  retryBaseMs?: number;
  retryMaxMs?: number;
  onError?: (key: string, err: unknown, attempt: number) => void;
  onDepth?: (depth: number) => void;
}

export class KeyedQueue {
  private readonly pending = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private running = false;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly handler: (key: string) => Promise<void>,
    private readonly options: KeyedQueueOptions = {},
  ) {}

  get depth(): number {
    return this.pending.size;
  }

  add(key: string): void {
    if (this.stopped) return;
    this.pending.add(key);
    this.options.onDepth?.(this.pending.size);
    if (!this.running) void this.drain();
  }

  /** Resolves when nothing is pending or running (retries waiting on a timer do not count). */
  idle(): Promise<void> {
    if (!this.running && this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    this.pending.clear();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.options.onDepth?.(0);
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (!this.stopped && this.pending.size > 0) {
        const key = this.pending.values().next().value as string;
        this.pending.delete(key);
        this.options.onDepth?.(this.pending.size);
        try {
          await this.handler(key);
          this.failures.delete(key);
        } catch (err) {
          const attempt = (this.failures.get(key) ?? 0) + 1;
          this.failures.set(key, attempt);
          this.options.onError?.(key, err, attempt);
          const base = this.options.retryBaseMs ?? 200;
          const delay = Math.min(this.options.retryMaxMs ?? 30_000, base * 2 ** Math.min(attempt - 1, 16));
          const t = setTimeout(() => {
            this.timers.delete(t);
            this.add(key);
          }, delay);
          t.unref?.();
          this.timers.add(t);
        }
      }
    } finally {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
