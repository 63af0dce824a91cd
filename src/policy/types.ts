/**
 * Input shapes of the policy calculator. Field names follow Calico's `projectcalico.org/v3` specs (and
 * `networking.k8s.io/v1` for Kubernetes NetworkPolicy) so the agent can pass a resource's spec through
 * unchanged. Only the fields policy needs are listed.
 */
export type Action = 'Allow' | 'Deny' | 'Log' | 'Pass';
export type PolicyType = 'Ingress' | 'Egress';
export type Direction = 'ingress' | 'egress';
export type IpVersion = 4 | 6;
export type Labels = Readonly<Record<string, string>>;

export interface NamedPort {
  name: string;
  /** `TCP` | `UDP` | `SCTP` (case-insensitive) or a protocol number. */
  protocol: string | number;
  port: number;
}

export interface WorkloadEndpointInput {
  name: string;
  namespace: string;
  node: string;
  /** Pod name (for `ns/pod` lookups); defaults to `name`. */
  pod?: string;
  interfaceName: string;
  /** CIDRs, normally host prefixes (`10.0.0.5/32`). */
  ipNetworks: readonly string[];
  labels?: Labels;
  /** Profile names, e.g. `kns.<ns>`, `ksa.<ns>.<sa>`. */
  profiles?: readonly string[];
  serviceAccountName?: string;
  ports?: readonly NamedPort[];
}

export interface HostEndpointInput {
  name: string;
  node: string;
  interfaceName?: string;
  expectedIPs?: readonly string[];
  labels?: Labels;
  profiles?: readonly string[];
  ports?: readonly NamedPort[];
}

export interface NetworkSetInput {
  name: string;
  /** Absent for a GlobalNetworkSet. */
  namespace?: string;
  nets: readonly string[];
  labels?: Labels;
}

export interface ProfileInput {
  name: string;
  labelsToApply?: Labels;
  ingress?: readonly RuleSpec[];
  egress?: readonly RuleSpec[];
}

export interface NamespaceInput {
  name: string;
  labels?: Labels;
}

export interface ServiceAccountInput {
  name: string;
  namespace: string;
  labels?: Labels;
}

export interface TierInput {
  name: string;
  /** Lower first; absent = after all ordered tiers. */
  order?: number;
  defaultAction?: 'Deny' | 'Pass';
}

export interface IcmpFields {
  type?: number;
  code?: number;
}

export interface ServiceAccountMatch {
  names?: readonly string[];
  selector?: string;
}

export interface EntityRuleSpec {
  nets?: readonly string[];
  notNets?: readonly string[];
  selector?: string;
  notSelector?: string;
  namespaceSelector?: string;
  ports?: readonly (number | string)[];
  notPorts?: readonly (number | string)[];
  serviceAccounts?: ServiceAccountMatch;
}

export interface RuleSpec {
  action: Action;
  protocol?: string | number;
  notProtocol?: string | number;
  icmp?: IcmpFields;
  notICMP?: IcmpFields;
  ipVersion?: IpVersion;
  source?: EntityRuleSpec;
  destination?: EntityRuleSpec;
}

export interface PolicySpec {
  tier?: string;
  order?: number;
  selector?: string;
  /** GlobalNetworkPolicy only: restricts the policy to endpoints in matching namespaces. */
  namespaceSelector?: string;
  serviceAccountSelector?: string;
  types?: readonly PolicyType[];
  ingress?: readonly RuleSpec[];
  egress?: readonly RuleSpec[];
  preDNAT?: boolean;
  doNotTrack?: boolean;
  applyOnForward?: boolean;
}

export interface PolicyInput {
  kind: 'NetworkPolicy' | 'GlobalNetworkPolicy';
  name: string;
  /** Required for NetworkPolicy, absent for GlobalNetworkPolicy. */
  namespace?: string;
  spec: PolicySpec;
}

/** `networking.k8s.io/v1` NetworkPolicy (only what conversion reads). */
export interface K8sLabelSelector {
  matchLabels?: Record<string, string> | null;
  matchExpressions?:
    { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] | null }[] | null;
}
export interface K8sNetworkPolicyPort {
  protocol?: string;
  port?: number | string;
  endPort?: number;
}
export interface K8sNetworkPolicyPeer {
  podSelector?: K8sLabelSelector | null;
  namespaceSelector?: K8sLabelSelector | null;
  ipBlock?: { cidr: string; except?: string[] | null } | null;
}
export interface K8sNetworkPolicyInput {
  name: string;
  namespace: string;
  spec: {
    podSelector?: K8sLabelSelector | null;
    policyTypes?: PolicyType[] | null;
    ingress?: { from?: K8sNetworkPolicyPeer[] | null; ports?: K8sNetworkPolicyPort[] | null }[] | null;
    egress?: { to?: K8sNetworkPolicyPeer[] | null; ports?: K8sNetworkPolicyPort[] | null }[] | null;
  };
}

/** One failsafe port (FelixConfiguration `failsafeInboundHostPorts`/`failsafeOutboundHostPorts`). */
export interface FailsafePort {
  /** `TCP` | `UDP` | `SCTP` (any case). */
  protocol: string;
  port: number;
  /** Inbound: the source must be in it; outbound: the destination. Absent = any. */
  net?: string;
}

/** Felix settings that shape host protection (FelixConfiguration, node-specific over `default`). */
export interface HostConfigInput {
  failsafeInbound?: readonly FailsafePort[];
  failsafeOutbound?: readonly FailsafePort[];
  defaultEndpointToHostAction?: 'Drop' | 'Return' | 'Accept';
}

/** One interface of the local host and its addresses (resolves HostEndpoints given by expectedIPs). */
export interface HostInterfaceInput {
  name: string;
  addresses: readonly string[];
}

/** One change fed to the calculator. `value: null` deletes. Keys are `name` or `namespace/name`. */
export type PolicyUpdate =
  | { kind: 'WorkloadEndpoint'; key: string; value: WorkloadEndpointInput | null }
  | { kind: 'HostEndpoint'; key: string; value: HostEndpointInput | null }
  | { kind: 'NetworkSet'; key: string; value: NetworkSetInput | null }
  | { kind: 'Profile'; key: string; value: ProfileInput | null }
  | { kind: 'Namespace'; key: string; value: NamespaceInput | null }
  | { kind: 'ServiceAccount'; key: string; value: ServiceAccountInput | null }
  | { kind: 'Tier'; key: string; value: TierInput | null }
  | { kind: 'Policy'; key: string; value: PolicyInput | null }
  | { kind: 'K8sNetworkPolicy'; key: string; value: K8sNetworkPolicyInput | null }
  | { kind: 'HostConfig'; key: string; value: HostConfigInput | null }
  | { kind: 'HostInterfaces'; key: string; value: readonly HostInterfaceInput[] | null };
