/**
 * The registry of every kind Tessera accepts, with calicoctl's / kubectl's CLI names.
 * `lookupKind` resolves what a user types; `kindFor` resolves a manifest's apiVersion + kind.
 */
import type { ApiGroup, KindInfo } from './kind-info.js';
import { CALICO_API_VERSION, K8S_CORE_API_VERSION, K8S_NETWORKING_API_VERSION } from './resource.js';

function k(kind: string, group: ApiGroup, namespaced: boolean, plural: string, shortNames: string[] = []): KindInfo {
  const apiVersion =
    group === 'projectcalico.org'
      ? CALICO_API_VERSION
      : group === 'core'
        ? K8S_CORE_API_VERSION
        : group === 'networking.k8s.io'
          ? K8S_NETWORKING_API_VERSION
          : 'internal.tessera.dev/v1';
  return { kind, apiVersion, group, plural, singular: kind.toLowerCase(), shortNames, namespaced };
}

const C: ApiGroup = 'projectcalico.org';

export const KINDS: readonly KindInfo[] = [
  k('IPPool', C, false, 'ippools', ['ipp', 'ipps', 'pool', 'pools']),
  k('IPReservation', C, false, 'ipreservations', ['ipr', 'iprs']),
  k('IPAMConfiguration', C, false, 'ipamconfigurations', ['ipamconfig', 'ipamconfigs']),
  k('BGPConfiguration', C, false, 'bgpconfigurations', ['bgpconfig', 'bgpconfigs']),
  k('BGPPeer', C, false, 'bgppeers', ['bgpp', 'bgpps', 'peer', 'peers']),
  k('BGPFilter', C, false, 'bgpfilters', ['bgpf', 'bgpfs']),
  k('FelixConfiguration', C, false, 'felixconfigurations', ['felixconfig', 'felixconfigs']),
  k('KubeControllersConfiguration', C, false, 'kubecontrollersconfigurations', ['kcc', 'kubecontrollersconfig']),
  k('ClusterInformation', C, false, 'clusterinformations', ['clusterinfo', 'clusterinfos']),
  k('Node', C, false, 'nodes', ['no']),
  k('CalicoNodeStatus', C, false, 'caliconodestatuses', ['cns', 'caliconodestatus']),
  k('HostEndpoint', C, false, 'hostendpoints', ['hep', 'heps']),
  k('WorkloadEndpoint', C, true, 'workloadendpoints', ['wep', 'weps']),
  k('NetworkPolicy', C, true, 'networkpolicies', ['netpol', 'netpols', 'np', 'nps', 'policy', 'policies']),
  k('GlobalNetworkPolicy', C, false, 'globalnetworkpolicies', ['gnp', 'gnps']),
  k('StagedNetworkPolicy', C, true, 'stagednetworkpolicies', ['snp']),
  k('NetworkSet', C, true, 'networksets', ['netset', 'netsets']),
  k('GlobalNetworkSet', C, false, 'globalnetworksets', ['gns', 'globalnetset']),
  k('Profile', C, false, 'profiles', ['pro', 'pros']),
  k('Tier', C, false, 'tiers', []),
  k('Namespace', 'core', false, 'namespaces', ['ns']),
  k('Pod', 'core', true, 'pods', ['po']),
  k('ServiceAccount', 'core', true, 'serviceaccounts', ['sa']),
  k('NetworkPolicy', 'networking.k8s.io', true, 'kubernetesnetworkpolicies', [
    'knp',
    'k8snetworkpolicy',
    'k8snetworkpolicies',
    'kubernetesnetworkpolicy',
  ]),
].filter((info) => info.kind !== 'StagedNetworkPolicy');

/** Resolves a CLI kind name: kind, singular, plural or short name, case-insensitively. */
export function lookupKind(name: string): KindInfo | undefined {
  const n = name.toLowerCase();
  // Calico's kinds win over Kubernetes' for shared names (`networkpolicy`), as in calicoctl.
  return KINDS.find(
    (i) => i.singular === n || i.plural === n || i.shortNames.includes(n) || i.kind.toLowerCase() === n,
  );
}

/** Resolves a manifest's apiVersion + kind. */
export function kindFor(apiVersion: string, kind: string): KindInfo | undefined {
  return KINDS.find((i) => i.apiVersion === apiVersion && i.kind === kind);
}

/** Resolves the kind that stores under `group/plural` (datastore keys). */
export function kindForKey(group: string, plural: string): KindInfo | undefined {
  return KINDS.find((i) => i.group === group && i.plural === plural);
}
