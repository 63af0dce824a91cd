/**
 * Forwarding and conntrack settings (sysctls.ts) as a small driver: applied on full cycles (start
 * and periodic resync, which also puts back what someone changed); its first apply waits for the
 * policy driver's first (so conntrack is loaded). No datastore change concerns it (no pending
 * work outside full cycles). Its problems are kept until the next full cycle.
 */
import type { Logger } from 'pino';
import type { DataplaneDriver } from './driver.js';
import type { DatastoreMirror } from './mirror.js';
import { applySysctls, nodeSysctls } from './sysctls.js';

export interface SysctlDriverOptions {
  log: Logger;
  /** Whether the node has IPv6 (forwarding for both families then). */
  ipv6: () => boolean;
  conntrackTcpBeLiberal: boolean;
  /** Where the settings live (tests pass a temporary directory). */
  root?: string;
}

export class SysctlDriver implements DataplaneDriver {
  readonly name = 'sysctl';
  /** The conntrack setting exists once the policy driver's first nftables write loaded conntrack. */
  readonly after = ['policy'];
  private last: string[] = [];

  constructor(private readonly o: SysctlDriverOptions) {}

  onChange(): void {}

  pending(): boolean {
    return false;
  }

  async apply(_mirror: DatastoreMirror, full: boolean): Promise<void> {
    if (!full) return;
    const list = nodeSysctls({ ipv6: this.o.ipv6(), conntrackTcpBeLiberal: this.o.conntrackTcpBeLiberal });
    const r = await applySysctls(list, this.o.root);
    if (r.changed.length) this.o.log.info({ changed: r.changed }, 'kernel settings applied');
    this.last = r.problems;
  }

  problems(): string[] {
    return this.last;
  }
}
