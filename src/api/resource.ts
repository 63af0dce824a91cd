/**
 * The envelope every resource shares, as in Kubernetes and Calico's `projectcalico.org/v3`.
 * Specs are typed per kind in `types/` (policy, network, config, k8s); this file is the contract other components code against.
 */
export interface ObjectMeta {
  name: string;
  namespace?: string | undefined;
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
  /** The datastore revision of the last write (decimal string, as Kubernetes does). */
  resourceVersion?: string | undefined;
  uid?: string | undefined;
  creationTimestamp?: string | undefined;
  generation?: number | undefined;
}

export interface Resource<Spec = Record<string, unknown>, Status = Record<string, unknown>> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Spec;
  status?: Status;
}

export const CALICO_API_VERSION = 'projectcalico.org/v3';
export const K8S_CORE_API_VERSION = 'v1';
export const K8S_NETWORKING_API_VERSION = 'networking.k8s.io/v1';
/** Tessera-internal kinds (IPAM blocks, affinities, handles, config). */
export const TESSERA_INTERNAL_API_VERSION = 'internal.tessera.dev/v1';
