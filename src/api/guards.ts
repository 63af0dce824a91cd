/**
 * Type guards from a generic Resource to its typed kind, for consumers (policy, IPAM, agent) that
 * hold mixed lists. They check identity only (apiVersion + kind); validation is validateResource.
 */
import type { Resource } from './resource.js';
import { CALICO_API_VERSION, K8S_CORE_API_VERSION, K8S_NETWORKING_API_VERSION } from './resource.js';
import type { ClusterInformation, FelixConfiguration, KubeControllersConfiguration } from './types/config.js';
import type { K8sNetworkPolicy, Namespace, Pod, ServiceAccount } from './types/k8s.js';
import type {
  BGPConfiguration,
  BGPFilter,
  BGPPeer,
  CalicoNode,
  CalicoNodeStatus,
  HostEndpoint,
  IPAMConfiguration,
  IPPool,
  IPReservation,
  WorkloadEndpoint,
} from './types/network.js';
import type {
  GlobalNetworkPolicy,
  GlobalNetworkSet,
  NetworkPolicy,
  NetworkSet,
  Profile,
  Tier,
} from './types/policy.js';

export interface CalicoKinds {
  IPPool: IPPool;
  IPReservation: IPReservation;
  IPAMConfiguration: IPAMConfiguration;
  BGPConfiguration: BGPConfiguration;
  BGPPeer: BGPPeer;
  BGPFilter: BGPFilter;
  FelixConfiguration: FelixConfiguration;
  KubeControllersConfiguration: KubeControllersConfiguration;
  ClusterInformation: ClusterInformation;
  Node: CalicoNode;
  CalicoNodeStatus: CalicoNodeStatus;
  HostEndpoint: HostEndpoint;
  WorkloadEndpoint: WorkloadEndpoint;
  NetworkPolicy: NetworkPolicy;
  GlobalNetworkPolicy: GlobalNetworkPolicy;
  NetworkSet: NetworkSet;
  GlobalNetworkSet: GlobalNetworkSet;
  Profile: Profile;
  Tier: Tier;
}

export interface K8sKinds {
  Namespace: Namespace;
  Pod: Pod;
  ServiceAccount: ServiceAccount;
  NetworkPolicy: K8sNetworkPolicy;
}

/** True when `r` is the Calico (`projectcalico.org/v3`) kind `kind`. */
export function isCalicoKind<K extends keyof CalicoKinds>(r: Resource, kind: K): r is Resource & CalicoKinds[K] {
  return r.apiVersion === CALICO_API_VERSION && r.kind === kind;
}

/** True when `r` is the Kubernetes kind `kind` (core/v1, or networking.k8s.io/v1 for NetworkPolicy). */
export function isK8sKind<K extends keyof K8sKinds>(r: Resource, kind: K): r is Resource & K8sKinds[K] {
  const apiVersion = kind === 'NetworkPolicy' ? K8S_NETWORKING_API_VERSION : K8S_CORE_API_VERSION;
  return r.apiVersion === apiVersion && r.kind === kind;
}
