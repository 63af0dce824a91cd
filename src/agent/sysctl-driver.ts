/**
 * Forwarding and conntrack settings (sysctls.ts) as a small driver: applied on full cycles, after
 * the other drivers (so conntrack is loaded). Its problems are kept until the next full cycle.
 */
import type { Logger } from 'pino';
import { applySysctls, nodeSysctls } from './sysctls.js';

export interface SysctlDriverOptions {
  log: Logger;
  /** Whether the node has IPv6 (forwarding for both families then). */
  ipv6: () => boolean;
  conntrackTcpBeLiberal: boolean;
  /** Where the settings live (tests pass a temporary directory). */
  root?: string;
}

export class SysctlDriver {
  readonly name = 'sysctl';
  private last: string[] = [];

  constructor(private readonly o: SysctlDriverOptions) {}

  async apply(): Promise<void> {
    const list = nodeSysctls({ ipv6: this.o.ipv6(), conntrackTcpBeLiberal: this.o.conntrackTcpBeLiberal });
    const r = await applySysctls(list, this.o.root);
    if (r.changed.length) this.o.log.info({ changed: r.changed }, 'kernel settings applied');
    this.last = r.problems.map((p) => `sysctl: ${p}`);
  }

  problems(): string[] {
    return this.last;
  }
}
