/**
 * Where the agent's status goes: the health server (/liveness, /readiness, /metrics, /status),
 * status.json and the `ready` marker in the state dir (for tools without network access to the
 * agent), and the Node's conditions (through `publish`). The loop says when; this says where.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { startHealthServer, type AgentMetrics } from './health.js';

/** What status.json, the health server's /status and the Node's conditions say. */
export interface AgentStatus {
  node: string;
  address: string;
  live: boolean;
  ready: boolean;
  inSync: boolean;
  ipipSupported: boolean;
  problems: string[];
  lastApplyError: string | null;
}

export interface StatusReporterOptions {
  stateDir: string;
  /** host:port of the health server; none without it. */
  healthListen?: string | undefined;
  metrics: AgentMetrics;
  live: () => boolean;
  ready: () => boolean;
  status: () => AgentStatus;
  /** Node conditions (best effort; failures are ignored, the next write tries again). */
  publish: (status: AgentStatus) => Promise<void>;
}

export class StatusReporter {
  private health: Server | undefined;
  private lastJson = '';
  private writes: Promise<void> = Promise.resolve();

  constructor(private readonly o: StatusReporterOptions) {}

  /** Creates the state dir. */
  async prepare(): Promise<void> {
    await mkdir(this.o.stateDir, { recursive: true });
  }

  /** Starts the health server, if one is configured. */
  async serve(): Promise<void> {
    if (!this.o.healthListen) return;
    const { live, ready, status } = this.o;
    this.health = await startHealthServer(this.o.healthListen, { live, ready, status }, this.o.metrics);
  }

  /** Closes the health server and writes the last status (not ready). */
  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.health ? this.health.close(() => r()) : r()));
    await this.write(false);
  }

  /**
   * status.json in the state dir + Node status. Every driver's loop reports here: writes are queued so
   * each one reflects the state when it runs and the last write wins (two interleaved writes once
   * left a stale "not ready" marker behind).
   */
  write(running: boolean): Promise<void> {
    const write = this.writes.then(() => this.writeNow(running));
    this.writes = write.catch(() => undefined);
    return write;
  }

  private async writeNow(running: boolean): Promise<void> {
    const obj = { ...this.o.status(), ready: running && this.o.ready() };
    const json = JSON.stringify(obj);
    if (json === this.lastJson) return;
    this.lastJson = json;
    const path = join(this.o.stateDir, 'status.json');
    await writeFile(`${path}.tmp`, `${JSON.stringify(obj, null, 2)}\n`);
    await rename(`${path}.tmp`, path);
    // A plain `ready` marker file as well, for tools that only test for existence.
    const marker = join(this.o.stateDir, 'ready');
    if (obj.ready) await writeFile(marker, `${new Date().toISOString()}\n`);
    else await rm(marker, { force: true });
    if (running) {
      void this.o.publish(obj).catch(() => undefined);
    }
  }
}
