/**
 * Datastore access for IPAM records: typed reads, CAS retry with jittered backoff. The retry loop
 * re-reads and recomputes on every attempt, so nothing stale is ever written.
 */
import type { Backend, KV } from '../datastore/index.js';
import { ipamKeys } from '../datastore/index.js';
import { sleep } from '../lib/clock.js';
import { TesseraError, isTesseraError } from '../lib/errors.js';
import { parseBlock } from './block.js';
import type { AllocationBlock, BlockAffinity, IpamConfig, IpamHandle } from './types.js';
import { DEFAULT_IPAM_CONFIG } from './types.js';

export interface RetryPolicy {
  /** Attempts per CAS write before giving up with `conflict`. */
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  random: () => number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 40,
  backoffBaseMs: 1,
  backoffMaxMs: 64,
  random: Math.random,
};

export function throwIfAborted(signal: AbortSignal | undefined, action: string): void {
  if (signal?.aborted) throw new TesseraError('aborted', `${action}: aborted`, { cause: signal.reason });
}

/**
 * Runs `attempt` until it returns without a `conflict`. Bounded: after `maxAttempts` the last conflict is rethrown wrapped with `action`.
 */
export async function withCasRetry<T>(
  policy: RetryPolicy,
  action: string,
  signal: AbortSignal | undefined,
  attempt: (n: number) => Promise<T>,
): Promise<T> {
  let last: unknown;
  for (let n = 0; n < policy.maxAttempts; n++) {
    throwIfAborted(signal, action);
    try {
      return await attempt(n);
    } catch (err) {
      if (!isTesseraError(err, 'conflict')) throw err;
      last = err;
    }
    const cap = Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** Math.min(n, 16));
    try {
      await sleep(policy.random() * cap, signal);
    } catch (err) {
      throw new TesseraError('aborted', `${action}: aborted`, { cause: err });
    }
  }
  throw new TesseraError('conflict', `${action}: still conflicting after ${policy.maxAttempts} attempts`, {
    cause: last,
  });
}

export interface Versioned<T> {
  value: T;
  revision: number;
}

export async function readBlock(
  backend: Backend,
  cidr: string,
  signal?: AbortSignal,
): Promise<Versioned<AllocationBlock> | undefined> {
  const key = ipamKeys.block(cidr);
  const kv = await backend.get(key, signal);
  return kv === undefined ? undefined : { value: parseBlock(kv.value, key), revision: kv.revision };
}

export function parseHandle(kv: KV): IpamHandle {
  try {
    const h = JSON.parse(kv.value) as Partial<IpamHandle>;
    if (typeof h.handleID === 'string' && typeof h.block === 'object' && h.block !== null) {
      return { handleID: h.handleID, block: h.block };
    }
  } catch (err) {
    throw new TesseraError('bug', `cannot parse IPAM handle at "${kv.key}": not JSON`, { cause: err });
  }
  throw new TesseraError('bug', `cannot parse IPAM handle at "${kv.key}": missing fields`);
}

export async function readHandle(
  backend: Backend,
  handleId: string,
  signal?: AbortSignal,
): Promise<Versioned<IpamHandle> | undefined> {
  const kv = await backend.get(ipamKeys.handle(handleId), signal);
  return kv === undefined ? undefined : { value: parseHandle(kv), revision: kv.revision };
}

export function parseAffinity(kv: KV): BlockAffinity | undefined {
  try {
    const a = JSON.parse(kv.value) as Partial<BlockAffinity>;
    if (
      typeof a.cidr === 'string' &&
      typeof a.host === 'string' &&
      (a.state === 'pending' || a.state === 'confirmed')
    ) {
      return { host: a.host, cidr: a.cidr, state: a.state };
    }
  } catch {
    // fall through: treated like a pending affinity with no block (repaired away)
  }
  return undefined;
}

export async function readConfig(backend: Backend, signal?: AbortSignal): Promise<Versioned<IpamConfig> | undefined> {
  const kv = await backend.get(ipamKeys.config, signal);
  if (kv === undefined) return undefined;
  let raw: Partial<IpamConfig>;
  try {
    raw = JSON.parse(kv.value) as Partial<IpamConfig>;
  } catch (err) {
    throw new TesseraError('bug', `cannot parse IPAM config at "${ipamKeys.config}"`, { cause: err });
  }
  return {
    value: {
      strictAffinity: typeof raw.strictAffinity === 'boolean' ? raw.strictAffinity : DEFAULT_IPAM_CONFIG.strictAffinity,
      maxBlocksPerHost:
        typeof raw.maxBlocksPerHost === 'number' && raw.maxBlocksPerHost >= 0
          ? Math.floor(raw.maxBlocksPerHost)
          : DEFAULT_IPAM_CONFIG.maxBlocksPerHost,
    },
    revision: kv.revision,
  };
}
