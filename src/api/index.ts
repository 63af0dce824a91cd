/**
 * The resource API: Calico `projectcalico.org/v3` and Kubernetes kinds as typed data, plus
 * parsing, defaulting and validation. Pure (no node:*, no clock).
 *
 * DESIGN
 * - Field names are Calico's / Kubernetes' exactly; manifests written for calicoctl are accepted
 *   unchanged. Unknown fields are rejected ("strict decoding") everywhere except inside Pod specs,
 *   where only the networking subset is modelled and the rest is carried along.
 * - Pipeline: parseManifests (syntax + envelope) → applyDefaults (pure copy; fills only absent
 *   fields, never throws on bad input) → validateResource (per document) → validateBatch (across
 *   documents and the datastore). Each stage reports every problem, not just the first.
 * - Problem paths use the manifest's own names, dots and zero-based `[i]` indices
 *   (`spec.ingress[0].destination.ports`); keys that are not identifiers are quoted
 *   (`metadata.labels["app.kubernetes.io/name"]`). validateBatch prefixes the document:
 *   `[doc 3] IPPool "p2": spec.cidr` (1-based; `namespace/name` for namespaced kinds).
 * - Each mistake is reported once: the shape pass reports wrong JSON types, semantic checks only
 *   look at values whose type is right.
 * - Compatibility choices a reviewer should check: NetworkSet `nets` and IPReservation CIDRs
 *   accept bare addresses and host bits (Calico's `cidr` tag); rule `nets`/`notNets` and IPPool
 *   `cidr` must be masked CIDRs with a prefix length (Calico's `net` tag and net.ParseCIDR).
 *   Host-only policy options (doNotTrack, preDNAT, applyOnForward) are GlobalNetworkPolicy fields,
 *   with Calico's combination rules. Every Calico rule walked is in calico-rules.ts, with its
 *   rejection fixture or why it does not apply (docs/calico-rules.md).
 * - Every field Calico's API has is accepted; those Tessera stores without acting on are listed in
 *   stored-only.ts (apply warns). docs/api-fields.md is the generated kinds × fields × rules table.
 * - decode.ts is the run-time reading of stored specs (the agent, policy input, BGP): never throws,
 *   a field of the wrong JSON type reads as absent, "" is absent, an array is not an object.
 * - Policies outside the `default` tier must be named `<tier>.<name>`; applyDefaults fills
 *   `spec.tier: default` and `types` per Calico's inference table but never renames.
 */
export * from './resource.js';
export * from './kind-info.js';
export * from './kinds.js';
export * from './selector/index.js';
export type { Problem } from '../lib/errors.js';
export * from './types/policy.js';
export * from './types/network.js';
export * from './types/config.js';
export * from './types/k8s.js';
export { parseManifests } from './parse.js';
export { wepName } from './names.js';
export { applyDefaults, inferPolicyTypes } from './defaults.js';
export { BUILTIN_TIERS, DEFAULT_TIER, builtinTier, isBuiltinTier } from './tiers.js';
export { validateResource } from './validate/index.js';
export { validateBatch, docPrefix, type BatchContext } from './batch.js';
export { isCalicoKind, isK8sKind, type CalicoKinds, type K8sKinds } from './guards.js';
export * as decode from './decode.js';
export {
  decodeNode,
  decodePool,
  decodeWorkloadEndpoint,
  type NamedPortView,
  type NodeView,
  type PoolView,
  type WorkloadView,
} from './decode.js';
export { STORED_ONLY, storedOnlyFields } from './stored-only.js';
