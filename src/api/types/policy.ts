/**
 * Calico policy types (`projectcalico.org/v3`): Rule, EntityRule and the policy-bearing kinds.
 * Field names are Calico's exactly; optional fields are omitted when unset, never `null`.
 */
import type { Resource } from '../resource.js';

export type RuleAction = 'Allow' | 'Deny' | 'Log' | 'Pass';
/** Named protocols Calico accepts (plus their lower-case forms, accepted on input). */
export type ProtocolName = 'TCP' | 'UDP' | 'ICMP' | 'ICMPv6' | 'SCTP' | 'UDPLite';
/** A protocol name or number 1-255. */
export type Protocol = ProtocolName | number;
/** A port: number, `"start:end"` range, or a named port. */
export type Port = number | string;
export type PolicyType = 'Ingress' | 'Egress';
export type PerformanceHint = 'AssumeNeededOnEveryNode';

export interface IcmpFields {
  /** 0-254 */
  type?: number;
  /** 0-255; needs `type`. */
  code?: number;
}

export interface ServiceAccountMatch {
  names?: string[];
  selector?: string;
}

export interface ServiceMatch {
  name?: string;
  namespace?: string;
}

export interface EntityRule {
  nets?: string[];
  notNets?: string[];
  selector?: string;
  notSelector?: string;
  namespaceSelector?: string;
  ports?: Port[];
  notPorts?: Port[];
  serviceAccounts?: ServiceAccountMatch;
  services?: ServiceMatch;
}

export interface HttpPathMatch {
  exact?: string;
  prefix?: string;
}

export interface HttpMatch {
  methods?: string[];
  paths?: HttpPathMatch[];
}

export interface RuleMetadata {
  annotations?: Record<string, string>;
}

export interface Rule {
  action: RuleAction;
  protocol?: Protocol;
  notProtocol?: Protocol;
  icmp?: IcmpFields;
  notICMP?: IcmpFields;
  ipVersion?: 4 | 6;
  source?: EntityRule;
  destination?: EntityRule;
  http?: HttpMatch;
  metadata?: RuleMetadata;
}

interface PolicySpecCommon {
  /** The tier; `default` when omitted (filled by applyDefaults). */
  tier?: string;
  order?: number;
  selector?: string;
  serviceAccountSelector?: string;
  types?: PolicyType[];
  ingress?: Rule[];
  egress?: Rule[];
  performanceHints?: PerformanceHint[];
}

export type NetworkPolicySpec = PolicySpecCommon;

export interface GlobalNetworkPolicySpec extends PolicySpecCommon {
  namespaceSelector?: string;
  /** Host-endpoint only; Tessera rejects `true` (not supported yet). */
  doNotTrack?: boolean;
  /** Host-endpoint only; Tessera rejects `true` (not supported yet). */
  preDNAT?: boolean;
  /** Host-endpoint only; Tessera rejects `true` (not supported yet). */
  applyOnForward?: boolean;
}

export type TierDefaultAction = 'Deny' | 'Pass';

export interface TierSpec {
  /** Lower first; omitted means after every ordered tier. */
  order?: number;
  defaultAction?: TierDefaultAction;
}

export interface ProfileSpec {
  ingress?: Rule[];
  egress?: Rule[];
  labelsToApply?: Record<string, string>;
}

export interface NetworkSetSpec {
  nets?: string[];
}

export type GlobalNetworkSetSpec = NetworkSetSpec;

export type NetworkPolicy = Resource<NetworkPolicySpec> & { kind: 'NetworkPolicy' };
export type GlobalNetworkPolicy = Resource<GlobalNetworkPolicySpec> & { kind: 'GlobalNetworkPolicy' };
export type Tier = Resource<TierSpec> & { kind: 'Tier' };
export type Profile = Resource<ProfileSpec> & { kind: 'Profile' };
export type NetworkSet = Resource<NetworkSetSpec> & { kind: 'NetworkSet' };
export type GlobalNetworkSet = Resource<GlobalNetworkSetSpec> & { kind: 'GlobalNetworkSet' };
