/**
 * Known differences between two immutable element arrays. A producer that derives a new array from
 * an old one by a few additions and removals records them; a consumer that diffs the old array
 * against the new one takes them instead of comparing every element. (An 8,600-address IP set
 * changed by one pod: hashing both arrays was most of the cost of a policy update.) Keyed weakly by
 * the new array, so entries go with the arrays. Pure.
 */
export interface ElementDelta {
  from: readonly string[];
  added: readonly string[];
  removed: readonly string[];
}

const deltas = new WeakMap<readonly string[], ElementDelta>();

export function recordElementDelta(to: readonly string[], delta: ElementDelta): void {
  deltas.set(to, delta);
}

/** How `to` was derived, if recorded. */
export const derivation = (to: readonly string[]): ElementDelta | undefined => deltas.get(to);

/** The recorded difference from `from` to `to`, only if `to` was derived from exactly `from`. */
export function elementDelta(from: readonly string[], to: readonly string[]): ElementDelta | undefined {
  const d = deltas.get(to);
  return d && d.from === from ? d : undefined;
}
