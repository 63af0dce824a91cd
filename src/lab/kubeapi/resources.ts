/**
 * The resource kinds the stand-in API serves: one row per kind, everything else (discovery,
 * routing, storage keys) is derived from this table.
 */
export interface KubeResource {
  /** '' for the core group. */
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  /** Subresources served (status: PUT/PATCH replace only `status`). */
  subresources?: 'status'[];
  /** Deleting a namespace deletes these objects in it. */
}

export const KUBE_RESOURCES: readonly KubeResource[] = [
  {
    group: '',
    version: 'v1',
    plural: 'namespaces',
    singular: 'namespace',
    kind: 'Namespace',
    namespaced: false,
    shortNames: ['ns'],
    subresources: ['status'],
  },
  {
    group: '',
    version: 'v1',
    plural: 'pods',
    singular: 'pod',
    kind: 'Pod',
    namespaced: true,
    shortNames: ['po'],
    subresources: ['status'],
  },
  {
    group: '',
    version: 'v1',
    plural: 'serviceaccounts',
    singular: 'serviceaccount',
    kind: 'ServiceAccount',
    namespaced: true,
    shortNames: ['sa'],
  },
  {
    group: '',
    version: 'v1',
    plural: 'nodes',
    singular: 'node',
    kind: 'Node',
    namespaced: false,
    shortNames: ['no'],
    subresources: ['status'],
  },
  {
    group: '',
    version: 'v1',
    plural: 'events',
    singular: 'event',
    kind: 'Event',
    namespaced: true,
    shortNames: ['ev'],
  },
  {
    group: 'networking.k8s.io',
    version: 'v1',
    plural: 'networkpolicies',
    singular: 'networkpolicy',
    kind: 'NetworkPolicy',
    namespaced: true,
    shortNames: ['netpol'],
  },
  { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', singular: 'lease', kind: 'Lease', namespaced: true },
];

export const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] as const;

export function apiVersionOf(r: Pick<KubeResource, 'group' | 'version'>): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

export function findResource(group: string, version: string, plural: string): KubeResource | undefined {
  return KUBE_RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
}

export function resourceForKind(apiVersion: string, kind: string): KubeResource | undefined {
  return KUBE_RESOURCES.find((r) => apiVersionOf(r) === apiVersion && r.kind === kind);
}

/** The groups other than core, each with its versions, in a stable order. */
export function apiGroups(): { name: string; versions: string[] }[] {
  const out: { name: string; versions: string[] }[] = [];
  for (const r of KUBE_RESOURCES) {
    if (r.group === '') continue;
    const g = out.find((x) => x.name === r.group);
    if (!g) out.push({ name: r.group, versions: [r.version] });
    else if (!g.versions.includes(r.version)) g.versions.push(r.version);
  }
  return out;
}

/** The etcd key prefix of the stand-in API (never shared with Tessera's own datastore keys). */
export const KUBE_KEY_PREFIX = '/registry-tessera/';

/** Key prefix of a resource, or of its objects in one namespace. Always ends with '/'. */
export function keyPrefix(r: KubeResource, namespace?: string): string {
  const base = `${KUBE_KEY_PREFIX}${r.group === '' ? 'core' : r.group}/${r.plural}/`;
  return r.namespaced && namespace !== undefined ? `${base}${namespace}/` : base;
}

export function objectKey(r: KubeResource, name: string, namespace?: string): string {
  return `${keyPrefix(r, r.namespaced ? namespace : undefined)}${name}`;
}
