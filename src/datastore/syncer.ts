/**
 * Syncer: list every prefix, then watch each from its list revision + 1, and hand consumers one
 * ordered stream of updates plus a status ('wait' until every prefix is listed, then 'in-sync';
 * 'resync' while recovering from a compaction).
 *
 * Invariants (what a reviewer must check):
 * - Per prefix, every change is emitted exactly once and in revision order: after a watch fails
 *   with `unavailable` the watch resumes from the last *emitted* revision + 1, never re-lists.
 * - After `compacted` the prefix is re-listed and only the difference to what was emitted is
 *   emitted (puts for new/changed keys, synthetic deletes for vanished keys), so consumers never
 *   see a replay or a key go backwards.
 * - `onUpdates` is never called concurrently (calls are chained) and is awaited: a slow consumer
 *   slows the syncer instead of growing a queue.
 * - Retries on any other error back off exponentially, bounded by `maxBackoffMs`.
 * - A first listing is emitted page by page where the backend pages (`listPages`); if it fails
 *   half-way, the retry diffs a whole list against what was emitted (as after `compacted`).
 */
import { isTesseraError, TesseraError } from '../lib/errors.js';
import { sleep } from '../lib/clock.js';
import type { Backend, WatchEvent } from './backend.js';

export interface SyncUpdate {
  key: string;
  /** Undefined = the key was deleted. */
  value: string | undefined;
  /** Revision of the change (for a synthetic delete after a re-list: the list revision). */
  revision: number;
}

export type SyncStatus = 'wait' | 'resync' | 'in-sync';

export interface SyncerOptions {
  backend: Backend;
  prefixes: string[];
  onUpdates(updates: SyncUpdate[]): void | Promise<void>;
  onStatus?(status: SyncStatus): void;
  /** Every error the syncer recovers from (for logging); the syncer itself keeps going. */
  onError?(err: TesseraError, prefix: string): void;
  signal?: AbortSignal;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Injected for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

interface PrefixState {
  prefix: string;
  /** key -> revision of what was last emitted, to diff a re-list against. */
  known: Map<string, number>;
  listed: boolean;
  resyncing: boolean;
}

export class Syncer {
  private readonly controller = new AbortController();
  private loops: Promise<void>[] = [];
  private emitChain: Promise<void> = Promise.resolve();
  private states: PrefixState[];
  private currentStatus: SyncStatus | undefined;
  private started = false;
  private statusWaiters: Array<{ want: SyncStatus; resolve: () => void }> = [];

  constructor(private readonly options: SyncerOptions) {
    const prefixes = [...new Set(options.prefixes)];
    // Overlapping prefixes would deliver the same key twice.
    for (const a of prefixes) {
      for (const b of prefixes) {
        if (a !== b && b.startsWith(a)) {
          throw new TesseraError('validation', `cannot sync prefixes "${a}" and "${b}": one contains the other`);
        }
      }
    }
    this.states = prefixes.map((prefix) => ({ prefix, known: new Map(), listed: false, resyncing: false }));
  }

  get status(): SyncStatus | undefined {
    return this.currentStatus;
  }

  start(): void {
    if (this.started) throw new TesseraError('bug', 'the syncer was already started');
    this.started = true;
    const outer = this.options.signal;
    if (outer) {
      if (outer.aborted) this.controller.abort(outer.reason);
      else outer.addEventListener('abort', () => this.controller.abort(outer.reason), { once: true });
    }
    this.setStatus('wait');
    if (this.states.length === 0) this.setStatus('in-sync');
    this.loops = this.states.map((s) => this.run(s));
  }

  /** Stops watching and waits until no more callbacks will run. */
  async stop(): Promise<void> {
    this.controller.abort(new TesseraError('aborted', 'the syncer was stopped'));
    await Promise.all(this.loops);
    await this.emitChain.catch(() => undefined);
    for (const w of this.statusWaiters.splice(0)) w.resolve();
  }

  /** Resolves when the syncer (next) reports `status`, or when it is stopped. */
  waitFor(status: SyncStatus): Promise<void> {
    if (this.currentStatus === status || this.controller.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.statusWaiters.push({ want: status, resolve }));
  }

  private setStatus(status: SyncStatus): void {
    if (this.currentStatus === status) return;
    this.currentStatus = status;
    this.options.onStatus?.(status);
    this.statusWaiters = this.statusWaiters.filter((w) => (w.want === status ? (w.resolve(), false) : true));
  }

  /** Status follows from the prefix states once the emitted updates are out. */
  private refreshStatus(): void {
    if (this.states.some((s) => !s.listed)) return;
    this.setStatus(this.states.some((s) => s.resyncing) ? 'resync' : 'in-sync');
  }

  private emit(updates: SyncUpdate[]): Promise<void> {
    const next = this.emitChain.then(() => this.options.onUpdates(updates));
    this.emitChain = next.catch(() => undefined);
    return next;
  }

  private async run(state: PrefixState): Promise<void> {
    const signal = this.controller.signal;
    const doSleep = this.options.sleep ?? sleep;
    const initialBackoff = this.options.initialBackoffMs ?? 100;
    const maxBackoff = this.options.maxBackoffMs ?? 5000;
    let backoff = initialBackoff;
    let nextRevision: number | undefined;
    while (!signal.aborted) {
      try {
        if (nextRevision === undefined) {
          let revision: number;
          if (state.known.size === 0 && this.options.backend.listPages) {
            // Nothing emitted yet: stream the listing page by page, so the consumer works on one
            // page while the backend reads the next, and no whole listing is held at once.
            revision = 0;
            const pages = this.options.backend.listPages(state.prefix, {
              signal,
              onRevision: (r) => (revision = r),
            });
            for await (const page of pages) {
              // Plain objects: a page's values may be getters (etcd's PagedKV).
              const updates: SyncUpdate[] = new Array(page.length);
              for (let i = 0; i < page.length; i++) {
                const kv = page[i]!;
                updates[i] = { key: kv.key, value: kv.value, revision: kv.revision };
              }
              await this.emitList(state, updates, revision, true);
            }
          } else {
            const res = await this.options.backend.list(state.prefix, signal);
            revision = res.revision;
            await this.emitList(state, res.items, revision);
          }
          nextRevision = revision + 1;
          state.listed = true;
          state.resyncing = false;
          this.refreshStatus();
          backoff = initialBackoff;
        }
        for await (const batch of this.options.backend.watch(state.prefix, { fromRevision: nextRevision, signal })) {
          const updates = this.applyEvents(state, batch);
          await this.emit(updates);
          // Only after the consumer has the batch: a failure before this point resumes from the
          // same revision, so nothing is lost and nothing is emitted twice.
          nextRevision = updates[updates.length - 1]!.revision + 1;
          backoff = initialBackoff;
        }
        throw new TesseraError('unavailable', `watch "${state.prefix}" ended without an error`);
      } catch (err) {
        if (signal.aborted) return;
        const e = isTesseraError(err)
          ? err
          : new TesseraError('bug', `syncing "${state.prefix}" failed unexpectedly`, { cause: err });
        this.options.onError?.(e, state.prefix);
        if (e.code === 'compacted') {
          nextRevision = undefined;
          if (state.listed) {
            state.resyncing = true;
            this.refreshStatus();
          }
          continue; // re-list at once: waiting only lets more history get compacted
        }
        try {
          await doSleep(backoff, signal);
        } catch {
          return; // aborted while backing off
        }
        backoff = Math.min(maxBackoff, backoff * 2);
      }
    }
  }

  private applyEvents(state: PrefixState, batch: WatchEvent[]): SyncUpdate[] {
    const known = state.known;
    const updates: SyncUpdate[] = new Array(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const ev = batch[i]!;
      if (ev.type === 'put') {
        known.set(ev.kv.key, ev.kv.revision);
        updates[i] = { key: ev.kv.key, value: ev.kv.value, revision: ev.kv.revision };
      } else {
        known.delete(ev.key);
        updates[i] = { key: ev.key, value: undefined, revision: ev.revision };
      }
    }
    return updates;
  }

  /**
   * `streaming`: `items` is one page of a first listing (the earlier pages were emitted already).
   * A first listing that failed half-way leaves `known` non-empty: its retry is a whole list diffed
   * against what was emitted, like a re-list after compaction, so nothing is emitted twice.
   */
  private async emitList(
    state: PrefixState,
    items: SyncUpdate[],
    listRevision: number,
    streaming = false,
  ): Promise<void> {
    const known = state.known;
    if (!state.listed && (known.size === 0 || streaming)) {
      // First listing: everything is new. KVs are structurally SyncUpdates, so no copies.
      for (let i = 0; i < items.length; i++) known.set(items[i]!.key, items[i]!.revision);
      if (items.length > 0) await this.emit(items);
      return;
    }
    const updates: SyncUpdate[] = [];
    const seen = new Set<string>();
    for (const kv of items) {
      seen.add(kv.key);
      if (known.get(kv.key) !== kv.revision) {
        known.set(kv.key, kv.revision);
        updates.push(kv);
      }
    }
    for (const key of [...known.keys()]) {
      if (!seen.has(key)) {
        known.delete(key);
        updates.push({ key, value: undefined, revision: listRevision });
      }
    }
    if (updates.length > 0) await this.emit(updates);
  }
}
