/**
 * Datastore: revisioned key-value storage (etcd v3, or in memory for tests), the syncer that
 * turns list + watch into an ordered update stream with an in-sync signal, and typed resource
 * CRUD on top.
 *
 * DESIGN
 * - Both backends implement `Backend` with identical behaviour; `contract.ts` is the proof and
 *   runs against each. A behaviour not in the contract is not guaranteed.
 * - Watches never end quietly: they throw `compacted` (re-list), `unavailable` (resume from last
 *   revision + 1) or `aborted`. The Syncer is the only place that turns those into recovery.
 * - The Syncer emits each change exactly once and in revision order; after a compaction it
 *   re-lists and emits only the difference (synthetic deletes for vanished keys), so consumers
 *   never see the world go backwards or get a full replay.
 * - Resources are stored without `metadata.resourceVersion`; it is always the key's mod
 *   revision, set on read.
 */
export type {
  Backend,
  KV,
  ListResult,
  ListPagesOptions,
  TxnOp,
  WatchEvent,
  WatchOptions,
  WatchStream,
  WriteOptions,
} from './backend.js';
export { listInPages } from './backend.js';
export * from './keys.js';
export {
  MemoryBackend,
  MemoryStore,
  type MemoryBackendOptions,
  type MemoryStoreOptions,
} from './memory/memory-backend.js';
export { EtcdBackend, type EtcdBackendOptions, type EtcdTlsOptions } from './etcd/etcd-backend.js';
export { EtcdHttpBackend, type EtcdHttpBackendOptions } from './etcd/http-backend.js';
export { openBackend, type EtcdConfig } from './open-backend.js';
export { plainEndpointsServingTls } from './etcd/tls-probe.js';
export { Syncer, type SyncerOptions, type SyncStatus, type SyncUpdate } from './syncer.js';
export {
  ResourceStore,
  encodeResource,
  decodeResource,
  type ResourceStoreOptions,
  type ResourceBatchOp,
  type BatchResult,
} from './resource-store.js';
