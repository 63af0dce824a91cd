/**
 * Routing as one driver: routes, VTEPs (VXLAN v4/v6, IPIP), the NAT table and the workload MTU
 * file. Its change rule is route relevance (route-relevance.ts): a policy-only change never costs a
 * route cycle. It also follows `ip monitor route`, so a hand-deleted Tessera route is repaired
 * promptly, and counts drift: the same request as last time, fully programmed then, that still
 * needed kernel changes means someone changed Tessera's state behind its back.
 */
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { RouteCalculator, type ApplyStats, type IpipSpec, type RouteState } from '../dataplane/routes/index.js';
import type { NatInputs } from '../dataplane/nat/index.js';
import type { VtepSpec } from '../dataplane/vxlan/index.js';
import { lineSplitter } from '../lib/lines.js';
import {
  IPIP_OVERHEAD,
  VXLAN_DEVICE,
  VXLAN_OVERHEAD_V4,
  VXLAN_OVERHEAD_V6,
  VXLAN_PORT,
  VXLAN_V6_DEVICE,
  VXLAN_V6_VNI,
  VXLAN_VNI,
} from '../lib/marks.js';
import type { DataplaneDriver } from './driver.js';
import type { AgentMetrics } from './health.js';
import type { DatastoreMirror, MirrorChange } from './mirror.js';
import type { HostFacts } from './host-facts.js';
import type { NodeRegistrar } from './node-registrar.js';
import { poolViews } from './pools.js';
import { routeEventMatters } from './route-events.js';
import { routeInputs } from './route-inputs.js';
import { RouteRelevance } from './route-relevance.js';

export type Vteps = { v4?: VtepSpec; v6?: VtepSpec; ipip?: IpipSpec };

/** What the driver needs of the kernel side (RoutingReconciler, NatReconciler; fakes in tests). */
export interface RouteProgrammer {
  apply(state: RouteState, vteps: Vteps, options: { full: boolean }): Promise<ApplyStats>;
  close(): void;
}
export interface NatProgrammer {
  apply(inputs: NatInputs, checkDrift: boolean): Promise<boolean>;
  close(): void;
}

export interface RoutingDriverOptions {
  nodeName: string;
  stateDir: string;
  /** 'bgp': BIRD programs native routes; the agent keeps tunnel routes only. */
  routing: 'agent' | 'bgp';
  interfacePrefix: string;
  log: Logger;
  metrics: AgentMetrics;
  registrar: NodeRegistrar;
  routes: RouteProgrammer;
  nat: NatProgrammer;
  /** Host facts, known once the agent has started. */
  host: () => HostFacts;
  /** Follow `ip monitor route` (off in unit tests). */
  followRouteMonitor?: boolean;
}

export class RoutingDriver implements DataplaneDriver {
  readonly name = 'routes';
  private readonly relevance: RouteRelevance;
  /** Owns the parsed-address cache, swept every cycle. */
  private readonly calculator = new RouteCalculator();
  /** Route inputs changed since the last cycle (policy-only changes leave it false). */
  private dirty = true;
  /** The route monitor saw a change since the last cycle. */
  private routeEventSeen = false;
  private lastRouting: { fingerprint: string; complete: boolean } | undefined;
  private lastProblems: string[] = [];
  private lastMtuText = '';
  private stopped = false;
  /** Runs this driver's loop (given by start). */
  private kick: () => void = () => undefined;
  private monitor: ReturnType<typeof import('../lib/exec.js').start> | undefined;

  constructor(private readonly o: RoutingDriverOptions) {
    this.relevance = new RouteRelevance(o.nodeName);
  }

  /**
   * Before in-sync no route cycle runs and the first one after it is full, so relevance is not
   * computed then (it was ~10% of a cold start at 150k endpoints): what it derived is dropped.
   */
  onChange(change: MirrorChange, mirror: DatastoreMirror, inSync: boolean): void {
    if (!inSync) this.relevance.forget();
    else if (this.relevance.relevant(change, mirror)) this.dirty = true;
  }

  /** Whether a non-full cycle has anything to do. */
  pending(): boolean {
    return this.dirty;
  }

  problems(): string[] {
    return this.lastProblems;
  }

  start(kick: () => void): void {
    this.kick = kick;
    if (this.o.followRouteMonitor ?? true) this.followRouteMonitor();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.monitor?.kill();
    this.o.nat.close();
    this.o.routes.close();
  }

  async apply(mirror: DatastoreMirror, full: boolean): Promise<void> {
    // A full cycle that follows a route event still owes its repair to the monitor.
    const trigger = this.routeEventSeen ? 'monitor' : full ? 'resync' : 'update';
    this.dirty = false;
    this.routeEventSeen = false;
    const problems: string[] = [];
    this.lastProblems = problems;
    const host = this.o.host();
    const state = this.calculator.calculate(
      routeInputs(
        mirror,
        this.o.nodeName,
        { ipipSupported: host.ipipSupported, bgpRouting: this.o.routing === 'bgp' },
        this.relevance.routedWorkloads(mirror),
      ),
    );
    for (const p of state.problems) problems.push(`${p.subject}: ${p.message}`);
    // Reported as soon as an enabled IPIP pool exists, not only once a remote block needs the tunnel.
    const ipipPool = poolViews(mirror).some((p) => p.ipip && !p.disabled);
    if ((state.needIpip || ipipPool) && !host.ipipSupported) {
      problems.push(
        'IPIP encapsulation is configured but this kernel has no ipip support (no ipip device type); use VXLAN',
      );
    }
    this.o.registrar.ensureTunnelAddresses(mirror, host, () => {
      this.dirty = true;
      setTimeout(() => this.kick(), 1000).unref();
    });
    const vteps = this.vteps(mirror, host);
    const vxlan = (state.needVxlan.v4 && !!vteps.v4) || (state.needVxlan.v6 && !!vteps.v6);
    const nat = { natPools: state.natPools, allPools: state.allPools, vxlan };
    const fingerprint = JSON.stringify([state.routes, state.needVxlan, vteps, nat]);
    const stats = await this.o.routes.apply(state, vteps, { full });
    const natWritten = await this.o.nat.apply(nat, full);
    const changes = stats.routeChanges + stats.vtepChanges + (natWritten ? 1 : 0);
    if (changes > 0 && this.lastRouting?.fingerprint === fingerprint && this.lastRouting.complete) {
      this.o.metrics.driftRepairs.inc({ trigger }, changes);
      this.o.log.warn(
        { changes, trigger, ...stats, natTable: natWritten },
        'put back kernel state changed outside Tessera',
      );
    }
    this.lastRouting = { fingerprint, complete: stats.skippedRoutes === 0 };
    await this.writeMtu(mirror, host);
    this.o.metrics.routes.set(state.routes.length);
    this.o.metrics.localEndpoints.set([...mirror.workloads.values()].filter((w) => w.node === this.o.nodeName).length);
    if (stats.routeChanges || stats.vtepChanges) this.o.log.debug({ ...stats }, 'routes reconciled');
  }

  /** The tunnel devices this node should have, from its Node resource and host facts. */
  vteps(mirror: DatastoreMirror, host: HostFacts): Vteps {
    const node = this.o.registrar.nodeView(mirror);
    const localIp = host.address.split('/')[0]!;
    const out: Vteps = {};
    if (host.ipipSupported) {
      const ipipAddr = node.bgp.ipv4IPIPTunnelAddr;
      out.ipip = {
        localIp,
        mtu: host.mtu - IPIP_OVERHEAD,
        ...(ipipAddr ? { tunnelIp: ipipAddr } : {}),
      };
    }
    const tunnel = node.ipv4VXLANTunnelAddr;
    if (tunnel) {
      out.v4 = {
        device: VXLAN_DEVICE,
        family: 4,
        vni: VXLAN_VNI,
        port: VXLAN_PORT,
        localIp,
        tunnelIp: tunnel,
        mac: this.o.registrar.vtepMac(4),
        mtu: host.mtu - VXLAN_OVERHEAD_V4,
      };
    }
    const tunnel6 = node.ipv6VXLANTunnelAddr;
    const addr6 = node.bgp.ipv6Address;
    if (tunnel6 && addr6) {
      out.v6 = {
        device: VXLAN_V6_DEVICE,
        family: 6,
        vni: VXLAN_V6_VNI,
        port: VXLAN_PORT,
        localIp: addr6.split('/')[0]!,
        tunnelIp: tunnel6,
        mac: this.o.registrar.vtepMac(6),
        mtu: host.mtu - VXLAN_OVERHEAD_V6,
      };
    }
    return out;
  }

  /**
   * The MTU workloads should use: host MTU minus the largest encapsulation of any pool. Disabled
   * pools count too, deliberately: their existing blocks and pods are still routed encapsulated.
   */
  workloadMtu(mirror: DatastoreMirror, host: HostFacts): number {
    let overhead = 0;
    for (const p of poolViews(mirror)) {
      if (p.vxlan) overhead = Math.max(overhead, p.family === 6 ? VXLAN_OVERHEAD_V6 : VXLAN_OVERHEAD_V4);
      if (p.ipip) overhead = Math.max(overhead, IPIP_OVERHEAD);
    }
    return host.mtu - overhead;
  }

  private async writeMtu(mirror: DatastoreMirror, host: HostFacts): Promise<void> {
    const text = `${this.workloadMtu(mirror, host)}\n`;
    if (text === this.lastMtuText) return;
    this.lastMtuText = text;
    const path = join(this.o.stateDir, 'mtu');
    await writeFile(`${path}.tmp`, text);
    await rename(`${path}.tmp`, path);
  }

  private followRouteMonitor(): void {
    // Imported lazily so unit tests never spawn.
    void import('../lib/exec.js').then(({ start }) => {
      if (this.stopped) return;
      const child = start(['ip', 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
      this.monitor = child;
      let pending: NodeJS.Timeout | undefined;
      child.stdout?.setEncoding('utf8');
      child.stdout?.on(
        'data',
        lineSplitter((line) => {
          if (!routeEventMatters(line, this.o.interfacePrefix)) return;
          this.routeEventSeen = true;
          if (pending) return;
          pending = setTimeout(() => {
            pending = undefined;
            this.dirty = true;
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
