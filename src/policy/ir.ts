/**
 * The normalized rule IR shared by the resolver, the model evaluator (`explain`) and the nftables
 * renderer. Selectors are referenced by canonical text (one IP set per distinct selector).
 */
import type { Action, Direction, IpVersion } from './types.js';

export interface PortRange {
  lo: number;
  hi: number;
}

/** A named port looked up on the endpoints matching `selector` (canonical text). */
export interface NamedPortRef {
  /** Named-port set key: `<selector>|<port name>`. */
  setKey: string;
  selector: string;
  name: string;
}

export interface EntityIR {
  /** Canonical CIDRs; absent = no constraint. */
  nets?: readonly string[];
  notNets?: readonly string[];
  /** Canonical selector text, already scoped (namespace, service accounts). */
  selector?: string;
  notSelector?: string;
  /** `ports` and `namedPorts` are alternatives: the port matches if it is in either. */
  ports?: readonly PortRange[];
  namedPorts?: readonly NamedPortRef[];
  notPorts?: readonly PortRange[];
  notNamedPorts?: readonly NamedPortRef[];
}

export interface IcmpMatch {
  type: number;
  code?: number;
}

export interface RuleIR {
  action: Action;
  /** Position in the policy's ingress/egress list (for counters and explain). */
  index: number;
  ipVersion?: IpVersion;
  protocol?: number;
  notProtocol?: number;
  icmp?: IcmpMatch;
  notICMP?: IcmpMatch;
  src: EntityIR;
  dst: EntityIR;
}

export interface TierPolicies {
  tier: string;
  defaultAction: 'Deny' | 'Pass';
  /** Policy ids in evaluation order. */
  policies: readonly string[];
}

export interface ResolvedEndpoint {
  /** `namespace/name` of the WorkloadEndpoint. */
  id: string;
  name: string;
  namespace: string;
  pod: string;
  node: string;
  interfaceName: string;
  /** Canonical host addresses (no prefix). */
  v4: readonly string[];
  v6: readonly string[];
  ingress: readonly TierPolicies[];
  egress: readonly TierPolicies[];
  profiles: readonly string[];
}

export interface ResolvedPolicy {
  /** `namespace/name` for NetworkPolicy, `name` for GlobalNetworkPolicy. */
  id: string;
  kind: 'NetworkPolicy' | 'GlobalNetworkPolicy';
  namespace?: string;
  name: string;
  tier: string;
  order?: number;
  ingress: readonly RuleIR[];
  egress: readonly RuleIR[];
  /** Host-endpoint options (GlobalNetworkPolicy only); preDNAT and doNotTrack policies never apply to workloads. */
  preDNAT?: boolean;
  doNotTrack?: boolean;
  applyOnForward?: boolean;
}

export interface ResolvedProfile {
  name: string;
  ingress: readonly RuleIR[];
  egress: readonly RuleIR[];
}

/** Members of one selector: canonical, non-overlapping CIDRs (host prefixes printed as plain addresses). */
export interface IpSetDef {
  selector: string;
  v4: readonly string[];
  v6: readonly string[];
}

/**
 * How one family's element array was derived from the array handed out before it (`from`): those
 * elements plus `added` minus `removed`. The nft diff takes these instead of comparing the arrays
 * (an 8,600-address set changed by one pod: hashing both arrays was most of a policy update).
 */
export interface ElementChanges {
  readonly from: readonly string[];
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

/** A selector set's current members and, per family whose array changed, how it changed. */
export interface IpSetUpdate extends IpSetDef {
  readonly changes: { readonly 4?: ElementChanges; readonly 6?: ElementChanges };
}

export interface NamedPortMember {
  ip: string;
  protocol: number;
  port: number;
}

export interface NamedPortSetDef {
  setKey: string;
  v4: readonly NamedPortMember[];
  v6: readonly NamedPortMember[];
}

export interface HostPolicyLists {
  ingress: readonly TierPolicies[];
  egress: readonly TierPolicies[];
}

/**
 * A HostEndpoint on this node. Its policies are split as Felix splits them: `normal` (neither preDNAT
 * nor doNotTrack) for the host's own traffic, `forward` (the applyOnForward subset of normal) for
 * traffic routed through the interface, `preDNAT` (ingress only) and `untracked` (doNotTrack).
 */
export interface ResolvedHostEndpoint {
  /** `hep:<name>`. */
  id: string;
  name: string;
  node: string;
  /** The interface policed: a name, `*` for every interface, or absent when expectedIPs match no local interface. */
  interfaceName?: string;
  v4: readonly string[];
  v6: readonly string[];
  normal: HostPolicyLists;
  forward: HostPolicyLists;
  preDNAT: HostPolicyLists;
  untracked: HostPolicyLists;
  profiles: readonly string[];
}

export interface FailsafeRule {
  /** IP protocol number. */
  protocol: number;
  port: number;
  /** Canonical CIDR (inbound: source, outbound: destination); absent = any address. */
  net?: string;
}

export interface HostConfig {
  failsafeInbound: readonly FailsafeRule[];
  failsafeOutbound: readonly FailsafeRule[];
  defaultEndpointToHostAction: 'Drop' | 'Return' | 'Accept';
}

/** Everything the dataplane needs for one node; output depends only on current inputs. */
export interface ResolvedModel {
  endpoints: readonly ResolvedEndpoint[];
  policies: ReadonlyMap<string, ResolvedPolicy>;
  profiles: ReadonlyMap<string, ResolvedProfile>;
  ipSets: ReadonlyMap<string, IpSetDef>;
  namedPortSets: ReadonlyMap<string, NamedPortSetDef>;
  /** Local host endpoints (full resolves only; absent = none). */
  hostEndpoints?: readonly ResolvedHostEndpoint[];
  /** Failsafes and the workload-to-host action (absent = Calico's defaults). */
  host?: HostConfig;
}

/**
 * What changed since the previous resolve, when only endpoint-side data did (no policy, tier,
 * profile or host endpoint change, no local endpoint removed, moved or re-addressed):
 * `model` covers just the local endpoints added or relabelled, `ipSets`/`namedPortSets` hold the
 * current members of every selector whose membership changed, with the elements added and removed
 * when the calculator patched the set rather than rebuilt it. The nft patcher merges it into the
 * last programmed state; anything it cannot patch falls back to a full resolve.
 */
export interface ResolvedDelta {
  model: ResolvedModel;
  ipSets: ReadonlyMap<string, IpSetUpdate>;
  namedPortSets: ReadonlyMap<string, NamedPortSetDef>;
}

export const rulesOf = (
  p: { ingress: readonly RuleIR[]; egress: readonly RuleIR[] },
  d: Direction,
): readonly RuleIR[] => (d === 'ingress' ? p.ingress : p.egress);
