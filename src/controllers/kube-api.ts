/**
 * The tables of every Kubernetes API call kube-controllers makes: KUBE_RESOURCES (read; informers
 * are built only from these entries, informer.ts) and KUBE_WRITES (events.ts). The RBAC in deploy/kubernetes/tessera.yaml is checked against
 * both tables (src/controllers/manifests.test.ts), so the ClusterRole grants exactly what the code uses.
 */

export type KubeVerb = 'list' | 'watch';

export interface KubeResourceDef {
  /** API group ('' for core). */
  readonly group: '' | 'networking.k8s.io';
  readonly version: 'v1';
  /** Plural resource name, as RBAC names it. */
  readonly resource: 'namespaces' | 'serviceaccounts' | 'pods' | 'nodes' | 'networkpolicies';
  readonly kind: 'Namespace' | 'ServiceAccount' | 'Pod' | 'Node' | 'NetworkPolicy';
  readonly namespaced: boolean;
  readonly verbs: readonly KubeVerb[];
}

const def = (
  group: KubeResourceDef['group'],
  resource: KubeResourceDef['resource'],
  kind: KubeResourceDef['kind'],
  namespaced: boolean,
): KubeResourceDef => ({
  group,
  version: 'v1',
  resource,
  kind,
  namespaced,
  // An informer lists, then watches from the list's resourceVersion; nothing else is ever called.
  verbs: ['list', 'watch'],
});

export const KUBE_RESOURCES = {
  namespaces: def('', 'namespaces', 'Namespace', false),
  serviceaccounts: def('', 'serviceaccounts', 'ServiceAccount', true),
  pods: def('', 'pods', 'Pod', true),
  nodes: def('', 'nodes', 'Node', false),
  networkpolicies: def('networking.k8s.io', 'networkpolicies', 'NetworkPolicy', true),
} as const satisfies Record<string, KubeResourceDef>;

export type KubeResourceName = keyof typeof KUBE_RESOURCES;

/** The cluster-wide collection path (`/api/v1/pods`, `/apis/networking.k8s.io/v1/networkpolicies`). */
export function collectionPath(d: KubeResourceDef): string {
  return d.group === '' ? `/api/${d.version}/${d.resource}` : `/apis/${d.group}/${d.version}/${d.resource}`;
}

/** What kube-controllers writes to the Kubernetes API: only Events (events.ts), never the objects it watches. */
export const KUBE_WRITES: readonly { group: ''; resource: 'events'; verbs: readonly ('create' | 'patch')[] }[] = [
  { group: '', resource: 'events', verbs: ['create', 'patch'] },
];
