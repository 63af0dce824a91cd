/**
 * The node agent's loop: datastore mirror -> drivers (policy, BGP, routing, sysctls), gated on in-sync.
 *
 * Invariants a reviewer must check:
 *  - No desired state reaches the kernel before the syncer reports in-sync (both apply loops are
 *    gated on `inSync`). The one write before that is the ipip probe of the registrar's start
 *    (host-facts.ts): it creates and at once deletes the IPIP device to learn whether the kernel
 *    has ipip (a loadable module is only loaded by that attempt, so looking for `tunl0` would say
 *    no). It leaves nothing behind.
 *  - Calculators see only the current mirror, never event history. Routing recomputes its whole
 *    desired state each cycle and diffs it against what the kernel has. Policy is incremental: a
 *    change the calculator can express as a delta patches the last programmed nftables state
 *    (dataplane/nft/patch.ts), anything else renders in full; the periodic resync renders in full
 *    and compares with the kernel (drift check), repairing what was changed behind its back.
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
import { RoutingReconciler } from '../dataplane/routes/index.js';
import { NatReconciler } from '../dataplane/nat/index.js';
import type { NftSession } from '../dataplane/nft/index.js';
import { IpamClient } from '../ipam/index.js';
import type { AutodetectMethod } from './autodetect.js';
import type { DataplaneDriver } from './driver.js';
import { AgentMetrics } from './health.js';
import { DatastoreMirror } from './mirror.js';
import { NodeRegistrar } from './node-registrar.js';
import { RoutingDriver } from './routing-driver.js';
import { StatusReporter, type AgentStatus } from './status.js';
import { SysctlDriver } from './sysctl-driver.js';
import { Throttler } from './throttler.js';

export type { DataplaneDriver } from './driver.js';
export type { AgentStatus } from './status.js';

/** What a service the agent starts gets: typed handles on what it needs, not the agent itself. */
export interface AgentServiceContext {
  /** The agent's IPAM client (its caches are warm; the agent closes it on stop). */
  ipam: IpamClient;
  log: Logger;
  /** Runs the apply loops now. */
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
  /** Extra services started once registered (e.g. the CNI fast path server). */
  services?: { name: string; start(ctx: AgentServiceContext): Promise<{ stop(): Promise<void> }> }[];
}

/**
 * The loop, and nothing else: the in-sync gate, two apply loops (drivers; routing), the periodic
 * resync, and the same metrics, problem reporting and retry for every driver. What is programmed
 * is the drivers' business: policy and BGP (`options.drivers`), routing (routing-driver.ts),
 * sysctls (sysctl-driver.ts); this node's datastore records are the registrar's (node-registrar.ts).
 */
export class Agent {
  readonly metrics: AgentMetrics;
  readonly mirror: DatastoreMirror;
  private readonly ipam: IpamClient;
  private readonly registrar: NodeRegistrar;
  private readonly routing: RoutingDriver;
  /** Policy and BGP (`options.drivers`), then sysctls: one list, one loop, one set of metrics. */
  private readonly drivers: readonly DataplaneDriver[];
  private readonly status: StatusReporter;
  private syncer: Syncer | undefined;
  private inSync = false;
  /** Each loop has completed a run since start (readiness needs both). */
  private driversProgrammed = false;
  private routesProgrammed = false;
  private stopped = false;
  private driverProblems: string[] = [];
  private routeError: string | undefined;
  /**
   * Two apply loops, each one batch per run: drivers (policy, BGP) and routing (routes, VTEPs, NAT,
   * MTU file). A new pod's CNI ADD waits for its policy only; it must not also wait behind a route
   * cycle (~200 ms at 1,000 nodes, most of it process spawns from a large heap).
   */
  private readonly driverLoop: Throttler;
  private readonly routeLoop: Throttler;
  private timers: NodeJS.Timeout[] = [];
  private runningServices: { stop(): Promise<void> }[] = [];
  private needFullDrivers = true;
  private needFullRoutes = true;

  constructor(private readonly options: AgentOptions) {
    // Sysctls last, so conntrack is loaded (by the policy driver's first write) when they run.
    const sysctls = new SysctlDriver({
      log: options.logger,
      ipv6: () => this.registrar.host.address6 !== undefined,
      conntrackTcpBeLiberal: options.conntrackTcpBeLiberal ?? true,
    });
    this.drivers = [...(options.drivers ?? []), sysctls];
    this.metrics = new AgentMetrics(['routes', ...this.drivers.map((d) => d.name)]);
    this.mirror = new DatastoreMirror((key, why) => {
      this.metrics.skippedResources.inc();
      options.logger.warn({ key, why }, 'skipping undecodable datastore item');
    });
    this.ipam = new IpamClient(options.backend);
    this.registrar = new NodeRegistrar({
      nodeName: options.nodeName,
      store: new ResourceStore(options.backend),
      ipam: this.ipam,
      log: options.logger,
      autodetect: { ipv4: options.ipv4Autodetection, ipv6: options.ipv6Autodetection },
      clusterTypes: this.drivers.flatMap((d) => (d.clusterType ? [d.clusterType] : [])),
    });
    this.routing = new RoutingDriver({
      nodeName: options.nodeName,
      stateDir: options.stateDir,
      routing: options.routing,
      interfacePrefix: options.interfacePrefix,
      log: options.logger,
      metrics: this.metrics,
      registrar: this.registrar,
      routes: new RoutingReconciler({ interfacePrefix: options.interfacePrefix }),
      nat: new NatReconciler(options.nft ? { session: options.nft } : {}),
      host: () => this.registrar.host,
      kick: () => this.kick(),
    });
    this.status = new StatusReporter({
      stateDir: options.stateDir,
      healthListen: options.healthListen,
      metrics: this.metrics,
      live: () => !this.stopped,
      ready: () => this.isReady(),
      status: () => this.statusObject(),
      publish: (status) => this.registrar.publishConditions(status),
    });
    this.driverLoop = new Throttler(() => this.applyDrivers());
    this.routeLoop = new Throttler(() => this.applyRoutes());
  }

  get log(): Logger {
    return this.options.logger;
  }
  get nodeName(): string {
    return this.options.nodeName;
  }
  isReady(): boolean {
    return this.inSync && this.driversProgrammed && this.routesProgrammed && !this.stopped;
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
          this.routing.onChange(change, this.mirror, inSync);
          for (const d of this.drivers) d.onChange(change, this.mirror);
        }
        if (this.inSync) this.kick();
      },
      // The syncer retries on its own; without this a list failing forever was silent.
      onError: (err, prefix) => log.warn({ prefix, err: describeError(err) }, 'datastore sync failed (retrying)'),
      onStatus: (status) => {
        log.info({ status }, 'datastore sync status');
        if (status === 'in-sync') {
          this.inSync = true;
          this.needFullDrivers = this.needFullRoutes = true;
          this.kick();
        } else {
          this.inSync = false;
        }
      },
    });
    this.syncer.start();
    this.timers.push(
      setInterval(() => {
        this.needFullDrivers = this.needFullRoutes = true;
        this.kick();
      }, this.options.resyncIntervalMs),
    );
    this.routing.start();
  }

  /** Schedules a run of both apply loops (each collapsed with any run already queued). */
  kick(): void {
    if (this.stopped || !this.inSync) return;
    this.driverLoop.trigger().catch(() => undefined);
    this.routeLoop.trigger().catch(() => undefined);
  }

  /** Waits for the current/queued applies to finish (tests). */
  async settle(): Promise<void> {
    await Promise.all([this.driverLoop.idle(), this.routeLoop.idle()]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.syncer?.stop();
    await this.settle();
    for (const s of this.runningServices) await s.stop().catch(() => undefined);
    for (const d of this.drivers) await d.stop?.().catch(() => undefined);
    await this.routing.stop();
    this.ipam.close(); // stops its cache watches
    await this.status.stop();
  }

  private async applyDrivers(): Promise<void> {
    if (!this.inSync || this.stopped) return;
    const full = this.needFullDrivers;
    this.needFullDrivers = false;
    const problems: string[] = [];
    try {
      for (const d of this.drivers) {
        const t0 = performance.now();
        try {
          await d.apply(this.mirror, full);
          for (const p of d.problems?.() ?? []) problems.push(`${d.name}: ${p}`);
        } catch (e) {
          this.metrics.applyFailures.inc({ dataplane: d.name });
          if (isTesseraError(e, 'bug')) throw e;
          problems.push(`${d.name}: ${describeError(e)}`);
          this.needFullDrivers = true;
        } finally {
          this.metrics.applySeconds.observe({ dataplane: d.name }, (performance.now() - t0) / 1000);
        }
      }
      this.driversProgrammed = true;
    } catch (e) {
      this.bugExit(e);
      this.log.error({ err: describeError(e) }, 'apply failed; will retry');
      this.retrySoon(() => (this.needFullDrivers = true));
    } finally {
      this.driverProblems = problems;
      await this.status.write(true);
    }
  }

  /** The routing driver: only when its inputs changed, or on a full resync. */
  private async applyRoutes(): Promise<void> {
    if (!this.inSync || this.stopped) return;
    const full = this.needFullRoutes;
    this.needFullRoutes = false;
    if (!full && !this.routing.pending()) return;
    const t0 = performance.now();
    try {
      await this.routing.apply(this.mirror, full);
      this.routesProgrammed = true;
      this.routeError = undefined;
    } catch (e) {
      this.metrics.applyFailures.inc({ dataplane: 'routes' });
      this.routeError = describeError(e);
      this.log.error({ err: this.routeError }, 'apply failed; will retry');
      this.retrySoon(() => (this.needFullRoutes = true));
      this.bugExit(e);
    } finally {
      this.metrics.applySeconds.observe({ dataplane: 'routes' }, (performance.now() - t0) / 1000);
      await this.status.write(true);
    }
  }

  /** Marks what must be redone now (`mark`) and runs the loops again in 1 s. */
  private retrySoon(mark: () => void): void {
    mark();
    setTimeout(() => this.kick(), 1000).unref();
  }

  private bugExit(e: unknown): void {
    if (!isTesseraError(e, 'bug')) return;
    this.log.fatal({ err: describeError(e) }, 'invariant broken; exiting rather than run with an unknown dataplane');
    process.exit(70);
  }

  statusObject(): AgentStatus {
    return {
      node: this.nodeName,
      address: this.registrar.host.address,
      live: !this.stopped,
      ready: this.isReady(),
      inSync: this.inSync,
      ipipSupported: this.registrar.host.ipipSupported,
      problems: [...this.routing.problems(), ...this.driverProblems],
      lastApplyError: this.routeError ?? null,
    };
  }
}
