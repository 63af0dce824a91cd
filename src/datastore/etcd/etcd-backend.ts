/**
 * `Backend` on etcd v3 through the `etcd3` client's raw gRPC stubs (KV, Watch, Lease).
 *
 * Why raw stubs rather than etcd3's builders and `Watcher`: the Watcher reconnects silently and
 * hides compaction behind an event, while our contract needs a watch that *ends* with
 * `unavailable` / `compacted` so the syncer owns resumption; and list must page with a pinned
 * revision (gRPC replies are capped, and 110k x 1 KB does not fit in one).
 *
 * Reviewers: every CAS goes through one txn whose failure branch reads the key, so not-found vs
 * conflict is decided from the same revision as the compare; list pages are all read at the
 * first page's revision, so the listing is one consistent snapshot.
 */
import { defaultRootsWithExtra } from './extra-ca.js';
import { readFileSync } from 'node:fs';
import type { Etcd3, IOptions, Lease } from 'etcd3';
import { etcd3 } from './client.js';
import type { ICompare, IDuplexStream, IKeyValue, IRequestOp, IWatchRequest, IWatchResponse } from 'etcd3';
import { TesseraError } from '../../lib/errors.js';
import type {
  Backend,
  KV,
  ListPagesOptions,
  ListResult,
  TxnOp,
  WatchEvent,
  WatchOptions,
  WatchStream,
  WriteOptions,
} from '../backend.js';
import { WatchQueue, abortedError, throwIfAborted } from '../watch-queue.js';
import { etcdError } from './errors.js';

export interface EtcdTlsOptions {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

export interface EtcdBackendOptions {
  /** `http(s)://host:port` or `unix:///path` client URLs. */
  endpoints: string[];
  tls?: EtcdTlsOptions | undefined;
  /**
   * Keys per list page (default 50000: etcd 3.4 counts the rest of the range on every page, so small
   * pages cost O(n^2): listing 150k endpoints took 18 s in pages of 10,000 and 10.7 s in pages of
   * 50,000, about what one unpaged `etcdctl get` takes; ~1 KB values make ~50 MB pages, well under
   * the 256 MiB receive limit).
   */
  pageSize?: number | undefined;
  /** Deadline for unary calls (default 10 s). */
  callTimeoutMs?: number | undefined;
  /**
   * Deadline for one list page (default 120 s): a 50,000-key page is tens of MB that etcd must
   * read and send, which on a loaded machine took longer than 10 s, and a list whose every page
   * times out never completes (the syncer would retry it forever).
   */
  listPageTimeoutMs?: number | undefined;
  dialTimeoutMs?: number | undefined;
}

const MiB = 1024 * 1024;

function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // all keys
}

function rangeOf(prefix: string): { key: Buffer; range_end: Buffer } {
  const key = prefix === '' ? Buffer.from([0]) : Buffer.from(prefix);
  return { key, range_end: prefix === '' ? Buffer.from([0]) : prefixEnd(key) };
}

function toKV(kv: IKeyValue): KV {
  return {
    key: kv.key.toString('utf8'),
    value: kv.value.toString('utf8'),
    revision: Number(kv.mod_revision),
    createRevision: Number(kv.create_revision),
  };
}

/**
 * A listed key whose value is decoded from UTF-8 only when read: a caller that judges a page by
 * key and revision (IPAM GC's unchanged blocks) never pays for, nor allocates, the value string.
 */
class PagedKV implements KV {
  readonly key: string;
  readonly revision: number;
  readonly createRevision: number;
  private raw: Buffer | undefined;
  private text: string | undefined;

  constructor(kv: IKeyValue) {
    this.key = kv.key.toString('utf8');
    this.revision = Number(kv.mod_revision);
    this.createRevision = Number(kv.create_revision);
    this.raw = kv.value;
  }

  get value(): string {
    if (this.text === undefined) {
      this.text = this.raw ? this.raw.toString('utf8') : '';
      this.raw = undefined;
    }
    return this.text;
  }

  toJSON(): KV {
    return { key: this.key, value: this.value, revision: this.revision, createRevision: this.createRevision };
  }
}

export class EtcdBackend implements Backend {
  readonly name = 'etcd' as const;
  readonly client: Etcd3;
  private readonly pageSize: number;
  private readonly callTimeoutMs: number;
  private readonly listPageTimeoutMs: number;
  private leases = new Map<number, { lease: Lease; id: Promise<string> }>();
  private closed = false;

  constructor(readonly options: EtcdBackendOptions) {
    if (options.endpoints.length === 0) throw new TesseraError('validation', 'cannot connect to etcd: no endpoints');
    const tls = options.tls;
    const clientOptions: IOptions = {
      hosts: options.endpoints,
      dialTimeout: options.dialTimeoutMs ?? 5000,
      grpcOptions: {
        // Safety net above our own paging: one oversized value must not wedge a list.
        'grpc.max_receive_message_length': 256 * MiB,
        'grpc.max_send_message_length': 64 * MiB,
        // etcd's default keepalive enforcement minimum is 5 s.
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        // grpc's default reconnect backoff grows to 120 s; etcd restarts take ~1 s.
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 2_000,
      },
      // Failover without long hidden retries: a member that fails a call is skipped for 1 s (so
      // etcd3's pool moves on to the next endpoint), and a call that failed on an unreachable
      // member is retried once per other endpoint. Callers (syncer, CAS loops) own longer retry.
      // etcd3's defaults (breaker open 5 s) would delay recovery after a single-member restart.
      faultHandling: {
        host: () => hostBreaker(options.endpoints.length > 1),
        global: failoverPolicy(options.endpoints.length),
      },
    };
    const extraRoots = options.endpoints.some((e) => e.startsWith('https:')) ? defaultRootsWithExtra() : undefined;
    if ((tls && (tls.caFile || tls.certFile || tls.keyFile)) || extraRoots) {
      try {
        clientOptions.credentials = {
          // grpc-js falls back to the system roots when the CA is null.
          rootCertificate: (tls?.caFile ? readFileSync(tls.caFile) : (extraRoots ?? null)) as Buffer,
          ...(tls?.keyFile ? { privateKey: readFileSync(tls.keyFile) } : {}),
          ...(tls?.certFile ? { certChain: readFileSync(tls.certFile) } : {}),
        };
      } catch (err) {
        throw new TesseraError(
          'validation',
          `cannot read etcd TLS files (ca "${tls?.caFile ?? ''}", cert "${tls?.certFile ?? ''}", key "${tls?.keyFile ?? ''}")`,
          { cause: err },
        );
      }
    }
    this.client = new (etcd3().Etcd3)(clientOptions);
    this.pageSize = options.pageSize ?? 50_000;
    // TESSERA_ETCD_CALL_TIMEOUT_MS: the lab VM (emulated CPU, scripts/vm/stage2.sh) needs longer.
    this.callTimeoutMs = options.callTimeoutMs ?? (Number(process.env['TESSERA_ETCD_CALL_TIMEOUT_MS']) || 10_000);
    this.listPageTimeoutMs = Math.max(this.callTimeoutMs, options.listPageTimeoutMs ?? 120_000);
  }

  private call(signal?: AbortSignal, timeoutMs = this.callTimeoutMs): { deadline: number } {
    if (this.closed) throw new TesseraError('unavailable', 'the etcd client is closed');
    throwIfAborted('etcd call', signal);
    return { deadline: Date.now() + timeoutMs };
  }

  async get(key: string, signal?: AbortSignal): Promise<KV | undefined> {
    try {
      const res = await this.client.kv.range({ key: Buffer.from(key) }, this.call(signal));
      const kv = res.kvs[0];
      return kv ? toKV(kv) : undefined;
    } catch (err) {
      throw etcdError(`cannot get "${key}"`, err, this.options.endpoints);
    }
  }

  async list(prefix: string, signal?: AbortSignal): Promise<ListResult> {
    const { key, range_end } = rangeOf(prefix);
    const items: KV[] = [];
    let revision = 0;
    let from = key;
    try {
      for (;;) {
        const res = await this.client.kv.range(
          { key: from, range_end, limit: this.pageSize, ...(revision ? { revision } : {}) },
          this.call(signal, this.listPageTimeoutMs),
        );
        if (revision === 0) revision = Number(res.header.revision);
        const kvs = res.kvs;
        for (let i = 0; i < kvs.length; i++) items.push(toKV(kvs[i]!));
        if (!res.more || kvs.length === 0) break;
        from = Buffer.concat([kvs[kvs.length - 1]!.key, Buffer.from([0])]);
      }
    } catch (err) {
      throw etcdError(`cannot list "${prefix}"${revision ? ` at revision ${revision}` : ''}`, err);
    }
    return { items, revision };
  }

  async *listPages(prefix: string, options: ListPagesOptions = {}): AsyncIterable<KV[]> {
    const { key, range_end } = rangeOf(prefix);
    const limit = options.pageSize ?? this.pageSize;
    let revision = 0;
    const fetch = (from: Buffer) =>
      this.client.kv.range(
        {
          key: from,
          range_end,
          limit,
          ...(revision ? { revision } : {}),
          ...(options.keysOnly ? { keys_only: true } : {}),
        },
        this.call(options.signal, this.listPageTimeoutMs),
      );
    try {
      let next = fetch(key);
      for (;;) {
        const res = await next;
        if (revision === 0) {
          revision = Number(res.header.revision);
          options.onRevision?.(revision);
        }
        const kvs = res.kvs;
        const more = res.more && kvs.length > 0;
        // Prefetch: etcd reads and sends the next page while the caller handles this one.
        if (more) {
          next = fetch(Buffer.concat([kvs[kvs.length - 1]!.key, Buffer.from([0])]));
          next.catch(() => undefined); // a caller that stops early never awaits it
        }
        const page: KV[] = new Array<KV>(kvs.length);
        for (let i = 0; i < kvs.length; i++) page[i] = new PagedKV(kvs[i]!);
        yield page;
        if (!more) break;
      }
    } catch (err) {
      throw etcdError(`cannot list "${prefix}"${revision ? ` at revision ${revision}` : ''}`, err);
    }
  }

  private async leaseId(ttlSeconds: number | undefined): Promise<string | undefined> {
    if (ttlSeconds === undefined) return undefined;
    let entry = this.leases.get(ttlSeconds);
    if (!entry) {
      const lease = this.client.lease(ttlSeconds, { autoKeepAlive: true });
      entry = { lease, id: lease.grant() };
      this.leases.set(ttlSeconds, entry);
      // A lost lease (etcd unreachable longer than the TTL) took its keys with it; the next
      // write grants a fresh one.
      lease.on('lost', () => {
        if (this.leases.get(ttlSeconds)?.lease === lease) this.leases.delete(ttlSeconds);
      });
      entry.id.catch(() => this.leases.delete(ttlSeconds));
    }
    return entry.id;
  }

  async create(key: string, value: string, options: WriteOptions = {}): Promise<KV> {
    const action = `cannot create "${key}"`;
    try {
      const k = Buffer.from(key);
      const lease = await this.leaseId(options.ttlSeconds);
      const res = await this.client.kv.txn(
        {
          compare: [{ key: k, target: 'Create', result: 'Equal', create_revision: 0 }],
          success: [{ request_put: { key: k, value: Buffer.from(value), ...leaseField(lease) } }],
          failure: [],
        },
        this.call(options.signal),
      );
      if (!res.succeeded) throw new TesseraError('already-exists', `${action}: it already exists`);
      const revision = Number(res.header.revision);
      return { key, value, revision, createRevision: revision };
    } catch (err) {
      throw etcdError(action, err, this.options.endpoints);
    }
  }

  async update(key: string, value: string, expectedRevision: number, options: WriteOptions = {}): Promise<KV> {
    const action = `cannot update "${key}" at revision ${expectedRevision}`;
    try {
      const k = Buffer.from(key);
      const lease = await this.leaseId(options.ttlSeconds);
      const res = await this.client.kv.txn(
        {
          compare: [{ key: k, target: 'Mod', result: 'Equal', mod_revision: expectedRevision }],
          success: [{ request_put: { key: k, value: Buffer.from(value), ...leaseField(lease), prev_kv: true } }],
          failure: [{ request_range: { key: k } }],
        },
        this.call(options.signal),
      );
      if (!res.succeeded) {
        const cur = res.responses[0]?.response_range?.kvs[0];
        if (!cur) throw new TesseraError('not-found', `${action}: it does not exist`);
        throw new TesseraError('conflict', `${action}: it is at revision ${cur.mod_revision}`);
      }
      const revision = Number(res.header.revision);
      const prev = res.responses[0]?.response_put?.prev_kv;
      return { key, value, revision, createRevision: prev ? Number(prev.create_revision) : revision };
    } catch (err) {
      throw etcdError(action, err, this.options.endpoints);
    }
  }

  async put(key: string, value: string, options: WriteOptions = {}): Promise<KV> {
    const action = `cannot put "${key}"`;
    try {
      const lease = await this.leaseId(options.ttlSeconds);
      const res = await this.client.kv.put(
        { key: Buffer.from(key), value: Buffer.from(value), ...leaseField(lease), prev_kv: true },
        this.call(options.signal),
      );
      const revision = Number(res.header.revision);
      const prev = res.prev_kv;
      return { key, value, revision, createRevision: prev ? Number(prev.create_revision) : revision };
    } catch (err) {
      throw etcdError(action, err, this.options.endpoints);
    }
  }

  async delete(key: string, expectedRevision?: number, signal?: AbortSignal): Promise<KV | undefined> {
    const action = `cannot delete "${key}"${expectedRevision === undefined ? '' : ` at revision ${expectedRevision}`}`;
    try {
      const k = Buffer.from(key);
      if (expectedRevision === undefined) {
        const res = await this.client.kv.deleteRange({ key: k, prev_kv: true }, this.call(signal));
        const prev = res.prev_kvs[0];
        return prev ? toKV(prev) : undefined;
      }
      const res = await this.client.kv.txn(
        {
          compare: [{ key: k, target: 'Mod', result: 'Equal', mod_revision: expectedRevision }],
          success: [{ request_delete_range: { key: k, prev_kv: true } }],
          failure: [{ request_range: { key: k } }],
        },
        this.call(signal),
      );
      if (res.succeeded) {
        const prev = res.responses[0]?.response_delete_range?.prev_kvs[0];
        return prev ? toKV(prev) : undefined;
      }
      const cur = res.responses[0]?.response_range?.kvs[0];
      if (!cur) return undefined; // already gone: deletes are idempotent
      throw new TesseraError('conflict', `${action}: it is at revision ${cur.mod_revision}`);
    } catch (err) {
      throw etcdError(action, err, this.options.endpoints);
    }
  }

  async txn(ops: TxnOp[], signal?: AbortSignal): Promise<number> {
    const action = `cannot write a transaction of ${ops.length} operations`;
    const compare: ICompare[] = [];
    const success: IRequestOp[] = [];
    for (const op of ops) {
      const key = Buffer.from(op.key);
      switch (op.op) {
        case 'create':
          compare.push({ key, target: 'Create', result: 'Equal', create_revision: 0 });
          success.push({ request_put: { key, value: Buffer.from(op.value) } });
          break;
        case 'update':
          compare.push({ key, target: 'Mod', result: 'Equal', mod_revision: op.expectedRevision });
          success.push({ request_put: { key, value: Buffer.from(op.value) } });
          break;
        case 'put':
          success.push({ request_put: { key, value: Buffer.from(op.value) } });
          break;
        case 'delete':
          if (op.expectedRevision !== undefined) {
            compare.push({ key, target: 'Mod', result: 'Equal', mod_revision: op.expectedRevision });
          }
          success.push({ request_delete_range: { key } });
          break;
      }
    }
    try {
      const res = await this.client.kv.txn({ compare, success, failure: [] }, this.call(signal));
      if (!res.succeeded) {
        const keys = ops.filter((o) => o.op !== 'put').map((o) => `"${o.key}"`);
        throw new TesseraError('conflict', `${action}: a compare failed (keys ${keys.join(', ')})`);
      }
      return Number(res.header.revision);
    } catch (err) {
      throw etcdError(action, err, this.options.endpoints);
    }
  }

  watch(prefix: string, options: WatchOptions = {}): WatchStream {
    const what = `watch "${prefix}"${options.fromRevision === undefined ? '' : ` from revision ${options.fromRevision}`}`;
    let stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined;
    const queue = new WatchQueue(() => {
      options.signal?.removeEventListener('abort', onAbort);
      try {
        // End our side first: etcd3 takes the CANCELLED error of a still-writable stream for a
        // failed member and closes every gRPC client of it; the other watches and the lease
        // keepalive left on that draining connection were then dropped at its next keepalive
        // ping (~10 s later), and the 1 s member breaker failed every call meanwhile.
        stream?.end();
        stream?.cancel();
      } catch {
        // already torn down
      }
    });
    const onAbort = () => queue.failNow(abortedError(what, options.signal));
    if (options.signal?.aborted) {
      onAbort();
      return queue;
    }
    if (this.closed) {
      queue.fail(new TesseraError('unavailable', `cannot ${what}: the etcd client is closed`));
      return queue;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const { key, range_end } = rangeOf(prefix);
    this.client.watchClient.watch().then(
      (s) => {
        stream = s;
        if (queue.isClosed) {
          s.end();
          s.cancel();
          return;
        }
        s.on('data', (res: IWatchResponse) => {
          if (res.compact_revision !== undefined && Number(res.compact_revision) > 0) {
            queue.fail(
              new TesseraError('compacted', `cannot ${what}: compacted up to revision ${res.compact_revision}`, {
                details: { compactRevision: Number(res.compact_revision) },
              }),
            );
            return;
          }
          if (res.canceled) {
            queue.fail(new TesseraError('unavailable', `${what} was cancelled by etcd: ${res.cancel_reason}`));
            return;
          }
          const events = res.events;
          if (!events || events.length === 0) return;
          const batch: WatchEvent[] = new Array(events.length);
          for (let i = 0; i < events.length; i++) {
            const ev = events[i]!;
            const prev = ev.prev_kv && ev.prev_kv.key.length > 0 ? toKV(ev.prev_kv) : undefined;
            if (ev.type === 'Delete' || (ev.type as string) === 'DELETE') {
              batch[i] = {
                type: 'delete',
                key: ev.kv.key.toString('utf8'),
                revision: Number(ev.kv.mod_revision),
                prev,
              };
            } else {
              batch[i] = prev ? { type: 'put', kv: toKV(ev.kv), prev } : { type: 'put', kv: toKV(ev.kv) };
            }
          }
          queue.push(batch);
        });
        s.on('error', (err: Error) => queue.fail(etcdError(`${what} failed`, err, this.options.endpoints)));
        s.on('end', () => queue.fail(new TesseraError('unavailable', `${what}: the stream ended`)));
        s.write({
          create_request: {
            key,
            range_end,
            ...(options.fromRevision !== undefined ? { start_revision: options.fromRevision } : {}),
            prev_kv: true,
          },
        });
      },
      (err: unknown) => queue.fail(etcdError(`cannot ${what}`, err, this.options.endpoints)),
    );
    return queue;
  }

  async revision(signal?: AbortSignal): Promise<number> {
    try {
      const res = await this.client.kv.range({ key: Buffer.from([0]), count_only: true }, this.call(signal));
      return Number(res.header.revision);
    } catch (err) {
      throw etcdError('cannot read the etcd revision', err, this.options.endpoints);
    }
  }

  async compact(revision: number): Promise<void> {
    try {
      await this.client.kv.compact({ revision, physical: true }, this.call());
    } catch (err) {
      const e = etcdError(`cannot compact etcd to revision ${revision}`, err, this.options.endpoints);
      if (e.code === 'compacted') return; // already compacted at least that far
      throw e;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // release() stops keep-alives without revoking: leased keys vanish after their TTL, exactly
    // as if this process had died.
    for (const { lease } of this.leases.values()) lease.release();
    this.leases.clear();
    this.client.close();
  }
}

type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;
type PolicyFn<T> = (ctx: { signal: AbortSignal }) => PromiseLike<T> | T;

// Only "member unreachable" counts: etcd3 also reports our own stream cancels as failures.
const recoverable = (err: unknown) => err instanceof etcd3().GRPCUnavailableError;

/**
 * cockatiel-compatible per-member breaker: open for 1 s after a connection-level failure, so calls
 * go to the other members meanwhile. With one member there is nowhere else to go: the breaker
 * would only turn one failed call into a second of failed calls, so it never opens.
 */
function hostBreaker(enabled: boolean): Policy {
  let openUntil = 0;
  return {
    // async: etcd3's markFailed() relies on a synchronous throw inside fn becoming a rejection.
    execute: async <T>(fn: PolicyFn<T>) => {
      if (Date.now() < openUntil)
        throw new (etcd3().GRPCUnavailableError)('etcd member skipped: it failed less than 1 s ago');
      try {
        return await fn({ signal: new AbortController().signal });
      } catch (err) {
        if (enabled && recoverable(err)) openUntil = Date.now() + 1000;
        throw err;
      }
    },
  } as unknown as Policy;
}

/** cockatiel-compatible global policy: retry a connection-level failure on the other members. */
function failoverPolicy(members: number): Policy {
  return {
    execute: async <T>(fn: PolicyFn<T>) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await fn({ signal: new AbortController().signal });
        } catch (err) {
          if (attempt >= members || !recoverable(err)) throw err;
        }
      }
    },
  } as unknown as Policy;
}

/** A put's lease field: absent (not undefined) without a lease. */
function leaseField(lease: string | undefined): { lease?: string } {
  return lease === undefined ? {} : { lease };
}
