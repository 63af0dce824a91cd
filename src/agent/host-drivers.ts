/**
 * The drivers every agent runs whatever its options (its `drivers` add policy and BGP, wiring.ts):
 * routing (routes, VTEPs, NAT, the MTU file) and the sysctls. Built here, not in agent.ts, which
 * holds the loop only; `AgentKernel` swaps what touches the host for stand-ins (unit tests).
 */
import type { Logger } from 'pino';
import { RoutingReconciler } from '../dataplane/routes/index.js';
import { NatReconciler } from '../dataplane/nat/index.js';
import type { NftSession } from '../dataplane/nft/index.js';
import type { AgentMetrics } from './health.js';
import type { HostFacts } from './host-facts.js';
import type { NodeRegistrar } from './node-registrar.js';
import { RoutingDriver, type NatProgrammer, type RouteProgrammer } from './routing-driver.js';
import { SysctlDriver } from './sysctl-driver.js';

/** Stand-ins for what touches the host's kernel (unit tests of the loop). */
export interface AgentKernel {
  /** The host facts (instead of autodetection and the ipip probe). */
  hostFacts(): Promise<HostFacts>;
  routes: RouteProgrammer;
  nat: NatProgrammer;
  /** Where the sysctl driver's settings live (instead of /proc/sys). */
  sysctlRoot: string;
}

export interface HostDriverOptions {
  nodeName: string;
  stateDir: string;
  routing: 'agent' | 'bgp';
  interfacePrefix: string;
  logger: Logger;
  nft?: NftSession | undefined;
  conntrackTcpBeLiberal?: boolean | undefined;
  /** Tests: no kernel access (no route monitor either). */
  kernel?: AgentKernel | undefined;
}

export function hostDrivers(
  o: HostDriverOptions,
  registrar: NodeRegistrar,
  metrics: AgentMetrics,
): { routing: RoutingDriver; sysctl: SysctlDriver } {
  const kernel = o.kernel;
  const routing = new RoutingDriver({
    nodeName: o.nodeName,
    stateDir: o.stateDir,
    routing: o.routing,
    interfacePrefix: o.interfacePrefix,
    log: o.logger,
    metrics,
    registrar,
    routes: kernel?.routes ?? new RoutingReconciler({ interfacePrefix: o.interfacePrefix }),
    nat: kernel?.nat ?? new NatReconciler(o.nft ? { session: o.nft } : {}),
    host: () => registrar.host,
    followRouteMonitor: !kernel,
  });
  const sysctl = new SysctlDriver({
    log: o.logger,
    ipv6: () => registrar.host.address6 !== undefined,
    conntrackTcpBeLiberal: o.conntrackTcpBeLiberal ?? true,
    ...(kernel ? { root: kernel.sysctlRoot } : {}),
  });
  return { routing, sysctl };
}
