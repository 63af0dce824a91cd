/**
 * Test helpers shared by IPAM unit and integration tests: seeding pools / reservations / nodes,
 * and a Backend wrapper that injects CAS conflicts and interleaving delays.
 */
import { lookupKind } from '../api/index.js';
import type { Backend, KV, ListResult, TxnOp, WatchOptions, WatchStream, WriteOptions } from '../datastore/index.js';
import { resourceKey } from '../datastore/index.js';
import { TesseraError } from '../lib/errors.js';

function key(kind: string, name: string): string {
  const info = lookupKind(kind);
  if (!info) throw new TesseraError('bug', `kind "${kind}" is not registered`);
  return resourceKey(info, name);
}

export async function putPool(
  backend: Backend,
  name: string,
  spec: { cidr: string; blockSize?: number; nodeSelector?: string; disabled?: boolean; allowedUses?: string[] },
): Promise<void> {
  await backend.put(
    key('IPPool', name),
    JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name }, spec }),
  );
}

export async function putReservation(backend: Backend, name: string, reservedCIDRs: string[]): Promise<void> {
  await backend.put(
    key('IPReservation', name),
    JSON.stringify({
      apiVersion: 'projectcalico.org/v3',
      kind: 'IPReservation',
      metadata: { name },
      spec: { reservedCIDRs },
    }),
  );
}

export async function putNode(backend: Backend, name: string, labels: Record<string, string>): Promise<void> {
  await backend.put(
    key('Node', name),
    JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name, labels }, spec: {} }),
  );
}

/** Deterministic PRNG (mulberry32) so injected faults are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FaultOptions {
  /** Probability that a write fails with `conflict` before reaching the store. */
  conflictRate: number;
  random: () => number;
  /** Yield to the event loop before every call so concurrent callers interleave. */
  interleave?: boolean;
}

/** Wraps a Backend; writes fail with injected `conflict`s at the given rate. */
export class FaultyBackend implements Backend {
  readonly name: 'etcd' | 'memory';
  injected = 0;
  constructor(
    private readonly inner: Backend,
    private readonly faults: FaultOptions,
  ) {
    this.name = inner.name;
  }
  private async maybe(action: string): Promise<void> {
    if (this.faults.interleave) await new Promise((r) => setImmediate(r));
    if (this.faults.random() < this.faults.conflictRate) {
      this.injected++;
      throw new TesseraError('conflict', `${action}: injected conflict`);
    }
  }
  private async pause(): Promise<void> {
    if (this.faults.interleave) await new Promise((r) => setImmediate(r));
  }
  async get(k: string, signal?: AbortSignal): Promise<KV | undefined> {
    await this.pause();
    return this.inner.get(k, signal);
  }
  async list(prefix: string, signal?: AbortSignal): Promise<ListResult> {
    await this.pause();
    return this.inner.list(prefix, signal);
  }
  async create(k: string, value: string, options?: WriteOptions): Promise<KV> {
    await this.pause();
    return this.inner.create(k, value, options);
  }
  async update(k: string, value: string, rev: number, options?: WriteOptions): Promise<KV> {
    await this.maybe(`update "${k}"`);
    return this.inner.update(k, value, rev, options);
  }
  async put(k: string, value: string, options?: WriteOptions): Promise<KV> {
    await this.pause();
    return this.inner.put(k, value, options);
  }
  async delete(k: string, rev?: number, signal?: AbortSignal): Promise<KV | undefined> {
    await this.pause();
    return this.inner.delete(k, rev, signal);
  }
  async txn(ops: TxnOp[], signal?: AbortSignal): Promise<number> {
    await this.maybe('txn');
    return this.inner.txn(ops, signal);
  }
  watch(prefix: string, options?: WatchOptions): WatchStream {
    return this.inner.watch(prefix, options);
  }
  revision(signal?: AbortSignal): Promise<number> {
    return this.inner.revision(signal);
  }
  compact(revision: number): Promise<void> {
    return this.inner.compact(revision);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
