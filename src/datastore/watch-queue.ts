/**
 * The buffer between a backend's event source and a `WatchStream` consumer. A stream only ever
 * ends by throwing (compacted / unavailable / aborted), never by returning, so consumers cannot
 * mistake a lost connection for a quiet prefix.
 */
import { TesseraError } from '../lib/errors.js';
import type { WatchEvent, WatchStream } from './backend.js';

export class WatchQueue implements WatchStream {
  private batches: WatchEvent[][] = [];
  private waiter: { resolve: () => void } | undefined;
  private error: TesseraError | undefined;
  private closed = false;
  private iterated = false;

  /** `onClose` runs once, when the consumer stops or the stream fails. */
  constructor(private readonly onClose: () => void) {}

  get isClosed(): boolean {
    return this.closed;
  }

  push(batch: WatchEvent[]): void {
    if (this.closed || this.error || batch.length === 0) return;
    this.batches.push(batch);
    this.wake();
  }

  /** Ends the stream after the already-queued batches are consumed. */
  fail(err: TesseraError): void {
    if (this.error) return;
    this.error = err;
    this.wake();
    this.close();
  }

  /** Ends the stream now, dropping queued batches (a connection lost with events in flight). */
  failNow(err: TesseraError): void {
    this.batches = [];
    this.fail(err);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.resolve();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent[]> {
    if (this.iterated) throw new TesseraError('bug', 'a watch stream can be iterated only once');
    this.iterated = true;
    return {
      next: async (): Promise<IteratorResult<WatchEvent[]>> => {
        for (;;) {
          const batch = this.batches.shift();
          if (batch) return { value: batch, done: false };
          if (this.error) throw this.error;
          if (this.closed) return { value: undefined, done: true };
          await new Promise<void>((resolve) => (this.waiter = { resolve }));
        }
      },
      return: async (): Promise<IteratorResult<WatchEvent[]>> => {
        this.batches = [];
        this.close();
        this.wake();
        return { value: undefined, done: true };
      },
    };
  }
}

export function abortedError(action: string, signal?: AbortSignal): TesseraError {
  return new TesseraError('aborted', `${action}: aborted`, { cause: signal?.reason });
}

export function throwIfAborted(action: string, signal?: AbortSignal): void {
  if (signal?.aborted) throw abortedError(action, signal);
}
