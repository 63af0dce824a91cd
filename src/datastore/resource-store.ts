/**
 * Typed CRUD for `Resource` objects over a `Backend`.
 *
 * Storage format (keys.ts documents the layout): the value is the resource's JSON without
 * `metadata.resourceVersion`; on every read it is set from the key's mod revision as a decimal
 * string, so it can never disagree with the store. `uid` and `creationTimestamp` are set on
 * create and carried over by update/apply when the caller's copy lacks them.
 *
 * Concurrency: update/delete CAS on `metadata.resourceVersion` when the caller gives one (its
 * read is the caller's). apply and applyBatch without resourceVersion read the current objects
 * and CAS on those revisions, retrying a bounded number of times if someone wrote in between.
 */
import { kindFor } from '../api/index.js';
import type { KindInfo } from '../api/index.js';
import type { Resource } from '../api/index.js';
import { systemClock, type Clock } from '../lib/clock.js';
import { TesseraError, isTesseraError } from '../lib/errors.js';
import type { Backend, TxnOp } from './backend.js';
import { kindPrefix, resourceKey } from './keys.js';

export interface ResourceStoreOptions {
  clock?: Clock;
  /** Generates `metadata.uid` on create (default: crypto.randomUUID). */
  newUid?: () => string;
  /** Attempts for apply / applyBatch when a concurrent writer wins the CAS (default 3). */
  maxAttempts?: number;
}

export type ResourceBatchOp =
  | { op: 'apply' | 'create' | 'update'; resource: Resource }
  | { op: 'delete'; info: KindInfo; name: string; namespace?: string; resourceVersion?: string };

export interface BatchResult {
  /** Store revision of the transaction. */
  revision: number;
  /** Per op: the written resource (with resourceVersion), or undefined for a delete. */
  results: (Resource | undefined)[];
}

function describe(info: KindInfo, name: string, namespace?: string): string {
  return info.namespaced ? `${info.kind} "${namespace ?? 'default'}/${name}"` : `${info.kind} "${name}"`;
}

/** The stored form: the resource without resourceVersion. */
export function encodeResource(r: Resource): string {
  const { resourceVersion: _rv, ...metadata } = r.metadata;
  return JSON.stringify({ ...r, metadata });
}

/** Decodes a stored value; resourceVersion comes from the revision. */
export function decodeResource(kv: { value: string; revision: number }): Resource {
  const r = JSON.parse(kv.value) as Resource;
  r.metadata = { ...r.metadata, resourceVersion: String(kv.revision) };
  return r;
}

function parseVersion(r: Resource, action: string): number {
  const rv = r.metadata.resourceVersion;
  const n = Number(rv);
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new TesseraError('validation', `${action}: invalid resourceVersion "${rv ?? ''}"`, {
      problems: [{ path: 'metadata.resourceVersion', message: `"${rv ?? ''}" is not a positive integer` }],
    });
  }
  return n;
}

export class ResourceStore {
  private readonly clock: Clock;
  private readonly newUid: () => string;
  private readonly maxAttempts: number;

  constructor(
    readonly backend: Backend,
    options: ResourceStoreOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.newUid = options.newUid ?? (() => globalThis.crypto.randomUUID());
    this.maxAttempts = options.maxAttempts ?? 3;
  }

  /** The kind of a resource, or a validation error naming its apiVersion and kind. */
  infoFor(r: Resource): KindInfo {
    const info = kindFor(r.apiVersion, r.kind);
    if (!info) {
      throw new TesseraError('validation', `unknown kind "${r.kind}" in apiVersion "${r.apiVersion}"`, {
        problems: [{ path: 'kind', message: `"${r.apiVersion}" "${r.kind}" is not a known kind` }],
      });
    }
    if (!r.metadata?.name) {
      throw new TesseraError('validation', `${info.kind} has no name`, {
        problems: [{ path: 'metadata.name', message: 'is required' }],
      });
    }
    return info;
  }

  keyOf(r: Resource): string {
    const info = this.infoFor(r);
    return resourceKey(info, r.metadata.name, info.namespaced ? r.metadata.namespace : undefined);
  }

  decode(kv: { value: string; revision: number }): Resource {
    return decodeResource(kv);
  }

  async get(info: KindInfo, name: string, namespace?: string, signal?: AbortSignal): Promise<Resource | undefined> {
    const kv = await this.backend.get(resourceKey(info, name, namespace), signal);
    return kv ? decodeResource(kv) : undefined;
  }

  /** Every resource of a kind (namespaced kinds: in `namespace`, or all namespaces). */
  async list(info: KindInfo, namespace?: string, signal?: AbortSignal): Promise<Resource[]> {
    const res = await this.backend.list(kindPrefix(info, namespace), signal);
    return res.items.map(decodeResource);
  }

  private withCreateMeta(r: Resource, info: KindInfo): Resource {
    const metadata = { ...r.metadata, uid: this.newUid(), creationTimestamp: this.clock.nowIso() };
    delete metadata.resourceVersion;
    if (info.namespaced) metadata.namespace = r.metadata.namespace ?? 'default';
    else delete metadata.namespace;
    return { ...r, metadata };
  }

  private withKeptMeta(r: Resource, cur: Resource | undefined, info: KindInfo): Resource {
    const metadata = { ...r.metadata };
    metadata.uid = metadata.uid ?? cur?.metadata.uid;
    metadata.creationTimestamp = metadata.creationTimestamp ?? cur?.metadata.creationTimestamp;
    if (info.namespaced) metadata.namespace = r.metadata.namespace ?? 'default';
    else delete metadata.namespace;
    return { ...r, metadata };
  }

  async create(r: Resource, signal?: AbortSignal): Promise<Resource> {
    const info = this.infoFor(r);
    const fresh = this.withCreateMeta(r, info);
    const key = resourceKey(info, r.metadata.name, fresh.metadata.namespace);
    try {
      const kv = await this.backend.create(key, encodeResource(fresh), { signal });
      return { ...fresh, metadata: { ...fresh.metadata, resourceVersion: String(kv.revision) } };
    } catch (err) {
      if (isTesseraError(err, 'already-exists')) {
        throw new TesseraError(
          'already-exists',
          `cannot create ${describe(info, r.metadata.name, r.metadata.namespace)}: it already exists`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  /** Replaces an existing resource; CAS on resourceVersion when set. */
  async update(r: Resource, signal?: AbortSignal): Promise<Resource> {
    const info = this.infoFor(r);
    const what = describe(info, r.metadata.name, r.metadata.namespace);
    const cur = await this.get(info, r.metadata.name, r.metadata.namespace, signal);
    if (!cur) throw new TesseraError('not-found', `cannot update ${what}: it does not exist`);
    const expected =
      r.metadata.resourceVersion !== undefined
        ? parseVersion(r, `cannot update ${what}`)
        : Number(cur.metadata.resourceVersion);
    const next = this.withKeptMeta(r, cur, info);
    const key = resourceKey(info, r.metadata.name, next.metadata.namespace);
    try {
      const kv = await this.backend.update(key, encodeResource(next), expected, { signal });
      return { ...next, metadata: { ...next.metadata, resourceVersion: String(kv.revision) } };
    } catch (err) {
      if (isTesseraError(err, 'conflict') || isTesseraError(err, 'not-found')) {
        throw new TesseraError(
          err.code,
          `cannot update ${what} at resourceVersion "${expected}": ${
            err.code === 'conflict' ? 'it was modified concurrently' : 'it was deleted'
          }`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  /** Create-or-update. Without resourceVersion, retries if a concurrent writer wins. */
  async apply(r: Resource, signal?: AbortSignal): Promise<Resource> {
    const res = await this.applyBatch([{ op: 'apply', resource: r }], signal);
    return res.results[0]!;
  }

  async delete(
    info: KindInfo,
    name: string,
    namespace?: string,
    resourceVersion?: string,
    signal?: AbortSignal,
  ): Promise<Resource | undefined> {
    const what = describe(info, name, namespace);
    let expected: number | undefined;
    if (resourceVersion !== undefined) {
      expected = parseVersion(
        { apiVersion: info.apiVersion, kind: info.kind, metadata: { name, resourceVersion } },
        `cannot delete ${what}`,
      );
    }
    try {
      const kv = await this.backend.delete(resourceKey(info, name, namespace), expected, signal);
      return kv ? decodeResource(kv) : undefined;
    } catch (err) {
      if (isTesseraError(err, 'conflict')) {
        throw new TesseraError(
          'conflict',
          `cannot delete ${what} at resourceVersion "${resourceVersion}": it was modified`,
          {
            cause: err,
          },
        );
      }
      throw err;
    }
  }

  /**
   * Writes every op in ONE backend transaction: all or nothing. `apply` ops read the current
   * objects first and compare on their revisions; the whole batch is retried (bounded) when one
   * of those moved, unless the caller pinned revisions itself (then `conflict` is returned).
   */
  async applyBatch(ops: ResourceBatchOp[], signal?: AbortSignal): Promise<BatchResult> {
    let lastErr: unknown;
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const { txn, written, callerPinned } = await this.planBatch(ops, signal);
      try {
        const revision = await this.backend.txn(txn, signal);
        const rv = String(revision);
        return {
          revision,
          results: written.map((r) => (r ? { ...r, metadata: { ...r.metadata, resourceVersion: rv } } : undefined)),
        };
      } catch (err) {
        if (!isTesseraError(err, 'conflict') || callerPinned) throw err;
        lastErr = err;
      }
    }
    throw new TesseraError('conflict', `cannot apply ${ops.length} resources: they kept changing concurrently`, {
      cause: lastErr,
    });
  }

  private async planBatch(
    ops: ResourceBatchOp[],
    signal?: AbortSignal,
  ): Promise<{ txn: TxnOp[]; written: (Resource | undefined)[]; callerPinned: boolean }> {
    const txn: TxnOp[] = [];
    const written: (Resource | undefined)[] = [];
    let callerPinned = false;
    const currents = await Promise.all(
      ops.map((o) => {
        if (o.op === 'delete' || o.op === 'create') return undefined;
        const info = this.infoFor(o.resource);
        return this.get(info, o.resource.metadata.name, o.resource.metadata.namespace, signal);
      }),
    );
    ops.forEach((o, i) => {
      if (o.op === 'delete') {
        const key = resourceKey(o.info, o.name, o.namespace);
        if (o.resourceVersion !== undefined) {
          callerPinned = true;
          const expectedRevision = parseVersion(
            {
              apiVersion: o.info.apiVersion,
              kind: o.info.kind,
              metadata: { name: o.name, resourceVersion: o.resourceVersion },
            },
            `cannot delete ${describe(o.info, o.name, o.namespace)}`,
          );
          txn.push({ op: 'delete', key, expectedRevision });
        } else {
          txn.push({ op: 'delete', key });
        }
        written.push(undefined);
        return;
      }
      const r = o.resource;
      const info = this.infoFor(r);
      const what = describe(info, r.metadata.name, r.metadata.namespace);
      const cur = currents[i];
      if (o.op === 'create' || (o.op === 'apply' && !cur && r.metadata.resourceVersion === undefined)) {
        const fresh = this.withCreateMeta(r, info);
        txn.push({
          op: 'create',
          key: resourceKey(info, r.metadata.name, fresh.metadata.namespace),
          value: encodeResource(fresh),
        });
        written.push(fresh);
        if (o.op === 'create') callerPinned = true;
        return;
      }
      if (o.op === 'update' && !cur) throw new TesseraError('not-found', `cannot update ${what}: it does not exist`);
      let expectedRevision: number;
      if (r.metadata.resourceVersion !== undefined) {
        callerPinned = true;
        expectedRevision = parseVersion(r, `cannot ${o.op} ${what}`);
      } else {
        expectedRevision = Number(cur!.metadata.resourceVersion);
      }
      const next = this.withKeptMeta(r, cur, info);
      txn.push({
        op: 'update',
        key: resourceKey(info, r.metadata.name, next.metadata.namespace),
        value: encodeResource(next),
        expectedRevision,
      });
      written.push(next);
    });
    return { txn, written, callerPinned };
  }
}
