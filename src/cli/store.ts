/**
 * The slice of the datastore the CLI verbs use. Verbs code against `CliStore` so they can be unit
 * tested with a MemoryBackend-backed ResourceStore and so an API change in the datastore touches
 * only the adapter in `open-store.ts`.
 */
import type { KindInfo, Resource } from '../api/index.js';

export interface ResourceRef {
  info: KindInfo;
  name: string;
  /** Set for namespaced kinds only. */
  namespace?: string;
}

export interface CliStore {
  get(ref: ResourceRef): Promise<Resource | undefined>;
  /** Every object of a kind; for namespaced kinds only `namespace`'s unless it is undefined. */
  list(info: KindInfo, namespace?: string): Promise<Resource[]>;
  /** Fails with `already-exists`. */
  create(r: Resource): Promise<Resource>;
  /** Compare-and-swap on `r.metadata.resourceVersion`: `conflict` on mismatch, `not-found` if gone. */
  update(r: Resource): Promise<Resource>;
  /** Creates or overwrites every resource in one atomic write. */
  applyBatch(rs: Resource[]): Promise<Resource[]>;
  /** Returns the deleted object, or undefined when it did not exist. */
  delete(ref: ResourceRef): Promise<Resource | undefined>;
  /** Addresses IPAM has allocated from the pool named `pool` (for the pool-delete safety check). */
  poolAddressesInUse?(pool: string): Promise<number>;
  close(): Promise<void>;
}

export function refOf(info: KindInfo, r: Resource): ResourceRef {
  return info.namespaced
    ? { info, name: r.metadata.name, namespace: r.metadata.namespace ?? 'default' }
    : { info, name: r.metadata.name };
}

/** `IPPool "pool1"` or `NetworkPolicy "ns1/allow"`, for messages. */
export function describeRef(ref: ResourceRef): string {
  const id = ref.info.namespaced ? `${ref.namespace ?? 'default'}/${ref.name}` : ref.name;
  return `${ref.info.kind} "${id}"`;
}
