/**
 * Opens the CLI's `CliStore`: the datastore's ResourceStore on etcd (the binary) or in memory
 * (tests). The only file that knows ResourceStore's signatures.
 */
import {
  EtcdHttpBackend,
  MemoryBackend,
  ResourceStore,
  openBackend,
  plainEndpointsServingTls,
  type Backend,
} from '../datastore/index.js';
import { resolveDatastore, type ResolvedDatastore, type ResolveOptions } from '../lib/context.js';
import { TesseraError, describeError, isTesseraError } from '../lib/errors.js';
import type { CliStore } from './store.js';

export function resourceCliStore(rs: ResourceStore, backend: Backend = rs.backend): CliStore {
  return {
    get: (ref) => rs.get(ref.info, ref.name, ref.namespace),
    list: (info, namespace) => rs.list(info, namespace),
    create: (r) => rs.create(r),
    update: (r) => rs.update(r),
    applyBatch: async (resources) =>
      (await rs.applyBatch(resources.map((resource) => ({ op: 'apply', resource })))).results.filter(
        (r): r is NonNullable<typeof r> => r !== undefined,
      ),
    delete: (ref) => rs.delete(ref.info, ref.name, ref.namespace),
    // IPAM is loaded only by the verb that needs it (ippool delete): start-up time of the others.
    poolAddressesInUse: async (pool) => {
      const { IpamClient } = await import('../ipam/index.js');
      return (await new IpamClient(backend).usage()).find((u) => u.name === pool)?.inUse ?? 0;
    },
    close: () => backend.close(),
  };
}

/** Resolves the datastore (flag, env, --config, context) and opens it. */
export async function openCliStore(selection: ResolveOptions): Promise<CliStore> {
  const ds = resolveDatastore(selection);
  const backend = new EtcdHttpBackend(ds.tls ? { endpoints: ds.endpoints, tls: ds.tls } : { endpoints: ds.endpoints });
  return namingEndpoints(resourceCliStore(new ResourceStore(backend)), ds);
}

/** The raw Backend of the selected datastore (the JSON gateway, as the CliStore uses). */
export function openCliBackend(selection: ResolveOptions): Backend {
  return openBackend({ ...resolveDatastore(selection), transport: 'http' });
}

/** Unreachable-datastore errors say which endpoints were tried and where they came from. */
function namingEndpoints(store: CliStore, ds: ResolvedDatastore): CliStore {
  const wrap =
    <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      try {
        return await fn(...a);
      } catch (err) {
        if (isTesseraError(err, 'unavailable') || isTesseraError(err, 'timeout')) {
          const failures = err.details['failures'] as { endpoint: string; why: string }[] | undefined;
          const where = ds.endpoints.map((e) => `"${e}"`).join(', ');
          // One line: which endpoints, where they came from, and each one's reason, said once.
          const why = failures
            ? failures.map((f) => (failures.length > 1 ? `${f.endpoint}: ${f.why}` : f.why)).join('; ')
            : describeError(err);
          const what = `cannot reach the datastore at ${where} (from ${ds.source}): ${why}`;
          // An http:// endpoint that is really a TLS listener just looks unresponsive.
          const tls = await plainEndpointsServingTls(ds.endpoints);
          if (!tls.length) throw new TesseraError(err.code, what, { details: { clientError: err } });
          const hint = `${tls.map((e) => `"${e}"`).join(', ')} ${tls.length > 1 ? 'serve' : 'serves'} TLS: use https:// and set caFile (calicoctl: etcdCACertFile)`;
          throw new TesseraError(err.code, `${what}; ${hint}`, { details: { clientError: err } });
        }
        throw err;
      }
    };
  return {
    get: wrap(store.get),
    list: wrap(store.list),
    create: wrap(store.create),
    update: wrap(store.update),
    applyBatch: wrap(store.applyBatch),
    delete: wrap(store.delete),
    ...(store.poolAddressesInUse ? { poolAddressesInUse: wrap(store.poolAddressesInUse) } : {}),
    close: store.close,
  };
}

/** A fresh in-memory datastore (tests). */
export function memoryCliStore(): CliStore {
  return resourceCliStore(new ResourceStore(new MemoryBackend()));
}
