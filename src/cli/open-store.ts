/**
 * Opens the CLI's `CliStore` on a datastore `Backend` (etcd for the binary, in-memory for tests).
 *
 * INTERIM: implemented directly on the Backend contract and keys.ts (the storage format the
 * datastore index documents: JSON values without `metadata.resourceVersion`, which is the key's
 * mod revision on read). To be switched to the datastore's ResourceStore once it lands.
 */
import type { KindInfo, Resource } from '../api/index.js';
import { kindPrefix, openBackend, resourceKey, type Backend, type KV, type TxnOp } from '../datastore/index.js';
import { TesseraError } from '../lib/errors.js';
import type { ResolvedDatastore } from '../lib/context.js';
import { kindInfoOf } from './format.js';
import { describeRef, refOf, type CliStore, type ResourceRef } from './store.js';

function keyOf(ref: ResourceRef): string {
  return resourceKey(ref.info, ref.name, ref.info.namespaced ? (ref.namespace ?? 'default') : undefined);
}

function decode(kv: KV): Resource {
  const r = JSON.parse(kv.value) as Resource;
  return { ...r, metadata: { ...r.metadata, resourceVersion: String(kv.revision) } };
}

function encode(r: Resource): string {
  const { resourceVersion: _rv, ...metadata } = r.metadata;
  return JSON.stringify({ ...r, metadata });
}

function infoOf(r: Resource): KindInfo {
  const info = kindInfoOf(r);
  if (!info) throw new TesseraError('validation', `unknown kind "${r.kind}" in apiVersion "${r.apiVersion}"`);
  return info;
}

function revisionOf(r: Resource, action: string): number {
  const rv = Number(r.metadata.resourceVersion);
  if (!Number.isInteger(rv) || rv <= 0) {
    throw new TesseraError('validation', `cannot ${action} ${describeRef(refOf(infoOf(r), r))}: invalid resourceVersion "${r.metadata.resourceVersion ?? ''}"`);
  }
  return rv;
}

export function backendCliStore(backend: Backend): CliStore {
  return {
    async get(ref) {
      const kv = await backend.get(keyOf(ref));
      return kv ? decode(kv) : undefined;
    },
    async list(info, namespace) {
      const prefix = kindPrefix(info, info.namespaced ? namespace : undefined);
      const res = await backend.list(prefix);
      return res.items.map(decode);
    },
    async create(r) {
      const ref = refOf(infoOf(r), r);
      try {
        return decode(await backend.create(keyOf(ref), encode(r)));
      } catch (err) {
        if (err instanceof TesseraError && err.code === 'already-exists') {
          throw new TesseraError('already-exists', `cannot create ${describeRef(ref)}: resource already exists`, { cause: err });
        }
        throw err;
      }
    },
    async update(r) {
      const ref = refOf(infoOf(r), r);
      return decode(await backend.update(keyOf(ref), encode(r), revisionOf(r, 'update')));
    },
    async applyBatch(rs) {
      const ops: TxnOp[] = rs.map((r) => ({ op: 'put', key: keyOf(refOf(infoOf(r), r)), value: encode(r) }));
      const revision = await backend.txn(ops);
      return rs.map((r) => ({ ...r, metadata: { ...r.metadata, resourceVersion: String(revision) } }));
    },
    async delete(ref) {
      const kv = await backend.delete(keyOf(ref));
      return kv ? decode(kv) : undefined;
    },
    close: () => backend.close(),
  };
}

export async function openCliStore(ds: ResolvedDatastore): Promise<CliStore> {
  return backendCliStore(openBackend(ds.tls ? { endpoints: ds.endpoints, tls: ds.tls } : { endpoints: ds.endpoints }));
}

/** A fresh in-memory datastore (tests). */
export function memoryCliStore(): CliStore {
  return backendCliStore(openBackend('memory'));
}
