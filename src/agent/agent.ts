/**
 * The node agent: registration, the calculation loop, and the reconcilers.
 *
 * Invariants a reviewer must check:
 *  - No desired state reaches the kernel before the syncer reports in-sync (both apply loops are
 *    gated on `inSync`). The one write before that is `probeIpip` at start: it creates and at once
 *    deletes the IPIP device to learn whether the kernel has ipip (a loadable module is only
 *    loaded by that attempt, so looking for `tunl0` would say no). It leaves nothing behind.
 *  - Calculators see only the current mirror, never event history. Routing recomputes its whole
 *    desired state each cycle and diffs it against what the kernel has. Policy is incremental: a
 *    change the calculator can express as a delta patches the last programmed nftables state
 *    (dataplane/nft/patch.ts), anything else renders in full; the periodic resync renders in full
 *    and compares with the kernel (drift check), repairing what was changed behind its back.
 *  - Nothing is torn down on stop: a restarted agent finds its routes, devices and tables by their
 *    marks (route protocol, device names, table name) and takes them over without a blip.
 *  - Bad datastore items are skipped and counted, never fatal.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '../lib/paths.js';
import { nextClusterInformation } from './cluster-info.js';
import type { Logger } from 'pino';
import type { Backend } from '../datastore/index.js';
import { ipamKeys, RESOURCE_ROOT, resourceKey } from '../datastore/index.js';
import { Syncer, ResourceStore } from '../datastore/index.js';
import { lookupKind } from '../api/index.js';
import type { ClusterInformationSpec, Resource } from '../api/index.js';
import { describeError, isTesseraError, TesseraError } from '../lib/errors.js';
import { run } from '../lib/exec.js';
import { lineSplitter } from '../lib/lines.js';
import {
  IPIP_DEVICE,
  IPIP_OVERHEAD,
  VXLAN_OVERHEAD_V4,
  VXLAN_PORT,
  VXLAN_VNI,
  VXLAN_OVERHEAD_V6,
  VXLAN_V6_DEVICE,
  VXLAN_V6_VNI,
  VXLAN_DEVICE,
} from '../lib/marks.js';
import { calculateRoutes, RoutingReconciler, type IpipSpec } from '../dataplane/routes/index.js';
import { vtepMacFor, type VtepSpec } from '../dataplane/vxlan/index.js';
import { NatReconciler } from '../dataplane/nat/index.js';
import { applySysctls, nodeSysctls } from './sysctls.js';
import type { NftSession } from '../dataplane/nft/index.js';
import { IpamClient } from '../ipam/index.js';
import { detectNodeAddress, interfaceMtuFor, type AutodetectMethod } from './autodetect.js';
import { AgentMetrics, startHealthServer } from './health.js';
import { DatastoreMirror, type MirrorChange } from './mirror.js';
import { routeInputs } from './route-inputs.js';
import { RouteRelevance } from './route-relevance.js';
import { routeEventMatters } from './route-events.js';
import { Throttler } from './throttler.js';
import type { Server } from 'node:http';

/** A pluggable dataplane driver (policy, BGP) fed by the same mirror and apply loop. */
export interface DataplaneDriver {
  readonly name: string;
  onChange(change: MirrorChange, mirror: DatastoreMirror): void;
  /** Programs the kernel; `full` asks for a full resync (first sync, drift check). */
  apply(mirror: DatastoreMirror, full: boolean): Promise<void>;
  stop?(): Promise<void>;
  /** Current problems to report in node status (skipped items, rejected config). */
  problems?(): string[];
}

const SYSCTL_PROBLEM = 'sysctl: ';

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
  services?: { name: string; start(agent: Agent): Promise<{ stop(): Promise<void> }> }[];
}

export class Agent {
  readonly metrics: AgentMetrics;
  readonly mirror: DatastoreMirror;
  readonly store: ResourceStore;
  readonly ipam: IpamClient;
  private syncer: Syncer | undefined;
  private inSync = false;
  /** Each loop has completed a run since start (readiness needs both). */
  private driversProgrammed = false;
  private routesProgrammed = false;
  private stopped = false;
  private nodeAddress = '';
  private nodeAddress6: string | undefined;
  private hostMtu = 1500;
  private ipipSupported = false;
  private routeProblems: string[] = [];
  private driverProblems: string[] = [];
  private sysctlProblems: string[] = [];
  private routeError: string | undefined;
  private readonly routing: RoutingReconciler;
  private readonly nat: NatReconciler;
  /**
   * Two apply loops, each one batch per run: drivers (policy, BGP) and routing (routes, VTEPs, NAT,
   * MTU file). A new pod's CNI ADD waits for its policy only; it must not also wait behind a route
   * cycle (~200 ms at 1,000 nodes, most of it process spawns from a large heap).
   */
  private readonly driverLoop: Throttler;
  private readonly routeLoop: Throttler;
  private readonly relevance: RouteRelevance;
  private timers: NodeJS.Timeout[] = [];
  private health: Server | undefined;
  private monitor: ReturnType<typeof import('../lib/exec.js').start> | undefined;
  private runningServices: { stop(): Promise<void> }[] = [];
  private needFullDrivers = true;
  private needFullRoutes = true;
  /** Route inputs changed since the last routing cycle (policy-only changes skip routing). */
  private routesDirty = true;
  /** The route monitor saw a change since the last routing cycle. */
  private routeEventSeen = false;
  /** What the last routing cycle asked the kernel for, and whether it could program all of it. */
  private lastRouting: { fingerprint: string; complete: boolean } | undefined;
  private lastStatusJson = '';
  private statusWrites: Promise<void> = Promise.resolve();
  private lastMtuText = '';
  private tunnelAllocating: Promise<void> | undefined;

  constructor(private readonly options: AgentOptions) {
    this.metrics = new AgentMetrics(['routes', ...(options.drivers ?? []).map((d) => d.name)]);
    this.mirror = new DatastoreMirror((key, why) => {
      this.metrics.skippedResources.inc();
      options.logger.warn({ key, why }, 'skipping undecodable datastore item');
    });
    this.store = new ResourceStore(options.backend);
    this.ipam = new IpamClient(options.backend);
    this.routing = new RoutingReconciler({ interfacePrefix: options.interfacePrefix });
    this.driverLoop = new Throttler(() => this.applyDrivers());
    this.routeLoop = new Throttler(() => this.applyRoutes());
    this.relevance = new RouteRelevance(options.nodeName);
    this.nat = new NatReconciler(options.nft ? { session: options.nft } : {});
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
    const { logger: log, stateDir } = this.options;
    await mkdir(stateDir, { recursive: true });
    this.nodeAddress = await detectNodeAddress(this.options.ipv4Autodetection, 4);
    this.hostMtu = (await interfaceMtuFor(this.nodeAddress)) ?? 1500;
    // IPv6 is optional: a node without a global IPv6 address simply has no IPv6 routes.
    this.nodeAddress6 = await detectNodeAddress(this.options.ipv6Autodetection ?? { kind: 'first-found' }, 6).catch(
      () => undefined,
    );
    this.ipipSupported = await this.probeIpip();
    log.info(
      {
        node: this.nodeName,
        address: this.nodeAddress,
        address6: this.nodeAddress6,
        mtu: this.hostMtu,
        ipip: this.ipipSupported,
      },
      'starting',
    );
    await this.registerNode();
    // Best effort: `tessera version` reads it; an agent does not fail to start over it.
    await this.stampClusterInformation().catch((e: unknown) =>
      log.warn({ err: describeError(e) }, 'cannot write ClusterInformation "default"'),
    );
    if (this.options.healthListen) {
      this.health = await startHealthServer(
        this.options.healthListen,
        { live: () => !this.stopped, ready: () => this.isReady(), status: () => this.statusObject() },
        this.metrics,
      );
    }
    for (const s of this.options.services ?? []) {
      this.runningServices.push(await s.start(this));
      log.info({ service: s.name }, 'service started');
    }
    this.syncer = new Syncer({
      backend: this.options.backend,
      prefixes: [RESOURCE_ROOT, ipamKeys.blocksPrefix],
      onUpdates: (updates) => {
        this.metrics.datastoreUpdates.inc(updates.length);
        // Until in-sync no route cycle runs, and the first one after it is full: route relevance
        // would only be computed for nothing (it was ~10% of a cold start at 150k endpoints).
        const inSync = this.inSync;
        if (!inSync) this.relevance.forget();
        for (const u of updates) {
          const change = this.mirror.apply(u);
          if (!change) continue;
          if (inSync && this.relevance.relevant(change, this.mirror)) this.routesDirty = true;
          for (const d of this.options.drivers ?? []) d.onChange(change, this.mirror);
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
    this.followRouteMonitor();
  }

  driver(name: string): DataplaneDriver | undefined {
    return this.options.drivers?.find((d) => d.name === name);
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
    this.monitor?.kill();
    this.syncer?.stop();
    await this.settle();
    for (const s of this.runningServices) await s.stop().catch(() => undefined);
    for (const d of this.options.drivers ?? []) await d.stop?.().catch(() => undefined);
    this.nat.close();
    this.routing.close();
    this.ipam.close(); // stops its cache watches
    await new Promise<void>((r) => (this.health ? this.health.close(() => r()) : r()));
    await this.writeStatus(false);
  }

  private async probeIpip(): Promise<boolean> {
    const existing = await run(['ip', 'link', 'show', 'dev', IPIP_DEVICE], { check: false });
    if (existing.code === 0) return true;
    // With a remote address: an any/any ipip device would clash with the kernel's fallback `tunl0`
    // ("File exists") on every kernel that has ipip.
    const r = await run(['ip', 'link', 'add', IPIP_DEVICE, 'type', 'ipip', 'remote', '192.0.2.1'], { check: false });
    if (r.code !== 0) return false;
    await run(['ip', 'link', 'del', IPIP_DEVICE], { check: false });
    return true;
  }

  private vtepMac(family: 4 | 6): string {
    return vtepMacFor(this.nodeName, family, (s) => createHash('sha256').update(s).digest('hex'));
  }

  /** ClusterInformation "default": created by the first agent, stamped with each agent's version. */
  private async stampClusterInformation(): Promise<void> {
    const info = lookupKind('ClusterInformation')!;
    let version = 'unknown';
    try {
      version = `v${(JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown'}`;
    } catch {
      // a packaging without package.json: the version stays unknown
    }
    const types = ['tessera', ...((this.options.drivers ?? []).some((d) => d.name === 'bgp') ? ['bgp'] : [])];
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await this.store.get(info, 'default');
      const spec = nextClusterInformation(cur?.spec as ClusterInformationSpec | undefined, {
        version,
        newGuid: randomBytes(16).toString('hex'),
        types,
      });
      if (!spec) return;
      const next: Resource = {
        apiVersion: info.apiVersion,
        kind: 'ClusterInformation',
        metadata: cur?.metadata ?? { name: 'default' },
        spec: { ...spec },
      };
      try {
        if (cur) await this.store.update(next);
        else await this.store.create(next);
        return;
      } catch (e) {
        if (isTesseraError(e, 'conflict') || isTesseraError(e, 'already-exists')) continue; // another agent won; re-read
        throw e;
      }
    }
  }

  /** Creates or updates this node's Node resource (address, VTEP MAC), keeping user labels. */
  private async registerNode(): Promise<void> {
    const info = lookupKind('Node')!;
    for (let attempt = 0; ; attempt++) {
      const cur = await this.store.get(info, this.nodeName);
      const spec = { ...((cur?.spec as Record<string, unknown> | undefined) ?? {}) };
      const bgp = { ...((spec.bgp as Record<string, unknown> | undefined) ?? {}) };
      bgp.ipv4Address = this.nodeAddress;
      if (this.nodeAddress6) bgp.ipv6Address = this.nodeAddress6;
      spec.bgp = bgp;
      spec.vxlanTunnelMACAddr = this.vtepMac(4);
      const next: Resource = {
        apiVersion: info.apiVersion,
        kind: 'Node',
        metadata: {
          ...(cur?.metadata ?? { name: this.nodeName }),
          labels: { 'kubernetes.io/hostname': this.nodeName, ...(cur?.metadata.labels ?? {}) },
        },
        spec,
        ...(cur?.status ? { status: cur.status } : {}),
      };
      try {
        if (cur) await this.store.update(next);
        else await this.store.create(next);
        return;
      } catch (e) {
        if (attempt < 10 && (isTesseraError(e, 'conflict') || isTesseraError(e, 'already-exists'))) continue;
        throw new TesseraError('unavailable', `cannot register node "${this.nodeName}"`, { cause: e });
      }
    }
  }

  /**
   * Allocates the VXLAN tunnel addresses once a VXLAN pool of that family exists (handles
   * `vxlan-tunnel-addr-<node>` and `vxlan-v6-tunnel-addr-<node>`, as Calico names them).
   */
  private async ensureTunnelAddress(): Promise<void> {
    if (this.tunnelAllocating) return;
    const node = this.mirror.of('Node').get(resourceKey(lookupKind('Node')!, this.nodeName));
    const spec = (node?.spec ?? {}) as Record<string, unknown>;
    const vxlanFamilies = new Set<4 | 6>();
    for (const p of this.mirror.of('IPPool').values()) {
      const s = (p.spec ?? {}) as Record<string, unknown>;
      if ((s.vxlanMode === 'Always' || s.vxlanMode === 'CrossSubnet') && s.disabled !== true) {
        vxlanFamilies.add(String(s.cidr ?? '').includes(':') ? 6 : 4);
      }
    }
    const wanted: { family: 4 | 6; field: string; handleId: string }[] = [];
    if (vxlanFamilies.has(4) && typeof spec.ipv4VXLANTunnelAddr !== 'string') {
      wanted.push({ family: 4, field: 'ipv4VXLANTunnelAddr', handleId: `vxlan-tunnel-addr-${this.nodeName}` });
    }
    if (vxlanFamilies.has(6) && this.nodeAddress6 && typeof spec.ipv6VXLANTunnelAddr !== 'string') {
      wanted.push({ family: 6, field: 'ipv6VXLANTunnelAddr', handleId: `vxlan-v6-tunnel-addr-${this.nodeName}` });
    }
    const ipipPool = [...this.mirror.of('IPPool').values()].some((p) => {
      const s = (p.spec ?? {}) as Record<string, unknown>;
      return (
        (s.ipipMode === 'Always' || s.ipipMode === 'CrossSubnet') &&
        s.disabled !== true &&
        !String(s.cidr ?? '').includes(':')
      );
    });
    const bgpSpec = (spec.bgp ?? {}) as Record<string, unknown>;
    if (ipipPool && this.ipipSupported && typeof bgpSpec.ipv4IPIPTunnelAddr !== 'string') {
      wanted.push({ family: 4, field: 'ipv4IPIPTunnelAddr', handleId: `ipip-tunnel-addr-${this.nodeName}` });
    }
    if (!wanted.length) return;
    this.tunnelAllocating = (async () => {
      try {
        const fields: Record<string, string> = {};
        for (const w of wanted) {
          let ips = (await this.ipam.ipsByHandle(w.handleId)).filter((i) => i.family === w.family);
          if (!ips.length) {
            const r = await this.ipam.autoAssign({
              num4: w.family === 4 ? 1 : 0,
              num6: w.family === 6 ? 1 : 0,
              handleId: w.handleId,
              hostname: this.nodeName,
              use: 'Tunnel',
              attrs: { node: this.nodeName, timestamp: new Date().toISOString() },
            });
            ips = w.family === 4 ? r.ipv4 : r.ipv6;
          }
          if (ips[0]) fields[w.field] = ips[0].address;
        }
        // Calico keeps the IPIP tunnel address under spec.bgp.
        const ipipAddr = fields.ipv4IPIPTunnelAddr;
        delete fields.ipv4IPIPTunnelAddr;
        if (ipipAddr !== undefined) {
          await this.updateNodeSpec((s) => ({
            ...s,
            bgp: { ...((s.bgp as Record<string, unknown> | undefined) ?? {}), ipv4IPIPTunnelAddr: ipipAddr },
          }));
          this.log.info({ ipv4IPIPTunnelAddr: ipipAddr }, 'allocated IPIP tunnel address');
        }
        if (!Object.keys(fields).length) return;
        await this.updateNodeSpec((s) => ({
          ...s,
          ...fields,
          vxlanTunnelMACAddr: this.vtepMac(4),
          ...(fields.ipv6VXLANTunnelAddr ? { vxlanTunnelMACAddrV6: this.vtepMac(6) } : {}),
        }));
        this.log.info(fields, 'allocated VXLAN tunnel address(es)');
      } catch (e) {
        this.log.error({ err: describeError(e) }, 'cannot allocate VXLAN tunnel address; retrying in 1 s');
        this.retrySoon(() => (this.routesDirty = true));
      } finally {
        this.tunnelAllocating = undefined;
      }
    })();
  }

  /** Read-modify-CAS-write of this node's spec, retried on conflict. */
  private async updateNodeSpec(edit: (spec: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
    const info = lookupKind('Node')!;
    for (let attempt = 0; attempt < 10; attempt++) {
      const cur = await this.store.get(info, this.nodeName);
      if (!cur) return;
      try {
        await this.store.update({ ...cur, spec: edit({ ...((cur.spec as Record<string, unknown>) ?? {}) }) });
        return;
      } catch (e) {
        if (!isTesseraError(e, 'conflict')) throw e;
      }
    }
    throw new TesseraError('conflict', `cannot update node "${this.nodeName}": too many concurrent writers`);
  }

  private vteps(): { v4?: VtepSpec; v6?: VtepSpec; ipip?: IpipSpec } {
    const node = this.mirror.of('Node').get(resourceKey(lookupKind('Node')!, this.nodeName));
    const spec = (node?.spec ?? {}) as Record<string, unknown>;
    const out: { v4?: VtepSpec; v6?: VtepSpec; ipip?: IpipSpec } = {};
    if (this.ipipSupported) {
      const ipipAddr = (spec.bgp as Record<string, unknown> | undefined)?.ipv4IPIPTunnelAddr;
      out.ipip = {
        localIp: this.nodeAddress.split('/')[0]!,
        mtu: this.hostMtu - IPIP_OVERHEAD,
        ...(typeof ipipAddr === 'string' ? { tunnelIp: ipipAddr } : {}),
      };
    }
    const tunnel = spec.ipv4VXLANTunnelAddr;
    if (typeof tunnel === 'string') {
      out.v4 = {
        device: VXLAN_DEVICE,
        family: 4,
        vni: VXLAN_VNI,
        port: VXLAN_PORT,
        localIp: this.nodeAddress.split('/')[0]!,
        tunnelIp: tunnel,
        mac: this.vtepMac(4),
        mtu: this.hostMtu - VXLAN_OVERHEAD_V4,
      };
    }
    const tunnel6 = spec.ipv6VXLANTunnelAddr;
    const addr6 = (spec.bgp as Record<string, unknown> | undefined)?.ipv6Address;
    if (typeof tunnel6 === 'string' && typeof addr6 === 'string') {
      out.v6 = {
        device: VXLAN_V6_DEVICE,
        family: 6,
        vni: VXLAN_V6_VNI,
        port: VXLAN_PORT,
        localIp: addr6.split('/')[0]!,
        tunnelIp: tunnel6,
        mac: this.vtepMac(6),
        mtu: this.hostMtu - VXLAN_OVERHEAD_V6,
      };
    }
    return out;
  }

  /** The MTU workloads should use: host MTU minus the largest encapsulation in use. */
  private workloadMtu(): number {
    let overhead = 0;
    for (const p of this.mirror.of('IPPool').values()) {
      const s = (p.spec ?? {}) as Record<string, unknown>;
      if (s.vxlanMode === 'Always' || s.vxlanMode === 'CrossSubnet') {
        overhead = Math.max(overhead, String(s.cidr ?? '').includes(':') ? VXLAN_OVERHEAD_V6 : VXLAN_OVERHEAD_V4);
      }
      if (s.ipipMode === 'Always' || s.ipipMode === 'CrossSubnet') overhead = Math.max(overhead, IPIP_OVERHEAD);
    }
    return this.hostMtu - overhead;
  }

  private async applyDrivers(): Promise<void> {
    if (!this.inSync || this.stopped) return;
    const full = this.needFullDrivers;
    this.needFullDrivers = false;
    const problems: string[] = [];
    try {
      for (const d of this.options.drivers ?? []) {
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
      if (full) await this.applySysctls();
      this.driversProgrammed = true;
    } catch (e) {
      this.bugExit(e);
      this.log.error({ err: describeError(e) }, 'apply failed; will retry');
      this.retrySoon(() => (this.needFullDrivers = true));
    } finally {
      this.driverProblems = problems;
      await this.writeStatus(true);
    }
  }

  /** Routes, VTEPs, NAT and the MTU file: only when their inputs changed, or on a full resync. */
  private async applyRoutes(): Promise<void> {
    if (!this.inSync || this.stopped) return;
    const full = this.needFullRoutes;
    this.needFullRoutes = false;
    if (!full && !this.routesDirty) return;
    // A full cycle that follows a route event still owes its repair to the monitor.
    const trigger = this.routeEventSeen ? 'monitor' : full ? 'resync' : 'update';
    this.routesDirty = false;
    this.routeEventSeen = false;
    const problems: string[] = [];
    const t0 = performance.now();
    try {
      await this.applyRouting(full, trigger, problems);
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
      this.routeProblems = problems;
      await this.writeStatus(true);
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

  /**
   * Forwarding and conntrack settings (sysctls.ts), on full cycles, after the drivers (so conntrack
   * is loaded). Their problems are kept until the next full cycle.
   */
  private async applySysctls(): Promise<void> {
    const list = nodeSysctls({
      ipv6: this.nodeAddress6 !== undefined,
      conntrackTcpBeLiberal: this.options.conntrackTcpBeLiberal ?? true,
    });
    const r = await applySysctls(list);
    if (r.changed.length) this.log.info({ changed: r.changed }, 'kernel settings applied');
    this.sysctlProblems = r.problems.map((p) => `${SYSCTL_PROBLEM}${p}`);
  }

  private async applyRouting(full: boolean, trigger: string, problems: string[]): Promise<void> {
    const state = calculateRoutes(
      routeInputs(
        this.mirror,
        this.nodeName,
        { ipipSupported: this.ipipSupported, bgpRouting: this.options.routing === 'bgp' },
        this.relevance.routedWorkloads(this.mirror),
      ),
    );
    for (const p of state.problems) problems.push(`${p.subject}: ${p.message}`);
    const ipipPool = [...this.mirror.of('IPPool').values()].some((p) => {
      const s = (p.spec ?? {}) as Record<string, unknown>;
      return (s.ipipMode === 'Always' || s.ipipMode === 'CrossSubnet') && s.disabled !== true;
    });
    // Reported as soon as an IPIP pool exists, not only once a remote block needs the tunnel.
    if ((state.needIpip || ipipPool) && !this.ipipSupported) {
      problems.push(
        'IPIP encapsulation is configured but this kernel has no ipip support (no ipip device type); use VXLAN',
      );
    }
    await this.ensureTunnelAddress();
    const vteps = this.vteps();
    const vxlan = (state.needVxlan.v4 && !!vteps.v4) || (state.needVxlan.v6 && !!vteps.v6);
    const nat = { natPools: state.natPools, allPools: state.allPools, vxlan };
    const fingerprint = JSON.stringify([state.routes, state.needVxlan, vteps, nat]);
    const stats = await this.routing.apply(state, vteps, { full });
    const natWritten = await this.nat.apply(nat, full);
    // The same request as last time, fully programmed then, yet the kernel needed changes: someone
    // changed Tessera's state behind its back. Counted, so drift is visible and not only repaired.
    const changes = stats.routeChanges + stats.vtepChanges + (natWritten ? 1 : 0);
    if (changes > 0 && this.lastRouting?.fingerprint === fingerprint && this.lastRouting.complete) {
      this.metrics.driftRepairs.inc({ trigger }, changes);
      this.log.warn(
        { changes, trigger, ...stats, natTable: natWritten },
        'put back kernel state changed outside Tessera',
      );
    }
    this.lastRouting = { fingerprint, complete: stats.skippedRoutes === 0 };
    await this.writeMtu();
    this.metrics.routes.set(state.routes.length);
    this.metrics.localEndpoints.set(
      [...this.mirror.of('WorkloadEndpoint').values()].filter(
        (w) => (w.spec as Record<string, unknown> | undefined)?.node === this.nodeName,
      ).length,
    );
    if (stats.routeChanges || stats.vtepChanges) this.log.debug({ ...stats }, 'routes reconciled');
  }

  private async writeMtu(): Promise<void> {
    const text = `${this.workloadMtu()}\n`;
    if (text === this.lastMtuText) return;
    this.lastMtuText = text;
    const path = join(this.options.stateDir, 'mtu');
    await writeFile(`${path}.tmp`, text);
    await rename(`${path}.tmp`, path);
  }

  statusObject(): Record<string, unknown> {
    return {
      node: this.nodeName,
      address: this.nodeAddress,
      live: !this.stopped,
      ready: this.isReady(),
      inSync: this.inSync,
      ipipSupported: this.ipipSupported,
      problems: [...this.routeProblems, ...this.driverProblems, ...this.sysctlProblems],
      lastApplyError: this.routeError ?? null,
    };
  }

  /**
   * status.json in the state dir (for tools without network access to the agent) + Node status.
   * Both apply loops report here: writes are queued so each one reflects the state when it runs and
   * the last write wins (two interleaved writes once left a stale "not ready" marker behind).
   */
  private writeStatus(running: boolean): Promise<void> {
    const write = this.statusWrites.then(() => this.writeStatusNow(running));
    this.statusWrites = write.catch(() => undefined);
    return write;
  }

  private async writeStatusNow(running: boolean): Promise<void> {
    const obj = { ...this.statusObject(), ready: running && this.isReady() };
    const json = JSON.stringify(obj);
    if (json === this.lastStatusJson) return;
    this.lastStatusJson = json;
    const path = join(this.options.stateDir, 'status.json');
    await writeFile(`${path}.tmp`, `${JSON.stringify(obj, null, 2)}\n`);
    await rename(`${path}.tmp`, path);
    // A plain `ready` marker file as well, for tools that only test for existence.
    const marker = join(this.options.stateDir, 'ready');
    if (obj.ready) await writeFile(marker, `${new Date().toISOString()}\n`);
    else await rm(marker, { force: true });
    if (running) void this.publishNodeConditions(obj).catch(() => undefined);
  }

  /** Mirrors readiness and dataplane problems into Node.status.conditions (`tessera get node -o yaml`). */
  private async publishNodeConditions(obj: Record<string, unknown>): Promise<void> {
    const info = lookupKind('Node')!;
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await this.store.get(info, this.nodeName);
      if (!cur) return;
      const problems = (obj.problems as string[]) ?? [];
      const conditions = [
        {
          type: 'Ready',
          status: obj.ready ? 'True' : 'False',
          reason: obj.ready ? 'DataplaneProgrammed' : 'NotProgrammed',
          message: String(obj.lastApplyError ?? ''),
        },
        {
          type: 'DataplaneProblems',
          status: problems.length ? 'True' : 'False',
          reason: problems.length ? 'SeeMessage' : 'None',
          message: problems.join('; '),
        },
      ];
      const prev = JSON.stringify((cur.status as Record<string, unknown> | undefined)?.conditions ?? null);
      if (prev === JSON.stringify(conditions)) return;
      try {
        await this.store.update({ ...cur, status: { ...(cur.status ?? {}), conditions } });
        return;
      } catch (e) {
        if (!isTesseraError(e, 'conflict')) throw e;
      }
    }
  }

  /** Follows `ip monitor route` so a hand-deleted Tessera route is repaired promptly. */
  private followRouteMonitor(): void {
    // Imported lazily so unit tests of the class never spawn.
    void import('../lib/exec.js').then(({ start }) => {
      if (this.stopped) return;
      const child = start(['ip', 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
      this.monitor = child;
      let pending: NodeJS.Timeout | undefined;
      child.stdout?.setEncoding('utf8');
      child.stdout?.on(
        'data',
        lineSplitter((line) => {
          if (!routeEventMatters(line, this.options.interfacePrefix)) return;
          this.routeEventSeen = true;
          if (pending) return;
          pending = setTimeout(() => {
            pending = undefined;
            this.routesDirty = true;
            this.kick();
          }, 50);
        }),
      );
      child.on('exit', () => {
        if (!this.stopped) setTimeout(() => this.followRouteMonitor(), 1000).unref();
      });
    });
  }
}
