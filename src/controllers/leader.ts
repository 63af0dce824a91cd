/**
 * Leader election through the datastore (an etcd lease, not a Kubernetes Lease): the leader is
 * whoever created LEADER_KEY, which is attached to a lease of `ttlSeconds` that the holder's
 * datastore client keeps alive. A replica that dies loses the key `ttlSeconds` later; a standby
 * polls and takes it. A leader that finds the key gone or someone else's steps down at once.
 */
import type { Backend } from '../datastore/index.js';
import { ROOT } from '../datastore/index.js';
import { sleep } from '../lib/clock.js';
import { isTesseraError } from '../lib/errors.js';

export const LEADER_KEY = `${ROOT}controllers/leader`;

export interface LeaderElectorOptions {
  identity: string;
  ttlSeconds?: number;
  retryMs?: number;
}

export class LeaderElector {
  private leaderFlag = false;
  constructor(
    private readonly backend: Backend,
    private readonly options: LeaderElectorOptions,
  ) {}

  get isLeader(): boolean {
    return this.leaderFlag;
  }

  /** Who holds the lease now (undefined: nobody). */
  async holder(): Promise<string | undefined> {
    return (await this.backend.get(LEADER_KEY))?.value;
  }

  /**
   * Runs until `signal` aborts: waits to become leader, calls `lead` with a signal that aborts
   * when leadership is lost, and stands by again after.
   */
  async run(lead: (signal: AbortSignal) => Promise<void>, signal: AbortSignal): Promise<void> {
    const retryMs = this.options.retryMs ?? 2000;
    while (!signal.aborted) {
      if (!(await this.tryAcquire())) {
        await sleep(retryMs, signal).catch(() => undefined);
        continue;
      }
      const term = new AbortController();
      const stopTerm = () => term.abort();
      signal.addEventListener('abort', stopTerm, { once: true });
      this.leaderFlag = true;
      const leading = lead(term.signal).catch(() => undefined);
      while (!term.signal.aborted) {
        await sleep(retryMs, term.signal).catch(() => undefined);
        if (term.signal.aborted) break;
        const h = await this.holder().catch((err: unknown) =>
          isTesseraError(err, 'unavailable') ? this.options.identity : undefined,
        );
        if (h !== this.options.identity) term.abort();
      }
      this.leaderFlag = false;
      signal.removeEventListener('abort', stopTerm);
      await leading;
    }
    if (this.leaderFlag || (await this.holder().catch(() => undefined)) === this.options.identity) {
      await this.backend.delete(LEADER_KEY).catch(() => undefined);
    }
    this.leaderFlag = false;
  }

  private async tryAcquire(): Promise<boolean> {
    try {
      await this.backend.create(LEADER_KEY, this.options.identity, { ttlSeconds: this.options.ttlSeconds ?? 15 });
      return true;
    } catch (err) {
      if (isTesseraError(err, 'already-exists')) return (await this.holder()) === this.options.identity;
      if (isTesseraError(err, 'unavailable')) return false;
      throw err;
    }
  }
}
