/** Read-modify-write with compare-and-swap and a bounded retry when a concurrent writer wins. */
import type { Resource } from '../api/index.js';
import { TesseraError, isTesseraError } from '../lib/errors.js';
import { describeRef, type CliStore, type ResourceRef } from './store.js';

export const CAS_ATTEMPTS = 5;

export interface ModifyResult {
  /** The object as stored afterwards. */
  resource: Resource;
  /** False when `modify` returned undefined (nothing to change): no write happened. */
  changed: boolean;
}

/**
 * Calls `modify` on the current object and writes its result with CAS on the revision read. On
 * `conflict` it re-reads and calls `modify` again (at most CAS_ATTEMPTS times), so `modify` must be
 * a pure function of the object it is given. Returning undefined means "no change".
 */
export async function modifyWithRetry(
  store: CliStore,
  ref: ResourceRef,
  action: string,
  modify: (current: Resource) => Resource | undefined,
): Promise<ModifyResult> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    const current = await store.get(ref);
    if (!current) throw new TesseraError('not-found', `cannot ${action} ${describeRef(ref)}: resource does not exist`);
    const next = modify(structuredClone(current));
    if (next === undefined) return { resource: current, changed: false };
    const withRv: Resource = {
      ...next,
      metadata: { ...next.metadata, resourceVersion: current.metadata.resourceVersion },
    };
    try {
      return { resource: await store.update(withRv), changed: true };
    } catch (err) {
      if (!isTesseraError(err, 'conflict')) throw err;
      lastErr = err;
    }
  }
  throw new TesseraError(
    'conflict',
    `cannot ${action} ${describeRef(ref)}: it changed concurrently ${CAS_ATTEMPTS} times in a row`,
    { cause: lastErr },
  );
}
