/**
 * THE key layout. Every datastore key Tessera reads or writes is built here, nowhere else.
 *
 *   /tessera/v1/res/<group>/<plural>/<name>                 cluster-scoped resource
 *   /tessera/v1/res/<group>/<plural>/<namespace>/<name>     namespaced resource
 *   /tessera/v1/ipam/blocks/<cidr with / as ->             IPAM block (allocations, sequence numbers)
 *   /tessera/v1/ipam/affinities/<host>/<cidr as ->         block affinity (pending | confirmed)
 *   /tessera/v1/ipam/handles/<handle id>                    handle -> block references
 *   /tessera/v1/ipam/config                                 IPAM configuration (strictAffinity, ...)
 *   /tessera/v1/status/<node>/<what>                        agent-published status (leased)
 *
 * Values are JSON. Resources are stored without `metadata.resourceVersion`; it is filled from the
 * key's revision on read.
 */
import type { KindInfo } from '../api/index.js';

export const ROOT = '/tessera/v1/';
export const RESOURCE_ROOT = `${ROOT}res/`;
export const IPAM_ROOT = `${ROOT}ipam/`;
export const STATUS_ROOT = `${ROOT}status/`;

export function kindPrefix(info: KindInfo, namespace?: string): string {
  const base = `${RESOURCE_ROOT}${info.group}/${info.plural}/`;
  return info.namespaced && namespace !== undefined ? `${base}${namespace}/` : base;
}

export function resourceKey(info: KindInfo, name: string, namespace?: string): string {
  if (info.namespaced) return `${kindPrefix(info)}${namespace ?? 'default'}/${name}`;
  return `${kindPrefix(info)}${name}`;
}

/** Splits a resource key back into its parts; undefined when the key is not a resource key. */
export function parseResourceKey(
  key: string,
): { group: string; plural: string; namespace?: string; name: string } | undefined {
  if (!key.startsWith(RESOURCE_ROOT)) return undefined;
  const parts = key.slice(RESOURCE_ROOT.length).split('/');
  if (parts.length === 3) return { group: parts[0]!, plural: parts[1]!, name: parts[2]! };
  if (parts.length === 4) return { group: parts[0]!, plural: parts[1]!, namespace: parts[2]!, name: parts[3]! };
  return undefined;
}

const cidrPart = (cidr: string) => cidr.replace('/', '-');

export const ipamKeys = {
  blocksPrefix: `${IPAM_ROOT}blocks/`,
  block: (cidr: string) => `${IPAM_ROOT}blocks/${cidrPart(cidr)}`,
  affinitiesPrefix: `${IPAM_ROOT}affinities/`,
  hostAffinitiesPrefix: (host: string) => `${IPAM_ROOT}affinities/${host}/`,
  affinity: (host: string, cidr: string) => `${IPAM_ROOT}affinities/${host}/${cidrPart(cidr)}`,
  handlesPrefix: `${IPAM_ROOT}handles/`,
  handle: (id: string) => `${IPAM_ROOT}handles/${id}`,
  config: `${IPAM_ROOT}config`,
};

export const statusKeys = {
  prefix: STATUS_ROOT,
  node: (node: string, what: string) => `${STATUS_ROOT}${node}/${what}`,
};
