/**
 * Opens the CLI's `CliStore`: the datastore's ResourceStore on etcd (the binary) or in memory
 * (tests). The only file that knows ResourceStore's signatures.
 */
import { MemoryBackend, ResourceStore, openBackend, type Backend } from '../datastore/index.js';
import { resolveDatastore, type ResolveOptions } from '../lib/context.js';
import type { CliStore } from './store.js';

export function resourceCliStore(rs: ResourceStore, backend: Backend = rs.backend): CliStore {
  return {
    get: (ref) => rs.get(ref.info, ref.name, ref.namespace),
    list: (info, namespace) => rs.list(info, namespace),
    create: (r) => rs.create(r),
    update: (r) => rs.update(r),
    applyBatch: async (resources) => (await rs.applyBatch(resources.map((resource) => ({ op: 'apply', resource })))).results.filter(
      (r): r is NonNullable<typeof r> => r !== undefined,
    ),
    delete: (ref) => rs.delete(ref.info, ref.name, ref.namespace),
    close: () => backend.close(),
  };
}

/** Resolves the datastore (flag, env, --config, context) and opens it. */
export async function openCliStore(selection: ResolveOptions): Promise<CliStore> {
  const ds = resolveDatastore(selection);
  const backend = openBackend(ds.tls ? { endpoints: ds.endpoints, tls: ds.tls } : { endpoints: ds.endpoints });
  return resourceCliStore(new ResourceStore(backend));
}

/** A fresh in-memory datastore (tests). */
export function memoryCliStore(): CliStore {
  return resourceCliStore(new ResourceStore(new MemoryBackend()));
}
