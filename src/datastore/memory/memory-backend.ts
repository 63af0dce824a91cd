/**
 * In-memory `Backend` with etcd's semantics, for unit tests and the contract suite.
 *
 * A `MemoryStore` is the "server" (keys, global revision, retained history, leases); every
 * `MemoryBackend` is a client of one store. Several clients may share a store, as several etcd
 * clients share a cluster; a client's leases stay alive until the client is closed (as an etcd
 * client's keep-alives stop when it dies) and then expire `ttlSeconds` later.
 *
 * Invariants mirrored from etcd: the store starts at revision 1; one write (or one txn that
 * changes something) advances the revision by exactly 1 and all of its keys share it; watching
 * from a revision below the compaction revision fails with `compacted`.
 */
import { TesseraError } from '../../lib/errors.js';
import { systemClock, type Clock } from '../../lib/clock.js';
import type {
  Backend,
  KV,
  ListResult,
  TxnOp,
  WatchEvent,
  WatchOptions,
  WatchStream,
  WriteOptions,
} from '../backend.js';
import { WatchQueue, abortedError, throwIfAborted } from '../watch-queue.js';

interface Lease {
  id: number;
  ttlMs: number;
  /** Undefined while its client is alive (kept alive); set when the client closes. */
  expiresAtMs: number | undefined;
  keys: Set<string>;
}

interface Watcher {
  prefix: string;
  queue: WatchQueue;
  /** Revisions below this were already delivered by the replay. */
  nextRevision: number;
}

type Change = { type: 'put'; kv: KV; prev?: KV } | { type: 'delete'; key: string; prev: KV };

export interface MemoryStoreOptions {
  clock?: Clock | undefined;
}

export class MemoryStore {
  readonly clock: Clock;
  private data = new Map<string, KV>();
  private keyLease = new Map<string, number>();
  private rev = 1;
  private compactRev = 0;
  /** One entry per revision since the compaction revision. */
  private history: { revision: number; events: WatchEvent[] }[] = [];
  private watchers = new Set<Watcher>();
  private leases = new Map<number, Lease>();
  private nextLeaseId = 1;
  private expiryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: MemoryStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  get revision(): number {
    this.expireLeases();
    return this.rev;
  }

  get(key: string): KV | undefined {
    this.expireLeases();
    return this.data.get(key);
  }

  list(prefix: string): ListResult {
    this.expireLeases();
    const items: KV[] = [];
    for (const kv of this.data.values()) if (kv.key.startsWith(prefix)) items.push(kv);
    items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { items, revision: this.rev };
  }

  /**
   * Applies `ops` atomically. Returns the store revision after the write and the changed KVs, or
   * throws `conflict` naming the first failed comparison.
   */
  apply(ops: TxnOp[], leaseId?: number): { revision: number; results: (KV | undefined)[] } {
    this.expireLeases();
    const seen = new Set<string>();
    for (const op of ops) {
      if (seen.has(op.key)) {
        throw new TesseraError('validation', `cannot write key "${op.key}" twice in one transaction`);
      }
      seen.add(op.key);
      const cur = this.data.get(op.key);
      if (op.op === 'create' && cur) {
        throw new TesseraError('conflict', `cannot create "${op.key}": it already exists`, {
          details: { key: op.key, reason: 'exists' },
        });
      }
      // As in etcd, a missing key has mod revision 0: `expectedRevision: 0` means "absent".
      if (op.op === 'update' && (cur?.revision ?? 0) !== op.expectedRevision) {
        throw new TesseraError(
          'conflict',
          `cannot update "${op.key}": expected revision ${op.expectedRevision}, found ${cur ? cur.revision : 'no key'}`,
          { details: { key: op.key, reason: cur ? 'revision' : 'missing' } },
        );
      }
      if (op.op === 'delete' && op.expectedRevision !== undefined && (cur?.revision ?? 0) !== op.expectedRevision) {
        throw new TesseraError(
          'conflict',
          `cannot delete "${op.key}": expected revision ${op.expectedRevision}, found ${cur ? cur.revision : 'no key'}`,
          { details: { key: op.key, reason: cur ? 'revision' : 'missing' } },
        );
      }
    }
    const willChange = ops.some((op) => op.op !== 'delete' || this.data.has(op.key));
    if (!willChange) return { revision: this.rev, results: ops.map(() => undefined) };
    const revision = ++this.rev;
    const changes: Change[] = [];
    const results = ops.map((op): KV | undefined => {
      const prev = this.data.get(op.key);
      if (op.op === 'delete') {
        if (!prev) return undefined;
        this.data.delete(op.key);
        this.detachLease(op.key);
        changes.push({ type: 'delete', key: op.key, prev });
        return prev;
      }
      const kv: KV = { key: op.key, value: op.value, revision, createRevision: prev?.createRevision ?? revision };
      this.data.set(op.key, kv);
      this.detachLease(op.key);
      if (leaseId !== undefined) {
        this.keyLease.set(op.key, leaseId);
        this.leases.get(leaseId)?.keys.add(op.key);
      }
      changes.push(prev ? { type: 'put', kv, prev } : { type: 'put', kv });
      return kv;
    });
    this.record(revision, changes);
    return { revision, results };
  }

  private detachLease(key: string): void {
    const id = this.keyLease.get(key);
    if (id === undefined) return;
    this.keyLease.delete(key);
    this.leases.get(id)?.keys.delete(key);
  }

  private record(revision: number, changes: Change[]): void {
    const events: WatchEvent[] = changes.map((c) =>
      c.type === 'put' ? c : { type: 'delete', key: c.key, revision, prev: c.prev },
    );
    this.history.push({ revision, events });
    for (const w of this.watchers) this.deliver(w, revision, events);
  }

  private deliver(w: Watcher, revision: number, events: WatchEvent[]): void {
    if (revision < w.nextRevision) return;
    const mine = events.filter((e) => (e.type === 'put' ? e.kv.key : e.key).startsWith(w.prefix));
    w.nextRevision = revision + 1;
    if (mine.length > 0) w.queue.push(mine);
  }

  watch(prefix: string, options: WatchOptions = {}): WatchStream {
    const watcher: Watcher = {
      prefix,
      nextRevision: 0,
      queue: new WatchQueue(() => {
        this.watchers.delete(watcher);
        options.signal?.removeEventListener('abort', onAbort);
      }),
    };
    const onAbort = () => watcher.queue.failNow(abortedError(`watch "${prefix}"`, options.signal));
    if (options.signal?.aborted) {
      onAbort();
      return watcher.queue;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    this.expireLeases();
    const from = options.fromRevision ?? this.rev + 1;
    if (from < this.compactRev) {
      watcher.queue.fail(
        new TesseraError(
          'compacted',
          `cannot watch "${prefix}" from revision ${from}: compacted up to revision ${this.compactRev}`,
          { details: { compactRevision: this.compactRev } },
        ),
      );
      return watcher.queue;
    }
    watcher.nextRevision = from;
    for (const h of this.history) this.deliver(watcher, h.revision, h.events);
    watcher.nextRevision = Math.max(watcher.nextRevision, this.rev + 1, from);
    this.watchers.add(watcher);
    return watcher.queue;
  }

  compact(revision: number): void {
    if (revision > this.rev) {
      throw new TesseraError('validation', `cannot compact to revision ${revision}: current revision is ${this.rev}`);
    }
    if (revision <= this.compactRev) return;
    this.compactRev = revision;
    this.history = this.history.filter((h) => h.revision >= revision);
  }

  /** Test hook: every open watch fails with `unavailable`, dropping events still in flight. */
  disconnectWatchers(): void {
    for (const w of [...this.watchers]) {
      w.queue.failNow(new TesseraError('unavailable', `watch "${w.prefix}" lost its connection (simulated)`));
    }
  }

  grantLease(ttlSeconds: number): number {
    const id = this.nextLeaseId++;
    this.leases.set(id, { id, ttlMs: ttlSeconds * 1000, expiresAtMs: undefined, keys: new Set() });
    return id;
  }

  /** The client holding these leases went away: they expire after their TTL. */
  releaseLeases(ids: Iterable<number>): void {
    const now = this.clock.nowMs();
    for (const id of ids) {
      const lease = this.leases.get(id);
      if (lease && lease.expiresAtMs === undefined) lease.expiresAtMs = now + lease.ttlMs;
    }
    this.scheduleExpiry();
  }

  private scheduleExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    let next = Infinity;
    for (const l of this.leases.values()) if (l.expiresAtMs !== undefined) next = Math.min(next, l.expiresAtMs);
    if (next === Infinity) return;
    // Timers only matter with the real clock; a ManualClock test advances time and then any
    // store operation expires leases lazily.
    this.expiryTimer = setTimeout(() => this.expireLeases(), Math.max(0, next - this.clock.nowMs()) + 5);
    this.expiryTimer.unref?.();
  }

  /** Deletes the keys of every expired lease (one revision per lease, as etcd does). */
  expireLeases(): void {
    const now = this.clock.nowMs();
    for (const lease of [...this.leases.values()]) {
      if (lease.expiresAtMs === undefined || lease.expiresAtMs > now) continue;
      this.leases.delete(lease.id);
      const keys = [...lease.keys].sort();
      for (const k of keys) this.keyLease.delete(k);
      if (keys.length > 0) this.apply(keys.map((key) => ({ op: 'delete', key })));
    }
    this.scheduleExpiry();
  }
}

export interface MemoryBackendOptions {
  /** Share a store between clients; by default each backend gets its own. */
  store?: MemoryStore;
  clock?: Clock;
}

export class MemoryBackend implements Backend {
  readonly name = 'memory' as const;
  readonly store: MemoryStore;
  private leaseByTtl = new Map<number, number>();
  private closed = false;

  constructor(options: MemoryBackendOptions = {}) {
    this.store = options.store ?? new MemoryStore({ clock: options.clock });
  }

  private check(action: string, signal?: AbortSignal): void {
    if (this.closed) throw new TesseraError('unavailable', `${action}: the datastore client is closed`);
    throwIfAborted(action, signal);
  }

  private leaseFor(ttlSeconds: number | undefined): number | undefined {
    if (ttlSeconds === undefined) return undefined;
    let id = this.leaseByTtl.get(ttlSeconds);
    if (id === undefined) {
      id = this.store.grantLease(ttlSeconds);
      this.leaseByTtl.set(ttlSeconds, id);
    }
    return id;
  }

  async get(key: string, signal?: AbortSignal): Promise<KV | undefined> {
    this.check(`cannot get "${key}"`, signal);
    return this.store.get(key);
  }

  async list(prefix: string, signal?: AbortSignal): Promise<ListResult> {
    this.check(`cannot list "${prefix}"`, signal);
    return this.store.list(prefix);
  }

  async create(key: string, value: string, options: WriteOptions = {}): Promise<KV> {
    this.check(`cannot create "${key}"`, options.signal);
    try {
      return this.store.apply([{ op: 'create', key, value }], this.leaseFor(options.ttlSeconds)).results[0]!;
    } catch (err) {
      if (err instanceof TesseraError && err.code === 'conflict') {
        throw new TesseraError('already-exists', `cannot create "${key}": it already exists`, { cause: err });
      }
      throw err;
    }
  }

  async update(key: string, value: string, expectedRevision: number, options: WriteOptions = {}): Promise<KV> {
    this.check(`cannot update "${key}"`, options.signal);
    try {
      const op: TxnOp = { op: 'update', key, value, expectedRevision };
      return this.store.apply([op], this.leaseFor(options.ttlSeconds)).results[0]!;
    } catch (err) {
      if (err instanceof TesseraError && err.details['reason'] === 'missing') {
        throw new TesseraError('not-found', `cannot update "${key}": it does not exist`, { cause: err });
      }
      throw err;
    }
  }

  async put(key: string, value: string, options: WriteOptions = {}): Promise<KV> {
    this.check(`cannot put "${key}"`, options.signal);
    return this.store.apply([{ op: 'put', key, value }], this.leaseFor(options.ttlSeconds)).results[0]!;
  }

  async delete(key: string, expectedRevision?: number, signal?: AbortSignal): Promise<KV | undefined> {
    this.check(`cannot delete "${key}"`, signal);
    // A standalone delete of a missing key succeeds even with a revision (idempotent deletes);
    // inside a txn the same compare fails, as etcd's does.
    if (this.store.get(key) === undefined) return undefined;
    return this.store.apply([{ op: 'delete', key, expectedRevision }]).results[0];
  }

  async txn(ops: TxnOp[], signal?: AbortSignal): Promise<number> {
    this.check(`cannot write a transaction of ${ops.length} operations`, signal);
    return this.store.apply(ops).revision;
  }

  watch(prefix: string, options: WatchOptions = {}): WatchStream {
    this.check(`cannot watch "${prefix}"`);
    return this.store.watch(prefix, options);
  }

  async revision(signal?: AbortSignal): Promise<number> {
    this.check('cannot read the store revision', signal);
    return this.store.revision;
  }

  async compact(revision: number): Promise<void> {
    this.check(`cannot compact to revision ${revision}`);
    this.store.compact(revision);
  }

  /** Test hook: fail every open watch of the store with `unavailable`. */
  disconnectWatchers(): void {
    this.store.disconnectWatchers();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.store.releaseLeases(this.leaseByTtl.values());
  }
}
