/**
 * One undo step per side effect of a multi-step operation; `unwind` runs them newest first and
 * keeps going past failures (a failed undo must not hide the original error or skip the rest).
 */
export class UndoStack {
  private readonly steps: { what: string; fn: () => Promise<unknown> }[] = [];
  readonly failures: { what: string; error: unknown }[] = [];

  push(what: string, fn: () => Promise<unknown>): void {
    this.steps.push({ what, fn });
  }

  get size(): number {
    return this.steps.length;
  }

  async unwind(): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step.fn();
      } catch (error) {
        this.failures.push({ what: step.what, error });
      }
    }
  }
}
