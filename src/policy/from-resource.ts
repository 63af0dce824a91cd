/**
 * Datastore Resource → PolicyUpdate. The agent's syncer and the CLI both feed the calculator through
 * this, so they see the same model. Returns undefined for kinds policy does not use.
 */
import { decode, decodeWorkloadEndpoint, type Resource, type WorkloadView } from '../api/index.js';
import type {
  HostEndpointInput,
  K8sNetworkPolicyInput,
  NamedPort,
  NetworkSetInput,
  PolicyInput,
  PolicySpec,
  PolicyUpdate,
  ProfileInput,
  TierInput,
  WorkloadEndpointInput,
} from './types.js';

/** Kinds the policy calculator consumes (for the agent's syncer prefixes). */
export const POLICY_KINDS = [
  'WorkloadEndpoint',
  'HostEndpoint',
  'NetworkSet',
  'GlobalNetworkSet',
  'Profile',
  'Namespace',
  'ServiceAccount',
  'Tier',
  'NetworkPolicy',
  'GlobalNetworkPolicy',
] as const;

const { obj, str, strs } = decode;
const ports = (v: unknown): NamedPort[] => decode.namedPorts(v);

/**
 * `resource` is the current value; pass `deleted: true` (with at least kind/apiVersion/metadata) for a
 * deletion. The update key is `namespace/name` for namespaced kinds, else `name`. Specs read through
 * api/decode.ts; `workload` is a WorkloadEndpoint's view when the caller (the agent's mirror) has it.
 */
export function policyUpdateFromResource(
  resource: Resource,
  deleted = false,
  workload?: WorkloadView,
): PolicyUpdate | undefined {
  const { metadata: md, kind } = resource;
  const spec = obj(resource.spec);
  const ns = md.namespace;
  const key = ns ? `${ns}/${md.name}` : md.name;
  const labels = { ...(md.labels ?? {}) };
  switch (kind) {
    case 'WorkloadEndpoint': {
      if (deleted) return { kind, key, value: null };
      const w = workload ?? decodeWorkloadEndpoint(resource);
      const value: WorkloadEndpointInput = {
        name: md.name,
        namespace: ns ?? 'default',
        node: w.node ?? '',
        interfaceName: w.interfaceName ?? '',
        ipNetworks: w.ipNetworks,
        labels,
        ports: w.ports,
        ...(w.pod ? { pod: w.pod } : {}),
        ...(w.profiles ? { profiles: w.profiles } : {}),
        ...(w.serviceAccountName ? { serviceAccountName: w.serviceAccountName } : {}),
      };
      return { kind, key, value };
    }
    case 'HostEndpoint': {
      if (deleted) return { kind, key, value: null };
      const iface = str(spec.interfaceName);
      const value: HostEndpointInput = {
        name: md.name,
        node: str(spec.node) ?? '',
        expectedIPs: strs(spec.expectedIPs),
        labels,
        profiles: strs(spec.profiles),
        ports: ports(spec.ports),
        ...(iface ? { interfaceName: iface } : {}),
      };
      return { kind, key, value };
    }
    case 'NetworkSet':
    case 'GlobalNetworkSet': {
      if (deleted) return { kind: 'NetworkSet', key, value: null };
      const value: NetworkSetInput = {
        name: md.name,
        nets: strs(spec.nets),
        labels,
        ...(kind === 'NetworkSet' && ns ? { namespace: ns } : {}),
      };
      return { kind: 'NetworkSet', key, value };
    }
    case 'Profile': {
      if (deleted) return { kind, key, value: null };
      const value: ProfileInput = {
        name: md.name,
        labelsToApply: (spec.labelsToApply as Record<string, string> | undefined) ?? {},
        ingress: (spec.ingress as ProfileInput['ingress']) ?? [],
        egress: (spec.egress as ProfileInput['egress']) ?? [],
      };
      return { kind, key, value };
    }
    case 'Namespace':
      return { kind, key, value: deleted ? null : { name: md.name, labels } };
    case 'ServiceAccount':
      return { kind, key, value: deleted ? null : { name: md.name, namespace: ns ?? 'default', labels } };
    case 'Tier': {
      if (deleted) return { kind, key, value: null };
      const value: TierInput = {
        name: md.name,
        ...(typeof spec.order === 'number' ? { order: spec.order } : {}),
        ...(spec.defaultAction === 'Pass' || spec.defaultAction === 'Deny'
          ? { defaultAction: spec.defaultAction }
          : {}),
      };
      return { kind, key, value };
    }
    case 'NetworkPolicy':
      if (resource.apiVersion.startsWith('networking.k8s.io/')) {
        if (deleted) return { kind: 'K8sNetworkPolicy', key, value: null };
        const value: K8sNetworkPolicyInput = {
          name: md.name,
          namespace: ns ?? 'default',
          spec: spec as K8sNetworkPolicyInput['spec'],
        };
        return { kind: 'K8sNetworkPolicy', key, value };
      }
      if (deleted) return { kind: 'Policy', key, value: null };
      return {
        kind: 'Policy',
        key,
        value: {
          kind: 'NetworkPolicy',
          name: md.name,
          namespace: ns ?? 'default',
          spec: spec as PolicySpec,
        } satisfies PolicyInput,
      };
    case 'GlobalNetworkPolicy':
      if (deleted) return { kind: 'Policy', key, value: null };
      return { kind: 'Policy', key, value: { kind: 'GlobalNetworkPolicy', name: md.name, spec: spec as PolicySpec } };
    default:
      return undefined;
  }
}
