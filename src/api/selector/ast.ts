/**
 * The selector AST. Nodes are plain, immutable data (frozen when built by this module) so they can be
 * compared with deepStrictEqual, serialised, and used as WeakMap keys for the compiled matcher.
 */
export type ValueOperator = 'eq' | 'ne' | 'contains' | 'startsWith' | 'endsWith';
export type SetOperator = 'in' | 'notIn';

export type Selector =
  | { readonly kind: 'all' }
  | { readonly kind: 'global' }
  | { readonly kind: 'has'; readonly key: string }
  | { readonly kind: ValueOperator; readonly key: string; readonly value: string }
  | { readonly kind: SetOperator; readonly key: string; readonly values: readonly string[] }
  | { readonly kind: 'not'; readonly operand: Selector }
  | { readonly kind: 'and' | 'or'; readonly operands: readonly Selector[] };

/**
 * The label Calico puts on every namespaced endpoint/profile; `global()` matches label sets without it
 * (non-namespaced resources such as HostEndpoints and GlobalNetworkSets).
 */
export const NAMESPACE_LABEL = 'projectcalico.org/namespace';

export const ALL_SELECTOR: Selector = Object.freeze({ kind: 'all' });
/** `!all()`: matches nothing; the canonical form of an empty `||`. */
export const NONE_SELECTOR: Selector = Object.freeze({ kind: 'not', operand: ALL_SELECTOR });
