/**
 * Policy calculation (pure): Calico's policy model and Kubernetes NetworkPolicy resolved for the local
 * endpoints into a ResolvedModel that the nftables renderer and `explain` both consume.
 *
 * DESIGN
 * - Inputs arrive as PolicyUpdate batches (`PolicyCalculator.applyUpdates`); `resolve()` is a pure
 *   function of the current inputs (no event-history dependence): same state → same model.
 * - Incremental path: after endpoint-only changes (a pod added or relabelled, a remote pod's labels),
 *   `resolveDelta()` returns just the touched local endpoints and the IP sets whose members changed
 *   (sets of host addresses are patched member by member, host-set.ts); it returns undefined when
 *   only a full `resolve()` is safe (policy, tier, profile changes, removals), and the agent then
 *   renders in full. A patched set's added and removed elements travel in the delta itself
 *   (IpSetUpdate.changes, each naming the array it was derived from). Property tests check
 *   delta == full resolve; the agent's periodic resync renders in full and repairs drift in the kernel.
 * - Caches are calculator fields, bounded by what exists (an apply selector goes with its last
 *   policy, a set with its selector); WeakMap memos over immutable objects go with their keys.
 * - LabelIndex is incremental: an endpoint label change evaluates that endpoint against the indexed
 *   selectors only; a namespace label change re-evaluates that namespace's endpoints only.
 * - One IP set per canonical scoped selector, shared by all policies using it. Named ports resolve to
 *   (ip, protocol, port) members of the endpoints the entity selects.
 * - Kubernetes NetworkPolicy is converted as libcalico-go does (k8s.ts) and then treated as any
 *   Calico NetworkPolicy (tier default, order 1000).
 * - Reviewers check: tier/policy ordering (resolve), the scoping rules in rules.ts (a wrong scope is a
 *   breach or an outage), and that evaluate.ts and the nft renderer agree (property test).
 */
export * from './types.js';
export * from './ir.js';
export { PolicyCalculator, DEFAULT_TIER, mergeCidrs, netText, type PolicyCalculatorOptions } from './calculator.js';
export { LabelIndex } from './label-index.js';
export { convertK8sNetworkPolicy, K8S_POLICY_PREFIX, K8S_POLICY_ORDER } from './k8s.js';
export {
  compileRule,
  entitySelector,
  prefixSelector,
  protocolNumber,
  NAMESPACE_LABEL,
  ORCHESTRATOR_LABEL,
  SERVICE_ACCOUNT_LABEL,
} from './rules.js';
export {
  evaluateEndpoint,
  explainFlow,
  ruleMatches,
  type Decision,
  type Explanation,
  type Packet,
} from './evaluate.js';
export { policyUpdateFromResource, POLICY_KINDS } from './from-resource.js';
export {
  DEFAULT_FAILSAFE_INBOUND,
  DEFAULT_FAILSAFE_OUTBOUND,
  DEFAULT_ALLOW_PROFILE,
  hostConfigOf,
  hostConfigFromSpecs,
  hostEndpointInterface,
} from './host.js';
export { evaluateHost, evaluateHostForward, evaluateWorkloadToHost } from './explain-host.js';
