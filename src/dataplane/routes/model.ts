/** Inputs and outputs of the route calculation (pure data; no kernel types). */
import type { IpFamily } from '../../lib/ip.js';

export type EncapMode = 'Never' | 'Always' | 'CrossSubnet';

export interface PoolInfo {
  name: string;
  cidr: string;
  vxlanMode: EncapMode;
  ipipMode: EncapMode;
  natOutgoing: boolean;
  disabled: boolean;
}

export interface NodeInfo {
  name: string;
  /** Node address with its subnet prefix, e.g. "10.0.0.1/24" (Calico's spec.bgp.ipv4Address). */
  ipv4Address?: string;
  ipv6Address?: string;
  vxlanTunnelAddr?: string;
  vxlanTunnelMac?: string;
  ipv6VxlanTunnelAddr?: string;
  vxlanV6TunnelMac?: string;
}

export interface BlockInfo {
  cidr: string;
  /** Owning node, from the block's affinity "host:<node>"; undefined when unaffine. */
  node?: string;
}

export interface WorkloadInfo {
  key: string;
  node: string;
  interfaceName: string;
  /** Addresses as CIDRs ("10.244.1.5/32"). */
  ipNetworks: string[];
}

export interface RouteInputs {
  localNode: string;
  nodes: ReadonlyMap<string, NodeInfo>;
  pools: readonly PoolInfo[];
  blocks: readonly BlockInfo[];
  workloads: readonly WorkloadInfo[];
  /** Kernel support, detected at start. */
  ipipSupported: boolean;
  /** When routing is done by BGP (BIRD), the agent leaves non-encapsulated remote routes to BIRD. */
  bgpRouting: boolean;
}

export type RouteType = 'unicast' | 'blackhole';

export interface DesiredRoute {
  family: IpFamily;
  dst: string;
  type: RouteType;
  dev?: string;
  via?: string;
  onlink?: boolean;
  scope?: 'link';
}

export interface VxlanPeer {
  node: string;
  family: IpFamily;
  /** Remote node's underlay address (VXLAN dst). */
  nodeIp: string;
  tunnelIp: string;
  mac: string;
}

export interface RouteProblem {
  subject: string;
  message: string;
}

export interface RouteState {
  routes: DesiredRoute[];
  vxlanPeers: VxlanPeer[];
  /** Encapsulations in use, so the VTEP/IPIP devices exist only when needed. */
  needVxlan: { v4: boolean; v6: boolean };
  needIpip: boolean;
  /** Pools with natOutgoing, and all pool CIDRs (for the masquerade rule). */
  natPools: string[];
  allPools: string[];
  problems: RouteProblem[];
}

/** This node's IPIP device: the outer source address, its MTU and its IPAM tunnel address. */
export interface IpipSpec {
  localIp: string;
  mtu: number;
  /** From IPAM (handle `ipip-tunnel-addr-<node>`, Node `spec.bgp.ipv4IPIPTunnelAddr`); none yet: no address. */
  tunnelIp?: string;
}
