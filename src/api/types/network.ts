/**
 * Calico networking types (`projectcalico.org/v3`): IPAM, BGP, nodes and endpoints.
 * Field names are Calico's exactly.
 */
import type { Resource } from '../resource.js';

export type EncapMode = 'Always' | 'CrossSubnet' | 'Never';
export type IPPoolAllowedUse = 'Workload' | 'Tunnel' | 'LoadBalancer';
export type IPPoolAssignmentMode = 'Automatic' | 'Manual';

export interface IPPoolSpec {
  cidr: string;
  blockSize?: number;
  ipipMode?: EncapMode;
  vxlanMode?: EncapMode;
  natOutgoing?: boolean;
  disabled?: boolean;
  disableBGPExport?: boolean;
  nodeSelector?: string;
  allowedUses?: IPPoolAllowedUse[];
  assignmentMode?: IPPoolAssignmentMode;
}

export interface IPReservationSpec {
  /** Addresses and/or CIDRs. */
  reservedCIDRs?: string[];
}

export interface IPAMConfigurationSpec {
  strictAffinity?: boolean;
  maxBlocksPerHost?: number;
  autoAllocateBlocks?: boolean;
}

/** An AS number: integer, or dotted `"high.low"` notation. */
export type ASNumber = number | string;
export type LogSeverity = 'Trace' | 'Debug' | 'Info' | 'Warning' | 'Error' | 'Fatal';

export interface SecretKeyRef {
  name: string;
  key: string;
}

export interface BGPPassword {
  secretKeyRef?: SecretKeyRef;
}

export interface ServiceCidr {
  cidr: string;
}

export interface Community {
  name?: string;
  value?: string;
}

export interface PrefixAdvertisement {
  cidr?: string;
  communities?: string[];
}

export interface BGPConfigurationSpec {
  logSeverityScreen?: LogSeverity;
  nodeToNodeMeshEnabled?: boolean;
  asNumber?: ASNumber;
  serviceClusterIPs?: ServiceCidr[];
  serviceExternalIPs?: ServiceCidr[];
  serviceLoadBalancerIPs?: ServiceCidr[];
  listenPort?: number;
  bindMode?: 'None' | 'NodeIP';
  communities?: Community[];
  prefixAdvertisements?: PrefixAdvertisement[];
  nodeMeshPassword?: BGPPassword;
  nodeMeshMaxRestartTime?: string;
  ignoredInterfaces?: string[];
  localWorkloadPeeringIPV4?: string;
  localWorkloadPeeringIPV6?: string;
  programClusterRoutes?: 'Enabled' | 'Disabled';
}

export interface BGPPeerSpec {
  node?: string;
  /** `IP`, `IPv4:port` or `[IPv6]:port`. */
  peerIP?: string;
  asNumber?: ASNumber;
  localASNumber?: ASNumber;
  nodeSelector?: string;
  peerSelector?: string;
  localWorkloadSelector?: string;
  keepOriginalNextHop?: boolean;
  password?: BGPPassword;
  sourceAddress?: 'UseNodeIP' | 'None';
  maxRestartTime?: string;
  numAllowedLocalASNumbers?: number;
  ttlSecurity?: number;
  filters?: string[];
  reachableBy?: string;
  nextHopMode?: 'Auto' | 'Self' | 'Keep';
}

export interface BGPFilterPrefixLength {
  min?: number;
  max?: number;
}

export interface BGPFilterOperation {
  addCommunity?: { value: string };
  prependASPath?: { prefix: number[] };
  setPriority?: { value: number };
}

export interface BGPFilterRule {
  cidr?: string;
  prefixLength?: BGPFilterPrefixLength;
  matchOperator?: 'In' | 'NotIn' | 'Equal' | 'NotEqual';
  source?: 'RemotePeers';
  interface?: string;
  peerType?: 'eBGP' | 'iBGP';
  priority?: number;
  communities?: { values?: string[] };
  action: 'Accept' | 'Reject';
  operations?: BGPFilterOperation[];
}

export interface BGPFilterSpec {
  exportV4?: BGPFilterRule[];
  importV4?: BGPFilterRule[];
  exportV6?: BGPFilterRule[];
  importV6?: BGPFilterRule[];
}

export interface NodeBGPSpec {
  asNumber?: ASNumber;
  /** Address with its subnet, e.g. `10.244.0.1/24` (host bits expected). */
  ipv4Address?: string;
  ipv6Address?: string;
  ipv4IPIPTunnelAddr?: string;
  routeReflectorClusterID?: string;
}

export interface OrchRef {
  nodeName?: string;
  orchestrator: string;
}

export interface NodeAddress {
  address: string;
  type?: 'InternalIP' | 'ExternalIP' | 'CalicoNodeIP';
}

export interface NodeSpec {
  bgp?: NodeBGPSpec;
  ipv4VXLANTunnelAddr?: string;
  vxlanTunnelMACAddr?: string;
  ipv6VXLANTunnelAddr?: string;
  vxlanTunnelMACAddrV6?: string;
  orchRefs?: OrchRef[];
  wireguard?: { interfaceIPv4Address?: string; interfaceIPv6Address?: string };
  addresses?: NodeAddress[];
}

export interface NodeStatus {
  wireguardPublicKey?: string;
  wireguardPublicKeyV6?: string;
  podCIDRs?: string[];
}

export type CalicoNodeStatusClass = 'Agent' | 'BGP' | 'Routes';

export interface CalicoNodeStatusSpec {
  node: string;
  classes: CalicoNodeStatusClass[];
  updatePeriodSeconds: number;
}

/** Written by the node agent; shape as Calico's, loosely typed. */
export interface CalicoNodeStatusStatus {
  lastUpdated?: string;
  agent?: Record<string, unknown>;
  bgp?: Record<string, unknown>;
  routes?: Record<string, unknown>;
}

export type EndpointPortProtocol = 'TCP' | 'UDP' | 'SCTP';

export interface EndpointPort {
  name: string;
  protocol: EndpointPortProtocol;
  port: number;
}

export interface WorkloadEndpointPort extends EndpointPort {
  hostPort?: number;
  hostIP?: string;
}

export interface HostEndpointSpec {
  node?: string;
  interfaceName?: string;
  expectedIPs?: string[];
  profiles?: string[];
  ports?: EndpointPort[];
}

export interface IPNat {
  internalIP: string;
  externalIP: string;
}

export interface WorkloadEndpointSpec {
  workload?: string;
  orchestrator?: string;
  node?: string;
  containerID?: string;
  pod?: string;
  endpoint?: string;
  serviceAccountName?: string;
  ipNetworks?: string[];
  ipNATs?: IPNat[];
  ipv4Gateway?: string;
  ipv6Gateway?: string;
  profiles?: string[];
  interfaceName?: string;
  mac?: string;
  ports?: WorkloadEndpointPort[];
  allowSpoofedSourcePrefixes?: string[];
}

export type IPPool = Resource<IPPoolSpec> & { kind: 'IPPool' };
export type IPReservation = Resource<IPReservationSpec> & { kind: 'IPReservation' };
export type IPAMConfiguration = Resource<IPAMConfigurationSpec> & { kind: 'IPAMConfiguration' };
export type BGPConfiguration = Resource<BGPConfigurationSpec> & { kind: 'BGPConfiguration' };
export type BGPPeer = Resource<BGPPeerSpec> & { kind: 'BGPPeer' };
export type BGPFilter = Resource<BGPFilterSpec> & { kind: 'BGPFilter' };
export type CalicoNode = Resource<NodeSpec, NodeStatus> & { kind: 'Node' };
export type CalicoNodeStatus = Resource<CalicoNodeStatusSpec, CalicoNodeStatusStatus> & { kind: 'CalicoNodeStatus' };
export type HostEndpoint = Resource<HostEndpointSpec> & { kind: 'HostEndpoint' };
export type WorkloadEndpoint = Resource<WorkloadEndpointSpec> & { kind: 'WorkloadEndpoint' };
