/**
 * A stand-in Kubernetes API server for the lab (stand-in, lab only: no authn/authz, no admission,
 * no controllers beyond what the lab needs). kubectl (1.20 and 1.32) and @kubernetes/client-node
 * use it unchanged.
 *
 * DESIGN
 * - Objects live in the lab's etcd under `/registry-tessera/<group|core>/<plural>/[<ns>/]<name>`,
 *   never under Tessera's own datastore keys; `metadata.resourceVersion` is the key's etcd mod
 *   revision (not stored), a list's is the store revision it was read at.
 * - Watch = etcd watch of the same prefix from resourceVersion + 1; a compacted start revision is
 *   an ERROR event carrying a 410 `Expired` Status (what the real server sends); bookmarks carry
 *   the last revision the stream delivered, never one ahead of it.
 * - Writes are CAS on the key's revision: update with a stale resourceVersion is 409 Conflict,
 *   patch without a precondition retries, deleting a namespace deletes its objects first.
 * - Pure parts (selectors, patch, table, watch-window) have unit tests; server.ts is the only
 *   I/O. Reviewers: any new resource is a row in resources.ts, nothing else.
 */
export { KubeApiServer, STAND_IN_NOTE, type KubeApiServerOptions, type ListenOptions } from './server.js';
export { KUBE_RESOURCES, KUBE_KEY_PREFIX, type KubeResource } from './resources.js';
export { renderKubeconfig } from './kubeconfig.js';
