/**
 * At most one apply runs; while it runs, any number of triggers collapse into one queued run
 * (VS Code's Throttler). Because calculators depend only on current inputs, running once more
 * after a burst of events is always enough.
 */
export class Throttler {
  private running: Promise<void> | undefined;
  private queued = false;

  constructor(private readonly task: () => Promise<void>) {}

  trigger(): Promise<void> {
    if (this.running) {
      this.queued = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.queued = false;
          await this.task();
        } while (this.queued);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** Resolves when no run is in flight. */
  async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
  }
}
