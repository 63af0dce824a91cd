/**
 * The Kubernetes kinds Tessera reads: core/v1 Namespace, Pod, ServiceAccount and
 * networking.k8s.io/v1 NetworkPolicy. Pods model only the networking-relevant subset; other Pod
 * fields are accepted and carried along untouched.
 */
import type { Resource } from '../resource.js';
import type { LabelSelector } from '../selector/index.js';

export type K8sProtocol = 'TCP' | 'UDP' | 'SCTP';

export interface NamespaceSpec {
  finalizers?: string[];
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: K8sProtocol;
  hostPort?: number;
  hostIP?: string;
}

export interface Container {
  name: string;
  image?: string;
  ports?: ContainerPort[];
  [field: string]: unknown;
}

export interface PodSpec {
  nodeName?: string;
  serviceAccountName?: string;
  hostNetwork?: boolean;
  containers: Container[];
  [field: string]: unknown;
}

export interface PodStatus {
  phase?: string;
  podIP?: string;
  podIPs?: { ip: string }[];
  hostIP?: string;
  [field: string]: unknown;
}

export interface K8sNetworkPolicyPort {
  protocol?: K8sProtocol;
  /** Number or named port. */
  port?: number | string;
  /** Only with a numeric `port`; must be >= port. */
  endPort?: number;
}

export interface IPBlock {
  cidr: string;
  except?: string[];
}

export interface K8sNetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IPBlock;
}

export interface K8sNetworkPolicyIngressRule {
  ports?: K8sNetworkPolicyPort[];
  from?: K8sNetworkPolicyPeer[];
}

export interface K8sNetworkPolicyEgressRule {
  ports?: K8sNetworkPolicyPort[];
  to?: K8sNetworkPolicyPeer[];
}

export interface K8sNetworkPolicySpec {
  podSelector: LabelSelector;
  policyTypes?: ('Ingress' | 'Egress')[];
  ingress?: K8sNetworkPolicyIngressRule[];
  egress?: K8sNetworkPolicyEgressRule[];
}

export type Namespace = Resource<NamespaceSpec> & { kind: 'Namespace' };
export type Pod = Resource<PodSpec, PodStatus> & { kind: 'Pod' };
export type ServiceAccount = Resource<never> & {
  kind: 'ServiceAccount';
  automountServiceAccountToken?: boolean;
  secrets?: { name?: string; namespace?: string }[];
  imagePullSecrets?: { name: string }[];
};
export type K8sNetworkPolicy = Resource<K8sNetworkPolicySpec> & {
  kind: 'NetworkPolicy';
  apiVersion: 'networking.k8s.io/v1';
};
