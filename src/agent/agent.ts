/**
 * The node agent's loop: datastore mirror -> drivers (routing, policy, BGP, sysctls), gated on
 * in-sync, one apply loop per driver (driver-loop.ts), as felix's managers under one loop.
 *
 * Invariants a reviewer must check:
 *  - No desired state reaches the kernel before the syncer reports in-sync (every loop is gated on
 *    `inSync`). The one write before that is the ipip probe of the registrar's start
 *    (host-facts.ts): it creates and at once deletes the IPIP device to learn whether the kernel
 *    has ipip (a loadable module is only loaded by that attempt, so looking for `tunl0` would say
 *    no). It leaves nothing behind.
 *  - Calculators see only the current mirror, never event history. Routing recomputes its whole
 *    desired state each cycle and diffs it against what the kernel has. Policy is incremental: a
 *    change the calculator can express as a delta patches the last programmed nftables state
 *    (dataplane/nft/patch.ts), anything else renders in full; the periodic resync renders in full
 *    and compares with the kernel (drift check), repairing what was changed behind its back.
 *  - Each driver has its own loop, so a slow one never delays another: a new pod's CNI ADD waits
 *    for its policy only, never behind a route cycle (~200 ms at 1,000 nodes) or a BIRD reload.
 *    Every loop gets the same metrics, problem reporting and retry (the rule: driver-loop.ts).
 *  - Nothing is torn down on stop: a restarted agent finds its routes, devices and tables by their
 *    marks (route protocol, device names, table name) and takes them over without a blip.
 *  - Bad datastore items are skipped and counted, never fatal. Specs are read once, by the mirror,
 *    through api/decode.ts (typed pool, node and workload views; mirror.ts), never cast ad hoc.
 */
import type { Logger } from 'pino';
import type { Backend } from '../datastore/index.js';
import { ipamKeys, RESOURCE_ROOT } from '../datastore/index.js';
import { Syncer, ResourceStore } from '../datastore/index.js';
import { describeError, isTesseraError } from '../lib/errors.js';
import type { NftSession } from '../dataplane/nft/index.js';
import { IpamClient } from '../ipam/index.js';
import type { AutodetectMethod } from './autodetect.js';
import type { DataplaneDriver } from './driver.js';
import { DriverLoop, type RetrySchedule } from './driver-loop.js';
import { AgentMetrics } from './health.js';
import { DatastoreMirror } from './mirror.js';
import { NodeRegistrar } from './node-registrar.js';
import { hostDrivers, type AgentKernel } from './host-drivers.js';
import { StatusReporter, type AgentStatus } from './status.js';

export type { DataplaneDriver } from './driver.js';
export type { AgentStatus } from './status.js';
export type { AgentKernel } from './host-drivers.js';

/** What a service the agent starts gets: typed handles on what it needs, not the agent itself. */
export interface AgentServiceContext {
  /** The agent's IPAM client (its caches are warm; the agent closes it on stop). */
  ipam: IpamClient;
  log: Logger;
  /** Runs every driver's apply loop now. */
  kick(): void;
}

export interface AgentOptions {
  nodeName: string;
  backend: Backend;
  stateDir: string;
  logger: Logger;
  ipv4Autodetection: AutodetectMethod;
  ipv6Autodetection?: AutodetectMethod;
  healthListen?: string;
  interfacePrefix: string;
  routing: 'agent' | 'bgp';
  /** Periodic full resync (drift check) interval. */
  resyncIntervalMs: number;
  drivers?: DataplaneDriver[];
  /** One nftables session (a long-lived libnftables helper) for all of the agent's tables: pass the same one to the PolicyDriver. */
  nft?: NftSession;
  /** Set net.netfilter.nf_conntrack_tcp_be_liberal=1 (default true; see sysctls.ts). */
  conntrackTcpBeLiberal?: boolean;
  /** Tests: no kernel access (no route monitor either). */
  kernel?: AgentKernel;
  /** The retry schedule of a failed apply (default `RETRY`: 1 s doubling to 30 s; tests shorten it). */
  retry?: RetrySchedule;
  /** Extra services started once registered (e.g. the CNI fast path server). */
  services?: { name: string; start(ctx: AgentServiceContext): Promise<{ stop(): Promise<void> }> }[];
}

/**
 * The loop, and nothing else: the in-sync gate, one apply loop per driver (built the same way for
 * each), the periodic resync, readiness and status. What is programmed is the drivers' business:
 * routing (routing-driver.ts), policy and BGP (`options.drivers`), sysctls (sysctl-driver.ts);
 * this node's datastore records are the registrar's (node-registrar.ts).
 */
export class Agent {
  readonly metrics: AgentMetrics;
  readonly mirror: DatastoreMirror;
  private readonly ipam: IpamClient;
  private readonly registrar: NodeRegistrar;
  /** Policy and BGP (`options.drivers`), sysctls, routing: one loop each, in this order. */
  private readonly loops: readonly DriverLoop[];
  private readonly status: StatusReporter;
  private syncer: Syncer | undefined;
  private inSync = false;
  private stopped = false;
  private timers: NodeJS.Timeout[] = [];
  private runningServices: { stop(): Promise<void> }[] = [];

  constructor(private readonly options: AgentOptions) {
    this.metrics = new AgentMetrics([]);
    this.mirror = new DatastoreMirror((key, why) => {
      this.metrics.skippedResources.inc();
      options.logger.warn({ key, why }, 'skipping undecodable datastore item');
    });
    this.ipam = new IpamClient(options.backend);
    const extra = options.drivers ?? [];
    const kernel = options.kernel;
    this.registrar = new NodeRegistrar({
      nodeName: options.nodeName,
      store: new ResourceStore(options.backend),
      ipam: this.ipam,
      log: options.logger,
      autodetect: { ipv4: options.ipv4Autodetection, ipv6: options.ipv6Autodetection },
      clusterTypes: extra.flatMap((d) => (d.clusterType ? [d.clusterType] : [])),
      ...(kernel ? { discover: () => kernel.hostFacts() } : {}),
    });
    // One loop each, kicked in the order the two loops had before the split (policy, BGP and
    // sysctls, then routing); the metrics keep routing's series first.
    const host = hostDrivers(options, this.registrar, this.metrics);
    const drivers: DataplaneDriver[] = [...extra, host.sysctl, host.routing];
    this.metrics.addDataplanes([host.routing, ...extra, host.sysctl].map((d) => d.name));
    const loops: DriverLoop[] = [];
    for (const driver of drivers) {
      const after = loops.filter((l) => driver.after?.includes(l.name));
      loops.push(
        new DriverLoop({
          driver,
          mirror: this.mirror,
          metrics: this.metrics,
          log: options.logger,
          gate: () => this.inSync && !this.stopped,
          ...(after.length ? { before: async () => void (await Promise.all(after.map((l) => l.firstRun))) } : {}),
          afterRun: () => this.status.write(true),
          onBug: (e) => this.bugExit(e),
          ...(options.retry ? { retry: options.retry } : {}),
        }),
      );
    }
    this.loops = loops;
    this.status = new StatusReporter({
      stateDir: options.stateDir,
      healthListen: options.healthListen,
      metrics: this.metrics,
      live: () => !this.stopped,
      ready: () => this.isReady(),
      status: () => this.statusObject(),
      publish: (status) => this.registrar.publishConditions(status),
    });
  }

  get log(): Logger {
    return this.options.logger;
  }
  get nodeName(): string {
    return this.options.nodeName;
  }
  /** In sync, and every driver has applied successfully since start. */
  isReady(): boolean {
    return this.inSync && this.loops.every((l) => l.programmed) && !this.stopped;
  }

  async start(): Promise<void> {
    const log = this.options.logger;
    await this.status.prepare();
    await this.registrar.start();
    await this.status.serve();
    const context: AgentServiceContext = { ipam: this.ipam, log, kick: () => this.kick() };
    for (const s of this.options.services ?? []) {
      this.runningServices.push(await s.start(context));
      log.info({ service: s.name }, 'service started');
    }
    this.syncer = new Syncer({
      backend: this.options.backend,
      prefixes: [RESOURCE_ROOT, ipamKeys.blocksPrefix],
      onUpdates: (updates) => {
        this.metrics.datastoreUpdates.inc(updates.length);
        const inSync = this.inSync;
        for (const u of updates) {
          const change = this.mirror.apply(u);
          if (!change) continue;
          for (const l of this.loops) l.driver.onChange(change, this.mirror, inSync);
        }
        if (this.inSync) this.kick();
      },
      // The syncer retries on its own; without this a list failing forever was silent.
      onError: (err, prefix) => log.warn({ prefix, err: describeError(err) }, 'datastore sync failed (retrying)'),
      onStatus: (status) => {
        log.info({ status }, 'datastore sync status');
        if (status === 'in-sync') {
          this.inSync = true;
          this.resync();
        } else {
          this.inSync = false;
        }
      },
    });
    this.syncer.start();
    this.timers.push(setInterval(() => this.resync(), this.options.resyncIntervalMs));
    for (const l of this.loops) l.driver.start?.(() => l.kick());
  }

  /** Schedules a run of every driver's loop (each collapsed with any run already queued). */
  kick(): void {
    if (this.stopped || !this.inSync) return;
    for (const l of this.loops) l.kick();
  }

  /** A full apply of every driver (in-sync, periodic drift check). */
  private resync(): void {
    for (const l of this.loops) l.markFull();
    this.kick();
  }

  /** Waits for the current/queued applies to finish (tests). */
  async settle(): Promise<void> {
    await Promise.all(this.loops.map((l) => l.idle()));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.syncer?.stop();
    for (const l of this.loops) l.stop();
    await this.settle();
    for (const s of this.runningServices) await s.stop().catch(() => undefined);
    for (const l of this.loops) await l.driver.stop?.().catch(() => undefined);
    this.ipam.close(); // stops its cache watches
    await this.status.stop();
  }

  private bugExit(e: unknown): void {
    if (!isTesseraError(e, 'bug')) return;
    this.log.fatal({ err: describeError(e) }, 'invariant broken; exiting rather than run with an unknown dataplane');
    process.exit(70);
  }

  statusObject(): AgentStatus {
    const failing = this.loops.filter((l) => l.lastError !== undefined);
    return {
      node: this.nodeName,
      address: this.registrar.host.address,
      live: !this.stopped,
      ready: this.isReady(),
      inSync: this.inSync,
      ipipSupported: this.registrar.host.ipipSupported,
      problems: this.loops.flatMap((l) => l.problems()),
      lastApplyError: failing.length ? failing.map((l) => `${l.name}: ${l.lastError}`).join('; ') : null,
    };
  }
}
