/**
 * `Backend` on etcd v3's JSON gateway (`POST /v3/kv/range|put|deleterange|txn|compaction`), for
 * short-lived processes (the CLI, `tessera-ipam`, the TypeScript CNI fallback): over node:https for
 * https:// endpoints, and over node:net (http1.ts, a small HTTP/1.1 client) for http:// and unix://.
 *
 * Why: loading the `etcd3` client (grpc-js, protobufjs) and dialling gRPC costs a short command
 * ~250 ms before its first byte; one HTTP request to the same port costs ~2 ms and node:http is
 * part of Node itself. Long-lived processes (the agent, the lab) keep the gRPC `EtcdBackend`.
 *
 * What the gateway cannot do well (watch streams, leases that need keep-alives) is delegated to a
 * gRPC `EtcdBackend` opened on first use, so the behaviour is the whole `Backend` contract.
 *
 * Reviewers: same CAS shapes as etcd-backend.ts (one txn whose failure branch reads the key);
 * endpoints are tried in order and a member that does not answer is reported by URL and wait.
 */
import { defaultRootsWithExtra } from './extra-ca.js';
import { readFileSync } from 'node:fs';
import type { Agent as HttpAgent, ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import { createRequire } from 'node:module';
import { TesseraError, type ErrorCode } from '../../lib/errors.js';
import { describeEtcdFailure } from './errors.js';
import { Http1Client, type Http1Endpoint } from './http1.js';
import type { Backend, KV, ListResult, TxnOp, WatchOptions, WatchStream, WriteOptions } from '../backend.js';
import type { EtcdBackend, EtcdTlsOptions } from './etcd-backend.js';

export interface EtcdHttpBackendOptions {
  /** `http(s)://host:port` or `unix:///path` client URLs. */
  endpoints: string[];
  tls?: EtcdTlsOptions;
  /** How long one request may wait for an answer before the next endpoint is tried (default 10 s). */
  callTimeoutMs?: number;
  /** Keys per list page (default 10000, as EtcdBackend). */
  pageSize?: number;
  /** Opens the gRPC backend for watches and leased writes (lazily; default: EtcdBackend). */
  openGrpc?: () => Promise<Backend>;
}

interface GwKV {
  key?: string;
  value?: string;
  mod_revision?: string;
  create_revision?: string;
}
interface GwHeader {
  revision?: string;
}
interface GwRange {
  header?: GwHeader;
  kvs?: GwKV[];
  more?: boolean;
}
interface GwTxn {
  header?: GwHeader;
  succeeded?: boolean;
  responses?: {
    response_range?: GwRange;
    response_put?: { prev_kv?: GwKV };
    response_delete_range?: { prev_kvs?: GwKV[] };
  }[];
}

/** node:https (tls, crypto) is loaded only for https:// endpoints: it costs a plain-http command ~10 ms. */
let httpsModule: typeof import('node:https') | undefined;
function https(): typeof import('node:https') {
  httpsModule ??= createRequire(import.meta.url)('node:https') as typeof import('node:https');
  return httpsModule;
}

const b64 = (s: string | Buffer) => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s).toString('base64');
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

function toKV(kv: GwKV): KV {
  return {
    key: unb64(kv.key),
    value: unb64(kv.value),
    revision: Number(kv.mod_revision ?? 0),
    createRevision: Number(kv.create_revision ?? 0),
  };
}

function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** gRPC status codes the gateway returns in its error body. */
function codeOfGrpc(grpcCode: number, message: string): ErrorCode {
  if (message.includes('required revision has been compacted')) return 'compacted';
  if (
    grpcCode === 3 ||
    /too many operations|duplicate key|request is too large|future revision|value size/.test(message)
  )
    return 'validation';
  if (grpcCode === 4) return 'timeout';
  if (message.includes('lease not found')) return 'not-found';
  return 'unavailable';
}

/** One endpoint as node:https request options, or (plain HTTP) as an Http1Client endpoint. */
interface Target {
  url: string;
  base: RequestOptions;
  https: boolean;
  plain?: Http1Endpoint;
}

function targetOf(endpoint: string, tls: EtcdTlsOptions | undefined): Target {
  if (endpoint.startsWith('unix://')) {
    const socketPath = endpoint.slice('unix://'.length);
    return { url: endpoint, base: { socketPath }, https: false, plain: { socketPath } };
  }
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch (err) {
    throw new TesseraError('validation', `cannot use etcd endpoint "${endpoint}": not a URL`, { cause: err });
  }
  const https = u.protocol === 'https:';
  if (!https && u.protocol !== 'http:') {
    throw new TesseraError(
      'validation',
      `cannot use etcd endpoint "${endpoint}": expected http://, https:// or unix://`,
    );
  }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const base: RequestOptions & { ca?: Buffer; cert?: Buffer; key?: Buffer; servername?: string } = {
    host,
    port: Number(u.port || 2379),
  };
  if (https && !tls?.caFile) {
    const roots = defaultRootsWithExtra();
    if (roots) base.ca = roots;
  }
  if (https && tls) {
    try {
      if (tls.caFile) base.ca = readFileSync(tls.caFile);
      if (tls.certFile) base.cert = readFileSync(tls.certFile);
      if (tls.keyFile) base.key = readFileSync(tls.keyFile);
    } catch (err) {
      throw new TesseraError(
        'validation',
        `cannot read etcd TLS files (ca "${tls.caFile ?? ''}", cert "${tls.certFile ?? ''}", key "${tls.keyFile ?? ''}")`,
        { cause: err },
      );
    }
  }
  return {
    url: endpoint,
    base,
    https,
    ...(https ? {} : { plain: { host, port: Number(base.port), hostHeader: u.host || `${u.hostname}:2379` } }),
  };
}

/** What one gateway call came to. */
type Outcome =
  | { kind: 'ok'; status: number; body: string }
  | { kind: 'timeout' }
  | { kind: 'aborted' }
  | { kind: 'failed'; why: string };

/**
 * Runs `begin` (which calls `done` with the exchange's outcome) under a deadline and an abort
 * signal: the first outcome wins; a timeout or abort also calls `destroy` to drop the exchange.
 */
function settleWithin(
  timeoutMs: number,
  signal: AbortSignal | undefined,
  destroy: () => void,
  begin: (done: (v: Outcome) => void) => void,
): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (v: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(v);
    };
    const timer = setTimeout(() => {
      done({ kind: 'timeout' });
      destroy();
    }, timeoutMs);
    const onAbort = () => {
      done({ kind: 'aborted' });
      destroy();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    begin(done);
  });
}

function describeSocketError(err: NodeJS.ErrnoException, https: boolean): string {
  const byCode: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOENT: 'no such socket',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ENOTFOUND: 'unknown host',
    ECONNRESET: 'connection reset',
    EPIPE: 'connection closed',
  };
  const known = err.code ? byCode[err.code] : undefined;
  // TLS failures: OpenSSL's text without its source locations, plus what it means for the config.
  if (https && (!known || err.code === 'ECONNRESET')) return describeEtcdFailure(err.message);
  return known ?? err.message;
}

export class EtcdHttpBackend implements Backend {
  readonly name = 'etcd' as const;
  private readonly targets: Target[];
  private readonly callTimeoutMs: number;
  private readonly pageSize: number;
  private grpc: Promise<Backend> | undefined;
  private closed = false;
  private agents = new Map<string, HttpAgent>();
  /** Plain http:// and unix:// endpoints: node:net, not node:http (start-up time; http1.ts). */
  private plainClients = new Map<string, Http1Client>();
  /** Index of the endpoint that answered last: later calls start there. */
  private preferred = 0;

  constructor(readonly options: EtcdHttpBackendOptions) {
    if (options.endpoints.length === 0) throw new TesseraError('validation', 'cannot connect to etcd: no endpoints');
    this.targets = options.endpoints.map((e) => targetOf(e, options.tls));
    this.callTimeoutMs = options.callTimeoutMs ?? 10_000;
    this.pageSize = options.pageSize ?? 10_000;
  }

  private agentFor(t: Target): HttpAgent {
    let a = this.agents.get(t.url);
    if (!a) {
      // Keep-alive: a command making several calls (apply = list + txn) reuses one connection.
      a = new (https().Agent)({ keepAlive: true, maxSockets: 4 });
      this.agents.set(t.url, a);
    }
    return a;
  }

  private plainClientFor(t: Target, plain: Http1Endpoint): Http1Client {
    let c = this.plainClients.get(t.url);
    if (!c) {
      c = new Http1Client(plain, 4);
      this.plainClients.set(t.url, c);
    }
    return c;
  }

  /** POSTs `body` to `path` on the first endpoint that answers; parses the JSON reply. */
  private async call<T>(path: string, body: unknown, action: string, signal?: AbortSignal): Promise<T> {
    if (this.closed) throw new TesseraError('unavailable', `${action}: the etcd client is closed`);
    if (signal?.aborted) throw new TesseraError('aborted', `${action}: aborted`);
    const payload = JSON.stringify(body);
    const failures: { endpoint: string; why: string }[] = [];
    let code: ErrorCode = 'unavailable';
    for (let i = 0; i < this.targets.length; i++) {
      const idx = (this.preferred + i) % this.targets.length;
      const t = this.targets[idx]!;
      const r = await this.request(t, path, payload, signal);
      if (r.kind === 'ok') {
        this.preferred = idx;
        let parsed: T & { error?: string; message?: string; code?: number };
        try {
          parsed = JSON.parse(r.body) as typeof parsed;
        } catch (err) {
          throw new TesseraError(
            'unavailable',
            `${action}: ${t.url} answered something that is not etcd JSON (HTTP ${r.status})`,
            {
              cause: err,
            },
          );
        }
        if (r.status === 200) return parsed;
        const message = parsed.message ?? parsed.error ?? `HTTP ${r.status}`;
        const c = codeOfGrpc(Number(parsed.code ?? 14), message);
        // An unavailable member (no leader, shutting down): try the next one.
        if (c === 'unavailable' && i < this.targets.length - 1) {
          failures.push({ endpoint: t.url, why: message });
          continue;
        }
        throw new TesseraError(c, `${action}: ${message}`);
      }
      if (r.kind === 'aborted') throw new TesseraError('aborted', `${action}: aborted`);
      code = r.kind === 'timeout' ? 'timeout' : 'unavailable';
      failures.push({
        endpoint: t.url,
        why: r.kind === 'timeout' ? `no answer in ${Math.round(this.callTimeoutMs / 100) / 10} s` : r.why,
      });
    }
    // details.failures lets a caller (the CLI) say it once, with where the endpoints came from.
    throw new TesseraError(
      code,
      `${action}: cannot reach the datastore at ${failures.map((f) => `${f.endpoint}: ${f.why}`).join('; ')}`,
      {
        details: { action, failures },
      },
    );
  }

  private async request(t: Target, path: string, payload: string, signal?: AbortSignal): Promise<Outcome> {
    if (t.plain) {
      const exchange = this.plainClientFor(t, t.plain).post(path, payload);
      return settleWithin(
        this.callTimeoutMs,
        signal,
        () => exchange.destroy(),
        (done) =>
          exchange.response.then(
            (r) => done({ kind: 'ok', status: r.status, body: r.body }),
            (err: NodeJS.ErrnoException) => done({ kind: 'failed', why: describeSocketError(err, false) }),
          ),
      );
    }
    const agent = this.agentFor(t);
    let req: ClientRequest | undefined;
    return settleWithin(
      this.callTimeoutMs,
      signal,
      () => req?.destroy(),
      (done) => {
        req = https().request(
          {
            ...t.base,
            agent,
            method: 'POST',
            path,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
          },
          (res: IncomingMessage) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              done({ kind: 'ok', status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
            );
            res.on('error', (err) => done({ kind: 'failed', why: describeSocketError(err, t.https) }));
          },
        );
        req.on('error', (err: NodeJS.ErrnoException) =>
          done({ kind: 'failed', why: describeSocketError(err, t.https) }),
        );
        req.end(payload);
      },
    );
  }

  async get(key: string, signal?: AbortSignal): Promise<KV | undefined> {
    const res = await this.call<GwRange>('/v3/kv/range', { key: b64(key) }, `cannot get "${key}"`, signal);
    const kv = res.kvs?.[0];
    return kv ? toKV(kv) : undefined;
  }

  async list(prefix: string, signal?: AbortSignal): Promise<ListResult> {
    const key = prefix === '' ? Buffer.from([0]) : Buffer.from(prefix);
    const rangeEnd = b64(prefix === '' ? Buffer.from([0]) : prefixEnd(key));
    const items: KV[] = [];
    let revision = 0;
    let from = key;
    for (;;) {
      const res: GwRange = await this.call<GwRange>(
        '/v3/kv/range',
        { key: b64(from), range_end: rangeEnd, limit: this.pageSize, ...(revision ? { revision } : {}) },
        `cannot list "${prefix}"${revision ? ` at revision ${revision}` : ''}`,
        signal,
      );
      if (revision === 0) revision = Number(res.header?.revision ?? 0);
      const kvs = res.kvs ?? [];
      for (const kv of kvs) items.push(toKV(kv));
      if (!res.more || kvs.length === 0) break;
      from = Buffer.concat([Buffer.from(kvs[kvs.length - 1]!.key ?? '', 'base64'), Buffer.from([0])]);
    }
    return { items, revision };
  }

  private grpcBackend(): Promise<Backend> {
    if (!this.grpc) {
      this.grpc = this.options.openGrpc
        ? this.options.openGrpc()
        : import('./etcd-backend.js').then(
            (m): EtcdBackend =>
              new m.EtcdBackend({
                endpoints: this.options.endpoints,
                tls: this.options.tls,
                callTimeoutMs: this.callTimeoutMs,
              }),
          );
    }
    return this.grpc;
  }

  async create(key: string, value: string, options: WriteOptions = {}): Promise<KV> {
    if (options.ttlSeconds !== undefined) return (await this.grpcBackend()).create(key, value, options);
    const action = `cannot create "${key}"`;
    const k = b64(key);
    const res = await this.call<GwTxn>(
      '/v3/kv/txn',
      {
        compare: [{ key: k, target: 'CREATE', result: 'EQUAL', create_revision: '0' }],
        success: [{ request_put: { key: k, value: b64(value) } }],
      },
      action,
      options.signal,
    );
    if (!res.succeeded) throw new TesseraError('already-exists', `${action}: it already exists`);
    const revision = Number(res.header?.revision ?? 0);
    return { key, value, revision, createRevision: revision };
  }

  async update(key: string, value: string, expectedRevision: number, options: WriteOptions = {}): Promise<KV> {
    if (options.ttlSeconds !== undefined)
      return (await this.grpcBackend()).update(key, value, expectedRevision, options);
    const action = `cannot update "${key}" at revision ${expectedRevision}`;
    const k = b64(key);
    const res = await this.call<GwTxn>(
      '/v3/kv/txn',
      {
        compare: [{ key: k, target: 'MOD', result: 'EQUAL', mod_revision: String(expectedRevision) }],
        success: [{ request_put: { key: k, value: b64(value), prev_kv: true } }],
        failure: [{ request_range: { key: k } }],
      },
      action,
      options.signal,
    );
    if (!res.succeeded) {
      const cur = res.responses?.[0]?.response_range?.kvs?.[0];
      if (!cur) throw new TesseraError('not-found', `${action}: it does not exist`);
      throw new TesseraError('conflict', `${action}: it is at revision ${cur.mod_revision}`);
    }
    const revision = Number(res.header?.revision ?? 0);
    const prev = res.responses?.[0]?.response_put?.prev_kv;
    return { key, value, revision, createRevision: prev ? Number(prev.create_revision) : revision };
  }

  async put(key: string, value: string, options: WriteOptions = {}): Promise<KV> {
    if (options.ttlSeconds !== undefined) return (await this.grpcBackend()).put(key, value, options);
    const res = await this.call<{ header?: GwHeader; prev_kv?: GwKV }>(
      '/v3/kv/put',
      { key: b64(key), value: b64(value), prev_kv: true },
      `cannot put "${key}"`,
      options.signal,
    );
    const revision = Number(res.header?.revision ?? 0);
    return { key, value, revision, createRevision: res.prev_kv ? Number(res.prev_kv.create_revision) : revision };
  }

  async delete(key: string, expectedRevision?: number, signal?: AbortSignal): Promise<KV | undefined> {
    const action = `cannot delete "${key}"${expectedRevision === undefined ? '' : ` at revision ${expectedRevision}`}`;
    const k = b64(key);
    if (expectedRevision === undefined) {
      const res = await this.call<{ prev_kvs?: GwKV[] }>(
        '/v3/kv/deleterange',
        { key: k, prev_kv: true },
        action,
        signal,
      );
      const prev = res.prev_kvs?.[0];
      return prev ? toKV(prev) : undefined;
    }
    const res = await this.call<GwTxn>(
      '/v3/kv/txn',
      {
        compare: [{ key: k, target: 'MOD', result: 'EQUAL', mod_revision: String(expectedRevision) }],
        success: [{ request_delete_range: { key: k, prev_kv: true } }],
        failure: [{ request_range: { key: k } }],
      },
      action,
      signal,
    );
    if (res.succeeded) {
      const prev = res.responses?.[0]?.response_delete_range?.prev_kvs?.[0];
      return prev ? toKV(prev) : undefined;
    }
    const cur = res.responses?.[0]?.response_range?.kvs?.[0];
    if (!cur) return undefined;
    throw new TesseraError('conflict', `${action}: it is at revision ${cur.mod_revision}`);
  }

  async txn(ops: TxnOp[], signal?: AbortSignal): Promise<number> {
    const action = `cannot write a transaction of ${ops.length} operations`;
    const compare: object[] = [];
    const success: object[] = [];
    for (const op of ops) {
      const key = b64(op.key);
      switch (op.op) {
        case 'create':
          compare.push({ key, target: 'CREATE', result: 'EQUAL', create_revision: '0' });
          success.push({ request_put: { key, value: b64(op.value) } });
          break;
        case 'update':
          compare.push({ key, target: 'MOD', result: 'EQUAL', mod_revision: String(op.expectedRevision) });
          success.push({ request_put: { key, value: b64(op.value) } });
          break;
        case 'put':
          success.push({ request_put: { key, value: b64(op.value) } });
          break;
        case 'delete':
          if (op.expectedRevision !== undefined) {
            compare.push({ key, target: 'MOD', result: 'EQUAL', mod_revision: String(op.expectedRevision) });
          }
          success.push({ request_delete_range: { key } });
          break;
      }
    }
    const res = await this.call<GwTxn>('/v3/kv/txn', { compare, success }, action, signal);
    if (!res.succeeded) {
      const keys = ops.filter((o) => o.op !== 'put').map((o) => `"${o.key}"`);
      throw new TesseraError('conflict', `${action}: a compare failed (keys ${keys.join(', ')})`, {
        details: { keys: ops.filter((o) => o.op !== 'put').map((o) => o.key) },
      });
    }
    return Number(res.header?.revision ?? 0);
  }

  watch(prefix: string, options: WatchOptions = {}): WatchStream {
    const backend = this.grpcBackend();
    return {
      async *[Symbol.asyncIterator]() {
        yield* (await backend).watch(prefix, options);
      },
    };
  }

  async revision(signal?: AbortSignal): Promise<number> {
    const res = await this.call<GwRange>(
      '/v3/kv/range',
      { key: b64(Buffer.from([0])), count_only: true },
      'cannot read the etcd revision',
      signal,
    );
    return Number(res.header?.revision ?? 0);
  }

  async compact(revision: number): Promise<void> {
    try {
      await this.call(
        '/v3/kv/compaction',
        { revision: String(revision), physical: true },
        `cannot compact etcd to revision ${revision}`,
      );
    } catch (err) {
      if (err instanceof TesseraError && err.code === 'compacted') return;
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
    for (const c of this.plainClients.values()) c.close();
    this.plainClients.clear();
    if (this.grpc) await (await this.grpc).close();
  }
}
